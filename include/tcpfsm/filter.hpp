// What to trace. Parsed from the command line here, applied in the kernel by
// the tracer (so filtered-out sockets cost nearly nothing), and in userspace
// by FilterSpec::matches for recorded events.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "tcpfsm/event.hpp"
#include "tcpfsm/result.hpp"
#include "tcpfsm/sock_diag.hpp"

namespace tcpfsm {

struct FilterSpec {
  uint8_t family = 0;  // 0: both, AF_INET, AF_INET6
  std::vector<uint16_t> lports;
  std::vector<uint16_t> dports;
  uint32_t pid = 0;   // owner tgid
  std::string comm;   // owner comm, exact
  uint32_t netns = 0;  // network namespace inode
  std::string cgroup_path;
  uint64_t cgroup_id = 0;  // cgroup v2 id of cgroup_path; matches descendants too

  // Everything but the cgroup, which events do not carry.
  bool matches(const Event& e) const;
  // A dumped socket: family, netns and ports (a dump names no owner).
  bool matches(const SocketRecord& r) const;
};

// "80,443": a comma-separated list of ports 1-65535.
Result<std::vector<uint16_t>> parse_port_list(std::string_view flag, std::string_view text);
// A positive process id.
Result<uint32_t> parse_pid(std::string_view text);
// 1-15 characters, as the kernel's comm holds.
Result<std::string> parse_comm(std::string_view text);
// "4026531840" or "net:[4026531840]" (what readlink /proc/PID/ns/net prints).
Result<uint32_t> parse_netns(std::string_view text);
// The id of a cgroup v2 directory (its inode number on cgroup2fs).
Result<uint64_t> cgroup_id_of(const std::string& path);

}  // namespace tcpfsm
