// FilterSpec: what to trace. The tracer applies it in the kernel (so
// filtered-out sockets cost nearly nothing); matches() applies it to
// recorded events (replays) and dumped sockets.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "model/event.hpp"
#include "model/socket_record.hpp"

namespace tcpfsm {

struct FilterSpec {
  uint8_t family = 0;  // 0: both, AF_INET, AF_INET6
  std::vector<uint16_t> lports;
  std::vector<uint16_t> dports;
  uint32_t pid = 0;    // owner tgid
  std::string comm;    // owner comm, exact
  uint32_t netns = 0;  // network namespace inode
  std::string cgroup_path;
  uint64_t cgroup_id = 0;  // cgroup v2 id of cgroup_path; matches descendants too

  // Owner filters (pid, comm, cgroup) select sockets by who drives them,
  // which a dump cannot tell.
  bool by_owner() const { return pid || !comm.empty() || cgroup_id || !cgroup_path.empty(); }
  // Everything but the cgroup, which events do not carry.
  bool matches(const Event& e) const;
  // A dumped socket: family, netns and ports (a dump names no owner).
  bool matches(const SocketRecord& r) const;
};

}  // namespace tcpfsm
