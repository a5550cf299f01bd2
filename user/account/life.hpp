// LifeTracker: one line per connection (`tcpfsm life`), from the records of
// one run or a capture. Each full socket is followed by cookie from its
// first record to the one into CLOSE, which carries the connection's totals
// (bytes, retransmissions, srtt) and cause; the path it took, with the time
// in each state, comes from the records in between. A timewait socket that
// takes over the connection outlives that line: its end is reported later,
// by cookie (TimewaitFollowUp).
#pragma once

#include <cstdint>
#include <optional>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "account/state_table.hpp"
#include "model/event.hpp"

namespace tcpfsm {

// Who sent the first FIN: this end (FIN_WAIT1), the peer (CLOSE_WAIT), both
// at once (CLOSING), or nobody (a reset, a failed connect, an abort).
enum class Closer : uint8_t { None = 0, Active = 1, Passive = 2, Simultaneous = 3 };
std::string_view closer_name(Closer c);

struct StateSpan {
  uint8_t state = 0;
  std::optional<uint64_t> ns;  // time in it; empty when its start was not seen
};

struct ConnectionLife {
  // The record into CLOSE: endpoints, cause, totals, when. Its owner is the
  // socket's last known owner when the close itself had none.
  Event close;
  uint64_t start_ns = 0;     // CLOCK_MONOTONIC; when first seen if !start_known
  bool start_known = false;  // seen from its first state (SYN_SENT, SYN_RECV)
  std::vector<StateSpan> path;
  Closer closer = Closer::None;
  bool time_wait = false;  // a timewait socket took over: a TimewaitFollowUp follows
  uint64_t duration_ns() const { return close.ts_ns >= start_ns ? close.ts_ns - start_ns : 0; }
  // What the application sent and received: the kernel's bytes_acked and
  // bytes_received count sequence space, so an acknowledged SYN (active
  // open) and FIN, and the peer's FIN, each add one; the path says which
  // happened. Empty when the path does not decide (first seen mid-life).
  std::optional<uint64_t> payload_sent() const;
  std::optional<uint64_t> payload_received() const;
};

// How a connection's timewait socket ended, or that it had not when the
// run stopped (still_open).
struct TimewaitFollowUp {
  uint64_t cookie = 0;
  bool still_open = false;
  TimewaitEnd how = TimewaitEnd::Expired;
  uint8_t substate = 0;        // TIME_WAIT, or FIN_WAIT2 for an orphan that never got its FIN
  std::optional<uint64_t> ns;  // time in that substate
  uint64_t at_ns = 0;          // when it ended (CLOCK_MONOTONIC); 0 if still open
};

class LifeSink {
 public:
  virtual ~LifeSink() = default;
  virtual void on_life(const ConnectionLife& life) = 0;
  virtual void on_timewait(const TimewaitFollowUp& f) = 0;
};

class LifeTracker : public EventSink, private TimewaitObserver {
 public:
  static constexpr size_t kDefaultMaxTracked = 1 << 20;
  LifeTracker(LifeSink& sink, size_t max_tracked = kDefaultMaxTracked);

  void on_event(const Event& e) override;
  // Ends timewait sockets whose kill is settled (StateTable::settle).
  void settle(uint64_t now_ns) { table_.settle(now_ns); }
  // The run is over: every timewait socket still followed is reported open.
  void finish();

  // Connections that closed unfollowed because max_tracked were open at
  // once (counted at their close, which prints no line). Shown in every
  // output's summary.
  uint64_t untracked() const { return untracked_; }
  size_t open() const { return conns_.size(); }

 private:
  struct Open {
    uint64_t start_ns = 0;
    bool start_known = false;
    bool listener = false;
    bool timewait_started = false;
    uint64_t last_ns = 0;  // the newest record's time
    uint32_t pid = 0;
    Owner owner = Owner::None;
    std::array<char, 16> comm{};
    std::vector<StateSpan> path;
  };
  void timewait_ended(uint64_t key, TimewaitEnd how, uint8_t substate, std::optional<uint64_t> ns_in_substate,
                      uint64_t at_ns) override;
  void apply_state(const Event& e);

  LifeSink& sink_;
  size_t max_tracked_;
  StateTable table_;
  std::unordered_map<uint64_t, Open> conns_;       // by cookie
  std::unordered_set<uint64_t> timewait_pending_;  // cookies whose line said time_wait
  uint64_t untracked_ = 0;
};

}  // namespace tcpfsm
