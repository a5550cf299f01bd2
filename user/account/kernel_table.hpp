// KernelTable: the live accounting of `stats` and `serve` from the counts the
// BPF programs keep in the kernel (TCPFSM_MODE_AGGREGATE), so no record
// crosses the ring buffer per transition.
//
// The kernel counts, per state, the sockets it saw enter the state they are
// in (exact, and self-correcting: a socket is uncounted from the state its
// storage names). Sockets it never saw change (they were there before
// tcpfsm) are what a sock_diag dump finds without a counted storage entry;
// that population only shrinks, by the kernel's `unknown_left` counts, until
// the next dump measures it again. Timewait sockets: the same, with the
// kernel's map of tracked ones (`tws`) telling them apart.
#pragma once

#include <array>
#include <cstdint>
#include <unordered_map>
#include <vector>

#include "account/tables.hpp"
#include "kernel/kernel_counts.hpp"
#include "model/socket_record.hpp"
#include "tcpfsm/event.h"

namespace tcpfsm {

class KernelTable : public TcpTables {
 public:
  // The newest kernel counts.
  void update(const KernelAggregates& now);

  // Measures again the sockets tcpfsm never saw enter their state, from a
  // dump (made with the storage map, so records carry `counted`) that
  // started at dump_start_ns when the kernel's counts were `at_start` and
  // ended when they were `at_end`. tw_tracked: the keys of map tws read
  // before and after the dump, sorted; a timewait socket in neither is one
  // the kernel does not count.
  //
  // It also checks the kernel's own counts: where nothing entered or left a
  // state while the dump ran, the sockets the dump found counted in it must
  // be exactly the kernel's count. A difference (a socket that left without
  // a tracepoint; rare, and seen on 6.18 under heavy churn) is corrected
  // and reported as drift; only with `complete`, a dump of every namespace
  // the kernel counts in (none unreachable).
  ReconcileResult reconcile(const std::vector<SocketRecord>& dump, const KernelAggregates& at_start,
                            const KernelAggregates& at_end, const std::vector<uint64_t>& tw_tracked,
                            uint64_t dump_start_ns, bool complete = true);

  uint64_t count(uint8_t state, uint8_t family = 0) const override;
  uint64_t tracked() const override;
  uint64_t transitions(uint8_t from, uint8_t to) const override;
  const PerState& entered() const override { return entered_; }
  const PerState& left() const override { return left_; }
  const Closes& closes() const override { return now_.closes; }
  const LifetimeHistogram& lifetime(uint8_t state) const override;
  const LifetimeHistogram& timewait_lifetime(TimewaitEnd how) const override;
  const LifetimeHistogram& fin_wait2_timewait_lifetime() const override;
  const LifetimeHistogram& connect_latency() const override { return now_.hists[TCPFSM_HIST_CONNECTED]; }
  uint64_t timewait_ends(TimewaitEnd how) const override { return now_.tw_ends[static_cast<int>(how)]; }
  std::array<Preexisting, TCPFSM_STATE_MAX> preexisting(uint64_t now_ns) const override;

  const KernelAggregates& aggregates() const { return now_; }

 private:
  // Sockets from before tcpfsm still in (family, state), full or timewait.
  uint64_t unknown(size_t f, uint8_t state, bool timewait) const;

  KernelAggregates now_;
  KernelAggregates::Signed known_fix_{}, tw_known_fix_{};  // corrections of the kernel's counts
  KernelAggregates::Counts unknown_base_{}, tw_unknown_base_{};
  KernelAggregates::Counts left_base_{}, tw_left_base_{};
  // Unknown sockets by cookie: when a dump first found them.
  std::unordered_map<uint64_t, uint64_t> first_seen_;
  std::array<uint64_t, TCPFSM_STATE_MAX> oldest_seen_{};  // per state, 0: none
  PerState entered_{}, left_{};
};

}  // namespace tcpfsm
