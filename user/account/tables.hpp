// What every view of the live accounting reads: gauges per state, transition
// counts, lifetimes, TIME_WAIT ends and the sockets found already in their
// state. Two engines produce it: StateTable, from one record per transition
// (replays, and `stats --records`), and KernelTable, from the counts the BPF
// programs keep in the kernel (`stats` and `serve`).
#pragma once

#include <array>
#include <cstdint>

#include "model/lifetime_histogram.hpp"
#include "tcpfsm/event.h"

namespace tcpfsm {

enum class TimewaitEnd { Expired = 0, Killed = 1 };

// What a reconciliation with a sock_diag dump changed.
struct ReconcileResult {
  uint64_t added = 0;      // sockets counted that were not
  uint64_t removed = 0;    // sockets no longer counted
  uint64_t corrected = 0;  // sockets counted in another state than the dump's
  uint64_t drift() const { return added + removed + corrected; }
};

class TcpTables {
 public:
  using PerState = std::array<uint64_t, TCPFSM_STATE_MAX>;
  // Full sockets into CLOSE, [from state][enum tcpfsm_close_cause].
  using Closes = std::array<std::array<uint64_t, TCPFSM_CAUSE_MAX>, TCPFSM_STATE_MAX>;
  // Sockets found by a dump, never seen entering their state: how many are
  // still in each state, and the oldest has been there at least this long.
  struct Preexisting {
    uint64_t count = 0;
    uint64_t min_age_of_oldest_ns = 0;
  };

  virtual ~TcpTables() = default;
  // Sockets now in `state` (request sockets count as SYN_RECV, timewait
  // sockets by substate, as ss shows them). family 0: both.
  virtual uint64_t count(uint8_t state, uint8_t family = 0) const = 0;
  virtual uint64_t tracked() const = 0;
  virtual uint64_t transitions(uint8_t from, uint8_t to) const = 0;
  virtual const PerState& entered() const = 0;
  virtual const PerState& left() const = 0;
  // Why sockets left `from` for CLOSE: closes()[from][cause].
  virtual const Closes& closes() const = 0;
  // Time spent in `state` by sockets that left it while traced. TIME_WAIT:
  // timewait sockets in that substate, from its start to their end.
  virtual const LifetimeHistogram& lifetime(uint8_t state) const = 0;
  virtual const LifetimeHistogram& timewait_lifetime(TimewaitEnd how) const = 0;
  // Orphaned FIN_WAIT2 held by a timewait socket (tcp_fin_timeout), on its own.
  virtual const LifetimeHistogram& fin_wait2_timewait_lifetime() const = 0;
  // SYN_SENT of the connects that established (connect latency); lifetime(SYN_SENT)
  // also holds the failures.
  virtual const LifetimeHistogram& connect_latency() const = 0;
  virtual uint64_t timewait_ends(TimewaitEnd how) const = 0;
  virtual std::array<Preexisting, TCPFSM_STATE_MAX> preexisting(uint64_t now_ns) const = 0;
  // Records that disagreed with what was tracked (StateTable only).
  virtual uint64_t resyncs() const { return 0; }
};

}  // namespace tcpfsm
