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

constexpr const char* kVmlinuxBtf = "/sys/kernel/btf/vmlinux";

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

Status check_kernel_version() {
  utsname u{};
  unsigned major = 0, minor = 0;
  if (uname(&u) == 0 && sscanf(u.release, "%u.%u", &major, &minor) == 2 && (major < 5 || (major == 5 && minor < 8))) {
    return Error::runtime(std::string("kernel ") + u.release +
                          " is too old: tcpfsm needs Linux 5.8 or newer (BPF ring buffer, tp_btf)");
  }
  return Ok{};
}

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

Status check_tracepoint() {
  btf* vmlinux = btf__load_vmlinux_btf();
  if (!vmlinux) {
    return Error::runtime(std::string("cannot read kernel BTF from ") + kVmlinuxBtf + ": " + std::strerror(errno));
  }
  const bool have_tp = btf__find_by_name_kind(vmlinux, "btf_trace_inet_sock_set_state", BTF_KIND_TYPEDEF) >= 0;
  btf__free(vmlinux);
  if (!have_tp) {
    return Error::runtime("this kernel has no sock:inet_sock_set_state tracepoint in its BTF; tcpfsm needs Linux 5.8+");
  }
  return Ok{};
}

}  // namespace

void route_libbpf_logs() { libbpf_set_print(libbpf_print); }

Status preflight() {
  if (access(kVmlinuxBtf, R_OK) != 0) {
    return Error::runtime(std::string("kernel BTF not found at ") + kVmlinuxBtf +
                          ": tcpfsm needs Linux 5.8 or newer built with CONFIG_DEBUG_INFO_BTF=y");
  }
  for (auto check : {check_kernel_version, check_lockdown, check_privileges, check_tracepoint}) {
    if (auto st = check(); !st) return st;
  }
  return Ok{};
}

}  // namespace tcpfsm
