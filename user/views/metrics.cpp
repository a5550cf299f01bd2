// Prometheus text exposition of a MetricsSnapshot (see metrics.hpp).
#include "views/metrics.hpp"

#include <fmt/format.h>
#include <sys/socket.h>

#include <algorithm>
#include <iterator>
#include <map>
#include <set>
#include <tuple>

#include "base/parse.hpp"
#include "model/event.hpp"
#include "model/tcp_state.hpp"
#include "views/groups_view.hpp"

namespace tcpfsm {
namespace {

// node_exporter's tcpstat states, in its order.
constexpr uint8_t kNodeStates[] = {TCPFSM_ESTABLISHED, TCPFSM_SYN_SENT,  TCPFSM_SYN_RECV, TCPFSM_FIN_WAIT1,
                                   TCPFSM_FIN_WAIT2,   TCPFSM_TIME_WAIT, TCPFSM_CLOSE,    TCPFSM_CLOSE_WAIT,
                                   TCPFSM_LAST_ACK,    TCPFSM_LISTEN,    TCPFSM_CLOSING};

// Label values are escaped as the format requires: backslash, quote, newline.
std::string escape(std::string_view v) {
  std::string out;
  out.reserve(v.size());
  for (char c : v) {
    if (c == '\\') {
      out += "\\\\";
    } else if (c == '"') {
      out += "\\\"";
    } else if (c == '\n') {
      out += "\\n";
    } else {
      out += c;
    }
  }
  return out;
}

void header(std::string& out, std::string_view name, std::string_view type, std::string_view help) {
  fmt::format_to(std::back_inserter(out), "# HELP {} {}\n# TYPE {} {}\n", name, help, name, type);
}

// What node_exporter writes: a series per state that has sockets and the
// two queue sums, sorted by label value as its client library sorts them;
// nothing at all, not even HELP and TYPE, when the dump found no socket.
void node_states(std::string& out, const NodeTcpStat& n) {
  if (!n.dumped) return;
  std::vector<std::pair<std::string_view, uint64_t>> series = {{"rx_queued_bytes", n.rx_queued_bytes},
                                                               {"tx_queued_bytes", n.tx_queued_bytes}};
  for (uint8_t st : kNodeStates) {
    if (n.sockets[st]) series.emplace_back(state_label(st), n.sockets[st]);
  }
  std::sort(series.begin(), series.end());
  header(out, "node_tcp_connection_states", "gauge", "Number of connection states.");
  for (const auto& [state, v] : series)
    fmt::format_to(std::back_inserter(out), "node_tcp_connection_states{{state=\"{}\"}} {}\n", state, v);
}

void state_gauges(std::string& out, const MetricsSnapshot& s) {
  auto it = std::back_inserter(out);
  header(out, "tcpfsm_sockets", "gauge",
         "TCP sockets by state and address family, followed live in every network namespace tcpfsm watches "
         "(node_tcp_connection_states: its own namespace only, as node_exporter).");
  for (int fam = 0; fam < 2; ++fam) {
    for (uint8_t st : kNodeStates) {
      fmt::format_to(it, "tcpfsm_sockets{{state=\"{}\",family=\"{}\"}} {}\n", state_label(st),
                     family_name(fam ? AF_INET6 : AF_INET), s.sockets[fam][st]);
    }
  }
  header(out, "tcpfsm_transitions_total", "counter", "TCP state transitions seen, by old and new state.");
  for (uint8_t a = 0; a < TCPFSM_STATE_MAX; ++a) {
    for (uint8_t b = 0; b < TCPFSM_STATE_MAX; ++b) {
      if (uint64_t n = s.transitions[a][b]) {
        fmt::format_to(it, "tcpfsm_transitions_total{{from=\"{}\",to=\"{}\"}} {}\n", state_label(a), state_label(b), n);
      }
    }
  }
}

// Why sockets closed and what they retransmitted: bounded by states x
// causes, and only the pairs that happened are written, as transitions are.
void closes(std::string& out, const MetricsSnapshot& s) {
  auto it = std::back_inserter(out);
  header(out, "tcpfsm_closes_total", "counter",
         "Full sockets that entered CLOSE, by the state they left and why (see README, closed by).");
  for (uint8_t from = 0; from < TCPFSM_STATE_MAX; ++from) {
    for (uint8_t cause = 0; cause < kCauseCount; ++cause) {
      if (uint64_t n = s.closes[from][cause]) {
        fmt::format_to(it, "tcpfsm_closes_total{{from=\"{}\",cause=\"{}\"}} {}\n", state_label(from), cause_name(cause),
                       n);
      }
    }
  }
  header(out, "tcpfsm_connects_total", "counter",
         "Outgoing connects that ended their SYN_SENT: established, or failed by cause (refused, syn_timeout, "
         "no_local_port, ...). Their time in SYN_SENT is tcpfsm_state_duration_seconds{state=\"syn_sent\"}.");
  fmt::format_to(it, "tcpfsm_connects_total{{result=\"established\"}} {}\n",
                 s.transitions[TCPFSM_SYN_SENT][TCPFSM_ESTABLISHED]);
  for (uint8_t cause = 0; cause < kCauseCount; ++cause) {
    if (uint64_t n = s.closes[TCPFSM_SYN_SENT][cause])
      fmt::format_to(it, "tcpfsm_connects_total{{result=\"{}\"}} {}\n", cause_name(cause), n);
  }
  if (!s.retransmits) return;
  header(out, "tcpfsm_retransmits_total", "counter",
         "TCP segments retransmitted, by the state of the socket that sent them (a listener's SYN-ACKs: syn_recv).");
  for (uint8_t st : kNodeStates) {
    if (st == TCPFSM_CLOSE || st == TCPFSM_TIME_WAIT || st == TCPFSM_LISTEN) continue;  // nothing sends from these
    fmt::format_to(it, "tcpfsm_retransmits_total{{state=\"{}\"}} {}\n", state_label(st), (*s.retransmits)[st]);
  }
}

// One histogram's series, in seconds: labels is "" or 'state="x"'.
void histogram_series(std::string& out, std::string_view name, std::string_view labels, const LifetimeHistogram& h) {
  auto it = std::back_inserter(out);
  const std::string_view sep = labels.empty() ? "" : ",";
  uint64_t cumulative = 0;
  for (const auto& b : h.log2_buckets()) {
    cumulative += b.count;
    if (b.le_ns) {
      fmt::format_to(it, "{}_bucket{{{}{}le=\"{}\"}} {}\n", name, labels, sep, static_cast<double>(b.le_ns) / 1e9,
                     cumulative);
    } else {
      fmt::format_to(it, "{}_bucket{{{}{}le=\"+Inf\"}} {}\n", name, labels, sep, cumulative);
    }
  }
  const std::string braced = labels.empty() ? "" : fmt::format("{{{}}}", labels);
  fmt::format_to(it, "{}_sum{} {}\n", name, braced, static_cast<double>(h.sum_ns() / 1e9L));
  fmt::format_to(it, "{}_count{} {}\n", name, braced, h.count());
}

void durations(std::string& out, const MetricsSnapshot& s) {
  auto it = std::back_inserter(out);
  header(out, "tcpfsm_state_duration_seconds", "histogram",
         "Time sockets spent in a state, recorded when they left it (TIME_WAIT: the timewait socket's life).");
  for (uint8_t st : kNodeStates) {
    histogram_series(out, "tcpfsm_state_duration_seconds", fmt::format("state=\"{}\"", state_label(st)),
                     s.durations[st]);
  }
  header(out, "tcpfsm_connect_duration_seconds", "histogram",
         "Time outgoing connects that established spent in SYN_SENT (connect latency; the failures are in "
         "tcpfsm_state_duration_seconds{state=\"syn_sent\"}).");
  histogram_series(out, "tcpfsm_connect_duration_seconds", "", s.connect_latency);
  header(out, "tcpfsm_timewait_ends_total", "counter",
         "Timewait sockets that ended: their timer expired, or something killed them early (reuse, RST, netns).");
  fmt::format_to(it, "tcpfsm_timewait_ends_total{{how=\"expired\"}} {}\n", s.timewait_ends[0]);
  fmt::format_to(it, "tcpfsm_timewait_ends_total{{how=\"killed\"}} {}\n", s.timewait_ends[1]);
}

void stuck(std::string& out, const MetricsSnapshot& s) {
  auto it = std::back_inserter(out);
  header(out, "tcpfsm_stuck_sockets", "gauge",
         "Sockets held past the stuck age in " + stuck_states_text() + ", for the top holders (see tcpfsm leaks).");
  for (const auto& st : s.stuck) {
    fmt::format_to(it, "tcpfsm_stuck_sockets{{state=\"{}\",comm=\"{}\",container=\"{}\"}} {}\n", state_label(st.state),
                   escape(st.comm), escape(st.container), st.count);
  }
  header(out, "tcpfsm_stuck_pass_failures_total", "counter",
         "Stuck-socket passes (a sock_diag dump and a /proc scan) that failed; tcpfsm_stuck_sockets keeps the last "
         "good one.");
  fmt::format_to(it, "tcpfsm_stuck_pass_failures_total {}\n", s.stuck_failures);
  if (s.stuck_known) {
    header(out, "tcpfsm_stuck_report_age_seconds", "gauge",
           "Age of the stuck-socket pass behind tcpfsm_stuck_sockets.");
    fmt::format_to(it, "tcpfsm_stuck_report_age_seconds {}\n", s.stuck_age_s);
    header(out, "tcpfsm_stuck_owners_unreadable", "gauge",
           "1 when the last stuck-socket pass could not read /proc, so every holder is <unknown>.");
    fmt::format_to(it, "tcpfsm_stuck_owners_unreadable {}\n", s.stuck_owners_unreadable ? 1 : 0);
  }
}

void sysctls(std::string& out, const MetricsSnapshot& s) {
  if (s.sysctls.empty()) return;
  auto it = std::back_inserter(out);
  header(out, "tcpfsm_sysctl", "gauge",
         "A TCP setting from /proc/sys, for alert rules to compare with: tcpfsm's own network namespace's (no netns "
         "label), and another namespace's where it differs (netns: its inode).");
  for (const auto& v : s.sysctls) {
    if (v.netns)
      fmt::format_to(it, "tcpfsm_sysctl{{name=\"{}\",netns=\"{}\"}} {}\n", v.name, v.netns, v.value);
    else
      fmt::format_to(it, "tcpfsm_sysctl{{name=\"{}\"}} {}\n", v.name, v.value);
  }
  header(out, "tcpfsm_sysctl_namespaces_folded", "gauge",
         "Network namespaces past the limit whose sysctls were not read (no tcpfsm_sysctl series for them).");
  fmt::format_to(it, "tcpfsm_sysctl_namespaces_folded {}\n", s.sysctl_namespaces_folded);
}

// Losses as one metric by reason; every other counter of kRunCounters as
// tcpfsm_<name>_total, so a new counter is exported without code here.
void counters(std::string& out, const MetricsSnapshot& s) {
  auto it = std::back_inserter(out);
  const RunCounters& c = s.counters;
  header(out, "tcpfsm_events_lost_total", "counter",
         "Transitions lost: the ring buffer was full, the kernel skipped a nested run and the rescue missed it, or the "
         "kernel could not count a socket (no storage, timewait map full).");
  fmt::format_to(it, "tcpfsm_events_lost_total{{reason=\"ringbuf\"}} {}\n", c.ringbuf_drops);
  fmt::format_to(it, "tcpfsm_events_lost_total{{reason=\"recursion\"}} {}\n", c.lost_recursion());
  fmt::format_to(it, "tcpfsm_events_lost_total{{reason=\"uncounted\"}} {}\n", c.uncounted);
  for (const auto& f : kRunCounters) {
    if (f.name == "ringbuf_drops" || f.name == "uncounted") continue;  // reasons above
    const std::string name = fmt::format("tcpfsm_{}_total", f.name);
    header(out, name, "counter", f.help);
    fmt::format_to(it, "{} {}\n", name, c.*f.member);
  }
  header(out, "tcpfsm_state_drift", "gauge", "Sockets the last sock_diag reconciliation had to correct.");
  fmt::format_to(it, "tcpfsm_state_drift {}\n", s.drift);
  header(out, "tcpfsm_reconciliations_total", "counter", "sock_diag reconciliations run.");
  fmt::format_to(it, "tcpfsm_reconciliations_total {}\n", s.reconciliations);
  header(out, "tcpfsm_tracked_sockets", "gauge", "Sockets tcpfsm follows, timewait and request sockets included.");
  fmt::format_to(it, "tcpfsm_tracked_sockets {}\n", s.tracked);
}

// "name=\"value\",..." of a series' labels.
std::string label_text(const std::vector<std::pair<std::string, std::string>>& labels) {
  std::string t;
  for (const auto& [k, v] : labels) fmt::format_to(std::back_inserter(t), "{}=\"{}\",", k, escape(v));
  return t;
}

void histogram_series(std::string& out, const std::string& name, const std::string& labels, const SparseHistogram& h) {
  auto it = std::back_inserter(out);
  uint64_t cumulative = 0;
  for (const auto& b : h.log2_buckets()) {
    cumulative += b.count;
    if (b.le_ns) {
      fmt::format_to(it, "{}_bucket{{{}le=\"{}\"}} {}\n", name, labels, static_cast<double>(b.le_ns) / 1e9, cumulative);
    } else {
      fmt::format_to(it, "{}_bucket{{{}le=\"+Inf\"}} {}\n", name, labels, cumulative);
    }
  }
  std::string bare = labels;
  if (!bare.empty()) bare.pop_back();
  fmt::format_to(it, "{}_sum{{{}}} {}\n", name, bare, static_cast<double>(h.sum_ns() / 1e9L));
  fmt::format_to(it, "{}_count{{{}}} {}\n", name, bare, h.count());
}

// serve --by: sockets per group and state; for pods and containers also
// their TIME_WAIT and CLOSE_WAIT lifetimes. Bounded: --top series (lport:
// the listening ports), the rest as "other".
void grouped(std::string& out, const MetricsSnapshot& s) {
  if (!s.group_by) return;
  auto it = std::back_inserter(out);
  const GroupBy by = *s.group_by;
  const std::string key = by == GroupBy::Lport ? "port" : std::string(group_by_name(by));
  const std::string gauge = "tcpfsm_sockets_by_" + key;
  header(out, gauge, "gauge", "TCP sockets by " + key + " and state, for the top groups; the rest as \"other\".");
  for (const auto& g : s.groups) {
    const std::string labels = label_text(g.labels);
    for (uint8_t st : kNodeStates) {
      if (st == TCPFSM_LISTEN || st == TCPFSM_CLOSE) continue;
      fmt::format_to(it, "{}{{{}state=\"{}\"}} {}\n", gauge, labels, state_label(st), g.states[st]);
    }
  }
  if (by == GroupBy::Pod || by == GroupBy::Container) {
    const std::string hist = "tcpfsm_state_duration_seconds_by_" + key;
    header(out, hist, "histogram",
           "Time sockets of a " + key + " spent in TIME_WAIT and CLOSE_WAIT, when they left it.");
    for (const auto& g : s.groups) {
      const std::string labels = label_text(g.labels);
      histogram_series(out, hist, labels + "state=\"time_wait\",", g.time_wait);
      histogram_series(out, hist, labels + "state=\"close_wait\",", g.close_wait);
    }
  }
  header(out, "tcpfsm_groups_dropped_total", "counter",
         "Socket states and records --max-groups folded into \"other\" because that many groups were tracked.");
  fmt::format_to(it, "tcpfsm_groups_dropped_total {}\n", s.groups_dropped);
}

void bpf_stats(std::string& out, const MetricsSnapshot& s) {
  if (s.bpf.empty()) return;
  auto it = std::back_inserter(out);
  header(out, "tcpfsm_bpf_run_seconds_total", "counter",
         "Time tcpfsm's BPF programs ran (kernel BPF stats; counted only while they are on).");
  for (const auto& p : s.bpf) {
    fmt::format_to(it, "tcpfsm_bpf_run_seconds_total{{prog=\"{}\"}} {}\n", escape(p.prog),
                   static_cast<double>(p.run_ns) / 1e9);
  }
  header(out, "tcpfsm_bpf_runs_total", "counter", "Runs of tcpfsm's BPF programs (kernel BPF stats).");
  for (const auto& p : s.bpf) fmt::format_to(it, "tcpfsm_bpf_runs_total{{prog=\"{}\"}} {}\n", escape(p.prog), p.runs);
}

}  // namespace

void fill_snapshot(MetricsSnapshot& s, const TcpTables& t) {
  for (uint8_t st = 0; st < TCPFSM_STATE_MAX; ++st) {
    s.sockets[0][st] = t.count(st, AF_INET);
    s.sockets[1][st] = t.count(st, AF_INET6);
    s.durations[st] = t.lifetime(st);
    for (uint8_t to = 0; to < TCPFSM_STATE_MAX; ++to) s.transitions[st][to] = t.transitions(st, to);
  }
  s.connect_latency = t.connect_latency();
  s.closes = t.closes();
  s.timewait_ends = {t.timewait_ends(TimewaitEnd::Expired), t.timewait_ends(TimewaitEnd::Killed)};
  s.tracked = t.tracked();
}

void fill_snapshot(MetricsSnapshot& s, const StatsContext& c, size_t stuck_top) {
  s.counters = c.counters;
  s.retransmits = c.retransmits;
  s.drift = c.last_drift;
  s.reconciliations = c.reconciliations;
  s.stuck_failures = c.stuck_failures;
  if (c.stuck) {
    s.stuck = stuck_series(*c.stuck, stuck_top);
    s.stuck_known = true;
    s.stuck_age_s = static_cast<double>(c.stuck_age_ns) / 1e9;
    s.stuck_owners_unreadable = !c.stuck->owner_error.empty();
  }
  // No grouped series before the first gauge pass: zeros would read as an idle host.
  if (c.groups && !c.groups->opts.spec.empty() && c.groups->gauges_known) {
    s.group_by = c.groups->opts.spec.keys.front();
    s.groups = group_series(*c.groups);
    s.groups_dropped = c.groups->folded_records;
    s.groups_dropped += c.groups->folded_groups;
  }
}

namespace {

// A row's labels, in kube-state-metrics' and cAdvisor's names.
std::vector<std::pair<std::string, std::string>> labels_of(GroupBy by, const GroupRow& r) {
  switch (by) {
    case GroupBy::Lport:
      return {{"port", std::to_string(r.key.lport)}};
    case GroupBy::Pod:
      return {{"namespace", r.identity.pod_namespace},
              {"pod", r.identity.pod_name.empty() ? r.identity.pod_uid : r.identity.pod_name}};
    case GroupBy::Container:
      return {{"container_id", r.identity.container_id}, {"container", r.identity.container_name}};
    default:
      return {{std::string(group_by_name(by)), key_part_text(by, r.key, r.identity)}};
  }
}

std::vector<std::pair<std::string, std::string>> other_labels(GroupBy by) {
  switch (by) {
    case GroupBy::Lport:
      return {{"port", "other"}};
    case GroupBy::Pod:
      return {{"namespace", ""}, {"pod", "other"}};
    case GroupBy::Container:
      return {{"container_id", "other"}, {"container", ""}};
    default:
      return {{std::string(group_by_name(by)), "other"}};
  }
}

void add_row(GroupSeries& s, const GroupRow& r) {
  for (size_t i = 0; i < s.states.size(); ++i) s.states[i] += r.states[i];
  s.time_wait.merge(r.lifetimes[TCPFSM_TIME_WAIT]);
  s.close_wait.merge(r.lifetimes[TCPFSM_CLOSE_WAIT]);
}

}  // namespace

std::vector<GroupSeries> group_series(const GroupReport& r) {
  std::vector<GroupSeries> out;
  if (r.opts.spec.empty()) return out;
  const GroupBy by = r.opts.spec.keys.front();
  std::set<uint16_t> listening;
  for (const auto& l : r.listeners) listening.insert(l.port);
  GroupSeries other{other_labels(by), {}, {}, {}};
  add_row(other, r.others);
  for (const auto& row : r.rows) {
    // Local ports are labels only where something listens: a service, not a client's ephemeral port.
    if (by == GroupBy::Lport && !listening.count(row.key.lport)) {
      add_row(other, row);
      continue;
    }
    GroupSeries g{labels_of(by, row), {}, {}, {}};
    add_row(g, row);
    out.push_back(std::move(g));
  }
  out.push_back(std::move(other));
  return out;
}

std::vector<StuckSeries> stuck_series(const LeakReport& r, size_t n) {
  std::map<std::tuple<uint8_t, std::string, std::string>, uint64_t> sums;
  for (const auto& g : r.groups) {
    std::string comm, container;
    if (g.process) {
      comm = g.process->comm;
      container = g.process->container_id.substr(0, 12);
    } else {
      comm = g.kind == HolderKind::Orphaned ? "<orphaned>" : "<unknown>";
    }
    sums[{g.state, comm, container}] += g.count;
  }
  std::vector<StuckSeries> out;
  for (const auto& [key, count] : sums) out.push_back({std::get<0>(key), std::get<1>(key), std::get<2>(key), count});
  std::stable_sort(out.begin(), out.end(),
                   [](const StuckSeries& a, const StuckSeries& b) { return a.count > b.count; });
  if (out.size() > n) out.resize(n);
  return out;
}

const std::vector<std::string>& exported_sysctls() {
  static const std::vector<std::string> names = {"net.ipv4.tcp_max_tw_buckets",  "net.ipv4.tcp_fin_timeout",
                                                 "net.ipv4.ip_local_port_range", "net.core.somaxconn",
                                                 "net.ipv4.tcp_max_syn_backlog", "net.ipv4.tcp_max_orphans"};
  return names;
}

std::vector<SysctlSeries> sysctl_series(const SysctlScan& scan) {
  // "net.ipv4.ip_local_port_range" = "32768 60999" -> ip_local_port_range_low, _high.
  auto values = [](const std::map<std::string, std::string>& m) {
    std::map<std::string, int64_t> out;
    for (const auto& [dotted, text] : m) {
      const std::string name = dotted.substr(dotted.rfind('.') + 1);
      const auto space = text.find(' ');
      if (space == std::string::npos) {
        if (auto v = parse_trimmed_int(text)) out[name] = *v;
      } else if (auto lo = parse_trimmed_int(text.substr(0, space)), hi = parse_trimmed_int(text.substr(space + 1));
                 lo && hi) {
        out[name + "_low"] = *lo;
        out[name + "_high"] = *hi;
      }
    }
    return out;
  };
  std::vector<SysctlSeries> series;
  if (scan.namespaces.empty()) return series;
  const auto own = values(scan.namespaces[0].values);
  for (const auto& [name, v] : own) series.push_back({name, 0, v});
  for (size_t i = 1; i < scan.namespaces.size(); ++i) {
    for (const auto& [name, v] : values(scan.namespaces[i].values)) {
      auto it = own.find(name);
      if (it == own.end() || it->second != v) series.push_back({name, scan.namespaces[i].netns, v});
    }
  }
  return series;
}

NodeTcpStat node_tcp_stat(const std::vector<SocketRecord>& dump) {
  NodeTcpStat n;
  for (const auto& r : dump) {
    ++n.dumped;
    n.rx_queued_bytes += r.rqueue;
    n.tx_queued_bytes += r.wqueue;
    // A TCPF_ALL dump reports states 1..11 only (request sockets as SYN_RECV).
    if (r.state < TCPFSM_STATE_MAX) ++n.sockets[r.state];
  }
  return n;
}

std::string render_metrics(const MetricsSnapshot& s, const std::optional<NodeTcpStat>& own_netns) {
  std::string out;
  out.reserve(64 * 1024);
  if (own_netns) node_states(out, *own_netns);
  state_gauges(out, s);
  closes(out, s);
  durations(out, s);
  stuck(out, s);
  counters(out, s);
  grouped(out, s);
  bpf_stats(out, s);
  sysctls(out, s);
  header(out, "tcpfsm_build_info", "gauge", "tcpfsm's version; always 1.");
  fmt::format_to(std::back_inserter(out), "tcpfsm_build_info{{version=\"{}\"}} 1\n", escape(s.version));
  return out;
}

std::string render_web_auth_metrics(const BasicAuthCounters& c) {
  std::string out;
  header(out, "tcpfsm_web_auth_cache_dropped_total", "counter",
         "Verified basic auth credentials dropped from the full cache; each costs a bcrypt check when it comes back.");
  fmt::format_to(std::back_inserter(out), "tcpfsm_web_auth_cache_dropped_total {}\n", c.cache_dropped);
  header(out, "tcpfsm_web_auth_rejected_total", "counter",
         "Requests answered 401: no, malformed or wrong basic auth credentials.");
  fmt::format_to(std::back_inserter(out), "tcpfsm_web_auth_rejected_total {}\n", c.rejected);
  header(out, "tcpfsm_web_auth_cache_hits_total", "counter",
         "Requests whose basic auth credentials were found in the cache of verified ones (no bcrypt check).");
  fmt::format_to(std::back_inserter(out), "tcpfsm_web_auth_cache_hits_total {}\n", c.cache_hits);
  return out;
}

}  // namespace tcpfsm
