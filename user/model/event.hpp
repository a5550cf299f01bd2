// Event: the decoded, validated form of a ring buffer record, and the names
// of its enums. Everything past the decoder works on Event, never on bytes.
#pragma once

#include <sys/socket.h>

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>

#include "base/result.hpp"
#include "tcpfsm/event.h"

namespace tcpfsm {

enum class Owner : uint8_t {
  None = TCPFSM_OWNER_NONE,
  Task = TCPFSM_OWNER_TASK,
  Recorded = TCPFSM_OWNER_RECORDED,
  Listener = TCPFSM_OWNER_LISTENER,
};

// "none", "task", "recorded", "listener"; parse_owner is its inverse.
std::string_view owner_name(Owner owner);
std::optional<Owner> parse_owner(std::string_view name);

enum class EventKind : uint8_t {
  State = TCPFSM_EV_STATE,             // a full socket changed state
  TwStart = TCPFSM_EV_TW_START,        // a timewait socket's timer was (re)scheduled
  TwCancel = TCPFSM_EV_TW_CANCEL,      // ... was cancelled: expiry, reschedule or early kill follows
  TwExpire = TCPFSM_EV_TW_EXPIRE,      // ... fired: the timewait socket ends
  TwSubstate = TCPFSM_EV_TW_SUBSTATE,  // FIN_WAIT2 substate -> TIME_WAIT, seen by the sweep
};

// "state", "start", "cancel", "expire", "substate"; parse_kind is its inverse.
std::string_view kind_name(EventKind kind);
std::optional<EventKind> parse_kind(std::string_view name);

// "ipv4" for AF_INET, "ipv6" for AF_INET6: the one spelling of a family in
// every output (JSON, metric labels); "" for anything else.
constexpr std::string_view family_name(uint8_t family) {
  return family == AF_INET ? "ipv4" : family == AF_INET6 ? "ipv6" : "";
}
std::optional<uint8_t> parse_family(std::string_view name);

// enum tcpfsm_close_cause by name: "fin", "rst_received",
// "rst_sent:abort_on_close", ... (README, "closed by"); parse_cause is its
// inverse. kCauseCount is the number of causes (TCPFSM_CAUSE_MAX).
inline constexpr size_t kCauseCount = TCPFSM_CAUSE_MAX;
std::string_view cause_name(uint8_t cause);
std::optional<uint8_t> parse_cause(std::string_view name);

// For kind State: a transition oldstate -> newstate of the socket `cookie`.
// For the timewait kinds: skaddr is the inet_timewait_sock, cookie that of
// the full socket it replaced, newstate its substate (TIME_WAIT or
// FIN_WAIT2), oldstate 0, and there is no owner.
// A connection's totals as its socket entered CLOSE (tcpfsm_event's tail).
// A connect that established (SYN_SENT -> ESTABLISHED) carries retransmits
// alone: the SYNs it retransmitted.
struct ConnTotals {
  uint64_t bytes_acked = 0;     // sent and acknowledged
  uint64_t bytes_received = 0;  // received in order
  uint32_t retransmits = 0;     // segments retransmitted over its life
  uint32_t srtt_us = 0;         // smoothed round-trip time
  bool operator==(const ConnTotals&) const = default;
};

struct Event {
  EventKind kind = EventKind::State;
  uint64_t ts_ns = 0;  // CLOCK_MONOTONIC
  uint64_t skaddr = 0;
  uint64_t cookie = 0;
  std::optional<uint64_t> prev_ns;  // time spent in oldstate, when known
  uint32_t pid = 0;
  uint32_t netns = 0;
  uint16_t sport = 0;
  uint16_t dport = 0;
  uint8_t family = 0;  // AF_INET or AF_INET6
  uint8_t oldstate = 0;
  uint8_t newstate = 0;
  Owner owner = Owner::None;
  bool rescued = false;
  uint8_t cause = TCPFSM_CAUSE_UNKNOWN;  // enum tcpfsm_close_cause; newstate CLOSE only
  std::array<uint8_t, 16> saddr{};
  std::array<uint8_t, 16> daddr{};
  std::array<char, 16> comm{};  // always NUL-terminated
  ConnTotals totals;            // newstate CLOSE (and SYN_SENT -> ESTABLISHED's retransmits); else zero

  std::string_view comm_view() const;
  bool is_timewait() const { return kind != EventKind::State; }
  // A state record of a connect that established: its totals.retransmits
  // are the SYNs it retransmitted.
  bool is_connected() const {
    return kind == EventKind::State && oldstate == TCPFSM_SYN_SENT && newstate == TCPFSM_ESTABLISHED;
  }
};

// Where decoded events go: a view, the accounting, a test's collector.
class EventSink {
 public:
  virtual ~EventSink() = default;
  virtual void on_event(const Event& e) = 0;
};

// Checks size, kind, states, family and flags of one ring buffer record.
Result<Event> decode_event(std::span<const std::byte> record);

// The inverse of decode_event, for tests, replay and fuzzing seeds.
tcpfsm_event encode_event(const Event& event);

// "127.0.0.1" / "::1"; the empty string for an unknown family.
std::string format_addr(uint8_t family, const std::array<uint8_t, 16>& addr);

}  // namespace tcpfsm
