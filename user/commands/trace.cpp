// `tcpfsm trace`: every transition as a text line or a JSON record, with
// the run's counters at the end (and a warning whenever losses grow).
#include <spdlog/spdlog.h>
#include <unistd.h>

#include "base/output.hpp"
#include "commands/checks.hpp"
#include "commands/commands.hpp"
#include "commands/privileges.hpp"
#include "commands/record_loop.hpp"
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

}  // namespace

Status run_trace(const TraceOptions& opts) {
  TracerOptions topts;
  topts.filter = opts.filter;
  topts.ringbuf_bytes = opts.ringbuf_bytes;
  if (auto st = resolve_filter(topts.filter); !st) return st;
  if (auto st = preflight(topts.mode); !st) return st;
  auto tracer = Tracer::start(topts);
  if (!tracer) return tracer.error();
  if (auto st = drop_all_capabilities(); !st) spdlog::warn("{}", st.error().message);

  Output out(STDOUT_FILENO);
  TraceSink sink(opts, WallClock::now(), out);
  out.buffer() += sink.header();
  out.flush();
  LossReporter losses;
  if (auto st = consume_records(**tracer, sink, out, opts.duration_s, losses); !st) return st;
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
