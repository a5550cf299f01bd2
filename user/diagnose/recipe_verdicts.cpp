// `doctor --recipe`: one verdict per line of a sysctl recipe, from what the
// setting does on Linux and what was measured on this host (see recipe.hpp).
//
// Each setting tcpfsm knows has a judge: a function of the recipe's line and
// the evidence that returns a verdict, why, and the numbers. The table of
// judges is the list of settings tcpfsm has an opinion on.
#include <fmt/format.h>

#include <algorithm>
#include <limits>
#include <map>

#include "base/parse.hpp"
#include "diagnose/recipe.hpp"

namespace tcpfsm {
namespace {

struct Judgment {
  Verdict verdict = Verdict::UnknownSetting;
  std::string why;
  std::vector<std::string> evidence;
};

// What every judge reads: the input, and the recipe's last value of each
// setting (the one sysctl leaves in place).
class Evidence {
 public:
  Evidence(const Recipe& r, const DoctorInput& in) : in_(in) {
    for (const auto& s : r.settings) last_[s.setting] = &s;
  }

  const DoctorInput& in() const { return in_; }
  const Observation* observed() const { return in_.observation ? &*in_.observation : nullptr; }

  std::optional<std::string> current(const std::string& name) const {
    auto it = in_.after.sysctls.find(name);
    if (it == in_.after.sysctls.end()) return std::nullopt;
    return it->second;
  }
  // The current value's first integer.
  std::optional<int64_t> current_int(const std::string& name) const {
    auto v = current(name);
    if (!v) return std::nullopt;
    return parse_number<int64_t>(std::string_view(*v).substr(0, v->find(' ')));
  }
  // What the setting will be once the recipe is applied: its last line's first number, or the current value.
  std::optional<int64_t> after_recipe(const std::string& name) const {
    if (auto it = last_.find(name); it != last_.end() && !it->second->numbers.empty())
      return it->second->numbers.front();
    return current_int(name);
  }
  const RecipeSetting* recipe_line(const std::string& name) const {
    auto it = last_.find(name);
    return it == last_.end() ? nullptr : it->second;
  }

  int64_t counter(const std::string& key) const { return counter_value(in_.after.counters, key); }
  int64_t moved(const std::string& key) const { return counter_moved(in_, key); }
  // Counters as evidence: "TcpExt.ListenOverflows 0 since boot, 0 during the 10 s watched".
  std::string counter_text(const std::string& key) const {
    std::string s = fmt::format("{} {} since boot", key, counter(key));
    if (in_.interval_s > 0) s += fmt::format(", +{} during the {:.0f} s watched", moved(key), in_.interval_s);
    return s + " (/proc/net/netstat)";
  }
  int64_t sockstat(const std::string& key) const {
    return std::max(counter_value(in_.before.sockstat, key), counter_value(in_.after.sockstat, key));
  }
  // The most TIME_WAIT sockets counted: sockstat at the start and the end, and the watch's dump.
  int64_t time_wait_highest() const {
    int64_t n = sockstat("TCP.tw");
    if (const Observation* o = observed()) n = std::max<int64_t>(n, o->states[TCPFSM_TIME_WAIT]);
    return n;
  }
  std::string watched_or_files() const {
    return observed() ? fmt::format("the {:.0f} s watched", observed()->seconds)
                      : std::string("files only (--proc-root or --observe 0): no live traffic was watched");
  }

 private:
  const DoctorInput& in_;
  std::map<std::string, const RecipeSetting*> last_;
};

using JudgeFn = Judgment (*)(const Evidence& ev, const RecipeSetting& s);

struct Judge {
  std::string_view setting;  // dotted, as sysctl names it
  size_t numbers;            // how many integers the kernel takes for it
  JudgeFn judge;
};

std::string seconds_text(int64_t s) { return fmt::format("{} s", s); }

// Time until a connect gives up after `retries` SYN retransmissions, the
// first after TCP_TIMEOUT_INIT (1 s) and each doubling: 2^(retries+1) - 1 s.
int64_t give_up_s(int64_t retries) { return retries >= 0 && retries < 30 ? (int64_t{2} << retries) - 1 : -1; }

// The busiest destination's share of the local port range, for the port judges.
struct PortPressure {
  bool known = false;  // the watch saw destinations (or there are none to see)
  std::string busiest;
  uint64_t held = 0;  // TIME_WAIT and connects to it
  uint64_t failed = 0;
  int64_t range = 0;
};

PortPressure port_pressure(const Evidence& ev) {
  PortPressure p;
  auto r = ev.in().after.settings.local_port_range;
  p.range = r ? r->second - r->first + 1 : 28232;
  if (const Observation* o = ev.observed()) {
    p.known = true;
    for (const auto& d : o->destinations) {
      const uint64_t held = std::max(d.connects, d.time_wait);
      p.failed += d.no_local_port;
      if (held > p.held || p.busiest.empty()) {
        p.held = held;
        p.busiest = fmt::format("{}:{}", d.addr, d.port);
      }
    }
  }
  return p;
}

bool under_pressure(const PortPressure& p) {
  return p.failed > 0 || (p.range > 0 && p.held * 2 >= static_cast<uint64_t>(p.range));
}

std::string pressure_text(const PortPressure& p) {
  if (!p.known) return "connections per destination: not watched (files only)";
  if (p.busiest.empty()) return "no outgoing connection during the watch";
  return fmt::format(
      "busiest destination {}: {} connects or TIME_WAIT of {} local ports; {} connects found no free port", p.busiest,
      p.held, p.range, p.failed);
}

Judgment tw_recycle(const Evidence& ev, const RecipeSetting& s) {
  Judgment j;
  const auto cur = ev.current(s.setting);
  if (!cur) {
    j.verdict = Verdict::NoEffectHere;
    j.why =
        "Linux 4.12 removed tcp_tw_recycle, so this line sets nothing; 'sysctl -p' prints \"cannot stat\" for it and "
        "exits 1 (the other lines still apply). Where it existed, 1 dropped SYNs whose timestamps went backwards "
        "per source address, which broke every client behind a NAT. Delete the line.";
    j.evidence.push_back("/proc/sys/net/ipv4/tcp_tw_recycle does not exist on this kernel");
    return j;
  }
  j.verdict = s.numbers.front() != 0 ? Verdict::Harmful : Verdict::UnneededHere;
  j.why = s.numbers.front() != 0
              ? "This kernel still has tcp_tw_recycle: at 1 it drops connections from clients behind a NAT whose "
                "timestamps go backwards. Use tcp_tw_reuse for outgoing connections and reuse connections."
              : "0 keeps tcp_tw_recycle off, as it should be; the line only matters if someone turned it on.";
  j.evidence.push_back(fmt::format("tcp_tw_recycle = {} now", *cur));
  return j;
}

Judgment tw_reuse(const Evidence& ev, const RecipeSetting& s) {
  Judgment j;
  const int64_t v = s.numbers.front();
  const auto ts = ev.after_recipe("net.ipv4.tcp_timestamps");
  const PortPressure p = port_pressure(ev);
  j.evidence.push_back(pressure_text(p));
  if (v == 0) {
    j.verdict = under_pressure(p) ? Verdict::Harmful : Verdict::UnneededHere;
    j.why =
        "0 stops outgoing connect() from taking ports held by TIME_WAIT, even on loopback (the default 2 allows "
        "it there).";
    return j;
  }
  if (ts && *ts == 0) {
    j.verdict = Verdict::NoEffectHere;
    const RecipeSetting* off = ev.recipe_line("net.ipv4.tcp_timestamps");
    j.why = fmt::format(
        "tcp_tw_reuse lets connect() take a port held by TIME_WAIT only when TCP timestamps prove the new "
        "connection's segments newer than the old one's, and {} turns timestamps off: it never applies.",
        off ? fmt::format("line {} of this recipe", off->line) : std::string("this host"));
    j.evidence.push_back(fmt::format("tcp_timestamps = {} after this recipe", *ts));
    return j;
  }
  const auto delay = ev.in().after.settings.tw_reuse_delay_ms;
  const std::string when =
      delay ? fmt::format("once the TIME_WAIT socket is {} ms old (tcp_tw_reuse_delay)", *delay) : "after 1 s";
  if (under_pressure(p)) {
    j.verdict = Verdict::HelpsHere;
    j.why = fmt::format(
        "Outgoing connections here run short of local ports; with {} connect() may take a port held by TIME_WAIT "
        "{} to the same destination. It does nothing for connections this host accepts.",
        v, when);
  } else {
    j.verdict = Verdict::UnneededHere;
    j.why = fmt::format(
        "tcp_tw_reuse = {} lets outgoing connect() take a port held by TIME_WAIT {}; it never shortens TIME_WAIT "
        "and does nothing for connections this host accepts. No destination here is short of ports{}.",
        v, when, p.known ? "" : " (judged without a watch)");
  }
  return j;
}

Judgment timestamps(const Evidence& ev, const RecipeSetting& s) {
  Judgment j;
  const auto cur = ev.current_int(s.setting);
  j.evidence.push_back(fmt::format("tcp_timestamps = {} now", cur ? std::to_string(*cur) : "unknown"));
  if (s.numbers.front() == 0) {
    j.verdict = Verdict::Harmful;
    const RecipeSetting* reuse = ev.recipe_line("net.ipv4.tcp_tw_reuse");
    j.why = fmt::format(
        "Timestamps are PAWS, the protection against old duplicate segments once sequence numbers wrap, and "
        "what RTT estimates and tcp_tw_reuse rest on; 0 removes all three{}.",
        reuse && !reuse->numbers.empty() && reuse->numbers.front() != 0
            ? fmt::format(", so this recipe's own tcp_tw_reuse (line {}) never applies", reuse->line)
            : "");
    return j;
  }
  j.verdict = cur && *cur == 0 ? Verdict::HelpsHere : Verdict::UnneededHere;
  j.why = cur && *cur == 0 ? "Turns timestamps back on: PAWS, better RTT estimates, and tcp_tw_reuse can apply."
                           : "Timestamps are on already (the default).";
  return j;
}

Judgment max_tw_buckets(const Evidence& ev, const RecipeSetting& s) {
  Judgment j;
  const int64_t v = s.numbers.front();
  const int64_t highest = ev.time_wait_highest();
  const auto cur = ev.current_int(s.setting);
  j.evidence.push_back(
      fmt::format("TIME_WAIT: {} at most, read at the start and end of {} (/proc/net/sockstat tw{}; it counts orphaned "
                  "FIN_WAIT2 too, as the limit does)",
                  highest, ev.watched_or_files(), ev.observed() ? ", sock_diag" : ""));
  j.evidence.push_back(fmt::format("tcp_max_tw_buckets = {} now", cur ? std::to_string(*cur) : "unknown"));
  j.evidence.push_back(ev.counter_text("TcpExt.TCPTimeWaitOverflow"));
  const std::string what =
      "Past the limit the kernel does not make fewer TIME_WAIT: it closes those connections without one, losing "
      "the protection against their stale segments and the last-ACK retransmission, and logs "
      "\"TCP: time wait bucket table overflow\".";
  if (v < highest) {
    j.verdict = Verdict::Harmful;
    j.why = fmt::format(
        "TIME_WAIT reached {} here (with orphaned FIN_WAIT2, which the limit counts too): at {} the kernel would skip "
        "TIME_WAIT for {} closing connections. {}",
        highest, v, highest - v, what);
  } else if (cur && *cur < v && (ev.moved("TcpExt.TCPTimeWaitOverflow") > 0 || highest >= *cur)) {
    j.verdict = Verdict::HelpsHere;
    j.why = fmt::format("TIME_WAIT is at the current limit of {}; {} gives it room. {}", *cur, v, what);
  } else {
    j.verdict = Verdict::UnneededHere;
    j.why = fmt::format(
        "At most {} TIME_WAIT here, below {}: the limit never acts. {} Fewer TIME_WAIT come from reusing "
        "connections (keep-alive, pools) or from letting the client close first.",
        highest, v, what);
  }
  return j;
}

Judgment fin_timeout(const Evidence& ev, const RecipeSetting& s) {
  Judgment j;
  const int64_t v = s.numbers.front();
  const auto cur = ev.current_int(s.setting);
  const std::string what = fmt::format(
      "tcp_fin_timeout bounds only orphaned FIN_WAIT2 (a socket this host closed whose peer never sends its FIN); "
      "it never shortens TIME_WAIT, which is {} fixed (TCP_TIMEWAIT_LEN).",
      seconds_text(60));
  j.evidence.push_back(fmt::format("tcp_fin_timeout = {} now", cur ? seconds_text(*cur) : "unknown"));
  const Observation* o = ev.observed();
  if (!o) {
    j.verdict = Verdict::UnneededHere;
    j.evidence.push_back("orphaned FIN_WAIT2: not counted (files only; run doctor live to count them)");
    j.why = what + " Nothing read from files shows orphaned FIN_WAIT2.";
    return j;
  }
  j.evidence.push_back(
      fmt::format("{} orphaned FIN_WAIT2 at the end of {} (sock_diag)", o->orphan_fin_wait2, ev.watched_or_files()));
  if (o->orphan_fin_wait2 > 0 && cur && v < *cur) {
    j.verdict = Verdict::HelpsHere;
    j.why = fmt::format("{} They would go after {} instead of {}.", what, seconds_text(v), seconds_text(*cur));
  } else if (o->orphan_fin_wait2 > 0 && cur && v > *cur) {
    j.verdict = Verdict::Harmful;
    j.why = fmt::format("{} The orphans here would stay {} instead of {}.", what, seconds_text(v), seconds_text(*cur));
  } else {
    j.verdict = Verdict::UnneededHere;
    j.why = what + (o->orphan_fin_wait2 ? " It is the value already." : " There are none here.");
  }
  return j;
}

Judgment local_port_range(const Evidence& ev, const RecipeSetting& s) {
  Judgment j;
  const int64_t lo = s.numbers[0], hi = s.numbers[1];
  const PortPressure p = port_pressure(ev);
  j.evidence.push_back(pressure_text(p));
  if (s.value.find('-') != std::string::npos) {
    j.verdict = Verdict::NoEffectHere;
    j.why = fmt::format(
        "The kernel refuses \"{}\" (sysctl: Invalid argument): the two ports are separated by a blank, \"{} {}\". "
        "The range stays what it is.",
        s.value, lo, hi);
    return j;
  }
  if (lo < 1024 || hi > 65535 || lo > hi) {
    j.verdict = lo > hi || hi > 65535 ? Verdict::NoEffectHere : Verdict::Harmful;
    j.why = lo > hi || hi > 65535 ? "The kernel refuses a range whose low port is above its high one or past 65535."
                                  : "Ports below 1024 are for privileged services; connections would take them.";
    return j;
  }
  const int64_t size = hi - lo + 1;
  std::vector<uint16_t> exposed;
  const auto cur = ev.in().after.settings.local_port_range;
  if (const Observation* o = ev.observed()) {
    for (const auto& l : o->listeners) {
      const bool now = cur && l.port >= cur->first && l.port <= cur->second;
      if (l.port >= lo && l.port <= hi && !now) exposed.push_back(l.port);
    }
  }
  std::sort(exposed.begin(), exposed.end());
  exposed.erase(std::unique(exposed.begin(), exposed.end()), exposed.end());
  if (!exposed.empty())
    j.evidence.push_back(fmt::format(
        "listening ports {} fall in the new range: an outgoing connection can hold one when its service restarts "
        "(bind: Address already in use); list them in net.ipv4.ip_local_reserved_ports",
        fmt::join(exposed, ", ")));
  if (under_pressure(p) && size > p.range) {
    j.verdict = Verdict::HelpsHere;
    j.why = fmt::format("{} local ports instead of {} for each destination: outgoing connections here run short.", size,
                        p.range);
  } else if (p.known && size < p.range && p.held * 2 >= static_cast<uint64_t>(size)) {
    j.verdict = Verdict::Harmful;
    j.why = fmt::format("{} local ports instead of {}, and the busiest destination already holds {}.", size, p.range,
                        p.held);
  } else {
    j.verdict = Verdict::UnneededHere;
    j.why = fmt::format(
        "The range is the local ports for outgoing connections, per destination (address and port); {} instead of "
        "{}, and no destination here is near it{}. It does nothing for connections this host accepts.",
        size, p.range, p.known ? "" : " (judged without a watch)");
  }
  return j;
}

Judgment keepalive(const Evidence& ev, const RecipeSetting& s) {
  Judgment j;
  const auto cur = ev.current(s.setting);
  j.evidence.push_back(fmt::format("{} = {} now", s.setting.substr(9), cur.value_or("unknown")));
  const std::string what =
      "Keepalive applies only to sockets that set SO_KEEPALIVE (and did not set their own TCP_KEEPIDLE, "
      "TCP_KEEPINTVL, TCP_KEEPCNT); it finds dead peers and keeps NAT and firewall entries alive. It closes no "
      "idle connection to a live peer, and touches no TIME_WAIT or CLOSE_WAIT.";
  const Observation* o = ev.observed();
  if (!o) {
    j.verdict = Verdict::UnneededHere;
    j.evidence.push_back("sockets with keepalive: not counted (files only)");
    j.why = what;
    return j;
  }
  j.evidence.push_back(fmt::format("{} of {} ESTABLISHED sockets have a keepalive timer (sock_diag idiag_timer)",
                                   o->keepalive, o->states[TCPFSM_ESTABLISHED]));
  if (o->keepalive == 0) {
    j.verdict = Verdict::NoEffectHere;
    j.why = what + " No socket here asks for it.";
  } else {
    j.verdict = Verdict::HelpsHere;
    j.why =
        what + fmt::format(" {} sockets here ask for it and would notice a dead peer at this setting.", o->keepalive);
  }
  return j;
}

Judgment syn_retries(const Evidence& ev, const RecipeSetting& s) {
  Judgment j;
  const int64_t v = s.numbers.front();
  const bool syn = s.setting == "net.ipv4.tcp_syn_retries";
  const auto cur = ev.current_int(s.setting);
  j.evidence.push_back(
      fmt::format("{} = {} now", s.setting.substr(9), cur ? std::to_string(*cur) : std::string("unknown")));
  j.evidence.push_back(ev.counter_text("TcpExt.TCPSynRetrans"));
  const std::string what = fmt::format(
      "{} {} retransmissions: a handshake gives up after about {} (1 s initial timeout, doubling) instead of {}. "
      "A path that drops a few SYNs then fails instead of connecting late; a dead destination fails sooner, for "
      "every program on the host.",
      syn ? "A connect() tries" : "A server answers a SYN with", v, seconds_text(give_up_s(v)),
      cur ? seconds_text(give_up_s(*cur)) : std::string("the current value"));
  if (ev.moved("TcpExt.TCPSynRetrans") > 0 && cur && v < *cur) {
    j.verdict = Verdict::Harmful;
    j.why = what + " SYNs were retransmitted during the watch: some of these handshakes need the retries.";
  } else {
    j.verdict = Verdict::UnneededHere;
    j.why = what + (ev.in().interval_s > 0 ? " No handshake here needed fewer retries during the watch."
                                           : " Without a watch only the counter since boot is known.");
  }
  return j;
}

Judgment orphan_retries(const Evidence& ev, const RecipeSetting& s) {
  Judgment j;
  const int64_t v = s.numbers.front();
  const int64_t orphans = ev.sockstat("TCP.orphan");
  const auto cur = ev.current_int(s.setting);
  j.evidence.push_back(fmt::format("{} orphaned sockets at most (/proc/net/sockstat TCP orphan)", orphans));
  j.evidence.push_back(fmt::format("tcp_orphan_retries = {} now{}", cur ? std::to_string(*cur) : "unknown",
                                   cur && *cur == 0 ? " (0 means 8)" : ""));
  const std::string what =
      "It bounds the retransmissions of sockets their process already closed (FIN_WAIT1, LAST_ACK, CLOSING still "
      "sending their data or FIN) before the kernel drops them; orphaned FIN_WAIT2 is tcp_fin_timeout's.";
  const int64_t before = cur ? (*cur == 0 ? 8 : *cur) : 8;
  if (orphans > 0 && v > 0 && v < before) {
    j.verdict = Verdict::HelpsHere;
    j.why = what + fmt::format(" {} orphans here would be dropped after {} retransmissions instead of {}.", orphans, v,
                               before);
  } else {
    j.verdict = Verdict::UnneededHere;
    j.why = what + (orphans ? " It does not shorten them here." : " There are none here.");
  }
  return j;
}

Judgment max_orphans(const Evidence& ev, const RecipeSetting& s) {
  Judgment j;
  const int64_t v = s.numbers.front();
  const int64_t orphans = ev.sockstat("TCP.orphan");
  j.evidence.push_back(fmt::format("{} orphaned sockets at most (/proc/net/sockstat TCP orphan)", orphans));
  j.evidence.push_back(ev.counter_text("TcpExt.TCPAbortOnMemory"));
  const std::string what =
      "Past it the kernel resets orphaned sockets (\"too many orphaned sockets\", TCPAbortOnMemory); each orphan "
      "can hold up to 64 KiB of unacknowledged data.";
  if (v < orphans) {
    j.verdict = Verdict::Harmful;
    j.why = what + fmt::format(" There are {} here: {} would be reset.", orphans, orphans - v);
  } else if (ev.moved("TcpExt.TCPAbortOnMemory") > 0) {
    j.verdict = Verdict::HelpsHere;
    j.why = what + " Sockets were aborted for it during the watch.";
  } else {
    j.verdict = Verdict::UnneededHere;
    j.why = what + " Nothing here comes near the limit.";
  }
  return j;
}

Judgment max_syn_backlog(const Evidence& ev, const RecipeSetting& s) {
  Judgment j;
  const int64_t v = s.numbers.front();
  uint64_t syn_recv = 0;
  if (const Observation* o = ev.observed())
    for (const auto& l : o->listeners) syn_recv = std::max(syn_recv, l.syn_recv);
  j.evidence.push_back(ev.counter_text("TcpExt.TCPReqQFullDrop"));
  j.evidence.push_back(ev.counter_text("TcpExt.TCPReqQFullDoCookies"));
  if (ev.observed()) j.evidence.push_back(fmt::format("{} SYN_RECV at most on one listener (sock_diag)", syn_recv));
  const std::string what =
      "It bounds the half-open handshakes (SYN_RECV) a listener keeps; with tcp_syncookies on, a full queue "
      "answers with cookies instead of dropping.";
  const int64_t full = ev.moved("TcpExt.TCPReqQFullDrop") + ev.moved("TcpExt.TCPReqQFullDoCookies");
  if (v < static_cast<int64_t>(syn_recv)) {
    j.verdict = Verdict::Harmful;
    j.why = what + fmt::format(" A listener here holds {} handshakes, more than {}.", syn_recv, v);
  } else if (full > 0 && v > ev.current_int(s.setting).value_or(v)) {
    j.verdict = Verdict::HelpsHere;
    j.why = what + " The SYN queue overflowed during the watch.";
  } else {
    j.verdict = Verdict::UnneededHere;
    j.why = what + " No SYN queue overflowed here" + (ev.in().interval_s > 0 ? " during the watch." : ".");
  }
  return j;
}

Judgment somaxconn(const Evidence& ev, const RecipeSetting& s) {
  Judgment j;
  const int64_t v = s.numbers.front();
  const auto cur = ev.current_int(s.setting);
  j.evidence.push_back(ev.counter_text("TcpExt.ListenOverflows"));
  const std::string what =
      "It caps the backlog each program passes to listen() (the accept queue); raising it helps only a program that "
      "asks for more and does not accept() fast enough.";
  uint32_t capped = 0, biggest = 0;
  if (const Observation* o = ev.observed()) {
    for (const auto& l : o->listeners) {
      biggest = std::max(biggest, l.backlog);
      if (cur && l.backlog == *cur) ++capped;
    }
    j.evidence.push_back(fmt::format("largest listen() backlog here {} ({} listeners capped at somaxconn {})", biggest,
                                     capped, cur ? std::to_string(*cur) : "unknown"));
  }
  if (v < static_cast<int64_t>(biggest)) {
    j.verdict = Verdict::Harmful;
    j.why = what + fmt::format(" A listener here asked for {}: it would get {} when it restarts.", biggest, v);
  } else if (ev.moved("TcpExt.ListenOverflows") > 0 && capped > 0 && cur && v > *cur) {
    j.verdict = Verdict::HelpsHere;
    j.why = what + " Accept queues overflowed during the watch, on listeners somaxconn caps.";
  } else {
    j.verdict = Verdict::UnneededHere;
    j.why = what + (ev.moved("TcpExt.ListenOverflows") > 0
                        ? " Queues overflowed, but no listener is capped by somaxconn: raise the program's own "
                          "backlog, or make it accept() faster."
                        : " No accept queue overflowed here.");
  }
  return j;
}

Judgment netdev_max_backlog(const Evidence& ev, const RecipeSetting& s) {
  Judgment j;
  const int64_t v = s.numbers.front();
  const auto& b = ev.in().before.softnet_dropped;
  const auto& a = ev.in().after.softnet_dropped;
  const std::string what =
      "It is the per-CPU queue of received packets waiting for the network stack, for the whole host; it changes "
      "no TCP state.";
  if (!a) {
    j.verdict = Verdict::UnneededHere;
    j.evidence.push_back("/proc/net/softnet_stat: not read");
    j.why = what;
    return j;
  }
  const int64_t moved = std::max<int64_t>(0, *a - b.value_or(*a));
  j.evidence.push_back(
      fmt::format("{} packets dropped for a full queue since boot, +{} during the watch "
                  "(/proc/net/softnet_stat, second column)",
                  *a, moved));
  if (moved > 0 && v > ev.current_int(s.setting).value_or(v)) {
    j.verdict = Verdict::HelpsHere;
    j.why = what + " Packets were dropped for it during the watch.";
  } else {
    j.verdict = Verdict::UnneededHere;
    j.why = what + (*a ? " None were dropped for it during the watch." : " None were ever dropped for it here.");
  }
  return j;
}

Judgment syncookies(const Evidence& ev, const RecipeSetting& s) {
  Judgment j;
  const auto cur = ev.current_int(s.setting);
  j.evidence.push_back(fmt::format("tcp_syncookies = {} now", cur ? std::to_string(*cur) : "unknown"));
  j.evidence.push_back(ev.counter_text("TcpExt.SyncookiesSent"));
  if (s.numbers.front() == 0) {
    j.verdict = Verdict::Harmful;
    j.why = "With syncookies off, a SYN flood or a burst that fills the SYN queue drops legitimate clients.";
  } else if (cur && *cur == s.numbers.front()) {
    j.verdict = Verdict::UnneededHere;
    j.why = "Already so (1 is the default: cookies are sent only when a SYN queue overflows).";
  } else {
    j.verdict = cur && *cur == 0 ? Verdict::HelpsHere : Verdict::UnneededHere;
    j.why = s.numbers.front() == 2 ? "2 sends cookies for every SYN, which drops TCP options such as window scaling; "
                                     "1 sends them only when a SYN queue overflows."
                                   : "Cookies are sent only when a SYN queue overflows.";
  }
  return j;
}

Judgment tcp_mem(const Evidence& ev, const RecipeSetting& s) {
  Judgment j;
  const int64_t pages = ev.sockstat("TCP.mem");
  const auto cur = ev.current(s.setting);
  j.evidence.push_back(fmt::format("TCP holds {} pages now (/proc/net/sockstat TCP mem); tcp_mem = {} now", pages,
                                   cur.value_or("unknown")));
  j.evidence.push_back(ev.counter_text("TcpExt.TCPMemoryPressures"));
  const std::string what =
      "Three counts of 4 KiB pages for all TCP sockets: below the first no pressure, past the second the kernel "
      "shrinks buffers, past the third it refuses memory and drops.";
  if (s.numbers[0] > s.numbers[1] || s.numbers[1] > s.numbers[2]) {
    j.verdict = Verdict::Harmful;
    j.why = what + " These three are not in increasing order.";
  } else if (s.numbers[2] < pages) {
    j.verdict = Verdict::Harmful;
    j.why = what + fmt::format(" TCP uses {} pages here, above the new hard limit {}.", pages, s.numbers[2]);
  } else if (ev.moved("TcpExt.TCPMemoryPressures") > 0) {
    j.verdict = Verdict::HelpsHere;
    j.why = what + " TCP entered memory pressure during the watch.";
  } else {
    j.verdict = Verdict::UnneededHere;
    j.why = what + " TCP did not enter memory pressure" + (ev.in().interval_s > 0 ? " during the watch." : ".") +
            " Values far above the machine's memory remove the protection instead of tuning it.";
  }
  return j;
}

constexpr Judge kJudges[] = {
    {"net.ipv4.tcp_tw_recycle", 1, tw_recycle},
    {"net.ipv4.tcp_tw_reuse", 1, tw_reuse},
    {"net.ipv4.tcp_timestamps", 1, timestamps},
    {"net.ipv4.tcp_max_tw_buckets", 1, max_tw_buckets},
    {"net.ipv4.tcp_fin_timeout", 1, fin_timeout},
    {"net.ipv4.ip_local_port_range", 2, local_port_range},
    {"net.ipv4.tcp_keepalive_time", 1, keepalive},
    {"net.ipv4.tcp_keepalive_intvl", 1, keepalive},
    {"net.ipv4.tcp_keepalive_probes", 1, keepalive},
    {"net.ipv4.tcp_syn_retries", 1, syn_retries},
    {"net.ipv4.tcp_synack_retries", 1, syn_retries},
    {"net.ipv4.tcp_orphan_retries", 1, orphan_retries},
    {"net.ipv4.tcp_max_orphans", 1, max_orphans},
    {"net.ipv4.tcp_max_syn_backlog", 1, max_syn_backlog},
    {"net.core.somaxconn", 1, somaxconn},
    {"net.core.netdev_max_backlog", 1, netdev_max_backlog},
    {"net.ipv4.tcp_syncookies", 1, syncookies},
    {"net.ipv4.tcp_mem", 3, tcp_mem},
};

const Judge* judge_of(std::string_view setting) {
  for (const auto& j : kJudges)
    if (j.setting == setting) return &j;
  return nullptr;
}

RecipeVerdict judge_line(const Evidence& ev, const RecipeSetting& s, bool overridden) {
  RecipeVerdict v;
  v.line = s;
  v.current = ev.current(s.setting);
  const Judge* judge = judge_of(s.setting);
  // tcp_tw_recycle is judged by what its absence means; any other setting
  // this kernel has no file for is misspelt, removed or from a module not loaded.
  if (!v.current && !ev.in().after.host_wide_sysctls && s.setting.starts_with("net.")) {
    v.verdict = Verdict::UnknownSetting;
    v.why =
        "Not visible from the network namespace diagnosed (host-wide net sysctls are only in the initial one, "
        "which tcpfsm could not enter): run doctor in the host's namespace to judge it.";
  } else if (!v.current && !(judge && judge->judge == tw_recycle)) {
    v.verdict = Verdict::NoEffectHere;
    v.why =
        "This kernel has no such setting (misspelt, removed, or from a module that is not loaded): the line "
        "sets nothing, and 'sysctl -p' prints \"cannot stat\" for it and exits 1.";
    std::string path = "/proc/sys/" + s.setting;
    std::replace(path.begin() + 10, path.end(), '.', '/');
    v.evidence.push_back(path + " does not exist");
  } else if (!judge) {
    v.verdict = Verdict::UnknownSetting;
    v.why =
        "tcpfsm judges the settings that act on TCP connection states, queues and ports; it has no rule for "
        "this one.";
  } else if (s.numbers.size() != judge->numbers) {
    v.verdict = Verdict::NoEffectHere;
    v.why = fmt::format("The kernel refuses \"{}\" (sysctl: Invalid argument): {} takes {}.", s.value, s.setting,
                        judge->numbers == 1 ? "one integer" : fmt::format("{} integers", judge->numbers));
  } else if (judge->numbers < 3 && std::any_of(s.numbers.begin(), s.numbers.end(), [](int64_t n) {
               return n < std::numeric_limits<int32_t>::min() || n > std::numeric_limits<int32_t>::max();
             })) {
    v.verdict = Verdict::NoEffectHere;
    v.why = fmt::format("The kernel refuses \"{}\" (sysctl: Invalid argument): {} is an int.", s.value, s.setting);
  } else {
    Judgment j = judge->judge(ev, s);
    v.verdict = j.verdict;
    v.why = std::move(j.why);
    v.evidence = std::move(j.evidence);
  }
  if (overridden) v.evidence.push_back("a later line of the recipe sets it again: sysctl keeps the last one");
  return v;
}

}  // namespace

std::string_view verdict_name(Verdict v) {
  switch (v) {
    case Verdict::Harmful:
      return "harmful";
    case Verdict::NoEffectHere:
      return "no effect here";
    case Verdict::UnneededHere:
      return "unneeded here";
    case Verdict::HelpsHere:
      return "helps here";
    case Verdict::UnknownSetting:
      break;
  }
  return "unknown setting";
}

std::vector<std::string> recipe_sysctls(const Recipe& r) {
  std::vector<std::string> out;
  for (const auto& s : r.settings) out.push_back(s.setting);
  for (const auto& j : kJudges) out.emplace_back(j.setting);  // what the judges cite beside their own line
  std::sort(out.begin(), out.end());
  out.erase(std::unique(out.begin(), out.end()), out.end());
  return out;
}

std::vector<RecipeVerdict> judge_recipe(const Recipe& r, const DoctorInput& in) {
  const Evidence ev(r, in);
  std::vector<RecipeVerdict> out;
  for (size_t i = 0; i < r.settings.size(); ++i) {
    const auto& s = r.settings[i];
    const bool overridden = std::any_of(r.settings.begin() + static_cast<std::ptrdiff_t>(i) + 1, r.settings.end(),
                                        [&](const RecipeSetting& later) { return later.setting == s.setting; });
    out.push_back(judge_line(ev, s, overridden));
  }
  return out;
}

int recipe_exit_status(const std::vector<RecipeVerdict>& v) {
  return std::any_of(v.begin(), v.end(), [](const RecipeVerdict& x) { return x.verdict == Verdict::Harmful; }) ? 1 : 0;
}

}  // namespace tcpfsm
