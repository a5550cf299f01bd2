// `tcpfsm stats`: the live engine's tables as a text table or JSON, every
// --interval and at the end; or the same from a capture (--replay).
#include <unistd.h>

#include <algorithm>
#include <chrono>

#include "account/table_sink.hpp"
#include "base/clock.hpp"
#include "base/output.hpp"
#include "collect/capture_reader.hpp"
#include "commands/checks.hpp"
#include "commands/commands.hpp"
#include "commands/live_kernel.hpp"
#include "commands/run_control.hpp"
#include "views/stats_view.hpp"

namespace tcpfsm {
namespace {

class Reporter {
 public:
  // The first report's rates are since the start: with --interval 0, over the whole run.
  Reporter(const StatsOptions& opts, Output& out)
      : opts_(opts), out_(out), view_(opts.hist_state), last_ns_(opts.replay.empty() ? monotonic_ns() : 0) {}
  void report(const TcpTables& t, StatsContext c) {
    const uint64_t now = monotonic_ns();
    c.interval_s = last_ns_ ? static_cast<double>(now - last_ns_) / 1e9 : 0;
    last_ns_ = now;
    if (opts_.json) {
      out_.buffer() += view_.json(t, c).dump();
      out_.buffer() += '\n';
    } else {
      out_.start_report(opts_.interval_s > 0, reports_ == 0);
      out_.buffer() += view_.text(t, c);
    }
    ++reports_;
    out_.flush();
  }

 private:
  const StatsOptions& opts_;
  Output& out_;
  StatsView view_;
  uint64_t last_ns_ = 0;
  uint64_t reports_ = 0;
};

Status run_replay(const StatsOptions& opts) {
  if (auto st = check_replay_file(opts.replay); !st) return st;
  StateTable table(opts.filter.by_owner());
  // Captures name no cgroup, container or pod: those keys group nothing here.
  GroupEvents groups(opts.groups.spec, opts.groups.max_groups, nullptr);
  if (opts.groups.enabled()) table.set_groups(&groups);
  TableSink sink(table, &opts.filter);
  auto counters = replay_capture(opts.replay, sink);
  if (!counters) return counters.error();
  table.settle(UINT64_MAX);
  Output out(STDOUT_FILENO);
  Reporter reporter(opts, out);
  StatsContext c;
  c.counters = counters.value();
  c.now_ns = sink.last_ts();
  if (opts.groups.enabled()) {
    const GroupGauges gauges = gauges_of_table(opts.groups, table, groups);
    c.groups = build_group_report(opts.groups, &gauges, &groups, IdentityTable());
  }
  reporter.report(table, c);
  return Ok{};
}

}  // namespace

Status run_stats(const StatsOptions& opts) {
  if (!opts.replay.empty()) return run_replay(opts);
  LiveOptions lopts;
  lopts.filter = opts.filter;
  lopts.duration_s = opts.duration_s;
  lopts.reconcile_s = opts.reconcile_s;
  lopts.records = opts.records;
  lopts.stuck_min_age_ns = static_cast<uint64_t>(opts.stuck_min_age_s * 1e9);
  lopts.stuck_period = std::chrono::milliseconds(static_cast<int64_t>(std::clamp(opts.interval_s, 1.0, 5.0) * 1000));
  lopts.tick_s = opts.interval_s;
  lopts.groups = opts.groups;
  // Group counts are measured again for every report, and at the end.
  lopts.group_period = std::chrono::milliseconds(
      static_cast<int64_t>(std::clamp(opts.interval_s > 0 ? opts.interval_s : 1.0, 0.5, 10.0) * 1000));
  auto kernel = start_live_kernel(lopts, opts.ringbuf_bytes);
  if (!kernel) return kernel.error();

  Output out(STDOUT_FILENO);
  Reporter reporter(opts, out);
  using clock = std::chrono::steady_clock;
  const auto start = clock::now();
  auto last_report = start;
  LiveHooks hooks;
  hooks.stopped = stop_requested;
  hooks.on_tick = [&](LiveState& s) -> Status {
    reporter.report(s.table, s.ctx);
    last_report = clock::now();
    if (out.closed()) request_stop();
    return Ok{};
  };
  // A final report, unless one was just printed.
  hooks.on_end = [&](LiveState& s) -> Status {
    const bool recent = last_report != start && clock::now() - last_report <= std::chrono::milliseconds(100);
    if (!out.closed() && (opts.interval_s == 0 || !recent)) return hooks.on_tick(s);
    return Ok{};
  };
  return run_live(lopts, kernel->sources(), hooks);
}

}  // namespace tcpfsm
