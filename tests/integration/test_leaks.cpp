// `tcpfsm leaks` against real leaks: a process that never closes the
// connections its server closed, a control that closes promptly, a leaker
// started before tcpfsm, one whose sockets are shared with its child, and
// one that is killed.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>

#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <thread>

#include "diagnose/doctor.hpp"
#include "harness.hpp"

namespace tcpfsm::test {
namespace {

using namespace std::chrono_literals;
using nlohmann::json;

constexpr int kLeaked = 5;

// A server that accepts and closes at once, forever.
pid_t start_closing_server(int listen_fd) {
  return fork_child([listen_fd] {
    prctl(PR_SET_NAME, "closer-srv");
    for (;;) {
      int c = accept(listen_fd, nullptr, nullptr);
      if (c >= 0) close(c);
    }
    return 0;
  });
}

// Makes `n` connections and keeps them open; with `share`, forks a child
// that inherits them. Writes one byte to `ready` once done, then waits to
// be killed.
pid_t start_leaker(const char* name, uint16_t port, int n, int ready, bool share = false) {
  return fork_child([=] {
    prctl(PR_SET_NAME, name);
    std::vector<Fd> keep;
    for (int i = 0; i < n; ++i) keep.push_back(connect_loopback(AF_INET, port));
    // Until the server's FIN arrived, the sockets are not in CLOSE_WAIT yet.
    for (auto& fd : keep) {
      char b;
      if (read(fd.get(), &b, 1) != 0) return 3;
    }
    if (share && fork_child([] {
                   prctl(PR_SET_NAME, "leaker-kid");
                   prctl(PR_SET_PDEATHSIG, SIGKILL);
                   pause();
                   return 0;
                 }) < 0)
      return 4;
    if (write(ready, "x", 1) != 1) return 5;
    pause();
    return 0;
  });
}

// Connects `n` times and closes each end as soon as the server has closed.
pid_t start_control(uint16_t port, int n, int ready) {
  return fork_child([=] {
    prctl(PR_SET_NAME, "prompt-closer");
    for (int i = 0; i < n; ++i) {
      Fd fd = connect_loopback(AF_INET, port);
      char b;
      if (read(fd.get(), &b, 1) != 0) return 3;
    }
    if (write(ready, "x", 1) != 1) return 5;
    pause();
    return 0;
  });
}

void wait_ready(int fd) {
  char b;
  ASSERT_EQ(read(fd, &b, 1), 1);
}

void stop(pid_t pid) {
  kill(pid, SIGKILL);
  waitpid(pid, nullptr, 0);
}

std::vector<json> groups_of(const json& report, const std::string& state) {
  std::vector<json> out;
  for (const auto& g : report) {
    if (g["state"] == state) out.push_back(g);
  }
  return out;
}

const json* group_of_pid(const json& report, pid_t pid) {
  for (const auto& g : report) {
    if (g["pid"].is_number() && g["pid"].get<pid_t>() == pid) return &g;
  }
  return nullptr;
}

int g_or_zero(const json& report, pid_t pid) {
  const json* g = group_of_pid(report, pid);
  return g ? (*g)["count"].get<int>() : 0;
}

class LeaksTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_EQ(pipe(ready_), 0);
    lis_ = listen_loopback(AF_INET);
    port_ = local_port(lis_.get());
    server_ = start_closing_server(lis_.get());
  }
  void TearDown() override {
    for (pid_t p : children_) stop(p);
    stop(server_);
    close(ready_[0]);
    close(ready_[1]);
  }
  std::vector<json> reports(const std::string& out) {
    std::vector<json> r;
    for (const auto& l : lines(out)) r.push_back(json::parse(l));
    return r;
  }

  int ready_[2] = {-1, -1};
  Fd lis_;
  uint16_t port_ = 0;
  pid_t server_ = -1;
  std::vector<pid_t> children_;
};

TEST_F(LeaksTest, NamesTheLeakerWithItsPeerNotTheControlAndForgetsItOnceKilled) {
  Binary bin({"leaks", "--json", "--watch", "1", "--min-age", "1", "--duration", "8", "--netns",
              std::to_string(self_netns())});
  std::this_thread::sleep_for(1s);  // attached: the leak is traced from its start
  pid_t leaker = start_leaker("leaker", port_, kLeaked, ready_[1]);
  pid_t control = start_control(port_, kLeaked, ready_[1]);
  children_ = {leaker, control};
  wait_ready(ready_[0]);
  wait_ready(ready_[0]);
  std::this_thread::sleep_for(3500ms);
  stop(leaker);
  children_ = {control};
  Outcome r = bin.wait();
  ASSERT_EQ(r.status, 0) << r.err;
  auto reps = reports(r.out);
  ASSERT_GE(reps.size(), 6u) << r.out;

  bool named = false, orphans = false;
  for (const auto& rep : reps) {
    EXPECT_EQ(group_of_pid(rep, control), nullptr) << "a process that closes promptly appeared: " << rep.dump();
    EXPECT_EQ(group_of_pid(rep, server_), nullptr) << rep.dump();
    if (const json* g = group_of_pid(rep, leaker)) {
      named = true;
      EXPECT_EQ((*g)["state"], "CLOSE_WAIT");
      EXPECT_EQ((*g)["comm"], "leaker");
      EXPECT_EQ((*g)["count"], kLeaked);
      EXPECT_EQ((*g)["owner"], "process");
      EXPECT_EQ((*g)["ages_exact"], true);  // seen entering CLOSE_WAIT
      EXPECT_GE((*g)["oldest_s"].get<double>(), 1.0);
      EXPECT_LT((*g)["oldest_s"].get<double>(), 6.0);
      EXPECT_THAT((*g)["cmdline"].get<std::string>(), ::testing::HasSubstr("tcpfsm_integration_tests"));
      ASSERT_EQ((*g)["peers"].size(), 1u);
      EXPECT_EQ((*g)["peers"][0]["addr"], "127.0.0.1");
      EXPECT_EQ((*g)["peers"][0]["port"], port_);
      EXPECT_EQ((*g)["peers"][0]["count"], kLeaked);
      EXPECT_EQ((*g)["distinct_local_ports"], kLeaked);
    }
    // The server closed its ends: they wait in FIN_WAIT2 for the leaker's
    // FIN, orphaned, pinned on nobody.
    for (const auto& g : groups_of(rep, "FIN_WAIT2")) {
      EXPECT_EQ(g["owner"], "orphaned") << g.dump();
      EXPECT_TRUE(g["pid"].is_null());
      if (g["count"] == kLeaked) orphans = true;
    }
  }
  EXPECT_TRUE(named) << r.out;
  EXPECT_TRUE(orphans) << r.out;
  // Killed: its sockets closed with it, and the report forgets it.
  EXPECT_EQ(group_of_pid(reps.back(), leaker), nullptr) << reps.back().dump();
  EXPECT_TRUE(groups_of(reps.back(), "CLOSE_WAIT").empty()) << reps.back().dump();
}

TEST_F(LeaksTest, FindsALeakerStartedBeforeTcpfsmAndEachProcessSharingItsSockets) {
  pid_t leaker = start_leaker("old-leaker", port_, kLeaked, ready_[1], /*share=*/true);
  pid_t control = start_control(port_, kLeaked, ready_[1]);
  children_ = {leaker, control};
  wait_ready(ready_[0]);
  wait_ready(ready_[0]);
  std::this_thread::sleep_for(2s);
  Binary bin({"leaks", "--json", "--min-age", "1", "--netns", std::to_string(self_netns())});
  Outcome r = bin.wait();
  ASSERT_EQ(r.status, 0) << r.err;
  auto reps = reports(r.out);
  ASSERT_EQ(reps.size(), 1u) << r.out;
  const json& rep = reps[0];

  auto cw = groups_of(rep, "CLOSE_WAIT");
  ASSERT_EQ(cw.size(), 2u) << rep.dump();  // the leaker and the child that inherited its sockets
  std::set<std::string> comms;
  for (const auto& g : cw) {
    comms.insert(g["comm"].get<std::string>());
    EXPECT_EQ(g["count"], kLeaked);
    EXPECT_EQ(g["ages_exact"], false);  // found, not seen entering
    EXPECT_GE(g["oldest_s"].get<double>(), 1.5);
    EXPECT_LT(g["oldest_s"].get<double>(), 30.0);
    EXPECT_EQ(g["peers"][0]["port"], port_);
  }
  EXPECT_EQ(comms, (std::set<std::string>{"old-leaker", "leaker-kid"}));
  ASSERT_NE(group_of_pid(rep, leaker), nullptr);
  EXPECT_EQ(group_of_pid(rep, control), nullptr);
}

TEST_F(LeaksTest, StatsShowsTheLeakerInItsStuckSection) {
  Binary bin({"stats", "--json", "--interval", "1", "--duration", "6", "--stuck-min-age", "1", "--netns",
              std::to_string(self_netns())});
  std::this_thread::sleep_for(1s);
  pid_t leaker = start_leaker("stats-leaker", port_, kLeaked, ready_[1]);
  children_ = {leaker};
  wait_ready(ready_[0]);
  Outcome r = bin.wait();
  ASSERT_EQ(r.status, 0) << r.err;
  bool named = false;
  for (const auto& rep : reports(r.out)) {
    if (rep["stuck"].is_null()) continue;
    if (const json* g = group_of_pid(rep["stuck"], leaker)) {
      named = true;
      EXPECT_EQ((*g)["state"], "CLOSE_WAIT");
      EXPECT_EQ((*g)["comm"], "stats-leaker");
      EXPECT_EQ((*g)["count"], kLeaked);
    }
    // The gauge agrees with the section.
    EXPECT_GE(rep["states"]["CLOSE_WAIT"].get<int>(), g_or_zero(rep["stuck"], leaker));
  }
  EXPECT_TRUE(named) << r.out;
}

// tcpfsm doctor on a namespace with a CLOSE_WAIT leak and a server that
// closes first (so its side piles up TIME_WAIT).
TEST_F(LeaksTest, DoctorFindsTheLeakAndTheServerSideTimeWait) {
  constexpr int kLeak = 20, kPrompt = 120;
  pid_t leaker = start_leaker("doc-leaker", port_, kLeak, ready_[1]);
  pid_t control = start_control(port_, kPrompt, ready_[1]);
  children_ = {leaker, control};
  wait_ready(ready_[0]);
  wait_ready(ready_[0]);
  std::this_thread::sleep_for(2500ms);
  Binary bin({"doctor", "--json", "--observe", "2", "--netns", std::to_string(self_netns())});
  Outcome r = bin.wait();
  ASSERT_EQ(r.status, 1) << r.out << r.err;  // warnings found
  json findings = json::parse(r.out);
  const json* leak = nullptr;
  const json* server = nullptr;
  for (const auto& f : findings) {
    for (const char* k : {"id", "severity", "title", "evidence", "explanation", "action"}) {
      EXPECT_TRUE(f.contains(k)) << k << " missing in " << f.dump();
    }
    if (f["id"] == "close_wait_leak") leak = &f;
    if (f["id"] == "server_closes_first") server = &f;
  }
  ASSERT_NE(leak, nullptr) << r.out;
  EXPECT_EQ((*leak)["severity"], "warning");
  EXPECT_THAT((*leak)["title"].get<std::string>(),
              ::testing::HasSubstr("pid " + std::to_string(leaker) + " (doc-leaker"));
  EXPECT_THAT((*leak)["evidence"][0].get<std::string>(), ::testing::HasSubstr("20 sockets in CLOSE_WAIT"));
  EXPECT_THAT((*leak)["evidence"][1].get<std::string>(),
              ::testing::HasSubstr("127.0.0.1:" + std::to_string(port_) + " (20)"));
  ASSERT_NE(server, nullptr) << r.out;
  EXPECT_THAT(
      (*server)["evidence"][0].get<std::string>(),
      ::testing::HasSubstr("on listening ports: " + std::to_string(port_) + " (" + std::to_string(kPrompt) + ")"));
}

// doctor --netns reads the settings and counters of the namespace it
// diagnoses, not its own: a namespace with tcp_max_tw_buckets 20 that made
// 80 TIME_WAIT sockets (60 overflowed) is quoted with its own limit, its own
// sockstat and its own overflow count, as /proc/PID/net of a process in it
// says.
TEST(DoctorNetns, QuotesTheLimitsAndCountersOfTheNamespaceDiagnosed) {
  int ready[2], done[2];
  ASSERT_EQ(pipe(ready), 0);
  ASSERT_EQ(pipe(done), 0);
  NetnsChild child = fork_in_new_netns([&]() -> int {
    std::ofstream("/proc/sys/net/ipv4/tcp_max_tw_buckets") << "20" << std::flush;
    Fd lis = listen_loopback(AF_INET);
    const uint16_t port = local_port(lis.get());
    for (int i = 0; i < 80; ++i) one_connection(AF_INET, lis.get(), port);
    char c = 'r';
    if (write(ready[1], &c, 1) != 1) return 1;
    if (read(done[0], &c, 1) < 0) return 2;
    return 0;
  });
  ASSERT_NE(child.netns, 0u);
  child.release();
  char c;
  ASSERT_EQ(read(ready[0], &c, 1), 1);
  auto counters = [&](const char* file) {
    std::ifstream f("/proc/" + std::to_string(child.pid) + "/net/" + file);
    std::stringstream ss;
    ss << f.rdbuf();
    return ss.str();
  };
  const auto overflow = parse_proc_netstat(counters("netstat")).at("TcpExt.TCPTimeWaitOverflow");
  const auto tw = parse_sockstat(counters("sockstat")).at("TCP.tw");
  EXPECT_EQ(overflow, 60);
  EXPECT_EQ(tw, 20);

  Binary bin({"doctor", "--json", "--observe", "1", "--netns", std::to_string(child.netns)});
  Outcome r = bin.wait();
  if (write(done[1], "x", 1) != 1) ADD_FAILURE();
  EXPECT_EQ(wait_child(child.pid), 0);
  for (int fd : {ready[0], ready[1], done[0], done[1]}) close(fd);
  ASSERT_EQ(r.status, 1) << r.out << r.err;  // TIME_WAIT at its limit: a warning
  const json findings = json::parse(r.out);
  const json* limit = nullptr;
  for (const auto& f : findings)
    if (f["id"] == "timewait_limit") limit = &f;
  ASSERT_NE(limit, nullptr) << r.out;
  EXPECT_EQ((*limit)["severity"], "warning");
  EXPECT_THAT(
      (*limit)["evidence"][0].get<std::string>(),
      ::testing::HasSubstr(std::to_string(tw) + " TIME_WAIT sockets (/proc/net/sockstat), tcp_max_tw_buckets = 20"));
  EXPECT_THAT((*limit)["evidence"][1].get<std::string>(),
              ::testing::HasSubstr("+0 during the 1 s watched, " + std::to_string(overflow) + " since boot"));
}

TEST_F(LeaksTest, TextReportNamesTheLeaker) {
  pid_t leaker = start_leaker("txt-leaker", port_, kLeaked, ready_[1]);
  children_ = {leaker};
  wait_ready(ready_[0]);
  std::this_thread::sleep_for(1500ms);
  Binary bin({"leaks", "--min-age", "1", "--netns", std::to_string(self_netns())});
  Outcome r = bin.wait();
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_THAT(r.out, ::testing::HasSubstr("CLOSE_WAIT: 5 sockets held for more than 1.0s, by 1 holder"));
  EXPECT_THAT(r.out, ::testing::HasSubstr(std::to_string(leaker)));
  EXPECT_THAT(r.out, ::testing::HasSubstr("txt-leaker"));
  EXPECT_THAT(r.out, ::testing::HasSubstr("127.0.0.1:" + std::to_string(port_) + " (5)"));
}

}  // namespace
}  // namespace tcpfsm::test
