// The live engine behind `stats` and `serve`: it consumes the kernel source
// (records, or the kernel's own counts), keeps the tables, sweeps timewait
// sockets and settles kills, reconciles with sock_diag dumps, and runs a
// LeakWatcher thread for stuck sockets. Its sources are injected, so unit
// tests drive it with fakes; views hook in through callbacks and only read.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>

#include "account/groups.hpp"
#include "account/leak_watcher.hpp"
#include "account/stats_context.hpp"
#include "account/tables.hpp"
#include "base/result.hpp"
#include "collect/socket_source.hpp"
#include "kernel/kernel_source.hpp"
#include "model/filter.hpp"

namespace tcpfsm {

struct LiveOptions {
  FilterSpec filter;
  double duration_s = 0;                          // 0: until stopped
  double reconcile_s = 10;                        // 0: only at start
  uint64_t stuck_min_age_ns = 10'000'000'000ULL;  // what the leak pass counts as stuck, for the reports
  std::chrono::milliseconds stuck_period{5000};
  double tick_s = 1;  // on_tick every tick_s; 0: never
  // A ring buffer record per transition, counted here, instead of counts
  // kept in the kernel. Owner filters (pid, comm, cgroup) and grouping
  // (--by: per-group entries and lifetimes come from the records) imply it.
  bool records = false;
  GroupOptions groups;                           // --by; disabled: no per-group work at all
  std::chrono::milliseconds group_period{1000};  // how often the group gauges are measured again
};

// Whether a run counts in the kernel (KernelTable) or from records.
inline bool counts_in_kernel(const LiveOptions& o) { return !o.records && !o.filter.by_owner() && !o.groups.enabled(); }

// What a group gauge pass returns (account/groups.hpp's GroupCounter).
using GroupPass = std::function<Result<GroupGauges>()>;

struct LiveSources {
  KernelSource& kernel;                 // loaded in the mode counts_in_kernel() says
  SocketSource& sockets;                // reconciliation dumps
  LeakPass leak_pass;                   // run on the stuck-socket thread; empty: no stuck section
  GroupPass group_pass = {};            // with groups: run on a thread of its own
  IdentityTable* identities = nullptr;  // with groups: shared with group_pass
};

struct LiveState {
  const TcpTables& table;
  StatsContext& ctx;  // counters, now, stuck are refreshed before each hook
  KernelSource& kernel;
};

using LiveHook = std::function<Status(LiveState&)>;

struct LiveHooks {
  LiveHook on_start;              // once the table is seeded
  LiveHook on_tick;               // every tick_s
  LiveHook on_end;                // after the final drain
  std::function<bool()> stopped;  // polled between batches; empty: run for the duration
};

// Runs until `stopped`, the duration, or a hook's error.
Status run_live(const LiveOptions& opts, const LiveSources& sources, const LiveHooks& hooks);

}  // namespace tcpfsm
