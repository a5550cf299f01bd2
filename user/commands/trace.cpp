// `tcpfsm trace`: every transition as a text line or a JSON record, with
// the run's counters at the end (and a warning whenever losses grow).
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <chrono>

#include "base/output.hpp"
#include "commands/checks.hpp"
#include "commands/commands.hpp"
#include "commands/privileges.hpp"
#include "commands/run_control.hpp"
#include "kernel/preflight.hpp"
#include "kernel/tracer.hpp"
#include "views/trace_view.hpp"

namespace tcpfsm {
namespace {

class TraceSink : public EventSink {
 public:
  TraceSink(const TraceOptions& opts, WallClock clock, Output& out)
      : json_(opts.json), text_(opts.text, clock), jsonf_(clock), out_(out) {}
  void on_event(const Event& e) override {
    if (json_) {
      jsonf_.append(out_.buffer(), e);
    } else {
      text_.append(out_.buffer(), e);
    }
    if (out_.buffer().size() > (1 << 16)) out_.flush();
  }
  std::string header() const { return json_ ? std::string() : text_.header(); }

 private:
  bool json_;
  TextFormatter text_;
  JsonFormatter jsonf_;
  Output& out_;
};

// Warns on stderr each time the losses have grown since the last warning.
class LossReporter {
 public:
  void check(const RunCounters& c) {
    if (c.lost() <= reported_) return;
    spdlog::warn("lost {} events so far ({} ring buffer full, {} recursion)", c.lost(), c.ringbuf_drops,
                 c.lost_recursion());
    reported_ = c.lost();
  }

 private:
  uint64_t reported_ = 0;
};

// Polls until stopped, the duration, or the reader goes; sweeps timewait
// sockets on time and checks the losses every second.
Status consume(Tracer& tracer, TraceSink& sink, Output& out, double duration_s, LossReporter& losses) {
  using clock = std::chrono::steady_clock;
  const auto start = clock::now();
  auto next_sweep = start;
  const auto deadline = start + std::chrono::duration_cast<clock::duration>(std::chrono::duration<double>(duration_s));
  auto next_loss_check = start + std::chrono::seconds(1);
  while (!stop_requested() && !out.closed()) {
    int timeout = kConsumerPollMs;
    if (duration_s > 0) {
      const auto now = clock::now();
      if (now >= deadline) break;
      const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - now).count();
      timeout = static_cast<int>(std::min<long>(timeout, std::max<long>(left, 1)));
    }
    if (auto n = tracer.poll(sink, timeout); !n) return n.error();
    if (clock::now() >= next_sweep) {
      if (auto s = tracer.sweep_timewait(); !s) return s;
      next_sweep = clock::now() + std::chrono::milliseconds(kTimewaitSweepMs);
    }
    out.flush();
    if (clock::now() >= next_loss_check) {
      auto c = tracer.counters();
      if (!c) return c.error();
      losses.check(*c);
      next_loss_check = clock::now() + std::chrono::seconds(1);
    }
  }
  return Ok{};
}

}  // namespace

Status run_trace(const TraceOptions& opts) {
  TracerOptions topts;
  topts.filter = opts.filter;
  topts.ringbuf_bytes = opts.ringbuf_bytes;
  if (auto st = resolve_filter(topts.filter); !st) return st;
  if (auto st = preflight(); !st) return st;
  auto tracer = Tracer::start(topts);
  if (!tracer) return tracer.error();
  if (auto st = drop_all_capabilities(); !st) spdlog::warn("{}", st.error().message);

  Output out(STDOUT_FILENO);
  TraceSink sink(opts, WallClock::now(), out);
  out.buffer() += sink.header();
  out.flush();
  LossReporter losses;
  if (auto st = consume(**tracer, sink, out, opts.duration_s, losses); !st) return st;
  // Whatever is still in the ring buffer belongs to this run.
  if (!out.closed()) {
    if (auto n = (*tracer)->poll(sink, 0); !n) return n.error();
  }
  auto c = (*tracer)->counters();
  if (!c) return c.error();
  if (opts.json) {
    out.buffer() += summary_json(*c);
  } else {
    losses.check(*c);
  }
  out.flush();
  if (!opts.json) spdlog::info("{}", summary_text(*c));
  return Ok{};
}

}  // namespace tcpfsm
