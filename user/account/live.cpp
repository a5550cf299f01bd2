// The live engine (see live.hpp): one consumer thread that polls, sweeps,
// settles, reconciles and calls the hooks on time.
#include "account/live.hpp"

#include <malloc.h>
#include <spdlog/spdlog.h>

#include <optional>

#include "account/kernel_reconcile.hpp"
#include "account/kernel_table.hpp"
#include "account/pass_thread.hpp"
#include "account/state_table.hpp"
#include "account/table_sink.hpp"
#include "base/clock.hpp"

namespace tcpfsm {
namespace {

class LiveEngine {
 public:
  LiveEngine(const LiveOptions& opts, const LiveSources& src)
      : opts_(opts),
        src_(src),
        in_kernel_(counts_in_kernel(opts)),
        table_(opts.filter.by_owner()),
        sink_(table_, nullptr),
        state_{in_kernel_ ? static_cast<const TcpTables&>(ktable_) : table_, ctx_, src.kernel} {
    ctx_.counted_in_kernel = in_kernel_;
    ctx_.stuck_min_age_ns = opts.stuck_min_age_ns;
    if (src.leak_pass) watcher_.emplace(src.leak_pass, opts.stuck_period);
    if (opts.groups.enabled()) start_groups();
  }

  Status run(const LiveHooks& hooks);

 private:
  Status drain() {
    auto n = src_.kernel.poll(sink_, 0);
    if (!n) return n.error();
    return Ok{};
  }
  void start_groups();
  void refresh_groups();
  Status reconcile();
  Status refresh();
  Status loop(const LiveHooks& hooks);
  void note(const ReconcileResult& r);

  const LiveOptions& opts_;
  const LiveSources& src_;
  const bool in_kernel_;
  StateTable table_;
  KernelTable ktable_;
  TableSink sink_;
  StatsContext ctx_;
  LiveState state_;
  std::optional<LeakWatcher> watcher_;  // holders of stuck sockets, found on a thread of their own
  // --by: identities of holders, per-group records, and the gauge passes.
  IdentityTable own_identities_;
  std::optional<IdentityCache> identity_cache_;
  std::optional<GroupEvents> group_events_;
  std::optional<PassThread<GroupGauges>> group_thread_;
};

void LiveEngine::start_groups() {
  IdentityTable& ids = src_.identities ? *src_.identities : own_identities_;
  const GroupOptions& g = opts_.groups;
  if (g.spec.needs_identity()) identity_cache_.emplace(g.spec, ids, g.host_root);
  group_events_.emplace(g.spec, g.max_groups, identity_cache_ ? &*identity_cache_ : nullptr);
  table_.set_groups(&*group_events_);
  if (src_.group_pass) group_thread_.emplace(src_.group_pass, opts_.group_period);
}

// The newest gauges merged with the records' entries and lifetimes.
void LiveEngine::refresh_groups() {
  std::shared_ptr<const GroupGauges> gauges;
  if (group_thread_) {
    auto snap = group_thread_->snapshot();
    gauges = snap.latest;
    ctx_.groups_error = snap.error ? snap.error->message : std::string();
    ctx_.groups_failures = snap.failures;
  }
  // Sockets no process holds belong to the pod of their netns, on both sides.
  if (gauges && identity_cache_) identity_cache_->set_netns(gauges->netns);
  const IdentityTable& ids = src_.identities ? *src_.identities : own_identities_;
  ctx_.groups = build_group_report(opts_.groups, gauges.get(), &*group_events_, ids);
}

void LiveEngine::note(const ReconcileResult& r) {
  if (ctx_.seeded) {
    ctx_.last_drift = r.drift();
    ctx_.total_drift += r.drift();
    ++ctx_.reconciliations;
    if (r.drift()) spdlog::debug("reconciliation: {} added, {} removed, {} corrected", r.added, r.removed, r.corrected);
  }
  ctx_.seeded = true;
}

// Sockets created before tcpfsm come from sock_diag; owner filters can't
// be applied to a dump (it names no process), so they start from zero.
Status LiveEngine::reconcile() {
  if (opts_.filter.by_owner()) return Ok{};
  if (auto s = drain(); !s) return s;
  if (in_kernel_) {
    auto r = reconcile_kernel_counts(src_.kernel, src_.sockets, ktable_);
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
    const uint64_t start = monotonic_ns();
    table_.begin_dump(start);
    auto dump = src_.sockets.dump(false);
    if (!dump) {
      spdlog::warn("sock_diag dump failed, counts are not reconciled: {}", dump.error().message);
      return Ok{};
    }
    if (auto s = drain(); !s) return s;
    note(table_.reconcile(dump->sockets, dump->namespaces, start));
  }
  malloc_trim(0);  // the dump is gone: give it back
  return Ok{};
}

// Counters, the kernel's counts (read once), the clock and the newest
// stuck-socket report, for the hooks.
Status LiveEngine::refresh() {
  auto c = src_.kernel.counters();
  if (!c) return c.error();
  ctx_.counters = *c;
  auto r = src_.kernel.retransmits();
  if (!r) return r.error();
  ctx_.retransmits = *r;
  if (in_kernel_) {
    auto a = src_.kernel.aggregates();
    if (!a) return a.error();
    ktable_.update(*a);
    a->fill(ctx_.counters);
  }
  ctx_.now_ns = monotonic_ns();
  if (group_events_) refresh_groups();
  if (watcher_) {
    auto snap = watcher_->snapshot();
    if (snap.latest) ctx_.stuck = *snap.latest;
    ctx_.stuck_age_ns = snap.latest_ns && ctx_.now_ns > snap.latest_ns ? ctx_.now_ns - snap.latest_ns : 0;
    ctx_.stuck_error = snap.error ? snap.error->message : std::string();
    ctx_.stuck_failures = snap.failures;
  }
  return Ok{};
}

Status LiveEngine::loop(const LiveHooks& hooks) {
  using clock = std::chrono::steady_clock;
  auto secs = [](double s) { return std::chrono::duration_cast<clock::duration>(std::chrono::duration<double>(s)); };
  const auto start = clock::now();
  const auto deadline = start + secs(opts_.duration_s);
  auto next_sweep = start;
  auto next_tick = start + secs(opts_.tick_s);
  auto next_reconcile = start + secs(opts_.reconcile_s);
  while (!(hooks.stopped && hooks.stopped())) {
    auto now = clock::now();
    if (opts_.duration_s > 0 && now >= deadline) break;
    // Every record stamped before this has been applied once poll returns:
    // the time up to which timewait kills can be settled.
    const uint64_t polled_from = monotonic_ns();
    if (auto n = src_.kernel.poll(sink_, kConsumerPollMs); !n) return n.error();
    if (clock::now() >= next_sweep) {
      if (auto s = src_.kernel.sweep_timewait(); !s) return s;
      next_sweep = clock::now() + std::chrono::milliseconds(kTimewaitSweepMs);
    }
    table_.settle(polled_from);
    now = clock::now();
    if (opts_.reconcile_s > 0 && now >= next_reconcile) {
      if (auto s = reconcile(); !s) return s;
      next_reconcile = clock::now() + secs(opts_.reconcile_s);
    }
    if (opts_.tick_s > 0 && now >= next_tick && hooks.on_tick) {
      if (auto s = refresh(); !s) return s;
      if (auto s = hooks.on_tick(state_); !s) return s;
      next_tick += secs(opts_.tick_s);
      if (next_tick < now) next_tick = now + secs(opts_.tick_s);
    }
  }
  return Ok{};
}

Status LiveEngine::run(const LiveHooks& hooks) {
  if (auto s = reconcile(); !s) return s;
  if (auto s = refresh(); !s) return s;
  if (hooks.on_start) {
    if (auto s = hooks.on_start(state_); !s) return s;
  }
  if (auto s = loop(hooks); !s) return s;
  const uint64_t drained_from = monotonic_ns();
  if (auto s = drain(); !s) return s;
  table_.settle(drained_from);
  // Kills still within their grace are settled by a last sweep.
  if (in_kernel_) {
    if (auto s = src_.kernel.sweep_timewait(); !s) return s;
  }
  if (group_thread_) group_thread_->pass_now(std::chrono::seconds(10));
  if (auto s = refresh(); !s) return s;
  return hooks.on_end ? hooks.on_end(state_) : Status(Ok{});
}

}  // namespace

Status run_live(const LiveOptions& opts, const LiveSources& sources, const LiveHooks& hooks) {
  LiveEngine engine(opts, sources);
  return engine.run(hooks);
}

}  // namespace tcpfsm
