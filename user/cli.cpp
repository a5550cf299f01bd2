#include "tcpfsm/cli.hpp"

#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include <CLI/CLI.hpp>
#include <charconv>
#include <cmath>
#include <sstream>
#include <tuple>

namespace tcpfsm {
namespace {

// Values are kept as given; an option's presence is `given(opt)`, so an
// empty value ("--pid ''") is rejected rather than silently ignored.
struct RawFilter {
  bool ipv4 = false, ipv6 = false;
  std::string lports, dports, pid, comm, netns, cgroup;
  CLI::Option *lports_opt = nullptr, *dports_opt = nullptr, *pid_opt = nullptr, *comm_opt = nullptr,
              *netns_opt = nullptr, *cgroup_opt = nullptr;
};

bool given(const CLI::Option* opt) { return opt && opt->count() > 0; }

void add_filter_flags(CLI::App* cmd, RawFilter& raw, const std::string& group = "Filters (applied in the kernel)") {
  auto* v4 = cmd->add_flag("-4,--ipv4", raw.ipv4, "IPv4 sockets only")->group(group);
  cmd->add_flag("-6,--ipv6", raw.ipv6, "IPv6 sockets only")->excludes(v4)->group(group);
  raw.lports_opt = cmd->add_option("-L,--localport", raw.lports, "Local ports, comma-separated (e.g. 80,443)")
      ->type_name("PORTS")
      ->group(group);
  raw.dports_opt = cmd->add_option("-D,--remoteport", raw.dports, "Remote ports, comma-separated")
      ->type_name("PORTS")
      ->group(group);
  raw.pid_opt = cmd->add_option("--pid", raw.pid, "Sockets owned by this process id")
      ->type_name("PID")
      ->group(group);
  raw.comm_opt = cmd->add_option("--comm", raw.comm, "Sockets owned by a process with this name (exact, as in /proc/PID/comm)")
      ->type_name("NAME")
      ->group(group);
  raw.netns_opt = cmd->add_option("--netns", raw.netns, "Sockets in this network namespace (inode from 'readlink /proc/PID/ns/net')")
      ->type_name("INODE")
      ->group(group);
  raw.cgroup_opt = cmd->add_option("--cgroup", raw.cgroup, "Sockets created in this cgroup v2 directory or below it")
      ->type_name("PATH")
      ->group(group);
}

Result<FilterSpec> to_filter(const RawFilter& raw) {
  FilterSpec f;
  if (raw.ipv4) f.family = AF_INET;
  if (raw.ipv6) f.family = AF_INET6;
  if (given(raw.lports_opt)) {
    auto p = parse_port_list("-L", raw.lports);
    if (!p) return p.error();
    f.lports = std::move(p.value());
  }
  if (given(raw.dports_opt)) {
    auto p = parse_port_list("-D", raw.dports);
    if (!p) return p.error();
    f.dports = std::move(p.value());
  }
  if (given(raw.pid_opt)) {
    auto p = parse_pid(raw.pid);
    if (!p) return p.error();
    f.pid = p.value();
  }
  if (given(raw.comm_opt)) {
    auto c = parse_comm(raw.comm);
    if (!c) return c.error();
    f.comm = c.value();
  }
  if (given(raw.netns_opt)) {
    auto n = parse_netns(raw.netns);
    if (!n) return n.error();
    f.netns = n.value();
  }
  if (given(raw.cgroup_opt)) {
    auto id = cgroup_id_of(raw.cgroup);
    if (!id) return id.error();
    f.cgroup_path = raw.cgroup;
    f.cgroup_id = id.value();
  }
  return f;
}

}  // namespace

Result<size_t> parse_byte_size(std::string_view flag, std::string_view text) {
  size_t value = 0;
  auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), value, 10);
  std::string_view suffix(ptr, static_cast<size_t>(text.data() + text.size() - ptr));
  size_t mult = 1;
  if (suffix == "K" || suffix == "k" || suffix == "KiB") {
    mult = 1u << 10;
  } else if (suffix == "M" || suffix == "m" || suffix == "MiB") {
    mult = 1u << 20;
  } else if (suffix == "G" || suffix == "g" || suffix == "GiB") {
    mult = 1u << 30;
  } else if (!suffix.empty()) {
    ec = std::errc::invalid_argument;
  }
  if (ec != std::errc() || ptr == text.data() || value == 0 || value > (size_t{1} << 32) / mult) {
    return Error::usage("invalid " + std::string(flag) + " '" + std::string(text) +
                        "': give a size such as 4096, 64K or 8M");
  }
  return value * mult;
}

Result<double> parse_seconds(std::string_view flag, std::string_view text, bool allow_zero) {
  double v = 0;
  auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
  if (ec != std::errc() || ptr != text.data() + text.size() || !std::isfinite(v) || v < 0 || (v == 0 && !allow_zero) ||
      v > 1e9) {
    return Error::usage("invalid " + std::string(flag) + " '" + std::string(text) + "': give " +
                        (allow_zero ? "a number of seconds (0 to turn it off)" : "a positive number of seconds") +
                        ", e.g. 10 or 0.5");
  }
  return v;
}

Result<std::pair<std::string, uint16_t>> parse_listen(std::string_view text) {
  auto bad = [&](const std::string& why) {
    return Error::usage("invalid --listen '" + std::string(text) + "': " + why +
                        "; give HOST:PORT, e.g. 127.0.0.1:9977 or [::1]:9977");
  };
  std::string_view host, port;
  if (!text.empty() && text.front() == '[') {
    const size_t close = text.find(']');
    if (close == std::string_view::npos || close + 1 >= text.size() || text[close + 1] != ':')
      return bad("an IPv6 address needs brackets and a port");
    host = text.substr(1, close - 1);
    port = text.substr(close + 2);
  } else {
    const size_t colon = text.rfind(':');
    if (colon == std::string_view::npos) return bad("no port");
    host = text.substr(0, colon);
    port = text.substr(colon + 1);
    if (host.find(':') != std::string_view::npos) return bad("an IPv6 address needs brackets");
  }
  if (host.empty()) return bad("no host (listening on every address is a choice: say 0.0.0.0 or [::])");
  unsigned value = 0;
  auto [ptr, ec] = std::from_chars(port.data(), port.data() + port.size(), value);
  if (port.empty() || ec != std::errc() || ptr != port.data() + port.size() || value == 0 || value > 65535)
    return bad("the port must be 1-65535");
  return std::pair<std::string, uint16_t>{std::string(host), static_cast<uint16_t>(value)};
}

namespace {

Result<size_t> ring_size(const CLI::Option* opt, const std::string& text) {
  if (!given(opt)) return size_t{8u << 20};
  auto s = parse_byte_size("--ringbuf-size", text);
  if (!s) return s.error();
  if (s.value() < 4096 || (s.value() & (s.value() - 1)) != 0) {
    return Error::usage("invalid --ringbuf-size '" + text + "': give a power of two of at least 4096, e.g. 4M");
  }
  return s.value();
}

}  // namespace

Result<ParsedArgs> parse_command_line(const std::vector<std::string>& args) {
  CLI::App app{"tcpfsm: watch every TCP state change on this host as it happens (eBPF).", "tcpfsm"};
  app.set_version_flag("-V,--version", std::string("tcpfsm ") + kVersion);
  app.require_subcommand(0, 1);
  app.footer(
      "Without a command, tcpfsm runs 'stats --interval 1'.\n"
      "Needs root (or CAP_BPF and CAP_PERFMON) and a kernel >= 5.8 with BTF.\n"
      "Run 'tcpfsm COMMAND --help' for the flags of a command.");
  bool verbose = false;
  app.add_flag("-v,--verbose", verbose, "Debug output, including libbpf's log");

  // trace
  RawFilter traw;
  TraceOptions trace;
  std::string tduration, tringbuf;
  auto* tcmd = app.add_subcommand("trace", "Print every TCP state transition as it happens (like tcpstates)");
  tcmd->footer(
      "Columns: SKADDR kernel socket address; PID/COMM the socket's owner (process context), '-' when unknown;\n"
      "LADDR/LPORT local end; RADDR/RPORT remote end; OLDSTATE -> NEWSTATE; MS time spent in OLDSTATE\n"
      "('-' when the socket was first seen in it). --json adds TIME_WAIT timer records.\n"
      "Examples:\n"
      "  tcpfsm trace                      # everything\n"
      "  tcpfsm trace -T -L 80,443         # server side of ports 80 and 443, with times\n"
      "  tcpfsm trace --json --duration 10 > cap.json   # a capture for 'tcpfsm stats --replay cap.json'");
  tcmd->add_flag("-T,--timestamp", trace.text.timestamps, "Start each line with the local time")->group("Output");
  tcmd->add_flag("-w,--wide", trace.text.wide, "Wide address columns (fit IPv6)")->group("Output");
  tcmd->add_flag("--json", trace.json, "One JSON object per line; a summary object at the end")->group("Output");
  auto* tduration_opt = tcmd->add_option("--duration", tduration, "Stop after this many seconds (default: until Ctrl-C)")
                            ->type_name("SECONDS")
                            ->group("Run");
  auto* tringbuf_opt = tcmd->add_option("--ringbuf-size", tringbuf, "BPF ring buffer size, a power of two (default 8M)")
                           ->type_name("BYTES")
                           ->group("Run");
  add_filter_flags(tcmd, traw);

  // stats
  RawFilter sraw;
  StatsOptions stats;
  std::string sinterval, sduration, sreconcile, sringbuf, sstuck;
  auto* scmd = app.add_subcommand("stats", "Live per-state socket counts, transition counts and time spent in each state");
  scmd->footer(
      "Counts start from a sock_diag dump (what 'ss -tan' reads) and follow every transition, counted by the\n"
      "BPF programs in the kernel: nothing crosses to userspace per transition, and nothing is lost while\n"
      "tcpfsm is busy or stopped. A periodic reconciliation measures again the sockets found already in their\n"
      "state and reports the drift. Lifetimes count only sockets seen entering the state;\n"
      "sockets found at start are listed apart, with how long they have been there at least.\n"
      "TIME_WAIT lifetimes come from the timewait socket's own timer: expired or killed early.\n"
      "Examples:\n"
      "  tcpfsm stats                         # a live table, every second\n"
      "  tcpfsm stats --json --duration 60 --interval 0   # one JSON object after a minute\n"
      "  tcpfsm stats --replay cap.json       # the same tables from a capture, no root needed");
  scmd->add_flag("--json", stats.json, "One JSON object per report")->group("Output");
  auto* sinterval_opt = scmd->add_option("--interval", sinterval, "Report every N seconds; 0: only at the end (default 1)")
                            ->type_name("SECONDS")
                            ->group("Output");
  auto* sduration_opt = scmd->add_option("--duration", sduration, "Stop after this many seconds, with a final report")
                            ->type_name("SECONDS")
                            ->group("Run");
  auto* sreconcile_opt =
      scmd->add_option("--reconcile", sreconcile, "Compare with sock_diag every N seconds; 0: only at start (default 10)")
          ->type_name("SECONDS")
          ->group("Run");
  auto* sstuck_opt =
      scmd->add_option("--stuck-min-age", sstuck,
                       "Stuck-socket section: holders of sockets in CLOSE_WAIT etc. for longer than this (default 10)")
          ->type_name("SECONDS")
          ->group("Output");
  auto* sreplay_opt = scmd->add_option("--replay", stats.replay, "Compute from a 'trace --json' capture ('-': stdin)")
                          ->type_name("FILE")
                          ->group("Run");
  auto* sringbuf_opt = scmd->add_option("--ringbuf-size", sringbuf, "With --records: BPF ring buffer size, a power of two (default 8M)")
                           ->type_name("BYTES")
                           ->group("Run");
  scmd->add_flag("--records", stats.records,
                 "Count from a ring buffer record per transition, as 'trace' sees them, instead of in the kernel: "
                 "slower, and records are lost if tcpfsm falls behind (implied by --pid, --comm, --cgroup)")
      ->group("Run");
  add_filter_flags(scmd, sraw);

  // leaks
  RawFilter lraw;
  LeaksOptions leaks;
  std::string lmin_age, lwatch, lduration;
  auto* lcmd = app.add_subcommand("leaks", "Name the processes holding sockets stuck in CLOSE_WAIT and other states");
  lcmd->footer(
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
  lcmd->add_flag("--json", leaks.json, "A JSON array of groups (one array per line with --watch)")->group("Output");
  auto* lmin_age_opt = lcmd->add_option("--min-age", lmin_age, "Only sockets in their state longer than this (default 10)")
                           ->type_name("SECONDS")
                           ->group("Output");
  auto* lwatch_opt = lcmd->add_option("--watch", lwatch, "Report again every N seconds until Ctrl-C")
                         ->type_name("SECONDS")
                         ->group("Run");
  auto* lduration_opt = lcmd->add_option("--duration", lduration, "With --watch: stop after this many seconds")
                            ->type_name("SECONDS")
                            ->group("Run");
  add_filter_flags(lcmd, lraw, "Filters (--pid, --comm and --cgroup select the holding process)");

  // serve
  RawFilter vraw;
  ServeOptions serve;
  std::string vlisten, vtop, vstuck, vreconcile, vduration, vringbuf;
  auto* vcmd = app.add_subcommand("serve", "Prometheus exporter: /metrics and /healthz over HTTP");
  vcmd->footer(
      "Serves the live engine of 'stats' in Prometheus text format: node_tcp_connection_states (node_exporter's\n"
      "name and labels, so existing dashboards work), tcpfsm_sockets, tcpfsm_transitions_total,\n"
      "tcpfsm_state_duration_seconds (histogram), tcpfsm_timewait_ends_total, tcpfsm_stuck_sockets (top holders\n"
      "from 'leaks'), event and loss counters, drift, and BPF run time with --bpf-stats. Only GET and HEAD, on\n"
      "/metrics and /healthz; the default address is loopback.\n"
      "Examples:\n"
      "  tcpfsm serve                              # http://127.0.0.1:9977/metrics\n"
      "  tcpfsm serve --listen 0.0.0.0:9977        # reachable from the Prometheus server\n"
      "  tcpfsm serve --bpf-stats --stuck-top 50");
  auto* vlisten_opt = vcmd->add_option("--listen", vlisten, "HOST:PORT to serve on (default 127.0.0.1:9977)")
                          ->type_name("ADDR")
                          ->group("Serve");
  auto* vtop_opt = vcmd->add_option("--stuck-top", vtop, "tcpfsm_stuck_sockets series: the top N holders (default 20)")
                       ->type_name("N")
                       ->group("Serve");
  auto* vstuck_opt = vcmd->add_option("--stuck-min-age", vstuck, "Stuck means held longer than this (default 10)")
                         ->type_name("SECONDS")
                         ->group("Serve");
  vcmd->add_flag("--bpf-stats", serve.bpf_stats,
                 "Turn on kernel BPF run-time stats while serving (BPF_ENABLE_STATS), for tcpfsm_bpf_* metrics")
      ->group("Serve");
  auto* vreconcile_opt =
      vcmd->add_option("--reconcile", vreconcile, "Compare with sock_diag every N seconds; 0: only at start (default 10)")
          ->type_name("SECONDS")
          ->group("Run");
  auto* vduration_opt = vcmd->add_option("--duration", vduration, "Stop after this many seconds (default: never)")
                            ->type_name("SECONDS")
                            ->group("Run");
  auto* vringbuf_opt = vcmd->add_option("--ringbuf-size", vringbuf, "With --records: BPF ring buffer size, a power of two (default 8M)")
                           ->type_name("BYTES")
                           ->group("Run");
  vcmd->add_flag("--records", serve.records,
                 "Count from a ring buffer record per transition, as 'trace' sees them, instead of in the kernel: "
                 "slower, and records are lost if tcpfsm falls behind (implied by --pid, --comm, --cgroup)")
      ->group("Run");
  add_filter_flags(vcmd, vraw);

  // doctor
  DoctorOptions doctor;
  std::string dobserve, dnetns;
  auto* dcmd = app.add_subcommand("doctor", "Find what is wrong with this host's TCP, with evidence, and what to do");
  dcmd->footer(
      "Reads the TCP settings (/proc/sys/net/ipv4, net.core.somaxconn) and counters (/proc/net/netstat, snmp,\n"
      "sockstat) twice, watches live traffic for --observe seconds (connections per destination, then who holds\n"
      "stuck sockets, TIME_WAIT by side, listen queues), and reports findings: severity, evidence with its\n"
      "source, why, and what to do. CLOSE_WAIT leaks, TIME_WAIT near tcp_max_tw_buckets, ephemeral port\n"
      "pressure per destination, the server closing first, orphaned FIN_WAIT2, listen-queue overflows,\n"
      "tcp_tw_recycle, and recipe settings that hurt. Exit status: 0 healthy, 1 warnings or worse, 2 usage.\n"
      "Examples:\n"
      "  tcpfsm doctor                        # watch 10 s, then report\n"
      "  tcpfsm doctor --json --observe 60\n"
      "  tcpfsm doctor --proc-root ./host-copy --etc-root ./host-copy/etc   # files copied from another host");
  dcmd->add_flag("--json", doctor.json, "An array of findings: id, severity, title, evidence, explanation, action")
      ->group("Output");
  auto* dobserve_opt = dcmd->add_option("--observe", dobserve, "Watch live traffic this long; 0: files only (default 10)")
                           ->type_name("SECONDS")
                           ->group("Run");
  auto* dproc_opt = dcmd->add_option("--proc-root", doctor.proc_root,
                                     "Read /proc files from this directory instead (no live watching)")
                        ->type_name("DIR")
                        ->group("Run");
  auto* detc_opt = dcmd->add_option("--etc-root", doctor.etc_root, "Read sysctl.conf and sysctl.d/ from here (default /etc)")
                       ->type_name("DIR")
                       ->group("Run");
  auto* dnetns_opt = dcmd->add_option("--netns", dnetns, "Watch only this network namespace (inode)")
                         ->type_name("INODE")
                         ->group("Run");

  std::vector<std::string> reversed(args.rbegin(), args.rend());
  try {
    app.parse(reversed);
  } catch (const CLI::CallForHelp& e) {
    return ParsedArgs{std::nullopt, app.exit(e)};
  } catch (const CLI::CallForAllHelp& e) {
    return ParsedArgs{std::nullopt, app.exit(e)};
  } catch (const CLI::CallForVersion& e) {
    return ParsedArgs{std::nullopt, app.exit(e)};
  } catch (const CLI::ParseError& e) {
    std::string msg = e.what();
    return Error::usage(msg + "; run 'tcpfsm --help'");
  }

  CommandLine cl;
  cl.verbose = verbose;
  if (tcmd->parsed()) {
    cl.command = Command::Trace;
    auto filter = to_filter(traw);
    if (!filter) return filter.error();
    trace.filter = std::move(filter.value());
    if (given(tduration_opt)) {
      auto d = parse_seconds("--duration", tduration);
      if (!d) return d.error();
      trace.duration_s = d.value();
    }
    auto rb = ring_size(tringbuf_opt, tringbuf);
    if (!rb) return rb.error();
    trace.ringbuf_bytes = rb.value();
    cl.trace = std::move(trace);
    return ParsedArgs{std::move(cl), 0};
  }

  if (dcmd->parsed()) {
    cl.command = Command::Doctor;
    if (given(dobserve_opt)) {
      auto v = parse_seconds("--observe", dobserve, true);
      if (!v) return v.error();
      doctor.observe_s = v.value();
    }
    for (auto [opt, dir, flag] : {std::tuple{dproc_opt, &doctor.proc_root, "--proc-root"},
                                  std::tuple{detc_opt, &doctor.etc_root, "--etc-root"}}) {
      if (!given(opt)) continue;
      struct stat st {};
      if (dir->empty() || stat(dir->c_str(), &st) != 0 || !S_ISDIR(st.st_mode)) {
        return Error::usage("invalid " + std::string(flag) + " '" + *dir + "': not a directory");
      }
      while (dir->size() > 1 && dir->back() == '/') dir->pop_back();
    }
    if (given(dnetns_opt)) {
      auto n = parse_netns(dnetns);
      if (!n) return n.error();
      doctor.netns = n.value();
    }
    cl.doctor = std::move(doctor);
    return ParsedArgs{std::move(cl), 0};
  }

  if (vcmd->parsed()) {
    cl.command = Command::Serve;
    auto filter = to_filter(vraw);
    if (!filter) return filter.error();
    serve.filter = std::move(filter.value());
    if (given(vlisten_opt)) {
      auto l = parse_listen(vlisten);
      if (!l) return l.error();
      serve.host = l->first;
      serve.port = l->second;
    }
    if (given(vtop_opt)) {
      unsigned n = 0;
      auto [ptr, ec] = std::from_chars(vtop.data(), vtop.data() + vtop.size(), n);
      if (vtop.empty() || ec != std::errc() || ptr != vtop.data() + vtop.size() || n > 10000)
        return Error::usage("invalid --stuck-top '" + vtop + "': give a number of series from 0 to 10000, e.g. 20");
      serve.stuck_top = n;
    }
    for (auto [opt, text, dst, flag, zero] :
         {std::tuple{vstuck_opt, &vstuck, &serve.stuck_min_age_s, "--stuck-min-age", true},
          std::tuple{vreconcile_opt, &vreconcile, &serve.reconcile_s, "--reconcile", true},
          std::tuple{vduration_opt, &vduration, &serve.duration_s, "--duration", false}}) {
      if (!given(opt)) continue;
      auto v = parse_seconds(flag, *text, zero);
      if (!v) return v.error();
      *dst = v.value();
    }
    auto rb = ring_size(vringbuf_opt, vringbuf);
    if (!rb) return rb.error();
    serve.ringbuf_bytes = rb.value();
    cl.serve = std::move(serve);
    return ParsedArgs{std::move(cl), 0};
  }

  if (lcmd->parsed()) {
    cl.command = Command::Leaks;
    auto filter = to_filter(lraw);
    if (!filter) return filter.error();
    leaks.filter = std::move(filter.value());
    for (auto [opt, text, dst, flag, zero] :
         {std::tuple{lmin_age_opt, &lmin_age, &leaks.min_age_s, "--min-age", true},
          std::tuple{lwatch_opt, &lwatch, &leaks.watch_s, "--watch", false},
          std::tuple{lduration_opt, &lduration, &leaks.duration_s, "--duration", false}}) {
      if (!given(opt)) continue;
      auto v = parse_seconds(flag, *text, zero);
      if (!v) return v.error();
      *dst = v.value();
    }
    if (given(lduration_opt) && !given(lwatch_opt)) {
      return Error::usage("--duration needs --watch: without it, leaks reports once and exits");
    }
    cl.leaks = std::move(leaks);
    return ParsedArgs{std::move(cl), 0};
  }

  cl.command = Command::Stats;  // also without a subcommand
  auto filter = to_filter(sraw);
  if (!filter) return filter.error();
  stats.filter = std::move(filter.value());
  for (auto [opt, text, dst, flag, zero] :
       {std::tuple{sinterval_opt, &sinterval, &stats.interval_s, "--interval", true},
        std::tuple{sduration_opt, &sduration, &stats.duration_s, "--duration", false},
        std::tuple{sreconcile_opt, &sreconcile, &stats.reconcile_s, "--reconcile", true},
        std::tuple{sstuck_opt, &sstuck, &stats.stuck_min_age_s, "--stuck-min-age", true}}) {
    if (!given(opt)) continue;
    auto v = parse_seconds(flag, *text, zero);
    if (!v) return v.error();
    *dst = v.value();
  }
  if (given(sreplay_opt)) {
    if (stats.replay.empty()) return Error::usage("invalid --replay '': give a file written by 'tcpfsm trace --json'");
    if (stats.replay != "-" && access(stats.replay.c_str(), R_OK) != 0) {
      return Error::usage("invalid --replay '" + stats.replay + "': " + std::strerror(errno) +
                          "; give a file written by 'tcpfsm trace --json', or - for stdin");
    }
    if (stats.filter.cgroup_id) {
      return Error::usage("--cgroup cannot be used with --replay: captures do not record cgroups");
    }
  }
  auto rb = ring_size(sringbuf_opt, sringbuf);
  if (!rb) return rb.error();
  stats.ringbuf_bytes = rb.value();
  cl.stats = std::move(stats);
  return ParsedArgs{std::move(cl), 0};
}

}  // namespace tcpfsm
