// Each doctor rule on its own, on in-memory inputs: it fires on a fixture,
// and stays silent on a healthy host and just short of its threshold. The
// table of rules, and diagnose as the table run in order, are tested too.
// Over 400 lines: eleven rules, each fired and kept silent on its own
// fixture, sharing the input builders.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <set>

#include "diagnose/rules.hpp"

namespace tcpfsm {
namespace {

using ::testing::HasSubstr;

// A healthy Debian 12 host, watched for 10 s unless `watched` is false.
DoctorInput healthy(bool watched = true) {
  TcpSettings s;
  s.tw_reuse = 2;
  s.fin_timeout = 60;
  s.max_tw_buckets = 262144;
  s.max_syn_backlog = 1024;
  s.syncookies = 1;
  s.keepalive_time = 7200;
  s.keepalive_intvl = 75;
  s.keepalive_probes = 9;
  s.max_orphans = 65536;
  s.orphan_retries = 0;
  s.timestamps = 1;
  s.somaxconn = 4096;
  s.local_port_range = {{32768, 60999}};
  DoctorInput in;
  in.before.settings = s;
  for (const char* k :
       {"TcpExt.TCPTimeWaitOverflow", "TcpExt.ListenOverflows", "TcpExt.ListenDrops", "TcpExt.TCPAbortOnTimeout"})
    in.before.counters[k] = 0;
  in.before.sockstat = {{"TCP.inuse", 5}, {"TCP.orphan", 0}, {"TCP.tw", 10}};
  in.after = in.before;
  in.interval_s = 10;
  if (watched) {
    Observation o;
    o.seconds = 10;
    in.observation = o;
  }
  return in;
}

std::vector<Finding> run(RuleCheck check, const DoctorInput& in) {
  std::vector<Finding> out;
  check(in, out);
  return out;
}

LeakGroup close_wait_holder(uint64_t count) {
  LeakGroup g;
  g.state = TCPFSM_CLOSE_WAIT;
  g.kind = HolderKind::Process;
  g.count = count;
  ProcessInfo p;
  p.pid = 4242;
  p.comm = "leaker";
  g.process = p;
  return g;
}

// Every rule fires on this host, each once.
DoctorInput sick() {
  DoctorInput in = healthy();
  TcpSettings& s = in.after.settings;
  s.timestamps = 0;
  s.syncookies = 0;
  s.max_tw_buckets = 5000;
  s.fin_timeout = 30;
  s.tw_recycle = 1;
  s.local_port_range = {{50000, 50999}};
  in.after.sockstat["TCP.tw"] = 4500;
  in.after.counters["TcpExt.TCPTimeWaitOverflow"] = 7;
  in.after.counters["TcpExt.ListenOverflows"] = 40;
  Observation& o = *in.observation;
  o.leaks.groups.push_back(close_wait_holder(20));
  o.destinations.push_back({"10.0.0.7", 5432, 150, 0});
  o.time_wait_server = 60;
  o.time_wait_client = 10;
  o.time_wait_server_ports = {{80, 60}};
  o.orphan_fin_wait2 = 100;
  for (uint8_t state : {TCPFSM_FIN_WAIT1, TCPFSM_LAST_ACK, TCPFSM_CLOSING}) {
    ClosingStall c;
    c.state = state;
    c.peer = "10.0.0.9";
    c.sockets = c.orphaned = c.no_ack.retransmitting = 6;
    c.no_ack.max_retransmits = 4;
    c.no_ack.unacked_segments = 6;
    c.no_ack.send_q_bytes = 6;
    c.since_last_ack_ms = 5000;
    o.closing.push_back(c);
  }
  ProcessConnects scanner;
  scanner.pid = 4343;
  scanner.comm = "scanner";
  scanner.outcomes.attempts = scanner.outcomes.pending = 30;
  scanner.destinations = scanner.failed_destinations = scanner.addresses = 30;
  scanner.ports = 1;
  scanner.sample = {"10.99.0.1:22"};
  o.connecting.push_back(scanner);
  DestinationConnects down;
  down.addr = "10.77.0.2";
  down.port = 7000;
  down.outcomes.attempts = down.outcomes.no_answer = 12;
  down.comms = {"client (200)"};
  down.pids = {200};
  o.connect_destinations.push_back(down);
  o.idle_threshold_ms = 120'000;
  IdleGroup tomcat;
  tomcat.service = true;
  tomcat.service_addr = "0.0.0.0";
  tomcat.service_port = 8080;
  tomcat.established = 2300;
  tomcat.idle = 2000;
  tomcat.min_idle_ms = 130'000;
  tomcat.max_idle_ms = 900'000;
  tomcat.pid = tomcat.holders = 1;
  tomcat.peers = {{"10.0.0.5", 0, 2000}};
  tomcat.distinct_peers = 1;
  o.idle.push_back(tomcat);
  return in;
}

// ---- closing sockets that get no ACK

TEST(DoctorClosingRules, DeadPathZeroWindowAndTheThreshold) {
  DoctorInput in = healthy();
  ClosingStall c;
  c.state = TCPFSM_FIN_WAIT1;
  c.peer = "10.77.0.2";
  c.sockets = 7;
  c.orphaned = 7;
  c.no_ack.retransmitting = 4;  // below the threshold of 5: a loss being repaired
  c.no_ack.max_retransmits = 3;
  in.observation->closing = {c};
  EXPECT_TRUE(run(check_fin_wait1_stuck, in).empty());
  in.observation->closing[0].no_ack.retransmitting = 7;
  auto f = run(check_fin_wait1_stuck, in);
  ASSERT_EQ(f.size(), 1u);
  EXPECT_EQ(f[0].title, "7 sockets in FIN_WAIT1 to 10.77.0.2 get no ACK: a dead path or a dead peer");
  EXPECT_THAT(f[0].explanation, HasSubstr("tcp_orphan_retries = 0, which means 8"));
  EXPECT_THAT(f[0].action, HasSubstr("ss -tnoi state fin-wait-1 dst 10.77.0.2"));
  in.observation->closing[0].no_ack.retransmitting = 1;
  in.observation->closing[0].no_ack.zero_window = 6;
  f = run(check_fin_wait1_stuck, in);
  ASSERT_EQ(f.size(), 1u);
  EXPECT_THAT(f[0].title, HasSubstr("the peer's window is closed, it does not read"));
  // LAST_ACK is its own rule.
  EXPECT_TRUE(run(check_last_ack_stuck, in).empty());
  in.observation->closing[0].state = TCPFSM_LAST_ACK;
  f = run(check_last_ack_stuck, in);
  ASSERT_EQ(f.size(), 1u);
  EXPECT_EQ(f[0].id, "last_ack_stuck");
  EXPECT_THAT(f[0].action, HasSubstr("state last-ack"));
}

// ---- ESTABLISHED piling up idle

TEST(DoctorIdleRule, AServiceAndAClientPoolEachGetTheirOwnWords) {
  DoctorInput in = healthy();
  in.observation->idle_threshold_ms = 120'000;
  IdleGroup svc;
  svc.service = true;
  svc.service_addr = "0.0.0.0";
  svc.service_port = 8080;
  svc.established = 120;
  svc.idle = 49;  // below the 50 that make a pile
  svc.min_idle_ms = 121'000;
  svc.max_idle_ms = 600'000;
  svc.pid = 700;
  svc.holders = 2;
  ProcessInfo java;
  java.pid = 700;
  java.comm = "java";
  java.user = "tomcat";
  java.cmdline = "java\n-jar catalina.jar";
  svc.process = java;
  svc.peers = {{"10.0.0.5", 0, 30}, {"10.0.0.6", 0, 19}};
  svc.distinct_peers = 2;
  svc.keepalive = 3;
  in.observation->idle = {svc};
  EXPECT_TRUE(run(check_idle_established, in).empty());
  in.observation->idle[0].idle = 61;  // half of 120 is not enough: most of the group must be idle
  in.observation->idle[0].established = 123;
  EXPECT_TRUE(run(check_idle_established, in).empty());
  in.observation->idle[0].established = 122;
  auto f = run(check_idle_established, in);
  ASSERT_EQ(f.size(), 1u);
  EXPECT_EQ(f[0].title, "61 of 122 connections to the service on 0.0.0.0:8080 are idle, held open for over 2m00s");
  EXPECT_EQ(f[0].evidence[0],
            "122 ESTABLISHED accepted on 0.0.0.0:8080, 61 of them idle for 2m01s to 10m00s without data either way "
            "(sock_diag tcp_info: last data sent and received)");
  EXPECT_EQ(f[0].evidence[1], "clients holding them: 10.0.0.5 (30), 10.0.0.6 (19)");
  EXPECT_EQ(f[0].evidence[2], "held here by pid 700 (java, user tomcat) and 1 more processes");
  EXPECT_THAT(f[0].evidence[3], HasSubstr("3 of the 61 idle have keepalive on"));
  EXPECT_THAT(f[0].evidence[3], HasSubstr("tcp_keepalive_time = 7200 s"));
  EXPECT_EQ(f[0].evidence[4], "command: java -jar catalina.jar");
  EXPECT_THAT(f[0].action, HasSubstr("keepAliveTimeout"));
  EXPECT_THAT(f[0].action, HasSubstr("sport = :8080"));
  EXPECT_THAT(f[0].explanation, HasSubstr("only finds peers that are gone"));

  IdleGroup pool;
  pool.established = pool.idle = 80;
  pool.min_idle_ms = pool.max_idle_ms = 200'000;
  pool.pid = 900;
  pool.holders = 1;
  pool.peers = {{"10.0.0.7", 5432, 80}};
  pool.distinct_peers = 1;
  in.observation->idle = {pool};
  f = run(check_idle_established, in);
  ASSERT_EQ(f.size(), 1u);
  EXPECT_EQ(f[0].title, "pid 900 (?) holds 80 idle connections of 80, open for over 2m00s without data");
  EXPECT_EQ(f[0].evidence[1], "servers they go to: 10.0.0.7:5432 (80)");
  EXPECT_THAT(f[0].action, HasSubstr("SetConnMaxIdleTime"));
}

// ---- the table

TEST(DoctorRuleTable, HoldsEveryRuleOnceInReportOrder) {
  std::vector<std::string_view> ids;
  for (const auto& r : doctor_rules()) {
    ids.push_back(r.id);
    EXPECT_NE(r.check, nullptr) << r.id;
  }
  const std::vector<std::string_view> expected = {
      "close_wait_leak",      "timewait_limit",     "ephemeral_ports", "server_closes_first", "orphaned_fin_wait2",
      "listen_queue",         "fin_wait1_stuck",    "last_ack_stuck",  "closing_stuck",       "syn_sent_scan",
      "syn_sent_unreachable", "idle_established",   "tw_recycle",      "timestamps_off",      "syncookies_off",
      "tw_buckets_low",       "fin_timeout_changed"};
  EXPECT_EQ(ids, expected);
  EXPECT_EQ(std::set<std::string_view>(ids.begin(), ids.end()).size(), ids.size());
}

TEST(DoctorRuleTable, EveryRuleIsSilentOnAHealthyHost) {
  for (bool watched : {true, false}) {
    for (const auto& r : doctor_rules()) {
      EXPECT_TRUE(run(r.check, healthy(watched)).empty()) << r.id << (watched ? " watched" : " unwatched");
    }
  }
}

TEST(DoctorRuleTable, EveryRuleFiresOnceOnASickHostUnderItsOwnId) {
  for (const auto& r : doctor_rules()) {
    auto f = run(r.check, sick());
    ASSERT_EQ(f.size(), 1u) << r.id;
    EXPECT_EQ(f[0].id, r.id);
    EXPECT_FALSE(f[0].title.empty()) << r.id;
    EXPECT_FALSE(f[0].evidence.empty()) << r.id;
    EXPECT_FALSE(f[0].explanation.empty()) << r.id;
    EXPECT_FALSE(f[0].action.empty()) << r.id;
  }
}

// diagnose is the table run in order, then sorted worst first; a rule's
// place in the table breaks ties.
TEST(DoctorRuleTable, DiagnoseIsTheTableWorstFirstInTableOrder) {
  std::vector<std::string> got;
  for (const auto& f : diagnose(sick())) got.push_back(f.id);
  const std::vector<std::string> expected = {// critical
                                             "timewait_limit", "ephemeral_ports", "tw_recycle",
                                             // warning
                                             "close_wait_leak", "orphaned_fin_wait2", "listen_queue", "fin_wait1_stuck",
                                             "last_ack_stuck", "closing_stuck", "syn_sent_scan", "syn_sent_unreachable",
                                             "idle_established", "timestamps_off", "syncookies_off",
                                             // info
                                             "server_closes_first", "tw_buckets_low", "fin_timeout_changed"};
  EXPECT_EQ(got, expected);
}

TEST(DoctorRuleTable, DiagnoseSaysHealthyFirstWhenNothingIsAWarning) {
  DoctorInput in = healthy();
  in.after.settings.fin_timeout = 30;
  in.after.settings.max_tw_buckets = 5000;
  auto f = diagnose(in);
  ASSERT_EQ(f.size(), 3u);
  EXPECT_EQ(f[0].id, "healthy");
  EXPECT_EQ(f[0].severity, Severity::Ok);
  EXPECT_EQ(f[1].id, "tw_buckets_low");
  EXPECT_EQ(f[2].id, "fin_timeout_changed");
  EXPECT_EQ(diagnose(healthy()).size(), 1u);
}

// ---- close_wait_leak

TEST(DoctorRuleCloseWaitLeak, FiresPerHolderFromFiveSocketsCriticalFromAThousand) {
  DoctorInput in = healthy();
  in.observation->leaks.groups = {close_wait_holder(5), close_wait_holder(1000)};
  in.observation->leaks.groups[1].process->pid = 7;
  auto f = run(check_close_wait_leak, in);
  ASSERT_EQ(f.size(), 2u);
  EXPECT_EQ(f[0].severity, Severity::Warning);
  EXPECT_THAT(f[0].title, HasSubstr("pid 4242 (leaker)"));
  EXPECT_EQ(f[1].severity, Severity::Critical);
  EXPECT_THAT(f[1].action, HasSubstr("tcpfsm leaks --pid 7"));
  // The posts' 43,200 s is connection tracking's; Linux's own number: none.
  EXPECT_THAT(f[0].explanation, HasSubstr("Linux has no CLOSE_WAIT timer at all"));
  EXPECT_THAT(f[0].explanation, HasSubstr("nf_conntrack_tcp_timeout_close_wait"));
}

TEST(DoctorRuleCloseWaitLeak, HeldForAListenerBlamesTheAcceptLoop) {
  DoctorInput in = healthy();
  LeakGroup g = close_wait_holder(20);
  g.via_listener = true;
  in.observation->leaks.groups = {g};
  auto f = run(check_close_wait_leak, in);
  ASSERT_EQ(f.size(), 1u);
  EXPECT_THAT(f[0].explanation, HasSubstr("accept queue"));
}

TEST(DoctorRuleCloseWaitLeak, SilentBelowFiveOrNotAProcessOrNotCloseWait) {
  DoctorInput in = healthy();
  LeakGroup orphaned = close_wait_holder(50);
  orphaned.kind = HolderKind::Orphaned;
  LeakGroup fin_wait2 = close_wait_holder(50);
  fin_wait2.state = TCPFSM_FIN_WAIT2;
  in.observation->leaks.groups = {close_wait_holder(4), orphaned, fin_wait2};
  EXPECT_TRUE(run(check_close_wait_leak, in).empty());
}

// ---- timewait_limit

// The noise rule: an overflow counter that moved only before the watch,
// with TIME_WAIT far from the limit now, is history (information), never a
// warning; one that moves during the watch is critical.
TEST(DoctorRuleTimewaitLimit, CriticalWhenOverflowsRiseInformationWhenOnlyBeforeTheWatch) {
  DoctorInput in = healthy();
  in.before.counters["TcpExt.TCPTimeWaitOverflow"] = 3;
  in.after.counters["TcpExt.TCPTimeWaitOverflow"] = 5;
  auto f = run(check_timewait_limit, in);
  ASSERT_EQ(f.size(), 1u);
  EXPECT_EQ(f[0].severity, Severity::Critical);
  EXPECT_THAT(f[0].evidence[1], HasSubstr("+2 during the 10 s watched, 5 since boot"));

  in.before.counters = in.after.counters;  // static during the watch, 0 TIME_WAIT now
  f = run(check_timewait_limit, in);
  ASSERT_EQ(f.size(), 1u);
  EXPECT_EQ(f[0].severity, Severity::Info);
  EXPECT_THAT(f[0].title, HasSubstr("before this watch; not now"));
  EXPECT_THAT(f[0].evidence[2], HasSubstr("before the watch"));

  in.after.settings.max_tw_buckets = 100;  // but near the limit now: a warning again
  in.after.sockstat["TCP.tw"] = 90;
  f = run(check_timewait_limit, in);
  ASSERT_EQ(f.size(), 1u);
  EXPECT_EQ(f[0].severity, Severity::Warning);
}

TEST(DoctorRuleTimewaitLimit, WarnsFromEightyPercentOfTheBuckets) {
  DoctorInput in = healthy();
  in.after.settings.max_tw_buckets = 10000;
  in.after.sockstat["TCP.tw"] = 8000;
  auto f = run(check_timewait_limit, in);
  ASSERT_EQ(f.size(), 1u);
  EXPECT_EQ(f[0].severity, Severity::Warning);
  EXPECT_THAT(f[0].evidence[0], HasSubstr("8000 TIME_WAIT sockets (/proc/net/sockstat), tcp_max_tw_buckets = 10000"));

  in.after.sockstat["TCP.tw"] = 7999;
  EXPECT_TRUE(run(check_timewait_limit, in).empty());
  in.after.settings.max_tw_buckets = std::nullopt;  // no limit known: nothing to be near
  in.after.sockstat["TCP.tw"] = 1'000'000;
  EXPECT_TRUE(run(check_timewait_limit, in).empty());
}

// ---- ephemeral_ports

TEST(DoctorRuleEphemeralPorts, WarnsFromHalfTheRateCriticalFromEightyPercent) {
  DoctorInput in = healthy();
  in.after.settings.local_port_range = {{50000, 50999}};  // 1000 ports: 16.7 new connections/s
  in.observation->destinations = {{"10.0.0.7", 5432, 84, 0}, {"10.0.0.8", 80, 134, 0}, {"10.0.0.9", 443, 83, 0}};
  auto f = run(check_ephemeral_ports, in);
  ASSERT_EQ(f.size(), 2u);
  EXPECT_THAT(f[0].title, HasSubstr("10.0.0.7:5432"));
  EXPECT_EQ(f[0].severity, Severity::Warning);
  EXPECT_THAT(f[1].title, HasSubstr("10.0.0.8:80"));
  EXPECT_EQ(f[1].severity, Severity::Critical);
  EXPECT_THAT(f[1].evidence[2],
              HasSubstr("tcp_tw_reuse = 2, tcp_timestamps = 1, tcp_tw_reuse_delay = absent (1 s, fixed, before"));
  in.after.settings.tw_reuse_delay_ms = 1000;  // this kernel's default
  f = run(check_ephemeral_ports, in);
  EXPECT_THAT(f[1].evidence[2], HasSubstr("tcp_tw_reuse = 2, tcp_timestamps = 1, tcp_tw_reuse_delay = 1000 ms"));
}

TEST(DoctorRuleEphemeralPorts, FiresOnPortsHeldInTimeWait) {
  DoctorInput in = healthy();
  in.after.settings.local_port_range = {{50000, 50999}};
  in.after.settings.tw_reuse = std::nullopt;
  in.observation->destinations = {{"10.0.0.7", 5432, 0, 500}, {"10.0.0.8", 80, 0, 800}, {"10.0.0.9", 80, 0, 499}};
  auto f = run(check_ephemeral_ports, in);
  ASSERT_EQ(f.size(), 2u);
  EXPECT_EQ(f[0].severity, Severity::Warning);
  EXPECT_EQ(f[1].severity, Severity::Critical);
  EXPECT_EQ(f[1].evidence.size(), 2u);  // no tcp_tw_reuse line when it is unknown
}

TEST(DoctorRuleEphemeralPorts, SilentWithoutARangeOrATimeToRateOver) {
  DoctorInput in = healthy();
  in.after.settings.local_port_range = {{50000, 50999}};
  in.observation->destinations = {{"10.0.0.7", 5432, 150, 0}};
  ASSERT_EQ(run(check_ephemeral_ports, in).size(), 1u);
  DoctorInput no_range = in;
  no_range.after.settings.local_port_range = std::nullopt;
  EXPECT_TRUE(run(check_ephemeral_ports, no_range).empty());
  DoctorInput no_time = in;
  no_time.observation->seconds = 0;
  EXPECT_TRUE(run(check_ephemeral_ports, no_time).empty());
}

// ---- server_closes_first

TEST(DoctorRuleServerClosesFirst, InformationUnlessItFillsAQuarterOfTheBuckets) {
  DoctorInput in = healthy();
  in.observation->time_wait_server = 50;
  in.observation->time_wait_client = 50;
  in.observation->time_wait_server_ports = {{80, 10}, {443, 10}, {8080, 10}, {8081, 10}, {8082, 5}, {8083, 5}};
  auto f = run(check_server_closes_first, in);
  ASSERT_EQ(f.size(), 1u);
  EXPECT_EQ(f[0].severity, Severity::Info);
  EXPECT_EQ(f[0].evidence[0],
            "50 of 100 TIME_WAIT sockets are on listening ports: 80 (10), 443 (10), 8080 (10), "
            "8081 (10), 8082 (5) (sock_diag)");  // five ports at most
  // The posts' 240 s is Windows'; Linux's is fixed.
  EXPECT_THAT(f[0].explanation, HasSubstr("TCP_TIMEWAIT_LEN, 60 s, fixed"));
  EXPECT_THAT(f[0].explanation, HasSubstr("240 s"));

  in.after.settings.max_tw_buckets = 200;
  f = run(check_server_closes_first, in);
  ASSERT_EQ(f.size(), 1u);
  EXPECT_EQ(f[0].severity, Severity::Warning);
}

TEST(DoctorRuleServerClosesFirst, SilentBelowFiftyOrWhenClientsCloseMore) {
  DoctorInput in = healthy();
  in.observation->time_wait_server = 49;
  EXPECT_TRUE(run(check_server_closes_first, in).empty());
  in.observation->time_wait_server = 50;
  in.observation->time_wait_client = 51;
  EXPECT_TRUE(run(check_server_closes_first, in).empty());
}

// ---- orphaned_fin_wait2

TEST(DoctorRuleOrphanedFinWait2, FiresOnAHundredWatchedOrHalfTheOrphanLimit) {
  DoctorInput in = healthy();
  in.observation->orphan_fin_wait2 = 100;
  auto f = run(check_orphaned_fin_wait2, in);
  ASSERT_EQ(f.size(), 1u);
  EXPECT_EQ(f[0].evidence[0], "100 orphaned FIN_WAIT2 sockets (sock_diag)");

  DoctorInput unwatched = healthy(false);
  unwatched.after.settings.max_orphans = 1000;
  unwatched.after.sockstat["TCP.orphan"] = 500;
  f = run(check_orphaned_fin_wait2, unwatched);
  ASSERT_EQ(f.size(), 1u);
  EXPECT_THAT(f[0].evidence[0], HasSubstr("500 orphaned sockets (/proc/net/sockstat), tcp_max_orphans = 1000"));
}

TEST(DoctorRuleOrphanedFinWait2, SilentJustBelow) {
  DoctorInput in = healthy();
  in.observation->orphan_fin_wait2 = 99;
  in.after.settings.max_orphans = 1000;
  in.after.sockstat["TCP.orphan"] = 499;
  EXPECT_TRUE(run(check_orphaned_fin_wait2, in).empty());
}

// ---- listen_queue

TEST(DoctorRuleListenQueue, FiresOnOverflowsDropsAFullQueueOrPilingSynRecv) {
  DoctorInput overflow = healthy();
  overflow.after.counters["TcpExt.ListenOverflows"] = 40;
  EXPECT_EQ(run(check_listen_queue, overflow).size(), 1u);
  DoctorInput drops = healthy(false);
  drops.after.counters["TcpExt.ListenDrops"] = 1;
  EXPECT_EQ(run(check_listen_queue, drops).size(), 1u);

  DoctorInput full = healthy();
  full.observation->listeners = {{"0.0.0.0", 8080, 5, 128, 0}, {"0.0.0.0", 80, 128, 128, 0}};
  auto f = run(check_listen_queue, full);
  ASSERT_EQ(f.size(), 1u);
  EXPECT_EQ(f[0].title, "the accept queue of port 80 is full");
  EXPECT_EQ(f[0].evidence[1], "0.0.0.0:80: 128 connections wait for accept(), backlog 128");

  DoctorInput syn = healthy();
  syn.observation->listeners = {{"0.0.0.0", 8080, 0, 128, 300}, {"::", 8080, 0, 128, 212}};
  f = run(check_listen_queue, syn);
  ASSERT_EQ(f.size(), 1u);
  EXPECT_THAT(f[0].evidence, ::testing::Contains("512 handshakes in SYN_RECV"));
}

TEST(DoctorRuleListenQueue, SilentOnOldOverflowsAndQueuesWithRoom) {
  DoctorInput in = healthy();
  in.before.counters["TcpExt.ListenOverflows"] = 40;  // since boot, none while watching
  in.after.counters["TcpExt.ListenOverflows"] = 40;
  in.observation->listeners = {{"0.0.0.0", 8080, 127, 128, 511}, {"0.0.0.0", 9090, 5, 0, 0}};
  EXPECT_TRUE(run(check_listen_queue, in).empty());
}

// ---- tw_recycle

TEST(DoctorRuleTwRecycle, CriticalWhereTheKernelHasItWarningForALeftoverLine) {
  DoctorInput old_kernel = healthy();
  old_kernel.after.settings.tw_recycle = 1;
  auto f = run(check_tw_recycle, old_kernel);
  ASSERT_EQ(f.size(), 1u);
  EXPECT_EQ(f[0].severity, Severity::Critical);

  DoctorInput leftover = healthy();
  leftover.after.settings.tw_recycle = 0;
  leftover.tw_recycle_config = {"/etc/sysctl.conf:3: net.ipv4.tcp_tw_recycle = 1"};
  f = run(check_tw_recycle, leftover);
  ASSERT_EQ(f.size(), 1u);
  EXPECT_EQ(f[0].severity, Severity::Warning);
  EXPECT_EQ(f[0].evidence, (std::vector<std::string>{"tcp_tw_recycle = 0 (/proc/sys)",
                                                     "/etc/sysctl.conf:3: net.ipv4.tcp_tw_recycle = 1"}));
}

TEST(DoctorRuleTwRecycle, SilentWhenOffAndNotConfigured) {
  DoctorInput in = healthy();
  in.after.settings.tw_recycle = 0;
  EXPECT_TRUE(run(check_tw_recycle, in).empty());
}

// ---- the settings rules

TEST(DoctorRuleTimestampsOff, FiresAtZeroSayingWhatTwReuseIs) {
  DoctorInput in = healthy();
  in.after.settings.timestamps = 0;
  in.after.settings.tw_reuse = 1;
  auto f = run(check_timestamps_off, in);
  ASSERT_EQ(f.size(), 1u);
  EXPECT_EQ(f[0].severity, Severity::Warning);
  EXPECT_EQ(f[0].evidence, std::vector<std::string>{"tcp_timestamps = 0, tcp_tw_reuse = 1"});
  in.after.settings.tw_reuse = std::nullopt;
  EXPECT_EQ(run(check_timestamps_off, in)[0].evidence[0], "tcp_timestamps = 0, tcp_tw_reuse = unknown");
}

TEST(DoctorRuleTimestampsOff, SilentWhenOnOrUnknownAndReadsTheLastSettings) {
  DoctorInput in = healthy();
  in.before.settings.timestamps = 0;  // turned on while watching
  EXPECT_TRUE(run(check_timestamps_off, in).empty());
  in.after.settings.timestamps = 2;
  EXPECT_TRUE(run(check_timestamps_off, in).empty());
  in.after.settings.timestamps = std::nullopt;
  EXPECT_TRUE(run(check_timestamps_off, in).empty());
}

TEST(DoctorRuleSyncookiesOff, FiresAtZeroOnly) {
  DoctorInput in = healthy();
  in.after.settings.syncookies = 0;
  auto f = run(check_syncookies_off, in);
  ASSERT_EQ(f.size(), 1u);
  EXPECT_EQ(f[0].severity, Severity::Warning);
  EXPECT_EQ(f[0].evidence, std::vector<std::string>{"tcp_syncookies = 0"});
  for (int64_t v : {1, 2}) {
    in.after.settings.syncookies = v;
    EXPECT_TRUE(run(check_syncookies_off, in).empty()) << v;
  }
  in.after.settings.syncookies = std::nullopt;
  EXPECT_TRUE(run(check_syncookies_off, in).empty());
}

TEST(DoctorRuleTwBucketsLow, InformationBelow32768) {
  DoctorInput in = healthy();
  in.after.settings.max_tw_buckets = 32767;
  auto f = run(check_tw_buckets_low, in);
  ASSERT_EQ(f.size(), 1u);
  EXPECT_EQ(f[0].severity, Severity::Info);
  EXPECT_EQ(f[0].evidence, std::vector<std::string>{"tcp_max_tw_buckets = 32767"});
  in.after.settings.max_tw_buckets = 32768;
  EXPECT_TRUE(run(check_tw_buckets_low, in).empty());
  in.after.settings.max_tw_buckets = std::nullopt;
  EXPECT_TRUE(run(check_tw_buckets_low, in).empty());
}

TEST(DoctorRuleFinTimeoutChanged, InformationWhenNotSixty) {
  DoctorInput in = healthy();
  in.after.settings.fin_timeout = 30;
  auto f = run(check_fin_timeout_changed, in);
  ASSERT_EQ(f.size(), 1u);
  EXPECT_EQ(f[0].severity, Severity::Info);
  EXPECT_EQ(f[0].evidence, std::vector<std::string>{"tcp_fin_timeout = 30 s (default 60)"});
  EXPECT_THAT(f[0].explanation, HasSubstr("TCP_TIMEWAIT_LEN"));
  in.after.settings.fin_timeout = std::nullopt;
  EXPECT_TRUE(run(check_fin_timeout_changed, in).empty());
}

}  // namespace
}  // namespace tcpfsm
