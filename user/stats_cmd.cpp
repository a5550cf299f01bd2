#include <spdlog/spdlog.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>

#include "output.hpp"
#include "run_control.hpp"
#include "tcpfsm/commands.hpp"
#include "tcpfsm/leak_watcher.hpp"
#include "tcpfsm/replay.hpp"
#include "tcpfsm/sock_diag.hpp"
#include "tcpfsm/state_table.hpp"
#include "tcpfsm/stats_view.hpp"
#include "tcpfsm/tracer.hpp"

namespace tcpfsm {
namespace {

std::atomic<bool> g_stop{false};

bool owner_filtered(const FilterSpec& f) { return f.pid || !f.comm.empty() || f.cgroup_id; }

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

class Reporter {
 public:
  Reporter(const StatsOptions& opts, Output& out) : opts_(opts), out_(out), tty_(isatty(STDOUT_FILENO)) {}
  void report(const StateTable& t, StatsContext c) {
    uint64_t now = monotonic_ns();
    c.interval_s = last_ns_ ? static_cast<double>(now - last_ns_) / 1e9 : 0;
    last_ns_ = now;
    if (opts_.json) {
      out_.buffer() += view_.json(t, c).dump();
      out_.buffer() += '\n';
    } else {
      if (tty_ && opts_.interval_s > 0) out_.buffer() += "\x1b[H\x1b[2J";  // redraw in place
      else if (reports_) out_.buffer() += '\n';
      out_.buffer() += view_.text(t, c);
    }
    ++reports_;
    out_.flush();
  }

 private:
  const StatsOptions& opts_;
  Output& out_;
  bool tty_;
  StatsView view_;
  uint64_t last_ns_ = 0;
  uint64_t reports_ = 0;
};

Status run_replay(const StatsOptions& opts) {
  StateTable table(owner_filtered(opts.filter));
  TableSink sink(table, &opts.filter);
  auto counters = replay_capture(opts.replay, sink);
  if (!counters) return counters.error();
  table.settle(UINT64_MAX);
  Output out(STDOUT_FILENO);
  Reporter reporter(opts, out);
  StatsContext c;
  c.counters = counters.value();
  c.now_ns = sink.last_ts();
  reporter.report(table, c);
  return Ok{};
}

}  // namespace

bool stop_requested() { return g_stop.load(std::memory_order_relaxed); }
void request_stop() { g_stop.store(true, std::memory_order_relaxed); }

Status run_stats(const StatsOptions& opts) {
  if (!opts.replay.empty()) return run_replay(opts);
  if (auto ok = preflight(); !ok) return ok.error();
  TracerOptions topts;
  topts.filter = opts.filter;
  topts.ringbuf_bytes = opts.ringbuf_bytes;
  auto tracer = Tracer::start(topts);
  if (!tracer) return tracer.error();

  StateTable table(owner_filtered(opts.filter));
  TableSink sink(table, nullptr);
  StatsContext ctx;
  // Holders of stuck sockets, found on a thread of their own.
  LeakWatcherOptions wopts;
  wopts.filter = opts.filter;
  wopts.storage_map_fd = (*tracer)->sk_storage_map_fd();
  wopts.leak.min_age_ns = static_cast<uint64_t>(opts.stuck_min_age_s * 1e9);
  wopts.leak.pid = opts.filter.pid;
  wopts.leak.comm = opts.filter.comm;
  if (!opts.filter.cgroup_path.empty()) {
    auto rel = cgroup_relative(opts.filter.cgroup_path);
    if (!rel) return rel.error();
    wopts.leak.cgroup_under = rel.value();
  }
  wopts.period = std::chrono::milliseconds(static_cast<int64_t>(std::clamp(opts.interval_s, 1.0, 5.0) * 1000));
  ctx.stuck_min_age_ns = wopts.leak.min_age_ns;
  LeakWatcher watcher(std::move(wopts));
  Output out(STDOUT_FILENO);
  Reporter reporter(opts, out);

  auto drain = [&]() -> Status {
    auto n = (*tracer)->poll(sink, 0);
    if (!n) return n.error();
    return Ok{};
  };
  // Sockets created before tcpfsm come from sock_diag; owner filters can't
  // be applied to a dump (it names no process), so they start from zero.
  auto reconcile = [&]() -> Status {
    if (owner_filtered(opts.filter)) return Ok{};
    if (auto s = drain(); !s) return s;
    uint64_t start = monotonic_ns();
    table.begin_dump(start);
    auto dump = dump_namespaces(opts.filter.netns);
    if (!dump) {
      spdlog::warn("sock_diag dump failed, counts are not reconciled: {}", dump.error().message);
      return Ok{};
    }
    if (dump->unreachable) spdlog::debug("{} network namespaces could not be entered", dump->unreachable);
    std::vector<SocketRecord> kept;
    for (const auto& r : dump->sockets) {
      if (opts.filter.matches(r)) kept.push_back(r);  // as the kernel filters events
    }
    if (auto s = drain(); !s) return s;
    auto r = table.reconcile(kept, dump->namespaces, start);
    if (ctx.seeded) {
      ctx.last_drift = r.drift();
      ctx.total_drift += r.drift();
      ++ctx.reconciliations;
      if (r.drift()) spdlog::debug("reconciliation: {} added, {} removed, {} corrected", r.added, r.removed, r.corrected);
    }
    ctx.seeded = true;
    return Ok{};
  };
  if (auto s = reconcile(); !s) return s.error();

  using clock = std::chrono::steady_clock;
  auto secs = [](double s) { return std::chrono::duration_cast<clock::duration>(std::chrono::duration<double>(s)); };
  auto start = clock::now();
  auto next_sweep = start;
  auto deadline = start + secs(opts.duration_s);
  auto next_report = start + secs(opts.interval_s);
  auto next_reconcile = start + secs(opts.reconcile_s);
  auto last_report = start;

  auto report = [&] {
    ctx.counters = (*tracer)->counters();
    ctx.now_ns = monotonic_ns();
    ctx.stuck = watcher.latest();
    reporter.report(table, ctx);
    last_report = clock::now();
  };

  while (!stop_requested() && !out.closed()) {
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
    if (opts.interval_s > 0 && now >= next_report) {
      report();
      next_report += secs(opts.interval_s);
      if (next_report < now) next_report = now + secs(opts.interval_s);
    }
  }
  if (auto s = drain(); !s) return s.error();
  table.settle(monotonic_ns());
  if (!out.closed() && (opts.interval_s == 0 || clock::now() - last_report > std::chrono::milliseconds(100) ||
                        last_report == start)) {
    report();
  }
  return Ok{};
}

}  // namespace tcpfsm
