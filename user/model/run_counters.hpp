// RunCounters: what a run delivered and lost. kRunCounters lists every one
// of them once, by the name every output gives it: the trace summary, its
// reader, the stats text and JSON and the exporter all iterate over that
// list, so a counter added here reaches each of them.
#pragma once

#include <array>
#include <cstdint>
#include <string_view>

namespace tcpfsm {

struct RunCounters {
  uint64_t events = 0;            // delivered to the consumer (counted in the kernel: transitions)
  uint64_t ringbuf_drops = 0;     // lost: ring buffer full
  uint64_t recursion_misses = 0;  // kernel-skipped nested runs (bpf_prog_info)
  uint64_t rescued = 0;           // of those, handled by the rescue program
  uint64_t malformed = 0;         // records that failed to decode
  uint64_t fw2_untracked = 0;     // FIN_WAIT2 timewait sockets the substate sweep could not follow
  uint64_t uncounted = 0;         // sockets the kernel's counts missed (no storage, timewait map full)
  // Nested runs of the timer programs the kernel skipped: an upper bound on
  // missed timewait timer events (most concern unrelated timers).
  uint64_t timer_recursion_misses = 0;

  uint64_t lost_recursion() const { return recursion_misses > rescued ? recursion_misses - rescued : 0; }
  // Transitions lost for good: what every output calls "lost".
  uint64_t lost() const { return ringbuf_drops + lost_recursion() + uncounted; }
};

struct RunCounterField {
  std::string_view name;  // JSON key, text label; "tcpfsm_<name>_total" in the exporter
  uint64_t RunCounters::*member;
  std::string_view help;  // one line, for --help-like texts and the exporter's HELP
};

inline constexpr std::array<RunCounterField, 8> kRunCounters = {{
    {"events", &RunCounters::events, "Records delivered by the kernel, or transitions it counted."},
    {"ringbuf_drops", &RunCounters::ringbuf_drops, "Records lost because the ring buffer was full."},
    {"recursion_misses", &RunCounters::recursion_misses,
     "Runs of the state program the kernel skipped because it was already running on that CPU."},
    {"rescued", &RunCounters::rescued, "Of the skipped runs, those the rescue program handled."},
    {"malformed", &RunCounters::malformed, "Records that failed to decode."},
    {"timewait_substate_untracked", &RunCounters::fw2_untracked,
     "Orphaned FIN_WAIT2 timewait sockets the substate sweep had no room to follow."},
    {"uncounted", &RunCounters::uncounted,
     "Sockets the kernel could not count (no socket storage, or the timewait map was full)."},
    {"timer_recursion_misses", &RunCounters::timer_recursion_misses,
     "Runs of the timer programs the kernel skipped: at most this many timewait timer events were missed."},
}};

static_assert(sizeof(RunCounters) == kRunCounters.size() * sizeof(uint64_t),
              "every RunCounters member is listed in kRunCounters");

}  // namespace tcpfsm
