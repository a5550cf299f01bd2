// `tcpfsm leaks` flags.
#include "cli/flags.hpp"

namespace tcpfsm::flags {

CLI::App* LeaksFlags::add(CLI::App& app) {
  auto* cmd = app.add_subcommand("leaks", "Name the processes holding sockets stuck in CLOSE_WAIT and other states");
  cmd->footer(
      "Lists sockets held longer than --min-age in CLOSE_WAIT (the owner never called close(): always an\n"
      "application bug, no sysctl fixes it), FIN_WAIT2 (a peer that never closes), LAST_ACK, CLOSING, SYN_SENT\n"
      "(unreachable peers) and SYN_RECV (handshakes never completed), grouped by the process holding them,\n"
      "found as 'ss -p' does: the socket's inode among /proc/PID/fd. Sockets a process closed but the kernel\n"
      "still finishes are 'orphaned'; sockets not yet accepted belong to the process that listens.\n"
      "Ages are exact for sockets tcpfsm saw entering the state (~: estimated, for sockets found in it).\n"
      "+/MIN: sockets that crossed --min-age in the last minute, i.e. how fast the pile grows.\n"
      "Examples:\n"
      "  tcpfsm leaks                        # once, now\n"
      "  tcpfsm leaks --watch 5 --min-age 60 # every 5 s, sockets stuck for over a minute\n"
      "  tcpfsm leaks --json | jq '.[] | select(.state==\"CLOSE_WAIT\") | {pid, comm, count}'");
  cmd->add_flag("--json", opts_.json, "A JSON array of groups (one array per line with --watch)")->group("Output");
  add_text(cmd, "--min-age", min_age_, "Only sockets in their state longer than this (default 10)", "DURATION",
           "Output");
  add_text(cmd, "--watch", watch_, "Report again every DURATION until Ctrl-C", "DURATION", "Run");
  add_text(cmd, "--duration", duration_, "With --watch: stop after this long", "DURATION", "Run");
  filter_.add(cmd, "Filters (--pid, --comm and --cgroup select the holding process)");
  return cmd;
}

Result<LeaksOptions> LeaksFlags::finish() {
  auto filter = filter_.finish();
  if (!filter) return filter.error();
  opts_.filter = std::move(filter.value());
  for (auto [text, flag, zero, dst] : {std::tuple{&min_age_, "--min-age", true, &opts_.min_age_s},
                                       std::tuple{&watch_, "--watch", false, &opts_.watch_s},
                                       std::tuple{&duration_, "--duration", false, &opts_.duration_s}}) {
    if (auto st = seconds(*text, flag, zero, *dst); !st) return st.error();
  }
  if (duration_.given() && !watch_.given()) {
    return Error::usage("--duration needs --watch: without it, leaks reports once and exits");
  }
  return opts_;
}

}  // namespace tcpfsm::flags
