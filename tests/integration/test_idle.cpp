// ESTABLISHED connections that pile up idle, made for real: a client
// process named as a pool opens 60 connections to a server process, each
// carries one request and its answer, then nothing. doctor names the
// service (with the server's pid) and the client (with the pool's pid). The
// same 60 connections kept busy (a byte each way every 200 ms) give nothing.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>

#include <regex>

#include "harness.hpp"

namespace tcpfsm::test {
namespace {

using nlohmann::json;
using ::testing::HasSubstr;

constexpr int kConnections = 60;

// Accepts kConnections, then answers every byte with one, until killed.
int serve(int listen_fd) {
  prctl(PR_SET_NAME, "tcpfsm-idlesrv");
  std::vector<pollfd> fds;
  for (int i = 0; i < kConnections; ++i) {
    const int c = accept(listen_fd, nullptr, nullptr);
    if (c < 0) return 1;
    fds.push_back({c, POLLIN, 0});
  }
  for (;;) {
    if (poll(fds.data(), fds.size(), -1) < 0 && errno != EINTR) return 2;
    for (auto& p : fds) {
      char b;
      if ((p.revents & POLLIN) && read(p.fd, &b, 1) == 1 && write(p.fd, &b, 1) != 1) return 3;
    }
  }
}

// Opens kConnections, one request and answer each, says so on `ready`; then
// a round every 200 ms when `busy`, else nothing, until killed.
int pool(uint16_t port, int ready, bool busy) {
  prctl(PR_SET_NAME, "tcpfsm-pool");
  std::vector<Fd> conns;
  for (int i = 0; i < kConnections; ++i) conns.push_back(connect_loopback(AF_INET, port));
  for (bool first = true;; first = false) {
    for (auto& c : conns) {
      char b = 'x';
      if (write(c.get(), &b, 1) != 1 || read(c.get(), &b, 1) != 1) return 1;
    }
    if (first && write(ready, "x", 1) != 1) return 2;
    if (!busy) pause();
    usleep(200'000);
  }
}

struct Pair {
  pid_t server = -1, client = -1;
  ~Pair() {
    for (pid_t p : {client, server}) {
      if (p <= 0) continue;
      kill(p, SIGKILL);
      wait_child(p);
    }
  }
};

// When the pool said it had made its requests: its connections are idle since.
std::chrono::steady_clock::time_point start(Pair& pair, bool busy) {
  Fd lis = listen_loopback(AF_INET);
  const uint16_t port = local_port(lis.get());
  int ready[2];
  EXPECT_EQ(pipe(ready), 0);
  pair.server = fork_child([&] { return serve(lis.get()); });
  pair.client = fork_child([&] { return pool(port, ready[1], busy); });
  char c;
  EXPECT_EQ(read(ready[0], &c, 1), 1);
  const auto since = std::chrono::steady_clock::now();
  close(ready[0]);
  close(ready[1]);
  EXPECT_EQ(ss_counts()[TCPFSM_ESTABLISHED], 2u * kConnections);
  return since;
}

// "... idle for 2.5s to 2.6s without ..." -> {2.5, 2.6}.
std::pair<double, double> idle_range(const std::string& evidence) {
  std::smatch m;
  EXPECT_TRUE(std::regex_search(evidence, m, std::regex("idle for ([0-9.]+)s to ([0-9.]+)s without"))) << evidence;
  if (m.size() < 3) return {0, 0};
  return {std::stod(m[1]), std::stod(m[2])};
}

std::string pid_text(pid_t pid, const char* comm) {
  std::string s = "pid ";
  s += std::to_string(pid);
  s += " (";
  s += comm;
  s += ", user root";
  return s;
}

TEST(DoctorIdle, AnIdlePoolIsNamedOnBothEnds) {
  Pair pair;
  const auto since = start(pair, false);
  std::this_thread::sleep_for(std::chrono::milliseconds(1500));  // plus the watch: idle for 2.5 s
  Binary bin({"doctor", "--json", "--observe", "1", "--idle-after", "2", "--netns", std::to_string(self_netns())});
  Outcome r = bin.wait();
  const double idle_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - since).count();
  ASSERT_EQ(r.status, 1) << r.out << r.err;
  const json all = json::parse(r.out);
  const auto idle = findings_of(all, "idle_established");
  ASSERT_EQ(idle.size(), 2u) << r.out;
  const json& service = idle[0]["title"].get<std::string>().find("service") != std::string::npos ? idle[0] : idle[1];
  const json& client = &service == &idle[0] ? idle[1] : idle[0];
  EXPECT_THAT(service["title"].get<std::string>(), HasSubstr("60 of 60 connections to the service on 127.0.0.1:"));
  EXPECT_THAT(service["title"].get<std::string>(), HasSubstr("are idle, held open for over 2.0s"));
  EXPECT_THAT(service["evidence"][0].get<std::string>(), HasSubstr("60 of them idle for "));
  // The kernel's clocks against the test's: idle since the requests, and past --idle-after.
  for (const json* f : {&service, &client}) {
    const auto [lo, hi] = idle_range((*f)["evidence"][0].get<std::string>());
    EXPECT_GE(lo, 2.0) << (*f)["evidence"][0];
    EXPECT_LE(lo, hi);
    EXPECT_LE(hi, idle_s + 0.1) << (*f)["evidence"][0];
  }
  EXPECT_EQ(service["evidence"][1], "clients holding them: 127.0.0.1 (60)");
  EXPECT_THAT(service["evidence"][2].get<std::string>(), HasSubstr(pid_text(pair.server, "tcpfsm-idlesrv")));
  EXPECT_THAT(service["evidence"][3].get<std::string>(), HasSubstr("0 of the 60 idle have keepalive on"));
  EXPECT_THAT(client["title"].get<std::string>(), HasSubstr(pid_text(pair.client, "tcpfsm-pool")));
  EXPECT_THAT(client["title"].get<std::string>(), HasSubstr("holds 60 idle connections of 60"));
  EXPECT_THAT(client["evidence"][1].get<std::string>(), HasSubstr("servers they go to: 127.0.0.1:"));
  EXPECT_THAT(client["evidence"][1].get<std::string>(), HasSubstr(" (60)"));
}

TEST(DoctorIdle, BusyConnectionsAsOldAreNotIdle) {
  Pair pair;
  start(pair, true);
  std::this_thread::sleep_for(std::chrono::milliseconds(1500));
  Binary bin({"doctor", "--json", "--observe", "1", "--idle-after", "2", "--netns", std::to_string(self_netns())});
  Outcome r = bin.wait();
  ASSERT_EQ(r.status, 0) << r.out << r.err;
  const json all = json::parse(r.out);
  EXPECT_TRUE(findings_of(all, "idle_established").empty()) << r.out;
  EXPECT_EQ(all[0]["id"], "healthy") << r.out;
}

}  // namespace
}  // namespace tcpfsm::test
