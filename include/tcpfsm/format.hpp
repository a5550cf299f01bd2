// Views of the event stream: tcpstates-style text lines, JSON lines, and the
// end-of-run summary. Appending into a caller's buffer keeps the hot path
// free of per-event allocation.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "tcpfsm/event.hpp"

namespace tcpfsm {

// CLOCK_MONOTONIC now: the clock of the kernel's event times (bpf_ktime_get_ns).
uint64_t monotonic_ns();

// Maps the kernel's CLOCK_MONOTONIC event times to wall-clock time.
class WallClock {
 public:
  static WallClock now();  // samples both clocks
  explicit WallClock(int64_t realtime_minus_monotonic_ns) : offset_ns_(realtime_minus_monotonic_ns) {}
  int64_t to_realtime_ns(uint64_t monotonic_ns) const { return static_cast<int64_t>(monotonic_ns) + offset_ns_; }

 private:
  int64_t offset_ns_;
};

// "2026-11-22T01:45:17.123456789Z"
void append_rfc3339(std::string& out, int64_t realtime_ns);
// A JSON string literal, quotes included. Bytes that are not printable ASCII
// are escaped as \u00XX, so any comm yields valid JSON.
void append_json_string(std::string& out, std::string_view s);

struct TextOptions {
  bool timestamps = false;  // -T: local time column
  bool wide = false;        // -w: room for IPv6 addresses
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

// What a run saw and lost; every output mode prints all of it.
struct RunCounters {
  uint64_t events = 0;          // delivered to the consumer
  uint64_t ringbuf_drops = 0;   // lost: ring buffer full
  uint64_t recursion_misses = 0;  // kernel-skipped nested runs (bpf_prog_info)
  uint64_t rescued = 0;         // of those, recorded by the rescue program
  uint64_t malformed = 0;       // records that failed to decode
  uint64_t fw2_untracked = 0;   // FIN_WAIT2 timewait sockets the substate sweep could not follow
  uint64_t uncounted = 0;       // sockets the kernel's counts missed (no storage, timewait map full)
  // Nested runs of the timer programs the kernel skipped: an upper bound on
  // missed timewait timer events (most concern unrelated timers).
  uint64_t timer_recursion_misses = 0;
  uint64_t lost_recursion() const { return recursion_misses > rescued ? recursion_misses - rescued : 0; }
};

std::string summary_json(const RunCounters& c);
std::string summary_text(const RunCounters& c);

}  // namespace tcpfsm
