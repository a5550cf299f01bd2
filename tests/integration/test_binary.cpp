// build/tcpfsm run the way a user runs it.
#include <fcntl.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <grp.h>
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

struct Outcome {
  int status = -1;
  std::string out, err;
};

std::string slurp(const std::string& path) {
  std::ifstream f(path);
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

class Binary {
 public:
  // Starts build/tcpfsm with `args`; uid != 0 runs it as that user.
  explicit Binary(const std::vector<std::string>& args, uid_t uid = 0) {
    char out_tpl[] = "/tmp/tcpfsm-out-XXXXXX", err_tpl[] = "/tmp/tcpfsm-err-XXXXXX";
    int out = mkstemp(out_tpl), err = mkstemp(err_tpl);
    out_path_ = out_tpl;
    err_path_ = err_tpl;
    pid_ = fork();
    if (pid_ == 0) {
      dup2(out, 1);
      dup2(err, 2);
      if (uid != 0 && (setgroups(0, nullptr) != 0 || setgid(uid) != 0 || setuid(uid) != 0)) _exit(120);
      std::vector<char*> argv{const_cast<char*>(TCPFSM_BINARY)};
      for (const auto& a : args) argv.push_back(const_cast<char*>(a.c_str()));
      argv.push_back(nullptr);
      execv(TCPFSM_BINARY, argv.data());
      _exit(127);
    }
    close(out);
    close(err);
  }
  void signal(int sig) { kill(pid_, sig); }
  Outcome wait() {
    Outcome r;
    int status = 0;
    waitpid(pid_, &status, 0);
    r.status = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    r.out = slurp(out_path_);
    r.err = slurp(err_path_);
    unlink(out_path_.c_str());
    unlink(err_path_.c_str());
    return r;
  }

 private:
  pid_t pid_ = -1;
  std::string out_path_, err_path_;
};

std::vector<std::string> lines(const std::string& s) {
  std::vector<std::string> out;
  std::istringstream in(s);
  for (std::string l; std::getline(in, l);) out.push_back(l);
  return out;
}

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
  ASSERT_EQ(ls.size(), 13u) << r.out;
  std::vector<std::string> seen;
  for (size_t i = 0; i < 12; ++i) {
    json j = json::parse(ls[i]);
    EXPECT_EQ(j["type"], "state");
    for (const char* key : {"ts", "sk", "comm", "saddr", "daddr", "old", "new"}) EXPECT_TRUE(j[key].is_string()) << key;
    for (const char* key : {"pid", "netns", "family", "sport", "dport", "cookie"})
      EXPECT_TRUE(j[key].is_number_unsigned()) << key;
    EXPECT_TRUE(j["prev_ns"].is_null() || j["prev_ns"].is_number_unsigned());
    EXPECT_EQ(j["netns"], self_netns());
    EXPECT_EQ(j["family"], 4);
    EXPECT_EQ(j["saddr"], "127.0.0.1");
    EXPECT_EQ(j["pid"], getpid());
    EXPECT_THAT(j["ts"].get<std::string>(), ::testing::MatchesRegex("[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9:]{8}\\.[0-9]{9}Z"));
    seen.push_back(j["old"].get<std::string>() + ">" + j["new"].get<std::string>());
  }
  EXPECT_THAT(seen, ::testing::UnorderedElementsAre(
                        "CLOSE>LISTEN", "CLOSE>SYN_SENT", "SYN_SENT>ESTABLISHED", "LISTEN>SYN_RECV",
                        "SYN_RECV>ESTABLISHED", "ESTABLISHED>FIN_WAIT1", "ESTABLISHED>CLOSE_WAIT",
                        "FIN_WAIT1>FIN_WAIT2", "CLOSE_WAIT>LAST_ACK", "FIN_WAIT2>CLOSE", "LAST_ACK>CLOSE",
                        "LISTEN>CLOSE"));
  json summary = json::parse(ls.back());
  EXPECT_EQ(summary["type"], "summary");
  EXPECT_EQ(summary["events"], 12);
  EXPECT_EQ(summary["lost"]["ringbuf"], 0);
  EXPECT_EQ(summary["lost"]["recursion"], 0);
  EXPECT_TRUE(summary["kernel"]["recursion_misses"].is_number_unsigned());
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
    EXPECT_THAT(ls[i], ::testing::MatchesRegex("[0-9:.]{15} [0-9a-f]{16} [0-9]+ +[^ ]+ +127\\.0\\.0\\.1 +[0-9]+ +[0-9.]+ "
                                               "+[0-9]+ +[A-Z_0-9]+ +-> [A-Z_0-9]+ +([0-9]+\\.[0-9]{3}|-)"));
  }
  EXPECT_THAT(r.err, ::testing::HasSubstr("12 events, 0 lost"));
}

TEST(Binary, WithoutPrivilegesSaysWhatToDoAndExits1) {
  Binary bin({"trace", "--duration", "1"}, 65534);  // nobody
  Outcome r = bin.wait();
  EXPECT_EQ(r.status, 1);
  auto ls = lines(r.err);
  ASSERT_EQ(ls.size(), 1u) << r.err;
  EXPECT_THAT(ls[0], ::testing::HasSubstr("root"));
  EXPECT_EQ(r.out, "");
}

TEST(Binary, BadFlagsGiveOneLineAndExit2) {
  for (auto args : std::vector<std::vector<std::string>>{{"trace", "-L", "70000"},
                                                         {"trace", "--pid", "abc"},
                                                         {"trace", "--cgroup", "/does/not/exist"},
                                                         {"trace", "--duration", "banana"},
                                                         {"trace", "--no-such-flag"},
                                                         {"no-such-command"}}) {
    Binary bin(args);
    Outcome r = bin.wait();
    EXPECT_EQ(r.status, 2) << args.back();
    EXPECT_EQ(lines(r.err).size(), 1u) << r.err;
    EXPECT_THAT(r.err, ::testing::StartsWith("tcpfsm: "));
    EXPECT_EQ(r.out, "");
  }
}

}  // namespace
}  // namespace tcpfsm::test
