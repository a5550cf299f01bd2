// KernelTable: gauges from the kernel's counts, and their reconciliation with a dump.
#include "account/kernel_table.hpp"

#include <sys/socket.h>

#include <algorithm>
#include <cstdlib>

namespace tcpfsm {

void KernelTable::update(const KernelAggregates& now) {
  now_ = now;
  entered_ = {};
  left_ = {};
  for (size_t o = 0; o < TCPFSM_STATE_MAX; ++o) {
    for (size_t n = 0; n < TCPFSM_STATE_MAX; ++n) {
      if (o == n) continue;
      left_[o] += now_.transitions[o][n];
      entered_[n] += now_.transitions[o][n];
    }
  }
}

uint64_t KernelTable::unknown(size_t f, uint8_t state, bool timewait) const {
  const auto& base = timewait ? tw_unknown_base_ : unknown_base_;
  const auto& since = timewait ? tw_left_base_ : left_base_;
  const auto& left = timewait ? now_.tw_unknown_left : now_.unknown_left;
  uint64_t gone = left[f][state] - since[f][state];
  return base[f][state] > gone ? base[f][state] - gone : 0;
}

uint64_t KernelTable::count(uint8_t state, uint8_t family) const {
  if (state >= TCPFSM_STATE_MAX || state == TCPFSM_CLOSE) return 0;
  uint64_t n = 0;
  for (size_t f = 0; f < 2; ++f) {
    if ((family == AF_INET && f == 1) || (family == AF_INET6 && f == 0)) continue;
    n += static_cast<uint64_t>(std::max<int64_t>(now_.known[f][state] + known_fix_[f][state], 0));
    n += static_cast<uint64_t>(std::max<int64_t>(now_.tw_known[f][state] + tw_known_fix_[f][state], 0));
    n += unknown(f, state, false) + unknown(f, state, true);
  }
  return n;
}

uint64_t KernelTable::tracked() const {
  uint64_t n = 0;
  for (uint8_t s = 1; s < TCPFSM_STATE_MAX; ++s) n += count(s);
  return n;
}

uint64_t KernelTable::transitions(uint8_t from, uint8_t to) const {
  return from < TCPFSM_STATE_MAX && to < TCPFSM_STATE_MAX ? now_.transitions[from][to] : 0;
}

const LifetimeHistogram& KernelTable::lifetime(uint8_t state) const {
  return now_.hists[state < TCPFSM_STATE_MAX ? state : 0];
}

const LifetimeHistogram& KernelTable::timewait_lifetime(TimewaitEnd how) const {
  return now_.hists[how == TimewaitEnd::Expired ? TCPFSM_HIST_TW_EXPIRED : TCPFSM_HIST_TW_KILLED];
}

const LifetimeHistogram& KernelTable::fin_wait2_timewait_lifetime() const { return now_.hists[TCPFSM_HIST_FW2_TW]; }

namespace {

// Transitions into or out of `state` so far (both families).
uint64_t activity(const KernelAggregates& a, uint8_t state) {
  uint64_t n = 0;
  for (size_t o = 0; o < TCPFSM_STATE_MAX; ++o) {
    if (o == state) continue;
    n += a.transitions[o][state] + a.transitions[state][o];
  }
  return n + a.unknown_left[0][state] + a.unknown_left[1][state];
}

// Anything that moved a timewait count.
bool timewait_quiet(const KernelAggregates& a, const KernelAggregates& b) {
  return a.tw_known == b.tw_known && a.tw_unknown_left == b.tw_unknown_left && a.tw_ends == b.tw_ends;
}

}  // namespace

ReconcileResult KernelTable::reconcile(const std::vector<SocketRecord>& dump, const KernelAggregates& at_start,
                                       const KernelAggregates& at_end, const std::vector<uint64_t>& tw_tracked,
                                       uint64_t dump_start_ns, bool complete) {
  KernelAggregates::Counts full{}, tw{};
  KernelAggregates::Signed counted{}, tw_counted{};  // what the dump found the kernel counting
  std::unordered_map<uint64_t, uint64_t> seen;
  std::array<uint64_t, TCPFSM_STATE_MAX> oldest{};
  for (const auto& r : dump) {
    if (r.state >= TCPFSM_STATE_MAX) continue;
    const size_t f = r.family == AF_INET6 ? 1 : 0;
    if (r.timewait) {
      if (std::binary_search(tw_tracked.begin(), tw_tracked.end(), r.cookie)) {
        ++tw_counted[f][r.state];
        continue;
      }
      ++tw[f][r.state];
    } else {
      // Counted by the kernel in the state it is in: known.
      if (r.counted == r.state) {
        ++counted[f][r.state];
        continue;
      }
      ++full[f][r.state];
    }
    auto it = first_seen_.find(r.cookie);
    uint64_t first = it != first_seen_.end() ? it->second : dump_start_ns;
    seen.emplace(r.cookie, first);
    if (!oldest[r.state] || first < oldest[r.state]) oldest[r.state] = first;
  }
  ReconcileResult res;
  for (size_t f = 0; f < 2; ++f) {
    for (uint8_t s = 0; s < TCPFSM_STATE_MAX; ++s) {
      const uint64_t before = unknown(f, s, false) + unknown(f, s, true);
      const uint64_t after = full[f][s] + tw[f][s];
      if (after > before)
        res.added += after - before;
      else
        res.removed += before - after;
    }
  }
  const bool tw_quiet = complete && timewait_quiet(at_start, at_end);
  for (uint8_t s = 1; s < TCPFSM_STATE_MAX; ++s) {
    if (s == TCPFSM_CLOSE) continue;
    const bool quiet = complete && activity(at_start, s) == activity(at_end, s);
    for (size_t f = 0; f < 2; ++f) {
      if (quiet) {
        const int64_t fix = counted[f][s] - at_end.known[f][s];
        res.corrected += static_cast<uint64_t>(std::abs(fix - known_fix_[f][s]));
        known_fix_[f][s] = fix;
      }
      if (tw_quiet) {
        const int64_t fix = tw_counted[f][s] - at_end.tw_known[f][s];
        res.corrected += static_cast<uint64_t>(std::abs(fix - tw_known_fix_[f][s]));
        tw_known_fix_[f][s] = fix;
      }
    }
  }
  unknown_base_ = full;
  tw_unknown_base_ = tw;
  left_base_ = at_start.unknown_left;
  tw_left_base_ = at_start.tw_unknown_left;
  first_seen_ = std::move(seen);
  oldest_seen_ = oldest;
  return res;
}

std::array<TcpTables::Preexisting, TCPFSM_STATE_MAX> KernelTable::preexisting(uint64_t now_ns) const {
  std::array<Preexisting, TCPFSM_STATE_MAX> out{};
  for (uint8_t s = 0; s < TCPFSM_STATE_MAX; ++s) {
    for (size_t f = 0; f < 2; ++f) out[s].count += unknown(f, s, false) + unknown(f, s, true);
    if (out[s].count && oldest_seen_[s] && now_ns > oldest_seen_[s])
      out[s].min_age_of_oldest_ns = now_ns - oldest_seen_[s];
  }
  return out;
}

}  // namespace tcpfsm
