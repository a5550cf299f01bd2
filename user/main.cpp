// tcpfsm: parse flags, run one command, turn an Error into one line and an
// exit status (2 usage, 1 runtime).
#include <malloc.h>
#include <signal.h>
#include <spdlog/sinks/stdout_sinks.h>
#include <spdlog/spdlog.h>

#include <cstdio>

#include "tcpfsm/commands.hpp"
#include "tcpfsm/tracer.hpp"

namespace {

void on_signal(int) { tcpfsm::request_stop(); }

void install_signals() {
  struct sigaction sa {};
  sa.sa_handler = on_signal;  // no SA_RESTART: a blocked poll returns at once
  sigemptyset(&sa.sa_mask);
  sigaction(SIGINT, &sa, nullptr);
  sigaction(SIGTERM, &sa, nullptr);
  signal(SIGPIPE, SIG_IGN);  // a closed pipe ends the run through EPIPE
}

void setup_logging(bool verbose) {
  auto logger = spdlog::stderr_logger_st("tcpfsm");
  logger->set_pattern("tcpfsm: %v");
  logger->set_level(verbose ? spdlog::level::debug : spdlog::level::info);
  spdlog::set_default_logger(logger);
  tcpfsm::route_libbpf_logs();
}

}  // namespace

int main(int argc, char** argv) {
  // Few threads allocate, but sock_diag dumps run on short-lived helper
  // threads: with glibc's default of 8 arenas per core each would keep its
  // own freed dump buffers. Two arenas keep the resident set flat.
  mallopt(M_ARENA_MAX, 2);
  std::vector<std::string> args(argv + 1, argv + argc);
  auto parsed = tcpfsm::parse_command_line(args);
  if (!parsed) {
    std::fprintf(stderr, "tcpfsm: %s\n", parsed.error().message.c_str());
    return parsed.error().exit_status();
  }
  if (!parsed->command) return parsed->exit_status;
  const auto& cl = *parsed->command;
  setup_logging(cl.verbose);
  install_signals();

  tcpfsm::Status status = tcpfsm::Ok{};
  switch (cl.command) {
    case tcpfsm::Command::Trace: status = tcpfsm::run_trace(cl.trace); break;
    case tcpfsm::Command::Stats: status = tcpfsm::run_stats(cl.stats); break;
    case tcpfsm::Command::Leaks: status = tcpfsm::run_leaks(cl.leaks); break;
    case tcpfsm::Command::Serve: status = tcpfsm::run_serve(cl.serve); break;
    case tcpfsm::Command::Doctor: {
      auto rc = tcpfsm::run_doctor(cl.doctor);
      if (rc) return rc.value();
      status = rc.error();
      break;
    }
  }
  if (!status) {
    std::fprintf(stderr, "tcpfsm: %s\n", status.error().message.c_str());
    return status.error().exit_status();
  }
  return 0;
}
