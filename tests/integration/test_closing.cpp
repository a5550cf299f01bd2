// Closing sockets that wait for an ACK that does not come, made for real:
// FIN_WAIT1 over a dead path (a veth pair with a blackhole route on the far
// side: our FIN arrives, its ACK never comes back) and FIN_WAIT1 to a peer
// that stopped reading (a zero window holds our data and the FIN behind it).
// `doctor` names each for what it is, per peer; healthy closes under load
// give no finding.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <poll.h>

#include <map>
#include <nlohmann/json.hpp>
#include <thread>

#include "harness.hpp"

namespace tcpfsm::test {
namespace {

using namespace std::chrono_literals;
using nlohmann::json;

constexpr int kStalled = 6;

// A blocking connect to the far side of `path`, while it is alive.
Fd connect_there(uint16_t port) {
  Fd c = DeadPath::start_connect(port);
  pollfd p{c.get(), POLLOUT, 0};
  EXPECT_EQ(poll(&p, 1, 2000), 1);
  return c;
}

TEST(DoctorClosing, ADeadPathAndAPeerThatDoesNotReadEachGetTheirFinding) {
  DeadPath path;
  ASSERT_TRUE(path.ok());
  // Healthy closes first, under load: 50 connections, each through FIN_WAIT1.
  Fd lis = listen_loopback(AF_INET);
  const uint16_t port = local_port(lis.get());
  for (int i = 0; i < 50; ++i) one_connection(AF_INET, lis.get(), port);

  // The dead path: connected while alive, cut, then closed here.
  Fd far_lis = path.listen_there(7100);
  std::vector<Fd> far_ends;
  std::vector<Fd> dead;
  for (int i = 0; i < kStalled; ++i) {
    dead.push_back(connect_there(7100));
    far_ends.push_back(accept_one(far_lis.get()));
  }
  path.cut();
  for (auto& c : dead) c.reset();

  // The peer that does not read: its window fills, then we close.
  Fd small = Fd(socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  const int rcvbuf = 4096;
  ASSERT_EQ(setsockopt(small.get(), SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof(rcvbuf)), 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(bind(small.get(), reinterpret_cast<sockaddr*>(&a), sizeof(a)), 0);
  ASSERT_EQ(listen(small.get(), 16), 0);
  const uint16_t small_port = local_port(small.get());
  std::vector<Fd> readers;
  for (int i = 0; i < kStalled; ++i) {
    Fd c = connect_loopback(AF_INET, small_port);
    readers.push_back(accept_one(small.get()));
    ASSERT_EQ(fcntl(c.get(), F_SETFL, O_NONBLOCK), 0);
    std::vector<char> chunk(65536, 'x');
    while (write(c.get(), chunk.data(), chunk.size()) > 0) {
    }
    ASSERT_EQ(errno, EAGAIN);
    c.reset();  // FIN_WAIT1: the FIN waits behind data the peer has no room for
  }
  // A few retransmission timeouts (200 ms, then doubling) on the dead path.
  std::this_thread::sleep_for(1500ms);
  EXPECT_EQ(ss_counts()[TCPFSM_FIN_WAIT1], 2u * kStalled);

  Binary bin({"doctor", "--json", "--observe", "1", "--netns", std::to_string(self_netns())});
  Outcome r = bin.wait();
  ASSERT_EQ(r.status, 1) << r.out << r.err;
  const json all = json::parse(r.out);
  const auto stuck = findings_of(all, "fin_wait1_stuck");
  ASSERT_EQ(stuck.size(), 2u) << r.out;
  const json* dead_f = nullptr;
  const json* window_f = nullptr;
  for (const auto& f : stuck) {
    if (f["title"].get<std::string>().find("10.77.0.2") != std::string::npos) dead_f = &f;
    if (f["title"].get<std::string>().find("127.0.0.1") != std::string::npos) window_f = &f;
  }
  ASSERT_NE(dead_f, nullptr) << r.out;
  ASSERT_NE(window_f, nullptr) << r.out;
  EXPECT_EQ((*dead_f)["severity"], "warning");
  EXPECT_THAT((*dead_f)["title"].get<std::string>(),
              ::testing::HasSubstr("6 sockets in FIN_WAIT1 to 10.77.0.2 get no ACK: a dead path or a dead peer"));
  EXPECT_THAT(
      (*dead_f)["evidence"][0].get<std::string>(),
      ::testing::HasSubstr("6 sockets in FIN_WAIT1 to 10.77.0.2 (6 orphaned): 6 retransmitting without an ACK"));
  EXPECT_THAT((*dead_f)["evidence"][0].get<std::string>(), ::testing::HasSubstr("0 probing a zero window"));
  EXPECT_THAT((*dead_f)["explanation"].get<std::string>(), ::testing::HasSubstr("tcp_orphan_retries"));
  EXPECT_THAT((*window_f)["title"].get<std::string>(),
              ::testing::HasSubstr("6 sockets in FIN_WAIT1 to 127.0.0.1: the peer's window is closed"));
  EXPECT_THAT((*window_f)["evidence"][0].get<std::string>(), ::testing::HasSubstr("6 probing a zero window"));
  // The 50 healthy closes are in TIME_WAIT or gone: nothing names them.
  EXPECT_TRUE(findings_of(all, "last_ack_stuck").empty());
  // Orphans retry for minutes: gone before the next test counts sockets.
  sh("ss -K state fin-wait-1");
  EXPECT_EQ(ss_counts()[TCPFSM_FIN_WAIT1], 0u);
}

// The pile was there before tcpfsm: a one-shot `leaks --min-age 1` dates
// each socket from what the kernel keeps, as a lower bound (~): SYN_SENT to
// a dead path by its SYN timeouts (1 s, then 2 s), FIN_WAIT1 with only its
// FIN outstanding by the FIN's timeouts (200 ms at least, doubling), and an
// orphaned FIN_WAIT2 by how much of tcp_fin_timeout its timer has used.
TEST(LeaksFoundStuck, AOneShotPassDatesWhatWasStuckBeforeIt) {
  DeadPath path;
  ASSERT_TRUE(path.ok());
  Fd far_lis = path.listen_there(7101);
  std::vector<Fd> far_ends, fins;
  for (int i = 0; i < kStalled; ++i) {
    fins.push_back(connect_there(7101));
    far_ends.push_back(accept_one(far_lis.get()));
  }
  path.cut();
  for (auto& c : fins) c.reset();  // FIN_WAIT1, orphaned: the FIN alone outstanding
  std::vector<Fd> syns;
  for (int i = 0; i < kStalled; ++i) syns.push_back(DeadPath::start_connect(7102));
  Fd lis = listen_loopback(AF_INET);
  const uint16_t port = local_port(lis.get());
  std::vector<Fd> holders;
  for (int i = 0; i < kStalled; ++i) {
    Fd c = connect_loopback(AF_INET, port);
    holders.push_back(accept_one(lis.get()));
    c.reset();  // FIN_WAIT2 here once the peer ACKs; the peer never closes
  }
  std::this_thread::sleep_for(4s);
  const auto ss = ss_counts();
  ASSERT_EQ(ss.at(TCPFSM_SYN_SENT), static_cast<uint64_t>(kStalled));
  ASSERT_EQ(ss.at(TCPFSM_FIN_WAIT1), static_cast<uint64_t>(kStalled));
  ASSERT_EQ(ss.at(TCPFSM_FIN_WAIT2), static_cast<uint64_t>(kStalled));

  Binary bin({"leaks", "--json", "--min-age", "1", "--netns", std::to_string(self_netns())});
  Outcome r = bin.wait();
  ASSERT_EQ(r.status, 0) << r.err;
  const json groups = json::parse(r.out);
  std::map<std::string, json> by_state;
  for (const auto& g : groups) by_state[g["state"].get<std::string>()] = g;
  // The peers of the orphaned FIN_WAIT2 are ours, in CLOSE_WAIT (dated by the last ACK).
  ASSERT_EQ(by_state.size(), 4u) << r.out;
  EXPECT_EQ(by_state["CLOSE_WAIT"]["owner"], "process");
  for (const auto& [state, g] : by_state) {
    EXPECT_EQ(g["count"], kStalled) << state;
    EXPECT_EQ(g["ages_exact"], false) << state;
  }
  // Two SYN timeouts by 4 s: at least 3 s in SYN_SENT.
  EXPECT_GE(by_state["SYN_SENT"]["newest_s"].get<double>(), 3.0);
  EXPECT_LE(by_state["SYN_SENT"]["oldest_s"].get<double>(), 4.5);
  // Three FIN timeouts at least (200 ms, 400, 800): 1.4 s.
  EXPECT_GE(by_state["FIN_WAIT1"]["newest_s"].get<double>(), 1.4);
  EXPECT_EQ(by_state["FIN_WAIT1"]["owner"], "orphaned");
  EXPECT_EQ(by_state["FIN_WAIT1"]["retransmitting"], kStalled);
  EXPECT_EQ(by_state["FIN_WAIT1"]["unacked_segments"], kStalled);  // the FINs
  // 4 s of the 60 s timer used, read to the millisecond it reports.
  EXPECT_GE(by_state["FIN_WAIT2"]["newest_s"].get<double>(), 3.9);
  EXPECT_LE(by_state["FIN_WAIT2"]["oldest_s"].get<double>(), 5.0);
  EXPECT_EQ(by_state["FIN_WAIT2"]["owner"], "orphaned");
  sh("ss -K state fin-wait-1");
  holders.clear();  // the orphaned FIN_WAIT2 get their FIN: TIME_WAIT
}

}  // namespace
}  // namespace tcpfsm::test
