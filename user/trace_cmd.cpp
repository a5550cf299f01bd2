#include <spdlog/spdlog.h>
#include <unistd.h>

#include <atomic>
#include <chrono>

#include "output.hpp"
#include "privileges.hpp"
#include "run_control.hpp"
#include "tcpfsm/commands.hpp"
#include "tcpfsm/tracer.hpp"

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

}  // namespace

Status run_trace(const TraceOptions& opts) {
  if (auto ok = preflight(); !ok) return ok.error();
  TracerOptions topts;
  topts.filter = opts.filter;
  topts.ringbuf_bytes = opts.ringbuf_bytes;
  auto tracer = Tracer::start(topts);
  if (!tracer) return tracer.error();
  if (auto st = drop_all_capabilities(); !st) spdlog::warn("{}", st.error().message);

  Output out(STDOUT_FILENO);
  TraceSink sink(opts, WallClock::now(), out);
  out.buffer() += sink.header();
  out.flush();

  using clock = std::chrono::steady_clock;
  auto start = clock::now();
  auto next_sweep = start;
  auto deadline = start + std::chrono::duration_cast<clock::duration>(std::chrono::duration<double>(opts.duration_s));
  auto next_loss_check = start + std::chrono::seconds(1);
  uint64_t reported_lost = 0;

  auto report_losses = [&](const RunCounters& c) {
    uint64_t lost = c.ringbuf_drops + c.lost_recursion();
    if (lost > reported_lost) {
      spdlog::warn("lost {} events so far ({} ring buffer full, {} recursion)", lost, c.ringbuf_drops,
                   c.lost_recursion());
      reported_lost = lost;
    }
  };

  while (!stop_requested() && !out.closed()) {
    int timeout = kConsumerPollMs;
    auto now = clock::now();
    if (opts.duration_s > 0) {
      if (now >= deadline) break;
      auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - now).count();
      timeout = static_cast<int>(std::min<long>(timeout, std::max<long>(left, 1)));
    }
    auto n = (*tracer)->poll(sink, timeout);
    if (!n) return n.error();
    if (clock::now() >= next_sweep) {
      if (auto s = (*tracer)->sweep_timewait(); !s) return s.error();
      next_sweep = clock::now() + std::chrono::milliseconds(kTimewaitSweepMs);
    }
    out.flush();
    if (clock::now() >= next_loss_check) {
      report_losses((*tracer)->counters());
      next_loss_check = clock::now() + std::chrono::seconds(1);
    }
  }
  // Whatever is still in the ring buffer belongs to this run.
  if (!out.closed()) {
    auto n = (*tracer)->poll(sink, 0);
    if (!n) return n.error();
  }
  RunCounters c = (*tracer)->counters();
  if (opts.json) {
    out.buffer() += summary_json(c);
  } else {
    report_losses(c);
  }
  out.flush();
  if (!opts.json) spdlog::info("{}", summary_text(c));
  return Ok{};
}

}  // namespace tcpfsm
