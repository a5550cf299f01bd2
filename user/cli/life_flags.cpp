// `tcpfsm life` flags: tcplife's (-p, -L, -D, -4, -6, -T, -w) and tcpfsm's filters.
#include "base/parse.hpp"
#include "cli/flags.hpp"

namespace tcpfsm::flags {

CLI::App* LifeFlags::add(CLI::App& app) {
  auto* cmd = app.add_subcommand("life", "One line per connection as it closes (like tcplife), with why and how");
  cmd->footer(
      "Columns: PID/COMM the socket's owner (the process that held it, also when the peer closed first);\n"
      "LADDR/LPORT, RADDR/RPORT its ends; TX_KB sent and acknowledged, RX_KB received (KiB); MS its life from\n"
      "SYN_SENT or SYN_RECV to CLOSE ('>' when tcpfsm saw it only later); CLOSER who sent the first FIN: active\n"
      "(this end), passive (the peer), simultaneous, none (a reset or a failed connect); CAUSE why it closed\n"
      "(README, \"closed by\"); RETRANS segments retransmitted; SRTT_MS smoothed round-trip time; PATH every\n"
      "state with the time spent in it, '> TIME_WAIT' when a timewait socket took over the connection.\n"
      "--json: one object per connection (bytes, ns), then a \"time_wait\" object when that timewait socket\n"
      "ends (expired, killed, or still_open when tcpfsm stops).\n"
      "Examples:\n"
      "  tcpfsm life                       # every connection that closes\n"
      "  tcpfsm life -T -L 80,443          # the server side of ports 80 and 443, with times\n"
      "  tcpfsm life -p 1234 --json        # one process's connections, as JSON\n"
      "  tcpfsm life --replay cap.json     # the same lines from a 'trace --json' capture");
  cmd->add_flag("-T,--time", opts_.text.timestamps, "Start each line with the local time of the close")
      ->group("Output");
  cmd->add_flag("-w,--wide", opts_.text.wide, "Wide address columns (fit IPv6)")->group("Output");
  cmd->add_flag("--json", opts_.json, "One JSON object per connection and per TIME_WAIT end; a summary at the end")
      ->group("Output");
  add_text(cmd, "--duration", duration_, "Stop after this long (default: until Ctrl-C)", "DURATION", "Run");
  add_text(cmd, "--ringbuf-size", ringbuf_, "BPF ring buffer size, a power of two " + default_ringbuf_text(), "BYTES",
           "Run");
  add_text(cmd, "--max-tracked", max_tracked_,
           "Connections followed at once (default " + std::to_string(LifeTracker::kDefaultMaxTracked) +
               "); those beyond close unprinted, counted as untracked",
           "N", "Run");
  add_text(cmd, "--replay", replay_, "Read a 'trace --json' capture ('-': stdin) instead of the kernel", "FILE", "Run");
  filter_.add(cmd, "Filters (applied in the kernel)", true);
  return cmd;
}

Result<LifeOptions> LifeFlags::finish() {
  auto filter = filter_.finish();
  if (!filter) return filter.error();
  opts_.filter = std::move(filter.value());
  if (auto st = seconds(duration_, "--duration", false, opts_.duration_s); !st) return st.error();
  if (auto st = ringbuf(ringbuf_, opts_.ringbuf_bytes); !st) return st.error();
  if (max_tracked_.given()) {
    auto n = parse_count("--max-tracked", max_tracked_.value, size_t{1} << 26);
    if (!n) return n.error();
    if (*n == 0) return Error::usage("invalid --max-tracked '0': give at least 1");
    opts_.max_tracked = *n;
  }
  if (replay_.given()) {
    if (replay_.value.empty()) return Error::usage("invalid --replay '': give a file written by 'tcpfsm trace --json'");
    if (!opts_.filter.cgroup_path.empty())
      return Error::usage("--cgroup cannot be used with --replay: captures do not record cgroups");
    if (duration_.given()) return Error::usage("--duration cannot be used with --replay: a capture is read to its end");
    opts_.replay = replay_.value;  // opened by the command
  }
  return opts_;
}

}  // namespace tcpfsm::flags
