// `tcpfsm stats` flags (also what tcpfsm runs without a command).
#include "base/parse.hpp"
#include "cli/flags.hpp"
#include "model/tcp_state.hpp"

namespace tcpfsm::flags {

CLI::App* StatsFlags::add(CLI::App& app) {
  auto* cmd =
      app.add_subcommand("stats", "Live per-state socket counts, transition counts and time spent in each state");
  cmd->footer(
      "Counts start from a sock_diag dump (what 'ss -tan' reads) and follow every transition, counted by the\n"
      "BPF programs in the kernel: nothing crosses to userspace per transition, and nothing is lost while\n"
      "tcpfsm is busy or stopped. A periodic reconciliation measures again the sockets found already in their\n"
      "state and reports the drift. Lifetimes count only sockets seen entering the state;\n"
      "sockets found at start are listed apart, with how long they have been there at least.\n"
      "TIME_WAIT lifetimes come from the timewait socket's own timer: expired or killed early.\n"
      "Examples:\n"
      "  tcpfsm stats                         # a live table, every second\n"
      "  tcpfsm stats --json --duration 60 --interval 0   # one JSON object after a minute\n"
      "  tcpfsm stats --replay cap.json       # the same tables from a capture, no root needed\n"
      "  tcpfsm stats --by raddr --state ESTABLISHED   # netstat -nat | grep ESTAB | awk ... | sort | uniq -c, live\n"
      "  tcpfsm stats --by lport --sort TIME_WAIT --hist TIME_WAIT   # which service makes TIME_WAIT, how long\n"
      "With --by, each group's counts come from a sock_diag dump every --interval (exact, as 'ss -tan'\n"
      "grouped the same way); its IN/s and lifetimes from a record per transition (--records). LISTEN\n"
      "sockets are listed apart with their accept queues.");
  cmd->add_flag("--json", opts_.json, "One JSON object per report")->group("Output");
  add_text(cmd, "--interval", interval_, "Report every DURATION; 0: only at the end (default 1)", "DURATION", "Output");
  add_text(cmd, "--duration", duration_, "Stop after this long, with a final report", "DURATION", "Run");
  add_text(cmd, "--reconcile", reconcile_, "Compare with sock_diag every DURATION; 0: only at start (default 10)",
           "DURATION", "Run");
  add_text(cmd, "--stuck-min-age", stuck_,
           "Stuck-socket section: holders of sockets in CLOSE_WAIT etc. for longer than this (default 10)", "DURATION",
           "Output");
  add_text(cmd, "--replay", replay_, "Compute from a 'trace --json' capture ('-': stdin)", "FILE", "Run");
  add_text(cmd, "--ringbuf-size", ringbuf_,
           "With --records: BPF ring buffer size, a power of two " + default_ringbuf_text(), "BYTES", "Run");
  cmd->add_flag("--records", opts_.records,
                "Count from a ring buffer record per transition, as 'trace' sees them, instead of in the kernel: "
                "slower, and records are lost if tcpfsm falls behind (implied by --pid, --comm, --cgroup)")
      ->group("Run");
  add_text(cmd, "--hist", hist_, "Also print this state's lifetimes as histogram bars (per group with --by)", "STATE",
           "Output");
  groups_.add(cmd, true);
  filter_.add(cmd);
  return cmd;
}

Result<StatsOptions> StatsFlags::finish() {
  auto filter = filter_.finish();
  if (!filter) return filter.error();
  opts_.filter = std::move(filter.value());
  for (auto [text, flag, zero, dst] : {std::tuple{&interval_, "--interval", true, &opts_.interval_s},
                                       std::tuple{&duration_, "--duration", false, &opts_.duration_s},
                                       std::tuple{&reconcile_, "--reconcile", true, &opts_.reconcile_s},
                                       std::tuple{&stuck_, "--stuck-min-age", true, &opts_.stuck_min_age_s}}) {
    if (auto st = seconds(*text, flag, zero, *dst); !st) return st.error();
  }
  if (replay_.given()) {
    if (replay_.value.empty()) return Error::usage("invalid --replay '': give a file written by 'tcpfsm trace --json'");
    if (!opts_.filter.cgroup_path.empty())
      return Error::usage("--cgroup cannot be used with --replay: captures do not record cgroups");
    opts_.replay = replay_.value;  // opened by the command
  }
  if (auto st = ringbuf(ringbuf_, opts_.ringbuf_bytes); !st) return st.error();
  auto groups = groups_.finish();
  if (!groups) return groups.error();
  opts_.groups = std::move(groups.value());
  if (hist_.given()) {
    const auto s = parse_state(hist_.value);
    if (!s || *s == TCPFSM_CLOSE)
      return Error::usage("invalid --hist " + single_quoted(hist_.value) + ": give a state, e.g. TIME_WAIT");
    opts_.hist_state = *s;
  }
  return opts_;
}

}  // namespace tcpfsm::flags
