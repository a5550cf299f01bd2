// Sysctls by dotted name ("net.ipv4.tcp_fin_timeout"), read under a proc
// root, and the same names read in every network namespace: most net.*
// settings are each namespace's own, and a namespace starts with the
// kernel's defaults, not the host's tuning.
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace tcpfsm {

// proc_root/sys/<name with dots as slashes>, its blanks and lines made
// single spaces ("32768 60999"); nullopt when the kernel has no such file.
// Names are dotted words of [a-z0-9_-]: no name leaves proc_root/sys.
std::optional<std::string> read_sysctl(const std::string& proc_root, std::string_view dotted);

struct NetnsSysctls {
  uint32_t netns = 0;
  std::map<std::string, std::string> values;  // the names this namespace has
};

struct SysctlScan {
  std::vector<NetnsSysctls> namespaces;  // the caller's own first, then by inode
  uint64_t folded = 0;                   // namespaces past max_namespaces, not read
  uint64_t unreadable = 0;               // namespaces that could not be entered (gone, or denied)
};

// `names` in the caller's own namespace, and in each other one a process or
// /run/netns entry is in (only `only_netns` when nonzero), entered on a
// thread of its own. At most `max_namespaces` besides the own one are read.
SysctlScan read_sysctls_by_netns(const std::vector<std::string>& names, uint32_t only_netns, size_t max_namespaces);

}  // namespace tcpfsm
