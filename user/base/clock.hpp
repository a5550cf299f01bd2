// The clocks: CLOCK_MONOTONIC (what the kernel stamps events with) and the
// offset that maps it to wall-clock time for display.
#pragma once

#include <cstdint>

namespace tcpfsm {

// CLOCK_MONOTONIC now: the clock of the kernel's event times (bpf_ktime_get_ns).
uint64_t monotonic_ns();

// Maps the kernel's CLOCK_MONOTONIC event times to wall-clock time.
class WallClock {
 public:
  static WallClock now();  // samples both clocks
  explicit WallClock(int64_t realtime_minus_monotonic_ns) : offset_ns_(realtime_minus_monotonic_ns) {}
  int64_t to_realtime_ns(uint64_t monotonic_ns) const { return static_cast<int64_t>(monotonic_ns) + offset_ns_; }

 private:
  int64_t offset_ns_;
};

}  // namespace tcpfsm
