// The views of `stats --by`: a table of groups (one row per group, the
// state columns people read in netstat pipelines, worst first, then
// (others) so every column adds up), the listeners apart, and the same as
// JSON; and log2 histogram bars of a state's lifetimes (`--hist`), the way
// bcc's tools print distributions.
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "account/groups.hpp"
#include "model/lifetime_histogram.hpp"

namespace tcpfsm {

class GroupsView {
 public:
  // Rates are per second over `interval_s`, against the previous call's counts.
  std::string text(const GroupReport& r, double interval_s, uint8_t hist_state);
  nlohmann::json json(const GroupReport& r, double interval_s);

 private:
  double rate(const GroupRow& row, uint8_t state, double interval_s) const;
  void remember(const GroupReport& r);
  std::unordered_map<GroupKey, StateCounts, GroupKeyHash> prev_;
  StateCounts prev_others_{};
};

// A key as text ("10.0.0.7", "10.0.0.7:5432", "8080", "42 java", "shop/cart-7d9f")
// and as JSON (strings and numbers as they are; process, container and pod as objects).
std::string key_part_text(GroupBy by, const GroupKey& k, const Identity& id);
nlohmann::json key_part_json(GroupBy by, const GroupKey& k, const Identity& id);

// "TIME_WAIT lifetimes, 52 sockets" and then one bar per bucket from the
// first used to the last: `range : count |****  |`.
std::string log2_hist_text(std::string_view title, const std::vector<LifetimeHistogram::Log2Bucket>& buckets);

}  // namespace tcpfsm
