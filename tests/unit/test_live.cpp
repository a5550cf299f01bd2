// The live engine (account/live.hpp) against fake sources: what it reads
// from the kernel and when, what reaches the hooks, and that errors of the
// kernel source and of the stuck-socket thread are not swallowed.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sys/socket.h>

#include <atomic>

#include "account/live.hpp"
#include "fake_kernel.hpp"
#include "tcpfsm/event.h"

namespace tcpfsm {
namespace {

using test::FakeKernel;
using test::FakeSockets;

constexpr uint32_t kNs = 4026531840u;

SocketRecord established(uint64_t cookie) {
  SocketRecord r;
  r.family = AF_INET;
  r.state = TCPFSM_ESTABLISHED;
  r.cookie = cookie;
  r.netns = kNs;
  return r;
}

LiveOptions short_run(double seconds, bool records = false) {
  LiveOptions o;
  o.duration_s = seconds;
  o.reconcile_s = 0;  // only at start
  o.tick_s = 0.02;
  o.records = records;
  return o;
}

// Each refresh reads the kernel's counts once; before, the counters read
// them a second time and dropped that read's error.
TEST(LiveEngine, ReadsTheKernelsCountsOncePerTick) {
  FakeKernel kernel;
  FakeSockets sockets;
  int ticks = 0;
  LiveHooks hooks;
  hooks.on_tick = [&](LiveState&) -> Status {
    ++ticks;
    return Ok{};
  };
  ASSERT_TRUE(run_live(short_run(0.3), {kernel, sockets, {}}, hooks).ok());
  ASSERT_GT(ticks, 3);
  // Two around the reconciliation's dump, one before on_start, one per tick, one at the end.
  EXPECT_EQ(kernel.aggregate_reads, 2 + 1 + ticks + 1);
  EXPECT_EQ(kernel.counter_reads, 1 + ticks + 1);
  EXPECT_EQ(sockets.dumps, 1);
  EXPECT_EQ(sockets.with_storage, 1);
}

TEST(LiveEngine, ErrorOfAKernelReadEndsTheRun) {
  FakeKernel kernel;
  kernel.fail_aggregates_after = 4;
  FakeSockets sockets;
  LiveHooks hooks;
  hooks.on_tick = [](LiveState&) -> Status { return Ok{}; };
  const Status st = run_live(short_run(5), {kernel, sockets, {}}, hooks);
  ASSERT_FALSE(st.ok());
  EXPECT_THAT(st.error().message, ::testing::HasSubstr("fake failure"));
}

TEST(LiveEngine, SeedsTheKernelTableFromTheFirstDump) {
  FakeKernel kernel;
  FakeSockets sockets;
  sockets.result.sockets = {established(1), established(2), established(3)};
  sockets.result.namespaces = {kNs};
  uint64_t at_start = 0;
  bool seeded = false, in_kernel = false;
  LiveHooks hooks;
  hooks.on_start = [&](LiveState& s) -> Status {
    at_start = s.table.count(TCPFSM_ESTABLISHED);
    seeded = s.ctx.seeded;
    in_kernel = s.ctx.counted_in_kernel;
    return Ok{};
  };
  ASSERT_TRUE(run_live(short_run(0.05), {kernel, sockets, {}}, hooks).ok());
  EXPECT_EQ(at_start, 3u);
  EXPECT_TRUE(seeded);
  EXPECT_TRUE(in_kernel);
}

TEST(LiveEngine, RecordsModeAppliesWhatThePollDelivers) {
  FakeKernel kernel;
  FakeSockets sockets;
  Event e;
  e.kind = EventKind::State;
  e.family = AF_INET;
  e.netns = kNs;
  e.cookie = 77;
  e.oldstate = TCPFSM_CLOSE;
  e.newstate = TCPFSM_SYN_SENT;
  e.ts_ns = 1;
  kernel.records.push_back(e);
  e.oldstate = TCPFSM_SYN_SENT;
  e.newstate = TCPFSM_ESTABLISHED;
  e.ts_ns = 2;
  e.prev_ns = 1;
  kernel.records.push_back(e);
  kernel.run.events = 2;
  uint64_t established_at_end = 0, events = 0;
  bool in_kernel = true;
  LiveHooks hooks;
  hooks.on_end = [&](LiveState& s) -> Status {
    established_at_end = s.table.count(TCPFSM_ESTABLISHED);
    events = s.ctx.counters.events;
    in_kernel = s.ctx.counted_in_kernel;
    return Ok{};
  };
  ASSERT_TRUE(run_live(short_run(0.1, true), {kernel, sockets, {}}, hooks).ok());
  EXPECT_EQ(established_at_end, 1u);
  EXPECT_EQ(events, 2u);
  EXPECT_FALSE(in_kernel);
  EXPECT_EQ(kernel.aggregate_reads, 0);  // nothing is counted in the kernel
  EXPECT_EQ(sockets.with_storage, 0);
}

// Before, LeakWatcher::last_error() had no caller: stats and serve kept
// showing a stale report with no word of the failure.
TEST(LiveEngine, AFailingStuckPassReachesTheHooks) {
  FakeKernel kernel;
  FakeSockets sockets;
  std::atomic<int> passes{0};
  LeakPass pass = [&]() -> Result<LeakReport> {
    if (passes++ == 0) return LeakReport{};
    return Error::runtime("cannot open a NETLINK_SOCK_DIAG socket: fake");
  };
  LiveOptions o = short_run(2);
  o.stuck_period = std::chrono::milliseconds(20);
  std::string error;
  uint64_t failures = 0;
  bool report = false;
  LiveHooks hooks;
  hooks.on_tick = [&](LiveState& s) -> Status {
    error = s.ctx.stuck_error;
    failures = s.ctx.stuck_failures;
    report = s.ctx.stuck.has_value();
    return Ok{};
  };
  hooks.stopped = [&] { return failures >= 2; };
  ASSERT_TRUE(run_live(o, {kernel, sockets, pass}, hooks).ok());
  EXPECT_GE(failures, 2u);
  EXPECT_THAT(error, ::testing::HasSubstr("NETLINK_SOCK_DIAG socket: fake"));
  EXPECT_TRUE(report);  // the last good report is still there, and said to be old
}

TEST(LiveEngine, StopsWhenAsked) {
  FakeKernel kernel;
  FakeSockets sockets;
  LiveHooks hooks;
  hooks.stopped = [&] { return kernel.polls >= 3; };
  ASSERT_TRUE(run_live(short_run(0), {kernel, sockets, {}}, hooks).ok());  // no duration: only the stop ends it
  EXPECT_EQ(kernel.polls, 3 + 1);                                          // the last is the final drain
}

TEST(LiveEngine, OwnerFiltersCountFromRecordsWithoutADump) {
  LiveOptions o = short_run(0.05);
  o.filter.pid = 42;
  EXPECT_FALSE(counts_in_kernel(o));
  FakeKernel kernel;
  FakeSockets sockets;
  ASSERT_TRUE(run_live(o, {kernel, sockets, {}}, {}).ok());
  EXPECT_EQ(sockets.dumps, 0);  // a dump names no owner
}

}  // namespace
}  // namespace tcpfsm
