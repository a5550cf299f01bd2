// LifeTracker: following each connection from its first record to CLOSE.
#include "account/life.hpp"

namespace tcpfsm {

std::string_view closer_name(Closer c) {
  switch (c) {
    case Closer::Active:
      return "active";
    case Closer::Passive:
      return "passive";
    case Closer::Simultaneous:
      return "simultaneous";
    case Closer::None:
      break;
  }
  return "none";
}

namespace {

// The state a socket is born into leaves no span: CLOSE before connect(),
// LISTEN for a child cloned from its listener.
bool birth_state(uint8_t s) { return s == TCPFSM_CLOSE || s == TCPFSM_LISTEN; }

Closer closer_of(const std::vector<StateSpan>& path) {
  bool fin_wait1 = false, close_wait = false, closing = false;
  for (const auto& s : path) {
    fin_wait1 |= s.state == TCPFSM_FIN_WAIT1;
    close_wait |= s.state == TCPFSM_CLOSE_WAIT;
    closing |= s.state == TCPFSM_CLOSING;
  }
  if (closing) return Closer::Simultaneous;
  if (fin_wait1) return Closer::Active;
  if (close_wait) return Closer::Passive;
  return Closer::None;
}

}  // namespace

namespace {

bool passed(const ConnectionLife& l, uint8_t state) {
  for (const auto& s : l.path)
    if (s.state == state) return true;
  return false;
}

// The last state before CLOSE, closed by both FINs.
bool fin_close_from(const ConnectionLife& l, uint8_t state) {
  return l.close.oldstate == state && l.close.cause == TCPFSM_CAUSE_FIN;
}

}  // namespace

std::optional<uint64_t> ConnectionLife::payload_sent() const {
  if (!start_known) return std::nullopt;  // an active open's SYN may be in bytes_acked
  uint64_t control = passed(*this, TCPFSM_SYN_SENT) && passed(*this, TCPFSM_ESTABLISHED) ? 1 : 0;
  if (passed(*this, TCPFSM_FIN_WAIT2) || fin_close_from(*this, TCPFSM_CLOSING) ||
      fin_close_from(*this, TCPFSM_LAST_ACK))
    ++control;
  const uint64_t acked = close.totals.bytes_acked;
  return acked >= control ? acked - control : 0;
}

std::optional<uint64_t> ConnectionLife::payload_received() const {
  const bool fin =
      passed(*this, TCPFSM_CLOSE_WAIT) || passed(*this, TCPFSM_CLOSING) || fin_close_from(*this, TCPFSM_FIN_WAIT2);
  const uint64_t got = close.totals.bytes_received;
  return fin && got ? got - 1 : got;
}

LifeTracker::LifeTracker(LifeSink& sink, size_t max_tracked) : sink_(sink), max_tracked_(max_tracked) {
  table_.set_timewait_observer(this);
}

void LifeTracker::on_event(const Event& e) {
  table_.apply(e);
  if (e.kind == EventKind::TwStart) {
    // The kernel starts the timewait timer before the full socket goes to
    // CLOSE (tcp_time_wait, then tcp_done): the line can say so.
    if (auto it = conns_.find(e.cookie); it != conns_.end()) it->second.timewait_started = true;
    return;
  }
  if (e.kind == EventKind::State && e.cookie != 0) apply_state(e);
}

void LifeTracker::apply_state(const Event& e) {
  if (e.oldstate == TCPFSM_CLOSE && e.newstate == TCPFSM_CLOSE) return;
  auto it = conns_.find(e.cookie);
  if (it == conns_.end()) {
    if (conns_.size() >= max_tracked_) {
      if (e.newstate == TCPFSM_CLOSE) ++untracked_;
      return;
    }
    Open o;
    o.start_known = birth_state(e.oldstate);
    o.start_ns = o.start_known || !e.prev_ns || *e.prev_ns > e.ts_ns ? e.ts_ns : e.ts_ns - *e.prev_ns;
    o.last_ns = o.start_ns;
    it = conns_.emplace(e.cookie, std::move(o)).first;
  }
  Open& o = it->second;
  if (!birth_state(e.oldstate) || !o.path.empty()) {
    StateSpan span{e.oldstate, e.prev_ns};
    if (!span.ns && (o.start_known || !o.path.empty()) && e.ts_ns >= o.last_ns) span.ns = e.ts_ns - o.last_ns;
    o.path.push_back(span);
  }
  o.listener |= e.newstate == TCPFSM_LISTEN;
  o.last_ns = e.ts_ns;
  if (e.pid) {
    o.pid = e.pid;
    o.owner = e.owner;
    o.comm = e.comm;
  }
  if (e.newstate != TCPFSM_CLOSE) return;

  Open done = std::move(o);
  conns_.erase(it);
  if (done.listener) return;  // a listening socket is not a connection
  ConnectionLife life;
  life.close = e;
  if (!e.pid && done.pid) {
    life.close.pid = done.pid;
    life.close.owner = done.owner;
    life.close.comm = done.comm;
  }
  life.start_ns = done.start_ns;
  life.start_known = done.start_known;
  life.path = std::move(done.path);
  life.closer = closer_of(life.path);
  // A timewait socket took over if its timer started, or if this close is
  // the one tcp_time_wait() makes (from FIN_WAIT2 or CLOSING, both FINs
  // seen, or an orphan handed over before the peer's FIN).
  const bool handed_over = (e.oldstate == TCPFSM_FIN_WAIT2 || e.oldstate == TCPFSM_CLOSING) &&
                           (e.cause == TCPFSM_CAUSE_FIN || e.cause == TCPFSM_CAUSE_ORPHANED);
  life.time_wait = done.timewait_started || handed_over;
  if (life.time_wait) timewait_pending_.insert(e.cookie);
  sink_.on_life(life);
}

void LifeTracker::timewait_ended(uint64_t key, TimewaitEnd how, uint8_t substate,
                                 std::optional<uint64_t> ns_in_substate, uint64_t at_ns) {
  if (timewait_pending_.erase(key) == 0) return;
  sink_.on_timewait({key, false, how, substate, ns_in_substate, at_ns});
}

void LifeTracker::finish() {
  for (uint64_t cookie : timewait_pending_) {
    TimewaitFollowUp f;
    f.cookie = cookie;
    f.still_open = true;
    sink_.on_timewait(f);
  }
  timewait_pending_.clear();
}

}  // namespace tcpfsm
