// Every doctor rule on fixture directories read through --proc-root's code
// path (read_host), healthy and unhealthy, plus the observation summary.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <filesystem>
#include <fstream>

#include "diagnose/doctor.hpp"
#include "views/doctor_view.hpp"

namespace tcpfsm {
namespace {

namespace fs = std::filesystem;
using ::testing::HasSubstr;

constexpr uint32_t kNs = 4026531840U;

class HostDir {
 public:
  HostDir() {
    char tpl[] = "/tmp/tcpfsm-doctor-XXXXXX";
    root_ = mkdtemp(tpl);
    fs::create_directories(root_ + "/sys/net/ipv4");
    fs::create_directories(root_ + "/sys/net/core");
    fs::create_directories(root_ + "/net");
    fs::create_directories(root_ + "/etc/sysctl.d");
    // A healthy Debian 12 host.
    for (auto [k, v] :
         std::initializer_list<std::pair<const char*, const char*>>{{"tcp_tw_reuse", "2"},
                                                                    {"tcp_fin_timeout", "60"},
                                                                    {"tcp_max_tw_buckets", "262144"},
                                                                    {"tcp_max_syn_backlog", "1024"},
                                                                    {"tcp_syncookies", "1"},
                                                                    {"tcp_keepalive_time", "7200"},
                                                                    {"tcp_keepalive_intvl", "75"},
                                                                    {"tcp_keepalive_probes", "9"},
                                                                    {"tcp_max_orphans", "65536"},
                                                                    {"tcp_orphan_retries", "0"},
                                                                    {"tcp_timestamps", "1"},
                                                                    {"ip_local_port_range", "32768\t60999"}})
      ipv4(k, v);
    write("sys/net/core/somaxconn", "4096\n");
    netstat(0, 0, 0, 0);
    write("net/snmp",
          "Tcp: RtoAlgorithm RtoMin RtoMax MaxConn ActiveOpens PassiveOpens AttemptFails EstabResets CurrEstab\n"
          "Tcp: 1 200 120000 -1 100 90 0 3 5\n");
    sockstat(10, 0);
  }
  ~HostDir() { fs::remove_all(root_); }
  void write(const std::string& rel, const std::string& text) { std::ofstream(root_ + "/" + rel) << text; }
  void ipv4(const std::string& name, const std::string& v) { write("sys/net/ipv4/" + name, v + "\n"); }
  void netstat(int64_t tw_overflow, int64_t listen_overflows, int64_t listen_drops, int64_t abort_timeout) {
    write("net/netstat",
          fmt("TcpExt: SyncookiesSent TCPTimeWaitOverflow ListenOverflows ListenDrops TCPAbortOnTimeout\n"
              "TcpExt: 0 {} {} {} {}\n"
              "IpExt: InNoRoutes InOctets\nIpExt: 0 12345\n",
              tw_overflow, listen_overflows, listen_drops, abort_timeout));
  }
  void sockstat(int64_t tw, int64_t orphan) {
    write("net/sockstat",
          fmt("sockets: used 8\nTCP: inuse 5 orphan {} tw {} alloc 8 mem 1\nUDP: inuse 0 mem 0\n", orphan, tw));
  }
  HostSnapshot read() {
    auto h = read_host(root_);
    EXPECT_TRUE(h.ok()) << (h.ok() ? "" : h.error().message);
    return h.ok() ? h.value() : HostSnapshot{};
  }
  // Reads twice, with `change` applied in between (the counters move).
  DoctorInput input(const std::function<void(HostDir&)>& change = nullptr) {
    DoctorInput in;
    in.before = read();
    if (change) change(*this);
    in.after = read();
    in.interval_s = 10;
    in.tw_recycle_config = tw_recycle_mentions(root_ + "/etc");
    return in;
  }
  const std::string& root() const { return root_; }

 private:
  template <typename... A>
  static std::string fmt(const char* f, A... a) {
    std::string s = f;
    std::vector<std::string> vals = {std::to_string(a)...};
    for (const auto& v : vals) s.replace(s.find("{}"), 2, v);
    return s;
  }
  std::string root_;
};

const Finding* find(const std::vector<Finding>& f, const std::string& id) {
  for (const auto& x : f) {
    if (x.id == id) return &x;
  }
  return nullptr;
}

std::string ids(const std::vector<Finding>& f) {
  std::string s;
  for (const auto& x : f) s += x.id + " ";
  return s;
}

TEST(DoctorParse, NetstatPairsAndSockstat) {
  auto m = parse_proc_netstat("TcpExt: A B\nTcpExt: 1 2\nIpExt: C\nIpExt: 3\n");
  EXPECT_EQ(m["TcpExt.A"], 1);
  EXPECT_EQ(m["TcpExt.B"], 2);
  EXPECT_EQ(m["IpExt.C"], 3);
  // Mismatched or junk lines are skipped.
  auto bad = parse_proc_netstat("TcpExt: A B\nTcpExt: 1\nfoo\n\nX: y\nX: notanumber\n");
  EXPECT_TRUE(bad.empty());
  auto s = parse_sockstat("sockets: used 8\nTCP: inuse 5 orphan 2 tw 7 alloc 8 mem 1\nbroken line\n");
  EXPECT_EQ(s["TCP.tw"], 7);
  EXPECT_EQ(s["TCP.orphan"], 2);
  EXPECT_EQ(s["sockets.used"], 8);
}

TEST(DoctorHost, ReadsSettingsAndCounters) {
  HostDir h;
  auto snap = h.read();
  EXPECT_EQ(snap.settings.max_tw_buckets, 262144);
  EXPECT_EQ(snap.settings.somaxconn, 4096);
  ASSERT_TRUE(snap.settings.local_port_range);
  EXPECT_EQ(snap.settings.local_port_range->first, 32768);
  EXPECT_EQ(snap.settings.local_port_range->second, 60999);
  EXPECT_FALSE(snap.settings.tw_recycle);
  EXPECT_FALSE(snap.settings.tw_reuse_delay_ms);  // a kernel before 6.13
  EXPECT_EQ(snap.counters["Tcp.ActiveOpens"], 100);
  EXPECT_EQ(snap.sockstat["TCP.tw"], 10);
  h.ipv4("tcp_tw_reuse_delay", "1000");
  EXPECT_EQ(h.read().settings.tw_reuse_delay_ms, 1000);
}

TEST(DoctorHost, MissingCounterFileIsAnErrorSayingWhatIsNeeded) {
  HostDir h;
  fs::remove(h.root() + "/net/snmp");
  auto r = read_host(h.root());
  ASSERT_FALSE(r.ok());
  EXPECT_THAT(r.error().message, HasSubstr("net/snmp"));
  EXPECT_THAT(r.error().message, HasSubstr("--proc-root"));
}

TEST(DoctorRules, HealthyHostIsOneLine) {
  HostDir h;
  auto f = diagnose(h.input());
  ASSERT_EQ(f.size(), 1u) << ids(f);
  EXPECT_EQ(f[0].id, "healthy");
  EXPECT_EQ(doctor_exit_status(f), 0);
  EXPECT_EQ(findings_text(f, h.input()), "tcpfsm doctor: nothing needs fixing in these settings and counters.\n");
}

TEST(DoctorRules, TimeWaitOverflowRisingIsCritical) {
  HostDir h;
  h.netstat(100, 0, 0, 0);
  auto f = diagnose(h.input([](HostDir& d) { d.netstat(250, 0, 0, 0); }));
  const Finding* x = find(f, "timewait_limit");
  ASSERT_NE(x, nullptr) << ids(f);
  EXPECT_EQ(x->severity, Severity::Critical);
  EXPECT_THAT(x->evidence[1], HasSubstr("+150"));
  EXPECT_THAT(x->evidence[1], HasSubstr("250 since boot"));
  EXPECT_EQ(doctor_exit_status(f), 1);
}

TEST(DoctorRules, TimeWaitNearTheLimitIsAWarning) {
  HostDir h;
  h.ipv4("tcp_max_tw_buckets", "5000");
  h.sockstat(4500, 0);
  auto f = diagnose(h.input());
  const Finding* x = find(f, "timewait_limit");
  ASSERT_NE(x, nullptr) << ids(f);
  EXPECT_EQ(x->severity, Severity::Warning);
  EXPECT_THAT(x->evidence[0], HasSubstr("4500 TIME_WAIT"));
  EXPECT_THAT(x->evidence[0], HasSubstr("tcp_max_tw_buckets = 5000"));
  ASSERT_NE(find(f, "tw_buckets_low"), nullptr);  // the recipe's value, said apart
  EXPECT_EQ(f[0].id, "timewait_limit");           // worst first
}

TEST(DoctorRules, TwRecycleOnAnOldKernelAndInConfig) {
  HostDir h;
  h.ipv4("tcp_tw_recycle", "1");
  h.write("etc/sysctl.conf", "# tuning\nnet.ipv4.tcp_tw_recycle = 1\n# net.ipv4.tcp_tw_recycle = 0\n");
  auto f = diagnose(h.input());
  const Finding* x = find(f, "tw_recycle");
  ASSERT_NE(x, nullptr);
  EXPECT_EQ(x->severity, Severity::Critical);
  EXPECT_THAT(x->explanation, HasSubstr("NAT"));
  ASSERT_EQ(x->evidence.size(), 2u);  // the commented line does not count
  EXPECT_THAT(x->evidence[1], HasSubstr("sysctl.conf:2"));

  HostDir modern;  // no /proc entry, only a leftover line in sysctl.d
  modern.write("etc/sysctl.d/99-tuning.conf", "net.ipv4.tcp_tw_recycle=1\n");
  auto g = diagnose(modern.input());
  const Finding* y = find(g, "tw_recycle");
  ASSERT_NE(y, nullptr);
  EXPECT_EQ(y->severity, Severity::Warning);
  EXPECT_THAT(y->explanation, HasSubstr("4.12"));
}

TEST(DoctorRules, RecipeSettingsThatHurt) {
  HostDir h;
  h.ipv4("tcp_timestamps", "0");
  h.ipv4("tcp_tw_reuse", "1");
  h.ipv4("tcp_syncookies", "0");
  h.ipv4("tcp_fin_timeout", "30");
  auto f = diagnose(h.input());
  ASSERT_NE(find(f, "timestamps_off"), nullptr) << ids(f);
  EXPECT_THAT(find(f, "timestamps_off")->explanation, HasSubstr("tcp_tw_reuse never applies"));
  ASSERT_NE(find(f, "syncookies_off"), nullptr);
  ASSERT_NE(find(f, "fin_timeout_changed"), nullptr);
  EXPECT_EQ(find(f, "fin_timeout_changed")->severity, Severity::Info);
  EXPECT_EQ(doctor_exit_status(f), 1);
}

TEST(DoctorRules, InformationOnlyIsStillHealthy) {
  HostDir h;
  h.ipv4("tcp_fin_timeout", "30");
  auto f = diagnose(h.input());
  EXPECT_EQ(f[0].id, "healthy");
  ASSERT_NE(find(f, "fin_timeout_changed"), nullptr);
  EXPECT_EQ(doctor_exit_status(f), 0);
}

TEST(DoctorRules, ListenOverflowsDuringTheWatch) {
  HostDir h;
  auto f = diagnose(h.input([](HostDir& d) { d.netstat(0, 40, 40, 0); }));
  const Finding* x = find(f, "listen_queue");
  ASSERT_NE(x, nullptr) << ids(f);
  EXPECT_THAT(x->evidence[0], HasSubstr("ListenOverflows +40"));
  EXPECT_THAT(x->action, HasSubstr("somaxconn"));
}

TEST(DoctorRules, TooManyOrphans) {
  HostDir h;
  h.ipv4("tcp_max_orphans", "1000");
  h.sockstat(0, 600);
  auto f = diagnose(h.input());
  ASSERT_NE(find(f, "orphaned_fin_wait2"), nullptr) << ids(f);
}

// ---- rules on what was watched

SocketRecord rec(uint8_t state, uint16_t sport, uint16_t dport, uint8_t peer = 9) {
  SocketRecord r;
  r.family = AF_INET;
  r.state = state;
  r.netns = kNs;
  r.saddr = {10, 0, 0, 1};
  r.daddr = {10, 0, 0, peer};
  r.sport = sport;
  r.dport = dport;
  r.inode = 1;
  return r;
}

SocketRecord tw(uint16_t sport, uint16_t dport, uint8_t peer = 9) {
  SocketRecord r = rec(TCPFSM_TIME_WAIT, sport, dport, peer);
  r.timewait = true;
  r.inode = 0;
  return r;
}

TEST(DoctorObservation, TimeWaitBySideListenersAndOrphans) {
  std::vector<SocketRecord> dump;
  SocketRecord l = rec(TCPFSM_LISTEN, 80, 0);
  l.rqueue = 128;
  l.wqueue = 128;
  dump.push_back(l);
  for (uint16_t i = 0; i < 60; ++i) dump.push_back(tw(80, static_cast<uint16_t>(40000 + i)));
  for (uint16_t i = 0; i < 10; ++i) dump.push_back(tw(static_cast<uint16_t>(50000 + i), 5432, 7));
  SocketRecord fw2 = rec(TCPFSM_FIN_WAIT2, 80, 41000);
  fw2.timewait = true;
  dump.push_back(fw2);
  SocketRecord synr = rec(TCPFSM_SYN_RECV, 80, 42000);
  synr.request = true;
  dump.push_back(synr);
  std::map<ConnectKey, uint64_t> connects{{ConnectKey{AF_INET, {10, 0, 0, 7}, 5432}, 30}};
  Observation o = summarize_observation(dump, connects, 10, {}, 0);
  EXPECT_EQ(o.time_wait_server, 60u);
  EXPECT_EQ(o.time_wait_client, 10u);
  EXPECT_EQ(o.time_wait_server_ports.at(80), 60u);
  EXPECT_EQ(o.orphan_fin_wait2, 1u);
  ASSERT_EQ(o.listeners.size(), 1u);
  EXPECT_EQ(o.listeners[0].syn_recv, 1u);
  ASSERT_EQ(o.destinations.size(), 1u);
  EXPECT_EQ(o.destinations[0].addr, "10.0.0.7");
  EXPECT_EQ(o.destinations[0].connects, 30u);
  EXPECT_EQ(o.destinations[0].time_wait, 10u);

  HostDir h;
  DoctorInput in = h.input();
  in.observation = o;
  auto f = diagnose(in);
  const Finding* s = find(f, "server_closes_first");
  ASSERT_NE(s, nullptr) << ids(f);
  EXPECT_THAT(s->evidence[0], HasSubstr("60 of 70 TIME_WAIT sockets are on listening ports: 80 (60)"));
  const Finding* q = find(f, "listen_queue");
  ASSERT_NE(q, nullptr);
  EXPECT_THAT(q->title, HasSubstr("port 80 is full"));
  EXPECT_EQ(find(f, "ephemeral_ports"), nullptr);  // 3/s is far below 470/s
}

TEST(DoctorObservation, EphemeralPortsPerDestination) {
  HostDir h;
  h.ipv4("ip_local_port_range", "50000\t50999");  // 1000 ports: 16.7 new connections/s per destination
  DoctorInput in = h.input();
  std::map<ConnectKey, uint64_t> connects{{ConnectKey{AF_INET, {10, 0, 0, 7}, 5432}, 150},  // 15/s: critical
                                          {ConnectKey{AF_INET, {10, 0, 0, 8}, 80}, 10}};    // 1/s: fine
  in.observation = summarize_observation({}, connects, 10, {}, 0);
  auto f = diagnose(in);
  const Finding* x = find(f, "ephemeral_ports");
  ASSERT_NE(x, nullptr) << ids(f);
  EXPECT_EQ(x->severity, Severity::Critical);
  EXPECT_THAT(x->title, HasSubstr("10.0.0.7:5432"));
  EXPECT_THAT(x->evidence[1], HasSubstr("at most 17 new connections/s"));
  EXPECT_THAT(x->action, HasSubstr("tcp_tw_reuse=1"));
  int n = 0;
  for (const auto& y : f) n += y.id == "ephemeral_ports";
  EXPECT_EQ(n, 1);
}

// A connect() that found no port is the limit already reached, whatever the rate.
TEST(DoctorObservation, ConnectsThatFoundNoLocalPortAreCriticalAndCited) {
  HostDir h;
  h.ipv4("ip_local_port_range", "40000\t40000");
  DoctorInput in = h.input();
  const ConnectKey dest{AF_INET, {10, 0, 0, 7}, 5432};
  in.observation = summarize_observation({}, {{dest, 2}}, 10, {}, 0, {{dest, 1}});
  auto f = diagnose(in);
  const Finding* x = find(f, "ephemeral_ports");
  ASSERT_NE(x, nullptr) << ids(f);
  EXPECT_EQ(x->severity, Severity::Critical);
  EXPECT_THAT(x->title, HasSubstr("connect() to 10.0.0.7:5432 fails: no free ephemeral port"));
  EXPECT_THAT(x->evidence[0], HasSubstr("1 connect() calls to 10.0.0.7:5432 found no free local port"));
  EXPECT_THAT(x->evidence[0], HasSubstr("no_local_port"));
}

TEST(DoctorObservation, CloseWaitLeakNamesTheProcessAndSaysNoSysctlFixesIt) {
  HostDir h;
  DoctorInput in = h.input();
  LeakReport r;
  LeakGroup g;
  g.state = TCPFSM_CLOSE_WAIT;
  g.count = 20;
  g.oldest_ns = 3600'000'000'000ULL;
  g.growth_per_min = 4;
  ProcessInfo p;
  p.pid = 4242;
  p.comm = "leaker";
  p.cmdline = "/usr/bin/leaker --db";
  g.process = p;
  g.peers = {{"10.0.0.5", 5432, 20}};
  r.groups.push_back(g);
  LeakGroup few = g;  // 3 sockets: closing late, not a leak
  few.count = 3;
  few.process->pid = 7;
  r.groups.push_back(few);
  in.observation = summarize_observation({}, {}, 10, r, 10'000'000'000ULL);
  auto f = diagnose(in);
  const Finding* x = find(f, "close_wait_leak");
  ASSERT_NE(x, nullptr) << ids(f);
  EXPECT_EQ(x->severity, Severity::Warning);
  EXPECT_THAT(x->title, HasSubstr("pid 4242 (leaker"));
  EXPECT_THAT(x->evidence[0], HasSubstr("20 sockets in CLOSE_WAIT"));
  EXPECT_THAT(x->evidence[0], HasSubstr("+4"));
  EXPECT_THAT(x->evidence[1], HasSubstr("10.0.0.5:5432 (20)"));
  EXPECT_THAT(x->explanation, HasSubstr("no sysctl"));
  int n = 0;
  for (const auto& y : f) n += y.id == "close_wait_leak";
  EXPECT_EQ(n, 1);
  auto j = findings_json(f);
  EXPECT_EQ(j[0]["id"], "close_wait_leak");
  EXPECT_EQ(j[0]["severity"], "warning");
  for (const char* k : {"id", "severity", "evidence", "explanation", "action"}) EXPECT_TRUE(j[0].contains(k)) << k;
}

TEST(DoctorObservation, HealthyWatchSaysHowLong) {
  HostDir h;
  DoctorInput in = h.input();
  in.observation = summarize_observation({rec(TCPFSM_ESTABLISHED, 22, 50000)}, {}, 10, {}, 0);
  auto f = diagnose(in);
  ASSERT_EQ(f.size(), 1u) << ids(f);
  EXPECT_THAT(f[0].title, HasSubstr("in 10 s of watching"));
}

}  // namespace
}  // namespace tcpfsm
