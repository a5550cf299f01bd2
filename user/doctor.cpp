#include "tcpfsm/doctor.hpp"

#include <dirent.h>
#include <fmt/format.h>
#include <sys/socket.h>

#include <algorithm>
#include <charconv>
#include <fstream>
#include <iterator>
#include <set>
#include <sstream>

#include "tcpfsm/event.hpp"
#include "tcpfsm/stats_view.hpp"
#include "tcpfsm/tcp_state.hpp"

namespace tcpfsm {
namespace {

// A CLOSE_WAIT holder with fewer sockets is an application closing late, not a leak.
constexpr uint64_t kLeakCount = 5;
constexpr uint64_t kLeakCritical = 1000;
constexpr uint64_t kTimeWaitSeconds = 60;  // TCP_TIMEWAIT_LEN, fixed in the kernel

std::optional<std::string> read_text(const std::string& path) {
  std::ifstream f(path);
  if (!f) return std::nullopt;
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

std::optional<int64_t> parse_int(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == '\n' || s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  int64_t v = 0;
  auto [ptr, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (s.empty() || ec != std::errc() || ptr != s.data() + s.size()) return std::nullopt;
  return v;
}

std::optional<int64_t> read_int(const std::string& path) {
  auto t = read_text(path);
  if (!t) return std::nullopt;
  return parse_int(*t);
}

std::vector<std::string_view> split_ws(std::string_view line) {
  std::vector<std::string_view> out;
  size_t i = 0;
  while (i < line.size()) {
    while (i < line.size() && (line[i] == ' ' || line[i] == '\t')) ++i;
    size_t j = i;
    while (j < line.size() && line[j] != ' ' && line[j] != '\t') ++j;
    if (j > i) out.push_back(line.substr(i, j - i));
    i = j;
  }
  return out;
}

std::vector<std::string_view> lines_of(std::string_view text) {
  std::vector<std::string_view> out;
  while (!text.empty()) {
    size_t nl = text.find('\n');
    out.push_back(text.substr(0, nl));
    if (nl == std::string_view::npos) break;
    text.remove_prefix(nl + 1);
  }
  return out;
}

int64_t get(const CounterMap& m, const std::string& key) {
  auto it = m.find(key);
  return it == m.end() ? 0 : it->second;
}

// after - before, never negative (a counter reset reads as no change)
int64_t delta(const DoctorInput& in, const std::string& key) {
  return std::max<int64_t>(0, get(in.after.counters, key) - get(in.before.counters, key));
}


std::string holder_of(const LeakGroup& g) {
  if (!g.process) return "(no process)";
  std::string s = fmt::format("pid {} ({}", g.process->pid, g.process->comm);
  if (!g.process->user.empty()) s += ", user " + g.process->user;
  if (!g.process->container_id.empty()) s += ", container " + g.process->container_id.substr(0, 12);
  else if (!g.process->cgroup.empty() && g.process->cgroup != "/") s += ", cgroup " + g.process->cgroup;
  return s + ")";
}

}  // namespace

CounterMap parse_proc_netstat(std::string_view text) {
  CounterMap out;
  auto ls = lines_of(text);
  // Pairs of lines: "TcpExt: Name1 Name2 ..." then "TcpExt: 1 2 ...".
  for (size_t i = 0; i + 1 < ls.size(); ++i) {
    auto names = split_ws(ls[i]);
    auto values = split_ws(ls[i + 1]);
    if (names.size() < 2 || values.size() != names.size() || names[0] != values[0] || names[0].back() != ':') continue;
    if (parse_int(values[1]) == std::nullopt) continue;  // this was a value line; its names are above
    const std::string prefix(names[0].substr(0, names[0].size() - 1));
    for (size_t k = 1; k < names.size(); ++k) {
      if (auto v = parse_int(values[k])) out[prefix + "." + std::string(names[k])] = *v;
    }
    ++i;
  }
  return out;
}

CounterMap parse_sockstat(std::string_view text) {
  CounterMap out;
  // "TCP: inuse 5 orphan 0 tw 3 alloc 8 mem 1"
  for (auto line : lines_of(text)) {
    auto f = split_ws(line);
    if (f.empty() || f[0].back() != ':') continue;
    const std::string prefix(f[0].substr(0, f[0].size() - 1));
    for (size_t k = 1; k + 1 < f.size(); k += 2) {
      if (auto v = parse_int(f[k + 1])) out[prefix + "." + std::string(f[k])] = *v;
    }
  }
  return out;
}

Result<HostSnapshot> read_host(const std::string& proc_root) {
  HostSnapshot h;
  const std::string ipv4 = proc_root + "/sys/net/ipv4/";
  TcpSettings& s = h.settings;
  s.tw_reuse = read_int(ipv4 + "tcp_tw_reuse");
  s.fin_timeout = read_int(ipv4 + "tcp_fin_timeout");
  s.max_tw_buckets = read_int(ipv4 + "tcp_max_tw_buckets");
  s.max_syn_backlog = read_int(ipv4 + "tcp_max_syn_backlog");
  s.syncookies = read_int(ipv4 + "tcp_syncookies");
  s.keepalive_time = read_int(ipv4 + "tcp_keepalive_time");
  s.keepalive_intvl = read_int(ipv4 + "tcp_keepalive_intvl");
  s.keepalive_probes = read_int(ipv4 + "tcp_keepalive_probes");
  s.max_orphans = read_int(ipv4 + "tcp_max_orphans");
  s.orphan_retries = read_int(ipv4 + "tcp_orphan_retries");
  s.timestamps = read_int(ipv4 + "tcp_timestamps");
  s.tw_recycle = read_int(ipv4 + "tcp_tw_recycle");
  s.somaxconn = read_int(proc_root + "/sys/net/core/somaxconn");
  if (auto r = read_text(ipv4 + "ip_local_port_range")) {
    const std::string first_line = r->substr(0, r->find('\n'));  // split_ws points into it
    auto f = split_ws(first_line);
    if (f.size() == 2) {
      auto lo = parse_int(f[0]), hi = parse_int(f[1]);
      if (lo && hi && *lo > 0 && *hi >= *lo && *hi <= 65535) s.local_port_range = {{*lo, *hi}};
    }
  }
  for (const char* name : {"/net/netstat", "/net/snmp"}) {
    auto t = read_text(proc_root + name);
    if (!t) {
      return Error::runtime("cannot read " + proc_root + name +
                            (proc_root == "/proc" ? std::string("; is /proc mounted?")
                                                  : std::string("; --proc-root needs copies of /proc/net/netstat, "
                                                                "/proc/net/snmp and /proc/net/sockstat")));
    }
    auto m = parse_proc_netstat(*t);
    h.counters.insert(m.begin(), m.end());
  }
  auto sock = read_text(proc_root + "/net/sockstat");
  if (!sock) return Error::runtime("cannot read " + proc_root + "/net/sockstat");
  h.sockstat = parse_sockstat(*sock);
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
    for (auto line : lines_of(*t)) {
      ++lineno;
      auto f2 = split_ws(line);
      if (f2.empty() || f2[0][0] == '#' || f2[0][0] == ';') continue;
      if (line.find("tcp_tw_recycle") != std::string_view::npos)
        out.push_back(fmt::format("{}:{}: {}", f, lineno, line));
    }
  }
  return out;
}

Observation summarize_observation(const std::vector<SocketRecord>& dump, const std::map<ConnectKey, uint64_t>& connects,
                                  double seconds, LeakReport leaks, uint64_t leak_min_age_ns) {
  Observation o;
  o.seconds = seconds;
  o.leaks = std::move(leaks);
  o.leak_min_age_ns = leak_min_age_ns;
  // Listening ports per namespace: a TIME_WAIT on one is the server side.
  std::set<std::pair<uint32_t, uint16_t>> listening;
  std::map<std::pair<uint32_t, uint16_t>, ListenerStat*> by_port;
  for (const auto& r : dump) {
    if (r.state == TCPFSM_LISTEN && !r.timewait) listening.insert({r.netns, r.sport});
  }
  std::map<ConnectKey, DestinationStat> dests;
  for (const auto& [k, n] : connects) {
    auto& d = dests[k];
    d.addr = format_addr(k.family, k.daddr);
    d.port = k.dport;
    d.connects = n;
  }
  for (const auto& r : dump) {
    if (r.state < TCPFSM_STATE_MAX) ++o.states[r.state];
    if (r.state == TCPFSM_LISTEN && !r.timewait) {
      ListenerStat l;
      l.addr = format_addr(r.family, r.saddr);
      l.port = r.sport;
      l.accept_queue = r.rqueue;
      l.backlog = r.wqueue;
      o.listeners.push_back(l);
    } else if (r.timewait && r.state == TCPFSM_TIME_WAIT) {
      if (listening.count({r.netns, r.sport})) {
        ++o.time_wait_server;
        ++o.time_wait_server_ports[r.sport];
      } else {
        ++o.time_wait_client;
        ConnectKey k{r.family, r.daddr, r.dport};
        auto& d = dests[k];
        d.addr = format_addr(r.family, r.daddr);
        d.port = r.dport;
        ++d.time_wait;
      }
    } else if (r.state == TCPFSM_FIN_WAIT2 && (r.timewait || r.inode == 0)) {
      ++o.orphan_fin_wait2;
    }
  }
  for (const auto& r : dump) {
    if (r.state != TCPFSM_SYN_RECV) continue;
    for (auto& l : o.listeners) {
      if (l.port == r.sport) {
        ++l.syn_recv;
        break;
      }
    }
  }
  for (auto& [k, d] : dests) o.destinations.push_back(d);
  std::stable_sort(o.destinations.begin(), o.destinations.end(), [](const auto& a, const auto& b) {
    return std::max(a.connects, a.time_wait) > std::max(b.connects, b.time_wait);
  });
  if (o.destinations.size() > 20) o.destinations.resize(20);
  std::stable_sort(o.listeners.begin(), o.listeners.end(), [](const auto& a, const auto& b) {
    return a.accept_queue + a.syn_recv > b.accept_queue + b.syn_recv;
  });
  return o;
}

std::string_view severity_name(Severity s) {
  switch (s) {
    case Severity::Ok: return "ok";
    case Severity::Info: return "info";
    case Severity::Warning: return "warning";
    case Severity::Critical: return "critical";
  }
  return "info";
}

std::vector<Finding> diagnose(const DoctorInput& in) {
  std::vector<Finding> out;
  const TcpSettings& s = in.after.settings;
  const Observation* obs = in.observation ? &*in.observation : nullptr;
  const std::string during = in.interval_s > 0 ? fmt::format("during the {:.0f} s watched", in.interval_s) : "";

  // CLOSE_WAIT: always the owner's bug.
  if (obs) {
    for (const auto& g : obs->leaks.groups) {
      if (g.state != TCPFSM_CLOSE_WAIT || g.kind != HolderKind::Process || g.count < kLeakCount) continue;
      Finding f;
      f.id = "close_wait_leak";
      f.severity = g.count >= kLeakCritical ? Severity::Critical : Severity::Warning;
      f.title = fmt::format("{} leaks sockets in CLOSE_WAIT", holder_of(g));
      f.evidence.push_back(fmt::format("{} sockets in CLOSE_WAIT for over {}, oldest {}{}, +{} in the last minute (tcpfsm leaks)",
                                       g.count, human_duration(obs->leak_min_age_ns), g.ages_exact ? "" : "~",
                                       human_duration(g.oldest_ns), g.growth_per_min));
      std::string peers;
      for (const auto& p : g.peers) peers += fmt::format("{}{}:{} ({})", peers.empty() ? "" : ", ", p.addr, p.port, p.count);
      if (!peers.empty()) f.evidence.push_back("peers that closed: " + peers);
      if (g.process && !g.process->cmdline.empty()) f.evidence.push_back("command: " + g.process->cmdline);
      if (g.via_listener) {
        f.explanation =
            "These connections were closed by their clients while waiting in the accept queue: the process listens "
            "but does not call accept() fast enough (or at all), so the kernel holds them for it. No sysctl fixes this.";
        f.action = "Find why the accept loop stalls (blocked worker, full thread pool); accept and close them. "
                   "A restart clears them, the bug stays.";
      } else {
        f.explanation =
            "The peer closed its end and this process never called close() on its own: the socket waits in "
            "CLOSE_WAIT forever, holding a file descriptor, memory and a port. It is always a bug in the process "
            "that owns the socket; no sysctl (tcp_fin_timeout, keepalive, tw_reuse) fixes it.";
        f.action = fmt::format(
            "Fix the code path that reads from these connections: on read() == 0 (EOF) or an error, close the "
            "socket; give connection pools an idle timeout and a validation on checkout. 'tcpfsm leaks --pid {}' "
            "follows it; restarting the process only hides it.",
            g.process ? g.process->pid : 0);
      }
      out.push_back(std::move(f));
    }
  }

  // TIME_WAIT against tcp_max_tw_buckets.
  {
    const int64_t tw = get(in.after.sockstat, "TCP.tw");
    const int64_t overflow_now = delta(in, "TcpExt.TCPTimeWaitOverflow");
    const int64_t overflow_total = get(in.after.counters, "TcpExt.TCPTimeWaitOverflow");
    const bool near = s.max_tw_buckets && *s.max_tw_buckets > 0 && tw * 10 >= *s.max_tw_buckets * 8;
    if (overflow_now > 0 || overflow_total > 0 || near) {
      Finding f;
      f.id = "timewait_limit";
      f.severity = overflow_now > 0 ? Severity::Critical : Severity::Warning;
      f.title = overflow_now > 0 ? "TIME_WAIT overflows tcp_max_tw_buckets: the kernel skips TIME_WAIT"
                                 : "TIME_WAIT is at or near tcp_max_tw_buckets";
      f.evidence.push_back(fmt::format("{} TIME_WAIT sockets (/proc/net/sockstat), tcp_max_tw_buckets = {}", tw,
                                       s.max_tw_buckets ? std::to_string(*s.max_tw_buckets) : "unknown"));
      f.evidence.push_back(fmt::format("TCPTimeWaitOverflow: +{} {}, {} since boot (/proc/net/netstat)", overflow_now,
                                       during, overflow_total));
      f.explanation =
          "Past tcp_max_tw_buckets the kernel closes connections without TIME_WAIT ('time wait bucket table "
          "overflow'), so a late segment of an old connection can be taken for part of a new one with the same "
          "addresses and ports. TIME_WAIT itself is cheap (no process, a few hundred bytes each); lowering the limit, "
          "as the usual recipe does, buys nothing and removes the protection.";
      f.action =
          "Raise tcp_max_tw_buckets above the peak (e.g. 2x), and cut TIME_WAIT where it is made: reuse connections "
          "(keep-alive, pools), let clients close first; for outgoing connections tcp_tw_reuse=1 (needs "
          "tcp_timestamps=1). Do not set tcp_tw_recycle (gone since Linux 4.12).";
      out.push_back(std::move(f));
    }
  }

  // Ephemeral ports per destination.
  if (obs && s.local_port_range && obs->seconds > 0) {
    const int64_t ports = s.local_port_range->second - s.local_port_range->first + 1;
    const double max_rate = static_cast<double>(ports) / kTimeWaitSeconds;
    for (const auto& d : obs->destinations) {
      const double rate = static_cast<double>(d.connects) / obs->seconds;
      const bool rate_high = rate >= 0.5 * max_rate;
      const bool tw_high = static_cast<double>(d.time_wait) >= 0.5 * static_cast<double>(ports);
      if (!rate_high && !tw_high) continue;
      Finding f;
      f.id = "ephemeral_ports";
      f.severity = rate >= 0.8 * max_rate || static_cast<double>(d.time_wait) >= 0.8 * static_cast<double>(ports)
                       ? Severity::Critical
                       : Severity::Warning;
      f.title = fmt::format("new connections to {}:{} approach the ephemeral port limit", d.addr, d.port);
      f.evidence.push_back(fmt::format("{} connections to {}:{} in {:.1f} s = {:.0f}/s (traced); {} of its local ports "
                                       "in TIME_WAIT now",
                                       d.connects, d.addr, d.port, obs->seconds, rate, d.time_wait));
      f.evidence.push_back(fmt::format("ip_local_port_range {}-{} = {} ports; each stays in TIME_WAIT {} s after an "
                                       "active close: at most {:.0f} new connections/s to one address and port",
                                       s.local_port_range->first, s.local_port_range->second, ports, kTimeWaitSeconds,
                                       max_rate));
      if (s.tw_reuse) f.evidence.push_back(fmt::format("tcp_tw_reuse = {}, tcp_timestamps = {}", *s.tw_reuse,
                                                        s.timestamps ? std::to_string(*s.timestamps) : "unknown"));
      f.explanation =
          "Every connection to the same destination address and port needs its own local port, and the side that "
          "closes first keeps it in TIME_WAIT for 60 s. At this rate connect() will start failing with "
          "EADDRNOTAVAIL.";
      f.action =
          "Reuse connections (a pool, HTTP keep-alive) instead of one per request. tcp_tw_reuse=1 lets connect() "
          "take a TIME_WAIT port when timestamps prove it safe (outgoing connections only; both ends need "
          "tcp_timestamps=1; the default 2 does it for loopback only). Widening ip_local_port_range or adding "
          "source addresses raises the ceiling.";
      out.push_back(std::move(f));
    }
  }

  // Who closes first.
  if (obs && obs->time_wait_server >= 50 && obs->time_wait_server * 2 >= obs->time_wait_server + obs->time_wait_client) {
    Finding f;
    f.id = "server_closes_first";
    const bool big = s.max_tw_buckets && *s.max_tw_buckets > 0 &&
                     static_cast<int64_t>(obs->time_wait_server) * 4 >= *s.max_tw_buckets;
    f.severity = big ? Severity::Warning : Severity::Info;
    std::string ports;
    size_t shown = 0;
    for (const auto& [port, n] : obs->time_wait_server_ports) {
      if (shown++ == 5) break;
      ports += fmt::format("{}{} ({})", ports.empty() ? "" : ", ", port, n);
    }
    f.title = "the server side closes first, so TIME_WAIT piles up on the server";
    f.evidence.push_back(fmt::format("{} of {} TIME_WAIT sockets are on listening ports: {} (sock_diag)",
                                     obs->time_wait_server, obs->time_wait_server + obs->time_wait_client, ports));
    f.explanation =
        "TIME_WAIT stays with whichever side closes first. When the server closes (HTTP/1.0, 'Connection: close', "
        "short server idle timeouts), every connection leaves 60 s of TIME_WAIT on the server, where connections "
        "from all clients add up.";
    f.action = "Keep connections alive and let clients close first (server idle timeout longer than the client's). "
               "tcp_tw_reuse does not help here: it only applies to outgoing connections.";
    out.push_back(std::move(f));
  }

  // Orphaned FIN_WAIT2 and orphans.
  {
    const int64_t orphans = get(in.after.sockstat, "TCP.orphan");
    const bool many_fw2 = obs && obs->orphan_fin_wait2 >= 100;
    const bool orphan_limit = s.max_orphans && *s.max_orphans > 0 && orphans * 2 >= *s.max_orphans;
    if (many_fw2 || orphan_limit) {
      Finding f;
      f.id = "orphaned_fin_wait2";
      f.severity = Severity::Warning;
      f.title = "closed sockets wait in FIN_WAIT2 for peers that never close";
      if (obs) f.evidence.push_back(fmt::format("{} orphaned FIN_WAIT2 sockets (sock_diag)", obs->orphan_fin_wait2));
      f.evidence.push_back(fmt::format("{} orphaned sockets (/proc/net/sockstat), tcp_max_orphans = {}, "
                                       "tcp_fin_timeout = {} s",
                                       orphans, s.max_orphans ? std::to_string(*s.max_orphans) : "unknown",
                                       s.fin_timeout ? std::to_string(*s.fin_timeout) : "unknown"));
      f.evidence.push_back(fmt::format("TCPAbortOnTimeout +{} {}", delta(in, "TcpExt.TCPAbortOnTimeout"), during));
      f.explanation =
          "A process closed these connections; the peer acknowledged but never sent its own FIN. The kernel keeps "
          "each for tcp_fin_timeout. This is the one thing tcp_fin_timeout governs: it does not shorten TIME_WAIT.";
      f.action = "Find the peers ('tcpfsm leaks' lists orphaned FIN_WAIT2 by peer) and why they don't close; a lower "
                 "tcp_fin_timeout (e.g. 15-30) frees these sooner.";
      out.push_back(std::move(f));
    }
  }

  // Listen queues and SYN_RECV.
  {
    const int64_t overflows = delta(in, "TcpExt.ListenOverflows");
    const int64_t drops = delta(in, "TcpExt.ListenDrops");
    std::vector<const ListenerStat*> full;
    uint64_t syn_recv = 0;
    if (obs) {
      for (const auto& l : obs->listeners) {
        syn_recv += l.syn_recv;
        if (l.backlog > 0 && l.accept_queue >= l.backlog) full.push_back(&l);
      }
    }
    const bool syn_pile = s.max_syn_backlog && *s.max_syn_backlog > 0 &&
                          static_cast<int64_t>(syn_recv) * 2 >= *s.max_syn_backlog;
    if (overflows > 0 || drops > 0 || !full.empty() || syn_pile) {
      Finding f;
      f.id = "listen_queue";
      f.severity = Severity::Warning;
      f.title = !full.empty() ? fmt::format("the accept queue of port {} is full", full.front()->port)
                              : "connections are dropped at the listen queue";
      f.evidence.push_back(fmt::format("ListenOverflows +{}, ListenDrops +{} {} ({}, {} since boot; /proc/net/netstat)",
                                       overflows, drops, during, get(in.after.counters, "TcpExt.ListenOverflows"),
                                       get(in.after.counters, "TcpExt.ListenDrops")));
      for (const auto* l : full)
        f.evidence.push_back(fmt::format("{}:{}: {} connections wait for accept(), backlog {}", l->addr, l->port,
                                         l->accept_queue, l->backlog));
      if (obs) f.evidence.push_back(fmt::format("{} handshakes in SYN_RECV", syn_recv));
      f.evidence.push_back(fmt::format("somaxconn = {}, tcp_max_syn_backlog = {}, tcp_syncookies = {}",
                                       s.somaxconn ? std::to_string(*s.somaxconn) : "?",
                                       s.max_syn_backlog ? std::to_string(*s.max_syn_backlog) : "?",
                                       s.syncookies ? std::to_string(*s.syncookies) : "?"));
      f.explanation =
          "The accept queue holds connections the kernel completed and the application has not accept()ed yet; its "
          "size is min(the listen() backlog, somaxconn). When it is full, new handshakes are dropped and clients "
          "retry after a second or more. SYN_RECV piles up under SYN floods or lossy clients.";
      f.action =
          "Accept faster (more acceptor threads or workers); raise the backlog in the application's listen() call "
          "and net.core.somaxconn together (one without the other does nothing); keep tcp_syncookies=1.";
      out.push_back(std::move(f));
    }
  }

  // tcp_tw_recycle.
  if ((s.tw_recycle && *s.tw_recycle != 0) || !in.tw_recycle_config.empty()) {
    Finding f;
    f.id = "tw_recycle";
    f.severity = s.tw_recycle && *s.tw_recycle != 0 ? Severity::Critical : Severity::Warning;
    f.title = s.tw_recycle && *s.tw_recycle != 0 ? "tcp_tw_recycle is on: clients behind NAT get dropped"
                                                  : "the sysctl configuration sets tcp_tw_recycle, which no longer exists";
    if (s.tw_recycle) f.evidence.push_back(fmt::format("tcp_tw_recycle = {} (/proc/sys)", *s.tw_recycle));
    for (const auto& m : in.tw_recycle_config) f.evidence.push_back(m);
    f.explanation =
        "tcp_tw_recycle dropped connections whose timestamps went backwards per host, which breaks every client "
        "behind a NAT; Linux 4.12 removed it. On current kernels the line only makes 'sysctl -p' fail.";
    f.action = "Delete the tcp_tw_recycle line. For TIME_WAIT, reuse connections; for outgoing ones, tcp_tw_reuse=1.";
    out.push_back(std::move(f));
  }

  // Recipe settings that hurt here.
  if (s.timestamps && *s.timestamps == 0) {
    Finding f;
    f.id = "timestamps_off";
    f.severity = Severity::Warning;
    f.title = "tcp_timestamps is off";
    f.evidence.push_back(fmt::format("tcp_timestamps = 0, tcp_tw_reuse = {}",
                                     s.tw_reuse ? std::to_string(*s.tw_reuse) : "unknown"));
    f.explanation = "Without timestamps there is no PAWS protection against old duplicate segments, RTT estimates "
                    "worsen, and tcp_tw_reuse never applies (it needs timestamps to prove reuse safe).";
    f.action = "Set net.ipv4.tcp_timestamps=1.";
    out.push_back(std::move(f));
  }
  if (s.syncookies && *s.syncookies == 0) {
    Finding f;
    f.id = "syncookies_off";
    f.severity = Severity::Warning;
    f.title = "tcp_syncookies is off";
    f.evidence.push_back("tcp_syncookies = 0");
    f.explanation = "With syncookies off, a SYN flood or a burst that fills the SYN queue drops legitimate clients.";
    f.action = "Set net.ipv4.tcp_syncookies=1 (they are used only when the queue overflows).";
    out.push_back(std::move(f));
  }
  if (s.max_tw_buckets && *s.max_tw_buckets < 32768) {
    Finding f;
    f.id = "tw_buckets_low";
    f.severity = Severity::Info;
    f.title = "tcp_max_tw_buckets is set low";
    f.evidence.push_back(fmt::format("tcp_max_tw_buckets = {}", *s.max_tw_buckets));
    f.explanation = "A low limit (the recipes' 5000) does not reduce TIME_WAIT; once reached, the kernel skips "
                    "TIME_WAIT and its protection against old duplicates.";
    f.action = "Leave it at the kernel default or raise it; reduce TIME_WAIT by reusing connections.";
    out.push_back(std::move(f));
  }
  if (s.fin_timeout && *s.fin_timeout != 60) {
    Finding f;
    f.id = "fin_timeout_changed";
    f.severity = Severity::Info;
    f.title = "tcp_fin_timeout was changed; it does not shorten TIME_WAIT";
    f.evidence.push_back(fmt::format("tcp_fin_timeout = {} s (default 60)", *s.fin_timeout));
    f.explanation = "TIME_WAIT lasts 60 s, fixed in the kernel (TCP_TIMEWAIT_LEN). tcp_fin_timeout only bounds "
                    "orphaned FIN_WAIT2, so recipes that lower it 'for TIME_WAIT' change nothing there.";
    f.action = "Keep it only if orphaned FIN_WAIT2 is the problem; otherwise it can go back to 60.";
    out.push_back(std::move(f));
  }

  std::stable_sort(out.begin(), out.end(), [](const Finding& a, const Finding& b) { return a.severity > b.severity; });
  if (doctor_exit_status(out) == 0) {
    Finding f;
    f.id = "healthy";
    f.severity = Severity::Ok;
    f.title = obs ? fmt::format("nothing needs fixing: no CLOSE_WAIT leak, TIME_WAIT, port, orphan or listen-queue "
                                "problem in {:.0f} s of watching",
                                obs->seconds)
                  : "nothing needs fixing in these settings and counters";
    f.evidence.push_back(fmt::format("{} TIME_WAIT, {} orphaned, {} in use (/proc/net/sockstat)",
                                     get(in.after.sockstat, "TCP.tw"), get(in.after.sockstat, "TCP.orphan"),
                                     get(in.after.sockstat, "TCP.inuse")));
    out.insert(out.begin(), std::move(f));
  }
  return out;
}

int doctor_exit_status(const std::vector<Finding>& f) {
  for (const auto& x : f) {
    if (x.severity >= Severity::Warning) return 1;
  }
  return 0;
}

nlohmann::json findings_json(const std::vector<Finding>& f) {
  nlohmann::json out = nlohmann::json::array();
  for (const auto& x : f) {
    out.push_back({{"id", x.id},
                   {"severity", severity_name(x.severity)},
                   {"title", x.title},
                   {"evidence", x.evidence},
                   {"explanation", x.explanation},
                   {"action", x.action}});
  }
  return out;
}

std::string findings_text(const std::vector<Finding>& f, const DoctorInput& in) {
  std::string out;
  auto it = std::back_inserter(out);
  if (f.size() == 1 && f[0].severity == Severity::Ok) {
    fmt::format_to(it, "tcpfsm doctor: {}.\n", f[0].title);
    return out;
  }
  if (in.observation) fmt::format_to(it, "tcpfsm doctor: watched {:.0f} s.\n", in.observation->seconds);
  for (const auto& x : f) {
    std::string sev(severity_name(x.severity));
    std::transform(sev.begin(), sev.end(), sev.begin(), [](char c) { return static_cast<char>(std::toupper(c)); });
    fmt::format_to(it, "\n{} [{}] {}\n", sev, x.id, x.title);
    for (const auto& e : x.evidence) fmt::format_to(it, "  evidence: {}\n", e);
    if (!x.explanation.empty()) fmt::format_to(it, "  why:      {}\n", x.explanation);
    if (!x.action.empty()) fmt::format_to(it, "  do:       {}\n", x.action);
  }
  return out;
}

}  // namespace tcpfsm
