// SocketRecord: one TCP socket as a sock_diag dump reports it (what `ss -tan`
// shows), with tcpfsm's own BPF storage of it when the dump asked for that.
#pragma once

#include <array>
#include <cstdint>
#include <optional>

#include "tcpfsm/event.h"

namespace tcpfsm {

// idiag_timer, the timer a dump says is pending on a socket (inet_sk_diag_fill).
enum DiagTimer : uint8_t {
  kDiagTimerNone = 0,
  kDiagTimerRetransmit = 1,
  kDiagTimerSk = 2,        // sk_timer: keepalive on a connected socket, the FIN_WAIT2 timeout on an orphan
  kDiagTimerTimeWait = 3,  // only tcp_twsk_diag_fill() writes it
  kDiagTimerProbe0 = 4,    // zero-window probe
};

// What tcp_info says of a full socket's unacknowledged sends: why a closing
// socket (FIN_WAIT1, LAST_ACK, CLOSING) is still there.
struct SendState {
  uint8_t retransmits = 0;     // tcpi_retransmits: retransmission timeouts in a row, without an ACK between
  uint8_t probes = 0;          // tcpi_probes: zero-window probes unanswered in a row
  uint32_t unacked = 0;        // tcpi_unacked: segments sent and not acknowledged (the FIN counts)
  uint32_t total_retrans = 0;  // tcpi_total_retrans: retransmitted segments over the connection's life
};

// What tcp_info says of a full socket's traffic: ms since this side last
// sent data (tcpi_last_data_sent) and since data last arrived
// (tcpi_last_data_recv). Both count from the handshake; pure ACKs and
// keepalive probes carry no data and reset neither.
struct DataTimes {
  uint32_t since_sent_ms = 0;
  uint32_t since_recv_ms = 0;
  // No data either way for this long.
  uint32_t idle_ms() const { return since_sent_ms < since_recv_ms ? since_sent_ms : since_recv_ms; }
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
  // idiag_retrans: with kDiagTimerRetransmit, the retransmission timeouts in
  // a row (a request socket's SYN-ACKs too); with the others, probes.
  uint8_t retrans = 0;
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
  std::optional<SendState> send;  // with DumpRequest::tcp_info, full sockets
  std::optional<DataTimes> data;  // with DumpRequest::tcp_info, full sockets
  // With DumpRequest::storage_map_fd: tcpfsm's BPF storage of this socket,
  // when it holds an entry time for the state the socket is in now:
  // CLOCK_MONOTONIC ns at which it entered `state`. 0: unknown.
  uint64_t state_since_ns = 0;
  // With DumpRequest::storage_map_fd: the state tcpfsm's kernel counts
  // (aggregate mode) hold this socket in; 0: not counted.
  uint8_t counted = 0;
};

// FIN_WAIT1, LAST_ACK, CLOSING: this side sent its FIN and waits for its ACK.
inline bool is_closing_state(uint8_t state) {
  return state == TCPFSM_FIN_WAIT1 || state == TCPFSM_LAST_ACK || state == TCPFSM_CLOSING;
}

// Why closing sockets are still there, summed over some of them: how many
// retransmit with no ACK since, how many probe a zero window, and what they
// have outstanding.
struct NoAckTally {
  uint64_t retransmitting = 0;  // a retransmission timeout fired with no ACK since (tcpi_retransmits >= 1)
  uint64_t zero_window = 0;     // probing the peer's zero window (timer: zero-window probe)
  uint32_t max_retransmits = 0;
  uint64_t unacked_segments = 0;  // sent, unacknowledged (tcpi_unacked, the FIN included)
  uint64_t send_q_bytes = 0;      // Send-Q: unsent and unacknowledged bytes
  uint64_t stalled() const { return retransmitting + zero_window; }
  void add(const SocketRecord& r) {
    send_q_bytes += r.wqueue;
    if (r.timer == kDiagTimerProbe0) ++zero_window;
    if (!r.send) return;
    if (r.send->retransmits > 0 && r.timer != kDiagTimerProbe0) ++retransmitting;
    if (r.send->retransmits > max_retransmits) max_retransmits = r.send->retransmits;
    unacked_segments += r.send->unacked;
  }
};

}  // namespace tcpfsm
