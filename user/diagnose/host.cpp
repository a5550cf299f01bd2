// The doctor's inputs from files: /proc settings and counters, and sysctl configuration lines.
#include <dirent.h>
#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <fstream>
#include <sstream>

#include "base/lines.hpp"
#include "base/parse.hpp"
#include "collect/sysctls.hpp"
#include "diagnose/doctor.hpp"

namespace tcpfsm {
namespace {

std::optional<std::string> read_text(const std::string& path) {
  std::ifstream f(path);
  if (!f) return std::nullopt;
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

// Every setting TcpSettings holds, by its sysctl name.
constexpr std::array<std::string_view, 16> kSettingNames{
    "net.ipv4.tcp_tw_reuse",        "net.ipv4.tcp_fin_timeout",      "net.ipv4.tcp_max_tw_buckets",
    "net.ipv4.tcp_max_syn_backlog", "net.ipv4.tcp_syncookies",       "net.ipv4.tcp_keepalive_time",
    "net.ipv4.tcp_keepalive_intvl", "net.ipv4.tcp_keepalive_probes", "net.ipv4.tcp_max_orphans",
    "net.ipv4.tcp_orphan_retries",  "net.ipv4.tcp_timestamps",       "net.ipv4.tcp_tw_recycle",
    "net.ipv4.tcp_tw_reuse_delay",  "net.ipv4.tcp_syn_retries",      "net.core.somaxconn",
    "net.ipv4.ip_local_port_range",
};

}  // namespace

TcpSettings settings_of(const std::map<std::string, std::string>& sysctls) {
  auto int_of = [&](std::string_view name) -> std::optional<int64_t> {
    auto it = sysctls.find(std::string(name));
    if (it == sysctls.end()) return std::nullopt;
    return parse_trimmed_int(it->second);
  };
  TcpSettings s;
  s.tw_reuse = int_of("net.ipv4.tcp_tw_reuse");
  s.fin_timeout = int_of("net.ipv4.tcp_fin_timeout");
  s.max_tw_buckets = int_of("net.ipv4.tcp_max_tw_buckets");
  s.max_syn_backlog = int_of("net.ipv4.tcp_max_syn_backlog");
  s.syncookies = int_of("net.ipv4.tcp_syncookies");
  s.keepalive_time = int_of("net.ipv4.tcp_keepalive_time");
  s.keepalive_intvl = int_of("net.ipv4.tcp_keepalive_intvl");
  s.keepalive_probes = int_of("net.ipv4.tcp_keepalive_probes");
  s.max_orphans = int_of("net.ipv4.tcp_max_orphans");
  s.orphan_retries = int_of("net.ipv4.tcp_orphan_retries");
  s.timestamps = int_of("net.ipv4.tcp_timestamps");
  s.tw_recycle = int_of("net.ipv4.tcp_tw_recycle");
  s.tw_reuse_delay_ms = int_of("net.ipv4.tcp_tw_reuse_delay");
  s.syn_retries = int_of("net.ipv4.tcp_syn_retries");
  s.somaxconn = int_of("net.core.somaxconn");
  if (auto it = sysctls.find("net.ipv4.ip_local_port_range"); it != sysctls.end()) {
    auto f = split_fields(it->second);
    if (f.size() == 2) {
      auto lo = parse_trimmed_int(f[0]), hi = parse_trimmed_int(f[1]);
      if (lo && hi && *lo > 0 && *hi >= *lo && *hi <= 65535) s.local_port_range = {{*lo, *hi}};
    }
  }
  return s;
}

namespace {}  // namespace

CounterMap parse_proc_netstat(std::string_view text) {
  CounterMap out;
  auto ls = split_lines(text);
  // Pairs of lines: "TcpExt: Name1 Name2 ..." then "TcpExt: 1 2 ...".
  for (size_t i = 0; i + 1 < ls.size(); ++i) {
    auto names = split_fields(ls[i]);
    auto values = split_fields(ls[i + 1]);
    if (names.size() < 2 || values.size() != names.size() || names[0] != values[0] || names[0].back() != ':') continue;
    if (parse_trimmed_int(values[1]) == std::nullopt) continue;  // this was a value line; its names are above
    const std::string prefix(names[0].substr(0, names[0].size() - 1));
    for (size_t k = 1; k < names.size(); ++k) {
      if (auto v = parse_trimmed_int(values[k])) out[prefix + "." + std::string(names[k])] = *v;
    }
    ++i;
  }
  return out;
}

CounterMap parse_sockstat(std::string_view text) {
  CounterMap out;
  // "TCP: inuse 5 orphan 0 tw 3 alloc 8 mem 1"
  for (auto line : split_lines(text)) {
    auto f = split_fields(line);
    if (f.empty() || f[0].back() != ':') continue;
    const std::string prefix(f[0].substr(0, f[0].size() - 1));
    for (size_t k = 1; k + 1 < f.size(); k += 2) {
      if (auto v = parse_trimmed_int(f[k + 1])) out[prefix + "." + std::string(f[k])] = *v;
    }
  }
  return out;
}

std::optional<int64_t> parse_softnet_dropped(std::string_view text) {
  // One line per CPU of hexadecimal columns: processed, dropped, time_squeeze, ...
  std::optional<int64_t> total;
  for (auto line : split_lines(text)) {
    auto f = split_fields(line);
    if (f.size() < 2) continue;
    if (f[1].empty() || f[1].size() > 8) continue;  // a u32 column: up to 8 hex digits
    int64_t dropped = 0;
    bool ok = true;
    for (char c : f[1]) {
      const int d = (c >= '0' && c <= '9') ? c - '0' : (c >= 'a' && c <= 'f') ? c - 'a' + 10 : -1;
      if (d < 0) ok = false;
      dropped = dropped * 16 + std::max(d, 0);
    }
    if (!ok) continue;
    total = total.value_or(0) + dropped;
  }
  return total;
}

Result<HostSnapshot> read_host(const std::string& proc_root, const std::string& net_dir,
                               const std::vector<std::string>& sysctls) {
  const std::string net = net_dir.empty() ? proc_root + "/net" : net_dir;
  HostSnapshot h;
  for (const char* name : {"/netstat", "/snmp"}) {
    auto t = read_text(net + name);
    if (!t) {
      return Error::runtime("cannot read " + net + name +
                            (proc_root == "/proc" ? std::string("; is /proc mounted?")
                                                  : std::string("; --proc-root needs copies of /proc/net/netstat, "
                                                                "/proc/net/snmp and /proc/net/sockstat")));
    }
    auto m = parse_proc_netstat(*t);
    h.counters.insert(m.begin(), m.end());
  }
  auto sock = read_text(net + "/sockstat");
  if (!sock) return Error::runtime("cannot read " + net + "/sockstat");
  h.sockstat = parse_sockstat(*sock);
  if (auto t = read_text(net + "/softnet_stat")) h.softnet_dropped = parse_softnet_dropped(*t);
  // The settings the rules read, and the ones asked for, read once by name.
  std::vector<std::string> names(kSettingNames.begin(), kSettingNames.end());
  names.insert(names.end(), sysctls.begin(), sysctls.end());
  std::sort(names.begin(), names.end());
  names.erase(std::unique(names.begin(), names.end()), names.end());
  for (const auto& name : names)
    if (auto v = read_sysctl(proc_root, name)) h.sysctls[name] = *v;
  h.settings = settings_of(h.sysctls);
  return h;
}

std::vector<std::string> tw_recycle_mentions(const std::string& etc_root) {
  std::vector<std::string> files = {etc_root + "/sysctl.conf"};
  if (DIR* d = opendir((etc_root + "/sysctl.d").c_str())) {
    std::vector<std::string> names;
    while (const dirent* e = readdir(d)) {
      std::string n = e->d_name;
      if (n.size() > 5 && n.substr(n.size() - 5) == ".conf") names.push_back(n);
    }
    closedir(d);
    std::sort(names.begin(), names.end());
    for (const auto& n : names) files.push_back(etc_root + "/sysctl.d/" + n);
  }
  std::vector<std::string> out;
  for (const auto& f : files) {
    auto t = read_text(f);
    if (!t) continue;
    size_t lineno = 0;
    for (auto line : split_lines(*t)) {
      ++lineno;
      auto f2 = split_fields(line);
      if (f2.empty() || f2[0][0] == '#' || f2[0][0] == ';') continue;
      if (line.find("tcp_tw_recycle") != std::string_view::npos)
        out.push_back(fmt::format("{}:{}: {}", f, lineno, line));
    }
  }
  return out;
}

}  // namespace tcpfsm
