// KernelAggregates: the counts the BPF programs keep in the kernel
// (TCPFSM_MODE_AGGREGATE), summed over CPUs and slots, cumulative since load.
#pragma once

#include <array>
#include <cstdint>

#include "model/lifetime_histogram.hpp"
#include "model/run_counters.hpp"
#include "tcpfsm/event.h"

namespace tcpfsm {

struct KernelAggregates {
  using Signed = std::array<std::array<int64_t, TCPFSM_STATE_MAX>, 2>;  // [0: IPv4, 1: IPv6][state]
  using Counts = std::array<std::array<uint64_t, TCPFSM_STATE_MAX>, 2>;
  Signed known{}, tw_known{};
  Counts unknown_left{}, tw_unknown_left{};
  std::array<std::array<uint64_t, TCPFSM_STATE_MAX>, TCPFSM_STATE_MAX> transitions{};
  std::array<std::array<uint64_t, TCPFSM_CAUSE_MAX>, TCPFSM_STATE_MAX> closes{};  // [from][cause]
  std::array<uint64_t, 2> tw_ends{};
  uint64_t storage_failures = 0;
  uint64_t tw_untracked = 0;
  std::array<LifetimeHistogram, TCPFSM_HISTS> hists;

  void add(const tcpfsm_agg& a);
  void add(uint32_t hist_id, const tcpfsm_hist& h);
  uint64_t total_transitions() const;
  // What these counts say of a run: the transitions counted (`events`)
  // and the sockets the kernel could not count (`uncounted`).
  void fill(RunCounters& c) const;
};

}  // namespace tcpfsm
