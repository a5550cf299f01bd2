// Faults: a ring buffer too small for a burst, a consumer stopped under
// churn, and kill -9. Losses must be counted, the gauges must come back in
// line with ss, and nothing may stay behind in the kernel.
#include <bpf/bpf.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <signal.h>

#include <atomic>
#include <nlohmann/json.hpp>
#include <thread>

#include "harness.hpp"
#include "model/tcp_state.hpp"

namespace tcpfsm::test {
namespace {

using namespace std::chrono_literals;
using nlohmann::json;

// BPF programs and maps of tcpfsm loaded in the kernel now, by name.
int tcpfsm_objects_loaded() {
  int n = 0;
  __u32 id = 0;
  while (bpf_prog_get_next_id(id, &id) == 0) {
    int fd = bpf_prog_get_fd_by_id(id);
    if (fd < 0) continue;
    bpf_prog_info info{};
    __u32 len = sizeof(info);
    if (bpf_obj_get_info_by_fd(fd, &info, &len) == 0) {
      const std::string name = info.name;
      if (name == "on_set_state" || name == "on_set_state_nested" || name == "tw_substate_swe" ||
          name.rfind("on_timer_", 0) == 0)
        ++n;
    }
    close(fd);
  }
  id = 0;
  while (bpf_map_get_next_id(id, &id) == 0) {
    int fd = bpf_map_get_fd_by_id(id);
    if (fd < 0) continue;
    bpf_map_info info{};
    __u32 len = sizeof(info);
    if (bpf_obj_get_info_by_fd(fd, &info, &len) == 0) {
      const std::string name = info.name;
      if (name == "sk_infos" || name == "fw2_tws" || name == "cpu_counters" || name == "aggs" || name == "hists" ||
          name == "tws" || name == "tw_pending")
        ++n;
    }
    close(fd);
  }
  return n;
}

bool wait_objects(const std::function<bool(int)>& ok, std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    if (ok(tcpfsm_objects_loaded())) return true;
    std::this_thread::sleep_for(50ms);
  }
  return ok(tcpfsm_objects_loaded());
}

TEST(Reliability, KillNineLeavesNothingInTheKernelAndTheNextStartWorks) {
  // A tcpfsm of the previous test may still be going away (programs are freed after RCU grace periods).
  ASSERT_TRUE(wait_objects([](int n) { return n == 0; }, 5s)) << "another tcpfsm is running";
  Binary bin({"stats", "--interval", "0", "--netns", std::to_string(self_netns())});
  ASSERT_TRUE(wait_objects([](int n) { return n >= 6; }, 5s)) << "tcpfsm did not load";
  bin.signal(SIGKILL);
  EXPECT_EQ(bin.wait().status, 128 + SIGKILL);
  // Programs, links and maps belong to the process's file descriptors: none is pinned.
  EXPECT_TRUE(wait_objects([](int n) { return n == 0; }, 5s)) << tcpfsm_objects_loaded() << " objects left";
  Binary again({"trace", "--duration", "1", "--netns", std::to_string(self_netns())});
  Outcome r = again.wait();
  EXPECT_EQ(r.status, 0) << r.err;
}

std::map<std::string, uint64_t> gauges(const json& report) {
  std::map<std::string, uint64_t> g;
  for (const auto& [k, v] : report["states"].items()) g[k] = v.get<uint64_t>();
  return g;
}

std::map<std::string, uint64_t> ss_by_name() {
  std::map<std::string, uint64_t> g;
  for (uint8_t s : {TCPFSM_LISTEN, TCPFSM_SYN_SENT, TCPFSM_SYN_RECV, TCPFSM_ESTABLISHED, TCPFSM_FIN_WAIT1,
                    TCPFSM_FIN_WAIT2, TCPFSM_TIME_WAIT, TCPFSM_CLOSE_WAIT, TCPFSM_LAST_ACK, TCPFSM_CLOSING})
    g[std::string(state_name(s))] = 0;
  for (auto [s, n] : ss_counts()) g[std::string(state_name(s))] = n;
  return g;
}

// Connections from one thread, a little paced so a few seconds of churn
// stay within bounds, until stopped; the server side of each keeps a
// TIME_WAIT, so the gauges end far from zero.
class Churn {
 public:
  explicit Churn(int listen_fd) : lis_(listen_fd), port_(local_port(listen_fd)) {
    thread_ = std::thread([this] {
      while (!stop_ && made_ < 100000) {
        Fd client = connect_loopback(AF_INET, port_);
        Fd server = accept_one(lis_);
        server.reset();  // the server closes first: its side keeps the TIME_WAIT
        client.reset();
        ++made_;
        std::this_thread::sleep_for(50us);
      }
    });
  }
  ~Churn() { stop(); }
  void stop() {
    stop_ = true;
    if (thread_.joinable()) thread_.join();
  }
  uint64_t made() const { return made_; }

 private:
  int lis_;
  uint16_t port_;
  std::atomic<bool> stop_{false};
  std::atomic<uint64_t> made_{0};
  std::thread thread_;
};

// Runs `stats --json` with `extra` flags while `during` runs, then leaves
// one reconciliation interval (1 s) and more; returns the final report.
json stats_through(const std::vector<std::string>& extra, const std::function<void(Binary&)>& during) {
  std::vector<std::string> args = {"stats",       "--json", "--interval", "1",
                                   "--reconcile", "1",      "--netns",    std::to_string(self_netns())};
  args.insert(args.end(), extra.begin(), extra.end());
  Binary bin(args);
  std::this_thread::sleep_for(1500ms);
  during(bin);
  std::this_thread::sleep_for(4s);  // three reconciliations, or two on a busy machine
  bin.signal(SIGINT);
  Outcome r = bin.wait();
  EXPECT_EQ(r.status, 0) << r.err;
  auto ls = lines(r.out);
  EXPECT_FALSE(ls.empty());
  return ls.empty() ? json() : json::parse(ls.back());
}

TEST(Reliability, TinyRingBufferOverflowIsCountedAndReconciliationRestoresTheGauges) {
  Fd lis = listen_loopback(AF_INET);
  // --records: the ring buffer carries a record per transition, as trace's does.
  json last = stats_through({"--records", "--ringbuf-size", "4096"}, [&](Binary&) {
    Churn churn(lis.get());
    std::this_thread::sleep_for(2s);
    churn.stop();
    EXPECT_GT(churn.made(), 1000u);
  });
  ASSERT_TRUE(last.is_object());
  EXPECT_GT(last["lost"]["ringbuf"].get<uint64_t>(), 0u) << "a 4 KiB ring should overflow: " << last["lost"];
  EXPECT_GT(last["reconciliations"].get<uint64_t>(), 0u);
  // TIME_WAIT lasts 60 s and nothing else moves: the table equals ss now.
  EXPECT_EQ(gauges(last), ss_by_name());
}

// Stops tcpfsm for 5 s while connections churn, then lets it go on.
json stopped_for_five_seconds(int lis, const std::vector<std::string>& extra, uint64_t& made) {
  return stats_through(extra, [&](Binary& bin) {
    Churn churn(lis);
    std::this_thread::sleep_for(500ms);
    bin.signal(SIGSTOP);
    std::this_thread::sleep_for(5s);
    bin.signal(SIGCONT);
    std::this_thread::sleep_for(500ms);
    churn.stop();
    made = churn.made();
  });
}

TEST(Reliability, ConsumerStoppedForFiveSecondsUnderChurnCountsItsLossesAndRecovers) {
  Fd lis = listen_loopback(AF_INET);
  uint64_t made = 0;
  json last = stopped_for_five_seconds(lis.get(), {"--records", "--ringbuf-size", "64K"}, made);
  ASSERT_TRUE(last.is_object());
  EXPECT_GT(made, 5000u);
  EXPECT_GT(last["lost"]["ringbuf"].get<uint64_t>(), 0u) << last["lost"] << " events " << last["events"];
  EXPECT_EQ(gauges(last), ss_by_name());
}

// Counting in the kernel, a stopped tcpfsm loses nothing: the counts go on
// without it, and are exact when it reads them again.
TEST(Reliability, ConsumerStoppedForFiveSecondsLosesNothingWhenTheKernelCounts) {
  Fd lis = listen_loopback(AF_INET);
  uint64_t made = 0;
  json last = stopped_for_five_seconds(lis.get(), {}, made);
  ASSERT_TRUE(last.is_object());
  EXPECT_EQ(last["counted_in"], "kernel");
  EXPECT_GT(made, 5000u);
  EXPECT_EQ(last["lost"]["ringbuf"].get<uint64_t>(), 0u);
  EXPECT_EQ(last["counters"]["uncounted"].get<uint64_t>(), 0u);
  // Every connection: SYN_SENT -> ESTABLISHED on the client, counted in the kernel while tcpfsm was stopped.
  EXPECT_GE(last["transitions"]["SYN_SENT>ESTABLISHED"].get<uint64_t>(), made);
  EXPECT_EQ(gauges(last), ss_by_name()) << "lost " << last["lost"] << ", timer recursion misses "
                                        << last["counters"]["timer_recursion_misses"];
}

}  // namespace
}  // namespace tcpfsm::test
