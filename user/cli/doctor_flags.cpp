// `tcpfsm doctor` flags.
#include "cli/flags.hpp"
#include "cli/values.hpp"

namespace tcpfsm::flags {

CLI::App* DoctorFlags::add(CLI::App& app) {
  auto* cmd = app.add_subcommand("doctor", "Find what is wrong with this host's TCP, with evidence, and what to do");
  cmd->footer(
      "Reads the TCP settings (/proc/sys/net/ipv4, net.core.somaxconn) and counters (/proc/net/netstat, snmp,\n"
      "sockstat) twice, watches live traffic for --observe seconds (connections per destination, then who holds\n"
      "stuck sockets, TIME_WAIT by side, listen queues), and reports findings: severity, evidence with its\n"
      "source, why, and what to do. CLOSE_WAIT leaks, TIME_WAIT near tcp_max_tw_buckets, ephemeral port\n"
      "pressure per destination, the server closing first, orphaned FIN_WAIT2, listen-queue overflows,\n"
      "FIN_WAIT1/LAST_ACK/CLOSING that get no ACK (a dead path, or a peer whose window is closed), a\n"
      "process scanning many destinations that do not answer, a backend that refuses or does not answer,\n"
      "ESTABLISHED piling up idle on a service or in a client's pool (--idle-after), tcp_tw_recycle, and\n"
      "recipe settings that hurt. Exit status: 0 healthy, 1 warnings or worse, 2 usage.\n"
      "\n"
      "--recipe judges a sysctl recipe (sysctl.conf lines, or a blog post's paste: several settings on a line,\n"
      "prose around them) line by line instead: what each setting really does on this kernel, whether the\n"
      "evidence here needs it, and a verdict: harmful, no effect here, unneeded here, helps here, or unknown\n"
      "setting (no rule for it), beside the current value. Exit status 1 when a line is harmful.\n"
      "Examples:\n"
      "  tcpfsm doctor                        # watch 10 s, then report\n"
      "  tcpfsm doctor --json --observe 60\n"
      "  tcpfsm doctor --recipe /etc/sysctl.d/99-tuning.conf\n"
      "  tcpfsm doctor --recipe - < pasted.txt   # a recipe pasted from a post\n"
      "  tcpfsm doctor --proc-root ./host-copy --etc-root ./host-copy/etc   # files copied from another host");
  cmd->add_flag("--json", opts_.json,
                "An array of findings: id, severity, title, evidence, explanation, action (with --recipe: an object, "
                "'verdicts' one per setting: line, setting, value, current, verdict, why, evidence)")
      ->group("Output");
  add_text(cmd, "--observe", observe_, "Watch live traffic this long; 0: files only (default 10)", "DURATION", "Run");
  add_text(cmd, "--proc-root", proc_root_, "Read /proc files from this directory instead (no live watching)", "DIR",
           "Run");
  add_text(cmd, "--etc-root", etc_root_, "Read sysctl.conf and sysctl.d/ from here (default /etc)", "DIR", "Run");
  add_text(cmd, "--netns", netns_, "Watch only this network namespace (inode)", "INODE", "Run");
  add_text(cmd, "--idle-after", idle_after_,
           "An ESTABLISHED connection with no data either way for this long is idle (default 120)", "DURATION", "Run");
  add_text(cmd, "--recipe", recipe_, "Judge this sysctl recipe line by line ('-': stdin) instead of reporting findings",
           "FILE", "Run");
  return cmd;
}

Result<DoctorOptions> DoctorFlags::finish() {
  if (auto st = seconds(observe_, "--observe", true, opts_.observe_s); !st) return st.error();
  if (auto st = seconds(idle_after_, "--idle-after", false, opts_.idle_after_s); !st) return st.error();
  // Checked to be directories by the command (commands/checks.hpp).
  for (auto [text, dir, flag] : {std::tuple{&proc_root_, &opts_.proc_root, "--proc-root"},
                                 std::tuple{&etc_root_, &opts_.etc_root, "--etc-root"}}) {
    if (!text->given()) continue;
    if (text->value.empty()) return Error::usage("invalid " + std::string(flag) + " '': give a directory");
    *dir = text->value;
    while (dir->size() > 1 && dir->back() == '/') dir->pop_back();
  }
  if (recipe_.given()) {
    if (recipe_.value.empty())
      return Error::usage("invalid --recipe '': give a sysctl.conf-style file, or - for stdin");
    opts_.recipe = recipe_.value;
  }
  if (netns_.given()) {
    auto n = parse_netns("--netns", netns_.value);
    if (!n) return n.error();
    opts_.netns = n.value();
  }
  return opts_;
}

}  // namespace tcpfsm::flags
