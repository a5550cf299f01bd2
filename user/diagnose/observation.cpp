// summarize_observation: the socket dump and the counted connects, reduced to what the rules read.
#include <sys/socket.h>

#include <algorithm>
#include <cstring>
#include <tuple>
#include <utility>

#include "diagnose/doctor.hpp"
#include "model/event.hpp"

namespace tcpfsm {
namespace {

// A listener as the dump gave it, before o.listeners is sorted: its index
// there, and the address it is bound to (ListenerStat keeps only the text).
struct BoundListener {
  uint8_t family = 0;
  std::array<uint8_t, 16> addr{};
  uint16_t port = 0;
  size_t index = 0;
};

// Listeners by (netns, port): many containers listening on the same port
// are different listeners, and only the namespace tells them apart.
using ListenersByPort = std::map<std::pair<uint32_t, uint16_t>, std::vector<BoundListener>>;

size_t addr_len(uint8_t family) { return family == AF_INET6 ? 16 : 4; }

bool same_addr(uint8_t family, const std::array<uint8_t, 16>& a, const std::array<uint8_t, 16>& b) {
  return std::memcmp(a.data(), b.data(), addr_len(family)) == 0;
}

bool is_wildcard(uint8_t family, const std::array<uint8_t, 16>& a) {
  return std::all_of(a.begin(), a.begin() + static_cast<std::ptrdiff_t>(addr_len(family)),
                     [](uint8_t b) { return b == 0; });
}

// sock_diag does not say which listener a request socket waits on, so this
// takes the one the kernel's lookup would have handed the SYN to: bound to
// the socket's local address, else a wildcard of its family, else, for
// IPv4, an IPv6 wildcard (dual-stack unless IPV6_V6ONLY, which the dump
// does not show). Among SO_REUSEPORT siblings it cannot tell; the first wins.
const BoundListener* listener_of(const SocketRecord& r, const ListenersByPort& listeners) {
  auto it = listeners.find({r.netns, r.sport});
  if (it == listeners.end()) return nullptr;
  const BoundListener* wildcard = nullptr;
  const BoundListener* v6_wildcard = nullptr;
  for (const auto& l : it->second) {
    if (l.family == r.family && same_addr(r.family, l.addr, r.saddr)) return &l;
    if (l.family == r.family && !wildcard && is_wildcard(l.family, l.addr)) wildcard = &l;
    if (l.family == AF_INET6 && r.family == AF_INET && !v6_wildcard && is_wildcard(AF_INET6, l.addr)) v6_wildcard = &l;
  }
  return wildcard ? wildcard : v6_wildcard;
}

ListenersByPort listeners_by_port(const std::vector<SocketRecord>& dump) {
  ListenersByPort by_port;
  size_t index = 0;
  for (const auto& r : dump) {
    if (r.state != TCPFSM_LISTEN || r.timewait) continue;
    by_port[{r.netns, r.sport}].push_back(BoundListener{r.family, r.saddr, r.sport, index++});
  }
  return by_port;
}

// One idle group while it is being filled: peers and holders by key.
struct IdleTally {
  IdleGroup group;
  std::map<std::pair<std::string, uint16_t>, uint64_t> peers;
  std::map<uint32_t, uint64_t> holders;  // pid -> idle sockets it holds
};

IdleGroup finish(IdleTally& t) {
  IdleGroup g = std::move(t.group);
  for (const auto& [pid, n] : t.holders)
    if (pid && (g.pid == 0 || n > t.holders[g.pid])) g.pid = pid;
  g.holders = static_cast<uint64_t>(
      std::count_if(t.holders.begin(), t.holders.end(), [](const auto& h) { return h.first != 0; }));
  g.distinct_peers = t.peers.size();
  for (const auto& [k, n] : t.peers) g.peers.push_back(PeerCount{k.first, k.second, n});
  std::stable_sort(g.peers.begin(), g.peers.end(), [](const auto& a, const auto& b) { return a.count > b.count; });
  if (g.peers.size() > 5) g.peers.resize(5);
  return g;
}

}  // namespace

std::vector<IdleGroup> idle_groups(const std::vector<SocketRecord>& dump, const InodeHolders& holders,
                                   uint64_t idle_ms) {
  const ListenersByPort by_port = listeners_by_port(dump);
  // A service: (netns, listener index); a client: (netns, pid), pid 0 when no holder is known.
  std::map<std::tuple<bool, uint32_t, uint64_t>, IdleTally> tallies;
  for (const auto& r : dump) {
    if (r.state != TCPFSM_ESTABLISHED || r.timewait || !r.data) continue;
    uint32_t pid = 0;
    if (auto it = holders.find(r.inode); r.inode && it != holders.end() && !it->second.empty()) pid = it->second[0];
    const BoundListener* l = listener_of(r, by_port);
    IdleTally& t = tallies[{l != nullptr, r.netns, l ? l->index : pid}];
    IdleGroup& g = t.group;
    if (g.established == 0) {
      g.service = l != nullptr;
      g.netns = r.netns;
      if (l) {
        g.service_addr = format_addr(l->family, l->addr);
        g.service_port = l->port;
      }
    }
    ++g.established;
    const uint64_t idle = r.data->idle_ms();
    if (idle < idle_ms) continue;
    g.min_idle_ms = g.idle == 0 ? idle : std::min(g.min_idle_ms, idle);
    g.max_idle_ms = std::max(g.max_idle_ms, idle);
    ++g.idle;
    if (r.timer == kDiagTimerSk) ++g.keepalive;
    ++t.holders[pid];
    if (l)
      ++t.peers[{format_addr(r.family, r.daddr), 0}];
    else
      ++t.peers[{format_addr(r.family, r.daddr), r.dport}];
  }
  std::vector<IdleGroup> out;
  for (auto& [k, t] : tallies)
    if (t.group.idle > 0) out.push_back(finish(t));
  std::stable_sort(out.begin(), out.end(), [](const auto& a, const auto& b) { return a.idle > b.idle; });
  return out;
}

Observation summarize_observation(const std::vector<SocketRecord>& dump, const std::map<ConnectKey, uint64_t>& connects,
                                  double seconds, LeakReport leaks, uint64_t leak_min_age_ns,
                                  const std::map<ConnectKey, uint64_t>& no_local_port) {
  Observation o;
  o.seconds = seconds;
  o.leaks = std::move(leaks);
  o.leak_min_age_ns = leak_min_age_ns;
  // Every listener first: a TIME_WAIT on a listening port is the server
  // side, and a request socket may come before its listener in the dump.
  const ListenersByPort by_port = listeners_by_port(dump);
  for (const auto& r : dump) {
    if (r.state != TCPFSM_LISTEN || r.timewait) continue;
    ListenerStat l;
    l.addr = format_addr(r.family, r.saddr);
    l.port = r.sport;
    l.accept_queue = r.rqueue;
    l.backlog = r.wqueue;
    o.listeners.push_back(l);
  }
  std::map<ConnectKey, DestinationStat> dests;
  for (const auto& [k, n] : connects) {
    auto& d = dests[k];
    d.addr = format_addr(k.family, k.daddr);
    d.port = k.dport;
    d.connects = n;
  }
  for (const auto& [k, n] : no_local_port) {
    auto& d = dests[k];
    d.addr = format_addr(k.family, k.daddr);
    d.port = k.dport;
    d.no_local_port = n;
  }
  for (const auto& r : dump) {
    if (r.state < TCPFSM_STATE_MAX) ++o.states[r.state];
    if (r.state == TCPFSM_ESTABLISHED && r.timer == kDiagTimerSk) ++o.keepalive;
    if (r.timewait && r.state == TCPFSM_TIME_WAIT) {
      if (by_port.count({r.netns, r.sport})) {
        ++o.time_wait_server;
        ++o.time_wait_server_ports[r.sport];
      } else {
        ++o.time_wait_client;
        ConnectKey k{r.family, r.daddr, r.dport};
        auto& d = dests[k];
        d.addr = format_addr(r.family, r.daddr);
        d.port = r.dport;
        ++d.time_wait;
      }
    } else if (r.state == TCPFSM_FIN_WAIT2 && (r.timewait || r.inode == 0)) {
      ++o.orphan_fin_wait2;
    } else if (r.state == TCPFSM_SYN_RECV) {
      if (const BoundListener* l = listener_of(r, by_port)) ++o.listeners[l->index].syn_recv;
    }
  }
  std::map<std::tuple<uint8_t, uint8_t, std::array<uint8_t, 16>>, ClosingStall> closing;
  for (const auto& r : dump) {
    if (r.timewait || r.request || !is_closing_state(r.state)) continue;
    ClosingStall& c = closing[{r.state, r.family, r.daddr}];
    c.state = r.state;
    c.peer = format_addr(r.family, r.daddr);
    ++c.sockets;
    if (r.inode == 0) ++c.orphaned;
    c.no_ack.add(r);
    if (r.has_last_ack_recv) c.since_last_ack_ms = std::max<uint64_t>(c.since_last_ack_ms, r.last_ack_recv_ms);
  }
  for (auto& [k, c] : closing)
    if (c.no_ack.stalled() > 0) o.closing.push_back(std::move(c));
  std::stable_sort(o.closing.begin(), o.closing.end(),
                   [](const auto& a, const auto& b) { return a.no_ack.stalled() > b.no_ack.stalled(); });
  for (auto& [k, d] : dests) o.destinations.push_back(d);
  std::stable_sort(o.destinations.begin(), o.destinations.end(), [](const auto& a, const auto& b) {
    if ((a.no_local_port > 0) != (b.no_local_port > 0)) return a.no_local_port > 0;  // failing now: first
    return std::max(a.connects, a.time_wait) > std::max(b.connects, b.time_wait);
  });
  // Every destination is kept (one entry per distinct peer of the dump, which
  // is already in memory): the rules report only those over their thresholds,
  // and port_pressure sums the failures over all of them.
  std::stable_sort(o.listeners.begin(), o.listeners.end(), [](const auto& a, const auto& b) {
    return a.accept_queue + a.syn_recv > b.accept_queue + b.syn_recv;
  });
  return o;
}

void keep_connect_destinations(Observation& o, std::vector<DestinationConnects> destinations) {
  o.connect_destinations_folded = 0;
  if (destinations.size() > kConnectDestinationsKept) {  // most failures first
    o.connect_destinations_folded =
        static_cast<uint64_t>(std::count_if(destinations.begin() + kConnectDestinationsKept, destinations.end(),
                                            [](const DestinationConnects& d) { return d.outcomes.failed() > 0; }));
    destinations.resize(kConnectDestinationsKept);
  }
  o.connect_destinations = std::move(destinations);
}

}  // namespace tcpfsm
