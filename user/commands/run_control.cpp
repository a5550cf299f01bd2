// The stop flag and the signal handlers that set it (see run_control.hpp).
#include "commands/run_control.hpp"

#include <signal.h>

#include <atomic>

namespace tcpfsm {
namespace {

std::atomic<bool> g_stop{false};

void on_signal(int) { request_stop(); }

}  // namespace

void request_stop() { g_stop.store(true, std::memory_order_relaxed); }
bool stop_requested() { return g_stop.load(std::memory_order_relaxed); }

void install_signal_handlers() {
  struct sigaction sa {};
  sa.sa_handler = on_signal;
  sigemptyset(&sa.sa_mask);
  sigaction(SIGINT, &sa, nullptr);
  sigaction(SIGTERM, &sa, nullptr);
  signal(SIGPIPE, SIG_IGN);
}

}  // namespace tcpfsm
