// The views of `tcpfsm stats`: a table a person reads, or one JSON object per
// interval. Both show every count, loss and the last drift.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include <nlohmann/json.hpp>

#include "tcpfsm/format.hpp"
#include "tcpfsm/leaks.hpp"
#include "tcpfsm/tables.hpp"

namespace tcpfsm {

struct StatsContext {
  RunCounters counters;        // events and losses
  uint64_t now_ns = 0;         // CLOCK_MONOTONIC, for ages
  double interval_s = 0;       // since the previous report (0: first)
  uint64_t last_drift = 0;     // sockets corrected by the last reconciliation
  uint64_t total_drift = 0;
  uint64_t reconciliations = 0;
  bool seeded = false;         // counts started from a sock_diag dump
  bool counted_in_kernel = false;  // aggregate mode (KernelTable)
  // The newest leak pass (live only): holders of stuck sockets.
  std::optional<LeakReport> stuck;
  uint64_t stuck_min_age_ns = 0;
};

// How many holders of stuck sockets a stats report shows (text), and
// carries (JSON): bounded, worst first.
inline constexpr size_t kStuckShownText = 5;
inline constexpr size_t kStuckShownJson = 20;

class StatsView {
 public:
  // Rates are per second over the time since the previous call.
  std::string text(const TcpTables& t, const StatsContext& c);
  nlohmann::json json(const TcpTables& t, const StatsContext& c);

 private:
  TcpTables::PerState prev_entered_{}, prev_left_{};
};

// "812us", "1.20ms", "60.1s", "2m03s", "1h02m"
std::string human_duration(uint64_t ns);
nlohmann::json histogram_json(const LifetimeHistogram& h);

}  // namespace tcpfsm
