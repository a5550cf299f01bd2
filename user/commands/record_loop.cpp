// consume_records: the record-printing commands' loop.
#include "commands/record_loop.hpp"

#include <spdlog/spdlog.h>

#include <chrono>

#include "base/clock.hpp"
#include "commands/run_control.hpp"

namespace tcpfsm {

void LossReporter::check(const RunCounters& c) {
  if (c.lost() <= reported_) return;
  spdlog::warn("lost {} events so far ({} ring buffer full, {} recursion)", c.lost(), c.ringbuf_drops,
               c.lost_recursion());
  reported_ = c.lost();
}

Status consume_records(Tracer& tracer, EventSink& sink, Output& out, double duration_s, LossReporter& losses,
                       const std::function<void(uint64_t)>& after_poll) {
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
    const uint64_t poll_start = monotonic_ns();
    if (auto n = tracer.poll(sink, timeout); !n) return n.error();
    if (after_poll) after_poll(poll_start);
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

}  // namespace tcpfsm
