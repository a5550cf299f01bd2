// Parsers of /proc text (see proc_parse.hpp).
#include "collect/proc_parse.hpp"

#include <algorithm>

#include "base/lines.hpp"
#include "base/parse.hpp"

namespace tcpfsm {
namespace {

bool is_hex64(std::string_view s) {
  return s.size() == 64 &&
         std::all_of(s.begin(), s.end(), [](char c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'); });
}

// Calls f(line) for every line of `text`, the last one with or without its newline.

struct CgroupLine {
  std::string_view id, controllers, path;
};

// "hierarchy-ID:controller-list:cgroup-path"; the path may itself hold ':'.
std::optional<CgroupLine> split_cgroup_line(std::string_view line) {
  const size_t c1 = line.find(':');
  if (c1 == std::string_view::npos) return std::nullopt;
  const size_t c2 = line.find(':', c1 + 1);
  if (c2 == std::string_view::npos) return std::nullopt;
  CgroupLine l{line.substr(0, c1), line.substr(c1 + 1, c2 - c1 - 1), line.substr(c2 + 1)};
  if (l.path.empty() || l.path.front() != '/') return std::nullopt;
  return l;
}

bool has_controller(std::string_view list, std::string_view name) {
  for (;;) {
    const size_t comma = list.find(',');
    if (list.substr(0, comma) == name) return true;
    if (comma == std::string_view::npos) return false;
    list.remove_prefix(comma + 1);
  }
}

}  // namespace

std::optional<uint32_t> parse_socket_link(std::string_view link) {
  constexpr std::string_view kPrefix = "socket:[";
  if (!link.starts_with(kPrefix) || !link.ends_with(']')) return std::nullopt;  // so size >= prefix + 1
  return parse_number<uint32_t>(link.substr(kPrefix.size(), link.size() - kPrefix.size() - 1));
}

std::optional<uint64_t> parse_stat_start_time(std::string_view stat) {
  // "pid (comm) state ppid ...": comm may hold anything, but every later field is a number or a letter.
  const size_t close = stat.rfind(')');
  if (close == std::string_view::npos) return std::nullopt;
  std::string_view rest = stat.substr(close + 1);
  constexpr std::string_view kSpace = " \n";
  for (int field = 3;; ++field) {
    const size_t start = rest.find_first_not_of(kSpace);
    if (start == std::string_view::npos) return std::nullopt;  // truncated
    rest.remove_prefix(start);
    const size_t end = std::min(rest.find_first_of(kSpace), rest.size());
    if (field == 22) return parse_number<uint64_t>(rest.substr(0, end));
    rest.remove_prefix(end);
  }
}

std::optional<uint32_t> parse_status_uid(std::string_view status) {
  std::optional<uint32_t> uid;
  bool found = false;
  for_each_line(status, [&](std::string_view line) {
    if (found || !line.starts_with("Uid:")) return;
    found = true;
    line.remove_prefix(4);
    const size_t start = line.find_first_not_of(" \t");
    if (start == std::string_view::npos) return;
    line.remove_prefix(start);
    uid = parse_number<uint32_t>(line.substr(0, std::min(line.find_first_of(" \t"), line.size())));
  });
  return uid;
}

std::string parse_cgroup_path(std::string_view cgroup_file) {
  std::optional<std::string_view> unified, systemd;
  for_each_line(cgroup_file, [&](std::string_view line) {
    const auto l = split_cgroup_line(line);
    if (!l) return;
    if (l->id == "0" && l->controllers.empty()) {
      if (!unified) unified = l->path;
    } else if (!systemd && has_controller(l->controllers, "name=systemd")) {
      systemd = l->path;
    }
  });
  if (unified) return std::string(*unified);
  return systemd ? std::string(*systemd) : std::string();
}

std::string container_id_of(std::string_view cgroup_path) {
  // Runtimes name the leaf after the id: docker-<id>.scope (systemd driver), /docker/<id> (cgroupfs),
  // cri-containerd-<id>.scope, crio-<id>[.scope], libpod-<id>.scope, /kubepods/<qos>/pod<uid>/<id>.
  // Nested runtimes (docker in docker) stack them; the innermost one holds the process.
  constexpr std::string_view kPrefixes[] = {"docker-", "cri-containerd-", "crio-", "libpod-"};
  std::string_view found;
  std::string_view rest = cgroup_path;
  while (!rest.empty()) {
    const size_t slash = rest.find('/');
    std::string_view part = rest.substr(0, slash);
    rest = slash == std::string_view::npos ? std::string_view() : rest.substr(slash + 1);
    if (part.ends_with(".scope")) part.remove_suffix(6);
    for (const auto prefix : kPrefixes) {
      if (part.starts_with(prefix)) {
        part.remove_prefix(prefix.size());
        break;
      }
    }
    if (is_hex64(part)) found = part;
  }
  return std::string(found);
}

std::string container_id_of_cgroup_file(std::string_view cgroup_file) {
  std::string id = container_id_of(parse_cgroup_path(cgroup_file));
  for_each_line(cgroup_file, [&](std::string_view line) {
    if (!id.empty()) return;
    if (const auto l = split_cgroup_line(line)) id = container_id_of(l->path);
  });
  return id;
}

std::string parse_cmdline(std::string_view raw) {
  const size_t last = raw.find_last_not_of(std::string_view(" \0", 2));
  if (last == std::string_view::npos) return {};
  std::string out(raw.substr(0, last + 1));
  std::replace(out.begin(), out.end(), '\0', ' ');
  return out;
}

}  // namespace tcpfsm
