// The loop of the commands that print records as they come (trace, life):
// poll the ring buffer into a sink until stopped, the duration, or the
// reader goes; sweep timewait sockets on time; warn when losses grow.
#pragma once

#include <functional>

#include "base/output.hpp"
#include "base/result.hpp"
#include "kernel/tracer.hpp"

namespace tcpfsm {

// Warns on stderr each time the losses have grown since the last warning.
class LossReporter {
 public:
  void check(const RunCounters& c);

 private:
  uint64_t reported_ = 0;
};

// after_poll runs after every poll (before the output is flushed), with the
// CLOCK_MONOTONIC time the poll began: every record stamped before it has
// been delivered.
Status consume_records(Tracer& tracer, EventSink& sink, Output& out, double duration_s, LossReporter& losses,
                       const std::function<void(uint64_t poll_start_ns)>& after_poll = {});

}  // namespace tcpfsm
