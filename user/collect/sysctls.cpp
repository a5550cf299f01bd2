// read_sysctl and read_sysctls_by_netns (see sysctls.hpp).
#include "collect/sysctls.hpp"

#include <algorithm>
#include <fstream>
#include <sstream>
#include <thread>

#include "collect/netns.hpp"

namespace tcpfsm {

std::optional<std::string> read_sysctl(const std::string& proc_root, std::string_view dotted) {
  if (dotted.empty() || dotted.find("..") != std::string_view::npos ||
      !std::all_of(dotted.begin(), dotted.end(), [](char c) {
        return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '-' || c == '.';
      }))
    return std::nullopt;
  std::string rel(dotted);
  std::replace(rel.begin(), rel.end(), '.', '/');
  std::ifstream f(proc_root + "/sys/" + rel);
  if (!f) return std::nullopt;
  std::string value, word;
  while (f >> word) {
    if (!value.empty()) value += ' ';
    value += word;
  }
  if (f.bad()) return std::nullopt;
  return value;
}

namespace {

std::map<std::string, std::string> read_all(const std::vector<std::string>& names) {
  std::map<std::string, std::string> out;
  for (const auto& n : names)
    if (auto v = read_sysctl("/proc", n)) out[n] = *v;
  return out;
}

}  // namespace

SysctlScan read_sysctls_by_netns(const std::vector<std::string>& names, uint32_t only_netns, size_t max_namespaces) {
  SysctlScan scan;
  auto own = own_netns();
  if (!own) return scan;
  scan.namespaces.push_back({*own, read_all(names)});
  const NamespacePaths found = find_namespaces(only_netns, *own);
  for (const auto& entry : found.paths) {
    // Not a structured binding: clang before 16 cannot capture one in the lambda below.
    const auto& ino = entry.first;
    const auto& paths = entry.second;
    if (scan.namespaces.size() > max_namespaces) {
      ++scan.folded;
      continue;
    }
    NetnsSysctls ns{ino, {}};
    bool entered = false;
    // /proc/sys/net is the reading thread's namespace's: a thread that
    // entered it, and ends with it.
    std::thread([&] {
      int err = 0;
      entered = enter_namespace(ino, paths, err) == Entered::Yes;
      if (entered) ns.values = read_all(names);
    }).join();
    if (entered)
      scan.namespaces.push_back(std::move(ns));
    else
      ++scan.unreadable;
  }
  return scan;
}

}  // namespace tcpfsm
