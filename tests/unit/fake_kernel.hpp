// Fakes of the live engine's sources, so unit tests run run_live without
// root: a KernelSource that replays scripted records and counts, and a
// SocketSource that returns a scripted dump. Each counts its calls.
#pragma once

#include <chrono>
#include <deque>
#include <optional>
#include <thread>
#include <vector>

#include "collect/socket_source.hpp"
#include "kernel/kernel_source.hpp"

namespace tcpfsm::test {

class FakeKernel : public KernelSource {
 public:
  Result<int> poll(EventSink& sink, int timeout_ms) override {
    ++polls;
    if (fail_poll) return *fail_poll;
    int n = 0;
    while (!records.empty()) {
      sink.on_event(records.front());
      records.pop_front();
      ++n;
    }
    if (!n && timeout_ms > 0) std::this_thread::sleep_for(std::chrono::milliseconds(std::min(timeout_ms, 5)));
    return n;
  }
  Status sweep_timewait() override {
    ++sweeps;
    return Ok{};
  }
  Result<KernelAggregates> aggregates() const override {
    ++aggregate_reads;
    if (fail_aggregates_after && aggregate_reads > *fail_aggregates_after)
      return Error::runtime("cannot read the kernel's counts: fake failure");
    return counts;
  }
  Status timewait_keys(std::vector<uint64_t>& keys) const override {
    keys.insert(keys.end(), tracked_timewait.begin(), tracked_timewait.end());
    return Ok{};
  }
  Result<RunCounters> counters() const override {
    ++counter_reads;
    return run;
  }
  Result<PerStateCounts> retransmits() const override { return retransmitted; }
  int sk_storage_map_fd() const override { return -1; }
  Status enable_bpf_stats() override { return Ok{}; }
  std::vector<ProgStats> prog_stats() const override { return {}; }

  std::deque<Event> records;  // handed out by the next poll
  KernelAggregates counts;
  RunCounters run;
  PerStateCounts retransmitted{};
  std::vector<uint64_t> tracked_timewait;
  std::optional<Error> fail_poll;
  std::optional<int> fail_aggregates_after;  // reads that succeed before they fail
  int polls = 0, sweeps = 0;
  mutable int aggregate_reads = 0, counter_reads = 0;
};

class FakeSockets : public SocketSource {
 public:
  Result<NamespaceDump> dump(bool storage) override {
    ++dumps;
    if (storage) ++with_storage;
    if (fail) return *fail;
    return result;
  }
  NamespaceDump result;
  std::optional<Error> fail;
  int dumps = 0, with_storage = 0;
};

}  // namespace tcpfsm::test
