// Decoding and encoding ring buffer records, and the names of their enums.
#include "model/event.hpp"

#include <arpa/inet.h>
#include <sys/socket.h>

#include <cstring>

#include "model/tcp_state.hpp"

namespace tcpfsm {
namespace {

// One table per enum, indexed by its kernel value: the writer and the
// reader of captures both go through these, and a value added to event.h
// without a name here fails the static_asserts.
constexpr std::array<std::string_view, TCPFSM_OWNER_MAX> kOwnerNames = {"none", "task", "recorded", "listener"};
static_assert(TCPFSM_OWNER_NONE == 0 && TCPFSM_OWNER_LISTENER == 3 && TCPFSM_OWNER_MAX <= TCPFSM_F_OWNER_MASK + 1);

constexpr std::array<std::string_view, TCPFSM_EV_KIND_MAX> kKindNames = {"",       "state",  "start",
                                                                         "cancel", "expire", "substate"};
static_assert(TCPFSM_EV_STATE == 1 && TCPFSM_EV_TW_SUBSTATE == TCPFSM_EV_KIND_MAX - 1);

constexpr std::array<std::string_view, TCPFSM_CAUSE_MAX> kCauseNames = {
    "unknown",
    "fin",
    "orphaned",
    "rst_received",
    "refused",
    "unreachable",
    "timeout",
    "syn_timeout",
    "keepalive",
    "no_local_port",
    "connect_aborted",
    "listener_closed",
    "closed",
    "killed",
    "rst_sent:abort_on_close",
    "rst_sent:tcp_state",
    "rst_sent:abort_on_linger",
    "rst_sent:abort_on_memory",
    "rst_sent:disconnect_with_data",
    "other",
};
static_assert(TCPFSM_CAUSE_FIN == 1 && TCPFSM_CAUSE_RST_ABORT_ON_CLOSE == 14 && TCPFSM_CAUSE_OTHER == 19 &&
              TCPFSM_CAUSE_OTHER == TCPFSM_CAUSE_MAX - 1);

template <size_t N>
std::optional<size_t> index_of(const std::array<std::string_view, N>& names, std::string_view name) {
  for (size_t i = 0; i < N; ++i) {
    if (!names[i].empty() && names[i] == name) return i;
  }
  return std::nullopt;
}

}  // namespace

std::string_view owner_name(Owner owner) {
  const auto i = static_cast<size_t>(owner);
  return i < kOwnerNames.size() ? kOwnerNames[i] : kOwnerNames[0];
}

std::optional<Owner> parse_owner(std::string_view name) {
  const auto i = index_of(kOwnerNames, name);
  return i ? std::optional(static_cast<Owner>(*i)) : std::nullopt;
}

std::string_view kind_name(EventKind kind) {
  const auto i = static_cast<size_t>(kind);
  return i < kKindNames.size() && i > 0 ? kKindNames[i] : kKindNames[TCPFSM_EV_STATE];
}

std::optional<EventKind> parse_kind(std::string_view name) {
  const auto i = index_of(kKindNames, name);
  return i ? std::optional(static_cast<EventKind>(*i)) : std::nullopt;
}

std::string_view cause_name(uint8_t cause) {
  return cause < kCauseNames.size() ? kCauseNames[cause] : kCauseNames[TCPFSM_CAUSE_UNKNOWN];
}

std::optional<uint8_t> parse_cause(std::string_view name) {
  const auto i = index_of(kCauseNames, name);
  return i ? std::optional(static_cast<uint8_t>(*i)) : std::nullopt;
}

std::optional<uint8_t> parse_family(std::string_view name) {
  if (name == "ipv4") return AF_INET;
  if (name == "ipv6") return AF_INET6;
  return std::nullopt;
}

std::string_view Event::comm_view() const { return {comm.data(), strnlen(comm.data(), comm.size())}; }

Result<Event> decode_event(std::span<const std::byte> record) {
  if (record.size() != sizeof(tcpfsm_event)) {
    return Error::runtime("malformed record: " + std::to_string(record.size()) + " bytes, expected " +
                          std::to_string(sizeof(tcpfsm_event)));
  }
  tcpfsm_event raw;
  std::memcpy(&raw, record.data(), sizeof(raw));
  if (raw.kind < TCPFSM_EV_STATE || raw.kind >= TCPFSM_EV_KIND_MAX)
    return Error::runtime("malformed record: unknown kind " + std::to_string(raw.kind));
  if (raw.family != AF_INET && raw.family != AF_INET6)
    return Error::runtime("malformed record: unknown family " + std::to_string(raw.family));
  if (raw.kind == TCPFSM_EV_STATE) {
    if (!valid_state(raw.oldstate) || !valid_state(raw.newstate))
      return Error::runtime("malformed record: state out of range");
    constexpr uint8_t known_flags = TCPFSM_F_OWNER_MASK | TCPFSM_F_PREV_KNOWN | TCPFSM_F_RESCUED;
    if (raw.flags & ~known_flags) return Error::runtime("malformed record: unknown flags");
    // A cause is only ever set on a transition into CLOSE.
    if (raw.cause >= TCPFSM_CAUSE_MAX || (raw.cause != 0 && raw.newstate != TCPFSM_CLOSE))
      return Error::runtime("malformed record: cause " + std::to_string(raw.cause) + " out of range");
  } else {
    // A timewait record has a substate and nothing else of a transition.
    if (raw.oldstate != 0 || !valid_state(raw.newstate) || raw.flags != 0 || raw.pid != 0 || raw.cause != 0)
      return Error::runtime("malformed timewait record");
  }
  const bool has_totals = raw.bytes_acked || raw.bytes_received || raw.total_retrans || raw.srtt_us;
  const bool into_close = raw.kind == TCPFSM_EV_STATE && raw.newstate == TCPFSM_CLOSE;
  const bool connected =
      raw.kind == TCPFSM_EV_STATE && raw.oldstate == TCPFSM_SYN_SENT && raw.newstate == TCPFSM_ESTABLISHED;
  if (has_totals && !into_close && !(connected && !raw.bytes_acked && !raw.bytes_received && !raw.srtt_us))
    return Error::runtime("malformed record: connection totals outside a transition into CLOSE");

  Event e;
  e.kind = static_cast<EventKind>(raw.kind);
  e.ts_ns = raw.ts_ns;
  e.skaddr = raw.skaddr;
  e.cookie = raw.cookie;
  if (raw.flags & TCPFSM_F_PREV_KNOWN) e.prev_ns = raw.prev_ns;
  e.pid = raw.pid;
  e.netns = raw.netns;
  e.sport = raw.sport;
  e.dport = raw.dport;
  e.family = raw.family;
  e.oldstate = raw.oldstate;
  e.newstate = raw.newstate;
  e.owner = static_cast<Owner>(raw.flags & TCPFSM_F_OWNER_MASK);
  e.rescued = raw.flags & TCPFSM_F_RESCUED;
  e.cause = raw.cause;
  std::memcpy(e.saddr.data(), raw.saddr, sizeof(raw.saddr));
  std::memcpy(e.daddr.data(), raw.daddr, sizeof(raw.daddr));
  std::memcpy(e.comm.data(), raw.comm, sizeof(raw.comm));
  e.comm.back() = '\0';
  e.totals = {raw.bytes_acked, raw.bytes_received, raw.total_retrans, raw.srtt_us};
  return e;
}

tcpfsm_event encode_event(const Event& e) {
  tcpfsm_event raw{};
  raw.ts_ns = e.ts_ns;
  raw.skaddr = e.skaddr;
  raw.cookie = e.cookie;
  raw.prev_ns = e.prev_ns.value_or(0);
  raw.pid = e.pid;
  raw.netns = e.netns;
  raw.sport = e.sport;
  raw.dport = e.dport;
  raw.family = e.family;
  raw.oldstate = e.oldstate;
  raw.newstate = e.newstate;
  raw.kind = static_cast<uint8_t>(e.kind);
  raw.flags = static_cast<uint8_t>(static_cast<uint8_t>(e.owner) | (e.prev_ns ? TCPFSM_F_PREV_KNOWN : 0) |
                                   (e.rescued ? TCPFSM_F_RESCUED : 0));
  raw.cause = e.cause;
  std::memcpy(raw.saddr, e.saddr.data(), sizeof(raw.saddr));
  std::memcpy(raw.daddr, e.daddr.data(), sizeof(raw.daddr));
  std::memcpy(raw.comm, e.comm.data(), sizeof(raw.comm));
  raw.bytes_acked = e.totals.bytes_acked;
  raw.bytes_received = e.totals.bytes_received;
  raw.total_retrans = e.totals.retransmits;
  raw.srtt_us = e.totals.srtt_us;
  return raw;
}

std::string format_addr(uint8_t family, const std::array<uint8_t, 16>& addr) {
  char buf[INET6_ADDRSTRLEN] = {};
  if (family == AF_INET) {
    inet_ntop(AF_INET, addr.data(), buf, sizeof(buf));
  } else if (family == AF_INET6) {
    inet_ntop(AF_INET6, addr.data(), buf, sizeof(buf));
  }
  return buf;
}

}  // namespace tcpfsm
