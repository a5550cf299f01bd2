// The I/O half of sock_diag: dump requests over NETLINK_SOCK_DIAG, in the
// caller's network namespace and, from a helper thread, in every other.
#include "collect/sock_diag.hpp"

#include <fmt/format.h>
#include <linux/inet_diag.h>
#include <linux/netlink.h>
#include <linux/sock_diag.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <algorithm>
#include <cerrno>
#include <exception>
#include <optional>
#include <string>
#include <system_error>
#include <thread>

#include "base/unique_fd.hpp"
#include "collect/netns.hpp"
#include "tcpfsm/event.h"

namespace tcpfsm {
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
    const ssize_t n = sendto(fd, &request, len, 0, reinterpret_cast<const sockaddr*>(&kernel), sizeof(kernel));
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

// Dumps every namespace of `found` into `result`, on the calling thread
// (which setns() moves). With only_netns, a namespace that went away or
// cannot be entered is an error; otherwise it is counted as unreachable.
std::optional<Error> dump_other_namespaces(const NamespacePaths& found, uint32_t only_netns, const DumpRequest& req,
                                           NamespaceDump& result) {
  for (const auto& [ino, paths] : found.paths) {
    int err = 0;
    const Entered entered = enter_namespace(ino, paths, err);
    if (entered == Entered::Gone) {
      if (only_netns == 0) continue;
      return Error::runtime(
          fmt::format("network namespace {} went away before it could be dumped; "
                      "check that its process or /run/netns entry still exists",
                      ino));
    }
    if (entered == Entered::Denied) {
      if (only_netns == 0) {
        ++result.unreachable;
        continue;
      }
      return Error::runtime(fmt::format("cannot enter network namespace {}: {}; run tcpfsm as root "
                                        "(CAP_SYS_ADMIN is needed for setns)",
                                        ino, errno_text(err)),
                            err);
    }
    auto sockets = dump_tcp_sockets(ino, req);
    if (!sockets) {
      return Error::runtime(fmt::format("network namespace {}: {}", ino, sockets.error().message), sockets.error().err);
    }
    if (result.sockets.empty()) {
      result.sockets = std::move(sockets.value());  // one namespace: no copy
    } else {
      result.sockets.insert(result.sockets.end(), sockets->begin(), sockets->end());
    }
    result.namespaces.push_back(ino);
  }
  return std::nullopt;
}

}  // namespace

Result<std::vector<SocketRecord>> dump_tcp_sockets(uint32_t netns, const DumpRequest& req) {
  const UniqueFd fd(socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_SOCK_DIAG));
  if (!fd.valid()) {
    const int err = errno;
    return Error::runtime(
        "cannot open a NETLINK_SOCK_DIAG socket: " + errno_text(err) + "; is sock_diag enabled in this kernel?", err);
  }
  std::vector<SocketRecord> out;
  out.reserve(req.expected_sockets + req.expected_sockets / 8);
  std::vector<std::byte> buf(64 * 1024);
  uint32_t seq = 0;
  for (const int family : {AF_INET, AF_INET6}) {
    auto st = dump_family(fd.get(), family, ++seq, netns, req, buf, out);
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

  const NamespacePaths found = find_namespaces(only_netns, own);
  if (only_netns != 0 && found.paths.empty()) {
    if (auto st = require_netns(only_netns); !st) return st.error();
  }
  // A process that could not be inspected may be in any namespace, so it counts
  // as unreachable only when every namespace was asked for.
  if (only_netns == 0) result.unreachable = found.unidentified;
  if (found.paths.empty()) return result;

  // setns() changes only the calling thread, so the other namespaces are
  // dumped on a helper thread and the caller's namespace never changes.
  std::optional<Error> failure;
  try {
    std::thread worker([&] {
      try {
        failure = dump_other_namespaces(found, only_netns, req, result);
      } catch (const std::exception& e) {
        failure = Error::runtime(std::string("dumping network namespaces failed: ") + e.what());
      }
    });
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
