// The Prometheus view (`tcpfsm serve`): a snapshot of everything the live
// engine knows, copied on the consumer thread, and rendered in text
// exposition format 0.0.4 on the HTTP thread, so a scrape never waits for
// the consumer nor the consumer for a scrape.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "account/groups.hpp"
#include "account/leak_finder.hpp"
#include "account/stats_context.hpp"
#include "account/tables.hpp"
#include "collect/sysctls.hpp"
#include "model/lifetime_histogram.hpp"
#include "model/run_counters.hpp"
#include "model/socket_record.hpp"
#include "model/sparse_histogram.hpp"
#include "tcpfsm/event.h"
#include "views/web_auth.hpp"

namespace tcpfsm {

// One series of tcpfsm_stuck_sockets.
struct StuckSeries {
  uint8_t state = 0;
  std::string comm;       // "<orphaned>" or "<unknown>" for sockets no process holds
  std::string container;  // short container id, "" outside containers
  uint64_t count = 0;
};

// One series of tcpfsm_sysctl: a setting the alert rules compare with,
// in tcpfsm's own network namespace (netns 0: no label), or in another
// namespace whose value differs from that.
struct SysctlSeries {
  std::string name;  // "tcp_max_tw_buckets", "ip_local_port_range_low"
  uint32_t netns = 0;
  int64_t value = 0;
};

// The sysctls tcpfsm_sysctl exports, by dotted name.
const std::vector<std::string>& exported_sysctls();
// A scan's values as series: every exported name of the own namespace,
// then, per other namespace, the names whose value differs from it.
std::vector<SysctlSeries> sysctl_series(const SysctlScan& scan);

// One series set of a grouped metric (`serve --by`): its labels, its
// sockets by state, and (pods, containers) its TIME_WAIT and CLOSE_WAIT
// lifetimes.
struct GroupSeries {
  std::vector<std::pair<std::string, std::string>> labels;  // ("port", "8080"), or ("namespace", ..), ("pod", ..)
  StateCounts states{};
  SparseHistogram time_wait, close_wait;
};

struct BpfProgStats {
  std::string prog;
  uint64_t run_ns = 0;
  uint64_t runs = 0;
};

struct MetricsSnapshot {
  std::array<std::array<uint64_t, TCPFSM_STATE_MAX>, 2> sockets{};  // [0: IPv4, 1: IPv6][state]
  std::array<std::array<uint64_t, TCPFSM_STATE_MAX>, TCPFSM_STATE_MAX> transitions{};
  std::array<LifetimeHistogram, TCPFSM_STATE_MAX> durations;
  LifetimeHistogram connect_latency;                                  // SYN_SENT of the connects that established
  TcpTables::Closes closes{};                                         // [from][cause]
  std::optional<std::array<uint64_t, TCPFSM_STATE_MAX>> retransmits;  // by the sender's state
  std::array<uint64_t, 2> timewait_ends{};                            // [expired, killed]
  RunCounters counters;
  uint64_t drift = 0;
  uint64_t reconciliations = 0;
  uint64_t tracked = 0;
  std::vector<StuckSeries> stuck;         // at most the top N
  bool stuck_known = false;               // a leak pass has finished
  double stuck_age_s = 0;                 // how old the report behind `stuck` is
  uint64_t stuck_failures = 0;            // leak passes that failed
  bool stuck_owners_unreadable = false;   // the last pass could not read /proc for holders
  std::vector<BpfProgStats> bpf;          // empty unless BPF stats are on
  std::optional<GroupBy> group_by;        // serve --by
  std::vector<GroupSeries> groups;        // at most --top (lport: the listening ports), then "other"
  uint64_t groups_dropped = 0;            // socket states and records --max-groups folded away
  std::vector<SysctlSeries> sysctls;      // empty until the first read
  uint64_t sysctl_namespaces_folded = 0;  // namespaces past the limit whose sysctls were not read
  std::string version;
};

// node_tcp_connection_states as node_exporter's tcpstat collector
// (1.5.0, Debian 12) computes it: one sock_diag dump of the exporter's own
// network namespace at each scrape, every socket counted by the state the
// dump reports, and the idiag_rqueue and idiag_wqueue of all of them
// summed (listeners included: their accept queue and their backlog).
struct NodeTcpStat {
  std::array<uint64_t, TCPFSM_STATE_MAX> sockets{};  // by state; only states with sockets are exported
  uint64_t rx_queued_bytes = 0;
  uint64_t tx_queued_bytes = 0;
  uint64_t dumped = 0;  // sockets the dump returned; with none, node_exporter exports no series at all
};
NodeTcpStat node_tcp_stat(const std::vector<SocketRecord>& dump);

// Copies what a scrape needs from the table and the engine's context (no
// per-socket data: the cost does not grow with the number of sockets).
void fill_snapshot(MetricsSnapshot& s, const TcpTables& t);
void fill_snapshot(MetricsSnapshot& s, const StatsContext& c, size_t stuck_top);

// The top `n` holders of a leak report as (state, comm, container) series,
// summed over processes that share all three, most sockets first.
std::vector<StuckSeries> stuck_series(const LeakReport& r, size_t n);

// The series of a grouped metric from a report: lport keeps the ports
// something listens on, the others the report's rows; the rest is "other".
std::vector<GroupSeries> group_series(const GroupReport& r);

// Prometheus text exposition format 0.0.4. node_tcp_connection_states is
// written only with `own_netns`, read at the scrape (see NodeTcpStat).
std::string render_metrics(const MetricsSnapshot& s, const std::optional<NodeTcpStat>& own_netns = std::nullopt);

// The exporter's own basic auth counters, appended to /metrics when
// --web.config.file sets basic_auth_users (without it they cannot move).
std::string render_web_auth_metrics(const BasicAuthCounters& c);

}  // namespace tcpfsm
