// plan_kernel(): what a user sees on an older kernel, from the features such
// a kernel would probe as (README's "Kernel requirements" table).
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <string>
#include <utility>

#include "kernel/kernel_features.hpp"

namespace tcpfsm {
namespace {

using Mode = TracerOptions::Mode;
using ::testing::ElementsAre;
using ::testing::HasSubstr;

// The kernel of a mainline release major.minor, as probe_kernel() sees it.
KernelFeatures mainline(int major, int minor) {
  const auto at_least = [&](int ma, int mi) { return std::pair(major, minor) >= std::pair(ma, mi); };
  KernelFeatures f;
  f.release = std::to_string(major) + "." + std::to_string(minor) + ".0";
  f.btf = at_least(5, 4);
  f.tp_btf = at_least(5, 5);
  f.ringbuf = at_least(5, 8);
  f.raw_tp_test_run = at_least(5, 10);
  f.sk_storage_tracing = at_least(5, 11);
  f.socket_cookie_tracing = at_least(5, 12);
  f.for_each_map_elem = at_least(5, 13);
  f.rst_reason = at_least(6, 10);
  // The tracepoints are older than tp_btf; their btf_trace_* typedefs came with it.
  const bool tps = f.tp_btf;
  f.tp_inet_sock_set_state = f.tp_timer_start = f.tp_timer_cancel = f.tp_timer_expire_entry = tps;
  f.tp_tcp_receive_reset = f.tp_tcp_send_reset = f.tp_tcp_retransmit_skb = f.tp_tcp_retransmit_synack = tps;
  return f;
}

TEST(KernelPlan, Linux54LacksTpBtfForEveryCommand) {
  for (Mode m : {Mode::Storage, Mode::Events, Mode::Aggregate}) {
    const KernelPlan p = plan_kernel(mainline(5, 4), m);
    ASSERT_TRUE(p.missing);
    EXPECT_THAT(*p.missing,
                HasSubstr("this kernel (5.4.0) has no BTF-typed tracepoint programs (tp_btf) (Linux 5.5+)"));
  }
  EXPECT_EQ(*plan_kernel(mainline(5, 4), Mode::Events).missing,
            "this kernel (5.4.0) has no BTF-typed tracepoint programs (tp_btf) (Linux 5.5+): tcpfsm needs Linux 5.13 "
            "or newer");
}

TEST(KernelPlan, Linux57LacksTheRingBuffer) {
  EXPECT_EQ(*plan_kernel(mainline(5, 7), Mode::Storage).missing,
            "this kernel (5.7.0) has no BPF ring buffer (Linux 5.8+): tcpfsm leaks needs Linux 5.12 or newer");
}

TEST(KernelPlan, Linux510LacksSocketStorageInTracingPrograms) {
  const KernelPlan p = plan_kernel(mainline(5, 10), Mode::Aggregate);
  ASSERT_TRUE(p.missing);
  EXPECT_EQ(*p.missing,
            "this kernel (5.10.0) has no socket storage in tracing programs (bpf_sk_storage_get) (Linux 5.11+): tcpfsm "
            "needs Linux 5.13 or newer");
}

TEST(KernelPlan, Linux512RunsLeaksButNotTrace) {
  EXPECT_FALSE(plan_kernel(mainline(5, 12), Mode::Storage).missing);
  const KernelPlan p = plan_kernel(mainline(5, 12), Mode::Events);
  ASSERT_TRUE(p.missing);
  EXPECT_THAT(*p.missing, HasSubstr("has no bpf_for_each_map_elem() (Linux 5.13+)"));
}

// Ubuntu 22.04 and RHEL 9 (5.14 and up): every mode loads; only the reset
// reason (6.10) is missing.
TEST(KernelPlan, Linux514RunsEveryMode) {
  for (Mode m : {Mode::Storage, Mode::Events, Mode::Aggregate}) {
    EXPECT_FALSE(plan_kernel(mainline(5, 14), m).missing);
    EXPECT_FALSE(plan_kernel(mainline(5, 15), m).missing);
  }
  EXPECT_THAT(plan_kernel(mainline(5, 15), Mode::Aggregate).degraded,
              ElementsAre(HasSubstr("has no reason on tcp:tcp_send_reset (Linux 6.10+)")));
}

// Debian 12: everything loads; the reset reason is the one thing missing.
TEST(KernelPlan, Linux61LoadsAndLosesOnlyTheResetReason) {
  for (Mode m : {Mode::Events, Mode::Aggregate}) {
    const KernelPlan p = plan_kernel(mainline(6, 1), m);
    EXPECT_FALSE(p.missing);
    EXPECT_THAT(p.degraded, ElementsAre("this kernel (6.1.0) has no reason on tcp:tcp_send_reset (Linux 6.10+): "
                                        "keepalive closes read as timeout, and rst_sent:abort_on_memory and "
                                        "abort_on_linger as unknown"));
    EXPECT_TRUE(p.send_reset);  // the program still loads: it notes nothing without the reason
    EXPECT_TRUE(p.receive_reset && p.retransmit && p.retransmit_synack);
  }
  // leaks loads none of the optional programs: nothing to say.
  EXPECT_TRUE(plan_kernel(mainline(6, 1), Mode::Storage).degraded.empty());
}

TEST(KernelPlan, CurrentKernelNeedsNothingAndLosesNothing) {
  for (Mode m : {Mode::Storage, Mode::Events, Mode::Aggregate}) {
    const KernelPlan p = plan_kernel(mainline(6, 18), m);
    EXPECT_FALSE(p.missing);
    EXPECT_TRUE(p.degraded.empty());
  }
}

TEST(KernelPlan, NoBtfSaysWhichConfigAndRelease) {
  KernelFeatures f = mainline(6, 18);
  f.btf = false;
  EXPECT_EQ(*plan_kernel(f, Mode::Storage).missing,
            "this kernel (6.18.0) has no BTF at /sys/kernel/btf/vmlinux: tcpfsm needs a kernel built with "
            "CONFIG_DEBUG_INFO_BTF=y (and Linux 5.12 or newer)");
}

TEST(KernelPlan, MissingStateTracepointIsFatal) {
  KernelFeatures f = mainline(6, 18);
  f.tp_inet_sock_set_state = false;
  const KernelPlan p = plan_kernel(f, Mode::Storage);
  ASSERT_TRUE(p.missing);
  EXPECT_THAT(*p.missing, HasSubstr("has no sock:inet_sock_set_state tracepoint (Linux 4.16+)"));
}

// Only the timer programs need the timer tracepoints: leaks loads without them.
TEST(KernelPlan, TimerTracepointsAreNeededByEventsNotStorage) {
  KernelFeatures f = mainline(6, 18);
  f.tp_timer_cancel = false;
  EXPECT_FALSE(plan_kernel(f, Mode::Storage).missing);
  ASSERT_TRUE(plan_kernel(f, Mode::Events).missing);
  EXPECT_THAT(*plan_kernel(f, Mode::Events).missing, HasSubstr("has no timer:timer_cancel tracepoint in its BTF"));
}

// A missing optional tracepoint keeps its program out of the load, and says what is lost.
TEST(KernelPlan, MissingOptionalTracepointsDegrade) {
  KernelFeatures f = mainline(6, 18);
  f.tp_tcp_send_reset = false;
  f.tp_tcp_retransmit_synack = false;
  const KernelPlan p = plan_kernel(f, Mode::Events);
  EXPECT_FALSE(p.missing);
  EXPECT_FALSE(p.send_reset);
  EXPECT_FALSE(p.retransmit_synack);
  EXPECT_TRUE(p.receive_reset);
  EXPECT_TRUE(p.retransmit);
  EXPECT_THAT(p.degraded,
              ElementsAre(HasSubstr("has no tcp:tcp_send_reset tracepoint (Linux 4.15+): closes by keepalive"),
                          HasSubstr("has no tcp:tcp_retransmit_synack tracepoint (Linux 4.15+): SYN-ACK")));
}

// The first missing one is named, oldest first: 5.10's gap before 5.13's.
TEST(KernelPlan, NamesTheOldestMissingFeatureFirst) {
  KernelFeatures f = mainline(6, 18);
  f.for_each_map_elem = false;
  f.raw_tp_test_run = false;
  EXPECT_THAT(*plan_kernel(f, Mode::Events).missing, HasSubstr("BPF_PROG_TEST_RUN for raw tracepoints (Linux 5.10+)"));
}

}  // namespace
}  // namespace tcpfsm
