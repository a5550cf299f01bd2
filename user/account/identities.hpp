// Who a socket belongs to beyond its process, for `--by cgroup`,
// `container` and `pod`: the holder's cgroup, container and pod, interned
// so a GroupKey holds a number. Sockets no process holds (TIME_WAIT,
// orphans) belong to the pod or container of their network namespace.
#pragma once

#include <chrono>
#include <cstdint>
#include <mutex>
#include <string>
#include <unordered_map>
#include <vector>

#include "collect/pods.hpp"
#include "collect/proc_owners.hpp"
#include "model/group_key.hpp"

namespace tcpfsm {

struct Identity {
  std::string cgroup;                            // with --by cgroup
  std::string container_id, container_name;      // with --by container
  std::string pod_uid, pod_namespace, pod_name;  // with --by pod
  bool empty() const { return cgroup.empty() && container_id.empty() && pod_uid.empty(); }
  bool operator==(const Identity&) const = default;
};

// The parts of a process's identity the spec asks for.
Identity identity_of(const GroupSpec& spec, const ProcessInfo& p, const PodDirectory& pods);

// Identities by number, shared by the threads that build keys.
class IdentityTable {
 public:
  IdentityTable();
  uint32_t intern(const Identity& id);  // 0 for an empty one
  Identity get(uint32_t id) const;

 private:
  mutable std::mutex mu_;
  std::vector<Identity> ids_;
  std::unordered_map<std::string, uint32_t> by_text_;
};

// netns inode -> identity number, for the namespaces whose processes all
// have one and the same identity (a pod's network namespace; not the
// host's, where processes of many cgroups live).
using NetnsIdentities = std::unordered_map<uint32_t, uint32_t>;
NetnsIdentities netns_identities(const GroupSpec& spec, OwnerResolver& owners, const PodDirectory& pods,
                                 IdentityTable& table, const std::string& proc_root = "/proc");

// The consumer thread's view: pid -> identity number, read from /proc once
// per pid and kept `ttl` (a pid is reused only after its process is gone),
// and the netns map the stuck-socket thread refreshes.
class IdentityCache {
 public:
  IdentityCache(GroupSpec spec, IdentityTable& table, std::string host_root,
                std::chrono::seconds ttl = std::chrono::seconds(10));
  uint32_t of_process(uint32_t pid);
  uint32_t of_netns(uint32_t netns) const;
  void set_netns(NetnsIdentities m) { netns_ = std::move(m); }
  IdentityTable& table() { return table_; }

 private:
  struct Entry {
    uint32_t id = 0;
    std::chrono::steady_clock::time_point at;
  };
  GroupSpec spec_;
  IdentityTable& table_;
  OwnerResolver resolver_;
  PodDirectory pods_;
  std::chrono::steady_clock::time_point pods_at_;
  std::string host_root_;
  std::chrono::seconds ttl_;
  std::unordered_map<uint32_t, Entry> by_pid_;
  NetnsIdentities netns_;
};

}  // namespace tcpfsm
