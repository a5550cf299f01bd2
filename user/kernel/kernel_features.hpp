// What the running kernel offers tcpfsm's BPF programs, and what follows from
// it: the first missing requirement of a mode (one line for the user) and the
// optional pieces that degrade instead of failing the load. The probing is in
// preflight.cpp; this part is pure, so what a user sees on an older kernel is
// unit-tested on any kernel.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "kernel/tracer.hpp"

namespace tcpfsm {

// One boolean per thing the programs use that some supported kernel lacks
// (README's "Kernel requirements" has the commit and release of each).
struct KernelFeatures {
  std::string release = "unknown";    // uname -r, for the message only
  bool btf = true;                    // /sys/kernel/btf/vmlinux (5.4, CONFIG_DEBUG_INFO_BTF)
  bool tp_btf = true;                 // BPF_TRACE_RAW_TP: tp_btf programs (5.5)
  bool ringbuf = true;                // BPF_MAP_TYPE_RINGBUF (5.8)
  bool raw_tp_test_run = true;        // BPF_PROG_TEST_RUN of a raw_tp program (5.10)
  bool sk_storage_tracing = true;     // bpf_sk_storage_get() in tracing programs (5.11)
  bool socket_cookie_tracing = true;  // bpf_get_socket_cookie(struct sock *) in tracing programs (5.12)
  bool for_each_map_elem = true;      // bpf_for_each_map_elem() (5.13)
  // Tracepoints, as their btf_trace_<name> typedefs (what tp_btf attaches by).
  bool tp_inet_sock_set_state = true;  // 4.16
  bool tp_timer_start = true;
  bool tp_timer_cancel = true;
  bool tp_timer_expire_entry = true;
  bool tp_tcp_receive_reset = true;  // 4.15
  bool tp_tcp_send_reset = true;     // 4.15
  bool tp_tcp_retransmit_skb = true;
  bool tp_tcp_retransmit_synack = true;  // 4.15
  bool rst_reason = true;                // enum sk_rst_reason, tcp_send_reset's third argument (6.10)
};

struct KernelPlan {
  // The first requirement of the mode this kernel lacks, as the one line
  // the user sees (without the "tcpfsm: " prefix); empty if none.
  std::optional<std::string> missing;
  // One line per optional piece this kernel lacks: what is lost.
  std::vector<std::string> degraded;
  // The optional programs to load (false: their tracepoint is missing).
  bool receive_reset = true;
  bool send_reset = true;
  bool retransmit = true;
  bool retransmit_synack = true;
};

KernelPlan plan_kernel(const KernelFeatures& f, TracerOptions::Mode mode);

}  // namespace tcpfsm
