// KernelTable: gauges from the kernel's counts plus the sockets a dump found
// that the kernel never saw enter their state.
#include <gtest/gtest.h>
#include <sys/socket.h>

#include "account/kernel_table.hpp"

namespace tcpfsm {
namespace {

SocketRecord full(uint64_t cookie, uint8_t state, uint8_t counted = 0, uint8_t family = AF_INET) {
  SocketRecord r;
  r.cookie = cookie;
  r.state = state;
  r.counted = counted;
  r.family = family;
  return r;
}

SocketRecord timewait(uint64_t cookie, uint8_t substate = TCPFSM_TIME_WAIT) {
  SocketRecord r = full(cookie, substate);
  r.timewait = true;
  return r;
}

// The same counts, after transitions in every state and a timewait end: a
// dump that ran meanwhile can't check the kernel's counts.
KernelAggregates busy(KernelAggregates a) {
  for (uint8_t s = 0; s < TCPFSM_STATE_MAX; ++s) ++a.transitions[TCPFSM_CLOSE][s];
  ++a.tw_ends[0];
  return a;
}

TEST(KernelTableTest, GaugesAreTheKernelsCountsPlusWhatTheDumpFoundUncounted) {
  KernelTable t;
  KernelAggregates a;
  a.known[0][TCPFSM_ESTABLISHED] = 3;
  a.known[1][TCPFSM_LISTEN] = 1;
  a.tw_known[0][TCPFSM_TIME_WAIT] = 5;
  // Counted sockets in the dump are the kernel's; the others were there before.
  std::vector<SocketRecord> dump = {full(1, TCPFSM_ESTABLISHED, TCPFSM_ESTABLISHED), full(2, TCPFSM_ESTABLISHED),
                                    full(3, TCPFSM_CLOSE_WAIT, TCPFSM_ESTABLISHED), timewait(10), timewait(11)};
  auto r = t.reconcile(dump, a, busy(a), /*tw_tracked=*/{10}, 1000);
  t.update(a);
  EXPECT_EQ(r.added, 3u);  // the first reconciliation seeds
  EXPECT_EQ(t.count(TCPFSM_ESTABLISHED), 4u);
  EXPECT_EQ(t.count(TCPFSM_CLOSE_WAIT), 1u);  // counted under another state: a lost transition, found
  EXPECT_EQ(t.count(TCPFSM_LISTEN), 1u);
  EXPECT_EQ(t.count(TCPFSM_LISTEN, AF_INET), 0u);
  EXPECT_EQ(t.count(TCPFSM_LISTEN, AF_INET6), 1u);
  EXPECT_EQ(t.count(TCPFSM_TIME_WAIT), 6u);
  auto pre = t.preexisting(3000);
  EXPECT_EQ(pre[TCPFSM_ESTABLISHED].count, 1u);
  EXPECT_EQ(pre[TCPFSM_ESTABLISHED].min_age_of_oldest_ns, 2000u);
  EXPECT_EQ(pre[TCPFSM_TIME_WAIT].count, 1u);
}

TEST(KernelTableTest, SocketsFromBeforeLeaveByTheKernelsUnknownCountsUntilTheNextDump) {
  KernelTable t;
  KernelAggregates a;
  a.unknown_left[0][TCPFSM_ESTABLISHED] = 7;  // before the dump: not subtracted
  t.reconcile({full(1, TCPFSM_ESTABLISHED), full(2, TCPFSM_ESTABLISHED), timewait(5)}, a, a, {}, 100);
  t.update(a);
  EXPECT_EQ(t.count(TCPFSM_ESTABLISHED), 2u);

  // One of them closes: the kernel counts it as an unknown socket leaving.
  a.unknown_left[0][TCPFSM_ESTABLISHED] = 8;
  a.tw_unknown_left[0][TCPFSM_TIME_WAIT] = 1;
  t.update(a);
  EXPECT_EQ(t.count(TCPFSM_ESTABLISHED), 1u);
  EXPECT_EQ(t.count(TCPFSM_TIME_WAIT), 0u);
  // Never below zero, whatever the counts say.
  a.unknown_left[0][TCPFSM_ESTABLISHED] = 20;
  t.update(a);
  EXPECT_EQ(t.count(TCPFSM_ESTABLISHED), 0u);

  // The next dump measures again, and reports what moved as drift; the
  // oldest keeps the age of its first sighting.
  auto r = t.reconcile({full(2, TCPFSM_ESTABLISHED)}, a, a, {}, 500);
  t.update(a);
  EXPECT_EQ(t.count(TCPFSM_ESTABLISHED), 1u);
  EXPECT_EQ(r.added, 1u);
  EXPECT_EQ(t.preexisting(600)[TCPFSM_ESTABLISHED].min_age_of_oldest_ns, 500u);
}

// A socket counted in FIN_WAIT1 that left it without a tracepoint: where the
// state was quiet during the dump, the dump's count of counted sockets wins.
TEST(KernelTableTest, QuietStatesAreCorrectedToTheDumpsCountOfCountedSockets) {
  KernelTable t;
  KernelAggregates a;
  a.known[0][TCPFSM_FIN_WAIT1] = 7;    // the dump finds 5 counted there
  a.known[0][TCPFSM_ESTABLISHED] = 3;  // busy while the dump ran: left alone
  a.tw_known[0][TCPFSM_TIME_WAIT] = 4;
  KernelAggregates end = a;
  end.transitions[TCPFSM_SYN_SENT][TCPFSM_ESTABLISHED] = 1;
  std::vector<SocketRecord> dump;
  for (uint64_t c = 1; c <= 5; ++c) dump.push_back(full(c, TCPFSM_FIN_WAIT1, TCPFSM_FIN_WAIT1));
  dump.push_back(full(9, TCPFSM_ESTABLISHED, TCPFSM_ESTABLISHED));
  dump.push_back(timewait(20));  // tracked: the kernel's 4 are 1
  auto r = t.reconcile(dump, a, end, {20}, 100);
  t.update(end);
  EXPECT_EQ(t.count(TCPFSM_FIN_WAIT1), 5u);
  EXPECT_EQ(t.count(TCPFSM_ESTABLISHED), 3u);
  EXPECT_EQ(t.count(TCPFSM_TIME_WAIT), 1u);
  EXPECT_EQ(r.corrected, 5u);
  // Not again: the correction stays, and a dump that agrees reports no drift.
  r = t.reconcile(dump, end, end, {20}, 200);
  EXPECT_EQ(t.count(TCPFSM_FIN_WAIT1), 5u);
  EXPECT_EQ(r.corrected, 2u);  // ESTABLISHED, quiet now: 3 -> 1
  EXPECT_EQ(t.count(TCPFSM_ESTABLISHED), 1u);
  // A dump that missed namespaces corrects nothing.
  KernelTable u;
  u.reconcile(dump, a, a, {20}, 100, /*complete=*/false);
  u.update(a);
  EXPECT_EQ(u.count(TCPFSM_FIN_WAIT1), 7u);
}

TEST(KernelTableTest, TransitionsLifetimesAndTimewaitEndsComeFromTheKernel) {
  KernelTable t;
  KernelAggregates a;
  a.transitions[TCPFSM_SYN_SENT][TCPFSM_ESTABLISHED] = 4;
  a.transitions[TCPFSM_ESTABLISHED][TCPFSM_FIN_WAIT1] = 3;
  a.transitions[TCPFSM_FIN_WAIT1][TCPFSM_FIN_WAIT1] = 2;  // shutdown then close: no move
  a.tw_ends = {6, 1};
  tcpfsm_hist h{};
  h.count = 2;
  h.sum_ns = 3000;
  h.neg_min_ns = ~uint64_t{1000};
  h.max_ns = 2000;
  h.buckets[LifetimeHistogram::kSub * 7] = 2;  // any bucket: count, min and max are exact
  a.add(TCPFSM_HIST_TW_EXPIRED, h);
  a.add(TCPFSM_HIST_TW_EXPIRED, h);  // a second CPU
  t.update(a);
  EXPECT_EQ(t.transitions(TCPFSM_SYN_SENT, TCPFSM_ESTABLISHED), 4u);
  EXPECT_EQ(t.entered()[TCPFSM_ESTABLISHED], 4u);
  EXPECT_EQ(t.left()[TCPFSM_ESTABLISHED], 3u);
  EXPECT_EQ(t.entered()[TCPFSM_FIN_WAIT1], 3u);
  EXPECT_EQ(t.timewait_ends(TimewaitEnd::Expired), 6u);
  EXPECT_EQ(t.timewait_ends(TimewaitEnd::Killed), 1u);
  const auto& e = t.timewait_lifetime(TimewaitEnd::Expired);
  EXPECT_EQ(e.count(), 4u);
  EXPECT_EQ(e.min(), 1000u);
  EXPECT_EQ(e.max(), 2000u);
  EXPECT_EQ(e.mean(), 1500u);
  EXPECT_EQ(a.total_transitions(), 9u);
}

// The BPF program computes bucket indexes with the same formula; this pins
// the layout both sides rely on.
TEST(KernelTableTest, HistogramBucketLayoutMatchesTheKernelsFormula) {
  auto kernel_index = [](uint64_t ns) -> uint32_t {
    if (ns < 16) return static_cast<uint32_t>(ns);
    uint32_t msb = 63 - static_cast<uint32_t>(__builtin_clzll(ns));
    return (msb - 3) * 16 + static_cast<uint32_t>((ns >> (msb - 4)) & 15);
  };
  for (uint64_t ns : {uint64_t{0}, uint64_t{15}, uint64_t{16}, uint64_t{1000}, uint64_t{60'000'000'000}, UINT64_MAX}) {
    LifetimeHistogram direct, raw;
    direct.record(ns);
    std::vector<uint64_t> buckets(TCPFSM_HIST_BUCKETS);
    ASSERT_LT(kernel_index(ns), TCPFSM_HIST_BUCKETS);
    buckets[kernel_index(ns)] = 1;
    raw.add_raw(buckets.data(), buckets.size(), 1, static_cast<long double>(ns), ns, ns);
    EXPECT_EQ(direct.quantile(0.5), raw.quantile(0.5)) << ns;
    EXPECT_EQ(direct.log2_buckets().size(), raw.log2_buckets().size());
    for (size_t i = 0; i < direct.log2_buckets().size(); ++i)
      EXPECT_EQ(direct.log2_buckets()[i].count, raw.log2_buckets()[i].count) << ns << " bucket " << i;
  }
}

}  // namespace
}  // namespace tcpfsm
