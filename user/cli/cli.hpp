// The command line: flags in, validated options out. Every bad value becomes
// a usage Error (exit status 2) with one line saying what to give instead.
// Parsing touches no file: paths (--cgroup, --replay, --proc-root) are
// checked by the commands, which return usage errors the same way.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "account/groups.hpp"
#include "base/result.hpp"
#include "model/filter.hpp"
#include "tcpfsm/event.h"
#include "views/life_view.hpp"
#include "views/trace_view.hpp"

namespace tcpfsm {

struct TraceOptions {
  FilterSpec filter;
  TextOptions text;
  bool json = false;
  double duration_s = 0;  // 0: until SIGINT/SIGTERM
  size_t ringbuf_bytes = TCPFSM_DEFAULT_RINGBUF_BYTES;
};

struct LifeOptions {
  FilterSpec filter;
  LifeTextOptions text;
  bool json = false;
  double duration_s = 0;  // 0: until SIGINT/SIGTERM
  size_t ringbuf_bytes = TCPFSM_DEFAULT_RINGBUF_BYTES;
  size_t max_tracked = LifeTracker::kDefaultMaxTracked;  // connections followed at once
  std::string replay;                                    // a capture of `trace --json` instead of the kernel
};

struct StatsOptions {
  FilterSpec filter;
  bool json = false;
  double interval_s = 1;        // report every N seconds; 0: only at the end
  double duration_s = 0;        // 0: until SIGINT/SIGTERM
  double reconcile_s = 10;      // compare with sock_diag every N seconds; 0: only at start
  double stuck_min_age_s = 10;  // the stuck-sockets section: held longer than this
  std::string replay;           // a capture of `trace --json` instead of the live kernel
  size_t ringbuf_bytes = TCPFSM_DEFAULT_RINGBUF_BYTES;
  bool records = false;    // count from ring buffer records, not in the kernel
  GroupOptions groups;     // --by and its companions
  uint8_t hist_state = 0;  // --hist STATE; 0: none
};

struct LeaksOptions {
  // Family, netns and ports select sockets; pid, comm and cgroup select the
  // processes that hold them.
  FilterSpec filter;
  bool json = false;
  double min_age_s = 10;  // report sockets in a stuck state for longer than this
  double watch_s = 0;     // 0: report once; N: every N seconds until stopped
  double duration_s = 0;  // with --watch: stop after this long
};

struct ServeOptions {
  FilterSpec filter;
  std::string host = "127.0.0.1";  // loopback unless told otherwise
  uint16_t port = 9977;
  std::string web_config_file;  // --web.config.file: TLS and basic auth (exporter-toolkit's format); empty: plain HTTP
  size_t stuck_top = 20;        // tcpfsm_stuck_sockets series, at most
  double stuck_min_age_s = 10;
  bool bpf_stats = false;  // turn on BPF run-time stats for tcpfsm's programs
  double reconcile_s = 10;
  double duration_s = 0;
  size_t ringbuf_bytes = TCPFSM_DEFAULT_RINGBUF_BYTES;
  bool records = false;
  GroupOptions groups;  // --by: grouped metrics, bounded by --top
};

struct DoctorOptions {
  double observe_s = 10;            // live watching; 0: settings and counters only
  std::string proc_root = "/proc";  // another root: files copied from a host, no live watching
  std::string etc_root = "/etc";    // where sysctl.conf and sysctl.d/ are read
  uint32_t netns = 0;               // watch only this network namespace
  bool json = false;
  std::string recipe;  // --recipe: a sysctl recipe to judge line by line ("-": stdin); empty: findings
  // --idle-after: an ESTABLISHED connection with no data either way for this
  // long is idle (above nginx's 75 s keepalive_timeout, Tomcat's 20 s).
  double idle_after_s = 120;
};

enum class Command { Trace, Life, Stats, Leaks, Serve, Doctor };

struct CommandLine {
  Command command = Command::Stats;
  bool verbose = false;
  TraceOptions trace;
  LifeOptions life;
  StatsOptions stats;
  LeaksOptions leaks;
  ServeOptions serve;
  DoctorOptions doctor;
};

struct ParsedArgs {
  std::optional<CommandLine> command;  // empty: help or version was printed
  int exit_status = 0;
};

Result<ParsedArgs> parse_command_line(const std::vector<std::string>& args);

}  // namespace tcpfsm
