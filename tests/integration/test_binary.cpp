// build/tcpfsm run the way a user runs it.
#include <fcntl.h>
#include <gmock/gmock.h>
#include <grp.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>

#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <thread>

#include "harness.hpp"

namespace tcpfsm::test {
namespace {

using namespace std::chrono_literals;
using nlohmann::json;

std::string netns_arg() { return std::to_string(self_netns()); }

void connection_after_start() {
  std::this_thread::sleep_for(1s);  // load and attach take well under a second
  Fd lis = listen_loopback(AF_INET);
  one_connection(AF_INET, lis.get(), local_port(lis.get()));
  std::this_thread::sleep_for(20ms);
}

TEST(Binary, TraceJsonShowsAConnectionAndASummary) {
  Binary bin({"trace", "--json", "--duration", "2", "--netns", netns_arg()});
  connection_after_start();
  Outcome r = bin.wait();
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_EQ(r.err, "") << "nothing on stderr without -v or losses";
  auto ls = lines(r.out);
  // 12 transitions, the client's timewait socket, and the summary. The
  // client closed first, so its timewait socket is usually armed as an
  // orphaned FIN_WAIT2 and then seen in TIME_WAIT by the sweep; when the
  // ACK of its FIN is processed late, the server's FIN finds the full socket
  // still in FIN_WAIT2 and it goes straight to TIME_WAIT.
  ASSERT_GE(ls.size(), 14u) << r.out;
  std::vector<std::string> seen, timewait;
  uint64_t client_cookie = 0;
  for (size_t i = 0; i + 1 < ls.size(); ++i) {
    json j = json::parse(ls[i]);
    if (j["type"] == "timewait") {
      timewait.push_back(j["event"].get<std::string>() + ":" + j["substate"].get<std::string>());
      EXPECT_EQ(j["cookie"], client_cookie) << "the timewait socket carries the client socket's cookie";
      continue;
    }
    EXPECT_EQ(j["type"], "state");
    if (j["old"] == "CLOSE" && j["new"] == "SYN_SENT") client_cookie = j["cookie"].get<uint64_t>();
    for (const char* key : {"ts", "sk", "comm", "family", "saddr", "daddr", "old", "new"})
      EXPECT_TRUE(j[key].is_string()) << key;
    for (const char* key : {"pid", "netns", "sport", "dport", "cookie", "mono_ns"})
      EXPECT_TRUE(j[key].is_number_unsigned()) << key;
    EXPECT_TRUE(j["prev_ns"].is_null() || j["prev_ns"].is_number_unsigned());
    EXPECT_EQ(j["netns"], self_netns());
    EXPECT_EQ(j["family"], "ipv4");
    EXPECT_EQ(j["saddr"], "127.0.0.1");
    EXPECT_EQ(j["pid"], getpid());
    EXPECT_THAT(j["ts"].get<std::string>(),
                ::testing::MatchesRegex("[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9:]{8}\\.[0-9]{9}Z"));
    seen.push_back(j["old"].get<std::string>() + ">" + j["new"].get<std::string>());
  }
  EXPECT_THAT(timewait, ::testing::AnyOf(::testing::ElementsAre("start:FIN_WAIT2", "substate:TIME_WAIT"),
                                         ::testing::ElementsAre("start:TIME_WAIT")));
  EXPECT_THAT(
      seen, ::testing::UnorderedElementsAre("CLOSE>LISTEN", "CLOSE>SYN_SENT", "SYN_SENT>ESTABLISHED", "LISTEN>SYN_RECV",
                                            "SYN_RECV>ESTABLISHED", "ESTABLISHED>FIN_WAIT1", "ESTABLISHED>CLOSE_WAIT",
                                            "FIN_WAIT1>FIN_WAIT2", "CLOSE_WAIT>LAST_ACK", "FIN_WAIT2>CLOSE",
                                            "LAST_ACK>CLOSE", "LISTEN>CLOSE"));
  json summary = json::parse(ls.back());
  EXPECT_EQ(summary["type"], "summary");
  EXPECT_EQ(summary["counters"]["events"], ls.size() - 1);
  EXPECT_EQ(summary["lost"], 0);
  for (const char* key : {"ringbuf_drops", "recursion_misses", "rescued", "malformed", "timewait_substate_untracked",
                          "uncounted", "timer_recursion_misses"})
    EXPECT_TRUE(summary["counters"][key].is_number_unsigned()) << key;
}

TEST(Binary, TraceTextHasTcpstatesColumnsAndEndsCleanlyOnSigterm) {
  Binary bin({"trace", "-T", "--netns", netns_arg()});
  connection_after_start();
  std::this_thread::sleep_for(300ms);
  bin.signal(SIGTERM);
  Outcome r = bin.wait();
  ASSERT_EQ(r.status, 0) << r.err;
  auto ls = lines(r.out);
  ASSERT_EQ(ls.size(), 13u) << r.out;
  EXPECT_THAT(ls[0], ::testing::MatchesRegex("TIME +SKADDR +PID +COMM +LADDR +LPORT +RADDR +RPORT +OLDSTATE +-> "
                                             "+NEWSTATE +MS"));
  for (size_t i = 1; i < ls.size(); ++i) {
    EXPECT_THAT(ls[i],
                ::testing::MatchesRegex("[0-9:.]{15} [0-9a-f]{16} [0-9]+ +[^ ]+ +127\\.0\\.0\\.1 +[0-9]+ +[0-9.]+ "
                                        "+[0-9]+ +[A-Z_0-9]+ +-> [A-Z_0-9]+ +([0-9]+\\.[0-9]{3}|-)"));
  }
  // 12 transitions + 1 or 2 timewait records (see above)
  EXPECT_THAT(r.err, ::testing::ContainsRegex("1[34] events, 0 lost"));
}

TEST(Binary, StatsReplayOfATraceCaptureGivesTheLiveTables) {
  Binary trace({"trace", "--json", "--duration", "3", "--netns", netns_arg()});
  Binary stats({"stats", "--json", "--interval", "0", "--duration", "3", "--netns", netns_arg()});
  std::this_thread::sleep_for(1s);
  Fd lis = listen_loopback(AF_INET);
  for (int i = 0; i < 3; ++i) one_connection(AF_INET, lis.get(), local_port(lis.get()));
  Outcome t = trace.wait();
  Outcome s = stats.wait();
  ASSERT_EQ(t.status, 0) << t.err;
  ASSERT_EQ(s.status, 0) << s.err;
  char path[] = "/tmp/tcpfsm-capture-XXXXXX";
  int fd = mkstemp(path);
  ASSERT_EQ(write(fd, t.out.data(), t.out.size()), static_cast<ssize_t>(t.out.size()));
  close(fd);
  Binary replay({"stats", "--replay", path, "--json"});
  Outcome r = replay.wait();
  unlink(path);
  ASSERT_EQ(r.status, 0) << r.err;

  json live = json::parse(s.out), again = json::parse(r.out);
  EXPECT_EQ(live["type"], "stats");
  EXPECT_EQ(live["transitions"], again["transitions"]);
  EXPECT_EQ(live["states"], again["states"]);
  EXPECT_EQ(live["timewait_ends"], again["timewait_ends"]);
  EXPECT_EQ(live["transitions"]["CLOSE>SYN_SENT"], 3);
  EXPECT_EQ(live["states"]["TIME_WAIT"], 3);
  // Each tracer instance times sockets with its own BPF storage, so the two
  // runs differ by the time between their programs' runs on the same event:
  // nanoseconds, or tens of microseconds when an interrupt falls between them
  // (a clean-clone run saw 5.9 us). Counts are exact.
  for (const char* st : {"SYN_SENT", "ESTABLISHED", "FIN_WAIT1", "CLOSE_WAIT", "LAST_ACK", "LISTEN"}) {
    EXPECT_EQ(live["lifetimes"][st]["count"], again["lifetimes"][st]["count"]) << st;
    for (const char* k : {"min_ns", "max_ns"}) {
      double a = live["lifetimes"][st][k].get<double>(), b = again["lifetimes"][st][k].get<double>();
      EXPECT_NEAR(a, b, 50'000 + 0.01 * a) << st << " " << k;
    }
  }
  EXPECT_EQ(live["lifetimes"]["ESTABLISHED"]["count"], 6);
  EXPECT_EQ(live["lost"]["ringbuf"], 0);
  EXPECT_EQ(again["lost"]["recursion"], 0);
}

TEST(Binary, NoCommandRunsLiveStats) {
  Binary bin({});
  std::this_thread::sleep_for(1500ms);
  bin.signal(SIGINT);
  Outcome r = bin.wait();
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_THAT(r.out, ::testing::HasSubstr("TIME_WAIT"));
  EXPECT_THAT(r.out, ::testing::StartsWith("STATE"));
}

// Run as nobody from a copy of the binary nobody can reach: the clone may sit
// under a directory nobody cannot enter (a mktemp -d folder is 0700).
TEST(Binary, WithoutPrivilegesSaysWhatToDoAndExits1) {
  Binary bin({"trace", "--duration", "1"}, 65534);  // nobody
  ASSERT_NE(bin.pid(), -1);
  Outcome r = bin.wait();
  EXPECT_EQ(r.status, 1);
  auto ls = lines(r.err);
  ASSERT_EQ(ls.size(), 1u) << r.err;
  EXPECT_THAT(ls[0], ::testing::HasSubstr("root"));
  EXPECT_EQ(r.out, "");
}

std::string status_field(pid_t pid, const std::string& key) {
  for (const auto& l : lines(slurp("/proc/" + std::to_string(pid) + "/status"))) {
    if (l.rfind(key + ":", 0) == 0) return l.substr(key.size() + 2);
  }
  return "";
}

// Once attached, trace needs no capability at all; the live commands keep
// CAP_DAC_READ_SEARCH (2), CAP_SYS_PTRACE (19), CAP_SYS_ADMIN (21) and CAP_BPF (39).
TEST(Binary, CapabilitiesAreDroppedOnceAttached) {
  for (auto [args, want] : std::vector<std::pair<std::vector<std::string>, std::string>>{
           {{"trace", "--duration", "3"}, "0000000000000000"},
           {{"stats", "--duration", "3", "--interval", "0"}, "0000008000280004"},
           {{"leaks", "--watch", "1", "--duration", "3"}, "0000008000280004"}}) {
    Binary bin(args);
    std::this_thread::sleep_for(1500ms);
    const pid_t pid = bin.pid();
    for (const char* key : {"CapEff", "CapPrm", "CapBnd"})
      EXPECT_EQ(status_field(pid, key), want) << args[0] << " " << key;
    EXPECT_EQ(status_field(pid, "CapAmb"), "0000000000000000") << args[0];
    Outcome r = bin.wait();
    EXPECT_EQ(r.status, 0) << args[0] << ": " << r.err;
  }
}

TEST(Binary, BadFlagsGiveOneLineAndExit2) {
  for (auto args : std::vector<std::vector<std::string>>{{"trace", "-L", "70000"},
                                                         {"trace", "--pid", "abc"},
                                                         {"trace", "--cgroup", "/does/not/exist"},
                                                         {"trace", "--duration", "banana"},
                                                         {"trace", "--no-such-flag"},
                                                         {"stats", "--interval", "banana"},
                                                         {"stats", "--replay", "/does/not/exist"},
                                                         {"stats", "--reconcile", "-1"},
                                                         {"stats", "--stuck-min-age", "x"},
                                                         {"leaks", "--min-age", "banana"},
                                                         {"leaks", "--watch", "0"},
                                                         {"leaks", "--duration", "5"},
                                                         {"serve", "--listen", "nonsense"},
                                                         {"serve", "--listen", "127.0.0.1:0"},
                                                         {"serve", "--web.listen-address", "127.0.0.1:99999"},
                                                         {"serve", "--stuck-top", "many"},
                                                         {"doctor", "--observe", "soon"},
                                                         {"doctor", "--proc-root", "/does/not/exist"},
                                                         {"doctor", "--netns", "x"},
                                                         {"no-such-command"}}) {
    Binary bin(args);
    Outcome r = bin.wait();
    EXPECT_EQ(r.status, 2) << args.back();
    EXPECT_EQ(lines(r.err).size(), 1u) << r.err;
    EXPECT_THAT(r.err, ::testing::StartsWith("tcpfsm: "));
    EXPECT_EQ(r.out, "");
  }
}

// An inode that is no network namespace is a typo, not an idle host: every
// command says so in one line and exits 1 (before, stats warned and printed
// an all-zero table with exit status 0).
TEST(Binary, UnknownNetnsIsOneLineAndExit1InEveryCommand) {
  const std::string bogus = "1234";
  for (auto args : std::vector<std::vector<std::string>>{
           {"trace", "--netns", bogus, "--duration", "1"},
           {"stats", "--netns", bogus, "--duration", "1", "--interval", "0"},
           {"stats", "--netns", bogus, "--records", "--duration", "1"},
           {"leaks", "--netns", bogus},
           {"serve", "--netns", bogus, "--listen", "127.0.0.1:" + std::to_string(19000 + getpid() % 1000), "--duration",
            "1"},
           {"doctor", "--netns", bogus, "--observe", "1"}}) {
    Binary bin(args);
    Outcome r = bin.wait();
    EXPECT_EQ(r.status, 1) << args[0] << ": " << r.err;
    auto ls = lines(r.err);
    ASSERT_EQ(ls.size(), 1u) << args[0] << ": " << r.err;
    EXPECT_THAT(ls[0], ::testing::HasSubstr("network namespace " + bogus)) << args[0];
    EXPECT_EQ(r.out, "") << args[0];
  }
}

}  // namespace
}  // namespace tcpfsm::test
