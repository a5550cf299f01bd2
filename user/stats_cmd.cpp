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
#include "live.hpp"

namespace tcpfsm {
namespace {

std::atomic<bool> g_stop{false};

class Reporter {
 public:
  Reporter(const StatsOptions& opts, Output& out) : opts_(opts), out_(out), tty_(isatty(STDOUT_FILENO)) {}
  void report(const TcpTables& t, StatsContext c) {
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
  LiveOptions lopts;
  lopts.filter = opts.filter;
  lopts.duration_s = opts.duration_s;
  lopts.reconcile_s = opts.reconcile_s;
  lopts.ringbuf_bytes = opts.ringbuf_bytes;
  lopts.records = opts.records;
  lopts.stuck_min_age_s = opts.stuck_min_age_s;
  lopts.stuck_period = std::chrono::milliseconds(static_cast<int64_t>(std::clamp(opts.interval_s, 1.0, 5.0) * 1000));
  lopts.tick_s = opts.interval_s;

  Output out(STDOUT_FILENO);
  Reporter reporter(opts, out);
  using clock = std::chrono::steady_clock;
  const auto start = clock::now();
  auto last_report = start;
  auto report = [&](LiveState& s) -> Status {
    reporter.report(s.table, s.ctx);
    last_report = clock::now();
    if (out.closed()) request_stop();
    return Ok{};
  };
  auto on_end = [&](LiveState& s) -> Status {
    if (!out.closed() && (opts.interval_s == 0 || clock::now() - last_report > std::chrono::milliseconds(100) ||
                          last_report == start)) {
      return report(s);
    }
    return Ok{};
  };
  return run_live(lopts, nullptr, report, on_end);
}

}  // namespace tcpfsm
