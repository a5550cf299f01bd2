// preflight() and libbpf's log routing (see preflight.hpp).
#include "kernel/preflight.hpp"

#include <bpf/btf.h>
#include <bpf/libbpf.h>
#include <linux/capability.h>
#include <spdlog/spdlog.h>
#include <sys/syscall.h>
#include <sys/utsname.h>
#include <unistd.h>

#include <cerrno>
#include <cstdarg>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <iterator>
#include <string>

namespace tcpfsm {
namespace {

int libbpf_print(enum libbpf_print_level, const char* format, va_list args) {
  // A verifier log is one message of many kilobytes: size it first.
  va_list copy;
  va_copy(copy, args);
  const int n = vsnprintf(nullptr, 0, format, copy);
  va_end(copy);
  if (n <= 0) return n;
  std::string buf(static_cast<size_t>(n) + 1, '\0');
  vsnprintf(buf.data(), buf.size(), format, args);
  buf.resize(static_cast<size_t>(n));
  while (!buf.empty() && buf.back() == '\n') buf.pop_back();
  spdlog::debug("libbpf: {}", buf);
  return n;
}

bool has_cap(const __user_cap_data_struct (&data)[2], int cap) { return data[cap / 32].effective & (1U << (cap % 32)); }

Status check_lockdown() {
  std::ifstream lockdown("/sys/kernel/security/lockdown");
  const std::string mode((std::istreambuf_iterator<char>(lockdown)), std::istreambuf_iterator<char>());
  if (mode.find("[confidentiality]") != std::string::npos) {
    return Error::runtime(
        "kernel lockdown is in confidentiality mode, which forbids BPF tracing; boot with lockdown=integrity or none");
  }
  return Ok{};
}

Status check_privileges() {
  __user_cap_header_struct hdr{_LINUX_CAPABILITY_VERSION_3, 0};
  __user_cap_data_struct data[2] = {};
  if (syscall(SYS_capget, &hdr, data) != 0) return Ok{};  // the load itself will say
  const bool admin = has_cap(data, CAP_SYS_ADMIN);
  const bool bpf = has_cap(data, CAP_BPF) && has_cap(data, CAP_PERFMON);
  if (!admin && !bpf) {
    return Error::runtime("permission denied: tcpfsm needs root, or CAP_BPF and CAP_PERFMON; run it with sudo");
  }
  return Ok{};
}

bool has_type(const btf* b, const char* name, __u32 kind) { return btf__find_by_name_kind(b, name, kind) >= 0; }

bool has_tracepoint(const btf* b, const std::string& name) {
  return has_type(b, ("btf_trace_" + name).c_str(), BTF_KIND_TYPEDEF);
}

// Whether enum `type` in the kernel's BTF has the enumerator `value`: the
// kernel's own UAPI enums (bpf_func_id, bpf_attach_type) list what it knows.
bool has_enumerator(const btf* b, const char* type, const char* value) {
  const __s32 id = btf__find_by_name_kind(b, type, BTF_KIND_ENUM);
  if (id < 0) return false;
  const btf_type* t = btf__type_by_id(b, static_cast<__u32>(id));
  const struct btf_enum* e = btf_enum(t);  // struct: btf_enum() is also a function
  for (__u16 i = 0; i < btf_vlen(t); ++i, ++e)
    if (std::strcmp(btf__name_by_offset(b, e->name_off), value) == 0) return true;
  return false;
}

// Probed once per process, from the kernel's BTF alone (no privilege, a few
// milliseconds). Names, not the version: distribution kernels backport.
KernelFeatures probe_kernel() {
  KernelFeatures f;
  utsname u{};
  if (uname(&u) == 0) f.release = u.release;
  btf* b = btf__load_vmlinux_btf();
  if (!b) {
    f.btf = false;
    return f;
  }
  f.tp_btf = has_enumerator(b, "bpf_attach_type", "BPF_TRACE_RAW_TP");
  // From the enum, not by creating one: before 5.11 a map creation can fail
  // on RLIMIT_MEMLOCK alone, which would be misread as no ring buffer.
  f.ringbuf = has_enumerator(b, "bpf_map_type", "BPF_MAP_TYPE_RINGBUF");
  f.for_each_map_elem = has_enumerator(b, "bpf_func_id", "BPF_FUNC_for_each_map_elem");
  // Which helpers a tracing program may call is not in any enum: these are
  // the functions the commits that allowed them added. A kernel that knows
  // for_each_map_elem (5.13, UAPI) has all three (5.10-5.12), whatever a
  // later kernel renames them to.
  const bool after_5_12 = f.for_each_map_elem;
  f.raw_tp_test_run = after_5_12 || has_type(b, "bpf_prog_test_run_raw_tp", BTF_KIND_FUNC);
  f.sk_storage_tracing = after_5_12 || has_type(b, "bpf_sk_storage_get_tracing", BTF_KIND_FUNC);
  f.socket_cookie_tracing = after_5_12 || has_type(b, "bpf_get_socket_ptr_cookie", BTF_KIND_FUNC);
  f.tp_inet_sock_set_state = has_tracepoint(b, "inet_sock_set_state");
  f.tp_timer_start = has_tracepoint(b, "timer_start");
  f.tp_timer_cancel = has_tracepoint(b, "timer_cancel");
  f.tp_timer_expire_entry = has_tracepoint(b, "timer_expire_entry");
  f.tp_tcp_receive_reset = has_tracepoint(b, "tcp_receive_reset");
  f.tp_tcp_send_reset = has_tracepoint(b, "tcp_send_reset");
  f.tp_tcp_retransmit_skb = has_tracepoint(b, "tcp_retransmit_skb");
  f.tp_tcp_retransmit_synack = has_tracepoint(b, "tcp_retransmit_synack");
  // The same test the program makes (bpf_core_type_exists) before reading it.
  f.rst_reason = has_type(b, "sk_rst_reason", BTF_KIND_ENUM);
  btf__free(b);
  return f;
}

}  // namespace

void route_libbpf_logs() { libbpf_set_print(libbpf_print); }

const KernelFeatures& kernel_features() {
  static const KernelFeatures features = probe_kernel();
  return features;
}

Status preflight(TracerOptions::Mode mode) {
  // The kernel first: it needs no privilege to tell, and no sudo fixes it.
  const KernelPlan plan = plan_kernel(kernel_features(), mode);
  if (plan.missing) return Error::runtime(*plan.missing);
  for (auto check : {check_lockdown, check_privileges}) {
    if (auto st = check(); !st) return st;
  }
  for (const std::string& line : plan.degraded) spdlog::warn("{}", line);
  return Ok{};
}

}  // namespace tcpfsm
