// cgroup v2 ids and paths (see cgroup.hpp).
#include "base/cgroup.hpp"

#include <linux/magic.h>
#include <sys/stat.h>
#include <sys/vfs.h>

#include <cerrno>
#include <climits>
#include <cstdlib>
#include <cstring>
#include <fstream>

#include "base/parse.hpp"

namespace tcpfsm {

Result<uint64_t> cgroup_id_of(const std::string& dir) {
  const std::string q = single_quoted(dir);
  struct statfs fs {};
  if (statfs(dir.c_str(), &fs) != 0) {
    return Error::usage("invalid --cgroup " + q + ": " + std::strerror(errno) +
                        "; give a cgroup v2 directory such as /sys/fs/cgroup/system.slice/nginx.service");
  }
  if (fs.f_type != CGROUP2_SUPER_MAGIC) {
    return Error::usage("invalid --cgroup " + q +
                        ": not on a cgroup v2 filesystem; give a directory under the cgroup2 mount "
                        "(see 'mount -t cgroup2')");
  }
  struct stat st {};
  if (stat(dir.c_str(), &st) != 0 || !S_ISDIR(st.st_mode)) {
    return Error::usage("invalid --cgroup " + q + ": not a cgroup directory");
  }
  // On 64-bit kernels a cgroup's id is its kernfs inode number.
  return static_cast<uint64_t>(st.st_ino);
}

Result<std::string> cgroup_relative(const std::string& dir) {
  char real[PATH_MAX];
  if (!realpath(dir.c_str(), real)) {
    return Error::usage("invalid --cgroup " + single_quoted(dir) + ": " + std::strerror(errno));
  }
  const std::string path = real;
  std::ifstream mounts("/proc/self/mounts");
  std::string dev, mnt, type, rest, best;
  while (mounts >> dev >> mnt >> type && std::getline(mounts, rest)) {
    if (type != "cgroup2") continue;
    if (path.compare(0, mnt.size(), mnt) == 0 && (path.size() == mnt.size() || path[mnt.size()] == '/') &&
        mnt.size() > best.size())
      best = mnt;
  }
  if (best.empty()) {
    return Error::usage("invalid --cgroup " + single_quoted(dir) +
                        ": not under a cgroup2 mount; give a directory below it, e.g. "
                        "/sys/fs/cgroup/system.slice/app.service");
  }
  const std::string rel = path.substr(best.size());
  return rel.empty() ? std::string("/") : rel;
}

bool cgroup_within(std::string_view path, std::string_view under) {
  while (under.size() > 1 && under.back() == '/') under.remove_suffix(1);
  if (under.empty() || under == "/") return true;
  if (path.substr(0, under.size()) != under) return false;
  return path.size() == under.size() || path[under.size()] == '/';
}

}  // namespace tcpfsm
