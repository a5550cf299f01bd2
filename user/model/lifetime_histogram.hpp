// LifetimeHistogram: how long sockets stayed in a state: exact
// count/min/max/mean, and log-linear buckets (16 per power of two, ~3%
// relative error) for percentiles, in the same layout as the BPF side's
// (event.h). Reported as power-of-two buckets from 1 us to hours.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <vector>

#include "tcpfsm/event.h"

namespace tcpfsm {

class LifetimeHistogram {
 public:
  static constexpr int kSubBits = TCPFSM_HIST_SUB_BITS;  // 16 sub-buckets per octave
  static constexpr int kSub = 1 << kSubBits;
  static constexpr int kBuckets = (64 - kSubBits + 1) * kSub;
  static_assert(kBuckets == TCPFSM_HIST_BUCKETS, "the BPF histograms share this layout");
  // Power-of-two report buckets: [0, 2^10 ns) ... [2^(kLog2Last-1), 2^kLog2Last), then +Inf.
  static constexpr int kLog2First = 10;  // 1.024 us
  static constexpr int kLog2Last = 44;   // ~4.9 hours

  void record(uint64_t ns);
  void merge(const LifetimeHistogram& other);
  // Adds counts kept elsewhere in this histogram's bucket layout (the BPF
  // side keeps the same one, TCPFSM_HIST_BUCKETS == kBuckets).
  void add_raw(const uint64_t* buckets, size_t n, uint64_t count, long double sum_ns, uint64_t min_ns, uint64_t max_ns);

  uint64_t count() const { return count_; }
  uint64_t min() const { return count_ ? min_ : 0; }
  uint64_t max() const { return max_; }
  uint64_t mean() const { return count_ ? static_cast<uint64_t>(sum_ / count_) : 0; }
  long double sum_ns() const { return sum_; }
  // The q-quantile (0 < q <= 1), within a bucket's width, clamped to [min, max].
  uint64_t quantile(double q) const;

  struct Log2Bucket {
    uint64_t le_ns;  // upper bound; 0 means +Inf
    uint64_t count;  // not cumulative
  };
  std::vector<Log2Bucket> log2_buckets() const;

  // The layout: the bucket of a duration, and the least duration in a bucket.
  static int index(uint64_t ns);
  static uint64_t lower_bound(int idx);

 private:
  std::array<uint64_t, kBuckets> buckets_{};
  uint64_t count_ = 0;
  long double sum_ = 0;
  uint64_t min_ = UINT64_MAX;
  uint64_t max_ = 0;
};

}  // namespace tcpfsm
