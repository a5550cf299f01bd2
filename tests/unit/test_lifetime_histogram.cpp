// LifetimeHistogram: exact count/min/max/mean, log-linear quantiles within
// half a sub-bucket (16 per power of two), merge, and the power-of-two
// report buckets.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <vector>

#include "model/lifetime_histogram.hpp"

namespace tcpfsm {
namespace {

using H = LifetimeHistogram;

// A quantile lands in the sub-bucket holding the true value and reports its
// midpoint: off by at most half a bucket, i.e. 1/32 of the value.
void expect_near_rel(uint64_t got, uint64_t want) {
  double err = std::abs(static_cast<double>(got) - static_cast<double>(want));
  EXPECT_LE(err, static_cast<double>(want) / 32.0 + 1.0) << "got " << got << ", want " << want;
}

// The q-quantile by the histogram's definition: the ceil(q*n)-th smallest.
uint64_t exact_quantile(std::vector<uint64_t> v, double q) {
  std::sort(v.begin(), v.end());
  auto rank = static_cast<size_t>(std::ceil(q * static_cast<double>(v.size())));
  rank = std::max<size_t>(rank, 1);
  return v[rank - 1];
}

uint64_t bucket_sum(const H& h) {
  uint64_t n = 0;
  for (const auto& b : h.log2_buckets()) n += b.count;
  return n;
}

// The report bucket count whose upper bound is le (0: +Inf).
uint64_t bucket_count(const H& h, uint64_t le) {
  for (const auto& b : h.log2_buckets()) {
    if (b.le_ns == le) return b.count;
  }
  ADD_FAILURE() << "no bucket with le_ns " << le;
  return UINT64_MAX;
}

TEST(LifetimeHistogramTest, EmptyIsAllZero) {
  H h;
  EXPECT_EQ(h.count(), 0u);
  EXPECT_EQ(h.min(), 0u);
  EXPECT_EQ(h.max(), 0u);
  EXPECT_EQ(h.mean(), 0u);
  EXPECT_EQ(h.quantile(0.5), 0u);
  EXPECT_EQ(h.quantile(0.99), 0u);
  EXPECT_EQ(h.quantile(1.0), 0u);
  auto b = h.log2_buckets();
  EXPECT_EQ(b.size(), static_cast<size_t>(H::kLog2Last - H::kLog2First + 2));
  for (const auto& x : b) EXPECT_EQ(x.count, 0u);
}

TEST(LifetimeHistogramTest, CountMinMaxMeanExact) {
  H h;
  for (uint64_t v : {1'000u, 2'000u, 4'000u, 7'777u}) h.record(v);
  EXPECT_EQ(h.count(), 4u);
  EXPECT_EQ(h.min(), 1'000u);
  EXPECT_EQ(h.max(), 7'777u);
  EXPECT_EQ(h.mean(), (1'000u + 2'000u + 4'000u + 7'777u) / 4);  // 3694, truncated

  H z;
  z.record(0);
  EXPECT_EQ(z.count(), 1u);
  EXPECT_EQ(z.min(), 0u);
  EXPECT_EQ(z.max(), 0u);
  EXPECT_EQ(z.mean(), 0u);
  EXPECT_EQ(z.quantile(0.5), 0u);

  H m;
  m.record(1);
  m.record(2);
  m.record(4);
  EXPECT_EQ(m.mean(), 2u);  // 7/3
}

TEST(LifetimeHistogramTest, MeanOfLargeValuesDoesNotOverflow) {
  H h;
  const uint64_t big = uint64_t{1} << 62;
  for (int i = 0; i < 8; ++i) h.record(big);  // sum 2^65: beyond uint64_t
  EXPECT_EQ(h.mean(), big);
  EXPECT_EQ(h.min(), big);
  EXPECT_EQ(h.max(), big);
  EXPECT_EQ(h.quantile(0.5), big);
}

TEST(LifetimeHistogramTest, AllEqualValuesGiveThatValueExactly) {
  for (uint64_t v : {uint64_t{1}, uint64_t{17}, uint64_t{12'345}, uint64_t{60'000'000'000}, uint64_t{999'999'937}}) {
    H h;
    for (int i = 0; i < 100; ++i) h.record(v);
    for (double q : {0.01, 0.5, 0.9, 0.99, 1.0}) EXPECT_EQ(h.quantile(q), v) << "v=" << v << " q=" << q;
    EXPECT_EQ(h.mean(), v);
  }
}

TEST(LifetimeHistogramTest, SmallValuesAreExact) {
  // Below 32 ns the sub-buckets are 1 ns wide.
  H h;
  std::vector<uint64_t> v;
  for (uint64_t i = 0; i < 32; ++i) {
    h.record(i);
    v.push_back(i);
  }
  for (int k = 1; k <= 32; ++k) {
    double q = k / 32.0;
    EXPECT_EQ(h.quantile(q), exact_quantile(v, q)) << "q=" << q;
  }
}

TEST(LifetimeHistogramTest, UniformMicrosecondsQuantiles) {
  H h;
  std::vector<uint64_t> v;
  for (uint64_t us = 1; us <= 10'000; ++us) {
    h.record(us * 1'000);
    v.push_back(us * 1'000);
  }
  EXPECT_EQ(h.count(), 10'000u);
  EXPECT_EQ(h.min(), 1'000u);
  EXPECT_EQ(h.max(), 10'000'000u);
  EXPECT_EQ(h.mean(), 5'000'500u);
  expect_near_rel(h.quantile(0.5), 5'000'000);
  expect_near_rel(h.quantile(0.9), 9'000'000);
  expect_near_rel(h.quantile(0.99), 9'900'000);
  expect_near_rel(h.quantile(0.999), 9'990'000);
  expect_near_rel(h.quantile(0.0001), 1'000);
  expect_near_rel(h.quantile(1.0), 10'000'000);
  for (double q : {0.01, 0.1, 0.25, 0.33, 0.5, 0.66, 0.75, 0.95}) expect_near_rel(h.quantile(q), exact_quantile(v, q));
  // Clamped to what was observed.
  EXPECT_GE(h.quantile(0.0001), h.min());
  EXPECT_LE(h.quantile(1.0), h.max());
  // Monotonic in q.
  uint64_t last = 0;
  for (int i = 1; i <= 100; ++i) {
    uint64_t q = h.quantile(i / 100.0);
    EXPECT_GE(q, last) << i;
    last = q;
  }
}

TEST(LifetimeHistogramTest, WideRangeQuantilesWithinRelativeError) {
  // Deterministic log-uniform values from 1 ns to ~2^50 ns.
  H h;
  std::vector<uint64_t> v;
  uint64_t x = 0x9e3779b97f4a7c15ULL;
  for (int i = 0; i < 20'000; ++i) {
    x = x * 6364136223846793005ULL + 1442695040888963407ULL;
    int shift = static_cast<int>((x >> 33) % 50);
    uint64_t val = (uint64_t{1} << shift) | ((x >> 11) & ((uint64_t{1} << shift) - 1));
    h.record(val);
    v.push_back(val);
  }
  for (double q : {0.001, 0.01, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 0.95, 0.99, 0.999, 1.0})
    expect_near_rel(h.quantile(q), exact_quantile(v, q));
  EXPECT_EQ(h.min(), *std::min_element(v.begin(), v.end()));
  EXPECT_EQ(h.max(), *std::max_element(v.begin(), v.end()));
}

TEST(LifetimeHistogramTest, MergeEqualsRecordingEverything) {
  H a, b, all;
  for (uint64_t v : {uint64_t{1'000}, uint64_t{2'000}, uint64_t{3'000'000}}) {
    a.record(v);
    all.record(v);
  }
  for (uint64_t v : {uint64_t{500}, uint64_t{4'000}, uint64_t{70'000'000'000}}) {
    b.record(v);
    all.record(v);
  }
  a.merge(b);
  EXPECT_EQ(a.count(), 6u);
  EXPECT_EQ(a.min(), 500u);
  EXPECT_EQ(a.max(), 70'000'000'000u);
  EXPECT_EQ(a.mean(), all.mean());
  EXPECT_EQ(a.mean(), (uint64_t{1'000} + 2'000 + 3'000'000 + 500 + 4'000 + 70'000'000'000) / 6);
  for (double q : {0.1, 0.5, 0.9, 0.99, 1.0}) EXPECT_EQ(a.quantile(q), all.quantile(q)) << q;
  auto ab = a.log2_buckets(), ref = all.log2_buckets();
  ASSERT_EQ(ab.size(), ref.size());
  for (size_t i = 0; i < ab.size(); ++i) {
    EXPECT_EQ(ab[i].le_ns, ref[i].le_ns);
    EXPECT_EQ(ab[i].count, ref[i].count);
  }
}

TEST(LifetimeHistogramTest, MergeWithEmpty) {
  H a, empty;
  a.record(5'000);
  a.record(9'000);
  a.merge(empty);
  EXPECT_EQ(a.count(), 2u);
  EXPECT_EQ(a.min(), 5'000u);
  EXPECT_EQ(a.max(), 9'000u);
  EXPECT_EQ(a.mean(), 7'000u);

  H e2;
  e2.merge(a);
  EXPECT_EQ(e2.count(), 2u);
  EXPECT_EQ(e2.min(), 5'000u);
  EXPECT_EQ(e2.max(), 9'000u);
  EXPECT_EQ(e2.mean(), 7'000u);

  H e3, e4;
  e3.merge(e4);
  EXPECT_EQ(e3.count(), 0u);
  EXPECT_EQ(e3.min(), 0u);
  EXPECT_EQ(e3.max(), 0u);
  EXPECT_EQ(e3.quantile(0.5), 0u);
}

TEST(LifetimeHistogramTest, Log2BucketBounds) {
  H h;
  auto b = h.log2_buckets();
  ASSERT_EQ(b.size(), 36u);
  for (int k = H::kLog2First; k <= H::kLog2Last; ++k) {
    EXPECT_EQ(b[static_cast<size_t>(k - H::kLog2First)].le_ns, uint64_t{1} << k) << k;
  }
  EXPECT_EQ(b.front().le_ns, 1024u);
  EXPECT_EQ(b[b.size() - 2].le_ns, uint64_t{1} << 44);
  EXPECT_EQ(b.back().le_ns, 0u);  // +Inf
}

TEST(LifetimeHistogramTest, Log2BucketPlacement) {
  H h;
  h.record(0);
  h.record(1);
  h.record(1023);  // below 2^10: first bucket
  EXPECT_EQ(bucket_count(h, 1024), 3u);
  h.record(1024);  // exactly 2^10: next bucket
  EXPECT_EQ(bucket_count(h, 1024), 3u);
  EXPECT_EQ(bucket_count(h, 2048), 1u);
  h.record(2047);
  EXPECT_EQ(bucket_count(h, 2048), 2u);
  h.record(1'000'000);  // 2^19 <= 1 ms < 2^20
  EXPECT_EQ(bucket_count(h, uint64_t{1} << 20), 1u);
  h.record((uint64_t{1} << 44) - 1);  // last finite bucket
  EXPECT_EQ(bucket_count(h, uint64_t{1} << 44), 1u);
  h.record(uint64_t{1} << 44);  // 2^44 and above: +Inf
  h.record(UINT64_MAX);
  EXPECT_EQ(bucket_count(h, 0), 2u);
  EXPECT_EQ(bucket_sum(h), h.count());
  EXPECT_EQ(h.count(), 9u);
}

TEST(LifetimeHistogramTest, PowerOfTwoLandsInNextBucket) {
  for (int k = H::kLog2First; k < H::kLog2Last; ++k) {
    H h;
    h.record(uint64_t{1} << k);
    auto b = h.log2_buckets();
    for (const auto& x : b) {
      uint64_t want = x.le_ns == (uint64_t{1} << (k + 1)) ? 1 : 0;
      EXPECT_EQ(x.count, want) << "k=" << k << " le=" << x.le_ns;
    }
    // One below the power of two stays in the bucket bounded by it.
    H below;
    below.record((uint64_t{1} << k) - 1);
    EXPECT_EQ(bucket_count(below, uint64_t{1} << k), 1u) << k;
  }
}

TEST(LifetimeHistogramTest, Log2BucketsNotCumulative) {
  H h;
  for (uint64_t us = 1; us <= 10'000; ++us) h.record(us * 1'000);
  auto b = h.log2_buckets();
  EXPECT_EQ(bucket_sum(h), 10'000u);
  // Each bucket holds exactly the values in [le/2, le).
  for (size_t i = 0; i < b.size(); ++i) {
    uint64_t lo = i == 0 ? 0 : b[i - 1].le_ns, hi = b[i].le_ns ? b[i].le_ns : UINT64_MAX;
    uint64_t want = 0;
    for (uint64_t us = 1; us <= 10'000; ++us) want += (us * 1'000 >= lo && us * 1'000 < hi) ? 1 : 0;
    EXPECT_EQ(b[i].count, want) << "le=" << b[i].le_ns;
  }
  EXPECT_EQ(bucket_count(h, 1024), 1u);          // 1000
  EXPECT_EQ(bucket_count(h, 2048), 1u);          // 2000
  EXPECT_EQ(bucket_count(h, 4096), 2u);          // 3000, 4000
  EXPECT_EQ(bucket_count(h, 1u << 24), 1'612u);  // 8389..10000 us
  EXPECT_EQ(bucket_count(h, 0), 0u);
}

}  // namespace
}  // namespace tcpfsm
