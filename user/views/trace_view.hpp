// The views of `trace`: tcpstates-style text lines, JSON lines (the capture
// format of model/capture.hpp), and the end-of-run summary. Appending into a
// caller's buffer keeps the hot path free of per-event allocation.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <string_view>

#include "base/clock.hpp"
#include "model/event.hpp"
#include "model/run_counters.hpp"

namespace tcpfsm {

// "2026-11-22T01:45:17.123456789Z"
void append_rfc3339(std::string& out, int64_t realtime_ns);
// A JSON string literal, quotes included. Bytes that are not printable ASCII
// are escaped as \u00XX, so any comm yields valid JSON.
void append_json_string(std::string& out, std::string_view s);

// A comm for one text line: a comm is any 15 bytes (prctl PR_SET_NAME), so
// blanks and control characters become '?' as ps shows them; "-" if empty.
std::array<char, 16> printable_comm(std::string_view comm);

struct TextOptions {
  bool timestamps = false;  // -T: local time column
  bool wide = false;        // -w: room for IPv6 addresses, and the CAUSE column
  bool cause = false;       // --cause: the CAUSE column (why a socket entered CLOSE)
};

class TextFormatter {
 public:
  TextFormatter(TextOptions opts, WallClock clock) : opts_(opts), clock_(clock) {}
  std::string header() const;
  void append(std::string& out, const Event& e) const;

 private:
  TextOptions opts_;
  WallClock clock_;
};

class JsonFormatter {
 public:
  explicit JsonFormatter(WallClock clock) : clock_(clock) {}
  // No allocation, no locale, no format-string parsing per event: it is the
  // hot path of `trace --json` (see bench/micro.cpp).
  void append(std::string& out, const Event& e) const;

 private:
  // RFC 3339 UTC with nanoseconds; the date and time of day are cached per
  // second (events arrive in order, so almost every call hits the cache).
  // Writes it at p (30 bytes) and returns the end.
  char* append_time(char* p, int64_t realtime_ns) const;

  WallClock clock_;
  mutable int64_t cached_secs_ = INT64_MIN;
  mutable char cached_[20] = {};  // "YYYY-MM-DDTHH:MM:SS"
};

// The capture's last line: every counter of kRunCounters, and the total lost.
std::string summary_json(const RunCounters& c);
// The same for a person: one line, every counter that is not zero.
std::string summary_text(const RunCounters& c);

}  // namespace tcpfsm
