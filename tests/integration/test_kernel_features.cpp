// The probes on the running kernel, and the degraded load an older kernel
// gets, on this one.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <thread>

#include "harness.hpp"
#include "kernel/kernel_features.hpp"
#include "kernel/preflight.hpp"

namespace tcpfsm::test {
namespace {

using namespace std::chrono_literals;
using Mode = TracerOptions::Mode;

bool loaded(const Tracer& t, const std::string& prog) {
  const auto stats = t.prog_stats();
  return std::any_of(stats.begin(), stats.end(), [&](const ProgStats& s) { return s.name == prog; });
}

// This suite runs on 6.18 (ARCHITECTURE.md): every probe must find its feature.
TEST(KernelFeatures, ProbesFindEverythingOnThisKernel) {
  const KernelFeatures& f = kernel_features();
  EXPECT_TRUE(f.btf);
  EXPECT_TRUE(f.tp_btf);
  EXPECT_TRUE(f.ringbuf);
  EXPECT_TRUE(f.raw_tp_test_run);
  EXPECT_TRUE(f.sk_storage_tracing);
  EXPECT_TRUE(f.socket_cookie_tracing);
  EXPECT_TRUE(f.for_each_map_elem);
  EXPECT_TRUE(f.tp_inet_sock_set_state);
  EXPECT_TRUE(f.tp_timer_start);
  EXPECT_TRUE(f.tp_timer_cancel);
  EXPECT_TRUE(f.tp_timer_expire_entry);
  EXPECT_TRUE(f.tp_tcp_receive_reset);
  EXPECT_TRUE(f.tp_tcp_send_reset);
  EXPECT_TRUE(f.tp_tcp_retransmit_skb);
  EXPECT_TRUE(f.tp_tcp_retransmit_synack);
  EXPECT_TRUE(f.rst_reason);
  for (Mode m : {Mode::Storage, Mode::Events, Mode::Aggregate}) {
    const Status st = preflight(m);
    EXPECT_TRUE(st) << st.error().message;
  }
}

// The programs fed by the optional tracepoints stay out of the load, as on a
// kernel without those tracepoints; the rest loads and traces.
TEST(KernelFeatures, DegradedLoadTracesWithoutTheOptionalPrograms) {
  KernelFeatures poorer = kernel_features();
  poorer.tp_tcp_send_reset = false;
  poorer.tp_tcp_receive_reset = false;
  poorer.tp_tcp_retransmit_skb = false;
  poorer.tp_tcp_retransmit_synack = false;
  TracerOptions opts;
  opts.filter.netns = self_netns();
  opts.features = &poorer;
  auto t = Tracer::start(opts);
  ASSERT_TRUE(t) << t.error().message;
  Tracer& tracer = **t;
  EXPECT_TRUE(loaded(tracer, "on_set_state"));
  EXPECT_TRUE(loaded(tracer, "on_timer_start"));
  for (const char* p : {"on_send_reset", "on_receive_reset", "on_retransmit", "on_retransmit_synack"})
    EXPECT_FALSE(loaded(tracer, p)) << p;

  Collector c;
  {
    Fd lis = listen_loopback(AF_INET);
    const uint16_t port = local_port(lis.get());
    one_connection(AF_INET, lis.get(), port);
    std::this_thread::sleep_for(20ms);
  }
  ASSERT_TRUE(poll_until(tracer, c, [&] { return c.events.size() >= 12; }));
  drain(tracer, c);
  EXPECT_EQ(c.events.size(), 12u);  // listener 2, client 5, server 5, as in the full load
}

// And the full load has them all.
TEST(KernelFeatures, FullLoadHasTheOptionalPrograms) {
  auto t = start_tracer();
  ASSERT_TRUE(t);
  for (const char* p : {"on_send_reset", "on_receive_reset", "on_retransmit", "on_retransmit_synack"})
    EXPECT_TRUE(loaded(*t, p)) << p;
}

}  // namespace
}  // namespace tcpfsm::test
