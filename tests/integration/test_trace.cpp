// The real BPF programs, real connections, exact outcomes.
#include <arpa/inet.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <time.h>

#include <fstream>
#include <set>
#include <thread>

#include "base/clock.hpp"
#include "harness.hpp"

namespace tcpfsm::test {
namespace {

using namespace std::chrono_literals;
using ::testing::ElementsAre;

std::string self_comm() {
  std::ifstream f("/proc/self/comm");
  std::string s;
  std::getline(f, s);
  return s;
}

struct Roles {
  std::vector<Event> listener, client, server;
};

Roles split_roles(const std::vector<Event>& events) {
  Roles r;
  for (auto& [cookie, evs] : by_socket(events)) {
    if (evs.front().oldstate == TCPFSM_CLOSE && evs.front().newstate == TCPFSM_LISTEN) r.listener = evs;
    if (evs.front().oldstate == TCPFSM_CLOSE && evs.front().newstate == TCPFSM_SYN_SENT) r.client = evs;
    if (evs.front().oldstate == TCPFSM_LISTEN && evs.front().newstate == TCPFSM_SYN_RECV) r.server = evs;
  }
  return r;
}

std::array<uint8_t, 16> loopback_bytes(int family) {
  std::array<uint8_t, 16> a{};
  if (family == AF_INET) {
    a[0] = 127;
    a[3] = 1;
  } else {
    a[15] = 1;
  }
  return a;
}

class TraceBothFamilies : public ::testing::TestWithParam<int> {};

TEST_P(TraceBothFamilies, ExactTransitionSequenceOfBothEnds) {
  const int family = GetParam();
  auto tracer = start_tracer();
  ASSERT_TRUE(tracer);
  Collector c;
  uint16_t port = 0;
  {
    Fd lis = listen_loopback(family);
    port = local_port(lis.get());
    one_connection(family, lis.get(), port);
    std::this_thread::sleep_for(20ms);
  }
  ASSERT_TRUE(poll_until(*tracer, c, [&] { return c.events.size() >= 12; }));
  drain(*tracer, c);
  ASSERT_EQ(c.events.size(), 12u);

  Roles r = split_roles(c.events);
  EXPECT_THAT(transitions(r.listener), ElementsAre("CLOSE>LISTEN", "LISTEN>CLOSE"));
  EXPECT_THAT(transitions(r.client), ElementsAre("CLOSE>SYN_SENT", "SYN_SENT>ESTABLISHED", "ESTABLISHED>FIN_WAIT1",
                                                 "FIN_WAIT1>FIN_WAIT2", "FIN_WAIT2>CLOSE"));
  EXPECT_THAT(transitions(r.server), ElementsAre("LISTEN>SYN_RECV", "SYN_RECV>ESTABLISHED", "ESTABLISHED>CLOSE_WAIT",
                                                 "CLOSE_WAIT>LAST_ACK", "LAST_ACK>CLOSE"));
  ASSERT_EQ(r.client.size(), 5u);
  ASSERT_EQ(r.server.size(), 5u);

  const uint16_t client_port = r.client[1].sport;
  EXPECT_NE(client_port, 0);
  const std::string comm = self_comm();
  for (const auto& e : c.events) {
    EXPECT_EQ(e.family, family);
    EXPECT_EQ(e.netns, self_netns());
    EXPECT_EQ(e.saddr, loopback_bytes(family));
    // Every socket here belongs to this process, whichever context ran it.
    EXPECT_EQ(e.pid, static_cast<uint32_t>(getpid()));
    EXPECT_EQ(e.comm_view(), comm);
    EXPECT_NE(e.owner, Owner::None);
    EXPECT_FALSE(e.rescued);
  }
  // Process context names the task; the accepted socket inherits the listener's owner.
  EXPECT_EQ(r.client[0].owner, Owner::Task);
  EXPECT_EQ(r.listener[0].owner, Owner::Task);
  EXPECT_EQ(r.server[0].owner, Owner::Listener);
  EXPECT_EQ(r.client[2].owner, Owner::Task);  // close() -> FIN_WAIT1

  for (size_t i = 1; i < r.client.size(); ++i) {
    EXPECT_EQ(r.client[i].sport, client_port);
    EXPECT_EQ(r.client[i].dport, port);
    EXPECT_EQ(r.client[i].daddr, loopback_bytes(family));
  }
  for (const auto& e : r.server) {
    EXPECT_EQ(e.sport, port);
    EXPECT_EQ(e.dport, client_port);
  }
  EXPECT_EQ(r.listener[0].sport, port);
  // Time in the previous state is unknown only when a socket is first seen.
  EXPECT_FALSE(r.listener[0].prev_ns);
  EXPECT_FALSE(r.client[0].prev_ns);
  EXPECT_FALSE(r.server[0].prev_ns);
  for (const auto* evs : {&r.listener, &r.client, &r.server}) {
    for (size_t i = 1; i < evs->size(); ++i) {
      ASSERT_TRUE((*evs)[i].prev_ns) << transitions(*evs)[i];
      EXPECT_EQ(*(*evs)[i].prev_ns, (*evs)[i].ts_ns - (*evs)[i - 1].ts_ns) << transitions(*evs)[i];
    }
  }
  // The client's timewait socket, under the client socket's cookie: armed as
  // an orphaned FIN_WAIT2 (it closed first), or in TIME_WAIT if the server's
  // FIN reached the full socket first.
  ASSERT_GE(c.timewait.size(), 1u);
  EXPECT_EQ(c.timewait[0].kind, EventKind::TwStart);
  EXPECT_EQ(c.timewait[0].cookie, r.client[0].cookie);
  EXPECT_THAT(c.timewait[0].newstate, ::testing::AnyOf(TCPFSM_FIN_WAIT2, TCPFSM_TIME_WAIT));
  EXPECT_EQ(c.timewait[0].sport, client_port);
  EXPECT_EQ(c.timewait[0].dport, port);
  RunCounters rc = tracer->counters().value();
  EXPECT_EQ(rc.events, 12u + c.timewait.size());
  EXPECT_EQ(rc.ringbuf_drops, 0u);
  EXPECT_EQ(rc.lost_recursion(), 0u);
  EXPECT_EQ(rc.malformed, 0u);
}

INSTANTIATE_TEST_SUITE_P(Families, TraceBothFamilies, ::testing::Values(AF_INET, AF_INET6),
                         [](const auto& info) { return info.param == AF_INET ? "IPv4" : "IPv6"; });

TEST(Trace, PrevNsMeasuresTimeHeldEstablished) {
  auto tracer = start_tracer();
  ASSERT_TRUE(tracer);
  Collector c;
  Fd lis = listen_loopback(AF_INET);
  uint16_t port = local_port(lis.get());

  uint64_t t0 = monotonic_ns();
  Fd client = connect_loopback(AF_INET, port);
  uint64_t t1 = monotonic_ns();
  Fd server = accept_one(lis.get());
  std::this_thread::sleep_for(300ms);
  uint64_t t2 = monotonic_ns();
  client.reset();
  uint64_t t3 = monotonic_ns();
  server.reset();

  ASSERT_TRUE(poll_until(*tracer, c, [&] { return c.events.size() >= 11; }));
  Roles r = split_roles(c.events);
  ASSERT_GE(r.client.size(), 3u);
  const Event& left = r.client[2];
  ASSERT_EQ(left.oldstate, TCPFSM_ESTABLISHED);
  ASSERT_TRUE(left.prev_ns);
  // Entered ESTABLISHED within connect() [t0, t1], left it within close() [t2, t3].
  EXPECT_GE(*left.prev_ns, t2 - t1);
  EXPECT_LE(*left.prev_ns, t3 - t0);
  EXPECT_GE(*left.prev_ns, 300'000'000u);
  // The kernel's event times fall inside the same windows.
  EXPECT_GE(left.ts_ns, t2);
  EXPECT_LE(left.ts_ns, t3);
}

TEST(Trace, EventsReachUserspaceWithin100msUnderLightTraffic) {
  auto tracer = start_tracer();
  ASSERT_TRUE(tracer);
  struct Arrivals : EventSink {
    uint64_t worst = 0;
    size_t n = 0;
    void on_event(const Event& e) override {
      if (e.is_timewait()) return;
      worst = std::max(worst, monotonic_ns() - e.ts_ns);
      ++n;
    }
  } sink;
  Fd lis = listen_loopback(AF_INET);
  Fd client = connect_loopback(AF_INET, local_port(lis.get()));
  auto deadline = std::chrono::steady_clock::now() + 2s;
  // Consume the way tcpfsm does: a wakeup or the poll interval, whichever first.
  while (sink.n < 5 && std::chrono::steady_clock::now() < deadline) ASSERT_TRUE(tracer->poll(sink, kConsumerPollMs));
  // Listener, client (SYN_SENT, ESTABLISHED), and the server's child (SYN_RECV, ESTABLISHED).
  ASSERT_EQ(sink.n, 5u);
  EXPECT_LT(sink.worst, 100'000'000u);
}

TEST(Trace, ZeroLossOverABurstOfFiveThousandConnections) {
  auto tracer = start_tracer();
  ASSERT_TRUE(tracer);
  Collector c;
  constexpr int kConnections = 5000;
  std::atomic<bool> done{false};
  std::thread load([&] {
    Fd lis = listen_loopback(AF_INET);
    uint16_t port = local_port(lis.get());
    for (int i = 0; i < kConnections; ++i) {
      Fd client = connect_loopback(AF_INET, port);
      Fd server = accept_one(lis.get());
      client.reset();
      server.reset();
    }
    std::this_thread::sleep_for(20ms);
    done = true;
  });
  const size_t expected = 2 + 10 * kConnections;
  bool all = poll_until(
      *tracer, c, [&] { return done && c.events.size() >= expected; }, 120s);
  load.join();
  drain(*tracer, c);
  EXPECT_TRUE(all);
  EXPECT_EQ(c.events.size(), expected);
  std::map<std::string, int> per_transition;
  for (auto& t : transitions(c.events)) ++per_transition[t];
  for (const char* t :
       {"CLOSE>SYN_SENT", "SYN_SENT>ESTABLISHED", "ESTABLISHED>FIN_WAIT1", "FIN_WAIT1>FIN_WAIT2", "FIN_WAIT2>CLOSE",
        "LISTEN>SYN_RECV", "SYN_RECV>ESTABLISHED", "ESTABLISHED>CLOSE_WAIT", "CLOSE_WAIT>LAST_ACK", "LAST_ACK>CLOSE"}) {
    EXPECT_EQ(per_transition[t], kConnections) << t;
  }
  RunCounters rc = tracer->counters().value();
  EXPECT_EQ(rc.ringbuf_drops, 0u);
  EXPECT_EQ(rc.lost_recursion(), 0u) << "kernel recursion_misses " << rc.recursion_misses << ", rescued " << rc.rescued;
  EXPECT_EQ(rc.malformed, 0u);
}

}  // namespace
}  // namespace tcpfsm::test
