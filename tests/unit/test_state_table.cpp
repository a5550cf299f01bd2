// StateTable: gauges, transitions, lifetimes, timewait accounting and
// sock_diag reconciliation, driven by scripted kernel-like event sequences.
// Over 400 lines: one scenario per test, each a scripted event sequence
// with its expected gauges; they share the builders at the top.
#include <gtest/gtest.h>
#include <sys/socket.h>

#include <cstdint>
#include <optional>
#include <vector>

#include "account/state_table.hpp"
#include "model/event.hpp"
#include "model/socket_record.hpp"

namespace tcpfsm {
namespace {

constexpr uint64_t kUs = 1'000;
constexpr uint64_t kMs = 1'000'000;
constexpr uint64_t kSec = 1'000'000'000;
constexpr uint32_t kNs = 4026531840u;       // the dumped namespace
constexpr uint32_t kOtherNs = 4026532001u;  // a namespace no dump covers

constexpr uint8_t ESTABLISHED = TCPFSM_ESTABLISHED;
constexpr uint8_t SYN_SENT = TCPFSM_SYN_SENT;
constexpr uint8_t SYN_RECV = TCPFSM_SYN_RECV;
constexpr uint8_t FIN_WAIT1 = TCPFSM_FIN_WAIT1;
constexpr uint8_t FIN_WAIT2 = TCPFSM_FIN_WAIT2;
constexpr uint8_t TIME_WAIT = TCPFSM_TIME_WAIT;
constexpr uint8_t CLOSE = TCPFSM_CLOSE;
constexpr uint8_t CLOSE_WAIT = TCPFSM_CLOSE_WAIT;
constexpr uint8_t LAST_ACK = TCPFSM_LAST_ACK;
constexpr uint8_t LISTEN = TCPFSM_LISTEN;

// A full socket's state transition.
Event st(uint64_t cookie, uint64_t ts, uint8_t from, uint8_t to, std::optional<uint64_t> prev = std::nullopt,
         uint8_t family = AF_INET, uint64_t skaddr = 0, uint32_t netns = kNs) {
  Event e;
  e.kind = EventKind::State;
  e.cookie = cookie;
  e.ts_ns = ts;
  e.oldstate = from;
  e.newstate = to;
  e.prev_ns = prev;
  e.family = family;
  e.skaddr = skaddr ? skaddr : 0xffff888000000000ULL + cookie * 0x1000;
  e.netns = netns;
  e.sport = 40000;
  e.dport = 80;
  return e;
}

// A timewait socket's timer record: cookie of the replaced full socket,
// skaddr of the timewait socket, newstate the substate, oldstate 0.
Event tw(EventKind kind, uint64_t cookie, uint64_t ts, uint8_t substate = TIME_WAIT, uint8_t family = AF_INET,
         uint32_t netns = kNs) {
  Event e;
  e.kind = kind;
  e.cookie = cookie;
  e.ts_ns = ts;
  e.oldstate = 0;
  e.newstate = substate;
  e.family = family;
  e.skaddr = 0xffff8881f0000000ULL + cookie * 0x100;
  e.netns = netns;
  return e;
}

SocketRecord rec(uint64_t cookie, uint8_t state, uint8_t family = AF_INET, uint32_t netns = kNs, bool timewait = false,
                 bool request = false) {
  SocketRecord r;
  r.cookie = cookie;
  r.state = state;
  r.family = family;
  r.netns = netns;
  r.timewait = timewait;
  r.request = request;
  return r;
}

uint64_t total(const StateTable& t) {
  uint64_t sum = 0;
  for (uint8_t s = 0; s < TCPFSM_STATE_MAX; ++s) sum += t.count(s);
  return sum;
}

// Every gauge is sane (no wrapped-around "negative" value), the families add
// up, and the gauges together count exactly the tracked sockets.
void expect_consistent(const StateTable& t) {
  for (uint8_t s = 0; s < TCPFSM_STATE_MAX; ++s) {
    EXPECT_LT(t.count(s), uint64_t{1} << 32) << "gauge of state " << int(s) << " underflowed";
    EXPECT_EQ(t.count(s), t.count(s, AF_INET) + t.count(s, AF_INET6)) << "state " << int(s);
  }
  EXPECT_EQ(total(t), t.tracked());
}

// Exactly one sample, of `ns`.
::testing::AssertionResult single(const LifetimeHistogram& h, uint64_t ns) {
  if (h.count() == 1 && h.min() == ns && h.max() == ns && h.mean() == ns) return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure() << "want one sample of " << ns << " ns; have count " << h.count() << ", min "
                                       << h.min() << ", max " << h.max() << ", mean " << h.mean();
}

// Drives one v4 client socket CLOSE>SYN_SENT>ESTABLISHED>FIN_WAIT1>FIN_WAIT2
// starting at t0; returns the time of the FIN_WAIT2 entry.
uint64_t client_to_fin_wait2(StateTable& t, uint64_t cookie, uint64_t t0, uint8_t family = AF_INET) {
  t.apply(st(cookie, t0, CLOSE, SYN_SENT, std::nullopt, family));
  t.apply(st(cookie, t0 + 1 * kMs, SYN_SENT, ESTABLISHED, 1 * kMs, family));
  t.apply(st(cookie, t0 + 5 * kSec, ESTABLISHED, FIN_WAIT1, 5 * kSec - 1 * kMs, family));
  t.apply(st(cookie, t0 + 5 * kSec + 20 * kMs, FIN_WAIT1, FIN_WAIT2, 20 * kMs, family));
  return t0 + 5 * kSec + 20 * kMs;
}

TEST(StateTableTest, EmptyTable) {
  StateTable t;
  EXPECT_EQ(t.tracked(), 0u);
  EXPECT_EQ(total(t), 0u);
  EXPECT_EQ(t.resyncs(), 0u);
  EXPECT_EQ(t.count(TCPFSM_STATE_MAX), 0u);
  EXPECT_EQ(t.count(255), 0u);
  for (uint8_t s = 0; s < TCPFSM_STATE_MAX; ++s) {
    EXPECT_EQ(t.lifetime(s).count(), 0u);
    EXPECT_EQ(t.entered()[s], 0u);
    EXPECT_EQ(t.left()[s], 0u);
  }
}

TEST(StateTableTest, ClientLifecycle) {
  StateTable t;
  const uint64_t t0 = 10 * kSec;
  t.apply(st(1, t0, CLOSE, SYN_SENT));
  EXPECT_EQ(t.count(SYN_SENT), 1u);
  EXPECT_EQ(t.count(SYN_SENT, AF_INET), 1u);
  EXPECT_EQ(t.count(SYN_SENT, AF_INET6), 0u);
  EXPECT_EQ(t.tracked(), 1u);
  expect_consistent(t);

  t.apply(st(1, t0 + 1 * kMs, SYN_SENT, ESTABLISHED, 1 * kMs));
  EXPECT_EQ(t.count(SYN_SENT), 0u);
  EXPECT_EQ(t.count(ESTABLISHED), 1u);
  EXPECT_EQ(t.count(ESTABLISHED, AF_INET), 1u);
  EXPECT_EQ(t.count(ESTABLISHED, AF_INET6), 0u);
  expect_consistent(t);

  t.apply(st(1, t0 + 5 * kSec, ESTABLISHED, FIN_WAIT1, 5 * kSec - 1 * kMs));
  EXPECT_EQ(t.count(ESTABLISHED), 0u);
  EXPECT_EQ(t.count(FIN_WAIT1), 1u);
  expect_consistent(t);

  t.apply(st(1, t0 + 5 * kSec + 20 * kMs, FIN_WAIT1, FIN_WAIT2, 20 * kMs));
  EXPECT_EQ(t.count(FIN_WAIT1), 0u);
  EXPECT_EQ(t.count(FIN_WAIT2), 1u);
  expect_consistent(t);

  t.apply(st(1, t0 + 5 * kSec + 50 * kMs, FIN_WAIT2, CLOSE, 30 * kMs));
  EXPECT_EQ(t.tracked(), 0u);
  EXPECT_EQ(total(t), 0u);
  EXPECT_EQ(t.count(CLOSE), 0u);
  expect_consistent(t);

  EXPECT_EQ(t.transitions(CLOSE, SYN_SENT), 1u);
  EXPECT_EQ(t.transitions(SYN_SENT, ESTABLISHED), 1u);
  EXPECT_EQ(t.transitions(ESTABLISHED, FIN_WAIT1), 1u);
  EXPECT_EQ(t.transitions(FIN_WAIT1, FIN_WAIT2), 1u);
  EXPECT_EQ(t.transitions(FIN_WAIT2, CLOSE), 1u);
  EXPECT_EQ(t.transitions(ESTABLISHED, CLOSE_WAIT), 0u);
  EXPECT_EQ(t.transitions(SYN_SENT, CLOSE), 0u);

  for (uint8_t s : {SYN_SENT, ESTABLISHED, FIN_WAIT1, FIN_WAIT2, CLOSE}) {
    EXPECT_EQ(t.entered()[s], 1u) << int(s);
    EXPECT_EQ(t.left()[s], 1u) << int(s);
  }
  EXPECT_EQ(t.entered()[LISTEN], 0u);
  EXPECT_EQ(t.left()[CLOSE_WAIT], 0u);

  EXPECT_TRUE(single(t.lifetime(SYN_SENT), 1 * kMs));
  EXPECT_TRUE(single(t.lifetime(ESTABLISHED), 5 * kSec - 1 * kMs));
  EXPECT_TRUE(single(t.lifetime(FIN_WAIT1), 20 * kMs));
  EXPECT_TRUE(single(t.lifetime(FIN_WAIT2), 30 * kMs));
  EXPECT_EQ(t.lifetime(CLOSE).count(), 0u);  // prev_ns unknown
  EXPECT_EQ(t.lifetime(TIME_WAIT).count(), 0u);
  EXPECT_EQ(t.resyncs(), 0u);
}

TEST(StateTableTest, ServerLifecycleIPv6) {
  StateTable t;
  const uint64_t t0 = 100 * kSec;
  t.apply(st(100, t0, CLOSE, LISTEN, std::nullopt, AF_INET6));
  EXPECT_EQ(t.count(LISTEN), 1u);
  EXPECT_EQ(t.count(LISTEN, AF_INET6), 1u);
  EXPECT_EQ(t.count(LISTEN, AF_INET), 0u);

  // Two children born from the listener.
  t.apply(st(101, t0 + 1 * kSec, LISTEN, SYN_RECV, std::nullopt, AF_INET6));
  t.apply(st(102, t0 + 2 * kSec, LISTEN, SYN_RECV, std::nullopt, AF_INET6));
  EXPECT_EQ(t.count(SYN_RECV), 2u);
  EXPECT_EQ(t.count(SYN_RECV, AF_INET6), 2u);
  EXPECT_EQ(t.count(LISTEN), 1u);  // the listener stays
  expect_consistent(t);

  t.apply(st(101, t0 + 1 * kSec + 200 * kUs, SYN_RECV, ESTABLISHED, 200 * kUs, AF_INET6));
  t.apply(st(102, t0 + 2 * kSec + 400 * kUs, SYN_RECV, ESTABLISHED, 400 * kUs, AF_INET6));
  EXPECT_EQ(t.count(SYN_RECV), 0u);
  EXPECT_EQ(t.count(ESTABLISHED, AF_INET6), 2u);
  expect_consistent(t);

  // Child 101: the peer closes first.
  t.apply(st(101, t0 + 3 * kSec, ESTABLISHED, CLOSE_WAIT, 2 * kSec - 200 * kUs, AF_INET6));
  EXPECT_EQ(t.count(CLOSE_WAIT), 1u);
  t.apply(st(101, t0 + 3 * kSec + 1 * kMs, CLOSE_WAIT, LAST_ACK, 1 * kMs, AF_INET6));
  EXPECT_EQ(t.count(CLOSE_WAIT), 0u);
  EXPECT_EQ(t.count(LAST_ACK), 1u);
  t.apply(st(101, t0 + 3 * kSec + 1 * kMs + 300 * kUs, LAST_ACK, CLOSE, 300 * kUs, AF_INET6));
  EXPECT_EQ(t.count(LAST_ACK), 0u);

  EXPECT_EQ(t.count(LISTEN), 1u);
  EXPECT_EQ(t.count(ESTABLISHED), 1u);
  EXPECT_EQ(t.count(ESTABLISHED, AF_INET), 0u);
  EXPECT_EQ(t.tracked(), 2u);
  expect_consistent(t);

  EXPECT_EQ(t.transitions(CLOSE, LISTEN), 1u);
  EXPECT_EQ(t.transitions(LISTEN, SYN_RECV), 2u);
  EXPECT_EQ(t.transitions(SYN_RECV, ESTABLISHED), 2u);
  EXPECT_EQ(t.transitions(ESTABLISHED, CLOSE_WAIT), 1u);
  EXPECT_EQ(t.transitions(CLOSE_WAIT, LAST_ACK), 1u);
  EXPECT_EQ(t.transitions(LAST_ACK, CLOSE), 1u);
  EXPECT_EQ(t.entered()[SYN_RECV], 2u);
  EXPECT_EQ(t.left()[LISTEN], 2u);
  EXPECT_EQ(t.entered()[LISTEN], 1u);
  EXPECT_EQ(t.entered()[ESTABLISHED], 2u);
  EXPECT_EQ(t.left()[ESTABLISHED], 1u);
  EXPECT_EQ(t.entered()[CLOSE], 1u);

  const auto& syn_recv = t.lifetime(SYN_RECV);
  EXPECT_EQ(syn_recv.count(), 2u);
  EXPECT_EQ(syn_recv.min(), 200 * kUs);
  EXPECT_EQ(syn_recv.max(), 400 * kUs);
  EXPECT_EQ(syn_recv.mean(), 300 * kUs);
  EXPECT_TRUE(single(t.lifetime(ESTABLISHED), 2 * kSec - 200 * kUs));
  EXPECT_TRUE(single(t.lifetime(CLOSE_WAIT), 1 * kMs));
  EXPECT_TRUE(single(t.lifetime(LAST_ACK), 300 * kUs));
  EXPECT_EQ(t.lifetime(LISTEN).count(), 0u);
  EXPECT_EQ(t.resyncs(), 0u);

  t.apply(st(100, t0 + 9 * kSec, LISTEN, CLOSE, 9 * kSec, AF_INET6));
  EXPECT_EQ(t.count(LISTEN), 0u);
  EXPECT_TRUE(single(t.lifetime(LISTEN), 9 * kSec));
  EXPECT_EQ(t.tracked(), 1u);
  expect_consistent(t);
}

TEST(StateTableTest, FamiliesCountedSeparately) {
  StateTable t;
  t.apply(st(1, 1 * kSec, CLOSE, SYN_SENT, std::nullopt, AF_INET));
  t.apply(st(1, 2 * kSec, SYN_SENT, ESTABLISHED, 1 * kSec, AF_INET));
  t.apply(st(2, 1 * kSec, CLOSE, SYN_SENT, std::nullopt, AF_INET6));
  t.apply(st(2, 2 * kSec, SYN_SENT, ESTABLISHED, 1 * kSec, AF_INET6));
  t.apply(st(3, 3 * kSec, CLOSE, SYN_SENT, std::nullopt, AF_INET6));
  EXPECT_EQ(t.count(ESTABLISHED), 2u);
  EXPECT_EQ(t.count(ESTABLISHED, AF_INET), 1u);
  EXPECT_EQ(t.count(ESTABLISHED, AF_INET6), 1u);
  EXPECT_EQ(t.count(SYN_SENT), 1u);
  EXPECT_EQ(t.count(SYN_SENT, AF_INET), 0u);
  EXPECT_EQ(t.count(SYN_SENT, AF_INET6), 1u);
  EXPECT_EQ(t.tracked(), 3u);
  expect_consistent(t);
}

// Connect latency holds the SYN_SENT of the connects that established only:
// a refused connect and a SYN timeout are SYN_SENT lifetimes, not latencies.
TEST(StateTableTest, ConnectLatencyIsTheSynSentOfSuccessesOnly) {
  StateTable t;
  t.apply(st(1, 1 * kSec, CLOSE, SYN_SENT));
  t.apply(st(1, 1 * kSec + 3 * kMs, SYN_SENT, ESTABLISHED, 3 * kMs));
  t.apply(st(2, 1 * kSec, CLOSE, SYN_SENT));
  t.apply(st(2, 1 * kSec + 40 * kUs, SYN_SENT, CLOSE, 40 * kUs));  // refused
  t.apply(st(3, 1 * kSec, CLOSE, SYN_SENT));
  t.apply(st(3, 4 * kSec, SYN_SENT, CLOSE, 3 * kSec));  // SYN retries ran out
  t.apply(st(4, 2 * kSec, CLOSE, SYN_SENT));
  t.apply(st(4, 2 * kSec + 5 * kMs, SYN_SENT, ESTABLISHED, 5 * kMs));
  EXPECT_EQ(t.lifetime(SYN_SENT).count(), 4u);
  const LifetimeHistogram& lat = t.connect_latency();
  EXPECT_EQ(lat.count(), 2u);
  EXPECT_EQ(static_cast<uint64_t>(lat.sum_ns()), 8 * kMs);
  EXPECT_EQ(lat.max(), 5 * kMs);
  EXPECT_EQ(lat.min(), 3 * kMs);
  // A connect tcpfsm saw only from SYN_SENT on (no prev_ns) adds nothing.
  t.apply(st(5, 3 * kSec, SYN_SENT, ESTABLISHED));
  EXPECT_EQ(t.connect_latency().count(), 2u);
  expect_consistent(t);
}

TEST(StateTableTest, SelfTransitionRecordsNoLifetime) {
  StateTable t;
  t.apply(st(2, 1 * kSec, CLOSE, SYN_SENT));
  t.apply(st(2, 2 * kSec, SYN_SENT, ESTABLISHED, 1 * kSec));
  t.apply(st(2, 3 * kSec, ESTABLISHED, FIN_WAIT1, 1 * kSec));
  const uint64_t entered_fw1 = t.entered()[FIN_WAIT1], left_fw1 = t.left()[FIN_WAIT1];
  const uint64_t fw1_samples = t.lifetime(FIN_WAIT1).count();

  t.apply(st(2, 4 * kSec, FIN_WAIT1, FIN_WAIT1, 5 * kMs));
  EXPECT_EQ(t.transitions(FIN_WAIT1, FIN_WAIT1), 1u);
  EXPECT_EQ(t.lifetime(FIN_WAIT1).count(), fw1_samples);
  EXPECT_EQ(t.entered()[FIN_WAIT1], entered_fw1);
  EXPECT_EQ(t.left()[FIN_WAIT1], left_fw1);
  EXPECT_EQ(t.count(FIN_WAIT1), 1u);
  EXPECT_EQ(t.resyncs(), 0u);
  expect_consistent(t);

  // The time in FIN_WAIT1 still comes from the kernel's prev_ns when it leaves.
  t.apply(st(2, 5 * kSec, FIN_WAIT1, FIN_WAIT2, 2 * kSec));
  EXPECT_EQ(t.lifetime(FIN_WAIT1).count(), fw1_samples + 1);
  EXPECT_EQ(t.lifetime(FIN_WAIT1).max(), 2 * kSec);
}

TEST(StateTableTest, SkaddrReuseKeepsBothSockets) {
  StateTable t;
  const uint64_t sk = 0xffff888012340000ULL;
  t.apply(st(1, 1 * kSec, CLOSE, SYN_SENT, std::nullopt, AF_INET, sk));
  t.apply(st(1, 1 * kSec + kMs, SYN_SENT, ESTABLISHED, kMs, AF_INET, sk));
  // Same struct sock address, a different socket (different cookie), while
  // the first one still lives as far as the event stream goes.
  t.apply(st(2, 2 * kSec, CLOSE, SYN_SENT, std::nullopt, AF_INET, sk));
  t.apply(st(2, 2 * kSec + kMs, SYN_SENT, ESTABLISHED, kMs, AF_INET, sk));
  EXPECT_EQ(t.count(ESTABLISHED), 2u);
  EXPECT_EQ(t.tracked(), 2u);

  t.apply(st(1, 3 * kSec, ESTABLISHED, FIN_WAIT1, 2 * kSec, AF_INET, sk));
  t.apply(st(1, 3 * kSec + kMs, FIN_WAIT1, FIN_WAIT2, kMs, AF_INET, sk));
  t.apply(st(1, 3 * kSec + 2 * kMs, FIN_WAIT2, CLOSE, kMs, AF_INET, sk));
  EXPECT_EQ(t.count(ESTABLISHED), 1u);
  EXPECT_EQ(t.count(FIN_WAIT2), 0u);
  EXPECT_EQ(t.tracked(), 1u);
  EXPECT_EQ(t.resyncs(), 0u);

  // The survivor continues normally.
  t.apply(st(2, 4 * kSec, ESTABLISHED, CLOSE_WAIT, 2 * kSec, AF_INET, sk));
  EXPECT_EQ(t.count(CLOSE_WAIT), 1u);
  EXPECT_EQ(t.count(ESTABLISHED), 0u);
  EXPECT_EQ(t.resyncs(), 0u);
  expect_consistent(t);
}

TEST(StateTableTest, LostEventResyncs) {
  StateTable t;
  t.apply(st(1, 1 * kSec, CLOSE, SYN_SENT));
  t.apply(st(1, 1 * kSec + kMs, SYN_SENT, ESTABLISHED, kMs));
  // ESTABLISHED>FIN_WAIT1 was lost.
  t.apply(st(1, 3 * kSec, FIN_WAIT1, FIN_WAIT2, 40 * kMs));
  EXPECT_EQ(t.resyncs(), 1u);
  EXPECT_EQ(t.count(ESTABLISHED), 0u);
  EXPECT_EQ(t.count(FIN_WAIT1), 0u);
  EXPECT_EQ(t.count(FIN_WAIT2), 1u);
  EXPECT_EQ(t.tracked(), 1u);
  expect_consistent(t);
  // The kernel's own time in FIN_WAIT1 is still right.
  EXPECT_TRUE(single(t.lifetime(FIN_WAIT1), 40 * kMs));
  EXPECT_EQ(t.transitions(FIN_WAIT1, FIN_WAIT2), 1u);
  EXPECT_EQ(t.transitions(ESTABLISHED, FIN_WAIT1), 0u);

  t.apply(st(1, 4 * kSec, FIN_WAIT2, CLOSE, 1 * kSec));
  EXPECT_EQ(t.resyncs(), 1u);
  EXPECT_EQ(t.tracked(), 0u);
  EXPECT_EQ(total(t), 0u);
  expect_consistent(t);
}

TEST(StateTableTest, GaugesNeverUnderflow) {
  StateTable t;
  t.apply(st(1, 1 * kSec, CLOSE, SYN_SENT));
  t.apply(st(1, 2 * kSec, SYN_SENT, ESTABLISHED, kSec));
  // Lost ESTABLISHED>FIN_WAIT1 and more: the socket closes from a state it
  // was never seen in.
  t.apply(st(1, 3 * kSec, FIN_WAIT2, CLOSE, kSec));
  EXPECT_EQ(t.resyncs(), 1u);
  expect_consistent(t);
  // A duplicate close of a socket no longer tracked.
  t.apply(st(1, 3 * kSec + 1, FIN_WAIT2, CLOSE, kSec));
  // Transitions out of states nobody is in.
  t.apply(st(2, 4 * kSec, LAST_ACK, CLOSE, kSec));
  t.apply(st(3, 4 * kSec, CLOSE_WAIT, LAST_ACK, kSec));
  t.apply(st(3, 5 * kSec, FIN_WAIT1, CLOSE, kSec));  // resync: tracked in LAST_ACK
  EXPECT_EQ(t.resyncs(), 2u);
  for (uint8_t s = 0; s < TCPFSM_STATE_MAX; ++s) {
    EXPECT_EQ(t.count(s), 0u) << int(s);
    EXPECT_EQ(t.count(s, AF_INET), 0u) << int(s);
    EXPECT_EQ(t.count(s, AF_INET6), 0u) << int(s);
  }
  EXPECT_EQ(t.tracked(), 0u);
  expect_consistent(t);
}

TEST(StateTableTest, SocketFirstSeenMidLife) {
  StateTable t;
  t.apply(st(7, 50 * kSec, ESTABLISHED, CLOSE_WAIT, 3 * kSec));
  EXPECT_EQ(t.tracked(), 1u);
  EXPECT_EQ(t.count(CLOSE_WAIT), 1u);
  EXPECT_EQ(t.count(ESTABLISHED), 0u);
  EXPECT_EQ(t.resyncs(), 0u);
  EXPECT_TRUE(single(t.lifetime(ESTABLISHED), 3 * kSec));
  EXPECT_EQ(t.transitions(ESTABLISHED, CLOSE_WAIT), 1u);

  t.apply(st(7, 50 * kSec + 10 * kMs, CLOSE_WAIT, LAST_ACK, 10 * kMs));
  EXPECT_EQ(t.count(CLOSE_WAIT), 0u);
  EXPECT_EQ(t.count(LAST_ACK), 1u);
  EXPECT_EQ(t.resyncs(), 0u);
  EXPECT_TRUE(single(t.lifetime(CLOSE_WAIT), 10 * kMs));

  t.apply(st(7, 50 * kSec + 11 * kMs, LAST_ACK, CLOSE, 1 * kMs));
  EXPECT_EQ(t.tracked(), 0u);
  EXPECT_TRUE(single(t.lifetime(LAST_ACK), 1 * kMs));
  expect_consistent(t);
}

TEST(StateTableTest, UnknownSocketClosingChangesNothing) {
  StateTable t;
  t.apply(st(1, 1 * kSec, CLOSE, LISTEN));
  t.apply(st(55, 2 * kSec, LAST_ACK, CLOSE, 1 * kMs));
  t.apply(st(56, 2 * kSec, SYN_SENT, CLOSE));
  EXPECT_EQ(t.tracked(), 1u);
  EXPECT_EQ(t.count(LISTEN), 1u);
  EXPECT_EQ(total(t), 1u);
  EXPECT_EQ(t.count(LAST_ACK), 0u);
  EXPECT_EQ(t.count(CLOSE), 0u);
  EXPECT_EQ(t.resyncs(), 0u);
  expect_consistent(t);
  // Still nothing tracked for it: a later event finds no socket to resync.
  t.apply(st(55, 3 * kSec, LAST_ACK, CLOSE));
  EXPECT_EQ(t.tracked(), 1u);
  EXPECT_EQ(t.resyncs(), 0u);
}

// Client that ends in TIME_WAIT: the timewait socket's timer is armed before
// the full socket reports FIN_WAIT2>CLOSE; it expires 60 s later.
TEST(StateTableTest, TimeWaitExpires) {
  StateTable t;
  const uint64_t fw2 = client_to_fin_wait2(t, 1, 1 * kSec);
  const uint64_t start = fw2 + 30 * kMs;
  t.apply(tw(EventKind::TwStart, 1, start));
  EXPECT_EQ(t.count(TIME_WAIT), 1u);
  EXPECT_EQ(t.count(FIN_WAIT2), 1u);  // the full socket, until its CLOSE
  EXPECT_EQ(t.tracked(), 2u);
  expect_consistent(t);

  t.apply(st(1, start, FIN_WAIT2, CLOSE, 30 * kMs));
  EXPECT_EQ(t.count(FIN_WAIT2), 0u);
  EXPECT_EQ(t.count(TIME_WAIT), 1u);
  EXPECT_EQ(t.count(TIME_WAIT, AF_INET), 1u);
  EXPECT_EQ(t.tracked(), 1u);
  EXPECT_EQ(t.resyncs(), 0u);
  expect_consistent(t);

  t.settle(start + 30 * kSec);  // nothing pending
  EXPECT_EQ(t.count(TIME_WAIT), 1u);

  t.apply(tw(EventKind::TwCancel, 1, start + 60 * kSec));
  EXPECT_EQ(t.count(TIME_WAIT), 1u);  // a cancel alone is not an end yet
  t.apply(tw(EventKind::TwExpire, 1, start + 60 * kSec));
  EXPECT_EQ(t.count(TIME_WAIT), 0u);
  EXPECT_EQ(t.tracked(), 0u);
  expect_consistent(t);

  EXPECT_TRUE(single(t.timewait_lifetime(TimewaitEnd::Expired), 60 * kSec));
  EXPECT_TRUE(single(t.lifetime(TIME_WAIT), 60 * kSec));
  EXPECT_EQ(t.timewait_lifetime(TimewaitEnd::Killed).count(), 0u);
  EXPECT_EQ(t.timewait_ends(TimewaitEnd::Expired), 1u);
  EXPECT_EQ(t.timewait_ends(TimewaitEnd::Killed), 0u);
  EXPECT_EQ(t.fin_wait2_timewait_lifetime().count(), 0u);
  EXPECT_TRUE(single(t.lifetime(FIN_WAIT2), 30 * kMs));

  // Long after: the settled cancel is not turned into a kill.
  t.settle(start + 600 * kSec);
  EXPECT_EQ(t.timewait_ends(TimewaitEnd::Killed), 0u);
  EXPECT_EQ(t.timewait_ends(TimewaitEnd::Expired), 1u);
}

TEST(StateTableTest, TimeWaitIPv6Gauge) {
  StateTable t;
  client_to_fin_wait2(t, 9, 1 * kSec, AF_INET6);
  t.apply(tw(EventKind::TwStart, 9, 7 * kSec, TIME_WAIT, AF_INET6));
  t.apply(st(9, 7 * kSec, FIN_WAIT2, CLOSE, kSec, AF_INET6));
  EXPECT_EQ(t.count(TIME_WAIT, AF_INET6), 1u);
  EXPECT_EQ(t.count(TIME_WAIT, AF_INET), 0u);
  expect_consistent(t);
}

TEST(StateTableTest, TimeWaitKilledEarlyViaSettle) {
  StateTable t;
  const uint64_t start = 20 * kSec;
  const uint64_t cancel = start + 5 * kSec;
  t.apply(tw(EventKind::TwStart, 3, start));
  t.apply(tw(EventKind::TwCancel, 3, cancel));

  t.settle(cancel + StateTable::kKillGraceNs / 2);  // within the grace time
  EXPECT_EQ(t.count(TIME_WAIT), 1u);
  EXPECT_EQ(t.timewait_ends(TimewaitEnd::Killed), 0u);
  t.settle(cancel + StateTable::kKillGraceNs);  // exactly at the limit: not older
  EXPECT_EQ(t.count(TIME_WAIT), 1u);
  EXPECT_EQ(t.timewait_ends(TimewaitEnd::Killed), 0u);

  t.settle(cancel + StateTable::kKillGraceNs + 1);
  EXPECT_EQ(t.count(TIME_WAIT), 0u);
  EXPECT_EQ(t.tracked(), 0u);
  EXPECT_EQ(t.timewait_ends(TimewaitEnd::Killed), 1u);
  EXPECT_EQ(t.timewait_ends(TimewaitEnd::Expired), 0u);
  // Dated at the cancel, not at the settle.
  EXPECT_TRUE(single(t.timewait_lifetime(TimewaitEnd::Killed), 5 * kSec));
  EXPECT_TRUE(single(t.lifetime(TIME_WAIT), 5 * kSec));
  EXPECT_EQ(t.timewait_lifetime(TimewaitEnd::Expired).count(), 0u);
  expect_consistent(t);

  // A stray expiry for the killed socket counts nothing more.
  t.apply(tw(EventKind::TwExpire, 3, cancel + 60 * kSec));
  EXPECT_EQ(t.timewait_ends(TimewaitEnd::Expired), 0u);
  EXPECT_EQ(t.timewait_ends(TimewaitEnd::Killed), 1u);
  EXPECT_EQ(t.tracked(), 0u);
}

// `stats --records` and the kernel's counting (`stats`) must tell a kill
// from a reschedule the same way: one grace, from the shared header. Before
// it was 100 ms here and 10 ms in the kernel, so a cancel 20 ms old was a
// kill in one engine and pending in the other.
TEST(StateTableTest, KillGraceIsTheKernelCountingsGrace) {
  EXPECT_EQ(StateTable::kKillGraceNs, uint64_t{TCPFSM_TW_KILL_GRACE_NS});
  StateTable t;
  const uint64_t cancel = 30 * kSec;
  t.apply(tw(EventKind::TwStart, 4, 20 * kSec));
  t.apply(tw(EventKind::TwCancel, 4, cancel));
  t.settle(cancel + 20 * kMs);
  EXPECT_EQ(t.timewait_ends(TimewaitEnd::Killed), 1u);
  EXPECT_EQ(t.count(TIME_WAIT), 0u);
}

TEST(StateTableTest, SettleKillsOnlyStaleCancels) {
  StateTable t;
  t.apply(tw(EventKind::TwStart, 1, 1 * kSec));
  t.apply(tw(EventKind::TwStart, 2, 1 * kSec));
  t.apply(tw(EventKind::TwStart, 3, 1 * kSec));
  t.apply(tw(EventKind::TwCancel, 1, 2 * kSec));
  t.apply(tw(EventKind::TwCancel, 2, 3 * kSec));
  t.settle(2 * kSec + StateTable::kKillGraceNs + 1);
  EXPECT_EQ(t.timewait_ends(TimewaitEnd::Killed), 1u);
  EXPECT_EQ(t.count(TIME_WAIT), 2u);
  EXPECT_TRUE(single(t.timewait_lifetime(TimewaitEnd::Killed), 1 * kSec));
  t.settle(3 * kSec + StateTable::kKillGraceNs + 1);
  EXPECT_EQ(t.timewait_ends(TimewaitEnd::Killed), 2u);
  EXPECT_EQ(t.count(TIME_WAIT), 1u);  // 3 was never cancelled
  EXPECT_EQ(t.timewait_lifetime(TimewaitEnd::Killed).max(), 2 * kSec);
  expect_consistent(t);
}

TEST(StateTableTest, TimeWaitRescheduleIsNotAnEnd) {
  StateTable t;
  const uint64_t start = 10 * kSec;
  t.apply(tw(EventKind::TwStart, 4, start));
  t.apply(tw(EventKind::TwCancel, 4, start + 1 * kSec));
  t.apply(tw(EventKind::TwStart, 4, start + 1 * kSec));  // rescheduled
  t.settle(start + 30 * kSec);
  EXPECT_EQ(t.count(TIME_WAIT), 1u);
  EXPECT_EQ(t.timewait_ends(TimewaitEnd::Killed), 0u);
  EXPECT_EQ(t.timewait_ends(TimewaitEnd::Expired), 0u);
  EXPECT_EQ(t.lifetime(TIME_WAIT).count(), 0u);

  t.apply(tw(EventKind::TwCancel, 4, start + 61 * kSec));
  t.apply(tw(EventKind::TwExpire, 4, start + 61 * kSec));
  EXPECT_EQ(t.count(TIME_WAIT), 0u);
  EXPECT_EQ(t.timewait_ends(TimewaitEnd::Expired), 1u);
  EXPECT_EQ(t.timewait_ends(TimewaitEnd::Killed), 0u);
  // In TIME_WAIT since the first start.
  EXPECT_TRUE(single(t.timewait_lifetime(TimewaitEnd::Expired), 61 * kSec));
  EXPECT_TRUE(single(t.lifetime(TIME_WAIT), 61 * kSec));
  expect_consistent(t);
}

// An orphaned FIN_WAIT2 becomes a timewait socket in the FIN_WAIT2
// substate, then gets its FIN: the sweep reports the switch to TIME_WAIT.
TEST(StateTableTest, FinWait2SubstateSwitchBySweep) {
  StateTable t;
  const uint64_t fw2 = client_to_fin_wait2(t, 5, 1 * kSec);
  const uint64_t start = fw2 + 10 * kMs;
  t.apply(tw(EventKind::TwStart, 5, start, FIN_WAIT2));
  t.apply(st(5, start, FIN_WAIT2, CLOSE, 10 * kMs));
  EXPECT_EQ(t.count(FIN_WAIT2), 1u);  // now the timewait socket
  EXPECT_EQ(t.count(TIME_WAIT), 0u);
  EXPECT_EQ(t.tracked(), 1u);
  expect_consistent(t);

  const uint64_t sw = start + 3 * kSec;
  t.apply(tw(EventKind::TwSubstate, 5, sw, TIME_WAIT));
  EXPECT_EQ(t.count(FIN_WAIT2), 0u);
  EXPECT_EQ(t.count(TIME_WAIT), 1u);
  EXPECT_EQ(t.tracked(), 1u);
  EXPECT_TRUE(single(t.fin_wait2_timewait_lifetime(), 3 * kSec));
  expect_consistent(t);

  t.apply(tw(EventKind::TwCancel, 5, sw + 60 * kSec));
  t.apply(tw(EventKind::TwExpire, 5, sw + 60 * kSec));
  EXPECT_EQ(t.count(TIME_WAIT), 0u);
  EXPECT_EQ(t.tracked(), 0u);
  EXPECT_EQ(t.timewait_ends(TimewaitEnd::Expired), 1u);
  // Measured from the switch, not from the timer's first start.
  EXPECT_TRUE(single(t.lifetime(TIME_WAIT), 60 * kSec));
  EXPECT_TRUE(single(t.timewait_lifetime(TimewaitEnd::Expired), 60 * kSec));
  EXPECT_TRUE(single(t.fin_wait2_timewait_lifetime(), 3 * kSec));
  // The full socket's own FIN_WAIT2 time comes from its prev_ns.
  EXPECT_TRUE(single(t.lifetime(FIN_WAIT2), 10 * kMs));
  expect_consistent(t);
}

// Same switch, but the new TIME_WAIT expiry falls in another timer wheel
// bucket: the kernel reschedules, which the tracepoints show as a cancel
// then a start, both already carrying the TIME_WAIT substate.
TEST(StateTableTest, FinWait2SubstateSwitchByReschedule) {
  StateTable t;
  const uint64_t start = 10 * kSec;
  t.apply(tw(EventKind::TwStart, 6, start, FIN_WAIT2));
  const uint64_t sw = start + 3 * kSec;
  t.apply(tw(EventKind::TwCancel, 6, sw, TIME_WAIT));
  t.apply(tw(EventKind::TwStart, 6, sw, TIME_WAIT));
  EXPECT_EQ(t.count(FIN_WAIT2), 0u);
  EXPECT_EQ(t.count(TIME_WAIT), 1u);
  EXPECT_TRUE(single(t.fin_wait2_timewait_lifetime(), 3 * kSec));
  t.settle(sw + 10 * kSec);  // a reschedule, not a kill
  EXPECT_EQ(t.timewait_ends(TimewaitEnd::Killed), 0u);
  EXPECT_EQ(t.count(TIME_WAIT), 1u);

  t.apply(tw(EventKind::TwCancel, 6, sw + 60 * kSec, TIME_WAIT));
  t.apply(tw(EventKind::TwExpire, 6, sw + 60 * kSec, TIME_WAIT));
  EXPECT_EQ(t.count(TIME_WAIT), 0u);
  EXPECT_EQ(t.timewait_ends(TimewaitEnd::Expired), 1u);
  // The reschedule dates the switch: 60 s in TIME_WAIT.
  EXPECT_TRUE(single(t.lifetime(TIME_WAIT), 60 * kSec));
  EXPECT_TRUE(single(t.timewait_lifetime(TimewaitEnd::Expired), 60 * kSec));
  EXPECT_TRUE(single(t.fin_wait2_timewait_lifetime(), 3 * kSec));
  expect_consistent(t);
}

// No FIN ever came: the FIN_WAIT2 timewait socket expires in its substate.
TEST(StateTableTest, FinWait2SubstateExpires) {
  StateTable t;
  t.apply(tw(EventKind::TwStart, 8, 10 * kSec, FIN_WAIT2));
  t.apply(tw(EventKind::TwCancel, 8, 70 * kSec, FIN_WAIT2));
  t.apply(tw(EventKind::TwExpire, 8, 70 * kSec, FIN_WAIT2));
  EXPECT_EQ(t.count(FIN_WAIT2), 0u);
  EXPECT_EQ(t.tracked(), 0u);
  EXPECT_TRUE(single(t.fin_wait2_timewait_lifetime(), 60 * kSec));
  EXPECT_EQ(t.lifetime(TIME_WAIT).count(), 0u);
  EXPECT_EQ(t.timewait_lifetime(TimewaitEnd::Expired).count(), 0u);
  expect_consistent(t);
}

TEST(StateTableTest, OwnerFilteredTableIgnoresForeignTimewait) {
  StateTable t(true);
  // A timewait socket replacing a socket this table never tracked.
  t.apply(tw(EventKind::TwStart, 999, 1 * kSec));
  EXPECT_EQ(t.count(TIME_WAIT), 0u);
  EXPECT_EQ(t.tracked(), 0u);
  t.apply(tw(EventKind::TwCancel, 999, 61 * kSec));
  t.apply(tw(EventKind::TwExpire, 999, 61 * kSec));
  t.settle(100 * kSec);
  EXPECT_EQ(t.timewait_ends(TimewaitEnd::Expired), 0u);
  EXPECT_EQ(t.timewait_ends(TimewaitEnd::Killed), 0u);
  EXPECT_EQ(t.lifetime(TIME_WAIT).count(), 0u);

  // One replacing a tracked socket is counted, through to its expiry.
  const uint64_t fw2 = client_to_fin_wait2(t, 1, 100 * kSec);
  t.apply(tw(EventKind::TwStart, 1, fw2 + kMs));
  t.apply(st(1, fw2 + kMs, FIN_WAIT2, CLOSE, kMs));
  EXPECT_EQ(t.count(TIME_WAIT), 1u);
  EXPECT_EQ(t.tracked(), 1u);
  t.apply(tw(EventKind::TwCancel, 1, fw2 + kMs + 60 * kSec));
  t.apply(tw(EventKind::TwExpire, 1, fw2 + kMs + 60 * kSec));
  EXPECT_EQ(t.timewait_ends(TimewaitEnd::Expired), 1u);
  EXPECT_TRUE(single(t.lifetime(TIME_WAIT), 60 * kSec));
  EXPECT_EQ(t.count(TIME_WAIT), 0u);
  expect_consistent(t);
}

TEST(StateTableTest, UnfilteredTableCountsEveryTimewait) {
  StateTable t;
  t.apply(tw(EventKind::TwStart, 999, 1 * kSec));
  EXPECT_EQ(t.count(TIME_WAIT), 1u);
  t.apply(tw(EventKind::TwCancel, 999, 61 * kSec));
  t.apply(tw(EventKind::TwExpire, 999, 61 * kSec));
  EXPECT_EQ(t.timewait_ends(TimewaitEnd::Expired), 1u);
  EXPECT_TRUE(single(t.lifetime(TIME_WAIT), 60 * kSec));
}

TEST(StateTableTest, ExpiryOfUnknownTimewaitIsIgnored) {
  StateTable t;
  t.apply(tw(EventKind::TwExpire, 42, 5 * kSec));
  EXPECT_EQ(t.tracked(), 0u);
  EXPECT_EQ(t.timewait_ends(TimewaitEnd::Expired), 0u);
  expect_consistent(t);
}

TEST(StateTableTest, ReconcileSeedsFromFirstDump) {
  StateTable t;
  const uint64_t s1 = 100 * kSec;
  std::vector<SocketRecord> dump = {
      rec(10, ESTABLISHED, AF_INET),
      rec(11, LISTEN, AF_INET6),
      rec(12, CLOSE_WAIT, AF_INET),
      rec(13, TIME_WAIT, AF_INET, kNs, /*timewait=*/true),
      rec(14, SYN_RECV, AF_INET6, kNs, false, /*request=*/true),
      rec(15, ESTABLISHED, AF_INET6),
  };
  t.begin_dump(s1);
  auto r = t.reconcile(dump, {kNs}, s1);
  EXPECT_EQ(r.added, dump.size());
  EXPECT_EQ(r.removed, 0u);
  EXPECT_EQ(r.corrected, 0u);
  EXPECT_EQ(r.drift(), dump.size());
  EXPECT_EQ(t.tracked(), dump.size());
  EXPECT_EQ(t.count(ESTABLISHED), 2u);
  EXPECT_EQ(t.count(ESTABLISHED, AF_INET), 1u);
  EXPECT_EQ(t.count(ESTABLISHED, AF_INET6), 1u);
  EXPECT_EQ(t.count(LISTEN, AF_INET6), 1u);
  EXPECT_EQ(t.count(CLOSE_WAIT), 1u);
  EXPECT_EQ(t.count(TIME_WAIT), 1u);
  EXPECT_EQ(t.count(SYN_RECV), 1u);
  EXPECT_EQ(t.count(SYN_RECV, AF_INET6), 1u);
  expect_consistent(t);
  // Seeding is not a transition.
  for (uint8_t s = 0; s < TCPFSM_STATE_MAX; ++s) EXPECT_EQ(t.entered()[s], 0u);

  auto pre = t.preexisting(s1 + 7 * kSec);
  EXPECT_EQ(pre[ESTABLISHED].count, 2u);
  EXPECT_EQ(pre[ESTABLISHED].min_age_of_oldest_ns, 7 * kSec);
  EXPECT_EQ(pre[LISTEN].count, 1u);
  EXPECT_EQ(pre[LISTEN].min_age_of_oldest_ns, 7 * kSec);
  EXPECT_EQ(pre[CLOSE_WAIT].count, 1u);
  EXPECT_EQ(pre[TIME_WAIT].count, 1u);
  EXPECT_EQ(pre[TIME_WAIT].min_age_of_oldest_ns, 7 * kSec);
  EXPECT_EQ(pre[SYN_RECV].count, 1u);
  EXPECT_EQ(pre[FIN_WAIT1].count, 0u);
  EXPECT_EQ(pre[FIN_WAIT1].min_age_of_oldest_ns, 0u);

  // Seeded sockets leave their states; their events carry no prev_ns.
  t.apply(st(10, s1 + 8 * kSec, ESTABLISHED, FIN_WAIT1));
  EXPECT_EQ(t.resyncs(), 0u);
  EXPECT_EQ(t.lifetime(ESTABLISHED).count(), 0u);
  EXPECT_EQ(t.count(FIN_WAIT1), 1u);
  pre = t.preexisting(s1 + 9 * kSec);
  EXPECT_EQ(pre[ESTABLISHED].count, 1u);  // 15 still
  EXPECT_EQ(pre[FIN_WAIT1].count, 0u);    // seen entering it

  t.apply(st(12, s1 + 8 * kSec, CLOSE_WAIT, LAST_ACK));
  t.apply(st(12, s1 + 8 * kSec + kMs, LAST_ACK, CLOSE, kMs));
  EXPECT_EQ(t.lifetime(CLOSE_WAIT).count(), 0u);
  EXPECT_TRUE(single(t.lifetime(LAST_ACK), kMs));  // entry seen, prev_ns known

  // A dumped request socket completing its handshake is no resync.
  t.apply(st(14, s1 + 8 * kSec, LISTEN, SYN_RECV));
  t.apply(st(14, s1 + 8 * kSec + kMs, SYN_RECV, ESTABLISHED, kMs));
  EXPECT_EQ(t.resyncs(), 0u);
  EXPECT_EQ(t.count(SYN_RECV), 0u);

  // The dumped timewait socket's timer fires: counted, no lifetime (its
  // start was never seen).
  t.apply(tw(EventKind::TwCancel, 13, s1 + 9 * kSec));
  t.apply(tw(EventKind::TwExpire, 13, s1 + 9 * kSec));
  EXPECT_EQ(t.count(TIME_WAIT), 0u);
  EXPECT_EQ(t.timewait_ends(TimewaitEnd::Expired), 1u);
  EXPECT_EQ(t.timewait_lifetime(TimewaitEnd::Expired).count(), 0u);
  EXPECT_EQ(t.lifetime(TIME_WAIT).count(), 0u);
  EXPECT_EQ(t.resyncs(), 0u);

  EXPECT_EQ(t.tracked(), 4u);  // 10 FIN_WAIT1, 11 LISTEN, 14 and 15 ESTABLISHED
  EXPECT_EQ(t.count(ESTABLISHED), 2u);
  expect_consistent(t);
}

TEST(StateTableTest, DumpedTimewaitKilledCountsWithoutLifetime) {
  StateTable t;
  const uint64_t s1 = 100 * kSec;
  t.begin_dump(s1);
  auto r = t.reconcile({rec(13, TIME_WAIT, AF_INET6, kNs, true)}, {kNs}, s1);
  EXPECT_EQ(r.added, 1u);
  EXPECT_EQ(t.count(TIME_WAIT, AF_INET6), 1u);
  t.apply(tw(EventKind::TwCancel, 13, s1 + 1 * kSec, TIME_WAIT, AF_INET6));
  t.settle(s1 + 2 * kSec);
  EXPECT_EQ(t.timewait_ends(TimewaitEnd::Killed), 1u);
  EXPECT_EQ(t.timewait_lifetime(TimewaitEnd::Killed).count(), 0u);
  EXPECT_EQ(t.lifetime(TIME_WAIT).count(), 0u);
  EXPECT_EQ(t.count(TIME_WAIT), 0u);
  expect_consistent(t);
}

TEST(StateTableTest, ReconcileReportsDriftExactly) {
  StateTable t;
  const uint64_t s1 = 100 * kSec;
  t.begin_dump(s1);
  auto seeded = t.reconcile(
      {
          rec(20, ESTABLISHED),                     // vanishes, no event: removed
          rec(21, ESTABLISHED, AF_INET, kOtherNs),  // other namespace: not judged
          rec(22, ESTABLISHED),                     // dump 2 says CLOSE_WAIT: corrected
          rec(23, ESTABLISHED),                     // changes while dump 2 runs
          rec(24, CLOSE_WAIT),                      // ends while dump 2 runs
          rec(25, ESTABLISHED),                     // unchanged
          rec(27, ESTABLISHED),                     // changes while dump 2 runs, not listed
          rec(28, TIME_WAIT, AF_INET, kNs, true),   // timewait, vanishes: removed
      },
      {kNs, kOtherNs}, s1);
  EXPECT_EQ(seeded.added, 8u);
  // Born from events between the dumps, then silent, then gone from dump 2.
  t.apply(st(29, s1 + 1 * kSec, CLOSE, SYN_SENT));
  t.apply(st(29, s1 + 2 * kSec, SYN_SENT, ESTABLISHED, kSec));
  expect_consistent(t);
  EXPECT_EQ(t.tracked(), 9u);

  const uint64_t s2 = 200 * kSec;
  t.begin_dump(s2);
  // Events while the dump runs.
  t.apply(st(23, s2 + 1 * kMs, ESTABLISHED, FIN_WAIT1));
  t.apply(st(24, s2 + 1 * kMs, CLOSE_WAIT, LAST_ACK));
  t.apply(st(24, s2 + 2 * kMs, LAST_ACK, CLOSE, kMs));
  t.apply(st(26, s2 + 3 * kMs, CLOSE, SYN_SENT));  // born during the dump, not listed
  t.apply(st(27, s2 + 4 * kMs, ESTABLISHED, FIN_WAIT1));

  std::vector<SocketRecord> dump2 = {
      rec(22, CLOSE_WAIT),  rec(23, ESTABLISHED),            // read before its event
      rec(24, CLOSE_WAIT),                                   // read before it ended
      rec(25, ESTABLISHED), rec(30, ESTABLISHED, AF_INET6),  // never seen: added
  };
  auto r = t.reconcile(dump2, {kNs}, s2);
  EXPECT_EQ(r.added, 1u);
  EXPECT_EQ(r.removed, 3u);  // 20, 29 and the timewait 28
  EXPECT_EQ(r.corrected, 1u);
  EXPECT_EQ(r.drift(), 5u);

  // 21 ESTABLISHED (other ns), 22 CLOSE_WAIT, 23 FIN_WAIT1, 25 ESTABLISHED,
  // 26 SYN_SENT, 27 FIN_WAIT1, 30 ESTABLISHED (v6).
  EXPECT_EQ(t.tracked(), 7u);
  EXPECT_EQ(t.count(ESTABLISHED), 3u);
  EXPECT_EQ(t.count(ESTABLISHED, AF_INET6), 1u);
  EXPECT_EQ(t.count(CLOSE_WAIT), 1u);
  EXPECT_EQ(t.count(FIN_WAIT1), 2u);
  EXPECT_EQ(t.count(SYN_SENT), 1u);
  EXPECT_EQ(t.count(LAST_ACK), 0u);
  EXPECT_EQ(t.count(TIME_WAIT), 0u);
  expect_consistent(t);

  // Nothing drifted since: a third dump agreeing with the table is clean.
  const uint64_t s3 = 300 * kSec;
  t.begin_dump(s3);
  auto again =
      t.reconcile({rec(21, ESTABLISHED, AF_INET, kOtherNs), rec(22, CLOSE_WAIT), rec(23, FIN_WAIT1),
                   rec(25, ESTABLISHED), rec(26, SYN_SENT), rec(27, FIN_WAIT1), rec(30, ESTABLISHED, AF_INET6)},
                  {kNs, kOtherNs}, s3);
  EXPECT_EQ(again.drift(), 0u);
  EXPECT_EQ(t.tracked(), 7u);
  expect_consistent(t);

  // The corrected socket continues from the dump's state without a resync.
  t.apply(st(22, s3 + kSec, CLOSE_WAIT, LAST_ACK));
  EXPECT_EQ(t.resyncs(), 0u);
  EXPECT_EQ(t.count(LAST_ACK), 1u);
}

TEST(StateTableTest, ReconcileTimewaitSubstateCorrected) {
  StateTable t;
  t.apply(tw(EventKind::TwStart, 40, 10 * kSec, FIN_WAIT2));
  EXPECT_EQ(t.count(FIN_WAIT2), 1u);
  t.begin_dump(20 * kSec);
  auto r = t.reconcile({rec(40, TIME_WAIT, AF_INET, kNs, true)}, {kNs}, 20 * kSec);
  EXPECT_EQ(r.corrected, 1u);
  EXPECT_EQ(r.added, 0u);
  EXPECT_EQ(r.removed, 0u);
  EXPECT_EQ(t.count(FIN_WAIT2), 0u);
  EXPECT_EQ(t.count(TIME_WAIT), 1u);
  expect_consistent(t);
}

TEST(StateTableTest, TimewaitEndedDuringDumpNotRevived) {
  StateTable t;
  t.apply(tw(EventKind::TwStart, 50, 10 * kSec));
  t.begin_dump(70 * kSec);
  t.apply(tw(EventKind::TwCancel, 50, 70 * kSec + kMs));
  t.apply(tw(EventKind::TwExpire, 50, 70 * kSec + kMs));
  auto r = t.reconcile({rec(50, TIME_WAIT, AF_INET, kNs, true)}, {kNs}, 70 * kSec);
  EXPECT_EQ(r.drift(), 0u);
  EXPECT_EQ(t.count(TIME_WAIT), 0u);
  EXPECT_EQ(t.tracked(), 0u);
  expect_consistent(t);
}

}  // namespace
}  // namespace tcpfsm
