// Finding and entering network namespaces (see netns.hpp).
#include "collect/netns.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <fmt/format.h>
#include <sched.h>
#include <sys/stat.h>

#include <algorithm>
#include <cerrno>
#include <string_view>
#include <system_error>

#include "base/unique_fd.hpp"

namespace tcpfsm {
namespace {

bool permission_error(int err) { return err == EACCES || err == EPERM; }

void add_candidate(const std::string& path, uint32_t only_netns, uint32_t self, NamespacePaths& c) {
  struct stat st {};
  if (stat(path.c_str(), &st) != 0) {
    if (permission_error(errno)) ++c.unidentified;
    return;  // anything else: the process exited, or the entry is stale
  }
  const auto ino = static_cast<uint32_t>(st.st_ino);
  if (ino == self || (only_netns != 0 && ino != only_netns)) return;
  c.paths[ino].push_back(path);
}

}  // namespace

Result<uint32_t> own_netns() {
  struct stat st {};
  if (stat("/proc/thread-self/ns/net", &st) == 0 || stat("/proc/self/ns/net", &st) == 0)
    return static_cast<uint32_t>(st.st_ino);
  const int err = errno;
  return Error::runtime("cannot stat /proc/self/ns/net: " + errno_text(err) + "; is /proc mounted?", err);
}

NamespacePaths find_namespaces(uint32_t only_netns, uint32_t self) {
  NamespacePaths c;
  if (DIR* d = opendir("/proc")) {
    while (const dirent* e = readdir(d)) {
      const std::string_view name = e->d_name;
      if (name.empty() || !std::all_of(name.begin(), name.end(), [](char ch) { return ch >= '0' && ch <= '9'; }))
        continue;
      add_candidate(fmt::format("/proc/{}/ns/net", name), only_netns, self, c);
    }
    closedir(d);
  }
  if (DIR* d = opendir("/run/netns")) {
    while (const dirent* e = readdir(d)) {
      const std::string_view name = e->d_name;
      if (name == "." || name == "..") continue;
      add_candidate(fmt::format("/run/netns/{}", name), only_netns, self, c);
    }
    closedir(d);
  }
  return c;
}

std::vector<ProcessNetns> process_namespaces(const std::string& proc_root) {
  std::vector<ProcessNetns> out;
  DIR* d = opendir(proc_root.c_str());
  if (!d) return out;
  while (const dirent* e = readdir(d)) {
    const std::string_view name = e->d_name;
    if (name.empty() || !std::all_of(name.begin(), name.end(), [](char ch) { return ch >= '0' && ch <= '9'; }))
      continue;
    struct stat st {};
    if (stat(fmt::format("{}/{}/ns/net", proc_root, name).c_str(), &st) != 0) continue;
    out.push_back({static_cast<uint32_t>(std::stoul(std::string(name))), static_cast<uint32_t>(st.st_ino)});
  }
  closedir(d);
  return out;
}

Status require_netns(uint32_t ino) {
  const auto self = own_netns();
  if (!self) return self.error();
  if (ino == *self) return Ok{};
  const NamespacePaths found = find_namespaces(ino, *self);
  if (!found.paths.empty()) return Ok{};
  std::string unseen;
  if (found.unidentified != 0)
    unseen = fmt::format(" ({} processes could not be inspected: permission denied)", found.unidentified);
  return Error::runtime(
      fmt::format("no process or /run/netns entry is in network namespace {}{}; find the inode "
                  "with `stat -L -c %i /proc/PID/ns/net` or `ls /run/netns`",
                  ino, unseen));
}

Entered enter_namespace(uint32_t ino, const std::vector<std::string>& paths, int& err) {
  bool denied = false;
  for (const auto& path : paths) {
    const UniqueFd fd(open(path.c_str(), O_RDONLY | O_CLOEXEC));
    if (!fd.valid()) {
      if (permission_error(errno)) {
        denied = true;
        err = errno;
      }
      continue;
    }
    struct stat st {};
    if (fstat(fd.get(), &st) != 0 || static_cast<uint32_t>(st.st_ino) != ino) continue;
    if (setns(fd.get(), CLONE_NEWNET) == 0) return Entered::Yes;
    denied = true;
    err = errno;
  }
  return denied ? Entered::Denied : Entered::Gone;
}

}  // namespace tcpfsm
