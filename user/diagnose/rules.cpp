// The doctor's rules on what was watched and counted, the table of every rule, and diagnose.
#include "diagnose/rules.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <array>

#include "base/duration.hpp"

namespace tcpfsm {
namespace {

// A CLOSE_WAIT holder with fewer sockets is an application closing late, not a leak.
constexpr uint64_t kLeakCount = 5;
constexpr uint64_t kLeakCritical = 1000;
constexpr uint64_t kTimeWaitSeconds = 60;  // TCP_TIMEWAIT_LEN, fixed in the kernel

std::string during(const DoctorInput& in) {
  return in.interval_s > 0 ? fmt::format("during the {:.0f} s watched", in.interval_s) : "";
}

std::string value_or(const std::optional<int64_t>& v, const char* missing) { return v ? std::to_string(*v) : missing; }

const Observation* observed(const DoctorInput& in) { return in.observation ? &*in.observation : nullptr; }

std::string holder_of(const LeakGroup& g) {
  return g.process ? process_text(g.process->pid, g.process->comm, g.process) : "(no process)";
}

Finding close_wait_finding(const LeakGroup& g, const Observation& obs) {
  Finding f;
  f.id = "close_wait_leak";
  f.severity = g.count >= kLeakCritical ? Severity::Critical : Severity::Warning;
  f.title = fmt::format("{} leaks sockets in CLOSE_WAIT", holder_of(g));
  f.evidence.push_back(fmt::format(
      "{} sockets in CLOSE_WAIT for over {}, oldest {}{}, +{} in the last minute (tcpfsm leaks)", g.count,
      human_duration(obs.leak_min_age_ns), g.ages_exact ? "" : "~", human_duration(g.oldest_ns), g.growth_per_min));
  std::string peers;
  for (const auto& p : g.peers)
    peers += fmt::format("{}{}:{} ({})", peers.empty() ? "" : ", ", p.addr, p.port, p.count);
  if (!peers.empty()) f.evidence.push_back("peers that closed: " + peers);
  if (g.process && !g.process->cmdline.empty()) f.evidence.push_back("command: " + one_line(g.process->cmdline));
  if (g.via_listener) {
    f.explanation =
        "These connections were closed by their clients while waiting in the accept queue: the process listens "
        "but does not call accept() fast enough (or at all), so the kernel holds them for it. No sysctl fixes this.";
    f.action =
        "Find why the accept loop stalls (blocked worker, full thread pool); accept and close them. "
        "A restart clears them, the bug stays.";
  } else {
    f.explanation =
        "The peer closed its end and this process never called close() on its own: the socket waits in "
        "CLOSE_WAIT forever, holding a file descriptor, memory and a port. It is always a bug in the process "
        "that owns the socket; no sysctl (tcp_fin_timeout, keepalive, tw_reuse) fixes it. Linux has no "
        "CLOSE_WAIT timer at all: the 43,200 s some posts quote is nf_conntrack_tcp_timeout_close_wait, how "
        "long connection tracking remembers the flow, not how long TCP keeps the socket.";
    f.action = fmt::format(
        "Fix the code path that reads from these connections: on read() == 0 (EOF) or an error, close the "
        "socket; give connection pools an idle timeout and a validation on checkout. 'tcpfsm leaks --pid {}' "
        "follows it; restarting the process only hides it.",
        g.process ? g.process->pid : 0);
  }
  return f;
}

constexpr std::array kRules{
    DoctorRule{"close_wait_leak", check_close_wait_leak},
    DoctorRule{"timewait_limit", check_timewait_limit},
    DoctorRule{"ephemeral_ports", check_ephemeral_ports},
    DoctorRule{"server_closes_first", check_server_closes_first},
    DoctorRule{"orphaned_fin_wait2", check_orphaned_fin_wait2},
    DoctorRule{"listen_queue", check_listen_queue},
    DoctorRule{"fin_wait1_stuck", check_fin_wait1_stuck},
    DoctorRule{"last_ack_stuck", check_last_ack_stuck},
    DoctorRule{"closing_stuck", check_closing_stuck},
    DoctorRule{"syn_sent_scan", check_syn_sent_scan},
    DoctorRule{"syn_sent_unreachable", check_syn_sent_unreachable},
    DoctorRule{"idle_established", check_idle_established},
    DoctorRule{"tw_recycle", check_tw_recycle},
    DoctorRule{"timestamps_off", check_timestamps_off},
    DoctorRule{"syncookies_off", check_syncookies_off},
    DoctorRule{"tw_buckets_low", check_tw_buckets_low},
    DoctorRule{"fin_timeout_changed", check_fin_timeout_changed},
};

Finding healthy_finding(const DoctorInput& in) {
  const Observation* obs = observed(in);
  Finding f;
  f.id = "healthy";
  f.severity = Severity::Ok;
  f.title = obs ? fmt::format(
                      "nothing needs fixing: no CLOSE_WAIT leak, TIME_WAIT, port, orphan or listen-queue "
                      "problem in {:.0f} s of watching",
                      obs->seconds)
                : "nothing needs fixing in these settings and counters";
  f.evidence.push_back(fmt::format(
      "{} TIME_WAIT, {} orphaned, {} in use (/proc/net/sockstat)", counter_value(in.after.sockstat, "TCP.tw"),
      counter_value(in.after.sockstat, "TCP.orphan"), counter_value(in.after.sockstat, "TCP.inuse")));
  return f;
}

}  // namespace

// CLOSE_WAIT: always the owner's bug.
void check_close_wait_leak(const DoctorInput& in, std::vector<Finding>& out) {
  const Observation* obs = observed(in);
  if (!obs) return;
  for (const auto& g : obs->leaks.groups) {
    if (g.state != TCPFSM_CLOSE_WAIT || g.kind != HolderKind::Process || g.count < kLeakCount) continue;
    out.push_back(close_wait_finding(g, *obs));
  }
}

void check_timewait_limit(const DoctorInput& in, std::vector<Finding>& out) {
  const TcpSettings& s = in.after.settings;
  const int64_t tw = counter_value(in.after.sockstat, "TCP.tw");
  const int64_t overflow_now = counter_moved(in, "TcpExt.TCPTimeWaitOverflow");
  const int64_t overflow_total = counter_value(in.after.counters, "TcpExt.TCPTimeWaitOverflow");
  const bool near = s.max_tw_buckets && *s.max_tw_buckets > 0 && tw * 10 >= *s.max_tw_buckets * 8;
  if (!(overflow_now > 0 || overflow_total > 0 || near)) return;
  Finding f;
  f.id = "timewait_limit";
  // Overflows counted only before the watch, with TIME_WAIT far from the
  // limit now, are history: worth knowing, not a warning about this host now.
  const bool history = overflow_now == 0 && !near;
  f.severity = overflow_now > 0 ? Severity::Critical : history ? Severity::Info : Severity::Warning;
  f.title = overflow_now > 0 ? "TIME_WAIT overflows tcp_max_tw_buckets: the kernel skips TIME_WAIT"
            : history        ? "TIME_WAIT overflowed tcp_max_tw_buckets once, before this watch; not now"
                             : "TIME_WAIT is at or near tcp_max_tw_buckets";
  f.evidence.push_back(fmt::format("{} TIME_WAIT sockets (/proc/net/sockstat), tcp_max_tw_buckets = {}", tw,
                                   value_or(s.max_tw_buckets, "unknown")));
  f.evidence.push_back(fmt::format("TCPTimeWaitOverflow: +{} {}, {} since boot (/proc/net/netstat)", overflow_now,
                                   in.interval_s > 0 ? during(in) : "(not watched)", overflow_total));
  if (history) {
    f.evidence.push_back(in.interval_s > 0
                             ? "the overflows happened before the watch, at some time since boot or since this "
                               "network namespace was created; none during it"
                             : "when they happened is not known without a watch (doctor --interval N counts "
                               "them while it watches)");
  }
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

// Per destination, because a local port is only taken per (destination address, port).
void check_ephemeral_ports(const DoctorInput& in, std::vector<Finding>& out) {
  const TcpSettings& s = in.after.settings;
  const Observation* obs = observed(in);
  if (!(obs && s.local_port_range && obs->seconds > 0)) return;
  const int64_t ports = s.local_port_range->second - s.local_port_range->first + 1;
  const double max_rate = static_cast<double>(ports) / kTimeWaitSeconds;
  for (const auto& d : obs->destinations) {
    const double rate = static_cast<double>(d.connects) / obs->seconds;
    const bool rate_high = rate >= 0.5 * max_rate;
    const bool tw_high = static_cast<double>(d.time_wait) >= 0.5 * static_cast<double>(ports);
    if (!rate_high && !tw_high && !d.no_local_port) continue;
    Finding f;
    f.id = "ephemeral_ports";
    f.severity = d.no_local_port || rate >= 0.8 * max_rate ||
                         static_cast<double>(d.time_wait) >= 0.8 * static_cast<double>(ports)
                     ? Severity::Critical
                     : Severity::Warning;
    f.title = d.no_local_port
                  ? fmt::format("connect() to {}:{} fails: no free ephemeral port", d.addr, d.port)
                  : fmt::format("new connections to {}:{} approach the ephemeral port limit", d.addr, d.port);
    if (d.no_local_port)
      f.evidence.push_back(
          fmt::format("{} connect() calls to {}:{} found no free local port during the watch (EADDRNOTAVAIL: traced "
                      "SYN_SENT -> CLOSE with cause no_local_port, no SYN sent)",
                      d.no_local_port, d.addr, d.port));
    f.evidence.push_back(
        fmt::format("{} connections to {}:{} in {:.1f} s = {:.0f}/s (traced); {} of its local ports "
                    "in TIME_WAIT now",
                    d.connects, d.addr, d.port, obs->seconds, rate, d.time_wait));
    f.evidence.push_back(
        fmt::format("ip_local_port_range {}-{} = {} ports; each stays in TIME_WAIT {} s after an "
                    "active close: at most {:.0f} new connections/s to one address and port",
                    s.local_port_range->first, s.local_port_range->second, ports, kTimeWaitSeconds, max_rate));
    if (s.tw_reuse) {
      f.evidence.push_back(fmt::format(
          "tcp_tw_reuse = {}, tcp_timestamps = {}, tcp_tw_reuse_delay = {}", *s.tw_reuse,
          value_or(s.timestamps, "unknown"),
          s.tw_reuse_delay_ms ? fmt::format("{} ms", *s.tw_reuse_delay_ms) : "absent (1 s, fixed, before Linux 6.13)"));
    }
    f.explanation =
        "Every connection to the same destination address and port needs its own local port, and the side that "
        "closes first keeps it in TIME_WAIT for 60 s. At this rate connect() will start failing with "
        "EADDRNOTAVAIL.";
    f.action =
        "Reuse connections (a pool, HTTP keep-alive) instead of one per request. tcp_tw_reuse=1 lets connect() "
        "take a TIME_WAIT port when timestamps prove it safe and the TIME_WAIT socket is tcp_tw_reuse_delay "
        "old (outgoing connections only; both ends need tcp_timestamps=1; the default 2 does it for loopback "
        "only). Widening ip_local_port_range or adding source addresses raises the ceiling.";
    out.push_back(std::move(f));
  }
}

// Who closes first.
void check_server_closes_first(const DoctorInput& in, std::vector<Finding>& out) {
  const TcpSettings& s = in.after.settings;
  const Observation* obs = observed(in);
  if (!(obs && obs->time_wait_server >= 50 &&
        obs->time_wait_server * 2 >= obs->time_wait_server + obs->time_wait_client))
    return;
  Finding f;
  f.id = "server_closes_first";
  const bool big =
      s.max_tw_buckets && *s.max_tw_buckets > 0 && static_cast<int64_t>(obs->time_wait_server) * 4 >= *s.max_tw_buckets;
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
      "from all clients add up. On Linux TIME_WAIT is TCP_TIMEWAIT_LEN, 60 s, fixed when the kernel is built: "
      "no sysctl shortens it (tcp_fin_timeout bounds orphaned FIN_WAIT2 only; the 240 s some posts quote is "
      "Windows' default).";
  f.action =
      "Keep connections alive and let clients close first (server idle timeout longer than the client's). "
      "tcp_tw_reuse does not help here: it only applies to outgoing connections.";
  out.push_back(std::move(f));
}

// Orphaned FIN_WAIT2 and orphans: without an observation, the orphan count alone can still say it.
void check_orphaned_fin_wait2(const DoctorInput& in, std::vector<Finding>& out) {
  const TcpSettings& s = in.after.settings;
  const Observation* obs = observed(in);
  const int64_t orphans = counter_value(in.after.sockstat, "TCP.orphan");
  const bool many_fw2 = obs && obs->orphan_fin_wait2 >= 100;
  const bool orphan_limit = s.max_orphans && *s.max_orphans > 0 && orphans * 2 >= *s.max_orphans;
  if (!(many_fw2 || orphan_limit)) return;
  Finding f;
  f.id = "orphaned_fin_wait2";
  f.severity = Severity::Warning;
  f.title = "closed sockets wait in FIN_WAIT2 for peers that never close";
  if (obs) f.evidence.push_back(fmt::format("{} orphaned FIN_WAIT2 sockets (sock_diag)", obs->orphan_fin_wait2));
  f.evidence.push_back(
      fmt::format("{} orphaned sockets (/proc/net/sockstat), tcp_max_orphans = {}, "
                  "tcp_fin_timeout = {} s",
                  orphans, value_or(s.max_orphans, "unknown"), value_or(s.fin_timeout, "unknown")));
  f.evidence.push_back(
      fmt::format("TCPAbortOnTimeout +{} {}", counter_moved(in, "TcpExt.TCPAbortOnTimeout"), during(in)));
  f.explanation =
      "A process closed these connections; the peer acknowledged but never sent its own FIN. The kernel keeps "
      "each for tcp_fin_timeout. This is the one thing tcp_fin_timeout governs: it does not shorten TIME_WAIT.";
  f.action =
      "Find the peers ('tcpfsm leaks' lists orphaned FIN_WAIT2 by peer) and why they don't close; a lower "
      "tcp_fin_timeout (e.g. 15-30) frees these sooner.";
  out.push_back(std::move(f));
}

// Listen queues and SYN_RECV.
void check_listen_queue(const DoctorInput& in, std::vector<Finding>& out) {
  const TcpSettings& s = in.after.settings;
  const Observation* obs = observed(in);
  const int64_t overflows = counter_moved(in, "TcpExt.ListenOverflows");
  const int64_t drops = counter_moved(in, "TcpExt.ListenDrops");
  std::vector<const ListenerStat*> full;
  uint64_t syn_recv = 0;
  if (obs) {
    for (const auto& l : obs->listeners) {
      syn_recv += l.syn_recv;
      if (l.backlog > 0 && l.accept_queue >= l.backlog) full.push_back(&l);
    }
  }
  const bool syn_pile =
      s.max_syn_backlog && *s.max_syn_backlog > 0 && static_cast<int64_t>(syn_recv) * 2 >= *s.max_syn_backlog;
  if (!(overflows > 0 || drops > 0 || !full.empty() || syn_pile)) return;
  Finding f;
  f.id = "listen_queue";
  f.severity = Severity::Warning;
  f.title = !full.empty() ? fmt::format("the accept queue of port {} is full", full.front()->port)
                          : "connections are dropped at the listen queue";
  f.evidence.push_back(fmt::format("ListenOverflows +{}, ListenDrops +{} {} ({}, {} since boot; /proc/net/netstat)",
                                   overflows, drops, during(in),
                                   counter_value(in.after.counters, "TcpExt.ListenOverflows"),
                                   counter_value(in.after.counters, "TcpExt.ListenDrops")));
  for (const auto* l : full)
    f.evidence.push_back(fmt::format("{}:{}: {} connections wait for accept(), backlog {}", l->addr, l->port,
                                     l->accept_queue, l->backlog));
  if (obs) f.evidence.push_back(fmt::format("{} handshakes in SYN_RECV", syn_recv));
  f.evidence.push_back(fmt::format("somaxconn = {}, tcp_max_syn_backlog = {}, tcp_syncookies = {}",
                                   value_or(s.somaxconn, "?"), value_or(s.max_syn_backlog, "?"),
                                   value_or(s.syncookies, "?")));
  f.explanation =
      "The accept queue holds connections the kernel completed and the application has not accept()ed yet; its "
      "size is min(the listen() backlog, somaxconn). When it is full, new handshakes are dropped and clients "
      "retry after a second or more. SYN_RECV piles up under SYN floods or lossy clients.";
  f.action =
      "Accept faster (more acceptor threads or workers); raise the backlog in the application's listen() call "
      "and net.core.somaxconn together (one without the other does nothing); keep tcp_syncookies=1.";
  out.push_back(std::move(f));
}

std::span<const DoctorRule> doctor_rules() { return kRules; }

std::vector<Finding> diagnose(const DoctorInput& in) {
  std::vector<Finding> out;
  for (const auto& rule : doctor_rules()) rule.check(in, out);
  // Stable: findings of one severity keep the table's order.
  std::stable_sort(out.begin(), out.end(), [](const Finding& a, const Finding& b) { return a.severity > b.severity; });
  if (doctor_exit_status(out) == 0) out.insert(out.begin(), healthy_finding(in));
  return out;
}

}  // namespace tcpfsm
