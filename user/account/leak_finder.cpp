// LeakFinder::analyze: date each stuck socket, find who holds it, and group
// them by state and holder, worst first.
#include "account/leak_finder.hpp"

#include <sys/socket.h>

#include <algorithm>
#include <fstream>
#include <map>
#include <optional>
#include <set>
#include <thread>
#include <tuple>

#include "base/cgroup.hpp"
#include "collect/netns.hpp"
#include "model/event.hpp"
#include "model/tcp_state.hpp"

namespace tcpfsm {
namespace {

constexpr uint64_t kMinuteNs = 60'000'000'000ULL;

size_t state_rank(uint8_t state) {
  auto it = std::find(kStuckStates.begin(), kStuckStates.end(), state);
  return static_cast<size_t>(it - kStuckStates.begin());
}

// Entered on a segment from the peer, so every later one only makes the
// last ACK newer: the time since it is at most the time in the state.
bool dated_by_last_ack(uint8_t state) {
  return state == TCPFSM_CLOSE_WAIT || state == TCPFSM_FIN_WAIT2 || state == TCPFSM_CLOSING;
}

// The time a retransmission timer has run through `n` timeouts in a row at
// least: `linear` of `first_ns` each, then doubling, none past `max_ns`.
uint64_t backoff_ns(uint32_t n, uint64_t first_ns, uint32_t linear, uint64_t max_ns) {
  uint64_t total = 0, rto = first_ns;
  for (uint32_t i = 0; i < n; ++i) {
    total += std::min(rto, max_ns);
    if (i + 1 >= linear) rto = std::min(rto * 2, max_ns);
  }
  return total;
}

// What the kernel keeps of how long a socket found already in its state has
// been there, as a lower bound; 0 when it keeps nothing that says.
//  - SYN_SENT, SYN_RECV: the state began with the first SYN (SYN-ACK); each
//    timeout lasts TCP_TIMEOUT_INIT, 1 s, the first tcp_syn_linear_timeouts
//    of a SYN's, then doubles. In a namespace whose settings are not known,
//    every timeout counts 1 s.
//  - FIN_WAIT1, LAST_ACK with only the FIN outstanding (Send-Q 1): the FIN
//    was sent on entering the state, and each timeout since doubled from at
//    least tcp_rto_min. With data before it, the head segment may be older
//    than the state: nothing is said.
//  - an orphaned FIN_WAIT2 (a timewait socket): its timer was set to
//    tcp_fin_timeout (60 s at most) on entering; what has run of it.
uint64_t kernel_age_bound_ns(const SocketRecord& r, const LeakOptions& o) {
  constexpr uint64_t kMs = 1'000'000;
  const bool known = o.timers_netns && r.netns == o.timers_netns;
  if (r.timewait) {
    if (r.state != TCPFSM_FIN_WAIT2 || !known || !o.fin_timeout_ms) return 0;
    const uint64_t timeout = std::min<uint64_t>(o.fin_timeout_ms, 60'000);
    return r.expires_ms <= timeout ? (timeout - r.expires_ms) * kMs : 0;
  }
  if (r.timer != kDiagTimerRetransmit || r.retrans == 0) return 0;
  switch (r.state) {
    case TCPFSM_SYN_SENT:
      return known ? backoff_ns(r.retrans, 1000 * kMs, o.syn_linear_timeouts + 1, o.rto_max_ns)
                   : uint64_t{r.retrans} * 1000 * kMs;
    case TCPFSM_SYN_RECV:
      return known ? backoff_ns(r.retrans, 1000 * kMs, 0, o.rto_max_ns) : uint64_t{r.retrans} * 1000 * kMs;
    case TCPFSM_FIN_WAIT1:
    case TCPFSM_LAST_ACK:
      return known && r.wqueue <= 1 ? backoff_ns(r.retrans, o.rto_min_ns, 0, o.rto_max_ns) : 0;
    default:
      return 0;
  }
}

bool is_any(const std::array<uint8_t, 16>& a) {
  return std::all_of(a.begin(), a.end(), [](uint8_t b) { return b == 0; });
}

uint64_t listener_key(const SocketRecord& r) { return uint64_t{r.netns} << 16 | r.sport; }

using PeerKey = std::tuple<uint8_t, std::array<uint8_t, 16>, uint16_t>;

template <typename K>
std::vector<std::pair<K, uint64_t>> most_first(const std::map<K, uint64_t>& counts) {
  std::vector<std::pair<K, uint64_t>> v(counts.begin(), counts.end());
  std::stable_sort(v.begin(), v.end(), [](const auto& x, const auto& y) { return x.second > y.second; });
  return v;
}

}  // namespace

struct LeakFinder::Item {
  const SocketRecord* rec;
  uint64_t age_ns;
  AgeSource source;
  uint32_t inode;  // whose holders hold it; 0: none
  bool via_listener;
};

struct LeakFinder::Acc {
  std::vector<uint64_t> ages;
  bool exact = true;
  uint64_t growth = 0;
  uint64_t recv_q = 0;
  NoAckTally no_ack;
  std::map<PeerKey, uint64_t> peers;
  std::map<uint16_t, uint64_t> ports;
  std::set<uint32_t> netns;
};

// Whose unaccepted sockets these are.
LeakFinder::Listeners LeakFinder::listeners_of(const std::vector<SocketRecord>& dump) {
  Listeners out;
  for (const auto& r : dump) {
    if (r.state == TCPFSM_LISTEN && !r.timewait) out[listener_key(r)].push_back(&r);
  }
  return out;
}

std::string stuck_states_text() {
  std::string out;
  for (size_t i = 0; i < kStuckStates.size(); ++i) {
    if (i) out += i + 1 == kStuckStates.size() ? " or " : ", ";
    out += state_name(kStuckStates[i]);
  }
  return out;
}

bool is_stuck_state(uint8_t state) {
  return std::find(kStuckStates.begin(), kStuckStates.end(), state) != kStuckStates.end();
}

uint32_t leak_dump_states() {
  uint32_t mask = (1U << TCPFSM_LISTEN) | (1U << TCPFSM_TIME_WAIT) | (1U << TCPFSM_NEW_SYN_RECV);
  for (uint8_t s : kStuckStates) mask |= 1U << s;
  return mask;
}

namespace {

// The calling thread's namespace's settings (net sysctls are the reader's namespace's).
void read_timers(LeakOptions& o, uint32_t ns) {
  auto read = [](const char* name) -> std::optional<int64_t> {
    std::ifstream f(std::string("/proc/sys/net/ipv4/") + name);
    int64_t v = 0;
    if (!(f >> v) || v < 0) return std::nullopt;
    return v;
  };
  const auto fin = read("tcp_fin_timeout");
  if (!fin) return;
  o.timers_netns = ns;
  o.fin_timeout_ms = static_cast<uint64_t>(*fin) * 1000;
  o.syn_linear_timeouts = static_cast<uint32_t>(std::min<int64_t>(read("tcp_syn_linear_timeouts").value_or(0), 255));
  o.rto_min_ns = static_cast<uint64_t>(read("tcp_rto_min_us").value_or(200'000)) * 1000;
  o.rto_max_ns = static_cast<uint64_t>(read("tcp_rto_max_ms").value_or(120'000)) * 1'000'000;
}

}  // namespace

void know_timers(LeakOptions& o, uint32_t netns) {
  auto own = own_netns();
  if (!own) return;
  if (!netns || netns == *own) return read_timers(o, *own);
  NamespacePaths found = find_namespaces(netns, *own);
  std::thread([&] {
    int err = 0;
    if (enter_namespace(netns, found.paths[netns], err) == Entered::Yes) read_timers(o, netns);
  }).join();
}

Status set_holder_filters(LeakOptions& o, const FilterSpec& f) {
  o.pid = f.pid;
  o.comm = f.comm;
  if (f.cgroup_path.empty()) return Ok{};
  auto rel = cgroup_relative(f.cgroup_path);
  if (!rel) return rel.error();
  o.cgroup_under = rel.value();
  return Ok{};
}

OwnerLookup::Holders ProcOwnerLookup::holders(const std::vector<uint32_t>& inodes) {
  auto r = resolver_.resolve(inodes, budget_);
  Holders h;
  h.pids = std::move(r.holders);
  h.complete = r.complete;
  if (r.error) {
    h.error = "cannot read " + proc_root_ + " to find the processes holding sockets: " + errno_text(r.error) +
              "; holders are shown as unknown";
  }
  return h;
}

LeakFinder::Item LeakFinder::date(const SocketRecord& r, uint64_t now_ns,
                                  std::unordered_map<uint64_t, Seen>& seen) const {
  Item it{&r, 0, AgeSource::Traced, 0, false};
  if (r.state_since_ns && now_ns >= r.state_since_ns) {
    it.age_ns = now_ns - r.state_since_ns;
    return it;
  }
  uint64_t first = now_ns;
  if (r.cookie) {
    auto prev = first_seen_.find(r.cookie);
    if (prev != first_seen_.end() && prev->second.state == r.state) first = prev->second.first_ns;
    seen[r.cookie] = Seen{r.state, first};
  }
  it.age_ns = now_ns >= first ? now_ns - first : 0;
  it.source = AgeSource::FirstSeen;
  const uint64_t since_ack = uint64_t{r.last_ack_recv_ms} * 1'000'000;
  if (r.has_last_ack_recv && dated_by_last_ack(r.state) && since_ack > it.age_ns) {
    it.age_ns = since_ack;
    it.source = AgeSource::LastReceived;
  }
  if (const uint64_t bound = kernel_age_bound_ns(r, opts_); bound > it.age_ns) {
    it.age_ns = bound;
    it.source = AgeSource::Timer;
  }
  return it;
}

// Who holds it: its own descriptor, the listener it waits in (not yet
// accepted), or nobody (orphaned: closed, the kernel finishes it).
void LeakFinder::attribute(Item& it, const Listeners& listeners) {
  const SocketRecord& r = *it.rec;
  if (!r.timewait && r.inode) {
    it.inode = r.inode;
    return;
  }
  if (r.timewait || (r.state != TCPFSM_SYN_RECV && r.state != TCPFSM_CLOSE_WAIT)) return;
  auto l = listeners.find(listener_key(r));
  if (l == listeners.end()) return;
  for (const SocketRecord* lr : l->second) {
    if (lr->inode && (is_any(lr->saddr) || (lr->family == r.family && lr->saddr == r.saddr))) {
      it.inode = lr->inode;
      it.via_listener = true;
      return;
    }
  }
}

LeakGroup LeakFinder::group_of(uint8_t state, HolderKind kind, bool via_listener, std::optional<ProcessInfo> process,
                               Acc& a) const {
  LeakGroup g;
  g.state = state;
  g.kind = kind;
  g.via_listener = via_listener;
  g.process = std::move(process);
  std::sort(a.ages.begin(), a.ages.end());
  g.count = a.ages.size();
  g.newest_ns = a.ages.front();
  g.oldest_ns = a.ages.back();
  g.median_ns = a.ages[a.ages.size() / 2];
  g.ages_exact = a.exact;
  g.growth_per_min = a.growth;
  g.recv_q_bytes = a.recv_q;
  g.no_ack = a.no_ack;
  const auto peers = most_first(a.peers);
  g.distinct_peers = peers.size();
  for (size_t i = 0; i < peers.size() && i < opts_.top_peers; ++i) {
    const auto& [fam, addr, port] = peers[i].first;
    g.peers.push_back({format_addr(fam, addr), port, peers[i].second});
  }
  const auto ports = most_first(a.ports);
  g.distinct_local_ports = ports.size();
  for (size_t i = 0; i < ports.size() && i < opts_.top_ports; ++i)
    g.local_ports.push_back({ports[i].first, ports[i].second});
  g.netns.assign(a.netns.begin(), a.netns.end());
  return g;
}

bool LeakFinder::selected(const LeakGroup& g) const {
  if (!opts_.pid && opts_.comm.empty() && opts_.cgroup_under.empty()) return true;
  if (!g.process) return false;
  if (opts_.pid && g.process->pid != opts_.pid) return false;
  if (!opts_.comm.empty() && g.process->comm != opts_.comm) return false;
  return opts_.cgroup_under.empty() || cgroup_within(g.process->cgroup, opts_.cgroup_under);
}

LeakReport LeakFinder::analyze(const std::vector<SocketRecord>& dump, uint64_t now_ns, OwnerLookup& owners) {
  LeakReport report;
  const Listeners listeners = listeners_of(dump);
  std::vector<Item> items;
  std::unordered_map<uint64_t, Seen> seen;
  for (const auto& r : dump) {
    if (!is_stuck_state(r.state)) continue;
    ++report.stuck;
    Item it = date(r, now_ns, seen);
    if (it.age_ns < opts_.min_age_ns) {
      if (it.source == AgeSource::FirstSeen) ++report.undated;
      continue;
    }
    attribute(it, listeners);
    items.push_back(it);
  }
  first_seen_ = std::move(seen);

  std::vector<uint32_t> inodes;
  for (const auto& it : items) {
    if (it.inode) inodes.push_back(it.inode);
  }
  std::sort(inodes.begin(), inodes.end());
  inodes.erase(std::unique(inodes.begin(), inodes.end()), inodes.end());
  OwnerLookup::Holders holders;
  if (!inodes.empty()) holders = owners.holders(inodes);
  report.owners_complete = holders.complete;
  report.owner_error = holders.error;

  for (auto& [key, a] : accumulate(items, holders)) {
    const auto kind = static_cast<HolderKind>(std::get<1>(key));
    std::optional<ProcessInfo> process;
    if (kind == HolderKind::Process) {
      process = owners.process(std::get<2>(key));
      if (!process) continue;  // exited since the scan: its sockets go with it
    }
    LeakGroup g = group_of(kStuckStates[std::get<0>(key)], kind, std::get<3>(key), std::move(process), a);
    if (selected(g)) report.groups.push_back(std::move(g));
  }
  std::stable_sort(report.groups.begin(), report.groups.end(), [](const LeakGroup& x, const LeakGroup& y) {
    const size_t rx = state_rank(x.state), ry = state_rank(y.state);
    if (rx != ry) return rx < ry;
    return x.count > y.count;
  });
  return report;
}

std::map<LeakFinder::GroupKey, LeakFinder::Acc> LeakFinder::accumulate(const std::vector<Item>& items,
                                                                       const OwnerLookup::Holders& holders) const {
  std::map<GroupKey, Acc> groups;
  auto add = [&](const GroupKey& key, const Item& it) {
    Acc& a = groups[key];
    const SocketRecord& r = *it.rec;
    a.ages.push_back(it.age_ns);
    if (it.source != AgeSource::Traced) a.exact = false;
    if (it.source != AgeSource::FirstSeen && it.age_ns < opts_.min_age_ns + kMinuteNs) ++a.growth;
    // The peer's FIN takes one sequence number, which Recv-Q counts.
    const bool fin_in = r.state == TCPFSM_CLOSE_WAIT || r.state == TCPFSM_LAST_ACK || r.state == TCPFSM_CLOSING;
    a.recv_q += fin_in && r.rqueue ? r.rqueue - 1 : r.rqueue;
    if (is_closing_state(r.state)) a.no_ack.add(r);
    ++a.peers[{r.family, r.daddr, r.dport}];
    ++a.ports[r.sport];
    a.netns.insert(r.netns);
  };
  for (const auto& it : items) {
    const size_t rank = state_rank(it.rec->state);
    if (!it.inode) {
      add({rank, static_cast<int>(HolderKind::Orphaned), 0, false}, it);
      continue;
    }
    auto h = holders.pids.find(it.inode);
    if (h == holders.pids.end() || h->second.empty()) {
      add({rank, static_cast<int>(HolderKind::Unknown), 0, it.via_listener}, it);
      continue;
    }
    for (uint32_t pid : h->second) add({rank, static_cast<int>(HolderKind::Process), pid, it.via_listener}, it);
  }
  return groups;
}

}  // namespace tcpfsm
