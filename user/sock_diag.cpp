// SockDiagSnapshot: every TCP socket of a network namespace from a
// NETLINK_SOCK_DIAG dump, the same source `ss -tan` reads.
#include "tcpfsm/sock_diag.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <fmt/format.h>
#include <linux/inet_diag.h>
#include <linux/netlink.h>
#include <linux/sock_diag.h>
#include <linux/tcp.h>
#include <netinet/in.h>
#include <sched.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <climits>
#include <cstring>
#include <exception>
#include <map>
#include <optional>
#include <string>
#include <system_error>
#include <thread>
#include <utility>

#include "tcpfsm/event.h"

namespace tcpfsm {
namespace {

constexpr uint8_t kTcpSynRecv = 3;     // include/net/tcp_states.h
constexpr uint8_t kTimerTimeWait = 3;  // idiag_timer value only tcp_twsk_diag_fill() writes

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

std::string errno_text(int err) { return std::system_category().message(err); }

// A kernel errno that arrived as a negative int; INT_MIN or a positive value is garbage.
int negated_errno(int value) { return value < 0 && value != INT_MIN ? -value : EPROTO; }

class UniqueFd {
 public:
  explicit UniqueFd(int fd) : fd_(fd) {}
  UniqueFd(const UniqueFd&) = delete;
  UniqueFd& operator=(const UniqueFd&) = delete;
  ~UniqueFd() {
    if (fd_ >= 0) ::close(fd_);
  }
  int get() const { return fd_; }

 private:
  int fd_;
};

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
      case INET_DIAG_SHUTDOWN: out.shutdown = true; return true;
      case INET_DIAG_INFO:
        // Older kernels send a shorter tcp_info: then the field is absent.
        if (vlen >= offsetof(tcp_info, tcpi_last_ack_recv) + sizeof(uint32_t))
          out.last_ack_recv_ms = load<uint32_t>(v + offsetof(tcp_info, tcpi_last_ack_recv));
        return true;
      case INET_DIAG_SK_BPF_STORAGES: return walk_attrs(v, vlen, storages);
      default: return true;
    }
  });
  if (!ok) return std::nullopt;
  return out;
}

std::string malformed(const std::string& what) {
  return "malformed sock_diag reply: " + what + "; the kernel's answer could not be parsed, please report this";
}

}  // namespace

Result<DumpProgress> parse_inet_diag(std::span<const std::byte> buf, uint32_t netns, std::vector<SocketRecord>& out) {
  const size_t first = out.size();
  // On any error `out` is left as it was: no records from a reply that failed halfway.
  auto fail = [&](std::string msg, int err) -> Result<DumpProgress> {
    out.resize(first);
    return Error::runtime(std::move(msg), err);
  };
  if (buf.empty()) return fail(malformed("empty netlink datagram"), EPROTO);

  size_t off = 0;
  while (off < buf.size()) {
    const size_t left = buf.size() - off;
    if (left < sizeof(nlmsghdr)) {
      return fail(malformed(fmt::format("{} bytes at offset {} are too short for a netlink header", left, off)),
                  EPROTO);
    }
    const std::byte* msg = buf.data() + off;
    const auto h = load<nlmsghdr>(msg);
    if (h.nlmsg_len < kHdrLen) {
      return fail(malformed(fmt::format("netlink message at offset {} has length {}, shorter than its header", off,
                                        h.nlmsg_len)),
                  EPROTO);
    }
    if (h.nlmsg_len > left) {
      return fail(malformed(fmt::format("netlink message at offset {} claims {} bytes but only {} remain", off,
                                        h.nlmsg_len, left)),
                  EPROTO);
    }
    const std::byte* payload = msg + kHdrLen;
    const size_t plen = h.nlmsg_len - kHdrLen;

    switch (h.nlmsg_type) {
      case NLMSG_DONE: {
        // A dump that failed midway ends with NLMSG_DONE carrying the negative errno.
        if (plen >= sizeof(int)) {
          const int status = load<int>(payload);
          if (status < 0) {
            const int err = negated_errno(status);
            return fail("the kernel aborted the sock_diag dump: " + errno_text(err) + "; retry the dump", err);
          }
        }
        return DumpProgress::Done;
      }
      case NLMSG_ERROR: {
        if (plen < sizeof(int)) {
          return fail(malformed(fmt::format("NLMSG_ERROR at offset {} has a {}-byte payload", off, plen)), EPROTO);
        }
        const int status = load<int>(payload);
        if (status == 0) break;  // an acknowledgement, not an error
        const int err = negated_errno(status);
        return fail("the kernel rejected the sock_diag dump request: " + errno_text(err) +
                        "; check that the inet_diag and tcp_diag kernel modules are available",
                    err);
      }
      case NLMSG_NOOP:
        break;
      case SOCK_DIAG_BY_FAMILY: {
        if (plen < sizeof(inet_diag_msg)) {
          return fail(malformed(fmt::format("socket record at offset {} has a {}-byte payload, expected at least {}",
                                            off, plen, sizeof(inet_diag_msg))),
                      EPROTO);
        }
        const auto m = load<inet_diag_msg>(payload);
        if (m.idiag_family != AF_INET && m.idiag_family != AF_INET6) {
          return fail(malformed(fmt::format("socket record at offset {} has address family {}", off, m.idiag_family)),
                      EPROTO);
        }
        const size_t attr_off = std::min(kMsgLen, plen);
        const auto attrs = parse_attrs(payload + attr_off, plen - attr_off);
        if (!attrs) {
          return fail(malformed(fmt::format("socket record at offset {} has a malformed attribute", off)), EPROTO);
        }

        SocketRecord r;
        r.family = m.idiag_family;
        r.state = m.idiag_state;
        // Only tcp_twsk_diag_fill() (inet_twsk_diag_fill() in older kernels) sets idiag_timer = 3;
        // full sockets use 0/1/2/4 and request sockets 1.
        r.timewait = m.idiag_timer == kTimerTimeWait;
        // tcp_req_diag_fill() reports TCP_SYN_RECV with no attributes but INET_DIAG_MARK, while every
        // full socket carries INET_DIAG_SHUTDOWN (inet_diag_msg_attrs_fill), TFO children in SYN_RECV too.
        r.request = !r.timewait && m.idiag_state == kTcpSynRecv && !attrs->shutdown;
        r.cookie = uint64_t{m.id.idiag_cookie[0]} | uint64_t{m.id.idiag_cookie[1]} << 32;
        r.inode = m.idiag_inode;
        r.uid = m.idiag_uid;
        r.netns = netns;
        r.expires_ms = m.idiag_expires;
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
        // The storage dates the state it names; an entry cloned from a
        // listener, or one of a state the socket has left, dates nothing.
        if (attrs->storage && attrs->storage->ts_ns && attrs->storage->state == r.state && !r.timewait)
          r.state_since_ns = attrs->storage->ts_ns;
        if (attrs->storage && !r.timewait) r.counted = attrs->storage->counted;
        out.push_back(r);
        break;
      }
      default:
        return fail(malformed(fmt::format("unexpected netlink message type {} at offset {}", h.nlmsg_type, off)),
                    EPROTO);
    }
    // The last message of a datagram may lack its alignment padding.
    off += std::min(align4(h.nlmsg_len), left);
  }
  return DumpProgress::More;
}

namespace {

const char* family_name(int family) { return family == AF_INET ? "IPv4" : "IPv6"; }

Status dump_family(int fd, int family, uint32_t seq, uint32_t netns, const DumpRequest& want,
                   std::vector<std::byte>& buf, std::vector<SocketRecord>& out) {
  struct {
    nlmsghdr nlh;
    inet_diag_req_v2 req;
    // INET_DIAG_REQ_SK_BPF_STORAGES { SK_DIAG_BPF_STORAGE_REQ_MAP_FD: u32 }
    nlattr storages;
    nlattr map_fd;
    uint32_t fd;
  } request{};
  static_assert(sizeof(request) == sizeof(nlmsghdr) + sizeof(inet_diag_req_v2) + 2 * sizeof(nlattr) + 4);
  const bool storage = want.storage_map_fd >= 0;
  const size_t len = storage ? sizeof(request) : sizeof(nlmsghdr) + sizeof(inet_diag_req_v2);
  request.nlh.nlmsg_len = static_cast<uint32_t>(len);
  request.nlh.nlmsg_type = SOCK_DIAG_BY_FAMILY;
  request.nlh.nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP;
  request.nlh.nlmsg_seq = seq;
  request.req.sdiag_family = static_cast<uint8_t>(family);
  request.req.sdiag_protocol = IPPROTO_TCP;
  request.req.idiag_states = want.states;  // ~0: every state, TIME_WAIT and NEW_SYN_RECV included
  if (want.tcp_info) request.req.idiag_ext = 1U << (INET_DIAG_INFO - 1);
  if (storage) {
    request.storages.nla_len = 2 * sizeof(nlattr) + 4;
    request.storages.nla_type = NLA_F_NESTED | INET_DIAG_REQ_SK_BPF_STORAGES;
    request.map_fd.nla_len = sizeof(nlattr) + 4;
    request.map_fd.nla_type = SK_DIAG_BPF_STORAGE_REQ_MAP_FD;
    request.fd = static_cast<uint32_t>(want.storage_map_fd);
  }

  sockaddr_nl kernel{};
  kernel.nl_family = AF_NETLINK;
  for (;;) {
    const ssize_t n =
        sendto(fd, &request, len, 0, reinterpret_cast<const sockaddr*>(&kernel), sizeof(kernel));
    if (n == static_cast<ssize_t>(len)) break;
    if (n < 0 && (errno == EINTR || errno == EAGAIN)) continue;
    const int err = n < 0 ? errno : EIO;
    return Error::runtime(fmt::format("cannot send the sock_diag dump request for {} TCP sockets: {}; is "
                                      "NETLINK_SOCK_DIAG available in this kernel?",
                                      family_name(family), errno_text(err)),
                          err);
  }

  for (;;) {
    // Peek at the datagram's real size first so no reply is ever truncated.
    ssize_t n = recv(fd, buf.data(), buf.size(), MSG_PEEK | MSG_TRUNC);
    if (n >= 0 && static_cast<size_t>(n) > buf.size()) buf.resize(static_cast<size_t>(n));
    if (n >= 0) n = recv(fd, buf.data(), buf.size(), 0);
    if (n < 0) {
      if (errno == EINTR || errno == EAGAIN) continue;
      const int err = errno;
      return Error::runtime(fmt::format("cannot read the sock_diag dump of {} TCP sockets: {}; retry the dump",
                                        family_name(family), errno_text(err)),
                            err);
    }
    const size_t before = out.size();
    auto progress = parse_inet_diag(std::span(buf.data(), static_cast<size_t>(n)), netns, out);
    if (progress && want.drop_time_wait) {
      out.erase(std::remove_if(out.begin() + static_cast<std::ptrdiff_t>(before), out.end(),
                               [](const SocketRecord& r) { return r.timewait && r.state == TCPFSM_TIME_WAIT; }),
                out.end());
    }
    if (!progress) {
      return Error::runtime(fmt::format("{} TCP sockets: {}", family_name(family), progress.error().message),
                            progress.error().err);
    }
    if (*progress == DumpProgress::Done) return Ok{};
  }
}

// The network namespace of the calling thread.
Result<uint32_t> own_netns() {
  struct stat st {};
  if (stat("/proc/thread-self/ns/net", &st) == 0 || stat("/proc/self/ns/net", &st) == 0)
    return static_cast<uint32_t>(st.st_ino);
  const int err = errno;
  return Error::runtime("cannot stat /proc/self/ns/net: " + errno_text(err) + "; is /proc mounted?", err);
}

bool permission_error(int err) { return err == EACCES || err == EPERM; }

struct Candidates {
  std::map<uint32_t, std::vector<std::string>> paths;  // namespace inode -> paths that lead to it
  size_t unidentified = 0;  // entries whose namespace could not be read for lack of permission
};

void add_candidate(const std::string& path, uint32_t only_netns, uint32_t self, Candidates& c) {
  struct stat st {};
  if (stat(path.c_str(), &st) != 0) {
    if (permission_error(errno)) ++c.unidentified;
    return;  // anything else: the process exited, or the entry is stale
  }
  const auto ino = static_cast<uint32_t>(st.st_ino);
  if (ino == self || (only_netns != 0 && ino != only_netns)) return;
  c.paths[ino].push_back(path);
}

Candidates find_namespaces(uint32_t only_netns, uint32_t self) {
  Candidates c;
  if (DIR* d = opendir("/proc")) {
    while (const dirent* e = readdir(d)) {
      const std::string_view name = e->d_name;
      if (name.empty() || !std::all_of(name.begin(), name.end(), [](char ch) { return ch >= '0' && ch <= '9'; }))
        continue;
      add_candidate(fmt::format("/proc/{}/ns/net", name), only_netns, self, c);
    }
    closedir(d);
  }
  if (DIR* d = opendir("/run/netns")) {
    while (const dirent* e = readdir(d)) {
      const std::string_view name = e->d_name;
      if (name == "." || name == "..") continue;
      add_candidate(fmt::format("/run/netns/{}", name), only_netns, self, c);
    }
    closedir(d);
  }
  return c;
}

enum class Entered { Yes, Denied, Gone };

// Enters namespace `ino` on the calling thread through the first path that
// still leads to it (a pid may have exited or been reused since the scan).
Entered enter_namespace(uint32_t ino, const std::vector<std::string>& paths, int& err) {
  bool denied = false;
  for (const auto& path : paths) {
    const int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
      if (permission_error(errno)) {
        denied = true;
        err = errno;
      }
      continue;
    }
    const UniqueFd guard(fd);
    struct stat st {};
    if (fstat(fd, &st) != 0 || static_cast<uint32_t>(st.st_ino) != ino) continue;
    if (setns(fd, CLONE_NEWNET) == 0) return Entered::Yes;
    denied = true;
    err = errno;
  }
  return denied ? Entered::Denied : Entered::Gone;
}

}  // namespace

Result<std::vector<SocketRecord>> dump_tcp_sockets(uint32_t netns, const DumpRequest& req) {
  const int fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_SOCK_DIAG);
  if (fd < 0) {
    const int err = errno;
    return Error::runtime(
        "cannot open a NETLINK_SOCK_DIAG socket: " + errno_text(err) + "; is sock_diag enabled in this kernel?", err);
  }
  const UniqueFd guard(fd);
  std::vector<SocketRecord> out;
  out.reserve(req.expected_sockets + req.expected_sockets / 8);
  std::vector<std::byte> buf(64 * 1024);
  uint32_t seq = 0;
  for (const int family : {AF_INET, AF_INET6}) {
    auto st = dump_family(fd, family, ++seq, netns, req, buf, out);
    if (!st) return st.error();
  }
  return out;
}

Result<NamespaceDump> dump_namespaces(uint32_t only_netns, const DumpRequest& req) {
  const auto self = own_netns();
  if (!self) return self.error();
  const uint32_t own = *self;

  NamespaceDump result;
  if (only_netns == 0 || only_netns == own) {
    // The caller's own namespace needs no setns.
    auto sockets = dump_tcp_sockets(own, req);
    if (!sockets) return sockets.error();
    result.sockets = std::move(sockets.value());
    result.namespaces.push_back(own);
    if (only_netns == own) return result;
  }

  Candidates found = find_namespaces(only_netns, own);
  if (only_netns != 0 && found.paths.empty()) {
    std::string unseen;
    if (found.unidentified != 0)
      unseen = fmt::format(" ({} processes could not be inspected: permission denied)", found.unidentified);
    return Error::runtime(
        fmt::format("no process or /run/netns entry is in network namespace {}{}; find the inode "
                    "with `stat -L -c %i /proc/PID/ns/net` or `ls /run/netns`",
                    only_netns, unseen));
  }
  // A process that could not be inspected may be in any namespace, so it counts
  // as unreachable only when every namespace was asked for.
  if (only_netns == 0) result.unreachable = found.unidentified;
  if (found.paths.empty()) return result;

  // setns() changes only the calling thread, so the other namespaces are
  // dumped on a helper thread and the caller's namespace never changes.
  std::optional<Error> failure;
  auto work = [&] {
    try {
      for (const auto& [ino, paths] : found.paths) {
        int err = 0;
        const Entered entered = enter_namespace(ino, paths, err);
        if (entered == Entered::Gone) {
          if (only_netns != 0) {
            failure =
                Error::runtime(fmt::format("network namespace {} went away before it could be dumped; "
                                           "check that its process or /run/netns entry still exists",
                                           ino));
            return;
          }
          continue;
        }
        if (entered == Entered::Denied) {
          if (only_netns != 0) {
            failure = Error::runtime(fmt::format("cannot enter network namespace {}: {}; run tcpfsm as root "
                                                 "(CAP_SYS_ADMIN is needed for setns)",
                                                 ino, errno_text(err)),
                                     err);
            return;
          }
          ++result.unreachable;
          continue;
        }
        auto sockets = dump_tcp_sockets(ino, req);
        if (!sockets) {
          failure = Error::runtime(fmt::format("network namespace {}: {}", ino, sockets.error().message),
                                   sockets.error().err);
          return;
        }
        if (result.sockets.empty()) {
          result.sockets = std::move(sockets.value());  // one namespace: no copy
        } else {
          result.sockets.insert(result.sockets.end(), sockets->begin(), sockets->end());
        }
        result.namespaces.push_back(ino);
      }
    } catch (const std::exception& e) {
      failure = Error::runtime(std::string("dumping network namespaces failed: ") + e.what());
    }
  };
  try {
    std::thread worker(work);
    worker.join();
  } catch (const std::system_error& e) {
    return Error::runtime(std::string("cannot start the thread that enters network namespaces: ") + e.what() +
                              "; check the process and thread limits",
                          e.code().value());
  }
  if (failure) return *failure;
  return result;
}

}  // namespace tcpfsm
