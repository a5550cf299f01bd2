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

}  // namespace
}  // namespace tcpfsm
