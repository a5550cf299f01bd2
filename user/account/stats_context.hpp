// StatsContext: what the live engine (or a replay) knows beside the tables,
// refreshed before each report: counters and losses, the reconciliation's
// drift, and the newest stuck-socket report. Every view reads all of it.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>

#include "account/groups.hpp"
#include "account/leak_finder.hpp"
#include "model/run_counters.hpp"
#include "tcpfsm/event.h"

namespace tcpfsm {

struct StatsContext {
  RunCounters counters;     // events and losses
  uint64_t now_ns = 0;      // CLOCK_MONOTONIC, for ages
  double interval_s = 0;    // since the previous report (0: first)
  uint64_t last_drift = 0;  // sockets corrected by the last reconciliation
  uint64_t total_drift = 0;
  uint64_t reconciliations = 0;
  bool seeded = false;             // counts started from a sock_diag dump
  bool counted_in_kernel = false;  // aggregate mode (KernelTable)
  // The newest leak pass (live only): holders of stuck sockets.
  std::optional<LeakReport> stuck;
  // Segments retransmitted since the start, by the sender's state (live only).
  std::optional<std::array<uint64_t, TCPFSM_STATE_MAX>> retransmits;
  uint64_t stuck_min_age_ns = 0;
  uint64_t stuck_age_ns = 0;    // how old `stuck` is
  std::string stuck_error;      // why the last pass failed ("": it did not)
  uint64_t stuck_failures = 0;  // passes that failed so far
  // With --by: the groups, and the state of their gauge passes.
  std::optional<GroupReport> groups;
  std::string groups_error;
  uint64_t groups_failures = 0;
};

}  // namespace tcpfsm
