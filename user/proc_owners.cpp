// OwnerResolver: socket inode -> holder pids from /proc/PID/fd links, the
// same source `ss -p` reads, scanned incrementally under a time budget.
#include "tcpfsm/proc_owners.hpp"

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

template <typename T>
std::optional<T> parse_uint(std::string_view s) {
  T v{};
  const char* end = s.data() + s.size();
  const auto [ptr, ec] = std::from_chars(s.data(), end, v);  // unsigned: no sign, no space, no overflow
  if (s.empty() || ec != std::errc() || ptr != end) return std::nullopt;
  return v;
}

bool is_hex64(std::string_view s) {
  return s.size() == 64 &&
         std::all_of(s.begin(), s.end(), [](char c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'); });
}

// Calls f(line) for every line of `text`, the last one with or without its newline.
template <typename F>
void for_each_line(std::string_view text, F&& f) {
  while (!text.empty()) {
    const size_t eol = text.find('\n');
    f(text.substr(0, eol));
    if (eol == std::string_view::npos) break;
    text.remove_prefix(eol + 1);
  }
}

struct CgroupLine {
  std::string_view id, controllers, path;
};

// "hierarchy-ID:controller-list:cgroup-path"; the path may itself hold ':'.
std::optional<CgroupLine> split_cgroup_line(std::string_view line) {
  const size_t c1 = line.find(':');
  if (c1 == std::string_view::npos) return std::nullopt;
  const size_t c2 = line.find(':', c1 + 1);
  if (c2 == std::string_view::npos) return std::nullopt;
  CgroupLine l{line.substr(0, c1), line.substr(c1 + 1, c2 - c1 - 1), line.substr(c2 + 1)};
  if (l.path.empty() || l.path.front() != '/') return std::nullopt;
  return l;
}

bool has_controller(std::string_view list, std::string_view name) {
  for (;;) {
    const size_t comma = list.find(',');
    if (list.substr(0, comma) == name) return true;
    if (comma == std::string_view::npos) return false;
    list.remove_prefix(comma + 1);
  }
}

class UniqueFd {
 public:
  explicit UniqueFd(int fd = -1) : fd_(fd) {}
  UniqueFd(UniqueFd&& o) noexcept : fd_(std::exchange(o.fd_, -1)) {}
  UniqueFd& operator=(UniqueFd&& o) noexcept {
    if (this != &o) {
      reset();
      fd_ = std::exchange(o.fd_, -1);
    }
    return *this;
  }
  UniqueFd(const UniqueFd&) = delete;
  UniqueFd& operator=(const UniqueFd&) = delete;
  ~UniqueFd() { reset(); }
  int get() const { return fd_; }
  bool valid() const { return fd_ >= 0; }
  int release() { return std::exchange(fd_, -1); }
  void reset() {
    if (fd_ >= 0) ::close(fd_);
    fd_ = -1;
  }

 private:
  int fd_;
};

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
  const auto pid = parse_uint<uint32_t>(s);
  if (!pid || *pid == 0) return std::nullopt;
  return pid;
}

}  // namespace

std::optional<uint32_t> parse_socket_link(std::string_view link) {
  constexpr std::string_view kPrefix = "socket:[";
  if (!link.starts_with(kPrefix) || !link.ends_with(']')) return std::nullopt;  // so size >= prefix + 1
  return parse_uint<uint32_t>(link.substr(kPrefix.size(), link.size() - kPrefix.size() - 1));
}

std::optional<uint64_t> parse_stat_start_time(std::string_view stat) {
  // "pid (comm) state ppid ...": comm may hold anything, but every later field is a number or a letter.
  const size_t close = stat.rfind(')');
  if (close == std::string_view::npos) return std::nullopt;
  std::string_view rest = stat.substr(close + 1);
  constexpr std::string_view kSpace = " \n";
  for (int field = 3;; ++field) {
    const size_t start = rest.find_first_not_of(kSpace);
    if (start == std::string_view::npos) return std::nullopt;  // truncated
    rest.remove_prefix(start);
    const size_t end = std::min(rest.find_first_of(kSpace), rest.size());
    if (field == 22) return parse_uint<uint64_t>(rest.substr(0, end));
    rest.remove_prefix(end);
  }
}

std::optional<uint32_t> parse_status_uid(std::string_view status) {
  std::optional<uint32_t> uid;
  bool found = false;
  for_each_line(status, [&](std::string_view line) {
    if (found || !line.starts_with("Uid:")) return;
    found = true;
    line.remove_prefix(4);
    const size_t start = line.find_first_not_of(" \t");
    if (start == std::string_view::npos) return;
    line.remove_prefix(start);
    uid = parse_uint<uint32_t>(line.substr(0, std::min(line.find_first_of(" \t"), line.size())));
  });
  return uid;
}

std::string parse_cgroup_path(std::string_view cgroup_file) {
  std::optional<std::string_view> unified, systemd;
  for_each_line(cgroup_file, [&](std::string_view line) {
    const auto l = split_cgroup_line(line);
    if (!l) return;
    if (l->id == "0" && l->controllers.empty()) {
      if (!unified) unified = l->path;
    } else if (!systemd && has_controller(l->controllers, "name=systemd")) {
      systemd = l->path;
    }
  });
  if (unified) return std::string(*unified);
  return systemd ? std::string(*systemd) : std::string();
}

std::string container_id_of(std::string_view cgroup_path) {
  // Runtimes name the leaf after the id: docker-<id>.scope (systemd driver), /docker/<id> (cgroupfs),
  // cri-containerd-<id>.scope, crio-<id>[.scope], libpod-<id>.scope, /kubepods/<qos>/pod<uid>/<id>.
  // Nested runtimes (docker in docker) stack them; the innermost one holds the process.
  constexpr std::string_view kPrefixes[] = {"docker-", "cri-containerd-", "crio-", "libpod-"};
  std::string_view found;
  std::string_view rest = cgroup_path;
  while (!rest.empty()) {
    const size_t slash = rest.find('/');
    std::string_view part = rest.substr(0, slash);
    rest = slash == std::string_view::npos ? std::string_view() : rest.substr(slash + 1);
    if (part.ends_with(".scope")) part.remove_suffix(6);
    for (const auto prefix : kPrefixes) {
      if (part.starts_with(prefix)) {
        part.remove_prefix(prefix.size());
        break;
      }
    }
    if (is_hex64(part)) found = part;
  }
  return std::string(found);
}

std::string container_id_of_cgroup_file(std::string_view cgroup_file) {
  std::string id = container_id_of(parse_cgroup_path(cgroup_file));
  for_each_line(cgroup_file, [&](std::string_view line) {
    if (!id.empty()) return;
    if (const auto l = split_cgroup_line(line)) id = container_id_of(l->path);
  });
  return id;
}

std::string parse_cmdline(std::string_view raw) {
  const size_t last = raw.find_last_not_of(std::string_view(" \0", 2));
  if (last == std::string_view::npos) return {};
  std::string out(raw.substr(0, last + 1));
  std::replace(out.begin(), out.end(), '\0', ' ');
  return out;
}

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
