// SparseHistogram (see sparse_histogram.hpp).
#include "model/sparse_histogram.hpp"

#include <algorithm>
#include <bit>
#include <cmath>

namespace tcpfsm {

void SparseHistogram::record(uint64_t ns) {
  const auto idx = static_cast<uint16_t>(LifetimeHistogram::index(ns));
  auto it =
      std::lower_bound(buckets_.begin(), buckets_.end(), idx, [](const auto& b, uint16_t i) { return b.first < i; });
  if (it != buckets_.end() && it->first == idx) {
    ++it->second;
  } else {
    buckets_.insert(it, {idx, 1});
  }
  ++count_;
  sum_ += static_cast<long double>(ns);
  min_ = std::min(min_, ns);
  max_ = std::max(max_, ns);
}

void SparseHistogram::merge(const SparseHistogram& o) {
  for (const auto& [idx, n] : o.buckets_) {
    auto it =
        std::lower_bound(buckets_.begin(), buckets_.end(), idx, [](const auto& b, uint16_t i) { return b.first < i; });
    if (it != buckets_.end() && it->first == idx) {
      it->second += n;
    } else {
      buckets_.insert(it, {idx, n});
    }
  }
  count_ += o.count_;
  sum_ += o.sum_;
  min_ = std::min(min_, o.min_);
  max_ = std::max(max_, o.max_);
}

uint64_t SparseHistogram::quantile(double q) const {
  if (count_ == 0) return 0;
  q = std::clamp(q, 0.0, 1.0);
  const auto rank = std::max<uint64_t>(static_cast<uint64_t>(std::ceil(q * static_cast<double>(count_))), 1);
  uint64_t seen = 0;
  for (const auto& [idx, n] : buckets_) {
    seen += n;
    if (seen >= rank) {
      const uint64_t lo = LifetimeHistogram::lower_bound(idx);
      const uint64_t hi = idx + 1 < LifetimeHistogram::kBuckets ? LifetimeHistogram::lower_bound(idx + 1) : max_;
      return std::clamp(lo + (hi - lo) / 2, min(), max_);
    }
  }
  return max_;
}

std::vector<LifetimeHistogram::Log2Bucket> SparseHistogram::log2_buckets() const {
  constexpr int kFirst = LifetimeHistogram::kLog2First, kLast = LifetimeHistogram::kLog2Last;
  std::vector<LifetimeHistogram::Log2Bucket> out;
  for (int b = kFirst; b <= kLast; ++b) out.push_back({uint64_t{1} << b, 0});
  out.push_back({0, 0});
  for (const auto& [idx, n] : buckets_) {
    const uint64_t lo = LifetimeHistogram::lower_bound(idx);
    const int log2 = lo == 0 ? 0 : 63 - std::countl_zero(lo);
    const size_t slot = log2 < kFirst ? 0 : static_cast<size_t>(std::min(log2 - kFirst + 1, kLast - kFirst + 1));
    out[slot].count += n;
  }
  return out;
}

}  // namespace tcpfsm
