// StateTable: applying records, settling timewait kills, reconciling with a dump.
#include "account/state_table.hpp"

#include <sys/socket.h>

#include <algorithm>
#include <unordered_set>

namespace tcpfsm {
namespace {

// Timewait sockets whose cookie was never generated (0) are keyed by address.
uint64_t tw_key(const Event& e) { return e.cookie ? e.cookie : e.skaddr; }

}  // namespace

uint64_t& StateTable::gauge(uint8_t family, uint8_t state) {
  return gauges_[family == AF_INET6 ? 1 : 0][state < TCPFSM_STATE_MAX ? state : 0];
}

uint64_t StateTable::count(uint8_t state, uint8_t family) const {
  if (state >= TCPFSM_STATE_MAX) return 0;
  if (family == AF_INET) return gauges_[0][state];
  if (family == AF_INET6) return gauges_[1][state];
  return gauges_[0][state] + gauges_[1][state];
}

void StateTable::add(Map& m, uint64_t key, const Tracked& t) {
  auto [it, inserted] = m.emplace(key, t);
  if (!inserted) return;
  ++gauge(t.family, t.state);
}

void StateTable::erase(Map& m, Map::iterator it, uint64_t at_ns) {
  uint64_t& g = gauge(it->second.family, it->second.state);
  if (g) --g;
  if (at_ns >= dump_start_ns_) (&m == &socks_ ? erased_socks_ : erased_tws_).insert(it->first);
  if (&m == &tws_) cancelled_.erase(it->first);
  m.erase(it);
}

void StateTable::move(Tracked& t, uint8_t state) {
  if (t.state == state) return;
  uint64_t& g = gauge(t.family, t.state);
  if (g) --g;
  t.state = state;
  ++gauge(t.family, state);
}

void StateTable::apply(const Event& e) {
  if (e.kind == EventKind::State) {
    apply_state(e);
  } else {
    apply_timewait(e);
  }
}

void StateTable::apply_state(const Event& e) {
  const uint8_t from = e.oldstate, to = e.newstate;
  ++transitions_[from][to];
  if (to == TCPFSM_CLOSE && from != TCPFSM_CLOSE) ++closes_[from][e.cause < TCPFSM_CAUSE_MAX ? e.cause : 0];
  if (from != to) {
    ++left_[from];
    ++entered_[to];
  }
  // The kernel measures time in state per socket, from its own storage: it
  // is right even when an earlier event of this socket was lost. Unknown for
  // sockets it first saw in this state (e.g. found by the start-up dump).
  if (e.prev_ns && from != to) {
    lifetimes_[from].record(*e.prev_ns);
    if (from == TCPFSM_SYN_SENT && to == TCPFSM_ESTABLISHED) connect_latency_.record(*e.prev_ns);
  }
  const uint32_t group = groups_ ? groups_->group_of(e) : 0;
  if (groups_ && from != to) {
    groups_->entered(group, to);
    if (e.prev_ns) groups_->left(group, from, *e.prev_ns);
    if (to == TCPFSM_CLOSE) groups_->closed(group, from, e.cause);
    // A connect's SYN retransmits ride on its record out of SYN_SENT.
    if (from == TCPFSM_SYN_SENT && (to == TCPFSM_ESTABLISHED || to == TCPFSM_CLOSE))
      groups_->connect_ended(group, to == TCPFSM_ESTABLISHED, e.prev_ns, e.totals.retransmits);
  }

  auto it = socks_.find(e.cookie);
  if (it == socks_.end()) {
    if (to == TCPFSM_CLOSE) return;  // never counted, nothing to undo
    // Born (CLOSE -> x, or a listener's child: LISTEN -> SYN_RECV), or first
    // seen mid-life: tracked from now on either way.
    Tracked t;
    t.family = e.family;
    t.state = to;
    t.entry_known = true;
    t.netns = e.netns;
    t.entered_ns = t.seen_ns = t.last_event_ns = e.ts_ns;
    t.group = group;
    add(socks_, e.cookie, t);
    return;
  }
  Tracked& t = it->second;
  t.group = group;
  if (t.state != from && !(t.request && from == TCPFSM_LISTEN)) ++resyncs_;
  t.last_event_ns = std::max(t.last_event_ns, e.ts_ns);
  t.request = false;
  if (to == TCPFSM_CLOSE) {
    erase(socks_, it, e.ts_ns);
    return;
  }
  if (t.state != to || from != to) {
    if (from != to) {
      t.entered_ns = e.ts_ns;
      t.entry_known = true;
    }
    move(t, to);
  }
}

void StateTable::apply_timewait(const Event& e) {
  const uint64_t key = tw_key(e);
  auto it = tws_.find(key);
  if (it == tws_.end()) {
    if (e.kind == EventKind::TwExpire) return;  // never counted
    // A timewait socket replaces a full socket that is still tracked at this
    // point (its -> CLOSE event comes after the timer is armed).
    if (timewait_needs_tracked_socket_ && !socks_.count(e.cookie)) return;
    Tracked t;
    t.family = e.family;
    t.state = e.newstate;
    t.netns = e.netns;
    t.seen_ns = t.last_event_ns = e.ts_ns;
    if (groups_) {
      // The full socket it replaces is still tracked: its group, holder included.
      const auto full = socks_.find(e.cookie);
      t.group = full != socks_.end() ? full->second.group : groups_->group_of(e);
      if (e.kind == EventKind::TwStart) groups_->entered(t.group, e.newstate);
    }
    if (e.kind == EventKind::TwCancel) {
      t.cancel_ns = e.ts_ns;  // a timewait socket from before we started, ending
      cancelled_.insert(key);
    } else {
      t.start_known = t.entry_known = true;
      t.start_ns = t.entered_ns = e.ts_ns;
    }
    add(tws_, key, t);
    return;
  }
  Tracked& t = it->second;
  t.last_event_ns = std::max(t.last_event_ns, e.ts_ns);
  // FIN into an orphaned FIN_WAIT2 makes it TIME_WAIT, usually without a
  // timer event: the sweep reports it (within 100 ms), and every timer
  // record carries the current substate too.
  if (t.state != e.newstate) {
    if (t.state == TCPFSM_FIN_WAIT2 && t.entry_known && e.ts_ns >= t.entered_ns)
      fw2_tw_lifetime_.record(e.ts_ns - t.entered_ns);
    if (groups_ && e.newstate == TCPFSM_TIME_WAIT) groups_->entered(t.group, TCPFSM_TIME_WAIT);
    // Only a sweep or a reschedule dates the switch; an ending record doesn't.
    t.entry_known = e.kind == EventKind::TwSubstate || e.kind == EventKind::TwStart;
    t.entered_ns = e.ts_ns;
    move(t, e.newstate);
  }
  switch (e.kind) {
    case EventKind::TwStart:  // a reschedule
      // The cancel before it already carried the new substate: the switch
      // happened then, and this re-arm dates it.
      if (!t.entry_known && t.cancel_ns && t.entered_ns == t.cancel_ns) t.entry_known = true;
      t.cancel_ns = 0;
      cancelled_.erase(key);
      break;
    case EventKind::TwCancel:
      t.cancel_ns = e.ts_ns;
      cancelled_.insert(key);
      break;
    case EventKind::TwExpire:
      end_timewait(it, TimewaitEnd::Expired, e.ts_ns);
      break;
    case EventKind::TwSubstate:
    case EventKind::State:
      break;
  }
}

void StateTable::end_timewait(Map::iterator it, TimewaitEnd how, uint64_t at_ns) {
  const Tracked& t = it->second;
  ++tw_ends_[static_cast<int>(how)];
  if (tw_observer_) {
    std::optional<uint64_t> d;
    if (t.entry_known && at_ns >= t.entered_ns) d = at_ns - t.entered_ns;
    tw_observer_->timewait_ended(it->first, how, t.state, d, at_ns);
  }
  if (t.entry_known && at_ns >= t.entered_ns) {
    uint64_t d = at_ns - t.entered_ns;  // time in the substate it ended in
    if (t.state == TCPFSM_TIME_WAIT) {
      lifetimes_[TCPFSM_TIME_WAIT].record(d);
      tw_lifetimes_[static_cast<int>(how)].record(d);
      if (groups_) groups_->left(t.group, TCPFSM_TIME_WAIT, d);
    } else if (t.state == TCPFSM_FIN_WAIT2) {
      fw2_tw_lifetime_.record(d);
    }
  }
  erase(tws_, it, at_ns);
}

void StateTable::settle(uint64_t now_ns) {
  if (now_ns < kKillGraceNs) return;
  std::vector<uint64_t> killed;
  for (uint64_t key : cancelled_) {
    auto it = tws_.find(key);
    if (it != tws_.end() && it->second.cancel_ns < now_ns - kKillGraceNs) killed.push_back(key);
  }
  for (uint64_t key : killed) {
    auto it = tws_.find(key);
    end_timewait(it, TimewaitEnd::Killed, it->second.cancel_ns);  // erase() drops it from cancelled_
  }
}

ReconcileResult StateTable::reconcile(const std::vector<SocketRecord>& dump, const std::vector<uint32_t>& namespaces,
                                      uint64_t dump_start_ns) {
  ReconcileResult r;
  std::unordered_set<uint32_t> dumped_ns(namespaces.begin(), namespaces.end());
  // Sorted cookies rather than hash sets: 8 bytes a socket, not a node each.
  std::vector<uint64_t> in_dump_socks, in_dump_tws;
  for (const auto& rec : dump) (rec.timewait ? in_dump_tws : in_dump_socks).push_back(rec.cookie);
  std::sort(in_dump_socks.begin(), in_dump_socks.end());
  std::sort(in_dump_tws.begin(), in_dump_tws.end());
  for (const auto& rec : dump) {
    Map& m = rec.timewait ? tws_ : socks_;
    auto& erased = rec.timewait ? erased_tws_ : erased_socks_;
    auto it = m.find(rec.cookie);
    if (it == m.end()) {
      if (erased.count(rec.cookie)) continue;  // read by the dump, gone since
      Tracked t;
      t.family = rec.family;
      t.state = rec.state;
      t.request = rec.request;
      t.netns = rec.netns;
      t.seen_ns = dump_start_ns;
      add(m, rec.cookie, t);
      ++r.added;
    } else if (it->second.last_event_ns < dump_start_ns && it->second.state != rec.state) {
      it->second.entry_known = false;
      move(it->second, rec.state);
      ++r.corrected;
    }
  }
  for (Map* m : {&socks_, &tws_}) {
    const auto& present = m == &socks_ ? in_dump_socks : in_dump_tws;
    for (auto it = m->begin(); it != m->end();) {
      auto next = std::next(it);
      const Tracked& t = it->second;
      if (dumped_ns.count(t.netns) && !std::binary_search(present.begin(), present.end(), it->first) &&
          t.last_event_ns < dump_start_ns && t.seen_ns < dump_start_ns) {
        uint64_t& g = gauge(t.family, t.state);
        if (g) --g;
        if (m == &tws_) cancelled_.erase(it->first);
        m->erase(it);
        ++r.removed;
      }
      it = next;
    }
  }
  erased_socks_.clear();
  erased_tws_.clear();
  dump_start_ns_ = UINT64_MAX;
  return r;
}

std::array<StateTable::Preexisting, TCPFSM_STATE_MAX> StateTable::preexisting(uint64_t now_ns) const {
  std::array<Preexisting, TCPFSM_STATE_MAX> out{};
  for (const Map* m : {&socks_, &tws_}) {
    for (const auto& [key, t] : *m) {
      if (t.entry_known || t.start_known || t.state >= TCPFSM_STATE_MAX) continue;
      Preexisting& p = out[t.state];
      ++p.count;
      if (now_ns > t.seen_ns) p.min_age_of_oldest_ns = std::max(p.min_age_of_oldest_ns, now_ns - t.seen_ns);
    }
  }
  return out;
}

}  // namespace tcpfsm
