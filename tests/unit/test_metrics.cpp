// The Prometheus exposition of a snapshot, the stuck series, and --listen parsing.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <sstream>

#include "account/state_table.hpp"
#include "base/version.hpp"
#include "cli/values.hpp"
#include "views/metrics.hpp"

namespace tcpfsm {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

Event state_event(uint64_t cookie, uint8_t from, uint8_t to, uint64_t ts, uint64_t prev_ns = 0) {
  Event e;
  e.kind = EventKind::State;
  e.cookie = cookie;
  e.family = AF_INET;
  e.oldstate = from;
  e.newstate = to;
  e.ts_ns = ts;
  if (prev_ns) e.prev_ns = prev_ns;
  return e;
}

// Every line is a comment or `name{labels} value`, each family has HELP and TYPE.
void expect_well_formed(const std::string& text) {
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line)) {
    ASSERT_FALSE(line.empty());
    if (line[0] == '#') {
      EXPECT_TRUE(line.rfind("# HELP ", 0) == 0 || line.rfind("# TYPE ", 0) == 0) << line;
      continue;
    }
    const size_t sp = line.rfind(' ');
    ASSERT_NE(sp, std::string::npos) << line;
    std::string value = line.substr(sp + 1);
    EXPECT_NO_THROW((void)std::stod(value)) << line;
  }
}

TEST(Metrics, GaugesTransitionsAndHistogramFromTheTable) {
  StateTable t;
  t.apply(state_event(1, TCPFSM_CLOSE, TCPFSM_SYN_SENT, 100));
  t.apply(state_event(1, TCPFSM_SYN_SENT, TCPFSM_ESTABLISHED, 200, 3'000));  // 3 us in SYN_SENT
  MetricsSnapshot s;
  fill_snapshot(s, t);
  s.version = kVersion;
  s.counters.events = 2;
  const std::string text = render_metrics(s);
  expect_well_formed(text);
  // The table's counts are every namespace's: never node_exporter's metric.
  EXPECT_THAT(text, Not(HasSubstr("# TYPE node_tcp_connection_states")));
  EXPECT_THAT(text, Not(HasSubstr("node_tcp_connection_states{")));
  EXPECT_THAT(text, HasSubstr("tcpfsm_sockets{state=\"established\",family=\"ipv4\"} 1\n"));
  EXPECT_THAT(text, HasSubstr("tcpfsm_sockets{state=\"established\",family=\"ipv6\"} 0\n"));
  EXPECT_THAT(text, HasSubstr("tcpfsm_transitions_total{from=\"close\",to=\"syn_sent\"} 1\n"));
  EXPECT_THAT(text, HasSubstr("tcpfsm_transitions_total{from=\"syn_sent\",to=\"established\"} 1\n"));
  // 3 us lands below 4.096 us: cumulative from there on.
  EXPECT_THAT(text, HasSubstr("tcpfsm_state_duration_seconds_bucket{state=\"syn_sent\",le=\"2.048e-06\"} 0\n"));
  EXPECT_THAT(text, HasSubstr("tcpfsm_state_duration_seconds_bucket{state=\"syn_sent\",le=\"4.096e-06\"} 1\n"));
  EXPECT_THAT(text, HasSubstr("tcpfsm_state_duration_seconds_bucket{state=\"syn_sent\",le=\"+Inf\"} 1\n"));
  EXPECT_THAT(text, HasSubstr("tcpfsm_state_duration_seconds_sum{state=\"syn_sent\"} 3e-06\n"));
  EXPECT_THAT(text, HasSubstr("tcpfsm_state_duration_seconds_count{state=\"syn_sent\"} 1\n"));
  EXPECT_THAT(text, HasSubstr("tcpfsm_events_total 2\n"));
  EXPECT_THAT(text, HasSubstr("tcpfsm_events_lost_total{reason=\"ringbuf\"} 0\n"));
  EXPECT_THAT(text, HasSubstr("tcpfsm_timewait_ends_total{how=\"killed\"} 0\n"));
  EXPECT_THAT(text, HasSubstr("tcpfsm_build_info{version=\"0.1.0\"} 1\n"));
  EXPECT_THAT(text, ::testing::Not(HasSubstr("tcpfsm_bpf_runs_total")));  // BPF stats off
}

SocketRecord record(uint8_t state, uint32_t rq, uint32_t wq) {
  SocketRecord r;
  r.family = AF_INET;
  r.state = state;
  r.rqueue = rq;
  r.wqueue = wq;
  return r;
}

// node_exporter's tcpstat: states that have sockets, both queue sums over
// every socket (a listener's accept queue and backlog too), label-sorted.
TEST(Metrics, NodeTcpConnectionStatesAreNodeExportersTcpstat) {
  const NodeTcpStat n = node_tcp_stat({record(TCPFSM_LISTEN, 1, 128), record(TCPFSM_ESTABLISHED, 1000, 0),
                                       record(TCPFSM_ESTABLISHED, 0, 2'000'000), record(TCPFSM_TIME_WAIT, 0, 0)});
  EXPECT_EQ(n.dumped, 4u);
  EXPECT_EQ(n.rx_queued_bytes, 1001u);
  EXPECT_EQ(n.tx_queued_bytes, 2'000'128u);
  MetricsSnapshot s;
  const std::string text = render_metrics(s, n);
  expect_well_formed(text);
  EXPECT_THAT(text, HasSubstr("# HELP node_tcp_connection_states Number of connection states.\n"
                              "# TYPE node_tcp_connection_states gauge\n"
                              "node_tcp_connection_states{state=\"established\"} 2\n"
                              "node_tcp_connection_states{state=\"listen\"} 1\n"
                              "node_tcp_connection_states{state=\"rx_queued_bytes\"} 1001\n"
                              "node_tcp_connection_states{state=\"time_wait\"} 1\n"
                              "node_tcp_connection_states{state=\"tx_queued_bytes\"} 2000128\n"
                              "# HELP tcpfsm_sockets "));
  EXPECT_THAT(text, Not(HasSubstr("node_tcp_connection_states{state=\"close_wait\"}")));
  // An empty namespace: node_exporter writes no family at all.
  const std::string empty = render_metrics(s, node_tcp_stat({}));
  EXPECT_THAT(empty, Not(HasSubstr("# HELP node_tcp_connection_states")));
  EXPECT_THAT(empty, Not(HasSubstr("node_tcp_connection_states{")));
  // Queues of zero are still written once a socket was seen.
  EXPECT_THAT(render_metrics(s, node_tcp_stat({record(TCPFSM_TIME_WAIT, 0, 0)})),
              HasSubstr("node_tcp_connection_states{state=\"rx_queued_bytes\"} 0\n"));
}

TEST(Metrics, ClosesByStateAndCauseAndRetransmitsByState) {
  StateTable t;
  t.apply(state_event(1, TCPFSM_CLOSE, TCPFSM_SYN_SENT, 100));
  Event refused = state_event(1, TCPFSM_SYN_SENT, TCPFSM_CLOSE, 200);
  refused.cause = TCPFSM_CAUSE_REFUSED;
  t.apply(refused);
  Event reset = state_event(2, TCPFSM_ESTABLISHED, TCPFSM_CLOSE, 300);
  reset.cause = TCPFSM_CAUSE_RST_ABORT_ON_CLOSE;
  t.apply(reset);
  MetricsSnapshot s;
  fill_snapshot(s, t);
  StatsContext c;
  c.retransmits.emplace();
  (*c.retransmits)[TCPFSM_SYN_SENT] = 3;
  fill_snapshot(s, c, 10);
  const std::string text = render_metrics(s);
  expect_well_formed(text);
  EXPECT_THAT(text, HasSubstr("# TYPE tcpfsm_closes_total counter\n"));
  EXPECT_THAT(text, HasSubstr("tcpfsm_closes_total{from=\"syn_sent\",cause=\"refused\"} 1\n"));
  EXPECT_THAT(text, HasSubstr("tcpfsm_closes_total{from=\"established\",cause=\"rst_sent:abort_on_close\"} 1\n"));
  EXPECT_THAT(text, ::testing::Not(HasSubstr("cause=\"fin\"")));  // only what happened
  EXPECT_THAT(text, HasSubstr("tcpfsm_retransmits_total{state=\"syn_sent\"} 3\n"));
  EXPECT_THAT(text, HasSubstr("tcpfsm_connects_total{result=\"established\"} 0\n"));
  EXPECT_THAT(text, HasSubstr("tcpfsm_connects_total{result=\"refused\"} 1\n"));
  EXPECT_THAT(text, HasSubstr("tcpfsm_retransmits_total{state=\"established\"} 0\n"));
  EXPECT_THAT(text, ::testing::Not(HasSubstr("tcpfsm_retransmits_total{state=\"time_wait\"}")));
}

TEST(Metrics, ConnectDurationIsAnUnlabelledHistogramOfTheSuccesses) {
  MetricsSnapshot s;
  for (uint64_t ns : {50'000ULL, 3'000'000ULL}) s.connect_latency.record(ns);
  const std::string text = render_metrics(s);
  expect_well_formed(text);
  EXPECT_THAT(text, HasSubstr("# TYPE tcpfsm_connect_duration_seconds histogram\n"));
  EXPECT_THAT(text, HasSubstr("tcpfsm_connect_duration_seconds_bucket{le=\"+Inf\"} 2\n"));
  EXPECT_THAT(text, HasSubstr("tcpfsm_connect_duration_seconds_count 2\n"));
  EXPECT_THAT(text, HasSubstr("tcpfsm_connect_duration_seconds_sum 0.00305\n"));
}

TEST(Metrics, HistogramBucketsAreCumulativeAndEndAtTheCount) {
  MetricsSnapshot s;
  for (uint64_t ns : {500ULL, 5'000ULL, 5'000'000ULL, 70'000'000'000'000ULL}) s.durations[TCPFSM_TIME_WAIT].record(ns);
  const std::string text = render_metrics(s);
  std::istringstream in(text);
  std::string line;
  uint64_t prev = 0, buckets = 0;
  while (std::getline(in, line)) {
    if (line.rfind("tcpfsm_state_duration_seconds_bucket{state=\"time_wait\"", 0) != 0) continue;
    uint64_t v = std::stoull(line.substr(line.rfind(' ') + 1));
    EXPECT_GE(v, prev) << line;
    prev = v;
    ++buckets;
  }
  EXPECT_EQ(prev, 4u);  // +Inf holds everything, the 19 h one included
  EXPECT_EQ(buckets, 36u);
}

TEST(Metrics, StuckSeriesAreSummedBoundedAndEscaped) {
  LeakReport r;
  auto add = [&](uint8_t state, uint32_t pid, const char* comm, const char* container, uint64_t count) {
    LeakGroup g;
    g.state = state;
    g.count = count;
    if (pid) {
      ProcessInfo p;
      p.pid = pid;
      p.comm = comm;
      p.container_id = container;
      g.process = p;
    } else {
      g.kind = HolderKind::Orphaned;
    }
    r.groups.push_back(g);
  };
  const std::string id(64, 'a');
  add(TCPFSM_CLOSE_WAIT, 10, "worker", id.c_str(), 5);
  add(TCPFSM_CLOSE_WAIT, 11, "worker", id.c_str(), 7);  // same comm and container: one series
  add(TCPFSM_CLOSE_WAIT, 12, "we\"ird\\", "", 3);
  add(TCPFSM_FIN_WAIT2, 0, "", "", 2);
  auto series = stuck_series(r, 2);
  ASSERT_EQ(series.size(), 2u);
  EXPECT_EQ(series[0].comm, "worker");
  EXPECT_EQ(series[0].count, 12u);
  EXPECT_EQ(series[0].container, std::string(12, 'a'));
  EXPECT_EQ(series[1].count, 3u);

  MetricsSnapshot s;
  s.stuck = stuck_series(r, 20);
  const std::string text = render_metrics(s);
  EXPECT_THAT(text,
              HasSubstr("tcpfsm_stuck_sockets{state=\"close_wait\",comm=\"worker\",container=\"aaaaaaaaaaaa\"} 12\n"));
  EXPECT_THAT(text, HasSubstr("tcpfsm_stuck_sockets{state=\"close_wait\",comm=\"we\\\"ird\\\\\",container=\"\"} 3\n"));
  EXPECT_THAT(text, HasSubstr("tcpfsm_stuck_sockets{state=\"fin_wait2\",comm=\"<orphaned>\",container=\"\"} 2\n"));
  EXPECT_TRUE(stuck_series(r, 0).empty());
}

TEST(Metrics, BpfStatsWhenOn) {
  MetricsSnapshot s;
  s.bpf = {{"on_set_state", 2'500'000'000ULL, 10}};
  const std::string text = render_metrics(s);
  EXPECT_THAT(text, HasSubstr("tcpfsm_bpf_run_seconds_total{prog=\"on_set_state\"} 2.5\n"));
  EXPECT_THAT(text, HasSubstr("tcpfsm_bpf_runs_total{prog=\"on_set_state\"} 10\n"));
}

TEST(Metrics, SysctlsOfTheOwnNamespaceAndTheOnesThatDiffer) {
  SysctlScan scan;
  scan.namespaces.push_back({4026531840U,
                             {{"net.ipv4.tcp_max_tw_buckets", "262144"},
                              {"net.ipv4.ip_local_port_range", "32768 60999"},
                              {"net.core.somaxconn", "4096"},
                              {"net.ipv4.tcp_max_orphans", "65536"}}});
  // A container: its own buckets, the same port range; no tcp_max_orphans (host-wide).
  scan.namespaces.push_back({4026532500U,
                             {{"net.ipv4.tcp_max_tw_buckets", "20"},
                              {"net.ipv4.ip_local_port_range", "32768 61000"},
                              {"net.core.somaxconn", "4096"}}});
  scan.folded = 3;
  MetricsSnapshot s;
  s.sysctls = sysctl_series(scan);
  s.sysctl_namespaces_folded = scan.folded;
  const std::string text = render_metrics(s);
  for (const char* line :
       {"tcpfsm_sysctl{name=\"tcp_max_tw_buckets\"} 262144\n",
        "tcpfsm_sysctl{name=\"ip_local_port_range_low\"} 32768\n",
        "tcpfsm_sysctl{name=\"ip_local_port_range_high\"} 60999\n", "tcpfsm_sysctl{name=\"somaxconn\"} 4096\n",
        "tcpfsm_sysctl{name=\"tcp_max_orphans\"} 65536\n",
        "tcpfsm_sysctl{name=\"tcp_max_tw_buckets\",netns=\"4026532500\"} 20\n",
        "tcpfsm_sysctl{name=\"ip_local_port_range_high\",netns=\"4026532500\"} 61000\n",
        "tcpfsm_sysctl_namespaces_folded 3\n"})
    EXPECT_THAT(text, HasSubstr(line));
  EXPECT_THAT(text, Not(HasSubstr("name=\"somaxconn\",netns")));  // the same as the own namespace's
  EXPECT_THAT(text, Not(HasSubstr("name=\"ip_local_port_range_low\",netns")));
  EXPECT_EQ(s.sysctls.size(), 7u);
  // Not read yet: no series, not even the header.
  EXPECT_THAT(render_metrics(MetricsSnapshot{}), Not(HasSubstr("tcpfsm_sysctl")));
}

TEST(ParseListen, AcceptsHostPortForms) {
  auto a = parse_listen("127.0.0.1:9977");
  ASSERT_TRUE(a.ok());
  EXPECT_EQ(a->first, "127.0.0.1");
  EXPECT_EQ(a->second, 9977);
  auto b = parse_listen("[::1]:80");
  ASSERT_TRUE(b.ok());
  EXPECT_EQ(b->first, "::1");
  EXPECT_EQ(b->second, 80);
  auto c = parse_listen("localhost:65535");
  ASSERT_TRUE(c.ok());
  EXPECT_EQ(c->first, "localhost");
  auto every = parse_listen(":9100");  // as node_exporter's --web.listen-address reads it
  ASSERT_TRUE(every.ok());
  EXPECT_EQ(every->first, "::");
  EXPECT_EQ(every->second, 9100);
}

TEST(ParseListen, RejectsNonsenseAsUsage) {
  for (const char* bad : {"", "9977", ":", "127.0.0.1:", "127.0.0.1:0", "127.0.0.1:65536", "127.0.0.1:x", "::1:9977",
                          "[::1]9977", "[::1", "[]:9977"}) {
    auto r = parse_listen(bad);
    ASSERT_FALSE(r.ok()) << bad;
    EXPECT_EQ(r.error().kind, Error::Kind::Usage) << bad;
    EXPECT_THAT(r.error().message, HasSubstr("--web.listen-address")) << bad;
  }
}

}  // namespace
}  // namespace tcpfsm
