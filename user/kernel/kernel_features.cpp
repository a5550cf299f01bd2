// plan_kernel(): from the probed features to one line naming the first
// missing requirement, and the optional pieces lost (see kernel_features.hpp).
#include "kernel/kernel_features.hpp"

#include <fmt/format.h>

namespace tcpfsm {
namespace {

using Mode = TracerOptions::Mode;

// The modes that need a feature: leaks loads only the state programs
// (storage), trace and life add the timer programs and the sweep (events),
// stats and serve count in the kernel with the same programs (aggregate).
enum Needs : unsigned { kStorage = 1, kEvents = 2, kAggregate = 4, kAll = kStorage | kEvents | kAggregate };

struct Requirement {
  bool KernelFeatures::*has;
  const char* what;
  const char* since;
  unsigned needs;
};

// Oldest first, so the line names the first thing an old kernel lacks, and
// a mode's last entry is its newest. tp_btf goes first: the btf_trace_*
// typedefs the tracepoints are probed by came with it.
constexpr Requirement kRequirements[] = {
    {&KernelFeatures::tp_btf, "BTF-typed tracepoint programs (tp_btf)", "5.5", kAll},
    {&KernelFeatures::tp_inet_sock_set_state, "sock:inet_sock_set_state tracepoint", "4.16", kAll},
    {&KernelFeatures::tp_timer_start, "timer:timer_start tracepoint in its BTF", "5.5", kEvents | kAggregate},
    {&KernelFeatures::tp_timer_cancel, "timer:timer_cancel tracepoint in its BTF", "5.5", kEvents | kAggregate},
    {&KernelFeatures::tp_timer_expire_entry, "timer:timer_expire_entry tracepoint in its BTF", "5.5",
     kEvents | kAggregate},
    {&KernelFeatures::ringbuf, "BPF ring buffer", "5.8", kAll},
    {&KernelFeatures::raw_tp_test_run, "BPF_PROG_TEST_RUN for raw tracepoints", "5.10", kEvents | kAggregate},
    {&KernelFeatures::sk_storage_tracing, "socket storage in tracing programs (bpf_sk_storage_get)", "5.11", kAll},
    {&KernelFeatures::socket_cookie_tracing, "bpf_get_socket_cookie() in tracing programs", "5.12", kAll},
    {&KernelFeatures::for_each_map_elem, "bpf_for_each_map_elem()", "5.13", kEvents | kAggregate},
};

unsigned needs_of(Mode mode) {
  switch (mode) {
    case Mode::Storage:
      return kStorage;
    case Mode::Events:
      return kEvents;
    case Mode::Aggregate:
      return kAggregate;
  }
  return kAll;
}

// The newest release any requirement of the mode names: what to upgrade to.
const char* floor_of(unsigned need) {
  const char* floor = "";
  for (const Requirement& r : kRequirements)
    if (r.needs & need) floor = r.since;  // the last one wins: see kRequirements
  return floor;
}

std::string advice(unsigned need) {
  if (need == kStorage) return fmt::format("tcpfsm leaks needs Linux {} or newer", floor_of(kStorage));
  return fmt::format("tcpfsm needs Linux {} or newer", floor_of(need));
}

}  // namespace

KernelPlan plan_kernel(const KernelFeatures& f, Mode mode) {
  KernelPlan plan;
  const unsigned need = needs_of(mode);
  if (!f.btf) {
    plan.missing = fmt::format(
        "this kernel ({}) has no BTF at /sys/kernel/btf/vmlinux: tcpfsm needs a kernel built with "
        "CONFIG_DEBUG_INFO_BTF=y (and Linux {} or newer)",
        f.release, floor_of(need));
    return plan;
  }
  for (const Requirement& r : kRequirements) {
    if ((r.needs & need) && !(f.*r.has)) {
      plan.missing =
          fmt::format("this kernel ({}) has no {} (Linux {}+): {}", f.release, r.what, r.since, advice(need));
      return plan;
    }
  }
  if (mode == Mode::Storage) return plan;  // leaks loads none of the optional programs
  // Optional: each feeds one part of the output; without it that part is lost
  // or decided on less evidence, and the rest loads and traces as usual.
  auto lose = [&](const char* what, const char* since, const char* effect) {
    plan.degraded.push_back(fmt::format("this kernel ({}) has no {} (Linux {}+): {}", f.release, what, since, effect));
  };
  plan.receive_reset = f.tp_tcp_receive_reset;
  if (!plan.receive_reset)
    lose("tcp:tcp_receive_reset tracepoint", "4.15", "a close by the peer's RST is told from sk_err alone");
  plan.send_reset = f.tp_tcp_send_reset;
  if (!plan.send_reset)
    lose("tcp:tcp_send_reset tracepoint", "4.15",
         "closes by keepalive, memory pressure and TCP_LINGER2 read as timeout or unknown");
  else if (!f.rst_reason)
    lose("reason on tcp:tcp_send_reset", "6.10",
         "keepalive closes read as timeout, and rst_sent:abort_on_memory and abort_on_linger as unknown");
  plan.retransmit = f.tp_tcp_retransmit_skb;
  if (!plan.retransmit) lose("tcp:tcp_retransmit_skb tracepoint", "4.15", "retransmitted segments are not counted");
  plan.retransmit_synack = f.tp_tcp_retransmit_synack;
  if (!plan.retransmit_synack)
    lose("tcp:tcp_retransmit_synack tracepoint", "4.15", "SYN-ACK retransmissions are not counted");
  return plan;
}

}  // namespace tcpfsm
