// sock_diag: every TCP socket the kernel has, from a NETLINK_SOCK_DIAG dump
// (what `ss -tan` reads): all states, both families, timewait and request
// sockets included, in one network namespace or all of them. The parser
// (inet_diag_parser.cpp) is pure; sock_diag.cpp does the I/O.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

#include "base/result.hpp"
#include "model/socket_record.hpp"

namespace tcpfsm {

// node_exporter's tcpstat asks for TCPF_ALL (0xFFF): states 0..11, so no
// TCP_BOUND_INACTIVE sockets; the kernel adds request sockets (reported as
// SYN_RECV) whenever the SYN_RECV bit is set.
inline constexpr uint32_t kNodeExporterStates = 0xFFF;

// What a dump asks the kernel for. The defaults give every socket, no extras.
struct DumpRequest {
  uint32_t states = ~0U;    // bit (1 << state); the kernel filters
  bool tcp_info = false;    // INET_DIAG_INFO, for last_ack_recv_ms
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
