// Reading back a capture of `tcpfsm trace --json` (model/capture.hpp), so
// that `stats --replay` computes the same tables without root, elsewhere.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "base/result.hpp"
#include "model/event.hpp"
#include "model/run_counters.hpp"

namespace tcpfsm {

struct ReplayLine {
  std::optional<Event> event;          // a "state" or "timewait" record
  std::optional<RunCounters> summary;  // the capture's own summary
};

// One line of the capture. Blank lines give neither; anything else that is
// not a record tcpfsm writes is an Error saying what is wrong.
Result<ReplayLine> parse_capture_line(std::string_view line);

// Feeds every record of the file at `path` ("-": stdin) to `sink`, in order.
// Returns the capture's counters: its summary if it has one, else the
// records counted.
Result<RunCounters> replay_capture(const std::string& path, EventSink& sink);

}  // namespace tcpfsm
