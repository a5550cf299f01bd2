// CLOCK_MONOTONIC and its wall-clock offset (see clock.hpp).
#include "base/clock.hpp"

#include <time.h>

namespace tcpfsm {
namespace {

int64_t clock_ns(clockid_t id) {
  timespec ts{};
  clock_gettime(id, &ts);
  return static_cast<int64_t>(ts.tv_sec) * 1'000'000'000 + ts.tv_nsec;
}

}  // namespace

uint64_t monotonic_ns() { return static_cast<uint64_t>(clock_ns(CLOCK_MONOTONIC)); }

WallClock WallClock::now() {
  // Bracket the realtime read between two monotonic reads and keep the
  // tightest of a few samples.
  int64_t best_gap = INT64_MAX, offset = 0;
  for (int i = 0; i < 5; ++i) {
    const int64_t m1 = clock_ns(CLOCK_MONOTONIC);
    const int64_t r = clock_ns(CLOCK_REALTIME);
    const int64_t m2 = clock_ns(CLOCK_MONOTONIC);
    if (m2 - m1 < best_gap) {
      best_gap = m2 - m1;
      offset = r - (m1 + (m2 - m1) / 2);
    }
  }
  return WallClock(offset);
}

}  // namespace tcpfsm
