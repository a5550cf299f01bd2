// Network namespaces: which ones exist (every /proc/PID/ns/net and
// /run/netns entry), and entering one on the calling thread.
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "base/result.hpp"

namespace tcpfsm {

// The network namespace of the calling thread.
Result<uint32_t> own_netns();

struct NamespacePaths {
  std::map<uint32_t, std::vector<std::string>> paths;  // namespace inode -> paths that lead to it
  size_t unidentified = 0;  // entries whose namespace could not be read for lack of permission
};

// Every namespace but `self` reachable through /proc/*/ns/net and
// /run/netns/*, or only `only_netns` when it is nonzero.
NamespacePaths find_namespaces(uint32_t only_netns, uint32_t self);

// An Error unless network namespace `ino` exists (the caller's own, or one
// a process or /run/netns entry is in): a --netns that names none is a typo,
// not an idle host. Every command checks it before it starts.
Status require_netns(uint32_t ino);

// Every process under `proc_root` and the inode of its network namespace
// (processes whose namespace cannot be read are left out).
struct ProcessNetns {
  uint32_t pid = 0;
  uint32_t netns = 0;
};
std::vector<ProcessNetns> process_namespaces(const std::string& proc_root = "/proc");

enum class Entered { Yes, Denied, Gone };

// Enters namespace `ino` on the calling thread through the first path that
// still leads to it (a pid may have exited or been reused since the scan).
// err: the errno of a denial.
Entered enter_namespace(uint32_t ino, const std::vector<std::string>& paths, int& err);

}  // namespace tcpfsm
