// ConnectWatch and the rules on connects that do not get through: a scanner
// (many destinations, none answering) is told from a client whose one
// backend is down, and neither from a healthy client; what does not fit is
// counted.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "diagnose/rules.hpp"
#include "sample_events.hpp"

namespace tcpfsm {
namespace {

using ::testing::HasSubstr;

class Connects {
 public:
  // A connect from `pid` to a.b.c.d:port; returns its cookie.
  uint64_t start(uint32_t pid, const char* comm, std::array<uint8_t, 4> addr, uint16_t port) {
    Event e = samples::sample_v4();
    e.oldstate = TCPFSM_CLOSE;
    e.newstate = TCPFSM_SYN_SENT;
    e.pid = pid;
    samples::set_comm(e, comm);
    e.cookie = ++cookie_;
    e.daddr = {};
    std::copy(addr.begin(), addr.end(), e.daddr.begin());
    e.dport = port;
    watch.on_event(e);
    return e.cookie;
  }
  void end(uint64_t cookie, uint8_t newstate, uint8_t cause = TCPFSM_CAUSE_UNKNOWN) {
    Event e = samples::sample_v4();
    e.cookie = cookie;
    e.pid = 0;  // timers run in no process
    e.oldstate = TCPFSM_SYN_SENT;
    e.newstate = newstate;
    e.cause = cause;
    watch.on_event(e);
  }
  ConnectWatch watch;

 private:
  uint64_t cookie_ = 0;
};

DoctorInput observed(const ConnectWatch& w) {
  DoctorInput in;
  Observation o;
  o.seconds = 10;
  o.connecting = w.processes();
  keep_connect_destinations(o, w.destinations());
  o.connects_dropped = w.dropped();
  in.observation = o;
  return in;
}

TEST(ConnectWatch, AScannerABackendDownAndAHealthyClient) {
  Connects c;
  for (uint8_t i = 1; i <= 30; ++i) {  // 30 addresses on port 22; 10 given up, 20 still trying
    const uint64_t k = c.start(100, "scanner", {10, 99, 0, i}, 22);
    if (i <= 10) c.end(k, TCPFSM_CLOSE, TCPFSM_CAUSE_CONNECT_ABORTED);
  }
  for (int i = 0; i < 12; ++i) {  // one backend that does not answer
    const uint64_t k = c.start(200, "client", {10, 77, 0, 2}, 7000);
    if (i < 4) c.end(k, TCPFSM_CLOSE, TCPFSM_CAUSE_SYN_TIMEOUT);
  }
  for (int i = 0; i < 50; ++i) c.end(c.start(300, "healthy", {127, 0, 0, 1}, 80), TCPFSM_ESTABLISHED);
  for (int i = 0; i < 6; ++i) c.end(c.start(300, "healthy", {127, 0, 0, 1}, 81), TCPFSM_CLOSE, TCPFSM_CAUSE_REFUSED);

  const auto procs = c.watch.processes();
  ASSERT_EQ(procs.size(), 3u);
  EXPECT_EQ(procs[0].pid, 100u);
  EXPECT_EQ(procs[0].outcomes.attempts, 30u);
  EXPECT_EQ(procs[0].outcomes.abandoned, 10u);
  EXPECT_EQ(procs[0].outcomes.pending, 20u);
  EXPECT_EQ(procs[0].destinations, 30u);
  EXPECT_EQ(procs[0].failed_destinations, 30u);
  EXPECT_EQ(procs[0].addresses, 30u);
  EXPECT_EQ(procs[0].ports, 1u);
  EXPECT_EQ(procs[0].sample,
            (std::vector<std::string>{"10.99.0.1:22", "10.99.0.2:22", "10.99.0.3:22", "10.99.0.4:22", "10.99.0.5:22"}));

  const DoctorInput in = observed(c.watch);
  std::vector<Finding> scan, unreachable;
  check_syn_sent_scan(in, scan);
  check_syn_sent_unreachable(in, unreachable);
  ASSERT_EQ(scan.size(), 1u);
  EXPECT_EQ(
      scan[0].title,
      "pid 100 (scanner) tried 30 destinations that did not answer: a scan, or a client pointed at dead backends");
  EXPECT_THAT(scan[0].evidence[0], HasSubstr("30 connects during the 10 s watched to 30 destinations (30 addresses, 1 "
                                             "ports): 0 established, 0 refused, 0 no answer, 0 unreachable, 10 given "
                                             "up by the process, 20 still in SYN_SENT"));
  ASSERT_EQ(unreachable.size(), 2u);
  EXPECT_EQ(unreachable[0].title, "connects to 10.77.0.2:7000 get no answer: a backend down or a dead path");
  EXPECT_THAT(unreachable[0].evidence[0], HasSubstr("4 no answer"));
  EXPECT_THAT(unreachable[0].evidence[0], HasSubstr("8 still in SYN_SENT"));
  EXPECT_EQ(unreachable[0].evidence[1], "tried by: client (200)");
  EXPECT_EQ(unreachable[1].title, "connects to 127.0.0.1:81 are refused: nothing listens there");
}

TEST(ConnectWatch, FewDestinationsOrAnsweredOnesAreNoScan) {
  Connects c;
  for (uint8_t i = 1; i <= 19; ++i) c.start(100, "few", {10, 99, 0, i}, 22);
  for (uint8_t i = 1; i <= 30; ++i) c.end(c.start(101, "crawler", {10, 98, 0, i}, 80), TCPFSM_ESTABLISHED);
  std::vector<Finding> scan;
  check_syn_sent_scan(observed(c.watch), scan);
  EXPECT_TRUE(scan.empty());
}

TEST(ConnectWatch, WhatDoesNotFitIsCounted) {
  Connects c;
  const size_t n = ConnectWatch::kMaxDestinations + 10;
  for (size_t i = 0; i < n; ++i)
    c.start(100, "wide", {10, static_cast<uint8_t>(i >> 16), static_cast<uint8_t>(i >> 8), static_cast<uint8_t>(i)},
            22);
  EXPECT_EQ(c.watch.dropped(), 10u);
  const auto procs = c.watch.processes();
  ASSERT_EQ(procs.size(), 1u);
  EXPECT_TRUE(procs[0].folded);
  EXPECT_EQ(procs[0].destinations, ConnectWatch::kMaxDestinations);
  std::vector<Finding> scan;
  check_syn_sent_scan(observed(c.watch), scan);
  ASSERT_EQ(scan.size(), 1u);
  EXPECT_THAT(scan[0].title, HasSubstr("tried at least 4096 destinations"));
  EXPECT_THAT(scan[0].evidence.back(), HasSubstr("10 connects not followed"));
}

// Each backend down gets its finding, up to the 20 doctor judges; every one of
// them says how many more were only counted.
TEST(ConnectWatch, DestinationsPastTheJudgedOnesAreCounted) {
  Connects c;
  for (uint8_t b = 1; b <= kConnectDestinationsKept + 5; ++b)
    for (int i = 0; i < 12; ++i)
      c.end(c.start(200 + b, "client", {10, 77, 1, b}, 7000), TCPFSM_CLOSE, TCPFSM_CAUSE_SYN_TIMEOUT);
  for (int i = 0; i < 3; ++i) c.end(c.start(300, "healthy", {127, 0, 0, 1}, 80), TCPFSM_ESTABLISHED);
  const DoctorInput in = observed(c.watch);
  EXPECT_EQ(in.observation->connect_destinations.size(), kConnectDestinationsKept);
  EXPECT_EQ(in.observation->connect_destinations_folded, 5u);  // the healthy one has no failure
  std::vector<Finding> unreachable;
  check_syn_sent_unreachable(in, unreachable);
  ASSERT_EQ(unreachable.size(), kConnectDestinationsKept);
  for (const auto& f : unreachable)
    EXPECT_EQ(f.evidence.back(),
              "5 more destinations had failed connects: not judged one by one (doctor keeps the 20 with the most)");
}

}  // namespace
}  // namespace tcpfsm
