// Grouping sockets (`stats --by`): which keys there are, what a socket's
// key is made of, and the spec of a run (the keys, in order). A GroupKey is
// plain bytes, cheap to build per event and to hash; names of cgroups,
// containers and pods are interned elsewhere (account/identities) and the
// key holds their number.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string_view>
#include <vector>

#include "base/result.hpp"

namespace tcpfsm {

enum class GroupBy : uint8_t {
  Raddr,      // remote IP
  Peer,       // remote IP and port
  Lport,      // local port: the service, for a server
  Rport,      // remote port
  Laddr,      // local IP
  Process,    // pid and comm of the socket's holder
  Comm,       // comm of the socket's holder
  Netns,      // network namespace inode
  Cgroup,     // cgroup v2 path of the holder
  Container,  // container id (and name) of the holder, or of its netns
  Pod,        // Kubernetes pod of the holder, or of its netns
};

// "raddr", "peer", ... as the flag and the JSON name them.
std::string_view group_by_name(GroupBy k);
std::optional<GroupBy> parse_group_by(std::string_view name);

struct GroupSpec {
  std::vector<GroupBy> keys;  // empty: no grouping
  bool has(GroupBy k) const;
  bool empty() const { return keys.empty(); }
  // Keys only a process (or its netns) can tell: they need /proc.
  bool needs_identity() const { return has(GroupBy::Cgroup) || has(GroupBy::Container) || has(GroupBy::Pod); }
  bool needs_holder() const { return has(GroupBy::Process) || has(GroupBy::Comm) || needs_identity(); }
};

// "lport,raddr": keys, each once.
Result<GroupSpec> parse_group_spec(std::string_view flag, std::string_view text);

// The parts of a socket's key the spec selects; the others stay zero, so
// two sockets with equal selected parts have equal keys.
struct GroupKey {
  uint8_t family = 0;  // with Raddr, Peer or Laddr
  std::array<uint8_t, 16> raddr{};
  std::array<uint8_t, 16> laddr{};
  uint16_t rport = 0;
  uint16_t lport = 0;
  uint32_t pid = 0;  // 0: no process holds it (or none is known)
  std::array<char, 16> comm{};
  uint32_t netns = 0;
  uint32_t identity = 0;  // an interned cgroup, container or pod; 0: none

  bool operator==(const GroupKey&) const = default;
};

struct GroupKeyHash {
  size_t operator()(const GroupKey& k) const;
};

// What a key is made of, as the spec selects it: the socket's ends (in host
// byte order for ports) and its holder. Callers fill what they know.
struct KeySource {
  uint8_t family = 0;
  const std::array<uint8_t, 16>* saddr = nullptr;
  const std::array<uint8_t, 16>* daddr = nullptr;
  uint16_t sport = 0, dport = 0;
  uint32_t netns = 0;
  uint32_t pid = 0;
  std::string_view comm;
  uint32_t identity = 0;
};

GroupKey make_group_key(const GroupSpec& spec, const KeySource& s);

}  // namespace tcpfsm
