// Grouping (`stats --by`) without a kernel: the key spec, keys, sparse
// histograms, counting a dump by group (holders, listeners, identities of
// network namespaces), per-group records through StateTable, the report's
// rows and (others), pods from cgroup paths and log directories, and the
// histogram bars.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sys/socket.h>

#include <filesystem>
#include <fstream>
#include <map>

#include "account/groups.hpp"
#include "account/state_table.hpp"
#include "collect/pods.hpp"
#include "views/groups_view.hpp"

namespace tcpfsm {
namespace {

using ::testing::HasSubstr;
constexpr uint64_t kMs = 1'000'000, kSec = 1'000'000'000;
constexpr uint32_t kNs = 4026531840u;

GroupSpec spec_of(const char* text) { return parse_group_spec("--by", text).value(); }

SocketRecord sock(uint8_t state, uint8_t peer, uint16_t lport, uint32_t inode, bool timewait = false) {
  SocketRecord r;
  r.family = AF_INET;
  r.state = state;
  r.saddr = {127, 0, 0, 1};
  r.daddr = {10, 0, 0, peer};
  r.sport = lport;
  r.dport = 40000 + peer;
  r.inode = inode;
  r.netns = kNs;
  r.timewait = timewait;
  return r;
}

class FakeProcesses : public OwnerLookup {
 public:
  Holders holders(const std::vector<uint32_t>&) override { return {}; }
  std::optional<ProcessInfo> process(uint32_t pid) override {
    auto it = procs.find(pid);
    if (it == procs.end()) return std::nullopt;
    return it->second;
  }
  void add(uint32_t pid, std::string comm, std::string cgroup = "/user.slice") {
    ProcessInfo p;
    p.pid = pid;
    p.comm = std::move(comm);
    p.cgroup = std::move(cgroup);
    procs[pid] = p;
  }
  std::map<uint32_t, ProcessInfo> procs;
};

TEST(GroupSpec, ParsesKeysInOrderAndRejectsNonsense) {
  const auto s = parse_group_spec("--by", "lport,raddr");
  ASSERT_TRUE(s.ok());
  EXPECT_EQ(s->keys, (std::vector<GroupBy>{GroupBy::Lport, GroupBy::Raddr}));
  EXPECT_FALSE(s->needs_holder());
  EXPECT_TRUE(spec_of("pod").needs_identity());
  EXPECT_TRUE(spec_of("comm").needs_holder());
  for (const char* bad : {"", "raddr,", "nope", "raddr,raddr"}) {
    auto r = parse_group_spec("--by", bad);
    ASSERT_FALSE(r.ok()) << bad;
    EXPECT_EQ(r.error().kind, Error::Kind::Usage);
    EXPECT_THAT(r.error().message, HasSubstr("--by")) << bad;
  }
  for (int k = 0; k <= static_cast<int>(GroupBy::Pod); ++k)
    EXPECT_EQ(parse_group_by(group_by_name(static_cast<GroupBy>(k))), static_cast<GroupBy>(k));
}

TEST(GroupKey, KeepsOnlyTheSelectedParts) {
  const std::array<uint8_t, 16> a{10, 0, 0, 7}, b{10, 0, 0, 8};
  KeySource s{AF_INET, &a, &b, 8080, 5432, kNs, 42, "java", 0};
  const GroupKey by_raddr = make_group_key(spec_of("raddr"), s);
  EXPECT_EQ(by_raddr.raddr, b);
  EXPECT_EQ(by_raddr.lport, 0);
  EXPECT_EQ(by_raddr.pid, 0u);
  s.sport = 9090;  // another local port: the same raddr group
  EXPECT_EQ(make_group_key(spec_of("raddr"), s), by_raddr);
  EXPECT_NE(make_group_key(spec_of("raddr,lport"), s),
            make_group_key(spec_of("raddr,lport"), KeySource{AF_INET, &a, &b, 8080, 5432, kNs, 42, "java", 0}));
  const GroupKey p = make_group_key(spec_of("process"), s);
  EXPECT_EQ(p.pid, 42u);
  EXPECT_STREQ(p.comm.data(), "java");
  EXPECT_EQ(GroupKeyHash()(p), GroupKeyHash()(make_group_key(spec_of("process"), s)));
}

TEST(SparseHistogram, QuantilesAsTheFullHistogram) {
  SparseHistogram sparse;
  LifetimeHistogram full;
  for (uint64_t ns : {1 * kMs, 2 * kMs, 3 * kMs, 1 * kSec, 1 * kSec, 60 * kSec, 60 * kSec, 60 * kSec}) {
    sparse.record(ns);
    full.record(ns);
  }
  EXPECT_EQ(sparse.count(), full.count());
  EXPECT_EQ(sparse.max(), full.max());
  EXPECT_EQ(sparse.min(), full.min());
  for (double q : {0.1, 0.5, 0.9, 0.99, 1.0}) EXPECT_EQ(sparse.quantile(q), full.quantile(q)) << q;
  const auto a = sparse.log2_buckets(), b = full.log2_buckets();
  ASSERT_EQ(a.size(), b.size());
  for (size_t i = 0; i < a.size(); ++i) EXPECT_EQ(a[i].count, b[i].count) << i;
  SparseHistogram merged;
  merged.merge(sparse);
  merged.merge(sparse);
  EXPECT_EQ(merged.count(), 16u);
  EXPECT_EQ(merged.quantile(0.5), sparse.quantile(0.5));
}

TEST(CountGroups, CountsEachSocketOnceByItsHolderWithListenersApart) {
  GroupOptions o;
  o.spec = spec_of("process");
  FakeProcesses procs;
  procs.add(100, "nginx");
  procs.add(200, "curl");
  std::vector<SocketRecord> dump = {sock(TCPFSM_LISTEN, 0, 80, 10),         sock(TCPFSM_ESTABLISHED, 1, 80, 11),
                                    sock(TCPFSM_ESTABLISHED, 2, 80, 12),    sock(TCPFSM_CLOSE_WAIT, 3, 80, 13),
                                    sock(TCPFSM_ESTABLISHED, 4, 50000, 20), sock(TCPFSM_TIME_WAIT, 5, 80, 0, true),
                                    sock(TCPFSM_SYN_RECV, 6, 80, 0)};
  dump[0].rqueue = 3;
  dump[0].wqueue = 128;
  const std::unordered_map<uint32_t, uint32_t> holders = {{10, 100}, {11, 100}, {12, 100}, {13, 100}, {20, 200}};
  IdentityTable ids;
  const GroupGauges g = count_groups(o, dump, holders, procs, ids, PodDirectory(), {});
  std::map<uint32_t, StateCounts> by_pid;
  for (const auto& [k, c] : g.counts) by_pid[k.pid] = c;
  ASSERT_EQ(by_pid.size(), 3u);  // nginx, curl, and no process (the TIME_WAIT)
  EXPECT_EQ(by_pid[100][TCPFSM_ESTABLISHED], 2u);
  EXPECT_EQ(by_pid[100][TCPFSM_CLOSE_WAIT], 1u);
  EXPECT_EQ(by_pid[100][TCPFSM_SYN_RECV], 1u) << "not yet accepted: the listener's";
  EXPECT_EQ(by_pid[200][TCPFSM_ESTABLISHED], 1u);
  EXPECT_EQ(by_pid[0][TCPFSM_TIME_WAIT], 1u);
  ASSERT_EQ(g.listeners.size(), 1u);
  EXPECT_EQ(g.listeners[0].pid, 100u);
  EXPECT_EQ(g.listeners[0].comm, "nginx");
  EXPECT_EQ(g.listeners[0].accept_queue, 3u);
  EXPECT_EQ(g.listeners[0].backlog, 128u);
}

TEST(CountGroups, MaxGroupsFoldsTheRestAndCountsIt) {
  GroupOptions o;
  o.spec = spec_of("raddr");
  o.max_groups = 2;
  FakeProcesses procs;
  IdentityTable ids;
  std::vector<SocketRecord> dump;
  for (uint8_t p = 1; p <= 5; ++p) dump.push_back(sock(TCPFSM_ESTABLISHED, p, 80, p));
  const GroupGauges g = count_groups(o, dump, {}, procs, ids, PodDirectory(), {});
  EXPECT_EQ(g.counts.size(), 2u);
  EXPECT_EQ(g.folded[TCPFSM_ESTABLISHED], 3u);
}

TEST(CountGroups, SocketsNoProcessHoldsBelongToThePodOfTheirNetns) {
  GroupOptions o;
  o.spec = spec_of("pod");
  FakeProcesses procs;
  const std::string uid = "0b1e2a3c-4d5e-4f60-8a9b-0c1d2e3f4a5b";
  procs.add(300, "cart",
            "/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod0b1e2a3c_4d5e_4f60_8a9b_0c1d2e3f4a5b.slice/"
            "cri-containerd-" +
                std::string(64, 'a') + ".scope");
  IdentityTable ids;
  GroupSpec spec = o.spec;
  const uint32_t pod = ids.intern(identity_of(spec, procs.procs[300], PodDirectory()));
  ASSERT_NE(pod, 0u);
  EXPECT_EQ(ids.get(pod).pod_uid, uid);
  std::vector<SocketRecord> dump = {sock(TCPFSM_ESTABLISHED, 1, 8080, 31), sock(TCPFSM_TIME_WAIT, 2, 8080, 0, true)};
  const GroupGauges g = count_groups(o, dump, {{31, 300}}, procs, ids, PodDirectory(), {{kNs, pod}});
  ASSERT_EQ(g.counts.size(), 1u) << "the TIME_WAIT is the pod's, by its netns";
  const auto& c = g.counts.begin()->second;
  EXPECT_EQ(c[TCPFSM_ESTABLISHED], 1u);
  EXPECT_EQ(c[TCPFSM_TIME_WAIT], 1u);
}

Event state_event(uint64_t cookie, uint8_t peer, uint8_t from, uint8_t to, uint64_t ts, std::optional<uint64_t> prev) {
  Event e;
  e.kind = EventKind::State;
  e.family = AF_INET;
  e.cookie = cookie;
  e.netns = kNs;
  e.saddr = {127, 0, 0, 1};
  e.daddr = {10, 0, 0, peer};
  e.sport = 80;
  e.dport = 40000;
  e.oldstate = from;
  e.newstate = to;
  e.ts_ns = ts;
  e.prev_ns = prev;
  return e;
}

Event tw_event(EventKind kind, uint64_t cookie, uint8_t peer, uint64_t ts) {
  Event e = state_event(cookie, peer, 0, TCPFSM_TIME_WAIT, ts, std::nullopt);
  e.kind = kind;
  e.oldstate = 0;
  return e;
}

TEST(GroupEvents, EntriesAndLifetimesPerPeerThroughStateTable) {
  GroupEvents ge(spec_of("raddr"), 100, nullptr);
  StateTable t;
  t.set_groups(&ge);
  // Peer 1: two sockets 1 s in CLOSE_WAIT; peer 2: one 3 s.
  uint64_t cookie = 1;
  for (auto [peer, hold] : {std::pair{1, 1 * kSec}, std::pair{1, 1 * kSec}, std::pair{2, 3 * kSec}}) {
    const auto p = static_cast<uint8_t>(peer);
    t.apply(state_event(cookie, p, TCPFSM_ESTABLISHED, TCPFSM_CLOSE_WAIT, 10 * kSec, 5 * kSec));
    t.apply(state_event(cookie, p, TCPFSM_CLOSE_WAIT, TCPFSM_LAST_ACK, 10 * kSec + hold, hold));
    t.apply(state_event(cookie, p, TCPFSM_LAST_ACK, TCPFSM_CLOSE, 10 * kSec + hold + kMs, kMs));
    ++cookie;
  }
  // Peer 2's TIME_WAIT: the timewait socket inherits the group of the socket it replaces.
  t.apply(state_event(50, 2, TCPFSM_ESTABLISHED, TCPFSM_FIN_WAIT1, 20 * kSec, kSec));
  t.apply(tw_event(EventKind::TwStart, 50, 2, 21 * kSec));
  t.apply(state_event(50, 2, TCPFSM_FIN_WAIT2, TCPFSM_CLOSE, 21 * kSec, kMs));
  t.apply(tw_event(EventKind::TwExpire, 50, 2, 81 * kSec));
  ASSERT_EQ(ge.size(), 2u);
  GroupKey k1, k2;
  k1.family = k2.family = AF_INET;
  k1.raddr = {10, 0, 0, 1};
  k2.raddr = {10, 0, 0, 2};
  const auto* g1 = ge.find(k1);
  const auto* g2 = ge.find(k2);
  ASSERT_TRUE(g1 && g2);
  EXPECT_EQ(g1->entered[TCPFSM_CLOSE_WAIT], 2u);
  EXPECT_EQ(g1->lifetimes[TCPFSM_CLOSE_WAIT].count(), 2u);
  EXPECT_EQ(g1->lifetimes[TCPFSM_CLOSE_WAIT].max(), 1 * kSec);
  EXPECT_EQ(g2->lifetimes[TCPFSM_CLOSE_WAIT].max(), 3 * kSec);
  EXPECT_EQ(g2->entered[TCPFSM_TIME_WAIT], 1u);
  EXPECT_EQ(g2->lifetimes[TCPFSM_TIME_WAIT].max(), 60 * kSec);
  EXPECT_EQ(g1->lifetimes[TCPFSM_TIME_WAIT].count(), 0u);
}

TEST(GroupEvents, GroupsPastTheBoundGoToGroupZeroAndAreCounted) {
  GroupEvents ge(spec_of("raddr"), 2, nullptr);
  StateTable t;
  t.set_groups(&ge);
  for (uint8_t p = 1; p <= 4; ++p) t.apply(state_event(p, p, TCPFSM_CLOSE, TCPFSM_SYN_SENT, kSec, std::nullopt));
  EXPECT_EQ(ge.size(), 2u);
  EXPECT_EQ(ge.folded(), 2u);
  EXPECT_EQ(ge.overflow().entered[TCPFSM_SYN_SENT], 2u);
}

// Which peer resets us: each group's closes by (from state, cause), in
// the report's rows and (others), and in its text and JSON.
TEST(GroupEvents, ClosesPerPeerByStateAndCause) {
  GroupEvents ge(spec_of("raddr"), 100, nullptr);
  StateTable t;
  t.set_groups(&ge);
  uint64_t cookie = 1;
  auto close = [&](uint8_t peer, uint8_t from, uint8_t cause, int times) {
    for (int i = 0; i < times; ++i, ++cookie) {
      t.apply(state_event(cookie, peer, TCPFSM_SYN_RECV, from, kSec, kMs));
      Event e = state_event(cookie, peer, from, TCPFSM_CLOSE, 2 * kSec, kSec);
      e.cause = cause;
      t.apply(e);
    }
  };
  close(1, TCPFSM_ESTABLISHED, TCPFSM_CAUSE_RST_RECEIVED, 3);
  close(1, TCPFSM_LAST_ACK, TCPFSM_CAUSE_FIN, 1);
  close(1, TCPFSM_ESTABLISHED, TCPFSM_CAUSE_RST_ABORT_ON_CLOSE, 1);
  close(1, TCPFSM_CLOSE_WAIT, TCPFSM_CAUSE_RST_RECEIVED, 2);
  close(2, TCPFSM_LAST_ACK, TCPFSM_CAUSE_FIN, 4);
  GroupKey k1;
  k1.family = AF_INET;
  k1.raddr = {10, 0, 0, 1};
  const auto* g1 = ge.find(k1);
  ASSERT_TRUE(g1);
  EXPECT_EQ(g1->closes.total(), 7u);
  EXPECT_EQ(g1->closes.by_cause(),
            (std::vector<std::pair<uint8_t, uint64_t>>{
                {TCPFSM_CAUSE_RST_RECEIVED, 5}, {TCPFSM_CAUSE_FIN, 1}, {TCPFSM_CAUSE_RST_ABORT_ON_CLOSE, 1}}));

  GroupOptions o;
  o.spec = spec_of("raddr");
  o.top = 1;
  o.sort_state = TCPFSM_ESTABLISHED;  // rows from the records: both peers left ESTABLISHED
  const GroupReport r = build_group_report(o, nullptr, &ge, IdentityTable());
  ASSERT_EQ(r.rows.size(), 1u);
  EXPECT_EQ(r.rows[0].closes.total() + r.others.closes.total(), 11u);
  GroupsView v;
  const std::string text = v.text(r, 1, 0);
  EXPECT_THAT(text, HasSubstr("CLOSED BY"));
  EXPECT_THAT(text, HasSubstr("rst_received 5, fin 1 (+1)"));
  const nlohmann::json j = v.json(r, 1);
  EXPECT_EQ(j.at("groups")[0].at("closes"),
            nlohmann::json::parse(R"({"ESTABLISHED": {"rst_received": 3, "rst_sent:abort_on_close": 1},
                                      "CLOSE_WAIT": {"rst_received": 2}, "LAST_ACK": {"fin": 1}})"));
  EXPECT_EQ(j.at("others").at("closes"), nlohmann::json::parse(R"({"LAST_ACK": {"fin": 4}})"));
}

// Where connects went and how: per destination, attempts, successes with
// their time in SYN_SENT, failures by cause and the SYNs retransmitted (on
// the record out of SYN_SENT, either way), in the report, its text and JSON.
TEST(GroupEvents, ConnectsPerDestination) {
  GroupEvents ge(spec_of("raddr"), 100, nullptr);
  StateTable t;
  t.set_groups(&ge);
  uint64_t cookie = 1;
  auto connect = [&](uint8_t peer, uint8_t to, uint64_t spent, uint32_t syn_retrans, uint8_t cause = 0) {
    t.apply(state_event(cookie, peer, TCPFSM_CLOSE, TCPFSM_SYN_SENT, kSec, std::nullopt));
    Event e = state_event(cookie, peer, TCPFSM_SYN_SENT, to, kSec + spent, spent);
    e.cause = cause;
    e.totals.retransmits = syn_retrans;
    t.apply(e);
    ++cookie;
  };
  connect(1, TCPFSM_ESTABLISHED, 100'000, 0);
  connect(1, TCPFSM_ESTABLISHED, 200'000, 0);
  connect(1, TCPFSM_ESTABLISHED, 1'100'000'000, 1);  // its first SYN lost
  connect(2, TCPFSM_CLOSE, 50'000, 0, TCPFSM_CAUSE_REFUSED);
  connect(3, TCPFSM_CLOSE, 3 * kSec, 2, TCPFSM_CAUSE_SYN_TIMEOUT);
  connect(3, TCPFSM_CLOSE, 3 * kSec, 2, TCPFSM_CAUSE_SYN_TIMEOUT);
  connect(3, TCPFSM_CLOSE, 10'000, 0, TCPFSM_CAUSE_CONNECT_ABORTED);
  // Not a connect: a listener's child.
  t.apply(state_event(cookie, 4, TCPFSM_SYN_RECV, TCPFSM_ESTABLISHED, kSec, kMs));

  GroupOptions o;
  o.spec = spec_of("raddr");
  o.top = 2;
  const GroupReport r = build_group_report(o, nullptr, &ge, IdentityTable());
  ASSERT_EQ(r.connects.size(), 2u);  // the two with most attempts; the third in (others)
  const ConnectRow& dead = r.connects[0];
  EXPECT_EQ(dead.key.raddr[3], 3);  // 3 attempts, 3 failures
  EXPECT_EQ(dead.attempted, 3u);
  EXPECT_EQ(dead.connects.established, 0u);
  EXPECT_EQ(dead.failures(), 3u);
  EXPECT_EQ(dead.connects.syn_retransmits, 4u);
  EXPECT_EQ(dead.connects.latency.count(), 0u);
  const ConnectRow& up = r.connects[1];
  EXPECT_EQ(up.key.raddr[3], 1);
  EXPECT_EQ(up.attempted, 3u);
  EXPECT_EQ(up.connects.established, 3u);
  EXPECT_EQ(up.failures(), 0u);
  EXPECT_EQ(up.connects.syn_retransmits, 1u);
  EXPECT_EQ(up.connects.latency.count(), 3u);
  EXPECT_EQ(up.connects.latency.max(), 1'100'000'000u);
  EXPECT_EQ(r.connect_other_groups, 1u);
  EXPECT_EQ(r.connect_others.attempted, 1u);
  EXPECT_EQ(r.connect_others.failed.by_cause(), (std::vector<std::pair<uint8_t, uint64_t>>{{TCPFSM_CAUSE_REFUSED, 1}}));

  GroupsView v;
  const std::string text = v.text(r, 1, 0);
  EXPECT_THAT(text, HasSubstr("connects by raddr: 3 groups connected out"));
  EXPECT_THAT(text, HasSubstr("ATTEMPTED ESTABLISHED  FAILED SYN_RETRANS"));
  EXPECT_THAT(text, HasSubstr("syn_timeout 2, connect_aborted 1"));
  EXPECT_THAT(text, HasSubstr("refused 1"));
  const nlohmann::json j = v.json(r, 1);
  const auto& c = j.at("group_connects");
  ASSERT_EQ(c.size(), 2u);
  EXPECT_EQ(c[0].at("key").at("raddr"), "10.0.0.3");
  EXPECT_EQ(c[0].at("failed"), nlohmann::json::parse(R"({"syn_timeout": 2, "connect_aborted": 1})"));
  EXPECT_EQ(c[0].at("syn_retransmits"), 4);
  EXPECT_EQ(c[1].at("established"), 3);
  EXPECT_EQ(c[1].at("latency").at("count"), 3);
  EXPECT_EQ(c[1].at("latency").at("max_ns"), 1'100'000'000u);
  EXPECT_EQ(j.at("group_connects_others").at("groups"), 1);
  EXPECT_EQ(j.at("group_connects_others").at("failed").at("refused"), 1);
}

GroupGauges gauges_by_peer(std::initializer_list<std::pair<uint8_t, uint64_t>> established) {
  GroupGauges g;
  for (auto [peer, n] : established) {
    GroupKey k;
    k.family = AF_INET;
    k.raddr = {10, 0, 0, peer};
    g.counts[k][TCPFSM_ESTABLISHED] = n;
    g.counts[k][TCPFSM_TIME_WAIT] = peer;
  }
  return g;
}

TEST(GroupReport, TopRowsWorstFirstAndOthersAddUp) {
  GroupOptions o;
  o.spec = spec_of("raddr");
  o.top = 2;
  const GroupGauges g = gauges_by_peer({{1, 5}, {2, 50}, {3, 7}, {4, 1}});
  const GroupReport r = build_group_report(o, &g, nullptr, IdentityTable());
  ASSERT_EQ(r.rows.size(), 2u);
  EXPECT_EQ(r.rows[0].key.raddr[3], 2);  // 52 sockets
  EXPECT_EQ(r.rows[1].key.raddr[3], 3);  // 10
  EXPECT_EQ(r.other_groups, 2u);
  EXPECT_EQ(r.others.states[TCPFSM_ESTABLISHED], 6u);
  EXPECT_EQ(r.others.states[TCPFSM_TIME_WAIT], 5u);
  EXPECT_EQ(r.others.total, 11u);
  uint64_t all = r.others.total;
  for (const auto& row : r.rows) all += row.total;
  EXPECT_EQ(all, 5u + 50 + 7 + 1 + 1 + 2 + 3 + 4);

  o.sort_state = TCPFSM_TIME_WAIT;
  const GroupReport by_tw = build_group_report(o, &g, nullptr, IdentityTable());
  EXPECT_EQ(by_tw.rows[0].key.raddr[3], 4);
  EXPECT_EQ(by_tw.rows[1].key.raddr[3], 3);

  o.states = 1U << TCPFSM_TIME_WAIT;  // --state TIME_WAIT
  const GroupReport only_tw = build_group_report(o, &g, nullptr, IdentityTable());
  EXPECT_EQ(only_tw.rows[0].total, 4u);
  EXPECT_EQ(only_tw.rows[0].states[TCPFSM_ESTABLISHED], 0u);
}

TEST(GroupsView, TextAndJsonNameTheKeysAndTheOthers) {
  GroupOptions o;
  o.spec = spec_of("raddr");
  o.top = 1;
  const GroupGauges g = gauges_by_peer({{1, 5}, {2, 50}});
  const GroupReport r = build_group_report(o, &g, nullptr, IdentityTable());
  GroupsView v;
  const std::string text = v.text(r, 1, 0);
  EXPECT_THAT(text, HasSubstr("RADDR"));
  EXPECT_THAT(text, HasSubstr("10.0.0.2 "));
  EXPECT_THAT(text, HasSubstr("(others)"));
  const nlohmann::json j = v.json(r, 1);
  EXPECT_EQ(j.at("by"), nlohmann::json::array({"raddr"}));
  EXPECT_EQ(j.at("groups")[0].at("key").at("raddr"), "10.0.0.2");
  EXPECT_EQ(j.at("groups")[0].at("states").at("ESTABLISHED"), 50);
  EXPECT_EQ(j.at("groups")[0].at("total"), 52);
  EXPECT_EQ(j.at("others").at("groups"), 1);
  EXPECT_EQ(j.at("others").at("total"), 6);
}

TEST(GroupsView, KeyPartsAsTextAndJson) {
  GroupKey k;
  k.family = AF_INET6;
  k.raddr[15] = 1;
  k.rport = 443;
  k.pid = 42;
  std::memcpy(k.comm.data(), "java", 4);
  Identity id;
  id.pod_uid = "u";
  id.pod_namespace = "shop";
  id.pod_name = "cart-7d9f";
  id.container_id = std::string(64, 'b');
  id.container_name = "cart";
  EXPECT_EQ(key_part_text(GroupBy::Peer, k, id), "[::1]:443");
  EXPECT_EQ(key_part_text(GroupBy::Process, k, id), "42 java");
  EXPECT_EQ(key_part_text(GroupBy::Pod, k, id), "shop/cart-7d9f");
  EXPECT_EQ(key_part_text(GroupBy::Container, k, id), "bbbbbbbbbbbb (cart)");
  EXPECT_EQ(key_part_json(GroupBy::Process, k, id), (nlohmann::json{{"pid", 42}, {"comm", "java"}}));
  EXPECT_EQ(key_part_json(GroupBy::Pod, k, id),
            (nlohmann::json{{"namespace", "shop"}, {"name", "cart-7d9f"}, {"uid", "u"}}));
  EXPECT_EQ(key_part_json(GroupBy::Rport, k, id), 443);
}

// The bars are the histogram's buckets: one line per bucket from the first
// used to the last, each count as recorded.
TEST(Hist, BarsAreTheBucketsOfTheSameEvents) {
  LifetimeHistogram h;
  for (int i = 0; i < 40; ++i) h.record(60 * kSec);  // expired
  for (int i = 0; i < 10; ++i) h.record(2 * kMs);    // killed early
  const std::string text = log2_hist_text("TIME_WAIT lifetimes", h.log2_buckets());
  EXPECT_THAT(text, HasSubstr("TIME_WAIT lifetimes"));
  uint64_t in_bars = 0;
  int lines_with_bars = 0;
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line)) {
    const size_t colon = line.find(" : ");
    if (colon == std::string::npos || line.find('|') == std::string::npos) continue;
    ++lines_with_bars;
    in_bars += std::stoull(line.substr(colon + 3));
  }
  EXPECT_EQ(in_bars, 50u);
  EXPECT_THAT(text, HasSubstr("|****************************************|"));  // the peak is full width
  size_t used = 0, first = SIZE_MAX, last = 0;
  const auto b = h.log2_buckets();
  for (size_t i = 0; i < b.size(); ++i) {
    if (!b[i].count) continue;
    ++used;
    first = std::min(first, i);
    last = i;
  }
  EXPECT_EQ(used, 2u);
  EXPECT_EQ(lines_with_bars, static_cast<int>(last - first + 1));
}

TEST(Pods, UidFromEitherCgroupDriverAndNamesFromLogDirectories) {
  const std::string uid = "0b1e2a3c-4d5e-4f60-8a9b-0c1d2e3f4a5b";
  EXPECT_EQ(pod_uid_of("/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod0b1e2a3c_4d5e_4f60_8a9b_"
                       "0c1d2e3f4a5b.slice/cri-containerd-abc.scope"),
            uid);
  EXPECT_EQ(pod_uid_of("/kubepods.slice/kubepods-pod0b1e2a3c_4d5e_4f60_8a9b_0c1d2e3f4a5b.slice/x"), uid);
  EXPECT_EQ(pod_uid_of("/kubepods/besteffort/pod" + uid + "/" + std::string(64, 'a')), uid);
  EXPECT_EQ(pod_uid_of("/kubepods/pod" + uid + "/c"), uid);
  EXPECT_EQ(pod_uid_of("/system.slice/pod" + uid + ".service"), "") << "not under kubepods";
  EXPECT_EQ(pod_uid_of("/kubepods/podnot-a-uid/c"), "");

  const auto p = parse_pod_log_dir("shop_cart-7d9f_" + uid);
  ASSERT_TRUE(p);
  EXPECT_EQ(p->namespace_, "shop");
  EXPECT_EQ(p->name, "cart-7d9f");
  EXPECT_EQ(p->uid, uid);
  EXPECT_FALSE(parse_pod_log_dir("shop_cart_not-a-uid"));
  EXPECT_FALSE(parse_pod_log_dir("a_b_c_" + uid));
  const auto c = parse_container_log_name("cart-7d9f_shop_server-" + std::string(64, 'f') + ".log");
  ASSERT_TRUE(c);
  EXPECT_EQ(c->container, "server");
  EXPECT_EQ(c->id, std::string(64, 'f'));
  EXPECT_FALSE(parse_container_log_name("x_y_z.log"));

  const auto root = std::filesystem::temp_directory_path() / ("tcpfsm-pods-" + std::to_string(getpid()));
  std::filesystem::create_directories(root / "var/log/pods" / ("shop_cart-7d9f_" + uid) / "server");
  std::filesystem::create_directories(root / "var/log/containers");
  std::ofstream(root / "var/log/containers" / ("cart-7d9f_shop_server-" + std::string(64, 'f') + ".log"));
  const PodDirectory d = PodDirectory::load(root.string());
  ASSERT_NE(d.pod(uid), nullptr);
  EXPECT_EQ(d.pod(uid)->name, "cart-7d9f");
  EXPECT_EQ(d.container_name(std::string(64, 'f')), "server");
  EXPECT_EQ(PodDirectory::load("/does/not/exist").pods(), 0u);
  std::filesystem::remove_all(root);
}

}  // namespace
}  // namespace tcpfsm
