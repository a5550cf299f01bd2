#include "tcpfsm/leaks.hpp"

#include <fmt/format.h>
#include <sys/socket.h>

#include <algorithm>
#include <iterator>
#include <map>
#include <set>
#include <tuple>

#include "tcpfsm/event.hpp"
#include "tcpfsm/stats_view.hpp"

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

struct Item {
  const SocketRecord* rec;
  uint64_t age_ns;
  AgeSource source;
  uint32_t inode;     // whose holders hold it; 0: none
  bool via_listener;
};

struct Acc {
  std::vector<uint64_t> ages;
  bool exact = true;
  uint64_t growth = 0;
  uint64_t recv_q = 0;
  std::map<std::tuple<uint8_t, std::array<uint8_t, 16>, uint16_t>, uint64_t> peers;
  std::map<uint16_t, uint64_t> ports;
  std::set<uint32_t> netns;
};

// (state rank, kind, pid, via_listener)
using GroupKey = std::tuple<size_t, int, uint32_t, bool>;

bool is_any(const std::array<uint8_t, 16>& a) {
  return std::all_of(a.begin(), a.end(), [](uint8_t b) { return b == 0; });
}

const char* kind_name(HolderKind k) {
  switch (k) {
    case HolderKind::Process: return "process";
    case HolderKind::Orphaned: return "orphaned";
    case HolderKind::Unknown: return "unknown";
  }
  return "unknown";
}

double seconds(uint64_t ns) { return static_cast<double>(ns) / 1e9; }

}  // namespace

bool is_stuck_state(uint8_t state) {
  return std::find(kStuckStates.begin(), kStuckStates.end(), state) != kStuckStates.end();
}

bool cgroup_within(std::string_view path, std::string_view under) {
  while (under.size() > 1 && under.back() == '/') under.remove_suffix(1);
  if (under.empty() || under == "/") return true;
  if (path.substr(0, under.size()) != under) return false;
  return path.size() == under.size() || path[under.size()] == '/';
}

uint32_t leak_dump_states() {
  uint32_t mask = (1U << TCPFSM_LISTEN) | (1U << TCPFSM_TIME_WAIT) | (1U << TCPFSM_NEW_SYN_RECV);
  for (uint8_t s : kStuckStates) mask |= 1U << s;
  return mask;
}

OwnerLookup::Holders ProcOwnerLookup::holders(const std::vector<uint32_t>& inodes) {
  auto r = resolver_.resolve(inodes, budget_);
  Holders h;
  h.pids = std::move(r.holders);
  h.complete = r.complete;
  return h;
}

LeakReport LeakFinder::analyze(const std::vector<SocketRecord>& dump, uint64_t now_ns, OwnerLookup& owners) {
  LeakReport report;
  // Listeners by (netns, port): whose unaccepted sockets these are.
  std::unordered_map<uint64_t, std::vector<const SocketRecord*>> listeners;
  for (const auto& r : dump) {
    if (r.state == TCPFSM_LISTEN && !r.timewait) listeners[uint64_t{r.netns} << 16 | r.sport].push_back(&r);
  }

  std::vector<Item> items;
  std::unordered_map<uint64_t, Seen> seen;
  for (const auto& r : dump) {
    if (!is_stuck_state(r.state)) continue;
    ++report.stuck;
    Item it{&r, 0, AgeSource::Traced, 0, false};
    if (r.state_since_ns && now_ns >= r.state_since_ns) {
      it.age_ns = now_ns - r.state_since_ns;
    } else {
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
    }
    if (it.age_ns < opts_.min_age_ns) {
      if (it.source == AgeSource::FirstSeen) ++report.undated;
      continue;
    }
    // Who holds it: its own descriptor, the listener it waits in (not yet
    // accepted), or nobody (orphaned: closed, the kernel finishes it).
    if (!r.timewait && r.inode) {
      it.inode = r.inode;
    } else if (!r.timewait && (r.state == TCPFSM_SYN_RECV || r.state == TCPFSM_CLOSE_WAIT)) {
      auto l = listeners.find(uint64_t{r.netns} << 16 | r.sport);
      if (l != listeners.end()) {
        for (const SocketRecord* lr : l->second) {
          if (lr->inode && (is_any(lr->saddr) || (lr->family == r.family && lr->saddr == r.saddr))) {
            it.inode = lr->inode;
            it.via_listener = true;
            break;
          }
        }
      }
    }
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

  const bool holder_filter = opts_.pid || !opts_.comm.empty() || !opts_.cgroup_under.empty();
  for (auto& [key, a] : groups) {
    LeakGroup g;
    g.state = kStuckStates[std::get<0>(key)];
    g.kind = static_cast<HolderKind>(std::get<1>(key));
    g.via_listener = std::get<3>(key);
    if (g.kind == HolderKind::Process) {
      g.process = owners.process(std::get<2>(key));
      if (!g.process) continue;  // exited since the scan: its sockets go with it
    }
    if (holder_filter) {
      if (!g.process) continue;
      if (opts_.pid && g.process->pid != opts_.pid) continue;
      if (!opts_.comm.empty() && g.process->comm != opts_.comm) continue;
      if (!opts_.cgroup_under.empty() && !cgroup_within(g.process->cgroup, opts_.cgroup_under)) continue;
    }
    std::sort(a.ages.begin(), a.ages.end());
    g.count = a.ages.size();
    g.newest_ns = a.ages.front();
    g.oldest_ns = a.ages.back();
    g.median_ns = a.ages[a.ages.size() / 2];
    g.ages_exact = a.exact;
    g.growth_per_min = a.growth;
    g.recv_q_bytes = a.recv_q;
    std::vector<std::pair<std::tuple<uint8_t, std::array<uint8_t, 16>, uint16_t>, uint64_t>> peers(a.peers.begin(),
                                                                                                      a.peers.end());
    std::stable_sort(peers.begin(), peers.end(), [](const auto& x, const auto& y) { return x.second > y.second; });
    g.distinct_peers = peers.size();
    for (size_t i = 0; i < peers.size() && i < opts_.top_peers; ++i) {
      const auto& [fam, addr, port] = peers[i].first;
      g.peers.push_back({format_addr(fam, addr), port, peers[i].second});
    }
    std::vector<std::pair<uint16_t, uint64_t>> ports(a.ports.begin(), a.ports.end());
    std::stable_sort(ports.begin(), ports.end(), [](const auto& x, const auto& y) { return x.second > y.second; });
    g.distinct_local_ports = ports.size();
    for (size_t i = 0; i < ports.size() && i < opts_.top_ports; ++i) g.local_ports.push_back({ports[i].first, ports[i].second});
    g.netns.assign(a.netns.begin(), a.netns.end());
    report.groups.push_back(std::move(g));
  }
  std::stable_sort(report.groups.begin(), report.groups.end(), [](const LeakGroup& x, const LeakGroup& y) {
    const size_t rx = state_rank(x.state), ry = state_rank(y.state);
    if (rx != ry) return rx < ry;
    return x.count > y.count;
  });
  return report;
}

nlohmann::json leak_group_json(const LeakGroup& g) {
  using nlohmann::json;
  json peers = json::array();
  for (const auto& p : g.peers) peers.push_back({{"addr", p.addr}, {"port", p.port}, {"count", p.count}});
  json ports = json::array();
  for (const auto& p : g.local_ports) ports.push_back({{"port", p.port}, {"count", p.count}});
  const ProcessInfo* p = g.process ? &*g.process : nullptr;
  auto opt_str = [&](const std::string* s) { return s ? json(*s) : json(nullptr); };
  json j = {
      {"state", state_name(g.state)},
      {"owner", kind_name(g.kind)},
      {"pid", p ? json(p->pid) : json(nullptr)},
      {"comm", opt_str(p ? &p->comm : nullptr)},
      {"cmdline", opt_str(p ? &p->cmdline : nullptr)},
      {"user", opt_str(p ? &p->user : nullptr)},
      {"uid", p ? json(p->uid) : json(nullptr)},
      {"cgroup", opt_str(p ? &p->cgroup : nullptr)},
      {"container", p && !p->container_id.empty() ? json(p->container_id) : json(nullptr)},
      {"via_listener", g.via_listener},
      {"count", g.count},
      {"oldest_s", seconds(g.oldest_ns)},
      {"median_s", seconds(g.median_ns)},
      {"newest_s", seconds(g.newest_ns)},
      {"ages_exact", g.ages_exact},
      {"growth_per_min", g.growth_per_min},
      {"recv_q_bytes", g.recv_q_bytes},
      {"peers", std::move(peers)},
      {"distinct_peers", g.distinct_peers},
      {"local_ports", std::move(ports)},
      {"distinct_local_ports", g.distinct_local_ports},
      {"netns", g.netns},
  };
  return j;
}

nlohmann::json leaks_json(const LeakReport& r) {
  nlohmann::json out = nlohmann::json::array();
  for (const auto& g : r.groups) out.push_back(leak_group_json(g));
  return out;
}

std::string leaks_text(const LeakReport& r, const LeakOptions& opts) {
  std::string out;
  auto it = std::back_inserter(out);
  const std::string min_age = human_duration(opts.min_age_ns);
  if (r.groups.empty()) {
    fmt::format_to(it, "No socket has been in CLOSE_WAIT, FIN_WAIT2, LAST_ACK, CLOSING, SYN_SENT or SYN_RECV for more "
                       "than {}.\n",
                   min_age);
  }
  size_t i = 0;
  while (i < r.groups.size()) {
    const uint8_t state = r.groups[i].state;
    size_t j = i;
    uint64_t total = 0;
    while (j < r.groups.size() && r.groups[j].state == state) total += r.groups[j++].count;
    if (i) out += '\n';
    fmt::format_to(it, "{}: {} held for more than {}, by {}\n", state_name(state),
                   total == 1 ? std::string("1 socket") : fmt::format("{} sockets", total), min_age,
                   j - i == 1 ? std::string("1 holder") : fmt::format("{} holders", j - i));
    fmt::format_to(it, "  {:>7} {:<10} {:<16} {:>6} {:>8} {:>8} {:>8} {:>6}  {}\n", "PID", "USER", "COMM", "COUNT",
                   "OLDEST", "MEDIAN", "NEWEST", "+/MIN", "TOP PEERS");
    for (; i < j; ++i) {
      const LeakGroup& g = r.groups[i];
      std::string peers;
      for (const auto& p : g.peers) {
        if (!peers.empty()) peers += ", ";
        peers += fmt::format("{}:{} ({})", p.addr.find(':') != std::string::npos ? "[" + p.addr + "]" : p.addr,
                             p.port, p.count);
      }
      if (g.distinct_peers > g.peers.size()) peers += fmt::format(", +{} more", g.distinct_peers - g.peers.size());
      std::string pid = "-", user = "-", comm;
      if (g.process) {
        pid = std::to_string(g.process->pid);
        user = g.process->user;
        comm = g.process->comm;
      } else {
        comm = g.kind == HolderKind::Orphaned ? "(orphaned)" : "(unknown)";
      }
      const char* mark = g.ages_exact ? "" : "~";
      fmt::format_to(it, "  {:>7} {:<10} {:<16} {:>6} {:>8} {:>8} {:>8} {:>6}  {}\n", pid, user, comm, g.count,
                     mark + human_duration(g.oldest_ns), mark + human_duration(g.median_ns),
                     mark + human_duration(g.newest_ns), g.growth_per_min, peers);
      std::string detail;
      if (g.process && !g.process->cmdline.empty()) detail += "cmd: " + g.process->cmdline + "\n";
      std::string facts;
      if (g.via_listener) facts += "not yet accepted (held in its listener's queue)  ";
      if (g.process && !g.process->cgroup.empty()) facts += "cgroup: " + g.process->cgroup + "  ";
      if (g.process && !g.process->container_id.empty())
        facts += "container: " + g.process->container_id.substr(0, 12) + "  ";
      if (!g.local_ports.empty()) {
        facts += "local ports:";
        for (const auto& p : g.local_ports) facts += fmt::format(" {} ({})", p.port, p.count);
        if (g.distinct_local_ports > g.local_ports.size())
          facts += fmt::format(" +{} more", g.distinct_local_ports - g.local_ports.size());
        facts += "  ";
      }
      if (g.recv_q_bytes) facts += fmt::format("unread: {} bytes  ", g.recv_q_bytes);
      while (!facts.empty() && facts.back() == ' ') facts.pop_back();
      if (!facts.empty()) detail += facts + "\n";
      std::string_view rest = detail;
      while (!rest.empty()) {
        const size_t nl = rest.find('\n');
        fmt::format_to(it, "  {:>7} {}\n", "", rest.substr(0, nl));
        rest.remove_prefix(nl + 1);
      }
    }
  }
  bool estimated = std::any_of(r.groups.begin(), r.groups.end(), [](const LeakGroup& g) { return !g.ages_exact; });
  if (estimated) {
    out += "\n~ some ages are estimates: sockets found already in their state are dated by the last ACK they\n"
           "  received (CLOSE_WAIT, FIN_WAIT2, CLOSING) or by when tcpfsm first saw them.\n";
  }
  if (r.undated) {
    fmt::format_to(it,
                   "{} socket(s) found already in a stuck state cannot be dated yet (tcpfsm did not see them "
                   "enter it); --watch follows them.\n",
                   r.undated);
  }
  if (!r.owners_complete) out += "The owner scan of /proc did not finish in its time budget; the next pass goes on.\n";
  return out;
}

}  // namespace tcpfsm
