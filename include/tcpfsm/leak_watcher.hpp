// Leak passes against the live kernel: one at a time (`tcpfsm leaks`), or
// periodically on a thread of their own (the stuck section of `stats`, the
// exporter), so a dump or a /proc scan never delays event consumption.
#pragma once

#include <chrono>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <optional>
#include <thread>

#include "tcpfsm/filter.hpp"
#include "tcpfsm/leaks.hpp"
#include "tcpfsm/result.hpp"

namespace tcpfsm {

// A cgroup v2 directory as /proc/PID/cgroup names it: relative to the
// cgroup2 mount it is under (for LeakOptions::cgroup_under).
Result<std::string> cgroup_relative(const std::string& dir);

// One pass: a sock_diag dump of the stuck states (and listeners), with
// tcp_info and the BPF socket storage in `storage_map_fd` (-1: none), of
// the sockets `filter` selects, analysed at the current monotonic time.
Result<LeakReport> leak_pass(LeakFinder& finder, OwnerLookup& owners, const FilterSpec& filter, int storage_map_fd);

struct LeakWatcherOptions {
  FilterSpec filter;
  int storage_map_fd = -1;
  LeakOptions leak;
  std::chrono::milliseconds period{5000};
  std::chrono::milliseconds owner_budget{200};  // /proc scanning per pass
};

class LeakWatcher {
 public:
  explicit LeakWatcher(LeakWatcherOptions opts);
  ~LeakWatcher();  // stops and joins
  LeakWatcher(const LeakWatcher&) = delete;
  LeakWatcher& operator=(const LeakWatcher&) = delete;

  // The newest report; nullopt until the first pass has finished.
  std::optional<LeakReport> latest() const;
  // The error of the last pass, if it failed.
  std::optional<Error> last_error() const;

 private:
  void run();
  LeakWatcherOptions opts_;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  bool stop_ = false;
  std::optional<LeakReport> latest_;
  std::optional<Error> error_;
  std::thread thread_;
};

}  // namespace tcpfsm
