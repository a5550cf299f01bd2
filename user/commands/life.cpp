// `tcpfsm life`: one line per connection as it closes, from the records of
// the kernel or of a capture, through LifeTracker.
#include "account/life.hpp"

#include <spdlog/spdlog.h>
#include <unistd.h>

#include "base/output.hpp"
#include "collect/capture_reader.hpp"
#include "commands/checks.hpp"
#include "commands/commands.hpp"
#include "commands/privileges.hpp"
#include "commands/record_loop.hpp"
#include "kernel/preflight.hpp"
#include "kernel/tracer.hpp"
#include "views/life_view.hpp"

namespace tcpfsm {
namespace {

class LifePrinter : public LifeSink {
 public:
  LifePrinter(const LifeOptions& opts, WallClock clock, Output& out)
      : opts_(opts), clock_(clock), text_(opts.text, clock), out_(out) {}
  void on_life(const ConnectionLife& life) override {
    if (opts_.json) {
      append_life_json(out_.buffer(), life, clock_);
    } else {
      text_.append(out_.buffer(), life);
    }
    if (out_.buffer().size() > (1 << 16)) out_.flush();
  }
  void on_timewait(const TimewaitFollowUp& f) override {
    if (opts_.json) append_timewait_json(out_.buffer(), f, clock_);  // text: the line said "> TIME_WAIT"
  }
  std::string header() const { return opts_.json ? std::string() : text_.header(); }

 private:
  const LifeOptions& opts_;
  WallClock clock_;
  LifeTextFormatter text_;
  Output& out_;
};

// A capture's records, filtered as the kernel would have, settled on the
// capture's own clock.
class ReplayFeed : public EventSink {
 public:
  ReplayFeed(LifeTracker& t, const FilterSpec& f) : tracker_(t), filter_(f) {}
  void on_event(const Event& e) override {
    if (e.kind == EventKind::State && !filter_.matches(e)) return;
    tracker_.on_event(e);
    if (e.ts_ns > last_settle_ + kSettleNs) {
      tracker_.settle(e.ts_ns);
      last_settle_ = e.ts_ns;
    }
  }

 private:
  static constexpr uint64_t kSettleNs = 50'000'000;
  LifeTracker& tracker_;
  const FilterSpec& filter_;
  uint64_t last_settle_ = 0;
};

void finish(const LifeOptions& opts, LifeTracker& tracker, Output& out, const RunCounters& c) {
  const uint64_t open = tracker.open();
  tracker.finish();
  if (opts.json) out.buffer() += life_summary_json(c, tracker.untracked(), open);
  out.flush();
  if (!opts.json) spdlog::info("{}", life_summary_text(c, tracker.untracked(), open));
}

Status run_life_replay(const LifeOptions& opts) {
  if (auto st = check_replay_file(opts.replay); !st) return st;
  Output out(STDOUT_FILENO);
  // A capture's records carry their monotonic time; its wall clock offset
  // is not kept, so replayed lines are stamped on the monotonic clock.
  LifePrinter printer(opts, WallClock(0), out);
  LifeTracker tracker(printer, opts.max_tracked);
  ReplayFeed feed(tracker, opts.filter);
  out.buffer() += printer.header();
  auto counters = replay_capture(opts.replay, feed);
  if (!counters) return counters.error();
  tracker.settle(UINT64_MAX);
  finish(opts, tracker, out, *counters);
  return Ok{};
}

}  // namespace

Status run_life(const LifeOptions& opts) {
  if (!opts.replay.empty()) return run_life_replay(opts);
  TracerOptions topts;
  topts.filter = opts.filter;
  topts.ringbuf_bytes = opts.ringbuf_bytes;
  if (auto st = resolve_filter(topts.filter); !st) return st;
  if (auto st = preflight(topts.mode); !st) return st;
  auto tracer = Tracer::start(topts);
  if (!tracer) return tracer.error();
  if (auto st = drop_all_capabilities(); !st) spdlog::warn("{}", st.error().message);

  Output out(STDOUT_FILENO);
  LifePrinter printer(opts, WallClock::now(), out);
  LifeTracker tracker(printer, opts.max_tracked);
  out.buffer() += printer.header();
  out.flush();
  LossReporter losses;
  auto settle = [&](uint64_t poll_start_ns) {
    if (poll_start_ns > StateTable::kKillGraceNs) tracker.settle(poll_start_ns);
  };
  if (auto st = consume_records(**tracer, tracker, out, opts.duration_s, losses, settle); !st) return st;
  if (!out.closed()) {
    const uint64_t now = monotonic_ns();
    if (auto n = (*tracer)->poll(tracker, 0); !n) return n.error();
    tracker.settle(now);
  }
  auto c = (*tracer)->counters();
  if (!c) return c.error();
  if (!opts.json) losses.check(*c);
  finish(opts, tracker, out, *c);
  return Ok{};
}

}  // namespace tcpfsm
