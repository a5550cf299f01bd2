// StateTable: the accounting of `stats --records` and replays, from one
// record per transition: how many sockets sit in each state, which
// transitions happened, and how long sockets stayed in each state,
// including the real TIME_WAIT.
//
// Fed by decoded events in ring buffer order, seeded and corrected by
// sock_diag dumps. Sockets are keyed by cookie (never by address, which the
// kernel reuses), counts move only with tracked sockets so none goes
// negative, and a duration is recorded only when its start was seen.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "account/groups.hpp"
#include "account/tables.hpp"
#include "model/event.hpp"
#include "model/lifetime_histogram.hpp"
#include "model/socket_record.hpp"

namespace tcpfsm {

// Told of every timewait socket's end (`life` follows the connections it
// printed into TIME_WAIT): key is the replaced full socket's cookie;
// ns_in_substate is how long it sat in `substate`, when its start was seen.
class TimewaitObserver {
 public:
  virtual ~TimewaitObserver() = default;
  virtual void timewait_ended(uint64_t key, TimewaitEnd how, uint8_t substate, std::optional<uint64_t> ns_in_substate,
                              uint64_t at_ns) = 0;
};

class StateTable : public TcpTables {
 public:
  // A cancelled timewait timer not followed by an expiry or a reschedule
  // within this long was an early kill (tw reuse, RST, netns teardown):
  // the same grace the kernel's counting uses.
  static constexpr uint64_t kKillGraceNs = TCPFSM_TW_KILL_GRACE_NS;

  // With owner filters (pid, comm, cgroup) the kernel cannot filter timewait
  // records, which have no owner: then only timewait sockets that replace a
  // tracked socket are counted.
  explicit StateTable(bool timewait_needs_tracked_socket = false)
      : timewait_needs_tracked_socket_(timewait_needs_tracked_socket) {}

  void apply(const Event& e);
  // Per-group accounting of what this table sees (`--by`); null: none.
  void set_groups(GroupAccounting* groups) { groups_ = groups; }
  void set_timewait_observer(TimewaitObserver* o) { tw_observer_ = o; }
  // Ends timewait sockets whose timers were cancelled before now - grace.
  // Live, `now` is when the last poll began: every record stamped before
  // it has been applied, so a follow-up that was due has arrived.
  void settle(uint64_t now_ns);

  // Call before a sock_diag dump starts: sockets that end from here on are
  // remembered, so a dump that read them before they went can't revive them.
  void begin_dump(uint64_t start_ns) { dump_start_ns_ = start_ns; }

  // Makes the table agree with a dump of `namespaces` that started at
  // dump_start_ns, except for sockets that changed while it ran (their
  // events are newer than the dump). The first call seeds the table.
  ReconcileResult reconcile(const std::vector<SocketRecord>& dump, const std::vector<uint32_t>& namespaces,
                            uint64_t dump_start_ns);

  uint64_t count(uint8_t state, uint8_t family = 0) const override;
  uint64_t tracked() const override { return socks_.size() + tws_.size(); }
  uint64_t transitions(uint8_t from, uint8_t to) const override { return transitions_[from][to]; }
  const Closes& closes() const override { return closes_; }
  const PerState& entered() const override { return entered_; }
  const PerState& left() const override { return left_; }
  const LifetimeHistogram& lifetime(uint8_t state) const override { return lifetimes_[state]; }
  const LifetimeHistogram& timewait_lifetime(TimewaitEnd how) const override {
    return tw_lifetimes_[static_cast<int>(how)];
  }
  const LifetimeHistogram& fin_wait2_timewait_lifetime() const override { return fw2_tw_lifetime_; }
  const LifetimeHistogram& connect_latency() const override { return connect_latency_; }
  uint64_t timewait_ends(TimewaitEnd how) const override { return tw_ends_[static_cast<int>(how)]; }
  std::array<Preexisting, TCPFSM_STATE_MAX> preexisting(uint64_t now_ns) const override;
  // Calls f(group, state) for every socket tracked (set_groups' numbers).
  template <typename F>
  void for_each_socket(F&& f) const {
    for (const Map* m : {&socks_, &tws_})
      for (const auto& [key, t] : *m) f(t.group, t.state);
  }
  // Events that disagreed with what was tracked (a lost or reordered event
  // before them); the socket was resynchronised to the event.
  uint64_t resyncs() const override { return resyncs_; }

 private:
  struct Tracked {
    uint8_t family = 0;
    uint8_t state = 0;
    bool request = false;
    bool entry_known = false;  // entered_ns is when it entered `state`
    uint32_t netns = 0;
    uint64_t entered_ns = 0;
    uint64_t seen_ns = 0;        // first seen (a dump's start for dumped sockets)
    uint64_t last_event_ns = 0;  // newest event applied
    // timewait only
    bool start_known = false;
    uint32_t group = 0;  // with set_groups: the group its records belong to
    uint64_t start_ns = 0;
    uint64_t cancel_ns = 0;  // pending cancel, 0 none
  };
  using Map = std::unordered_map<uint64_t, Tracked>;

  void apply_state(const Event& e);
  void apply_timewait(const Event& e);
  void end_timewait(Map::iterator it, TimewaitEnd how, uint64_t at_ns);
  void add(Map& m, uint64_t key, const Tracked& t);
  void erase(Map& m, Map::iterator it, uint64_t at_ns);
  void move(Tracked& t, uint8_t state);
  uint64_t& gauge(uint8_t family, uint8_t state);

  bool timewait_needs_tracked_socket_;
  GroupAccounting* groups_ = nullptr;
  TimewaitObserver* tw_observer_ = nullptr;
  Map socks_;  // full and request sockets, by cookie
  Map tws_;    // timewait sockets, by cookie (the replaced socket's)
  // Timewait sockets with a pending cancel: settle() looks only at these.
  std::unordered_set<uint64_t> cancelled_;
  // Keys erased since the last dump started: not resurrected by a dump that
  // read them before they went.
  std::unordered_set<uint64_t> erased_socks_, erased_tws_;
  uint64_t dump_start_ns_ = UINT64_MAX;

  std::array<std::array<uint64_t, TCPFSM_STATE_MAX>, 2> gauges_{};  // [v6][state]
  std::array<std::array<uint64_t, TCPFSM_STATE_MAX>, TCPFSM_STATE_MAX> transitions_{};
  Closes closes_{};
  PerState entered_{}, left_{};
  std::array<LifetimeHistogram, TCPFSM_STATE_MAX> lifetimes_;
  std::array<LifetimeHistogram, 2> tw_lifetimes_;
  LifetimeHistogram fw2_tw_lifetime_;
  LifetimeHistogram connect_latency_;
  std::array<uint64_t, 2> tw_ends_{};
  uint64_t resyncs_ = 0;
};

}  // namespace tcpfsm
