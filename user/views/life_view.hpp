// The views of `tcpfsm life`: one text line per connection (tcplife's
// columns, then who closed first, the cause, retransmissions, srtt and the
// path with the time in each state), or one JSON object per connection and
// one per TIME_WAIT follow-up, and the run's summary.
#pragma once

#include <string>

#include "account/life.hpp"
#include "base/clock.hpp"
#include "model/run_counters.hpp"

namespace tcpfsm {

struct LifeTextOptions {
  bool timestamps = false;  // -T: a TIME column (local time of the close)
  bool wide = false;        // -w: address columns that fit IPv6
};

// "SYN_SENT 84us > ESTABLISHED 1.20s > FIN_WAIT1 110us > FIN_WAIT2 3.00ms",
// then "> TIME_WAIT" when a timewait socket took over; "?" for a time whose
// start tcpfsm did not see.
std::string life_path_text(const ConnectionLife& life);

class LifeTextFormatter {
 public:
  LifeTextFormatter(LifeTextOptions opts, WallClock clock) : opts_(opts), clock_(clock) {}
  std::string header() const;
  void append(std::string& out, const ConnectionLife& life) const;

 private:
  LifeTextOptions opts_;
  WallClock clock_;
};

// {"type":"life", ...}: every field of the line in machine form (bytes, ns).
void append_life_json(std::string& out, const ConnectionLife& life, WallClock clock);
// {"type":"time_wait","cookie":...,"end":"expired"|"killed"|"still_open",...}
void append_timewait_json(std::string& out, const TimewaitFollowUp& f, WallClock clock);
// The last line: the run's counters, the connections not followed, and
// those still open when it stopped.
std::string life_summary_json(const RunCounters& c, uint64_t untracked, uint64_t open);
std::string life_summary_text(const RunCounters& c, uint64_t untracked, uint64_t open);

}  // namespace tcpfsm
