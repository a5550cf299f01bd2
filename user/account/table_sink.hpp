// TableSink: feeds decoded records to a StateTable. For replays it applies
// the filter in userspace and settles timewait kills on the records' clock.
#pragma once

#include <cstdint>

#include "account/state_table.hpp"
#include "model/filter.hpp"

namespace tcpfsm {

class TableSink : public EventSink {
 public:
  TableSink(StateTable& t, const FilterSpec* userspace_filter) : table_(t), filter_(userspace_filter) {}
  void on_event(const Event& e) override {
    if (filter_ && e.kind == EventKind::State && !filter_->matches(e)) return;
    table_.apply(e);
    // Replays settle on the capture's own clock.
    if (filter_ && e.ts_ns > last_settle_ + kReplaySettleNs) {
      table_.settle(e.ts_ns);
      last_settle_ = e.ts_ns;
    }
  }
  uint64_t last_ts() const { return last_settle_; }

 private:
  static constexpr uint64_t kReplaySettleNs = 50'000'000;
  StateTable& table_;
  const FilterSpec* filter_;
  uint64_t last_settle_ = 0;
};

}  // namespace tcpfsm
