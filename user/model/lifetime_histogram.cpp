// LifetimeHistogram: recording, merging, quantiles and the report buckets.
#include "model/lifetime_histogram.hpp"

#include <algorithm>
#include <bit>
#include <cmath>

namespace tcpfsm {

int LifetimeHistogram::index(uint64_t ns) {
  if (ns < kSub) return static_cast<int>(ns);
  int msb = 63 - std::countl_zero(ns);
  int sub = static_cast<int>((ns >> (msb - kSubBits)) & (kSub - 1));
  return (msb - kSubBits + 1) * kSub + sub;
}

uint64_t LifetimeHistogram::lower_bound(int idx) {
  if (idx < kSub) return static_cast<uint64_t>(idx);
  int msb = idx / kSub + kSubBits - 1;
  uint64_t sub = static_cast<uint64_t>(idx % kSub);
  return (uint64_t{1} << msb) | (sub << (msb - kSubBits));
}

void LifetimeHistogram::record(uint64_t ns) {
  ++buckets_[static_cast<size_t>(index(ns))];
  ++count_;
  sum_ += static_cast<long double>(ns);
  min_ = std::min(min_, ns);
  max_ = std::max(max_, ns);
}

void LifetimeHistogram::merge(const LifetimeHistogram& o) {
  for (size_t i = 0; i < buckets_.size(); ++i) buckets_[i] += o.buckets_[i];
  count_ += o.count_;
  sum_ += o.sum_;
  min_ = std::min(min_, o.min_);
  max_ = std::max(max_, o.max_);
}

void LifetimeHistogram::add_raw(const uint64_t* buckets, size_t n, uint64_t count, long double sum_ns, uint64_t min_ns,
                                uint64_t max_ns) {
  if (!count) return;
  for (size_t i = 0; i < n && i < buckets_.size(); ++i) buckets_[i] += buckets[i];
  count_ += count;
  sum_ += sum_ns;
  min_ = std::min(min_, min_ns);
  max_ = std::max(max_, max_ns);
}

uint64_t LifetimeHistogram::quantile(double q) const {
  if (count_ == 0) return 0;
  q = std::clamp(q, 0.0, 1.0);
  auto rank = static_cast<uint64_t>(std::ceil(q * static_cast<double>(count_)));
  rank = std::max<uint64_t>(rank, 1);
  uint64_t seen = 0;
  for (int i = 0; i < kBuckets; ++i) {
    seen += buckets_[static_cast<size_t>(i)];
    if (seen >= rank) {
      // Midpoint of the bucket, kept inside what was actually observed.
      uint64_t lo = lower_bound(i);
      uint64_t hi = i + 1 < kBuckets ? lower_bound(i + 1) : max_;
      return std::clamp(lo + (hi - lo) / 2, min(), max_);
    }
  }
  return max_;
}

std::vector<LifetimeHistogram::Log2Bucket> LifetimeHistogram::log2_buckets() const {
  std::vector<Log2Bucket> out;
  for (int b = kLog2First; b <= kLog2Last; ++b) out.push_back({uint64_t{1} << b, 0});
  out.push_back({0, 0});
  for (int i = 0; i < kBuckets; ++i) {
    uint64_t n = buckets_[static_cast<size_t>(i)];
    if (!n) continue;
    uint64_t lo = lower_bound(i);
    // Fine buckets never straddle a power of two, so each lands in one report bucket.
    int log2 = lo == 0 ? 0 : 63 - std::countl_zero(lo);
    size_t slot =
        log2 < kLog2First ? 0 : static_cast<size_t>(std::min(log2 - kLog2First + 1, kLog2Last - kLog2First + 1));
    out[slot].count += n;
  }
  return out;
}

}  // namespace tcpfsm
