// SockDiagSnapshot: every TCP socket the kernel has, from a NETLINK_SOCK_DIAG
// dump (what `ss -tan` reads): all states, both families, timewait and
// request sockets included. Seeds and reconciles the live state table.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

#include "tcpfsm/result.hpp"

namespace tcpfsm {

struct SocketRecord {
  uint8_t family = 0;  // AF_INET or AF_INET6
  uint8_t state = 0;   // kernel state number, as ss shows it (request sockets: SYN_RECV)
  bool timewait = false;  // an inet_timewait_sock (state TIME_WAIT, or FIN_WAIT2 substate)
  bool request = false;   // a request socket (SYN_RECV before the handshake completes)
  uint64_t cookie = 0;    // idiag_cookie: the socket cookie BPF sees too
  uint32_t inode = 0;     // 0 for timewait/request/orphaned sockets
  uint32_t uid = 0;
  uint32_t netns = 0;     // the namespace the dump ran in
  uint32_t expires_ms = 0;  // idiag_expires: time left on the socket's timer
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

// What a dump asks the kernel for. The defaults give every socket, no extras.
struct DumpRequest {
  uint32_t states = ~0U;  // bit (1 << state); the kernel filters
  bool tcp_info = false;  // INET_DIAG_INFO, for last_ack_recv_ms
  int storage_map_fd = -1;  // a BPF_MAP_TYPE_SK_STORAGE of struct tcpfsm_sk_info
  // Keep no timewait socket in the TIME_WAIT substate. The kernel filters
  // timewait sockets by the TIME_WAIT bit whatever their substate, so
  // orphaned FIN_WAIT2 can only be asked for with every TIME_WAIT; this
  // drops those as each reply is read, instead of holding them all.
  bool drop_time_wait = false;
  // How many sockets the caller expects (the last dump's count): the result
  // is sized once instead of doubling past it.
  size_t expected_sockets = 0;
};

enum class DumpProgress { More, Done };

// Parses one recv() buffer of netlink messages answering an inet_diag dump.
// Appends a record per SOCK_DIAG_BY_FAMILY message; Done at NLMSG_DONE.
// Any malformed input (truncated headers, lengths that overrun the buffer,
// short payloads, NLMSG_ERROR) is an Error, never a crash or a read past the end.
Result<DumpProgress> parse_inet_diag(std::span<const std::byte> buf, uint32_t netns, std::vector<SocketRecord>& out);

// Dumps all TCP sockets (IPv4 and IPv6, every state) of the calling thread's
// network namespace; records carry `netns`.
Result<std::vector<SocketRecord>> dump_tcp_sockets(uint32_t netns, const DumpRequest& req = {});

struct NamespaceDump {
  std::vector<SocketRecord> sockets;
  std::vector<uint32_t> namespaces;  // inodes that were dumped
  size_t unreachable = 0;            // namespaces found but not enterable
};

// Dumps every network namespace reachable through /proc/*/ns/net and
// /run/netns/* (entered with setns in a helper thread, so the caller's
// namespace never changes), or only `only_netns` when it is nonzero.
Result<NamespaceDump> dump_namespaces(uint32_t only_netns, const DumpRequest& req = {});

}  // namespace tcpfsm
