// Per-group gauges, entries and lifetimes, and the report that merges them
// (see groups.hpp).
#include "account/groups.hpp"

#include <algorithm>
#include <cstring>
#include <tuple>

#include "account/state_table.hpp"
#include "base/clock.hpp"
#include "collect/sock_diag.hpp"

namespace tcpfsm {
namespace {

uint64_t listener_key(uint32_t netns, uint16_t port) { return uint64_t{netns} << 16 | port; }

bool is_any(const std::array<uint8_t, 16>& a) {
  return std::all_of(a.begin(), a.end(), [](uint8_t b) { return b == 0; });
}

// A deterministic order for rows that tie.
auto order_of(const GroupKey& k) {
  return std::tie(k.family, k.raddr, k.rport, k.laddr, k.lport, k.pid, k.comm, k.netns, k.identity);
}

}  // namespace

bool GroupOptions::counts(uint8_t state) const {
  if (state == TCPFSM_LISTEN || state == TCPFSM_CLOSE || state >= TCPFSM_STATE_MAX) return false;
  return states == 0 || (states & (1U << state));
}

GroupEvents::GroupEvents(GroupSpec spec, size_t max_groups, IdentityCache* identities)
    : spec_(std::move(spec)), max_groups_(max_groups), identities_(identities), groups_(1) {}

uint32_t GroupEvents::group_of(const Event& e) {
  KeySource src;
  src.family = e.family;
  src.saddr = &e.saddr;
  src.daddr = &e.daddr;
  src.sport = e.sport;
  src.dport = e.dport;
  src.netns = e.netns;
  src.pid = e.pid;
  src.comm = e.comm_view();
  if (identities_ && spec_.needs_identity()) {
    src.identity = e.pid ? identities_->of_process(e.pid) : identities_->of_netns(e.netns);
  }
  const GroupKey key = make_group_key(spec_, src);
  if (const auto it = ids_.find(key); it != ids_.end()) return it->second;
  if (groups_.size() > max_groups_) {
    ++folded_;
    return 0;
  }
  const auto id = static_cast<uint32_t>(groups_.size());
  groups_.push_back(Group{key, {}, {}, {}, {}});
  ids_.emplace(key, id);
  return id;
}

void CloseCounts::add(uint8_t from, uint8_t cause, uint64_t n) {
  auto it = std::lower_bound(entries.begin(), entries.end(), std::pair(from, cause),
                             [](const Entry& e, auto key) { return std::pair(e.from, e.cause) < key; });
  if (it != entries.end() && it->from == from && it->cause == cause) {
    it->count += n;
  } else {
    entries.insert(it, Entry{from, cause, n});
  }
}

void CloseCounts::merge(const CloseCounts& other) {
  for (const Entry& e : other.entries) add(e.from, e.cause, e.count);
}

uint64_t CloseCounts::total() const {
  uint64_t n = 0;
  for (const Entry& e : entries) n += e.count;
  return n;
}

std::vector<std::pair<uint8_t, uint64_t>> CloseCounts::by_cause() const {
  std::vector<std::pair<uint8_t, uint64_t>> out;
  for (const Entry& e : entries) {
    auto it = std::find_if(out.begin(), out.end(), [&](const auto& p) { return p.first == e.cause; });
    if (it == out.end()) {
      out.emplace_back(e.cause, e.count);
    } else {
      it->second += e.count;
    }
  }
  std::sort(out.begin(), out.end(), [](const auto& a, const auto& b) {
    return a.second != b.second ? a.second > b.second : a.first < b.first;
  });
  return out;
}

void GroupEvents::closed(uint32_t group, uint8_t from, uint8_t cause) {
  if (group < groups_.size() && from < TCPFSM_STATE_MAX && cause < TCPFSM_CAUSE_MAX)
    groups_[group].closes.add(from, cause);
}

void ConnectCounts::merge(const ConnectCounts& other) {
  established += other.established;
  syn_retransmits += other.syn_retransmits;
  latency.merge(other.latency);
}

void GroupEvents::connect_ended(uint32_t group, bool established, std::optional<uint64_t> spent_ns,
                                uint32_t syn_retransmits) {
  if (group >= groups_.size()) return;
  ConnectCounts& c = groups_[group].connects;
  c.syn_retransmits += syn_retransmits;
  if (!established) return;
  ++c.established;
  if (spent_ns) c.latency.record(*spent_ns);
}

void GroupEvents::entered(uint32_t group, uint8_t state) {
  if (group < groups_.size() && state < TCPFSM_STATE_MAX) ++groups_[group].entered[state];
}

void GroupEvents::left(uint32_t group, uint8_t state, uint64_t spent_ns) {
  if (group < groups_.size() && state < TCPFSM_STATE_MAX) groups_[group].lifetimes[state].record(spent_ns);
}

const GroupEvents::Group* GroupEvents::find(const GroupKey& key) const {
  const auto it = ids_.find(key);
  return it == ids_.end() ? nullptr : &groups_[it->second];
}

GroupGauges gauges_of_table(const GroupOptions& opts, const StateTable& table, const GroupEvents& events) {
  GroupGauges g;
  table.for_each_socket([&](uint32_t group, uint8_t state) {
    if (!opts.counts(state)) return;
    if (group == 0) {
      ++g.folded[state];
      return;
    }
    ++g.counts[events.group(group).key][state];
  });
  return g;
}

GroupGauges count_groups(const GroupOptions& opts, const std::vector<SocketRecord>& dump,
                         const std::unordered_map<uint32_t, uint32_t>& holders, OwnerLookup& processes,
                         IdentityTable& identities, const PodDirectory& pods, NetnsIdentities netns) {
  GroupGauges g;
  g.netns = std::move(netns);
  const GroupSpec& spec = opts.spec;
  // Listeners, for their own rows and for the sockets waiting in their queues.
  std::unordered_map<uint64_t, uint32_t> listener_inode;
  for (const auto& r : dump) {
    if (r.state != TCPFSM_LISTEN || r.timewait) continue;
    const uint64_t k = listener_key(r.netns, r.sport);
    if (!listener_inode.count(k) || is_any(r.saddr)) listener_inode[k] = r.inode;
  }
  std::unordered_map<uint32_t, std::optional<ProcessInfo>> infos;  // once per pid per pass
  auto info_of = [&](uint32_t pid) -> const std::optional<ProcessInfo>& {
    auto [it, inserted] = infos.try_emplace(pid);
    if (inserted && pid) it->second = processes.process(pid);
    return it->second;
  };
  auto holder_of = [&](uint32_t inode) -> uint32_t {
    const auto it = holders.find(inode);
    return it == holders.end() ? 0 : it->second;
  };
  std::unordered_map<uint64_t, uint32_t> ident_by_pid;
  for (const auto& r : dump) {
    if (r.state == TCPFSM_LISTEN && !r.timewait) {
      ListenerRow l{r.family, r.saddr, r.sport, r.netns, r.rqueue, r.wqueue, holder_of(r.inode), {}};
      if (const auto& info = info_of(l.pid)) l.comm = info->comm;
      g.listeners.push_back(std::move(l));
      continue;
    }
    if (!opts.counts(r.state)) continue;
    uint32_t pid = 0;
    if (spec.needs_holder() && !r.timewait) {
      uint32_t inode = r.inode;
      // Not yet accepted: held for the process that listens.
      if (!inode) {
        const auto it = listener_inode.find(listener_key(r.netns, r.sport));
        if (it != listener_inode.end()) inode = it->second;
      }
      pid = holder_of(inode);
    }
    const auto& info = info_of(pid);
    KeySource src{r.family, &r.saddr, &r.daddr, r.sport,
                  r.dport,  r.netns,  pid,      info ? std::string_view(info->comm) : std::string_view(),
                  0};
    if (!info) src.pid = 0;
    if (spec.needs_identity()) {
      if (info) {
        auto [it, inserted] = ident_by_pid.try_emplace(pid);
        if (inserted) it->second = identities.intern(identity_of(spec, *info, pods));
        src.identity = it->second;
      } else if (const auto it = g.netns.find(r.netns); it != g.netns.end()) {
        src.identity = it->second;
      }
    }
    const GroupKey key = make_group_key(spec, src);
    auto it = g.counts.find(key);
    if (it == g.counts.end()) {
      if (g.counts.size() >= opts.max_groups) {
        ++g.folded[r.state];
        continue;
      }
      it = g.counts.emplace(key, StateCounts{}).first;
    }
    ++it->second[r.state];
  }
  for (uint64_t n : g.folded) g.folded_groups += n ? 1 : 0;  // states with folded sockets, at least one group each
  return g;
}

GroupCounter::GroupCounter(GroupOptions opts, FilterSpec filter, IdentityTable& identities)
    : opts_(std::move(opts)),
      filter_(std::move(filter)),
      identities_(identities),
      owners_(std::chrono::milliseconds(200)) {}

Result<GroupGauges> GroupCounter::pass() {
  DumpRequest req;
  req.expected_sockets = last_dump_;
  auto dump = dump_namespaces(filter_.netns, req);
  if (!dump) return dump.error();
  last_dump_ = dump->sockets.size();
  std::erase_if(dump->sockets, [&](const SocketRecord& r) {
    return r.state == TCPFSM_LISTEN ? (filter_.family && r.family != filter_.family) : !filter_.matches(r);
  });
  std::unordered_map<uint32_t, uint32_t> holders;
  OwnerLookup::Holders found;
  {
    // Listeners always (their rows name the process); every socket for the holder keys.
    std::vector<uint32_t> inodes;
    for (const auto& r : dump->sockets) {
      if (r.inode && (opts_.spec.needs_holder() || r.state == TCPFSM_LISTEN)) inodes.push_back(r.inode);
    }
    found = owners_.holders(inodes);
    for (const auto& [inode, pids] : found.pids) {
      if (!pids.empty()) holders[inode] = *std::min_element(pids.begin(), pids.end());
    }
  }
  const PodDirectory pods = PodDirectory::load(opts_.host_root);
  NetnsIdentities netns;
  if (opts_.spec.needs_identity()) netns = netns_identities(opts_.spec, netns_owners_, pods, identities_);
  GroupGauges g = count_groups(opts_, dump->sockets, holders, owners_, identities_, pods, std::move(netns));
  g.holders_complete = found.complete;
  g.owner_error = found.error;
  return g;
}

namespace {

// A group while the report is sorted: its gauges and a pointer to its
// records, so only the rows shown copy their lifetimes.
struct Candidate {
  GroupKey key;
  StateCounts states{};
  uint64_t total = 0;
  const GroupEvents::Group* records = nullptr;
};

void add_candidate(GroupRow& into, const Candidate& c) {
  for (size_t s = 0; s < TCPFSM_STATE_MAX; ++s) into.states[s] += c.states[s];
  into.total += c.total;
  if (!c.records) return;
  for (size_t s = 0; s < TCPFSM_STATE_MAX; ++s) {
    into.entered[s] += c.records->entered[s];
    into.lifetimes[s].merge(c.records->lifetimes[s]);
  }
  into.closes.merge(c.records->closes);
}

void add_connects(ConnectRow& into, const GroupEvents::Group& g) {
  into.attempted += g.entered[TCPFSM_SYN_SENT];
  into.connects.merge(g.connects);
  for (const auto& e : g.closes.entries)
    if (e.from == TCPFSM_SYN_SENT) into.failed.add(e.from, e.cause, e.count);
}

bool connected_out(const GroupEvents::Group& g) {
  return g.entered[TCPFSM_SYN_SENT] || g.connects.established || g.connects.syn_retransmits ||
         std::any_of(g.closes.entries.begin(), g.closes.entries.end(),
                     [](const CloseCounts::Entry& e) { return e.from == TCPFSM_SYN_SENT; });
}

// The connects block: every group with a connect, most attempts first.
void build_connects(GroupReport& rep, const GroupEvents& events, const IdentityTable& identities) {
  std::vector<const GroupEvents::Group*> all;
  events.for_each([&](const GroupEvents::Group& g) {
    if (connected_out(g)) all.push_back(&g);
  });
  auto failures = [](const GroupEvents::Group* g) {
    uint64_t n = 0;
    for (const auto& e : g->closes.entries) n += e.from == TCPFSM_SYN_SENT ? e.count : 0;
    return n;
  };
  std::sort(all.begin(), all.end(), [&](const GroupEvents::Group* a, const GroupEvents::Group* b) {
    const uint64_t na = a->entered[TCPFSM_SYN_SENT], nb = b->entered[TCPFSM_SYN_SENT];
    if (na != nb) return na > nb;
    if (failures(a) != failures(b)) return failures(a) > failures(b);
    return order_of(a->key) < order_of(b->key);
  });
  for (const GroupEvents::Group* g : all) {
    if (rep.connects.size() < rep.opts.top) {
      ConnectRow row;
      row.key = g->key;
      row.identity = identities.get(g->key.identity);
      add_connects(row, *g);
      rep.connects.push_back(std::move(row));
      continue;
    }
    add_connects(rep.connect_others, *g);
    ++rep.connect_other_groups;
  }
  add_connects(rep.connect_others, events.overflow());  // groups past the bound
}

}  // namespace

GroupReport build_group_report(const GroupOptions& opts, const GroupGauges* gauges, const GroupEvents* events,
                               const IdentityTable& identities) {
  GroupReport rep;
  rep.opts = opts;
  std::unordered_map<GroupKey, Candidate, GroupKeyHash> by_key;
  auto at = [&](const GroupKey& k) -> Candidate& {
    auto [it, inserted] = by_key.try_emplace(k);
    if (inserted) it->second.key = k;
    return it->second;
  };
  if (gauges) {
    rep.gauges_known = true;
    for (const auto& [key, counts] : gauges->counts) at(key).states = counts;
    rep.others.states = gauges->folded;
    rep.folded_groups = gauges->folded_groups;
    rep.listeners = gauges->listeners;
    rep.holders_complete = gauges->holders_complete;
    rep.owner_error = gauges->owner_error;
  }
  if (events) {
    events->for_each([&](const GroupEvents::Group& g) { at(g.key).records = &g; });
    // Group 0 holds the records of groups past the bound.
    const auto& o = events->overflow();
    for (size_t s = 0; s < TCPFSM_STATE_MAX; ++s) {
      rep.others.entered[s] += o.entered[s];
      rep.others.lifetimes[s].merge(o.lifetimes[s]);
    }
    rep.others.closes.merge(o.closes);
    rep.folded_records = events->folded();
    build_connects(rep, *events, identities);
  }
  std::vector<Candidate> all;
  all.reserve(by_key.size());
  for (auto& [key, c] : by_key) {
    for (uint8_t s = 0; s < TCPFSM_STATE_MAX; ++s) {
      if (!opts.counts(s)) c.states[s] = 0;
      c.total += c.states[s];
    }
    all.push_back(c);
  }
  const uint8_t shown = opts.shown_state();
  auto entered = [&](const Candidate& c) { return c.records ? c.records->entered[shown] : 0; };
  auto value = [&](const Candidate& c) { return opts.sort_state ? c.states[opts.sort_state] : c.total; };
  std::sort(all.begin(), all.end(), [&](const Candidate& a, const Candidate& b) {
    if (value(a) != value(b)) return value(a) > value(b);
    if (entered(a) != entered(b)) return entered(a) > entered(b);
    return order_of(a.key) < order_of(b.key);
  });
  for (uint8_t s = 0; s < TCPFSM_STATE_MAX; ++s) rep.others.total += opts.counts(s) ? rep.others.states[s] : 0;
  // Rows are the groups with sockets now and, when sorted by a state, those
  // whose sockets left that state while traced (CLOSE_WAIT per peer, after
  // the peer's sockets are gone). The rest, history, goes to (others).
  auto shown_row = [&](const Candidate& c) {
    return c.total || (opts.sort_state && c.records && c.records->lifetimes[opts.sort_state].count());
  };
  for (const auto& c : all) {
    if (shown_row(c) && rep.rows.size() < opts.top) {
      GroupRow row;
      row.key = c.key;
      row.identity = identities.get(c.key.identity);
      add_candidate(row, c);
      rep.rows.push_back(std::move(row));
      continue;
    }
    add_candidate(rep.others, c);
    if (c.total) ++rep.other_groups;
  }
  return rep;
}

}  // namespace tcpfsm
