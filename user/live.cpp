#include "live.hpp"

#include <malloc.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <memory>

#include "privileges.hpp"
#include "run_control.hpp"
#include "tcpfsm/leak_watcher.hpp"
#include "tcpfsm/sock_diag.hpp"

namespace tcpfsm {

Status run_live(const LiveOptions& opts, const LiveHook& on_start, const LiveHook& on_tick, const LiveHook& on_end) {
  if (auto ok = preflight(); !ok) return ok.error();
  std::string cgroup_under;
  if (!opts.filter.cgroup_path.empty()) {
    auto rel = cgroup_relative(opts.filter.cgroup_path);
    if (!rel) return rel.error();
    cgroup_under = rel.value();
  }
  const bool in_kernel = counts_in_kernel(opts);
  TracerOptions topts;
  topts.filter = opts.filter;
  topts.ringbuf_bytes = opts.ringbuf_bytes;
  topts.mode = in_kernel ? TracerOptions::Mode::Aggregate : TracerOptions::Mode::Events;
  auto tracer = Tracer::start(topts);
  if (!tracer) return tracer.error();
  if (auto st = drop_to_live_capabilities(); !st) spdlog::warn("{}", st.error().message);

  StateTable table(owner_filtered(opts.filter));
  KernelTable ktable;
  TableSink sink(table, nullptr);
  StatsContext ctx;
  ctx.counted_in_kernel = in_kernel;
  LiveState state{in_kernel ? static_cast<const TcpTables&>(ktable) : table, ctx, **tracer};

  // Holders of stuck sockets, found on a thread of their own.
  LeakWatcherOptions wopts;
  wopts.filter = opts.filter;
  wopts.storage_map_fd = (*tracer)->sk_storage_map_fd();
  wopts.leak.min_age_ns = static_cast<uint64_t>(opts.stuck_min_age_s * 1e9);
  wopts.leak.pid = opts.filter.pid;
  wopts.leak.comm = opts.filter.comm;
  wopts.leak.cgroup_under = cgroup_under;
  wopts.period = opts.stuck_period;
  ctx.stuck_min_age_ns = wopts.leak.min_age_ns;
  LeakWatcher watcher(std::move(wopts));

  auto drain = [&]() -> Status {
    auto n = (*tracer)->poll(sink, 0);
    if (!n) return n.error();
    return Ok{};
  };
  // The kernel's counts as they are now (aggregate mode).
  auto refresh_kernel = [&]() -> Status {
    auto a = (*tracer)->aggregates();
    if (!a) return a.error();
    ktable.update(*a);
    return Ok{};
  };
  auto note = [&](const ReconcileResult& r) {
    if (ctx.seeded) {
      ctx.last_drift = r.drift();
      ctx.total_drift += r.drift();
      ++ctx.reconciliations;
      if (r.drift()) spdlog::debug("reconciliation: {} added, {} removed, {} corrected", r.added, r.removed, r.corrected);
    }
    ctx.seeded = true;
  };
  // Sockets created before tcpfsm come from sock_diag; owner filters can't
  // be applied to a dump (it names no process), so they start from zero.
  auto reconcile = [&]() -> Status {
    if (owner_filtered(opts.filter)) return Ok{};
    if (auto s = drain(); !s) return s;
    if (in_kernel) {
      auto r = (*tracer)->reconcile(ktable);
      // A dump of every socket is the largest thing tcpfsm allocates: give
      // it back. The kernel keeps counting meanwhile, so this thread may wait.
      malloc_trim(0);
      if (!r) {
        spdlog::warn("sock_diag dump failed, counts are not reconciled: {}", r.error().message);
        return Ok{};
      }
      note(*r);
      return Ok{};
    }
    {
      uint64_t start = monotonic_ns();
      table.begin_dump(start);
      auto dump = (*tracer)->dump_filtered(false);
      if (!dump) {
        spdlog::warn("sock_diag dump failed, counts are not reconciled: {}", dump.error().message);
        return Ok{};
      }
      if (auto s = drain(); !s) return s;
      note(table.reconcile(dump->sockets, dump->namespaces, start));
    }
    malloc_trim(0);  // the dump is gone: give it back
    return Ok{};
  };
  if (auto s = reconcile(); !s) return s.error();

  auto refresh = [&]() -> Status {
    if (in_kernel) {
      if (auto s = refresh_kernel(); !s) return s;
    }
    ctx.counters = (*tracer)->counters();
    ctx.now_ns = monotonic_ns();
    ctx.stuck = watcher.latest();
    return Ok{};
  };
  if (auto s = refresh(); !s) return s.error();
  if (on_start) {
    if (auto s = on_start(state); !s) return s.error();
  }

  using clock = std::chrono::steady_clock;
  auto secs = [](double s) { return std::chrono::duration_cast<clock::duration>(std::chrono::duration<double>(s)); };
  auto start = clock::now();
  auto next_sweep = start;
  auto deadline = start + secs(opts.duration_s);
  auto next_tick = start + secs(opts.tick_s);
  auto next_reconcile = start + secs(opts.reconcile_s);

  while (!stop_requested()) {
    auto now = clock::now();
    if (opts.duration_s > 0 && now >= deadline) break;
    auto n = (*tracer)->poll(sink, kConsumerPollMs);
    if (!n) return n.error();
    if (clock::now() >= next_sweep) {
      if (auto s = (*tracer)->sweep_timewait(); !s) return s.error();
      next_sweep = clock::now() + std::chrono::milliseconds(kTimewaitSweepMs);
    }
    table.settle(monotonic_ns());
    now = clock::now();
    if (opts.reconcile_s > 0 && now >= next_reconcile) {
      if (auto s = reconcile(); !s) return s.error();
      next_reconcile = clock::now() + secs(opts.reconcile_s);
    }
    if (opts.tick_s > 0 && now >= next_tick && on_tick) {
      if (auto s = refresh(); !s) return s.error();
      if (auto s = on_tick(state); !s) return s.error();
      next_tick += secs(opts.tick_s);
      if (next_tick < now) next_tick = now + secs(opts.tick_s);
    }
  }
  if (auto s = drain(); !s) return s.error();
  table.settle(monotonic_ns());
  if (in_kernel) {
    // Kills still within their grace are settled by a last sweep.
    if (auto s = (*tracer)->sweep_timewait(); !s) return s.error();
  }
  if (auto s = refresh(); !s) return s.error();
  if (on_end) return on_end(state);
  return Ok{};
}

}  // namespace tcpfsm
