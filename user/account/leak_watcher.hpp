// Leak passes against the live kernel: one at a time (`tcpfsm leaks`), or
// periodically on a thread of their own (the stuck section of `stats`, the
// exporter), so a dump or a /proc scan never delays event consumption.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <mutex>
#include <optional>
#include <thread>

#include "account/leak_finder.hpp"
#include "base/result.hpp"
#include "model/filter.hpp"

namespace tcpfsm {

// One pass: a sock_diag dump of the stuck states (and listeners), with
// tcp_info and the BPF socket storage in `storage_map_fd` (-1: none), of
// the sockets `filter` selects, analysed at the current monotonic time.
Result<LeakReport> leak_pass(LeakFinder& finder, OwnerLookup& owners, const FilterSpec& filter, int storage_map_fd);

// What a LeakWatcher runs each period.
using LeakPass = std::function<Result<LeakReport>()>;

// leak_pass with a finder and an owner lookup of its own, which keep their
// caches from one call to the next (call it from one thread at a time).
LeakPass live_leak_pass(FilterSpec filter, int storage_map_fd, LeakOptions leak,
                        std::chrono::milliseconds owner_budget);

class LeakWatcher {
 public:
  LeakWatcher(LeakPass pass, std::chrono::milliseconds period);
  ~LeakWatcher();  // stops and joins
  LeakWatcher(const LeakWatcher&) = delete;
  LeakWatcher& operator=(const LeakWatcher&) = delete;

  struct Snapshot {
    std::optional<LeakReport> latest;  // the newest report; nullopt until a pass succeeded
    uint64_t latest_ns = 0;            // CLOCK_MONOTONIC time of that pass
    std::optional<Error> error;        // the last pass failed with this (latest is older)
    uint64_t failures = 0;             // passes that failed so far
  };
  Snapshot snapshot() const;

 private:
  void run();
  LeakPass pass_;
  std::chrono::milliseconds period_;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  bool stop_ = false;
  Snapshot snap_;
  std::thread thread_;
};

}  // namespace tcpfsm
