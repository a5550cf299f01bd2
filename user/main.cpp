// tcpfsm: parse flags, run one command, turn an Error into one line and an
// exit status (2 usage, 1 runtime).
#include <malloc.h>
#include <spdlog/sinks/stdout_sinks.h>
#include <spdlog/spdlog.h>

#include <cstdio>

#include "commands/commands.hpp"
#include "commands/run_control.hpp"
#include "kernel/preflight.hpp"

namespace {

void setup_logging(bool verbose) {
  auto logger = spdlog::stderr_logger_st("tcpfsm");
  logger->set_pattern("tcpfsm: %v");
  logger->set_level(verbose ? spdlog::level::debug : spdlog::level::info);
  spdlog::set_default_logger(logger);
  tcpfsm::route_libbpf_logs();
}

tcpfsm::Result<int> run(const tcpfsm::CommandLine& cl) {
  using tcpfsm::Command;
  tcpfsm::Status status = tcpfsm::Ok{};
  switch (cl.command) {
    case Command::Trace:
      status = tcpfsm::run_trace(cl.trace);
      break;
    case Command::Life:
      status = tcpfsm::run_life(cl.life);
      break;
    case Command::Stats:
      status = tcpfsm::run_stats(cl.stats);
      break;
    case Command::Leaks:
      status = tcpfsm::run_leaks(cl.leaks);
      break;
    case Command::Serve:
      status = tcpfsm::run_serve(cl.serve);
      break;
    case Command::Doctor:
      return tcpfsm::run_doctor(cl.doctor);
  }
  if (!status) return status.error();
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  // Few threads allocate, but sock_diag dumps run on short-lived helper
  // threads: with glibc's default of 8 arenas per core each would keep its
  // own freed dump buffers. Two arenas keep the resident set flat.
  mallopt(M_ARENA_MAX, 2);
  const std::vector<std::string> args(argv + 1, argv + argc);
  auto parsed = tcpfsm::parse_command_line(args);
  if (!parsed) {
    std::fprintf(stderr, "tcpfsm: %s\n", parsed.error().message.c_str());
    return parsed.error().exit_status();
  }
  if (!parsed->command) return parsed->exit_status;
  setup_logging(parsed->command->verbose);
  tcpfsm::install_signal_handlers();
  auto rc = run(*parsed->command);
  if (!rc) {
    std::fprintf(stderr, "tcpfsm: %s\n", rc.error().message.c_str());
    return rc.error().exit_status();
  }
  return rc.value();
}
