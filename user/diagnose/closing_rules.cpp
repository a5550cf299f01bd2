// The doctor's rules on closing sockets that wait for an ACK that does not
// come: FIN_WAIT1 (this side closed first), LAST_ACK and CLOSING (this side
// closed second, or both at once). One rule per state, one finding per peer.
#include <fmt/format.h>

#include "diagnose/rules.hpp"
#include "model/tcp_state.hpp"

namespace tcpfsm {
namespace {

// Fewer stalled sockets to one peer are a loss being repaired, not a pattern.
constexpr uint64_t kStalledCount = 5;

std::string_view rule_id(uint8_t state) {
  switch (state) {
    case TCPFSM_FIN_WAIT1:
      return "fin_wait1_stuck";
    case TCPFSM_LAST_ACK:
      return "last_ack_stuck";
    default:
      return "closing_stuck";
  }
}

std::string orphan_retries_text(const TcpSettings& s) {
  if (!s.orphan_retries) return "tcp_orphan_retries (unknown here)";
  return *s.orphan_retries == 0 ? std::string("tcp_orphan_retries = 0, which means 8")
                                : fmt::format("tcp_orphan_retries = {}", *s.orphan_retries);
}

Finding stall_finding(const ClosingStall& c, const DoctorInput& in) {
  const bool zero_window = c.no_ack.zero_window * 2 > c.no_ack.stalled();
  const std::string state(state_name(c.state));
  Finding f;
  f.id = rule_id(c.state);
  f.severity = Severity::Warning;
  f.title = zero_window ? fmt::format("{} sockets in {} to {}: the peer's window is closed, it does not read",
                                      c.no_ack.stalled(), state, c.peer)
                        : fmt::format("{} sockets in {} to {} get no ACK: a dead path or a dead peer",
                                      c.no_ack.stalled(), state, c.peer);
  f.evidence.push_back(fmt::format(
      "{} sockets in {} to {} ({} orphaned): {} retransmitting without an ACK (up to {} timeouts in a row), {} "
      "probing a zero window (sock_diag, tcp_info)",
      c.sockets, state, c.peer, c.orphaned, c.no_ack.retransmitting, c.no_ack.max_retransmits, c.no_ack.zero_window));
  f.evidence.push_back(fmt::format(
      "{} segments unacknowledged, {} bytes in Send-Q; the last ACK from {} came {:.1f} "
      "s ago at most",
      c.no_ack.unacked_segments, c.no_ack.send_q_bytes, c.peer, static_cast<double>(c.since_last_ack_ms) / 1e3));
  const auto& s = in.after.settings;
  const std::string bound = fmt::format(
      "An orphan (closed by its process) gives up after {} retransmissions or probes with backoff, and is then "
      "dropped; a socket a process still holds, after tcp_retries2. tcp_orphan_retries bounds how long they "
      "linger; it repairs nothing on the path.",
      orphan_retries_text(s));
  const std::string what = c.state == TCPFSM_FIN_WAIT1
                               ? "FIN_WAIT1 is the side that closed first, waiting for the ACK of its FIN and "
                                 "of the data before it."
                               : fmt::format(
                                     "{} is the side that closed second (or both at once), waiting for "
                                     "the ACK of its FIN.",
                                     state);
  // ss's filter names the states in lowercase, with dashes.
  const std::string ss = fmt::format("'ss -tnoi state {} dst {}'",
                                     c.state == TCPFSM_FIN_WAIT1  ? "fin-wait-1"
                                     : c.state == TCPFSM_LAST_ACK ? "last-ack"
                                                                  : "closing",
                                     c.peer);
  if (zero_window) {
    f.explanation = what +
                    " The peer acknowledges but advertises a zero window: its application stopped reading, so "
                    "the data queued here and the FIN behind it cannot be sent; the kernel probes the window. " +
                    bound;
    f.action = fmt::format(
        "Look at the process on {} that owns these connections: its receive queues are full (ss -tnm there shows "
        "Recv-Q). Here, {} shows the probe timers.",
        c.peer, ss);
  } else {
    f.explanation = what +
                    " Retransmission timeouts with no ACK since mean that nothing from the peer arrives: a route "
                    "or firewall dropping its packets, a link down, or a peer that is gone. " +
                    bound;
    f.action = fmt::format(
        "Check the path to {}: ping and traceroute from here, routes, firewall rules dropping its replies. {} shows "
        "the retransmission timers.",
        c.peer, ss);
  }
  return f;
}

void check_stalls(uint8_t state, const DoctorInput& in, std::vector<Finding>& out) {
  if (!in.observation) return;
  for (const auto& c : in.observation->closing)
    if (c.state == state && c.no_ack.stalled() >= kStalledCount) out.push_back(stall_finding(c, in));
}

}  // namespace

void check_fin_wait1_stuck(const DoctorInput& in, std::vector<Finding>& out) {
  check_stalls(TCPFSM_FIN_WAIT1, in, out);
}
void check_last_ack_stuck(const DoctorInput& in, std::vector<Finding>& out) { check_stalls(TCPFSM_LAST_ACK, in, out); }
void check_closing_stuck(const DoctorInput& in, std::vector<Finding>& out) { check_stalls(TCPFSM_CLOSING, in, out); }

}  // namespace tcpfsm
