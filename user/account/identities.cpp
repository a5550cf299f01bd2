// Identities of holders and network namespaces (see identities.hpp).
#include "account/identities.hpp"

#include "collect/netns.hpp"

namespace tcpfsm {
namespace {

// One text per identity, for interning.
std::string text_of(const Identity& i) {
  std::string t = i.cgroup;
  for (const std::string* s : {&i.container_id, &i.container_name, &i.pod_uid, &i.pod_namespace, &i.pod_name}) {
    t += '\n';
    t += *s;
  }
  return t;
}

}  // namespace

Identity identity_of(const GroupSpec& spec, const ProcessInfo& p, const PodDirectory& pods) {
  Identity id;
  if (spec.has(GroupBy::Cgroup)) id.cgroup = p.cgroup;
  if (spec.has(GroupBy::Container) && !p.container_id.empty()) {
    id.container_id = p.container_id;
    id.container_name = pods.container_name(p.container_id);
  }
  if (spec.has(GroupBy::Pod)) {
    id.pod_uid = pod_uid_of(p.cgroup);
    if (const PodName* n = id.pod_uid.empty() ? nullptr : pods.pod(id.pod_uid)) {
      id.pod_namespace = n->namespace_;
      id.pod_name = n->name;
    }
  }
  return id;
}

IdentityTable::IdentityTable() : ids_(1) {}

uint32_t IdentityTable::intern(const Identity& id) {
  if (id.empty()) return 0;
  const std::string t = text_of(id);
  std::lock_guard<std::mutex> lock(mu_);
  auto [it, inserted] = by_text_.try_emplace(t, static_cast<uint32_t>(ids_.size()));
  if (inserted) ids_.push_back(id);
  return it->second;
}

Identity IdentityTable::get(uint32_t id) const {
  std::lock_guard<std::mutex> lock(mu_);
  return id < ids_.size() ? ids_[id] : Identity{};
}

NetnsIdentities netns_identities(const GroupSpec& spec, OwnerResolver& owners, const PodDirectory& pods,
                                 IdentityTable& table, const std::string& proc_root) {
  constexpr uint32_t kMixed = UINT32_MAX;
  NetnsIdentities seen;
  for (const auto& pn : process_namespaces(proc_root)) {
    const auto info = owners.process(pn.pid);
    if (!info) continue;  // gone since the listing
    const uint32_t id = table.intern(identity_of(spec, *info, pods));
    auto [it, inserted] = seen.try_emplace(pn.netns, id);
    if (!inserted && it->second != id) it->second = kMixed;
  }
  std::erase_if(seen, [](const auto& kv) { return kv.second == 0 || kv.second == kMixed; });
  return seen;
}

IdentityCache::IdentityCache(GroupSpec spec, IdentityTable& table, std::string host_root, std::chrono::seconds ttl)
    : spec_(std::move(spec)), table_(table), resolver_("/proc"), host_root_(std::move(host_root)), ttl_(ttl) {}

uint32_t IdentityCache::of_process(uint32_t pid) {
  if (!pid) return 0;
  const auto now = std::chrono::steady_clock::now();
  auto [it, inserted] = by_pid_.try_emplace(pid);
  if (!inserted && now - it->second.at < ttl_) return it->second.id;
  if (now - pods_at_ > ttl_) {
    pods_ = PodDirectory::load(host_root_);
    pods_at_ = now;
  }
  const auto info = resolver_.process(pid);
  it->second = Entry{info ? table_.intern(identity_of(spec_, *info, pods_)) : 0, now};
  return it->second.id;
}

uint32_t IdentityCache::of_netns(uint32_t netns) const {
  const auto it = netns_.find(netns);
  return it == netns_.end() ? 0 : it->second;
}

}  // namespace tcpfsm
