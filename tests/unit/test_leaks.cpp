// LeakFinder and the leaks views: grouping by holder, dating, attribution to
// listeners, holder filters, and what the report says about owners.
// Over 400 lines: one test per rule of grouping, dating and attribution,
// sharing the fake owner lookup.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <map>
#include <set>

#include "account/leak_finder.hpp"
#include "base/cgroup.hpp"
#include "views/leaks_view.hpp"

namespace tcpfsm {
namespace {

constexpr uint64_t kSec = 1'000'000'000ULL;
constexpr uint64_t kNow = 10'000 * kSec;

class FakeOwners : public OwnerLookup {
 public:
  Holders holders(const std::vector<uint32_t>& inodes) override {
    ++calls;
    asked = inodes;
    Holders h;
    h.complete = complete;
    for (uint32_t i : inodes) {
      auto it = by_inode.find(i);
      if (it != by_inode.end()) h.pids[i] = it->second;
    }
    return h;
  }
  std::optional<ProcessInfo> process(uint32_t pid) override {
    auto it = procs.find(pid);
    if (it == procs.end()) return std::nullopt;
    return it->second;
  }
  void add_process(uint32_t pid, std::string comm, std::string cgroup = "/user.slice") {
    ProcessInfo p;
    p.pid = pid;
    p.comm = std::move(comm);
    p.cmdline = "/usr/bin/" + p.comm + " --serve";
    p.user = "app";
    p.uid = 1000;
    p.cgroup = std::move(cgroup);
    procs[pid] = p;
  }
  std::map<uint32_t, std::vector<uint32_t>> by_inode;
  std::map<uint32_t, ProcessInfo> procs;
  bool complete = true;
  int calls = 0;
  std::vector<uint32_t> asked;
};

SocketRecord sock(uint8_t state, uint64_t cookie, uint32_t inode, uint64_t age_ns, uint16_t sport = 40000,
                  uint8_t peer_last = 9, uint16_t dport = 5432) {
  SocketRecord r;
  r.family = AF_INET;
  r.state = state;
  r.cookie = cookie;
  r.inode = inode;
  r.netns = 4026531840U;
  r.saddr = {127, 0, 0, 1};
  r.daddr = {10, 0, 0, peer_last};
  r.sport = sport;
  r.dport = dport;
  r.state_since_ns = age_ns == UINT64_MAX ? 0 : kNow - age_ns;
  return r;
}

SocketRecord listener(uint16_t port, uint32_t inode) {
  SocketRecord r;
  r.family = AF_INET;
  r.state = TCPFSM_LISTEN;
  r.cookie = 99999;
  r.inode = inode;
  r.netns = 4026531840U;
  r.sport = port;
  return r;
}

LeakOptions opts10() {
  LeakOptions o;
  o.min_age_ns = 10 * kSec;
  return o;
}

TEST(Leaks, GroupsCloseWaitByHolderWithAgesPeersAndPorts) {
  FakeOwners owners;
  owners.add_process(100, "leaker");
  std::vector<SocketRecord> dump;
  for (uint32_t i = 0; i < 5; ++i) {
    dump.push_back(
        sock(TCPFSM_CLOSE_WAIT, 1 + i, 500 + i, (20 + 10 * i) * kSec, static_cast<uint16_t>(40000 + i), i < 3 ? 9 : 8));
    owners.by_inode[500 + i] = {100};
  }
  dump[0].rqueue = 1;    // just the FIN
  dump[1].rqueue = 101;  // the FIN and 100 bytes never read
  LeakFinder f(opts10());
  auto r = f.analyze(dump, kNow, owners);
  ASSERT_EQ(r.groups.size(), 1u);
  const auto& g = r.groups[0];
  EXPECT_EQ(g.recv_q_bytes, 100u);
  EXPECT_EQ(g.state, TCPFSM_CLOSE_WAIT);
  EXPECT_EQ(g.kind, HolderKind::Process);
  ASSERT_TRUE(g.process);
  EXPECT_EQ(g.process->pid, 100u);
  EXPECT_EQ(g.count, 5u);
  EXPECT_EQ(g.oldest_ns, 60 * kSec);
  EXPECT_EQ(g.newest_ns, 20 * kSec);
  EXPECT_EQ(g.median_ns, 40 * kSec);
  EXPECT_TRUE(g.ages_exact);
  // Crossed 10 s within the last minute: ages 20..60 s are all < 70 s.
  EXPECT_EQ(g.growth_per_min, 5u);
  ASSERT_EQ(g.peers.size(), 2u);
  EXPECT_EQ(g.peers[0].addr, "10.0.0.9");
  EXPECT_EQ(g.peers[0].port, 5432);
  EXPECT_EQ(g.peers[0].count, 3u);
  EXPECT_EQ(g.peers[1].addr, "10.0.0.8");
  EXPECT_EQ(g.peers[1].count, 2u);
  EXPECT_EQ(g.distinct_local_ports, 5u);
  EXPECT_EQ(g.local_ports.size(), 5u);
  EXPECT_EQ(r.stuck, 5u);

  auto j = leaks_json(r);
  ASSERT_EQ(j.size(), 1u);
  EXPECT_EQ(j[0]["pid"], 100);
  EXPECT_EQ(j[0]["comm"], "leaker");
  EXPECT_EQ(j[0]["cmdline"], "/usr/bin/leaker --serve");
  EXPECT_EQ(j[0]["cgroup"], "/user.slice");
  EXPECT_EQ(j[0]["state"], "CLOSE_WAIT");
  EXPECT_EQ(j[0]["count"], 5);
  EXPECT_DOUBLE_EQ(j[0]["oldest_s"].get<double>(), 60.0);
  EXPECT_EQ(j[0]["peers"][0]["addr"], "10.0.0.9");
  EXPECT_EQ(j[0]["peers"][0]["port"], 5432);
  EXPECT_EQ(j[0]["peers"][0]["count"], 3);
  EXPECT_EQ(j[0]["owner"], "process");
}

TEST(Leaks, YoungSocketsAreIgnoredAndNeverLookedUp) {
  FakeOwners owners;
  owners.add_process(100, "fast");
  owners.by_inode[500] = {100};
  LeakFinder f(opts10());
  auto r = f.analyze({sock(TCPFSM_CLOSE_WAIT, 1, 500, 9 * kSec)}, kNow, owners);
  EXPECT_TRUE(r.groups.empty());
  EXPECT_EQ(owners.calls, 0);  // lazy: nothing past min-age, no /proc scan
  EXPECT_EQ(r.stuck, 1u);
  EXPECT_NE(leaks_text(r, opts10()).find("No socket has been in CLOSE_WAIT"), std::string::npos);
}

TEST(Leaks, OnlyStuckStatesCount) {
  FakeOwners owners;
  owners.add_process(100, "p");
  for (uint32_t i = 0; i < 20; ++i) owners.by_inode[i] = {100};
  std::vector<SocketRecord> dump = {
      sock(TCPFSM_ESTABLISHED, 1, 1, 100 * kSec), sock(TCPFSM_FIN_WAIT1, 2, 2, 100 * kSec),
      sock(TCPFSM_TIME_WAIT, 3, 0, 100 * kSec),   sock(TCPFSM_LISTEN, 4, 4, 100 * kSec),
      sock(TCPFSM_FIN_WAIT2, 5, 5, 100 * kSec),   sock(TCPFSM_LAST_ACK, 6, 6, 100 * kSec),
      sock(TCPFSM_CLOSING, 7, 7, 100 * kSec),     sock(TCPFSM_SYN_SENT, 8, 8, 100 * kSec),
      sock(TCPFSM_CLOSE_WAIT, 9, 9, 100 * kSec)};
  LeakFinder f(opts10());
  auto r = f.analyze(dump, kNow, owners);
  std::vector<uint8_t> states;
  for (const auto& g : r.groups) states.push_back(g.state);
  // Report order: CLOSE_WAIT first.
  EXPECT_EQ(states, (std::vector<uint8_t>{TCPFSM_CLOSE_WAIT, TCPFSM_FIN_WAIT1, TCPFSM_FIN_WAIT2, TCPFSM_LAST_ACK,
                                          TCPFSM_CLOSING, TCPFSM_SYN_SENT}));
}

// Sockets found already stuck, dated by what the kernel keeps, as lower
// bounds: SYN timeouts doubling from 1 s, a FIN's from 200 ms (only when
// the FIN alone is outstanding), an orphaned FIN_WAIT2's timer.
TEST(Leaks, SocketsFoundStuckAreDatedByTheirTimers) {
  FakeOwners owners;
  auto found = [](uint8_t state, uint64_t cookie) { return sock(state, cookie, 0, UINT64_MAX); };
  SocketRecord syn = found(TCPFSM_SYN_SENT, 1);
  syn.timer = kDiagTimerRetransmit;
  syn.retrans = 2;  // 1 s + 2 s
  SocketRecord fin = found(TCPFSM_FIN_WAIT1, 2);
  fin.timer = kDiagTimerRetransmit;
  fin.retrans = 3;  // 0.2 + 0.4 + 0.8 s
  fin.wqueue = 1;
  SocketRecord data = fin;  // data before the FIN: its head may predate the state
  data.cookie = 3;
  data.wqueue = 5000;
  SocketRecord fw2 = found(TCPFSM_FIN_WAIT2, 4);
  fw2.timewait = true;
  fw2.expires_ms = 58'400;  // of 60 s
  SocketRecord other_ns = fw2;
  other_ns.cookie = 5;
  other_ns.netns = 4026532000U;  // whose tcp_fin_timeout is not known
  LeakOptions o = opts10();
  o.min_age_ns = kSec;
  o.timers_netns = 4026531840U;
  o.fin_timeout_ms = 60'000;
  o.syn_linear_timeouts = 0;  // doubling from the first
  o.rto_min_ns = 200'000'000;
  o.rto_max_ns = 120 * kSec;
  LeakFinder f(o);
  auto r = f.analyze({syn, fin, data, fw2, other_ns}, kNow, owners);
  std::map<uint8_t, uint64_t> age;
  for (const auto& g : r.groups) {
    EXPECT_FALSE(g.ages_exact);
    EXPECT_EQ(g.count, 1u) << int(g.state);
    age[g.state] = g.oldest_ns;
  }
  EXPECT_EQ(age[TCPFSM_SYN_SENT], 3 * kSec);
  EXPECT_EQ(age[TCPFSM_FIN_WAIT1], 1400 * kSec / 1000);
  EXPECT_EQ(age[TCPFSM_FIN_WAIT2], 1600 * kSec / 1000);
  EXPECT_EQ(r.undated, 2u);  // the FIN behind data, the other namespace's orphan

  // tcp_syn_linear_timeouts = 4 (this kernel's default): the first five SYN
  // timeouts are 1 s each. In a namespace whose settings are unknown, every
  // timeout counts 1 s: a weaker bound, never a wrong one.
  syn.retrans = 6;  // 5 x 1 s, then 2 s
  o.syn_linear_timeouts = 4;
  LeakFinder linear(o);
  SocketRecord syn_other = syn;
  syn_other.cookie = 9;
  syn_other.netns = 4026532000U;
  r = linear.analyze({syn, syn_other}, kNow, owners);
  ASSERT_EQ(r.groups.size(), 1u);
  EXPECT_EQ(r.groups[0].oldest_ns, 7 * kSec);
  EXPECT_EQ(r.groups[0].newest_ns, 6 * kSec);
}

TEST(Leaks, SharedSocketListsEveryHolder) {
  FakeOwners owners;
  owners.add_process(100, "parent");
  owners.add_process(101, "child");
  owners.by_inode[500] = {100, 101};
  LeakFinder f(opts10());
  auto r = f.analyze({sock(TCPFSM_CLOSE_WAIT, 1, 500, 30 * kSec)}, kNow, owners);
  ASSERT_EQ(r.groups.size(), 2u);
  EXPECT_EQ(r.groups[0].count, 1u);
  EXPECT_EQ(r.groups[1].count, 1u);
  std::set<uint32_t> pids = {r.groups[0].process->pid, r.groups[1].process->pid};
  EXPECT_EQ(pids, (std::set<uint32_t>{100, 101}));
}

TEST(Leaks, OrphanedSocketsAreNotPinnedOnAProcess) {
  FakeOwners owners;
  owners.add_process(100, "server");
  owners.by_inode[700] = {100};
  SocketRecord tw = sock(TCPFSM_FIN_WAIT2, 2, 0, UINT64_MAX);
  tw.timewait = true;
  std::vector<SocketRecord> dump = {listener(40000, 700), sock(TCPFSM_LAST_ACK, 1, 0, 30 * kSec), tw};
  LeakFinder f(opts10());
  f.analyze(dump, kNow - 20 * kSec, owners);  // first sight of the timewait socket
  auto r = f.analyze(dump, kNow, owners);
  ASSERT_EQ(r.groups.size(), 2u);
  for (const auto& g : r.groups) {
    EXPECT_EQ(g.kind, HolderKind::Orphaned);
    EXPECT_FALSE(g.process);
  }
  EXPECT_EQ(r.groups[0].state, TCPFSM_FIN_WAIT2);
  EXPECT_EQ(r.groups[0].oldest_ns, 20 * kSec);  // from first sight
  EXPECT_FALSE(r.groups[0].ages_exact);
  EXPECT_EQ(r.groups[0].growth_per_min, 0u);  // a first-sight age says nothing about growth
  EXPECT_EQ(r.groups[1].state, TCPFSM_LAST_ACK);
  auto j = leaks_json(r);
  EXPECT_TRUE(j[0]["pid"].is_null());
  EXPECT_EQ(j[0]["owner"], "orphaned");
  EXPECT_NE(leaks_text(r, opts10()).find("(orphaned)"), std::string::npos);
}

TEST(Leaks, UnacceptedSocketsBelongToTheListener) {
  FakeOwners owners;
  owners.add_process(200, "server");
  owners.by_inode[700] = {200};
  SocketRecord req = sock(TCPFSM_SYN_RECV, 1, 0, UINT64_MAX, 8080);
  req.request = true;
  SocketRecord queued = sock(TCPFSM_CLOSE_WAIT, 2, 0, 30 * kSec, 8080);  // peer closed before accept()
  std::vector<SocketRecord> dump = {listener(8080, 700), req, queued, sock(TCPFSM_SYN_RECV, 3, 0, 30 * kSec, 9090)};
  LeakFinder f(opts10());
  f.analyze(dump, kNow - 15 * kSec, owners);
  auto r = f.analyze(dump, kNow, owners);
  ASSERT_EQ(r.groups.size(), 3u);
  EXPECT_EQ(r.groups[0].state, TCPFSM_CLOSE_WAIT);
  EXPECT_TRUE(r.groups[0].via_listener);
  EXPECT_EQ(r.groups[0].process->pid, 200u);
  // SYN_RECV: the one on 8080 is the listener's; 9090 has no listener left.
  EXPECT_EQ(r.groups[1].state, TCPFSM_SYN_RECV);
  EXPECT_EQ(r.groups[2].state, TCPFSM_SYN_RECV);
  bool listener_seen = false, orphan_seen = false;
  for (size_t i = 1; i < 3; ++i) {
    if (r.groups[i].kind == HolderKind::Process && r.groups[i].via_listener) listener_seen = true;
    if (r.groups[i].kind == HolderKind::Orphaned) orphan_seen = true;
  }
  EXPECT_TRUE(listener_seen);
  EXPECT_TRUE(orphan_seen);
}

TEST(Leaks, NoVisibleHolderIsUnknownNotOrphaned) {
  FakeOwners owners;
  LeakFinder f(opts10());
  auto r = f.analyze({sock(TCPFSM_CLOSE_WAIT, 1, 500, 30 * kSec)}, kNow, owners);
  ASSERT_EQ(r.groups.size(), 1u);
  EXPECT_EQ(r.groups[0].kind, HolderKind::Unknown);
  EXPECT_EQ(leaks_json(r)[0]["owner"], "unknown");
}

TEST(Leaks, ExitedProcessTakesItsSocketsWithIt) {
  FakeOwners owners;
  owners.by_inode[500] = {100};  // the scan saw it; the process is gone now
  LeakFinder f(opts10());
  auto r = f.analyze({sock(TCPFSM_CLOSE_WAIT, 1, 500, 30 * kSec)}, kNow, owners);
  EXPECT_TRUE(r.groups.empty());
}

TEST(Leaks, PreexistingCloseWaitIsDatedByTheLastAck) {
  FakeOwners owners;
  owners.add_process(100, "old");
  owners.by_inode[500] = {100};
  SocketRecord r1 = sock(TCPFSM_CLOSE_WAIT, 1, 500, UINT64_MAX);
  r1.has_last_ack_recv = true;
  r1.last_ack_recv_ms = 3'600'000;
  // LAST_ACK is entered by our own FIN: its last ACK says nothing.
  SocketRecord r2 = sock(TCPFSM_LAST_ACK, 2, 501, UINT64_MAX);
  r2.has_last_ack_recv = true;
  r2.last_ack_recv_ms = 3'600'000;
  owners.by_inode[501] = {100};
  LeakFinder f(opts10());
  auto r = f.analyze({r1, r2}, kNow, owners);
  ASSERT_EQ(r.groups.size(), 1u);
  EXPECT_EQ(r.groups[0].state, TCPFSM_CLOSE_WAIT);
  EXPECT_EQ(r.groups[0].oldest_ns, 3600 * kSec);
  EXPECT_FALSE(r.groups[0].ages_exact);
  EXPECT_EQ(r.undated, 1u);
  EXPECT_NE(leaks_text(r, opts10()).find("cannot be dated yet"), std::string::npos);
}

TEST(Leaks, FirstSightResetsWhenTheStateChanges) {
  FakeOwners owners;
  owners.add_process(100, "p");
  owners.by_inode[500] = {100};
  LeakFinder f(opts10());
  f.analyze({sock(TCPFSM_SYN_SENT, 1, 500, UINT64_MAX)}, kNow - 60 * kSec, owners);
  auto r = f.analyze({sock(TCPFSM_LAST_ACK, 1, 500, UINT64_MAX)}, kNow - 5 * kSec, owners);
  EXPECT_TRUE(r.groups.empty());
  r = f.analyze({sock(TCPFSM_LAST_ACK, 1, 500, UINT64_MAX)}, kNow, owners);
  EXPECT_TRUE(r.groups.empty());  // in LAST_ACK for 5 s only
  r = f.analyze({sock(TCPFSM_LAST_ACK, 1, 500, UINT64_MAX)}, kNow + 6 * kSec, owners);
  ASSERT_EQ(r.groups.size(), 1u);
  EXPECT_EQ(r.groups[0].oldest_ns, 11 * kSec);
}

TEST(Leaks, GrowthCountsOnlyTheLastMinute) {
  FakeOwners owners;
  owners.add_process(100, "p");
  std::vector<SocketRecord> dump;
  for (uint32_t i = 0; i < 10; ++i) {
    // 4 crossed 10 s in the last minute (ages 11..41 s), 6 are hours old.
    uint64_t age = i < 4 ? (11 + 10 * i) * kSec : 7200 * kSec;
    dump.push_back(sock(TCPFSM_CLOSE_WAIT, 1 + i, 500 + i, age));
    owners.by_inode[500 + i] = {100};
  }
  LeakFinder f(opts10());
  auto r = f.analyze(dump, kNow, owners);
  ASSERT_EQ(r.groups.size(), 1u);
  EXPECT_EQ(r.groups[0].growth_per_min, 4u);
}

TEST(Leaks, SortedByCountWorstFirstWithinAState) {
  FakeOwners owners;
  owners.add_process(100, "small");
  owners.add_process(200, "big");
  std::vector<SocketRecord> dump;
  for (uint32_t i = 0; i < 6; ++i) {
    dump.push_back(sock(TCPFSM_CLOSE_WAIT, 1 + i, 500 + i, 30 * kSec));
    owners.by_inode[500 + i] = {i < 2 ? 100u : 200u};
  }
  LeakFinder f(opts10());
  auto r = f.analyze(dump, kNow, owners);
  ASSERT_EQ(r.groups.size(), 2u);
  EXPECT_EQ(r.groups[0].process->comm, "big");
  EXPECT_EQ(r.groups[0].count, 4u);
  EXPECT_EQ(r.groups[1].process->comm, "small");
  const std::string text = leaks_text(r, opts10());
  EXPECT_NE(text.find("CLOSE_WAIT: 6 sockets held for more than 10.0s, by 2 holders"), std::string::npos) << text;
  EXPECT_LT(text.find("big"), text.find("small"));
  EXPECT_NE(text.find("cmd: /usr/bin/big --serve"), std::string::npos);
}

TEST(Leaks, HolderFilters) {
  FakeOwners owners;
  owners.add_process(100, "a", "/system.slice/a.service");
  owners.add_process(200, "b", "/system.slice/ab.service");
  owners.by_inode[500] = {100};
  owners.by_inode[501] = {200};
  std::vector<SocketRecord> dump = {sock(TCPFSM_CLOSE_WAIT, 1, 500, 30 * kSec),
                                    sock(TCPFSM_CLOSE_WAIT, 2, 501, 30 * kSec), sock(TCPFSM_LAST_ACK, 3, 0, 30 * kSec)};
  auto run = [&](LeakOptions o) {
    LeakFinder f(o);
    std::vector<uint32_t> pids;
    for (const auto& g : f.analyze(dump, kNow, owners).groups) pids.push_back(g.process ? g.process->pid : 0);
    return pids;
  };
  LeakOptions o = opts10();
  EXPECT_EQ(run(o), (std::vector<uint32_t>{100, 200, 0}));
  o.pid = 200;
  EXPECT_EQ(run(o), (std::vector<uint32_t>{200}));
  o = opts10();
  o.comm = "a";
  EXPECT_EQ(run(o), (std::vector<uint32_t>{100}));
  o = opts10();
  o.cgroup_under = "/system.slice/a.service";
  EXPECT_EQ(run(o), (std::vector<uint32_t>{100}));
}

TEST(Leaks, CgroupWithin) {
  EXPECT_TRUE(cgroup_within("/a", "/a"));
  EXPECT_TRUE(cgroup_within("/a/b", "/a"));
  EXPECT_TRUE(cgroup_within("/a/b", "/a/"));
  EXPECT_FALSE(cgroup_within("/ab", "/a"));
  EXPECT_TRUE(cgroup_within("/anything", "/"));
  EXPECT_FALSE(cgroup_within("", "/a"));
}

TEST(Leaks, IncompleteOwnerScanIsSaid) {
  FakeOwners owners;
  owners.complete = false;
  LeakFinder f(opts10());
  auto r = f.analyze({sock(TCPFSM_CLOSE_WAIT, 1, 500, 30 * kSec)}, kNow, owners);
  EXPECT_FALSE(r.owners_complete);
  EXPECT_NE(leaks_text(r, opts10()).find("did not finish"), std::string::npos);
}

// Before, ProcOwnerLookup dropped Resolution::error: with /proc unreadable
// every holder was "unknown" and nothing said why.
TEST(Leaks, UnreadableProcIsSaidNotJustUnknownHolders) {
  ProcOwnerLookup owners(std::chrono::milliseconds(50), "/does/not/exist");
  const auto h = owners.holders({500});
  EXPECT_THAT(h.error, ::testing::HasSubstr("cannot read /does/not/exist"));
  EXPECT_THAT(h.error, ::testing::HasSubstr("No such file or directory"));
  LeakFinder f(opts10());
  auto r = f.analyze({sock(TCPFSM_CLOSE_WAIT, 1, 500, 30 * kSec)}, kNow, owners);
  ASSERT_EQ(r.groups.size(), 1u);
  EXPECT_EQ(r.groups[0].kind, HolderKind::Unknown);
  EXPECT_EQ(r.owner_error, h.error);
  EXPECT_THAT(leaks_text(r, opts10()), ::testing::HasSubstr("cannot read /does/not/exist to find the processes"));
}

TEST(Leaks, ReadableProcGivesNoOwnerError) {
  ProcOwnerLookup owners(std::chrono::milliseconds(50));
  EXPECT_EQ(owners.holders({1}).error, "");
}

TEST(Leaks, DumpStatesCoverStuckStatesListenersAndTimewait) {
  const uint32_t m = leak_dump_states();
  for (uint8_t s : kStuckStates) EXPECT_TRUE(m & (1U << s));
  EXPECT_TRUE(m & (1U << TCPFSM_LISTEN));
  EXPECT_TRUE(m & (1U << TCPFSM_TIME_WAIT));
  EXPECT_FALSE(m & (1U << TCPFSM_ESTABLISHED));
}

TEST(Leaks, Ipv6PeersAreBracketedInText) {
  FakeOwners owners;
  owners.add_process(100, "p");
  owners.by_inode[500] = {100};
  SocketRecord r6 = sock(TCPFSM_CLOSE_WAIT, 1, 500, 30 * kSec);
  r6.family = AF_INET6;
  r6.daddr = {};
  r6.daddr[15] = 1;
  LeakFinder f(opts10());
  auto r = f.analyze({r6}, kNow, owners);
  ASSERT_EQ(r.groups.size(), 1u);
  EXPECT_EQ(r.groups[0].peers[0].addr, "::1");
  EXPECT_NE(leaks_text(r, opts10()).find("[::1]:5432 (1)"), std::string::npos);
}

}  // namespace
}  // namespace tcpfsm
