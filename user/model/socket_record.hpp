// SocketRecord: one TCP socket as a sock_diag dump reports it (what `ss -tan`
// shows), with tcpfsm's own BPF storage of it when the dump asked for that.
#pragma once

#include <array>
#include <cstdint>

namespace tcpfsm {

// idiag_timer, the timer a dump says is pending on a socket (inet_sk_diag_fill).
enum DiagTimer : uint8_t {
  kDiagTimerNone = 0,
  kDiagTimerRetransmit = 1,
  kDiagTimerSk = 2,        // sk_timer: keepalive on a connected socket, the FIN_WAIT2 timeout on an orphan
  kDiagTimerTimeWait = 3,  // only tcp_twsk_diag_fill() writes it
  kDiagTimerProbe0 = 4,    // zero-window probe
};

struct SocketRecord {
  uint8_t family = 0;     // AF_INET or AF_INET6
  uint8_t state = 0;      // kernel state number, as ss shows it (request sockets: SYN_RECV)
  bool timewait = false;  // an inet_timewait_sock (state TIME_WAIT, or FIN_WAIT2 substate)
  bool request = false;   // a request socket (SYN_RECV before the handshake completes)
  uint64_t cookie = 0;    // idiag_cookie: the socket cookie BPF sees too
  uint32_t inode = 0;     // 0 for timewait/request/orphaned sockets
  uint32_t uid = 0;
  uint32_t netns = 0;       // the namespace the dump ran in
  uint32_t expires_ms = 0;  // idiag_expires: time left on the socket's timer
  uint8_t timer = 0;        // idiag_timer: a DiagTimer
  std::array<uint8_t, 16> saddr{};
  std::array<uint8_t, 16> daddr{};
  uint16_t sport = 0;  // host byte order
  uint16_t dport = 0;
  uint32_t rqueue = 0;  // idiag_rqueue: unread bytes (full sockets), as ss's Recv-Q
  uint32_t wqueue = 0;  // idiag_wqueue: unsent or unacknowledged bytes, Send-Q
  // With DumpRequest::tcp_info: ms since the last ACK arrived
  // (tcpi_last_ack_recv); full sockets only.
  bool has_last_ack_recv = false;
  uint32_t last_ack_recv_ms = 0;
  // With DumpRequest::storage_map_fd: tcpfsm's BPF storage of this socket,
  // when it holds an entry time for the state the socket is in now:
  // CLOCK_MONOTONIC ns at which it entered `state`. 0: unknown.
  uint64_t state_since_ns = 0;
  // With DumpRequest::storage_map_fd: the state tcpfsm's kernel counts
  // (aggregate mode) hold this socket in; 0: not counted.
  uint8_t counted = 0;
};

}  // namespace tcpfsm
