// tcpfsm stats against the real kernel: lifetimes of real connections,
// gauges against ss, TIME_WAIT from its timer, netns teardown.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sched.h>
#include <sys/socket.h>
#include <time.h>

#include <cstdio>
#include <map>
#include <nlohmann/json.hpp>
#include <thread>

#include "account/kernel_reconcile.hpp"
#include "account/kernel_table.hpp"
#include "account/state_table.hpp"
#include "base/clock.hpp"
#include "collect/sock_diag.hpp"
#include "collect/socket_source.hpp"
#include "harness.hpp"
#include "model/tcp_state.hpp"

namespace tcpfsm::test {
namespace {

using namespace std::chrono_literals;

// The live tables as `tcpfsm stats` keeps them: counted in the kernel
// (KernelTable, the default), or from a record per transition (StateTable,
// --records).
class LiveStats : public EventSink {
 public:
  explicit LiveStats(bool kernel, FilterSpec filter = {})
      : kernel_(kernel), netns_(filter.netns ? filter.netns : self_netns()) {
    TracerOptions o;
    o.filter = filter;
    // Both engines see this test's namespace only: other traffic on the host
    // (another test's TIME_WAIT expiring, a fuzzer's loopback server) is not
    // this test's.
    o.filter.netns = netns_;
    o.mode = kernel ? TracerOptions::Mode::Aggregate : TracerOptions::Mode::Events;
    filter_ = o.filter;
    auto t = Tracer::start(o);
    EXPECT_TRUE(t) << t.error().message;
    if (t) tracer_ = std::move(*t);
  }
  bool ok() const { return tracer_ != nullptr; }
  void on_event(const Event& e) override { records_.apply(e); }
  const TcpTables& table() const { return kernel_ ? static_cast<const TcpTables&>(kernel_table_) : records_; }

  // Seeds from a sock_diag dump of the namespace, as stats does at start.
  void seed() {
    if (kernel_) {
      FilteredDumper dumper(filter_, tracer_->sk_storage_map_fd());
      auto r = reconcile_kernel_counts(*tracer_, dumper, kernel_table_);
      ASSERT_TRUE(r) << r.error().message;
      return;
    }
    pump_once(0);
    uint64_t start = monotonic_ns();
    records_.begin_dump(start);
    auto dump = dump_namespaces(netns_);
    ASSERT_TRUE(dump) << dump.error().message;
    pump_once(0);
    records_.reconcile(dump->sockets, dump->namespaces, start);
  }
  void pump_once(int timeout_ms) {
    const uint64_t polled_from = monotonic_ns();  // what the live engine settles up to
    auto n = tracer_->poll(*this, timeout_ms);
    ASSERT_TRUE(n) << n.error().message;
    ASSERT_TRUE(tracer_->sweep_timewait());
    records_.settle(polled_from);
    if (kernel_) {
      auto a = tracer_->aggregates();
      ASSERT_TRUE(a) << a.error().message;
      kernel_table_.update(*a);
    }
  }
  // Polls, sweeps and settles for `d`, or until `done`.
  void pump(std::chrono::milliseconds d, const std::function<bool()>& done = {}) {
    auto until = std::chrono::steady_clock::now() + d;
    while (std::chrono::steady_clock::now() < until) {
      pump_once(kConsumerPollMs);
      if (done && done()) return;
    }
  }
  // As the live engine reports them: the kernel's counts from the last pump.
  RunCounters counters() const {
    auto c = tracer_->counters();
    EXPECT_TRUE(c) << c.error().message;
    RunCounters r = c ? *c : RunCounters{};
    if (kernel_) kernel_table_.aggregates().fill(r);
    return r;
  }

 private:
  bool kernel_;
  std::unique_ptr<Tracer> tracer_;
  uint32_t netns_;
  FilterSpec filter_;  // the tracer's, which reconciliation dumps apply too
  StateTable records_;
  KernelTable kernel_table_;
};

// Every test runs against both engines.
class Stats : public ::testing::TestWithParam<bool> {};

void expect_matches_ss(const TcpTables& t) {
  auto ss = ss_counts();
  for (uint8_t s = TCPFSM_ESTABLISHED; s <= TCPFSM_CLOSING; ++s) {
    if (s == TCPFSM_CLOSE) continue;
    EXPECT_EQ(t.count(s), ss[s]) << state_name(s);
  }
}

TEST_P(Stats, ShutdownThenCloseLaterMeasuresFinWait2AndCloseWait) {
  LiveStats live(GetParam());
  ASSERT_TRUE(live.ok());
  live.seed();
  Fd lis = listen_loopback(AF_INET);
  Fd client = connect_loopback(AF_INET, local_port(lis.get()));
  Fd server = accept_one(lis.get());
  ASSERT_EQ(shutdown(client.get(), SHUT_WR), 0);  // client FIN_WAIT2, server CLOSE_WAIT
  live.pump(1500ms);
  server.reset();  // server LAST_ACK; client TIME_WAIT
  live.pump(300ms);
  client.reset();
  live.pump(300ms);

  const auto& fw2 = live.table().lifetime(TCPFSM_FIN_WAIT2);
  const auto& cw = live.table().lifetime(TCPFSM_CLOSE_WAIT);
  ASSERT_EQ(fw2.count(), 1u);
  ASSERT_EQ(cw.count(), 1u);
  for (uint64_t v : {fw2.min(), fw2.max(), cw.min(), cw.max()}) {
    EXPECT_GE(v, 1'350'000'000u);
    EXPECT_LE(v, 1'650'000'000u);
  }
  // The client's timewait socket took over in TIME_WAIT.
  EXPECT_EQ(live.table().count(TCPFSM_TIME_WAIT), 1u);
  expect_matches_ss(live.table());
}

TEST_P(Stats, AfterABurstOfTenThousandConnectionsEveryGaugeEqualsSs) {
  Fd keep = listen_loopback(AF_INET6);  // sockets from before the start: seeded, not traced
  Fd keep_client = connect_loopback(AF_INET6, local_port(keep.get()));
  Fd keep2 = listen_loopback(AF_INET);  // a listener from before the start, serving after it
  LiveStats live(GetParam());
  ASSERT_TRUE(live.ok());
  live.seed();
  EXPECT_EQ(live.table().preexisting(monotonic_ns())[TCPFSM_ESTABLISHED].count, 2u);
  EXPECT_EQ(live.table().count(TCPFSM_LISTEN), 2u);
  EXPECT_EQ(live.table().count(TCPFSM_ESTABLISHED), 2u);

  // Connections to the listener from before the start: its children are
  // born leaving LISTEN, which must not count as the listener leaving.
  for (int i = 0; i < 3; ++i) one_connection(AF_INET, keep2.get(), local_port(keep2.get()));
  live.pump(200ms);
  EXPECT_EQ(live.table().count(TCPFSM_LISTEN), 2u);

  Fd lis = listen_loopback(AF_INET);
  const uint16_t port = local_port(lis.get());
  std::atomic<bool> done{false};
  std::thread load([&] {
    for (int i = 0; i < 10000; ++i) {
      Fd c = connect_loopback(AF_INET, port);
      Fd s = accept_one(lis.get());
      c.reset();  // client first: its timewait socket starts as orphaned FIN_WAIT2
      s.reset();
    }
    done = true;
  });
  live.pump(120s, [&] { return done.load(); });
  load.join();
  live.pump(1s);  // drain, and let the sweep see every FIN_WAIT2 -> TIME_WAIT

  EXPECT_EQ(live.table().count(TCPFSM_TIME_WAIT), 10003u);
  EXPECT_EQ(live.table().count(TCPFSM_LISTEN), 3u);
  EXPECT_EQ(live.table().count(TCPFSM_ESTABLISHED), 2u);
  EXPECT_EQ(live.table().transitions(TCPFSM_SYN_SENT, TCPFSM_ESTABLISHED), 10003u);
  EXPECT_EQ(live.table().lifetime(TCPFSM_CLOSE_WAIT).count(), 10003u);
  expect_matches_ss(live.table());
  RunCounters c = live.counters();
  EXPECT_EQ(c.ringbuf_drops, 0u);
  EXPECT_EQ(c.lost_recursion(), 0u);
  EXPECT_EQ(c.fw2_untracked, 0u);
}

TEST_P(Stats, TimeWaitLeftToExpireLastsSixtyToSixtyThreeSeconds) {
  LiveStats live(GetParam());
  ASSERT_TRUE(live.ok());
  live.seed();
  Fd lis = listen_loopback(AF_INET);
  Fd client = connect_loopback(AF_INET, local_port(lis.get()));
  Fd server = accept_one(lis.get());
  ASSERT_EQ(shutdown(client.get(), SHUT_WR), 0);
  live.pump(50ms);
  server.reset();  // the client gets the FIN in FIN_WAIT2: TIME_WAIT at once
  live.pump(50ms);
  client.reset();
  live.pump(200ms);
  ASSERT_EQ(live.table().count(TCPFSM_TIME_WAIT), 1u);
  live.pump(75s, [&] { return live.table().timewait_ends(TimewaitEnd::Expired) > 0; });

  ASSERT_EQ(live.table().timewait_ends(TimewaitEnd::Expired), 1u);
  EXPECT_EQ(live.table().timewait_ends(TimewaitEnd::Killed), 0u);
  const auto& h = live.table().timewait_lifetime(TimewaitEnd::Expired);
  ASSERT_EQ(h.count(), 1u);
  EXPECT_GE(h.min(), 60'000'000'000u);
  EXPECT_LE(h.max(), 63'000'000'000u);
  EXPECT_EQ(live.table().count(TCPFSM_TIME_WAIT), 0u);
  expect_matches_ss(live.table());
}

TEST_P(Stats, DeletingTheNetnsCountsItsTimeWaitSocketsAsKilled) {
  NetnsChild child = fork_in_new_netns([] {
    Fd lis = listen_loopback(AF_INET);
    for (int i = 0; i < 5; ++i) one_connection(AF_INET, lis.get(), local_port(lis.get()));
    std::this_thread::sleep_for(300ms);
    return 0;  // the last process in the namespace: it goes, and its sockets with it
  });
  ASSERT_NE(child.netns, 0u);
  FilterSpec only_child;
  only_child.netns = child.netns;
  LiveStats live(GetParam(), only_child);
  ASSERT_TRUE(live.ok());
  child.release();
  live.pump(3s, [&] { return live.table().count(TCPFSM_TIME_WAIT) == 5; });
  EXPECT_EQ(live.table().count(TCPFSM_TIME_WAIT), 5u);
  EXPECT_EQ(wait_child(child.pid), 0);
  live.pump(30s, [&] { return live.table().timewait_ends(TimewaitEnd::Killed) == 5; });

  EXPECT_EQ(live.table().timewait_ends(TimewaitEnd::Killed), 5u);
  EXPECT_EQ(live.table().timewait_ends(TimewaitEnd::Expired), 0u);
  EXPECT_EQ(live.table().count(TCPFSM_TIME_WAIT), 0u);
  EXPECT_EQ(live.table().timewait_lifetime(TimewaitEnd::Killed).count(), 5u);
}

INSTANTIATE_TEST_SUITE_P(Engines, Stats, ::testing::Values(true, false),
                         [](const auto& info) { return info.param ? std::string("Kernel") : std::string("Records"); });

}  // namespace
}  // namespace tcpfsm::test
