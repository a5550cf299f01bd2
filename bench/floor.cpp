// tcpfsm_floor: attaches empty BPF programs at exactly tcpfsm's attach points
// (bpf/floor.bpf.c) until SIGINT or SIGTERM. scripts/bench.sh runs the load
// with it as the "floor" mode: the cost of being attached at all, which no
// work inside tcpfsm's programs can go below.
#include <bpf/libbpf.h>

#include <csignal>
#include <cstdarg>
#include <cstdio>
#include <cstring>
#include <memory>
#include <string_view>

#include "floor.skel.h"

namespace {

bool verbose = false;

int print_libbpf(enum libbpf_print_level level, const char* fmt, va_list args) {
  if (level == LIBBPF_DEBUG && !verbose) return 0;
  return std::vfprintf(stderr, fmt, args);
}

struct SkelDeleter {
  void operator()(floor_bpf* s) const { floor_bpf__destroy(s); }
};

}  // namespace

int main(int argc, char** argv) {
  for (int i = 1; i < argc; ++i) {
    const std::string_view a = argv[i];
    if (a == "-v") {
      verbose = true;
    } else if (a == "-h" || a == "--help") {
      std::puts(
          "usage: tcpfsm_floor [-v]\n"
          "Attaches empty BPF programs where tcpfsm attaches its own (two on\n"
          "sock:inet_sock_set_state, one on each of timer_start, timer_cancel and\n"
          "timer_expire_entry) and waits for SIGINT or SIGTERM. A benchmark's\n"
          "floor: what attaching costs before any work. Needs root.");
      return 0;
    } else {
      std::fprintf(stderr, "tcpfsm_floor: unknown argument '%s'; see --help\n", argv[i]);
      return 2;
    }
  }
  libbpf_set_print(print_libbpf);
  sigset_t stop;
  sigemptyset(&stop);
  sigaddset(&stop, SIGINT);
  sigaddset(&stop, SIGTERM);
  // Blocked before anything is attached, so a signal is never lost.
  pthread_sigmask(SIG_BLOCK, &stop, nullptr);

  std::unique_ptr<floor_bpf, SkelDeleter> skel(floor_bpf__open_and_load());
  if (!skel) {
    std::fprintf(stderr, "tcpfsm_floor: cannot load the BPF programs: %s (run as root; -v for libbpf's log)\n",
                 std::strerror(errno));
    return 1;
  }
  if (const int err = floor_bpf__attach(skel.get())) {
    std::fprintf(stderr, "tcpfsm_floor: cannot attach: %s (-v for libbpf's log)\n", std::strerror(-err));
    return 1;
  }
  std::fprintf(stderr, "tcpfsm_floor: attached; SIGINT or SIGTERM to detach\n");
  int sig = 0;
  sigwait(&stop, &sig);
  return 0;
}
