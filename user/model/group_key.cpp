// Group keys: their names, the --by parser, and building a key (see group_key.hpp).
#include "model/group_key.hpp"

#include <algorithm>
#include <cstring>
#include <string>

#include "base/parse.hpp"

namespace tcpfsm {
namespace {

constexpr std::array<std::string_view, 11> kNames = {"raddr", "peer",  "lport",  "rport",     "laddr", "process",
                                                     "comm",  "netns", "cgroup", "container", "pod"};
static_assert(kNames.size() == static_cast<size_t>(GroupBy::Pod) + 1, "every GroupBy has a name");

// Eight bytes at a time: a key is hashed for every record with --by.
uint64_t load64(const void* p) {
  uint64_t v;
  std::memcpy(&v, p, sizeof(v));
  return v;
}

uint64_t mix(uint64_t h, uint64_t v) {
  h = (h ^ v) * 0x9e3779b97f4a7c15ULL;
  return h ^ (h >> 29);
}

}  // namespace

std::string_view group_by_name(GroupBy k) { return kNames[static_cast<size_t>(k)]; }

std::optional<GroupBy> parse_group_by(std::string_view name) {
  for (size_t i = 0; i < kNames.size(); ++i) {
    if (kNames[i] == name) return static_cast<GroupBy>(i);
  }
  return std::nullopt;
}

bool GroupSpec::has(GroupBy k) const { return std::find(keys.begin(), keys.end(), k) != keys.end(); }

Result<GroupSpec> parse_group_spec(std::string_view flag, std::string_view text) {
  GroupSpec spec;
  std::string known;
  for (auto n : kNames) known += (known.empty() ? "" : ", ") + std::string(n);
  size_t start = 0;
  while (true) {
    const size_t comma = text.find(',', start);
    const std::string_view item = text.substr(start, comma == std::string_view::npos ? comma : comma - start);
    const auto k = parse_group_by(item);
    if (!k) {
      return Error::usage("invalid " + std::string(flag) + " " + single_quoted(text) + ": " +
                          (item.empty() ? std::string("empty key") : single_quoted(item) + " is not a key") +
                          "; give keys separated by commas from: " + known);
    }
    if (spec.has(*k)) {
      return Error::usage("invalid " + std::string(flag) + " " + single_quoted(text) + ": " + single_quoted(item) +
                          " is given twice");
    }
    spec.keys.push_back(*k);
    if (comma == std::string_view::npos) break;
    start = comma + 1;
  }
  return spec;
}

size_t GroupKeyHash::operator()(const GroupKey& k) const {
  uint64_t h = mix(0x243f6a8885a308d3ULL, load64(k.raddr.data()));
  h = mix(h, load64(k.raddr.data() + 8));
  h = mix(h, load64(k.laddr.data()));
  h = mix(h, load64(k.laddr.data() + 8));
  h = mix(h, load64(k.comm.data()));
  h = mix(h, load64(k.comm.data() + 8));
  h = mix(h, uint64_t{k.family} << 48 | uint64_t{k.rport} << 32 | uint64_t{k.lport} << 16);
  h = mix(h, uint64_t{k.pid} << 32 | k.netns);
  h = mix(h, k.identity);
  return static_cast<size_t>(h);
}

GroupKey make_group_key(const GroupSpec& spec, const KeySource& s) {
  GroupKey k;
  for (GroupBy by : spec.keys) {
    switch (by) {
      case GroupBy::Peer:
        k.rport = s.dport;
        [[fallthrough]];
      case GroupBy::Raddr:
        k.family = s.family;
        if (s.daddr) k.raddr = *s.daddr;
        break;
      case GroupBy::Laddr:
        k.family = s.family;
        if (s.saddr) k.laddr = *s.saddr;
        break;
      case GroupBy::Lport:
        k.lport = s.sport;
        break;
      case GroupBy::Rport:
        k.rport = s.dport;
        break;
      case GroupBy::Process:
        k.pid = s.pid;
        [[fallthrough]];
      case GroupBy::Comm:
        if (s.pid) std::memcpy(k.comm.data(), s.comm.data(), std::min(s.comm.size(), k.comm.size() - 1));
        break;
      case GroupBy::Netns:
        k.netns = s.netns;
        break;
      case GroupBy::Cgroup:
      case GroupBy::Container:
      case GroupBy::Pod:
        k.identity = s.identity;
        break;
    }
  }
  return k;
}

}  // namespace tcpfsm
