// `tcpfsm trace` flags.
#include "cli/flags.hpp"

namespace tcpfsm::flags {

CLI::App* TraceFlags::add(CLI::App& app) {
  auto* cmd = app.add_subcommand("trace", "Print every TCP state transition as it happens (like tcpstates)");
  cmd->footer(
      "Columns: SKADDR kernel socket address; PID/COMM the socket's owner (process context), '-' when unknown;\n"
      "LADDR/LPORT local end; RADDR/RPORT remote end; OLDSTATE -> NEWSTATE; MS time spent in OLDSTATE\n"
      "('-' when the socket was first seen in it); CAUSE (-w or --cause) why a socket entered CLOSE: fin,\n"
      "rst_received, rst_sent:<reason>, refused, timeout, ... (README, \"closed by\"), '-' for other transitions.\n"
      "--json adds TIME_WAIT timer records, and \"cause\" to every record into CLOSE.\n"
      "Examples:\n"
      "  tcpfsm trace                      # everything\n"
      "  tcpfsm trace -T -L 80,443         # server side of ports 80 and 443, with times\n"
      "  tcpfsm trace --cause -D 5432      # how each connection to port 5432 ended\n"
      "  tcpfsm trace --json --duration 10 > cap.json   # a capture for 'tcpfsm stats --replay cap.json'");
  cmd->add_flag("-T,--timestamp", opts_.text.timestamps, "Start each line with the local time")->group("Output");
  cmd->add_flag("-w,--wide", opts_.text.wide, "Wide address columns (fit IPv6), and the CAUSE column")->group("Output");
  cmd->add_flag("--cause", opts_.text.cause, "Add the CAUSE column: why each socket entered CLOSE")->group("Output");
  cmd->add_flag("--json", opts_.json, "One JSON object per line; a summary object at the end")->group("Output");
  add_text(cmd, "--duration", duration_, "Stop after this long (default: until Ctrl-C)", "DURATION", "Run");
  add_text(cmd, "--ringbuf-size", ringbuf_, "BPF ring buffer size, a power of two " + default_ringbuf_text(), "BYTES",
           "Run");
  filter_.add(cmd);
  return cmd;
}

Result<TraceOptions> TraceFlags::finish() {
  auto filter = filter_.finish();
  if (!filter) return filter.error();
  opts_.filter = std::move(filter.value());
  if (auto st = seconds(duration_, "--duration", false, opts_.duration_s); !st) return st.error();
  if (auto st = ringbuf(ringbuf_, opts_.ringbuf_bytes); !st) return st.error();
  return opts_;
}

}  // namespace tcpfsm::flags
