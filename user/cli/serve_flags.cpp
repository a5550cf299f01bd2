// `tcpfsm serve` flags.
#include "base/parse.hpp"
#include "cli/flags.hpp"
#include "cli/values.hpp"

namespace tcpfsm::flags {
namespace {

std::string by_text(const GroupOptions& g) {
  std::string t;
  for (GroupBy k : g.spec.keys) {
    if (!t.empty()) t += ',';
    t += group_by_name(k);
  }
  return t;
}

}  // namespace

CLI::App* ServeFlags::add(CLI::App& app) {
  auto* cmd = app.add_subcommand("serve", "Prometheus exporter: /metrics and /healthz over HTTP");
  cmd->footer(
      "Serves the live engine of 'stats' in Prometheus text format: node_tcp_connection_states (node_exporter's\n"
      "tcpstat exactly: its own network namespace, unfiltered), tcpfsm_sockets (every namespace),\n"
      "tcpfsm_transitions_total,\n"
      "tcpfsm_state_duration_seconds (histogram), tcpfsm_timewait_ends_total, tcpfsm_stuck_sockets (top holders\n"
      "from 'leaks'), event and loss counters, drift, and BPF run time with --bpf-stats. Only GET and HEAD, on\n"
      "/metrics and /healthz; the default address is loopback.\n"
      "Examples:\n"
      "  tcpfsm serve                              # http://127.0.0.1:9977/metrics\n"
      "  tcpfsm serve --web.listen-address :9977   # every address: reachable from the Prometheus server\n"
      "  tcpfsm serve --web.config.file /etc/tcpfsm/web.yml   # TLS and basic auth, as Prometheus exporters do\n"
      "  tcpfsm serve --bpf-stats --stuck-top 50");
  add_text(cmd, "--web.listen-address", listen_,
           "HOST:PORT to serve on, :PORT for every address (default 127.0.0.1:9977)", "ADDR", "Serve");
  // Its own option, not a CLI11 alias, so that an error names the flag the user typed.
  add_text(cmd, "--listen", listen_old_, "The same as --web.listen-address (its first name)", "ADDR", "Serve")
      ->excludes(listen_.opt);
  add_text(cmd, "--web.config.file", web_config_,
           "YAML file of TLS and basic auth settings, in Prometheus exporter-toolkit's format (tls_server_config, "
           "basic_auth_users, http_server_config.headers); relative paths in it are relative to the file",
           "FILE", "Serve");
  add_text(cmd, "--stuck-top", top_, "tcpfsm_stuck_sockets series: the top N holders (default 20)", "N", "Serve");
  add_text(cmd, "--stuck-min-age", stuck_, "Stuck means held longer than this (default 10)", "DURATION", "Serve");
  cmd->add_flag("--bpf-stats", opts_.bpf_stats,
                "Turn on kernel BPF run-time stats while serving (BPF_ENABLE_STATS), for tcpfsm_bpf_* metrics")
      ->group("Serve");
  add_text(cmd, "--reconcile", reconcile_, "Compare with sock_diag every DURATION; 0: only at start (default 10)",
           "DURATION", "Run");
  add_text(cmd, "--duration", duration_, "Stop after this long (default: never)", "DURATION", "Run");
  add_text(cmd, "--ringbuf-size", ringbuf_,
           "With --records: BPF ring buffer size, a power of two " + default_ringbuf_text(), "BYTES", "Run");
  cmd->add_flag("--records", opts_.records,
                "Count from a ring buffer record per transition, as 'trace' sees them, instead of in the kernel: "
                "slower, and records are lost if tcpfsm falls behind (implied by --pid, --comm, --cgroup)")
      ->group("Run");
  groups_.add(cmd, false);
  filter_.add(cmd);
  return cmd;
}

Result<ServeOptions> ServeFlags::finish() {
  auto filter = filter_.finish();
  if (!filter) return filter.error();
  opts_.filter = std::move(filter.value());
  for (auto [text, flag] : {std::pair{&listen_, "--web.listen-address"}, std::pair{&listen_old_, "--listen"}}) {
    if (!text->given()) continue;
    auto l = parse_listen(text->value, flag);
    if (!l) return l.error();
    opts_.host = l->first;
    opts_.port = l->second;
  }
  if (web_config_.given()) {
    if (web_config_.value.empty())
      return Error::usage("invalid --web.config.file '': give the path of a web config file, or leave the flag out");
    opts_.web_config_file = web_config_.value;
  }
  if (top_.given()) {
    auto n = parse_count("--stuck-top", top_.value, 10000);
    if (!n) return n.error();
    opts_.stuck_top = n.value();
  }
  for (auto [text, flag, zero, dst] : {std::tuple{&stuck_, "--stuck-min-age", true, &opts_.stuck_min_age_s},
                                       std::tuple{&reconcile_, "--reconcile", true, &opts_.reconcile_s},
                                       std::tuple{&duration_, "--duration", false, &opts_.duration_s}}) {
    if (auto st = seconds(*text, flag, zero, *dst); !st) return st.error();
  }
  if (auto st = ringbuf(ringbuf_, opts_.ringbuf_bytes); !st) return st.error();
  auto groups = groups_.finish();
  if (!groups) return groups.error();
  opts_.groups = std::move(groups.value());
  const auto& keys = opts_.groups.spec.keys;
  if (!keys.empty()) {
    const GroupBy k = keys.front();
    if (keys.size() != 1 ||
        !(k == GroupBy::Lport || k == GroupBy::Raddr || k == GroupBy::Pod || k == GroupBy::Container))
      return Error::usage("invalid --by " + single_quoted(by_text(opts_.groups)) +
                          ": serve exports one key, lport, raddr, pod or container, each with a bounded label set");
  }
  return opts_;
}

}  // namespace tcpfsm::flags
