// Summing the kernel's per-CPU counts and histograms (see kernel_counts.hpp).
#include "kernel/kernel_counts.hpp"

namespace tcpfsm {

void KernelAggregates::add(const tcpfsm_agg& a) {
  for (size_t f = 0; f < 2; ++f) {
    for (size_t s = 0; s < TCPFSM_STATE_MAX; ++s) {
      known[f][s] += a.known[f][s];
      tw_known[f][s] += a.tw_known[f][s];
      unknown_left[f][s] += a.unknown_left[f][s];
      tw_unknown_left[f][s] += a.tw_unknown_left[f][s];
    }
  }
  for (size_t o = 0; o < TCPFSM_STATE_MAX; ++o)
    for (size_t n = 0; n < TCPFSM_STATE_MAX; ++n) transitions[o][n] += a.transitions[o][n];
  for (size_t o = 0; o < TCPFSM_STATE_MAX; ++o)
    for (size_t c = 0; c < TCPFSM_CAUSE_MAX; ++c) closes[o][c] += a.closes[o][c];
  tw_ends[0] += a.tw_ends[0];
  tw_ends[1] += a.tw_ends[1];
  storage_failures += a.storage_failures;
  tw_untracked += a.tw_untracked;
}

void KernelAggregates::add(uint32_t id, const tcpfsm_hist& h) {
  if (id >= hists.size() || !h.count) return;
  hists[id].add_raw(reinterpret_cast<const uint64_t*>(h.buckets), TCPFSM_HIST_BUCKETS, h.count,
                    static_cast<long double>(h.sum_ns), ~h.neg_min_ns, h.max_ns);
}

uint64_t KernelAggregates::total_transitions() const {
  uint64_t n = 0;
  for (const auto& row : transitions)
    for (uint64_t v : row) n += v;
  return n;
}

void KernelAggregates::fill(RunCounters& c) const {
  c.events = total_transitions();
  c.uncounted = storage_failures + tw_untracked;
}

}  // namespace tcpfsm
