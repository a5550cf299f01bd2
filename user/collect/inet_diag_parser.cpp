// The pure half of sock_diag: parsing a netlink reply to an inet_diag dump
// into SocketRecords. No I/O; fuzzed by fuzz/fuzz_sock_diag.cpp.
#include <fmt/format.h>
#include <linux/inet_diag.h>
#include <linux/netlink.h>
#include <linux/sock_diag.h>
#include <linux/tcp.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <algorithm>
#include <cerrno>
#include <climits>
#include <cstring>
#include <optional>
#include <string>
#include <system_error>

#include "collect/sock_diag.hpp"
#include "tcpfsm/event.h"

namespace tcpfsm {
namespace {

constexpr uint8_t kTcpSynRecv = 3;  // include/net/tcp_states.h

constexpr size_t kHdrLen = NLMSG_HDRLEN;
constexpr size_t kMsgLen = NLMSG_ALIGN(sizeof(inet_diag_msg));

// NLMSG_ALIGN and NLA_ALIGN: both round up to 4.
constexpr size_t align4(size_t n) { return (n + 3) & ~size_t{3}; }

// Reads a T from possibly unaligned bytes; the caller has checked the length.
template <typename T>
T load(const std::byte* p) {
  T v;
  std::memcpy(&v, p, sizeof(v));
  return v;
}

// A kernel errno that arrived as a negative int; INT_MIN or a positive value is garbage.
int negated_errno(int value) { return value < 0 && value != INT_MIN ? -value : EPROTO; }

// Calls fn(type, payload, payload_len) for each attribute in [p, p + len).
// False when an attribute header or length is bad.
template <typename Fn>
bool walk_attrs(const std::byte* p, size_t len, Fn&& fn) {
  while (len >= sizeof(nlattr)) {
    const auto a = load<nlattr>(p);
    if (a.nla_len < sizeof(nlattr) || a.nla_len > len) return false;
    if (!fn(a.nla_type & NLA_TYPE_MASK, p + NLA_HDRLEN, a.nla_len - std::min<size_t>(NLA_HDRLEN, a.nla_len)))
      return false;
    const size_t step = std::min(align4(a.nla_len), len);
    p += step;
    len -= step;
  }
  return len == 0;  // otherwise: bytes too few for an attribute header
}

struct Attrs {
  bool shutdown = false;  // INET_DIAG_SHUTDOWN present: a full socket
  std::optional<uint32_t> last_ack_recv_ms;
  std::optional<SendState> send;
  std::optional<DataTimes> data;
  std::optional<tcpfsm_sk_info> storage;
};

// The attributes of one SOCK_DIAG_BY_FAMILY message; nullopt when malformed.
std::optional<Attrs> parse_attrs(const std::byte* p, size_t len) {
  Attrs out;
  auto storage_value = [&](uint16_t type, const std::byte* v, size_t vlen) {
    if (type == SK_DIAG_BPF_STORAGE_MAP_VALUE && vlen >= sizeof(tcpfsm_sk_info)) out.storage = load<tcpfsm_sk_info>(v);
    return true;
  };
  auto storages = [&](uint16_t type, const std::byte* v, size_t vlen) {
    return type != SK_DIAG_BPF_STORAGE || walk_attrs(v, vlen, storage_value);
  };
  const bool ok = walk_attrs(p, len, [&](uint16_t type, const std::byte* v, size_t vlen) {
    switch (type) {
      case INET_DIAG_SHUTDOWN:
        out.shutdown = true;
        return true;
      case INET_DIAG_INFO:
        // Older kernels send a shorter tcp_info: then the field is absent.
        if (vlen >= offsetof(tcp_info, tcpi_last_ack_recv) + sizeof(uint32_t)) {
          out.last_ack_recv_ms = load<uint32_t>(v + offsetof(tcp_info, tcpi_last_ack_recv));
          SendState s;
          s.retransmits = load<uint8_t>(v + offsetof(tcp_info, tcpi_retransmits));
          s.probes = load<uint8_t>(v + offsetof(tcp_info, tcpi_probes));
          s.unacked = load<uint32_t>(v + offsetof(tcp_info, tcpi_unacked));
          if (vlen >= offsetof(tcp_info, tcpi_total_retrans) + sizeof(uint32_t))
            s.total_retrans = load<uint32_t>(v + offsetof(tcp_info, tcpi_total_retrans));
          out.send = s;
          out.data = DataTimes{load<uint32_t>(v + offsetof(tcp_info, tcpi_last_data_sent)),
                               load<uint32_t>(v + offsetof(tcp_info, tcpi_last_data_recv))};
        }
        return true;
      case INET_DIAG_SK_BPF_STORAGES:
        return walk_attrs(v, vlen, storages);
      default:
        return true;
    }
  });
  if (!ok) return std::nullopt;
  return out;
}

std::string malformed(const std::string& what) {
  return "malformed sock_diag reply: " + what + "; the kernel's answer could not be parsed, please report this";
}

// The record of one SOCK_DIAG_BY_FAMILY message at offset `off`.
Result<SocketRecord> socket_record(const std::byte* payload, size_t plen, size_t off, uint32_t netns) {
  if (plen < sizeof(inet_diag_msg)) {
    return Error::runtime(
        malformed(fmt::format("socket record at offset {} has a {}-byte payload, expected at least {}", off, plen,
                              sizeof(inet_diag_msg))),
        EPROTO);
  }
  const auto m = load<inet_diag_msg>(payload);
  if (m.idiag_family != AF_INET && m.idiag_family != AF_INET6) {
    return Error::runtime(
        malformed(fmt::format("socket record at offset {} has address family {}", off, m.idiag_family)), EPROTO);
  }
  const size_t attr_off = std::min(kMsgLen, plen);
  const auto attrs = parse_attrs(payload + attr_off, plen - attr_off);
  if (!attrs) {
    return Error::runtime(malformed(fmt::format("socket record at offset {} has a malformed attribute", off)), EPROTO);
  }

  SocketRecord r;
  r.family = m.idiag_family;
  r.state = m.idiag_state;
  // Only tcp_twsk_diag_fill() (inet_twsk_diag_fill() in older kernels) sets idiag_timer = 3;
  // full sockets use 0/1/2/4 and request sockets 1.
  r.timewait = m.idiag_timer == kDiagTimerTimeWait;
  // tcp_req_diag_fill() reports TCP_SYN_RECV with no attributes but INET_DIAG_MARK, while every
  // full socket carries INET_DIAG_SHUTDOWN (inet_diag_msg_attrs_fill), TFO children in SYN_RECV too.
  r.request = !r.timewait && m.idiag_state == kTcpSynRecv && !attrs->shutdown;
  r.cookie = uint64_t{m.id.idiag_cookie[0]} | uint64_t{m.id.idiag_cookie[1]} << 32;
  r.inode = m.idiag_inode;
  r.uid = m.idiag_uid;
  r.netns = netns;
  r.expires_ms = m.idiag_expires;
  r.timer = m.idiag_timer;
  r.retrans = m.idiag_retrans;
  const size_t addr_len = m.idiag_family == AF_INET ? 4 : 16;
  std::memcpy(r.saddr.data(), m.id.idiag_src, addr_len);
  std::memcpy(r.daddr.data(), m.id.idiag_dst, addr_len);
  r.sport = ntohs(m.id.idiag_sport);
  r.dport = ntohs(m.id.idiag_dport);
  if (!r.timewait && !r.request) {
    r.rqueue = m.idiag_rqueue;
    r.wqueue = m.idiag_wqueue;
  }
  if (attrs->last_ack_recv_ms) {
    r.has_last_ack_recv = true;
    r.last_ack_recv_ms = *attrs->last_ack_recv_ms;
  }
  if (attrs->send) r.send = *attrs->send;
  if (attrs->data && !r.timewait && !r.request) r.data = *attrs->data;
  // The storage dates the state it names; an entry cloned from a
  // listener, or one of a state the socket has left, dates nothing.
  if (attrs->storage && attrs->storage->ts_ns && attrs->storage->state == r.state && !r.timewait)
    r.state_since_ns = attrs->storage->ts_ns;
  if (attrs->storage && !r.timewait) r.counted = attrs->storage->counted;
  return r;
}

// NLMSG_DONE: the end, unless it carries the errno of a dump that failed midway.
Result<DumpProgress> dump_done(const std::byte* payload, size_t plen) {
  if (plen >= sizeof(int)) {
    const int status = load<int>(payload);
    if (status < 0) {
      const int err = negated_errno(status);
      return Error::runtime("the kernel aborted the sock_diag dump: " + errno_text(err) + "; retry the dump", err);
    }
  }
  return DumpProgress::Done;
}

// NLMSG_ERROR: an acknowledgement (status 0) or the request's rejection.
Status dump_error(const std::byte* payload, size_t plen, size_t off) {
  if (plen < sizeof(int)) {
    return Error::runtime(malformed(fmt::format("NLMSG_ERROR at offset {} has a {}-byte payload", off, plen)), EPROTO);
  }
  const int status = load<int>(payload);
  if (status == 0) return Ok{};
  const int err = negated_errno(status);
  return Error::runtime("the kernel rejected the sock_diag dump request: " + errno_text(err) +
                            "; check that the inet_diag and tcp_diag kernel modules are available",
                        err);
}

// The header of the message at `off`, checked against what is left.
Result<nlmsghdr> message_header(std::span<const std::byte> buf, size_t off) {
  const size_t left = buf.size() - off;
  if (left < sizeof(nlmsghdr)) {
    return Error::runtime(malformed(fmt::format("{} bytes at offset {} are too short for a netlink header", left, off)),
                          EPROTO);
  }
  const auto h = load<nlmsghdr>(buf.data() + off);
  if (h.nlmsg_len < kHdrLen) {
    return Error::runtime(
        malformed(fmt::format("netlink message at offset {} has length {}, shorter than its header", off, h.nlmsg_len)),
        EPROTO);
  }
  if (h.nlmsg_len > left) {
    return Error::runtime(malformed(fmt::format("netlink message at offset {} claims {} bytes but only {} remain", off,
                                                h.nlmsg_len, left)),
                          EPROTO);
  }
  return h;
}

}  // namespace

Result<DumpProgress> parse_inet_diag(std::span<const std::byte> buf, uint32_t netns, std::vector<SocketRecord>& out) {
  const size_t first = out.size();
  // On any error `out` is left as it was: no records from a reply that failed halfway.
  auto fail = [&](const Error& e) -> Result<DumpProgress> {
    out.resize(first);
    return e;
  };
  if (buf.empty()) return fail(Error::runtime(malformed("empty netlink datagram"), EPROTO));

  size_t off = 0;
  while (off < buf.size()) {
    const auto h = message_header(buf, off);
    if (!h) return fail(h.error());
    const std::byte* payload = buf.data() + off + kHdrLen;
    const size_t plen = h->nlmsg_len - kHdrLen;
    switch (h->nlmsg_type) {
      case NLMSG_DONE: {
        auto done = dump_done(payload, plen);
        if (!done) return fail(done.error());
        return done;
      }
      case NLMSG_ERROR:
        if (auto st = dump_error(payload, plen, off); !st) return fail(st.error());
        break;
      case NLMSG_NOOP:
        break;
      case SOCK_DIAG_BY_FAMILY: {
        auto r = socket_record(payload, plen, off, netns);
        if (!r) return fail(r.error());
        out.push_back(r.value());
        break;
      }
      default:
        return fail(Error::runtime(
            malformed(fmt::format("unexpected netlink message type {} at offset {}", h->nlmsg_type, off)), EPROTO));
    }
    // The last message of a datagram may lack its alignment padding.
    off += std::min(align4(h->nlmsg_len), buf.size() - off);
  }
  return DumpProgress::More;
}

}  // namespace tcpfsm
