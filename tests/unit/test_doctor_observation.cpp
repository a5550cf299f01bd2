// summarize_observation's crediting of handshakes in SYN_RECV to listeners:
// the namespace, the port and the address decide, as in the kernel's lookup.
// Only the API summarize_observation always had is used here.
#include <gtest/gtest.h>
#include <sys/socket.h>

#include "diagnose/doctor.hpp"

namespace tcpfsm {
namespace {

constexpr uint32_t kHostNs = 4026531840U;
constexpr uint32_t kContainerNs = 4026532500U;

using Addr = std::array<uint8_t, 16>;
const Addr kAny{};
const Addr kV6Loopback{0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1};

SocketRecord sock(uint8_t state, uint8_t family, uint32_t netns, const Addr& local, uint16_t port) {
  SocketRecord r;
  r.family = family;
  r.state = state;
  r.netns = netns;
  r.saddr = local;
  r.sport = port;
  return r;
}

// `backlog` tells listeners with the same address apart once they are sorted.
SocketRecord listener(uint8_t family, uint32_t netns, const Addr& addr, uint16_t port, uint32_t backlog) {
  SocketRecord r = sock(TCPFSM_LISTEN, family, netns, addr, port);
  r.wqueue = backlog;
  r.inode = 1;
  return r;
}

void add_syn_recv(std::vector<SocketRecord>& dump, int n, uint8_t family, uint32_t netns, const Addr& local,
                  uint16_t port) {
  for (int i = 0; i < n; ++i) {
    SocketRecord r = sock(TCPFSM_SYN_RECV, family, netns, local, port);
    r.request = true;
    r.daddr = {192, 168, 0, static_cast<uint8_t>(i)};
    r.dport = static_cast<uint16_t>(40000 + i);
    dump.push_back(r);
  }
}

// -1 when no listener has this address and backlog.
int64_t syn_recv_of(const Observation& o, const std::string& addr, uint32_t backlog) {
  for (const auto& l : o.listeners) {
    if (l.addr == addr && l.backlog == backlog) return static_cast<int64_t>(l.syn_recv);
  }
  return -1;
}

Observation summarize(const std::vector<SocketRecord>& dump) { return summarize_observation(dump, {}, 10, {}, 0); }

// Containers all listening on 8080: the handshakes in one namespace belong
// to its listener, not to the first 8080 in the dump.
TEST(DoctorListeners, SynRecvIsCreditedInItsOwnNamespace) {
  std::vector<SocketRecord> dump;
  dump.push_back(listener(AF_INET, kHostNs, kAny, 8080, 128));
  dump.push_back(listener(AF_INET, kContainerNs, kAny, 8080, 4096));
  add_syn_recv(dump, 3, AF_INET, kContainerNs, {172, 17, 0, 3}, 8080);
  Observation o = summarize(dump);
  ASSERT_EQ(o.listeners.size(), 2u);
  EXPECT_EQ(syn_recv_of(o, "0.0.0.0", 4096), 3);
  EXPECT_EQ(syn_recv_of(o, "0.0.0.0", 128), 0);
  EXPECT_EQ(o.states[TCPFSM_SYN_RECV], 3u);
}

TEST(DoctorListeners, SynRecvGoesToTheListenerOnItsAddress) {
  std::vector<SocketRecord> dump;
  dump.push_back(listener(AF_INET, kHostNs, {10, 0, 0, 1}, 8080, 128));
  dump.push_back(listener(AF_INET, kHostNs, {10, 0, 0, 2}, 8080, 128));
  add_syn_recv(dump, 2, AF_INET, kHostNs, {10, 0, 0, 2}, 8080);
  add_syn_recv(dump, 1, AF_INET, kHostNs, {10, 0, 0, 1}, 8080);
  Observation o = summarize(dump);
  EXPECT_EQ(syn_recv_of(o, "10.0.0.2", 128), 2);
  EXPECT_EQ(syn_recv_of(o, "10.0.0.1", 128), 1);
}

TEST(DoctorListeners, AListenerOnTheAddressComesBeforeAWildcard) {
  std::vector<SocketRecord> dump;
  dump.push_back(listener(AF_INET, kHostNs, kAny, 8080, 128));
  dump.push_back(listener(AF_INET, kHostNs, {127, 0, 0, 1}, 8080, 128));
  add_syn_recv(dump, 2, AF_INET, kHostNs, {127, 0, 0, 1}, 8080);
  add_syn_recv(dump, 1, AF_INET, kHostNs, {10, 0, 0, 1}, 8080);  // no listener on 10.0.0.1: the wildcard's
  Observation o = summarize(dump);
  EXPECT_EQ(syn_recv_of(o, "127.0.0.1", 128), 2);
  EXPECT_EQ(syn_recv_of(o, "0.0.0.0", 128), 1);
}

// An IPv6 wildcard takes IPv4 too (unless IPV6_V6ONLY), but an IPv4
// listener on the port comes first.
TEST(DoctorListeners, AnIpv6WildcardTakesIpv4OnlyWhenNoIpv4ListenerDoes) {
  std::vector<SocketRecord> dual;
  dual.push_back(listener(AF_INET6, kHostNs, kAny, 8080, 128));
  add_syn_recv(dual, 2, AF_INET, kHostNs, {10, 0, 0, 1}, 8080);
  EXPECT_EQ(syn_recv_of(summarize(dual), "::", 128), 2);

  std::vector<SocketRecord> both;
  both.push_back(listener(AF_INET6, kHostNs, kAny, 8080, 128));
  both.push_back(listener(AF_INET, kHostNs, kAny, 8080, 128));
  add_syn_recv(both, 2, AF_INET, kHostNs, {10, 0, 0, 1}, 8080);
  add_syn_recv(both, 1, AF_INET6, kHostNs, kV6Loopback, 8080);
  Observation o = summarize(both);
  EXPECT_EQ(syn_recv_of(o, "0.0.0.0", 128), 2);
  EXPECT_EQ(syn_recv_of(o, "::", 128), 1);
}

// Not credited at all: no listener in its namespace, on its port, for its
// family (IPv4 listeners take no IPv6), or on its address.
TEST(DoctorListeners, SynRecvWithoutItsListenerIsCreditedToNone) {
  std::vector<SocketRecord> dump;
  dump.push_back(listener(AF_INET, kHostNs, kAny, 8080, 128));
  dump.push_back(listener(AF_INET, kHostNs, {10, 0, 0, 1}, 9090, 128));
  add_syn_recv(dump, 1, AF_INET, kContainerNs, {10, 0, 0, 1}, 8080);
  add_syn_recv(dump, 1, AF_INET, kHostNs, {10, 0, 0, 1}, 8081);
  add_syn_recv(dump, 1, AF_INET6, kHostNs, kV6Loopback, 8080);
  add_syn_recv(dump, 1, AF_INET, kHostNs, {10, 0, 0, 2}, 9090);
  Observation o = summarize(dump);
  EXPECT_EQ(syn_recv_of(o, "0.0.0.0", 128), 0);
  EXPECT_EQ(syn_recv_of(o, "10.0.0.1", 128), 0);
  EXPECT_EQ(o.states[TCPFSM_SYN_RECV], 4u);  // still counted as sockets
}

TEST(DoctorListeners, SynRecvBeforeItsListenerInTheDumpStillCounts) {
  std::vector<SocketRecord> dump;
  add_syn_recv(dump, 2, AF_INET, kContainerNs, {172, 17, 0, 3}, 8080);
  dump.push_back(listener(AF_INET, kContainerNs, kAny, 8080, 4096));
  EXPECT_EQ(syn_recv_of(summarize(dump), "0.0.0.0", 4096), 2);
}

// The server side of TIME_WAIT is decided per namespace as well.
TEST(DoctorListeners, TimeWaitIsServerSideOnlyWhereThePortListens) {
  std::vector<SocketRecord> dump;
  dump.push_back(listener(AF_INET, kContainerNs, kAny, 8080, 128));
  for (uint32_t ns : {kContainerNs, kHostNs}) {
    SocketRecord t = sock(TCPFSM_TIME_WAIT, AF_INET, ns, {10, 0, 0, 1}, 8080);
    t.timewait = true;
    t.daddr = {10, 0, 0, 9};
    t.dport = 40000;
    dump.push_back(t);
  }
  Observation o = summarize(dump);
  EXPECT_EQ(o.time_wait_server, 1u);
  EXPECT_EQ(o.time_wait_client, 1u);
}

// ---- idle ESTABLISHED, per service and client

SocketRecord established(uint32_t netns, const Addr& local, uint16_t lport, const Addr& peer, uint16_t pport,
                         uint32_t inode, uint32_t idle_ms) {
  SocketRecord r = sock(TCPFSM_ESTABLISHED, AF_INET, netns, local, lport);
  r.daddr = peer;
  r.dport = pport;
  r.inode = inode;
  r.data = DataTimes{idle_ms + 5, idle_ms};  // the shorter one decides
  return r;
}

TEST(DoctorIdle, ServiceSideByListenerClientSideByProcess) {
  const Addr lo{127, 0, 0, 1};
  const Addr db{10, 0, 0, 7};
  std::vector<SocketRecord> dump = {listener(AF_INET, kHostNs, kAny, 8080, 128)};
  // The service on 8080: 3 idle (held by pid 10, one of them with keepalive on, one by pid 11) and 1 busy.
  dump.push_back(established(kHostNs, lo, 8080, {10, 0, 0, 5}, 40001, 101, 5000));
  dump.push_back(established(kHostNs, lo, 8080, {10, 0, 0, 5}, 40002, 102, 9000));
  dump.back().timer = kDiagTimerSk;
  dump.push_back(established(kHostNs, lo, 8080, {10, 0, 0, 6}, 40003, 103, 3000));
  dump.push_back(established(kHostNs, lo, 8080, {10, 0, 0, 6}, 40004, 104, 10));
  // The same port in a container is another service.
  dump.push_back(listener(AF_INET, kContainerNs, kAny, 8080, 128));
  dump.push_back(established(kContainerNs, lo, 8080, {10, 0, 0, 9}, 40005, 105, 4000));
  // A client pool (pid 20) to a database, and one socket nobody is seen holding.
  dump.push_back(established(kHostNs, lo, 51000, db, 5432, 201, 7000));
  dump.push_back(established(kHostNs, lo, 51001, db, 5432, 202, 8000));
  dump.push_back(established(kHostNs, lo, 51002, db, 5432, 203, 8000));
  // No tcp_info: not judged.
  SocketRecord blind = established(kHostNs, lo, 51003, db, 5432, 204, 0);
  blind.data.reset();
  dump.push_back(blind);
  const InodeHolders holders = {{101, {10}}, {102, {10}}, {103, {11}}, {104, {10}},
                                {105, {30}}, {201, {20}}, {202, {20}}};
  const auto groups = idle_groups(dump, holders, 2000);
  ASSERT_EQ(groups.size(), 4u);
  const IdleGroup& svc = groups[0];
  EXPECT_TRUE(svc.service);
  EXPECT_EQ(svc.service_addr, "0.0.0.0");
  EXPECT_EQ(svc.service_port, 8080);
  EXPECT_EQ(svc.netns, kHostNs);
  EXPECT_EQ(svc.established, 4u);
  EXPECT_EQ(svc.idle, 3u);
  EXPECT_EQ(svc.keepalive, 1u);
  EXPECT_EQ(svc.min_idle_ms, 3000u);
  EXPECT_EQ(svc.max_idle_ms, 9000u);
  EXPECT_EQ(svc.pid, 10u);
  EXPECT_EQ(svc.holders, 2u);
  ASSERT_EQ(svc.peers.size(), 2u);
  EXPECT_EQ(svc.peers[0].addr, "10.0.0.5");
  EXPECT_EQ(svc.peers[0].port, 0);  // a service's clients by address: their ports are ephemeral
  EXPECT_EQ(svc.peers[0].count, 2u);
  const IdleGroup& pool = groups[1];
  EXPECT_FALSE(pool.service);
  EXPECT_EQ(pool.pid, 20u);
  EXPECT_EQ(pool.idle, 2u);
  ASSERT_EQ(pool.peers.size(), 1u);
  EXPECT_EQ(pool.peers[0].addr, "10.0.0.7");
  EXPECT_EQ(pool.peers[0].port, 5432);
  // One idle each: the container's service and the socket with no holder known.
  EXPECT_EQ(groups[2].idle + groups[3].idle, 2u);
  for (const auto& g : {groups[2], groups[3]}) {
    if (g.service) {
      EXPECT_EQ(g.netns, kContainerNs);
      EXPECT_EQ(g.pid, 30u);
    } else {
      EXPECT_EQ(g.pid, 0u);
      EXPECT_EQ(g.holders, 0u);
    }
  }
  // Nothing idle that long: no group.
  EXPECT_TRUE(idle_groups(dump, holders, 60'000).empty());
}

}  // namespace
}  // namespace tcpfsm
