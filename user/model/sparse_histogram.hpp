// SparseHistogram: a lifetime histogram in LifetimeHistogram's layout that
// stores only the buckets it uses, for per-group lifetimes (`stats --by`):
// thousands of groups times a dozen states would not fit 976 buckets each.
#pragma once

#include <cstdint>
#include <utility>
#include <vector>

#include "model/lifetime_histogram.hpp"

namespace tcpfsm {

class SparseHistogram {
 public:
  void record(uint64_t ns);
  void merge(const SparseHistogram& other);

  uint64_t count() const { return count_; }
  uint64_t min() const { return count_ ? min_ : 0; }
  uint64_t max() const { return max_; }
  long double sum_ns() const { return sum_; }
  // As LifetimeHistogram::quantile: within a bucket's width, clamped to [min, max].
  uint64_t quantile(double q) const;
  // The same power-of-two report buckets as LifetimeHistogram::log2_buckets.
  std::vector<LifetimeHistogram::Log2Bucket> log2_buckets() const;

 private:
  std::vector<std::pair<uint16_t, uint32_t>> buckets_;  // (bucket index, count), by index
  uint64_t count_ = 0;
  long double sum_ = 0;
  uint64_t min_ = UINT64_MAX;
  uint64_t max_ = 0;
};

}  // namespace tcpfsm
