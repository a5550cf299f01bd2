// Leak passes against the live kernel: one at a time (`tcpfsm leaks`), or
// periodically on a PassThread (the stuck section of `stats`, the
// exporter), so a dump or a /proc scan never delays event consumption.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>

#include "account/leak_finder.hpp"
#include "account/pass_thread.hpp"
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

// Leak passes every period, on a thread of their own.
using LeakWatcher = PassThread<LeakReport>;

}  // namespace tcpfsm
