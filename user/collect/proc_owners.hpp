// OwnerResolver: which processes hold socket inode N, found the way `ss -p`
// finds them (the /proc/PID/fd/* links that read "socket:[N]"), plus the
// facts about a process a user needs to act on a leak: who runs it, what it
// is, and which cgroup or container it lives in.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

namespace tcpfsm {

struct ProcessInfo {
  uint32_t pid = 0;
  uint64_t start_time = 0;   // field 22 of /proc/PID/stat (clock ticks since boot): pid reuse detector
  std::string comm;          // /proc/PID/comm without newline
  std::string cmdline;       // /proc/PID/cmdline, NULs -> spaces, trailing removed; empty for kernel threads/zombies
  uint32_t uid = 0;          // real uid, first field of "Uid:" in /proc/PID/status
  std::string user;          // name of uid (getpwuid_r), or the number as text if unknown
  std::string cgroup;        // cgroup v2 path ("0::/path"); on hosts without one, the name=systemd path; "" if none
  std::string container_id;  // 64-hex container id found in the cgroup paths, "" if none
};

class OwnerResolver {
 public:
  explicit OwnerResolver(std::string proc_root = "/proc");
  ~OwnerResolver();
  OwnerResolver(OwnerResolver&&) noexcept;
  OwnerResolver& operator=(OwnerResolver&&) noexcept;
  OwnerResolver(const OwnerResolver&) = delete;
  OwnerResolver& operator=(const OwnerResolver&) = delete;

  struct Resolution {
    std::unordered_map<uint32_t, std::vector<uint32_t>> holders;  // inode -> pids holding an fd to it, sorted, unique
    bool complete = true;  // false: the time budget ran out before every process was scanned; call again to continue
    size_t processes_scanned = 0, fds_scanned = 0;  // work done by this call
    int error = 0;  // errno when the proc root itself could not be read: no holders can be found
  };

  // Finds the holders of each inode in `inodes` (0 is never held and is ignored). Lazy and bounded:
  //  * an empty `inodes` does no I/O at all;
  //  * results are cached per process (pid + start_time -> the socket inodes it held when last scanned);
  //    a pass over all of the proc root's pid directories is a "cycle"; a call continues the current cycle
  //    where the previous call stopped and stops once `budget` is spent (checked after each process and
  //    every few dozen fds, so a call overruns it by at most a few ms; a process with many fds may be
  //    paused in the middle); every call makes progress, even with a zero budget;
  //  * a call needs a cycle when some wanted inode has no holder in the cache and no cycle that started
  //    after it was first asked for has shown it unheld within `max_staleness`, or when the last full cycle
  //    finished more than `max_staleness` ago (so a new holder from fork/fd passing is found); otherwise it
  //    answers from the cache;
  //  * cached holders of wanted inodes are first checked to still exist with the same start_time (one
  //    small read per pid), so a process that exited drops out at once;
  //  * processes not yet rescanned in the current cycle are answered from the cache.
  // Processes that vanish mid-scan, or whose fd directory is unreadable, are skipped silently.
  Resolution resolve(const std::vector<uint32_t>& inodes, std::chrono::milliseconds budget,
                     std::chrono::milliseconds max_staleness = std::chrono::seconds(30));

  // Facts about a pid (cached by pid+start_time; re-read when the start_time changed). nullopt if the process is gone.
  std::optional<ProcessInfo> process(uint32_t pid);

 private:
  struct State;
  std::unique_ptr<State> s_;
};

}  // namespace tcpfsm
