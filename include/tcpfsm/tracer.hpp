// The kernel side behind one owner: opens, configures, loads and attaches the
// BPF skeleton, and drains its ring buffer into an EventSink. Nothing outside
// tracer.cpp sees a libbpf type.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "tcpfsm/event.hpp"
#include "tcpfsm/filter.hpp"
#include "tcpfsm/format.hpp"
#include "tcpfsm/kernel_table.hpp"
#include "tcpfsm/result.hpp"
#include "tcpfsm/sock_diag.hpp"

namespace tcpfsm {

// How long a consumer waits for a wakeup before draining anyway. The kernel
// side batches wakeups, so this bounds the latency of light traffic.
inline constexpr int kConsumerPollMs = 50;
// How often to sweep FIN_WAIT2 timewait sockets for their switch to TIME_WAIT.
inline constexpr int kTimewaitSweepMs = 100;

struct TracerOptions {
  FilterSpec filter;
  // Ring buffer size in bytes: a power of two, at least one page.
  size_t ringbuf_bytes = 8u << 20;
  // What the programs do with each transition.
  enum class Mode {
    Events,     // a ring buffer record each (trace, stats --records)
    Storage,    // only the per-socket storage sock_diag reads back (leaks);
                // the timer programs are not loaded
    Aggregate,  // counted in the kernel (stats, serve): see KernelTable
  };
  Mode mode = Mode::Events;
};

// Routes libbpf's messages to spdlog at debug level (shown with -v).
void route_libbpf_logs();

// Checks that turn the usual start-up failures into one actionable line:
// kernel BTF, kernel version, lockdown, the tracepoint, privileges.
Status preflight();

class Tracer {
 public:
  static Result<std::unique_ptr<Tracer>> start(const TracerOptions& opts);
  ~Tracer();
  Tracer(const Tracer&) = delete;
  Tracer& operator=(const Tracer&) = delete;

  // Waits up to timeout_ms for a wakeup, then hands every record already in
  // the ring buffer to sink. Returns the number of records consumed.
  Result<int> poll(EventSink& sink, int timeout_ms);

  // Reports orphaned FIN_WAIT2 timewait sockets that have moved to TIME_WAIT
  // (their records arrive through the ring buffer). Call every ~100 ms.
  Status sweep_timewait();

  // The BPF socket storage map (struct tcpfsm_sk_info per socket), for
  // DumpRequest::storage_map_fd. Valid while the Tracer lives.
  int sk_storage_map_fd() const;

  // Turns on the kernel's BPF run-time statistics (BPF_ENABLE_STATS) for as
  // long as this Tracer lives; they cost a little time per program run.
  Status enable_bpf_stats();
  struct ProgStats {
    std::string name;
    uint64_t run_ns = 0;
    uint64_t runs = 0;
  };
  // Run time and count of each loaded program (zero while stats are off).
  std::vector<ProgStats> prog_stats() const;

  // Aggregate mode: the kernel's counts now, summed over CPUs.
  Result<KernelAggregates> aggregates() const;
  // Aggregate mode: the keys of the timewait sockets the kernel tracks,
  // appended to `keys` (8 bytes each: there can be hundreds of thousands).
  Status timewait_keys(std::vector<uint64_t>& keys) const;

  // A sock_diag dump of the namespaces the filter selects, kept to the
  // sockets the kernel-side filters let through (as events are), sized from
  // the previous dump. With `storage`, each socket carries its BPF storage.
  Result<NamespaceDump> dump_filtered(bool storage);

  // Aggregate mode: a sock_diag dump of the filtered namespaces measures
  // again the sockets the kernel does not count (KernelTable::reconcile),
  // then the table takes the newest counts. A failed dump is an error
  // with nothing changed.
  Result<ReconcileResult> reconcile(KernelTable& table);

  // Loss and delivery counters, read from the kernel now. In aggregate
  // mode `events` counts the transitions the kernel counted.
  RunCounters counters() const;

 private:
  struct Impl;
  explicit Tracer(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace tcpfsm
