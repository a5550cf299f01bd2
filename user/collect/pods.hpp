// Kubernetes pods and containers as the node shows them: the pod uid in a
// process's cgroup path (the kubelet's systemd and cgroupfs layouts), and
// the pod and container names in the kubelet's standard log directories
// (/var/log/pods/<namespace>_<pod>_<uid>/, /var/log/containers/
// <pod>_<namespace>_<container>-<id>.log), read under a host root.
// The parsers are pure and fuzzed (fuzz/fuzz_proc.cpp).
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>

namespace tcpfsm {

// The pod uid (dashed, as Kubernetes writes it) in a cgroup path:
//   systemd: /kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod<uid_with_underscores>.slice/...
//            /kubepods.slice/kubepods-pod<uid>.slice/... (guaranteed QoS)
//   cgroupfs: /kubepods/burstable/pod<uid>/<container>, /kubepods/pod<uid>/<container>
// "" when the path is not under kubepods.
std::string pod_uid_of(std::string_view cgroup_path);

struct PodName {
  std::string namespace_;
  std::string name;
  std::string uid;
};

// "<namespace>_<pod>_<uid>", a directory of /var/log/pods.
std::optional<PodName> parse_pod_log_dir(std::string_view dirname);

struct ContainerLogName {
  std::string pod;
  std::string namespace_;
  std::string container;
  std::string id;  // 64 hex digits
};

// "<pod>_<namespace>_<container>-<id>.log", a file of /var/log/containers.
std::optional<ContainerLogName> parse_container_log_name(std::string_view filename);

// The names of the pods and containers of a node, from its log directories.
class PodDirectory {
 public:
  // Reads <host_root>/var/log/pods and <host_root>/var/log/containers; a
  // missing directory is no error (not a Kubernetes node).
  static PodDirectory load(const std::string& host_root);

  const PodName* pod(const std::string& uid) const;
  // The container's name in its pod ("" when unknown).
  std::string container_name(const std::string& id) const;
  size_t pods() const { return pods_.size(); }

 private:
  std::unordered_map<std::string, PodName> pods_;            // by uid
  std::unordered_map<std::string, std::string> containers_;  // id -> name
};

}  // namespace tcpfsm
