// Tracer: the live KernelSource. It opens, configures, loads and attaches
// the BPF skeleton and drains its ring buffer; it is the only code that
// sees libbpf or the skeleton (the .cpp files of this folder, linked PRIVATE).
#pragma once

#include <cstddef>
#include <memory>

#include "kernel/kernel_source.hpp"
#include "model/filter.hpp"
#include "tcpfsm/event.h"

namespace tcpfsm {

struct KernelFeatures;

struct TracerOptions {
  FilterSpec filter;
  // Ring buffer size in bytes: a power of two, at least one page (the
  // command line checks it).
  size_t ringbuf_bytes = TCPFSM_DEFAULT_RINGBUF_BYTES;
  // What the programs do with each transition.
  enum class Mode {
    Events,     // a ring buffer record each (trace, stats --records)
    Storage,    // only the per-socket storage sock_diag reads back (leaks);
                // the timer programs are not loaded
    Aggregate,  // counted in the kernel (stats, serve): see KernelTable
  };
  Mode mode = Mode::Events;
  // What the kernel offers (kernel_features.hpp); null: the running kernel's,
  // probed. Tests pass a poorer one to load the degraded programs.
  const KernelFeatures* features = nullptr;
};

class Tracer final : public KernelSource {
 public:
  static Result<std::unique_ptr<Tracer>> start(const TracerOptions& opts);
  ~Tracer() override;
  Tracer(const Tracer&) = delete;
  Tracer& operator=(const Tracer&) = delete;

  Result<int> poll(EventSink& sink, int timeout_ms) override;
  Status sweep_timewait() override;
  Result<KernelAggregates> aggregates() const override;
  Status timewait_keys(std::vector<uint64_t>& keys) const override;
  Result<RunCounters> counters() const override;
  Result<PerStateCounts> retransmits() const override;
  int sk_storage_map_fd() const override;
  Status enable_bpf_stats() override;
  std::vector<ProgStats> prog_stats() const override;

 private:
  struct Impl;
  explicit Tracer(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace tcpfsm
