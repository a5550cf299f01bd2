// The live engine behind `stats` and `serve`: the tracer, the tables (the
// kernel's own counts, or a StateTable fed from the ring buffer on this
// thread), timewait sweeps and settling, sock_diag reconciliation, and a
// LeakWatcher thread for stuck sockets. Views hook in through callbacks and
// only read.
#pragma once

#include <chrono>
#include <functional>

#include "tcpfsm/filter.hpp"
#include "tcpfsm/result.hpp"
#include "tcpfsm/kernel_table.hpp"
#include "tcpfsm/state_table.hpp"
#include "tcpfsm/stats_view.hpp"
#include "tcpfsm/tracer.hpp"

namespace tcpfsm {

// With owner filters (pid, comm, cgroup) dumps can't be filtered: counts
// start from zero and timewait sockets need a tracked socket.
inline bool owner_filtered(const FilterSpec& f) { return f.pid || !f.comm.empty() || f.cgroup_id; }

// Feeds decoded records to a StateTable; with a filter (replays), applies
// it in userspace and settles timewait kills on the records' own clock.
class TableSink : public EventSink {
 public:
  TableSink(StateTable& t, const FilterSpec* userspace_filter) : table_(t), filter_(userspace_filter) {}
  void on_event(const Event& e) override {
    if (filter_ && e.kind == EventKind::State && !filter_->matches(e)) return;
    table_.apply(e);
    // Replays settle on the capture's own clock.
    if (filter_ && e.ts_ns > last_settle_ + 50'000'000) {
      table_.settle(e.ts_ns);
      last_settle_ = e.ts_ns;
    }
  }
  uint64_t last_ts() const { return last_settle_; }

 private:
  StateTable& table_;
  const FilterSpec* filter_;
  uint64_t last_settle_ = 0;
};

struct LiveOptions {
  FilterSpec filter;
  double duration_s = 0;   // 0: until stopped
  double reconcile_s = 10;  // 0: only at start
  size_t ringbuf_bytes = 8u << 20;
  double stuck_min_age_s = 10;
  std::chrono::milliseconds stuck_period{5000};
  double tick_s = 1;  // on_tick every tick_s; 0: never
  // A ring buffer record per transition, counted here, instead of counts
  // kept in the kernel. Owner filters (pid, comm, cgroup) imply it.
  bool records = false;
};

// Whether a run counts in the kernel (KernelTable) or from records.
inline bool counts_in_kernel(const LiveOptions& o) { return !o.records && !owner_filtered(o.filter); }

struct LiveState {
  const TcpTables& table;
  StatsContext& ctx;  // counters, now, stuck are refreshed before each callback
  Tracer& tracer;
};

using LiveHook = std::function<Status(LiveState&)>;

// Runs until SIGINT/SIGTERM, the duration, or a hook's error. on_start runs
// once the table is seeded; on_end after the final drain.
Status run_live(const LiveOptions& opts, const LiveHook& on_start, const LiveHook& on_tick, const LiveHook& on_end);

}  // namespace tcpfsm
