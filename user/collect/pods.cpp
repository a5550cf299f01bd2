// Pod uids from cgroup paths and pod and container names from the kubelet's
// log directories (see pods.hpp).
#include "collect/pods.hpp"

#include <dirent.h>

#include <algorithm>
#include <array>

namespace tcpfsm {
namespace {

bool is_hex(std::string_view s) {
  return std::all_of(s.begin(), s.end(), [](char c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'); });
}

// 8-4-4-4-12 hex digits with dashes.
bool is_uuid(std::string_view s) {
  if (s.size() != 36) return false;
  for (size_t i = 0; i < s.size(); ++i) {
    const bool dash = i == 8 || i == 13 || i == 18 || i == 23;
    if (dash ? s[i] != '-' : !is_hex(s.substr(i, 1))) return false;
  }
  return true;
}

// The pod uid of one path component, or "".
std::string pod_uid_of_component(std::string_view part) {
  if (part.ends_with(".slice")) {
    // kubepods-<qos>-pod<uid>.slice, kubepods-pod<uid>.slice; systemd escapes '-' in the uid as '_'.
    part.remove_suffix(6);
    if (!part.starts_with("kubepods-")) return {};
    const size_t at = part.rfind("pod");
    if (at == std::string_view::npos || (at > 0 && part[at - 1] != '-')) return {};
    std::string uid(part.substr(at + 3));
    std::replace(uid.begin(), uid.end(), '_', '-');
    return is_uuid(uid) ? uid : std::string();
  }
  if (part.starts_with("pod") && is_uuid(part.substr(3))) return std::string(part.substr(3));
  return {};
}

// The parts of "a_b_c" split at '_', when there are exactly three non-empty ones.
std::optional<std::array<std::string_view, 3>> three_parts(std::string_view s) {
  const size_t a = s.find('_');
  if (a == std::string_view::npos) return std::nullopt;
  const size_t b = s.find('_', a + 1);
  if (b == std::string_view::npos || s.find('_', b + 1) != std::string_view::npos) return std::nullopt;
  std::array<std::string_view, 3> out{s.substr(0, a), s.substr(a + 1, b - a - 1), s.substr(b + 1)};
  for (auto p : out) {
    if (p.empty()) return std::nullopt;
  }
  return out;
}

template <typename F>
void for_each_entry(const std::string& dir, F&& f) {
  DIR* d = opendir(dir.c_str());
  if (!d) return;
  while (const dirent* e = readdir(d)) {
    const std::string_view name = e->d_name;
    if (name != "." && name != "..") f(name);
  }
  closedir(d);
}

}  // namespace

std::string pod_uid_of(std::string_view cgroup_path) {
  bool under_kubepods = false;
  while (!cgroup_path.empty()) {
    const size_t slash = cgroup_path.find('/');
    const std::string_view part = cgroup_path.substr(0, slash);
    cgroup_path = slash == std::string_view::npos ? std::string_view() : cgroup_path.substr(slash + 1);
    if (part == "kubepods" || part == "kubepods.slice") under_kubepods = true;
    if (!under_kubepods) continue;
    if (std::string uid = pod_uid_of_component(part); !uid.empty()) return uid;
  }
  return {};
}

std::optional<PodName> parse_pod_log_dir(std::string_view dirname) {
  const auto p = three_parts(dirname);
  if (!p || !is_uuid((*p)[2])) return std::nullopt;
  return PodName{std::string((*p)[0]), std::string((*p)[1]), std::string((*p)[2])};
}

std::optional<ContainerLogName> parse_container_log_name(std::string_view filename) {
  if (!filename.ends_with(".log")) return std::nullopt;
  filename.remove_suffix(4);
  const auto p = three_parts(filename);
  if (!p) return std::nullopt;
  const std::string_view last = (*p)[2];
  const size_t dash = last.rfind('-');
  if (dash == std::string_view::npos || dash == 0) return std::nullopt;
  const std::string_view id = last.substr(dash + 1);
  if (id.size() != 64 || !is_hex(id)) return std::nullopt;
  return ContainerLogName{std::string((*p)[0]), std::string((*p)[1]), std::string(last.substr(0, dash)),
                          std::string(id)};
}

PodDirectory PodDirectory::load(const std::string& host_root) {
  PodDirectory d;
  for_each_entry(host_root + "/var/log/pods", [&](std::string_view name) {
    if (auto p = parse_pod_log_dir(name)) d.pods_[p->uid] = std::move(*p);
  });
  for_each_entry(host_root + "/var/log/containers", [&](std::string_view name) {
    if (auto c = parse_container_log_name(name)) d.containers_[c->id] = c->container;
  });
  return d;
}

const PodName* PodDirectory::pod(const std::string& uid) const {
  const auto it = pods_.find(uid);
  return it == pods_.end() ? nullptr : &it->second;
}

std::string PodDirectory::container_name(const std::string& id) const {
  const auto it = containers_.find(id);
  return it == containers_.end() ? std::string() : it->second;
}

}  // namespace tcpfsm
