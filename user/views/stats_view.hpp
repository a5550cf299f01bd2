// The views of `tcpfsm stats`: a table a person reads, or one JSON object per
// interval. Both show every count, loss and the last drift.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>

#include "account/stats_context.hpp"
#include "account/tables.hpp"
#include "model/lifetime_histogram.hpp"
#include "views/groups_view.hpp"

namespace tcpfsm {

// How many holders of stuck sockets a stats report shows (text), and
// carries (JSON): bounded, worst first.
inline constexpr size_t kStuckShownText = 5;
inline constexpr size_t kStuckShownJson = 20;

class StatsView {
 public:
  // hist_state: also print that state's lifetimes as histogram bars (--hist); 0: none.
  explicit StatsView(uint8_t hist_state = 0) : hist_state_(hist_state) {}
  // Rates are per second over the time since the previous call.
  std::string text(const TcpTables& t, const StatsContext& c);
  nlohmann::json json(const TcpTables& t, const StatsContext& c);

 private:
  uint8_t hist_state_;
  GroupsView groups_;
  TcpTables::PerState prev_entered_{}, prev_left_{};
};

nlohmann::json histogram_json(const LifetimeHistogram& h);

}  // namespace tcpfsm
