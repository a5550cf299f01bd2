// KernelSource: everything the live engine asks of the kernel side, with no
// libbpf type in it. Tracer is the real one; unit tests drive the engine
// with a fake (tests/unit/fake_kernel.hpp).
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <vector>

#include "base/result.hpp"
#include "kernel/kernel_counts.hpp"
#include "model/event.hpp"
#include "model/run_counters.hpp"

namespace tcpfsm {

// How long a consumer waits for a wakeup before draining anyway. The kernel
// side batches wakeups, so this bounds the latency of light traffic.
inline constexpr int kConsumerPollMs = 50;
// How often to sweep FIN_WAIT2 timewait sockets for their switch to TIME_WAIT.
inline constexpr int kTimewaitSweepMs = 100;

// Per TCP state (index: enum tcpfsm_state).
using PerStateCounts = std::array<uint64_t, TCPFSM_STATE_MAX>;

struct ProgStats {
  std::string name;
  uint64_t run_ns = 0;
  uint64_t runs = 0;              // run_ns and runs count only while BPF stats are on
  uint64_t recursion_misses = 0;  // runs the kernel skipped, nested on a CPU (always counted)
};

class KernelSource {
 public:
  virtual ~KernelSource() = default;

  // Waits up to timeout_ms for a wakeup, then hands every record already in
  // the ring buffer to sink. Returns the number of records consumed.
  virtual Result<int> poll(EventSink& sink, int timeout_ms) = 0;
  // Reports orphaned FIN_WAIT2 timewait sockets that have moved to
  // TIME_WAIT, and (aggregate mode) settles early kills. Every ~100 ms.
  virtual Status sweep_timewait() = 0;
  // Aggregate mode: the kernel's counts now, summed over CPUs.
  virtual Result<KernelAggregates> aggregates() const = 0;
  // Aggregate mode: the keys of the timewait sockets the kernel tracks,
  // appended to `keys` (8 bytes each: there can be hundreds of thousands).
  virtual Status timewait_keys(std::vector<uint64_t>& keys) const = 0;
  // Loss and delivery counters the kernel keeps, read now. `events` is the
  // records delivered; in aggregate mode KernelAggregates::fill gives the
  // transitions counted and `uncounted` from counts already read.
  virtual Result<RunCounters> counters() const = 0;
  // Segments retransmitted since load, by the sending socket's state (a
  // listener's SYN-ACKs as SYN_RECV); every mode but leaks' storage mode.
  virtual Result<PerStateCounts> retransmits() const = 0;
  // The BPF socket storage map (struct tcpfsm_sk_info per socket), for
  // DumpRequest::storage_map_fd; -1 when there is none.
  virtual int sk_storage_map_fd() const = 0;
  // Turns on the kernel's BPF run-time statistics for as long as this
  // source lives; they cost a little time per program run.
  virtual Status enable_bpf_stats() = 0;
  // Run time and count of each loaded program (zero while stats are off).
  virtual std::vector<ProgStats> prog_stats() const = 0;
};

}  // namespace tcpfsm
