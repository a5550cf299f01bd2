// OwnerResolver: socket inode -> holder pids from /proc/PID/fd links, the
// same source `ss -p` reads, scanned incrementally under a time budget.
#include "collect/proc_owners.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <pwd.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <string>
#include <utility>

#include "base/parse.hpp"
#include "base/unique_fd.hpp"
#include "collect/proc_parse.hpp"

namespace tcpfsm {
namespace {

using Clock = std::chrono::steady_clock;

constexpr size_t kCheckEvery = 32;   // fds read between two looks at the clock
constexpr size_t kStatLimit = 4096;  // /proc/PID/stat is a few hundred bytes
constexpr size_t kStatusLimit = 16 * 1024;
constexpr size_t kCgroupLimit = 64 * 1024;
constexpr size_t kCmdlineLimit = 32 * 1024;  // enough to recognise a process; a JVM classpath may be cut
constexpr size_t kCommLimit = 256;
constexpr size_t kMinInfoPrune = 256;

struct DirCloser {
  void operator()(DIR* d) const { ::closedir(d); }
};
using DirPtr = std::unique_ptr<DIR, DirCloser>;

// Opens `fd` of an open directory as a DIR, taking ownership of it either way.
DirPtr open_dir(UniqueFd fd) {
  if (!fd.valid()) return nullptr;
  DIR* d = ::fdopendir(fd.get());
  if (d) fd.release();
  return DirPtr(d);
}

std::optional<std::string> read_file(int dirfd, const char* name, size_t limit) {
  UniqueFd fd(::openat(dirfd, name, O_RDONLY | O_CLOEXEC));
  if (!fd.valid()) return std::nullopt;
  std::string out;
  char buf[4096];
  while (out.size() < limit) {
    const ssize_t n = ::read(fd.get(), buf, std::min(sizeof(buf), limit - out.size()));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return std::nullopt;  // ESRCH when the process exited after the open
    if (n == 0) break;
    out.append(buf, static_cast<size_t>(n));
  }
  return out;
}

// An O_PATH handle on /proc/PID: files opened through it belong to that very
// process even if it exits and its pid is reused meanwhile.
UniqueFd open_pid_dir(int root_fd, uint32_t pid) {
  char name[16];
  const auto res = std::to_chars(name, name + sizeof(name) - 1, pid);
  *res.ptr = '\0';
  return UniqueFd(::openat(root_fd, name, O_PATH | O_DIRECTORY | O_CLOEXEC));
}

std::optional<uint64_t> read_start_time(int pid_dir) {
  const auto stat = read_file(pid_dir, "stat", kStatLimit);
  return stat ? parse_stat_start_time(*stat) : std::nullopt;
}

std::optional<uint32_t> pid_of_name(const char* name) {
  const std::string_view s(name);
  if (s.empty() || s.size() > 10 || s.front() == '0') return std::nullopt;  // "0123" would open "123"
  const auto pid = parse_number<uint32_t>(s);
  if (!pid || *pid == 0) return std::nullopt;
  return pid;
}

}  // namespace

struct OwnerResolver::State {
  struct Held {
    uint64_t start_time = 0;
    uint64_t cycle = 0;            // the cycle that last scanned the process
    std::vector<uint32_t> inodes;  // sorted, unique; only socket inodes, so memory follows sockets held
  };
  // A wanted inode with no holder. It counts as unheld only once a cycle that started after it was first
  // asked for has finished without finding it: a process scanned earlier may have opened it since.
  struct Unheld {
    uint64_t counts_from = 0;  // the first cycle that may confirm it
    bool confirmed = false;
    Clock::time_point at;  // when confirmed
  };
  // A process whose fd directory is being read; kept across calls when the budget runs out midway.
  struct Scan {
    uint32_t pid = 0;
    uint64_t start_time = 0;
    DirPtr fds;
    std::vector<uint32_t> inodes;
  };

  explicit State(std::string r) : root(std::move(r)) {}

  std::string root;
  UniqueFd root_fd;
  DirPtr cycle_dir;    // pid directories still to visit in the current cycle; null between cycles
  uint64_t cycle = 0;  // number of the current or last cycle
  std::optional<Clock::time_point> last_full;  // when the last cycle finished
  Scan scan;
  std::unordered_map<uint32_t, Held> by_pid;
  std::unordered_map<uint32_t, std::vector<uint32_t>> by_inode;  // inode -> pids, unordered
  std::unordered_map<uint32_t, Unheld> unheld;
  std::unordered_map<uint32_t, ProcessInfo> infos;
  size_t infos_prune_at = kMinInfoPrune;
  std::unordered_map<uint32_t, std::string> users;

  // 0, or the errno of opening the proc root.
  int open_root() {
    if (root_fd.valid()) return 0;
    root_fd = UniqueFd(::open(root.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
    return root_fd.valid() ? 0 : errno;
  }

  void unindex(uint32_t pid, const std::vector<uint32_t>& inodes) {
    for (const uint32_t inode : inodes) {
      const auto it = by_inode.find(inode);
      if (it == by_inode.end()) continue;
      std::erase(it->second, pid);
      if (it->second.empty()) by_inode.erase(it);
    }
  }

  void forget(uint32_t pid) {
    const auto it = by_pid.find(pid);
    if (it == by_pid.end()) return;
    unindex(pid, it->second.inodes);
    by_pid.erase(it);
  }

  void remember(uint32_t pid, uint64_t start_time, std::vector<uint32_t> inodes) {
    std::sort(inodes.begin(), inodes.end());
    inodes.erase(std::unique(inodes.begin(), inodes.end()), inodes.end());
    if (inodes.empty()) return forget(pid);
    auto [it, inserted] = by_pid.try_emplace(pid);
    Held& h = it->second;
    h.start_time = start_time;
    h.cycle = cycle;
    if (!inserted && h.inodes == inodes) return;
    if (!inserted) unindex(pid, h.inodes);
    for (const uint32_t inode : inodes) by_inode[inode].push_back(pid);
    h.inodes = std::vector<uint32_t>(inodes.begin(), inodes.end());  // exact capacity
  }

  // Opens the fd directory of `pid` for scanning; false when the process is gone or its fds are unreadable.
  bool begin_scan(uint32_t pid) {
    const UniqueFd pid_dir = open_pid_dir(root_fd.get(), pid);
    if (!pid_dir.valid()) return false;
    const auto start_time = read_start_time(pid_dir.get());
    if (!start_time) return false;
    DirPtr fds = open_dir(UniqueFd(::openat(pid_dir.get(), "fd", O_RDONLY | O_DIRECTORY | O_CLOEXEC)));
    if (!fds) return false;  // EACCES (another user's process), ENOENT/ESRCH (exited)
    scan = Scan{pid, *start_time, std::move(fds), {}};
    return true;
  }

  // Scans processes of the current cycle until the deadline; true when the cycle is done. The clock is read
  // only after a process or kCheckEvery fds, so every call makes progress, even with a deadline in the past.
  bool advance(Clock::time_point deadline, Resolution& r) {
    size_t unchecked = 0;
    for (;;) {
      if (scan.fds) {
        DIR* d = scan.fds.get();
        const int dfd = ::dirfd(d);
        for (;;) {
          errno = 0;
          const dirent* e = ::readdir(d);
          if (!e) break;
          if (e->d_name[0] == '.') continue;
          char buf[32];  // "socket:[4294967295]" fits; longer links are not sockets
          const ssize_t n = ::readlinkat(dfd, e->d_name, buf, sizeof(buf));
          ++r.fds_scanned;
          if (n > 0 && static_cast<size_t>(n) < sizeof(buf)) {
            if (const auto inode = parse_socket_link(std::string_view(buf, static_cast<size_t>(n)))) {
              scan.inodes.push_back(*inode);
            }
          }
          if (++unchecked >= kCheckEvery) {
            unchecked = 0;
            if (Clock::now() >= deadline) return false;  // paused mid-process; resumed by the next call
          }
        }
        // readdir fails (ENOENT) once the process has exited: what was read may be incomplete.
        if (errno != 0) {
          forget(scan.pid);
        } else {
          remember(scan.pid, scan.start_time, std::move(scan.inodes));
        }
        scan = Scan{};
        ++r.processes_scanned;
        if (Clock::now() >= deadline) return false;
        continue;
      }
      const dirent* e = ::readdir(cycle_dir.get());
      if (!e) {
        cycle_dir.reset();
        return true;
      }
      const auto pid = pid_of_name(e->d_name);
      if (!pid) continue;
      if (begin_scan(*pid)) continue;
      forget(*pid);
      ++r.processes_scanned;
      if (Clock::now() >= deadline) return false;
    }
  }

  void finish_cycle(Clock::time_point now, std::chrono::milliseconds max_staleness) {
    last_full = now;
    std::vector<uint32_t> gone;
    for (const auto& [pid, h] : by_pid) {
      if (h.cycle != cycle) gone.push_back(pid);  // not listed by this cycle: exited
    }
    for (const uint32_t pid : gone) forget(pid);
    for (auto it = unheld.begin(); it != unheld.end();) {
      Unheld& u = it->second;
      if (by_inode.contains(it->first) || (u.confirmed && now - u.at > max_staleness)) {
        it = unheld.erase(it);
        continue;
      }
      if (!u.confirmed && u.counts_from <= cycle) {
        u.confirmed = true;
        u.at = now;
      }
      ++it;
    }
  }

  std::string user_name(uint32_t uid) {
    if (const auto it = users.find(uid); it != users.end()) return it->second;
    const long hint = ::sysconf(_SC_GETPW_R_SIZE_MAX);
    std::vector<char> buf(hint > 0 ? static_cast<size_t>(hint) : 1024);
    passwd pw{};
    passwd* found = nullptr;
    int rc;
    while ((rc = ::getpwuid_r(uid, &pw, buf.data(), buf.size(), &found)) == ERANGE && buf.size() < (1u << 20)) {
      buf.resize(buf.size() * 2);
    }
    std::string name = rc == 0 && found && found->pw_name ? std::string(found->pw_name) : std::to_string(uid);
    if (rc == 0) users[uid] = name;  // found or known absent; a failing lookup (NSS down) is retried later
    return name;
  }

  // Drops facts about exited processes once the cache has doubled since the last pruning.
  void prune_infos() {
    if (infos.size() < infos_prune_at) return;
    std::erase_if(infos, [&](const auto& kv) {
      const UniqueFd pid_dir = open_pid_dir(root_fd.get(), kv.first);
      const auto start_time = pid_dir.valid() ? read_start_time(pid_dir.get()) : std::nullopt;
      return start_time != kv.second.start_time;
    });
    infos_prune_at = std::max(kMinInfoPrune, 2 * infos.size());
  }
};

OwnerResolver::OwnerResolver(std::string proc_root) : s_(std::make_unique<State>(std::move(proc_root))) {}
OwnerResolver::~OwnerResolver() = default;
OwnerResolver::OwnerResolver(OwnerResolver&&) noexcept = default;
OwnerResolver& OwnerResolver::operator=(OwnerResolver&&) noexcept = default;

OwnerResolver::Resolution OwnerResolver::resolve(const std::vector<uint32_t>& inodes, std::chrono::milliseconds budget,
                                                 std::chrono::milliseconds max_staleness) {
  Resolution r;
  std::vector<uint32_t> wanted(inodes);
  std::erase(wanted, 0u);
  if (wanted.empty()) return r;
  State& s = *s_;
  if (const int err = s.open_root()) {
    r.error = err;
    return r;
  }
  std::sort(wanted.begin(), wanted.end());
  wanted.erase(std::unique(wanted.begin(), wanted.end()), wanted.end());
  const auto now = Clock::now();
  const auto deadline = now + budget;

  // Cached holders must still be the processes that were scanned.
  std::vector<uint32_t> pids;
  for (const uint32_t inode : wanted) {
    if (const auto it = s.by_inode.find(inode); it != s.by_inode.end()) {
      pids.insert(pids.end(), it->second.begin(), it->second.end());
    }
  }
  std::sort(pids.begin(), pids.end());
  pids.erase(std::unique(pids.begin(), pids.end()), pids.end());
  for (const uint32_t pid : pids) {
    const UniqueFd pid_dir = open_pid_dir(s.root_fd.get(), pid);
    const auto start_time = pid_dir.valid() ? read_start_time(pid_dir.get()) : std::nullopt;
    if (start_time != s.by_pid.at(pid).start_time) s.forget(pid);
  }

  bool need_cycle = !s.last_full || now - *s.last_full > max_staleness;
  for (const uint32_t inode : wanted) {
    if (s.by_inode.contains(inode)) continue;
    auto [it, inserted] = s.unheld.try_emplace(inode);
    State::Unheld& u = it->second;
    if (inserted || (u.confirmed && now - u.at > max_staleness)) u = State::Unheld{s.cycle + 1, false, {}};
    if (!u.confirmed) need_cycle = true;
  }

  if (need_cycle) {
    if (!s.cycle_dir) {
      s.cycle_dir = open_dir(UniqueFd(::openat(s.root_fd.get(), ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC)));
      if (!s.cycle_dir) {
        r.error = errno;
        return r;
      }
      ++s.cycle;
    }
    if (s.advance(deadline, r)) {
      s.finish_cycle(Clock::now(), max_staleness);
    } else {
      r.complete = false;
    }
  }

  for (const uint32_t inode : wanted) {
    const auto it = s.by_inode.find(inode);
    if (it == s.by_inode.end()) continue;
    auto& holders = r.holders[inode] = it->second;
    std::sort(holders.begin(), holders.end());
  }
  return r;
}

std::optional<ProcessInfo> OwnerResolver::process(uint32_t pid) {
  State& s = *s_;
  if (s.open_root() != 0) return std::nullopt;
  const UniqueFd pid_dir = open_pid_dir(s.root_fd.get(), pid);
  const auto start_time = pid_dir.valid() ? read_start_time(pid_dir.get()) : std::nullopt;
  if (!start_time) {
    s.infos.erase(pid);
    return std::nullopt;
  }
  if (const auto it = s.infos.find(pid); it != s.infos.end() && it->second.start_time == *start_time) {
    return it->second;
  }

  ProcessInfo p;
  p.pid = pid;
  p.start_time = *start_time;
  if (auto comm = read_file(pid_dir.get(), "comm", kCommLimit)) {
    if (comm->ends_with('\n')) comm->pop_back();
    p.comm = std::move(*comm);
  }
  if (const auto cmdline = read_file(pid_dir.get(), "cmdline", kCmdlineLimit)) p.cmdline = parse_cmdline(*cmdline);
  const auto status = read_file(pid_dir.get(), "status", kStatusLimit);
  if (const auto uid = status ? parse_status_uid(*status) : std::nullopt) {
    p.uid = *uid;
  } else if (struct stat st{}; ::fstat(pid_dir.get(), &st) == 0) {
    p.uid = st.st_uid;  // the effective uid: the best left when status cannot be read
  }
  p.user = s.user_name(p.uid);
  if (const auto cgroup = read_file(pid_dir.get(), "cgroup", kCgroupLimit)) {
    p.cgroup = parse_cgroup_path(*cgroup);
    p.container_id = container_id_of_cgroup_file(*cgroup);
  }
  s.prune_infos();
  s.infos[pid] = p;
  return p;
}

}  // namespace tcpfsm
