// StatsView: the stats table and JSON object (see stats_view.hpp).
#include "views/stats_view.hpp"

#include <fmt/format.h>
#include <sys/socket.h>

#include <algorithm>
#include <iterator>
#include <vector>

#include "base/duration.hpp"
#include "model/event.hpp"
#include "model/tcp_state.hpp"
#include "views/leaks_view.hpp"

namespace tcpfsm {
namespace {

// The states ss and netstat show, in the order people read them.
constexpr uint8_t kShown[] = {TCPFSM_LISTEN,    TCPFSM_SYN_SENT,  TCPFSM_SYN_RECV,  TCPFSM_ESTABLISHED,
                              TCPFSM_FIN_WAIT1, TCPFSM_FIN_WAIT2, TCPFSM_TIME_WAIT, TCPFSM_CLOSE_WAIT,
                              TCPFSM_LAST_ACK,  TCPFSM_CLOSING};

double rate(uint64_t now, uint64_t before, double seconds) {
  return seconds > 0 && now >= before ? static_cast<double>(now - before) / seconds : 0.0;
}

std::string duration_or_dash(const LifetimeHistogram& h, double q) {
  return h.count() ? human_duration(q >= 1 ? h.max() : h.quantile(q)) : "-";
}

// Holders of stuck sockets, most sockets first (a leak is many sockets, held long).
std::vector<const LeakGroup*> worst_holders(const LeakReport& r) {
  std::vector<const LeakGroup*> top;
  for (const auto& g : r.groups) top.push_back(&g);
  std::stable_sort(top.begin(), top.end(), [](const LeakGroup* a, const LeakGroup* b) { return a->count > b->count; });
  return top;
}

void timewait_lines(std::string& out, const TcpTables& t) {
  auto it = std::back_inserter(out);
  const auto& ex = t.timewait_lifetime(TimewaitEnd::Expired);
  const auto& kl = t.timewait_lifetime(TimewaitEnd::Killed);
  fmt::format_to(it, "TIME_WAIT ended: {} expired (p50 {}, max {}), {} killed early (p50 {})\n",
                 t.timewait_ends(TimewaitEnd::Expired), duration_or_dash(ex, 0.5), duration_or_dash(ex, 1),
                 t.timewait_ends(TimewaitEnd::Killed), duration_or_dash(kl, 0.5));
  const auto& fw2 = t.fin_wait2_timewait_lifetime();
  if (fw2.count()) {
    fmt::format_to(it, "orphaned FIN_WAIT2 (timewait): {} ended, p50 {}, max {}\n", fw2.count(),
                   duration_or_dash(fw2, 0.5), duration_or_dash(fw2, 1));
  }
}

// Causes of one state's closes, most first: {cause, count}, zeros left out.
std::vector<std::pair<uint8_t, uint64_t>> causes_of(const TcpTables::Closes& closes, uint8_t from) {
  std::vector<std::pair<uint8_t, uint64_t>> out;
  for (uint8_t c = 0; c < kCauseCount; ++c)
    if (closes[from][c]) out.emplace_back(c, closes[from][c]);
  std::stable_sort(out.begin(), out.end(), [](const auto& a, const auto& b) { return a.second > b.second; });
  return out;
}

// "closed by": why sockets left each state for CLOSE, since the start.
void closes_lines(std::string& out, const TcpTables& t, const StatsContext& c) {
  auto it = std::back_inserter(out);
  const auto& closes = t.closes();
  bool any = false;
  for (uint8_t s : kShown) {
    const auto causes = causes_of(closes, s);
    if (causes.empty()) continue;
    if (!any) out += "closed by (from state: total, then each cause):\n";
    any = true;
    uint64_t total = 0;
    std::string list;
    for (const auto& [cause, n] : causes) {
      total += n;
      fmt::format_to(std::back_inserter(list), "{}{} {}", list.empty() ? "" : ", ", cause_name(cause), n);
    }
    fmt::format_to(it, "  {:<12} {:>8}  {}\n", state_name(s), total, list);
  }
  if (!any) out += "closed by: no socket has closed yet\n";
  if (c.retransmits) {
    std::string list;
    for (uint8_t s : kShown) {
      if (uint64_t n = (*c.retransmits)[s])
        fmt::format_to(std::back_inserter(list), "{}{} {}", list.empty() ? "" : ", ", state_name(s), n);
    }
    fmt::format_to(it, "retransmitted segments: {}\n", list.empty() ? "none" : list);
  }
}

// Outgoing connects, host-wide: CLOSE -> SYN_SENT attempts, SYN_SENT ->
// ESTABLISHED successes and how long they took, SYN_SENT -> CLOSE failures
// by cause.
void connect_lines(std::string& out, const TcpTables& t, const StatsContext& c) {
  const uint64_t attempted = t.transitions(TCPFSM_CLOSE, TCPFSM_SYN_SENT);
  const uint64_t established = t.transitions(TCPFSM_SYN_SENT, TCPFSM_ESTABLISHED);
  const auto failed = causes_of(t.closes(), TCPFSM_SYN_SENT);
  if (!attempted && !established && failed.empty()) return;
  uint64_t nfailed = 0;
  std::string list;
  for (const auto& [cause, n] : failed) {
    nfailed += n;
    fmt::format_to(std::back_inserter(list), "{}{} {}", list.empty() ? "" : ", ", cause_name(cause), n);
  }
  auto it = std::back_inserter(out);
  fmt::format_to(it, "connects: {} attempted, {} established, {} failed{}", attempted, established, nfailed,
                 list.empty() ? "" : " (" + list + ")");
  if (c.retransmits) fmt::format_to(it, ", {} SYNs retransmitted", (*c.retransmits)[TCPFSM_SYN_SENT]);
  const LifetimeHistogram& lat = t.connect_latency();
  if (lat.count()) {
    fmt::format_to(it, "; established in p50 {}, p99 {}, max {}", duration_or_dash(lat, 0.5),
                   duration_or_dash(lat, 0.99), duration_or_dash(lat, 1));
  }
  out += '\n';
}

nlohmann::json connects_json(const TcpTables& t, const StatsContext& c) {
  nlohmann::json failed = nlohmann::json::object();
  for (const auto& [cause, n] : causes_of(t.closes(), TCPFSM_SYN_SENT)) failed[std::string(cause_name(cause))] = n;
  return {{"attempted", t.transitions(TCPFSM_CLOSE, TCPFSM_SYN_SENT)},
          {"established", t.transitions(TCPFSM_SYN_SENT, TCPFSM_ESTABLISHED)},
          {"failed", std::move(failed)},
          {"syn_retransmits", c.retransmits ? nlohmann::json((*c.retransmits)[TCPFSM_SYN_SENT]) : nullptr},
          {"latency", histogram_json(t.connect_latency())}};
}

nlohmann::json closes_json(const TcpTables& t) {
  nlohmann::json out = nlohmann::json::object();
  for (uint8_t s : kShown) {
    nlohmann::json by = nlohmann::json::object();
    for (const auto& [cause, n] : causes_of(t.closes(), s)) by[std::string(cause_name(cause))] = n;
    if (!by.empty()) out[std::string(state_name(s))] = std::move(by);
  }
  return out;
}

nlohmann::json retransmits_json(const StatsContext& c) {
  if (!c.retransmits) return nullptr;
  nlohmann::json out = nlohmann::json::object();
  for (uint8_t s : kShown) out[std::string(state_name(s))] = (*c.retransmits)[s];
  return out;
}

void stuck_lines(std::string& out, const StatsContext& c) {
  auto it = std::back_inserter(out);
  if (c.stuck) {
    const auto top = worst_holders(*c.stuck);
    if (top.empty()) {
      fmt::format_to(it, "stuck: no socket held in {} over {}\n", stuck_states_text(),
                     human_duration(c.stuck_min_age_ns));
    } else {
      fmt::format_to(it, "stuck (held over {}; 'tcpfsm leaks' for details):\n", human_duration(c.stuck_min_age_ns));
      for (size_t i = 0; i < top.size() && i < kStuckShownText; ++i) {
        const LeakGroup& g = *top[i];
        const std::string who = g.process ? fmt::format("pid {} {}", g.process->pid, g.process->comm)
                                          : std::string(g.kind == HolderKind::Orphaned ? "(orphaned)" : "(unknown)");
        fmt::format_to(it, "  {:<12} {:>6}  oldest {:>8}  {}\n", state_name(g.state), g.count,
                       human_duration(g.oldest_ns), who);
      }
      if (top.size() > kStuckShownText) fmt::format_to(it, "  ... {} more holders\n", top.size() - kStuckShownText);
    }
    if (!c.stuck->owner_error.empty()) fmt::format_to(it, "stuck: {}\n", c.stuck->owner_error);
  }
  if (!c.stuck_error.empty()) {
    fmt::format_to(it, "stuck: the last pass failed ({} failures so far): {}{}\n", c.stuck_failures, c.stuck_error,
                   c.stuck ? fmt::format("; the report above is {} old", human_duration(c.stuck_age_ns)) : "");
  }
}

void counter_lines(std::string& out, const StatsContext& c) {
  auto it = std::back_inserter(out);
  const RunCounters& k = c.counters;
  if (c.counted_in_kernel) {
    fmt::format_to(it, "transitions {} (counted in the kernel), lost {} (recursion {}, uncounted {})", k.events,
                   k.lost(), k.lost_recursion(), k.uncounted);
  } else {
    fmt::format_to(it, "events {}, lost {} (ring buffer {}, recursion {}, uncounted {})", k.events, k.lost(),
                   k.ringbuf_drops, k.lost_recursion(), k.uncounted);
  }
  fmt::format_to(it, "; drift {} at last reconciliation ({} in {})\n", c.last_drift, c.total_drift, c.reconciliations);
  std::string kernel;
  for (const auto& f : kRunCounters) {
    if (f.name == "events" || f.name == "ringbuf_drops" || f.name == "uncounted") continue;
    fmt::format_to(std::back_inserter(kernel), "{}{} {}", kernel.empty() ? "" : ", ", f.name, k.*f.member);
  }
  fmt::format_to(it, "kernel: {}\n", kernel);
}

nlohmann::json counters_json(const RunCounters& c) {
  nlohmann::json out = nlohmann::json::object();
  for (const auto& f : kRunCounters) out[std::string(f.name)] = c.*f.member;
  return out;
}

nlohmann::json stuck_json(const StatsContext& c) {
  if (!c.stuck) return nullptr;
  nlohmann::json stuck = nlohmann::json::array();
  const auto top = worst_holders(*c.stuck);
  for (size_t i = 0; i < top.size() && i < kStuckShownJson; ++i) stuck.push_back(leak_group_json(*top[i]));
  return stuck;
}

}  // namespace

nlohmann::json histogram_json(const LifetimeHistogram& h) {
  nlohmann::json buckets = nlohmann::json::array();
  for (const auto& b : h.log2_buckets()) {
    buckets.push_back({{"le_ns", b.le_ns ? nlohmann::json(b.le_ns) : nlohmann::json(nullptr)}, {"count", b.count}});
  }
  return {{"count", h.count()},         {"min_ns", h.min()},
          {"mean_ns", h.mean()},        {"p50_ns", h.quantile(0.50)},
          {"p90_ns", h.quantile(0.90)}, {"p99_ns", h.quantile(0.99)},
          {"max_ns", h.max()},          {"buckets", std::move(buckets)}};
}

std::string StatsView::text(const TcpTables& t, const StatsContext& c) {
  std::string out;
  auto it = std::back_inserter(out);
  const auto pre = t.preexisting(c.now_ns);
  fmt::format_to(it, "{:<12} {:>8} {:>10} {:>10}   {:>8} {:>8} {:>8} {:>8}   {}\n", "STATE", "NOW", "ENTERED/s",
                 "LEFT/s", "N", "P50", "P99", "MAX", "FOUND AT START (still there, at least)");
  for (uint8_t s : kShown) {
    const LifetimeHistogram& h = t.lifetime(s);
    const std::string found =
        pre[s].count ? fmt::format("{} for >= {}", pre[s].count, human_duration(pre[s].min_age_of_oldest_ns)) : "";
    fmt::format_to(it, "{:<12} {:>8} {:>10.1f} {:>10.1f}   {:>8} {:>8} {:>8} {:>8}   {}\n", state_name(s), t.count(s),
                   rate(t.entered()[s], prev_entered_[s], c.interval_s), rate(t.left()[s], prev_left_[s], c.interval_s),
                   h.count(), duration_or_dash(h, 0.5), duration_or_dash(h, 0.99), duration_or_dash(h, 1), found);
  }
  timewait_lines(out, t);
  closes_lines(out, t, c);
  connect_lines(out, t, c);
  if (hist_state_) {
    const LifetimeHistogram& h = t.lifetime(hist_state_);
    out += log2_hist_text(fmt::format("{} lifetimes, {} sockets (every socket that left it while traced)",
                                      state_name(hist_state_), h.count()),
                          h.log2_buckets());
  }
  stuck_lines(out, c);
  if (c.groups) out += groups_.text(*c.groups, c.interval_s, hist_state_);
  if (!c.groups_error.empty())
    fmt::format_to(it, "groups: the last count failed ({} failures so far): {}\n", c.groups_failures, c.groups_error);
  counter_lines(out, c);
  prev_entered_ = t.entered();
  prev_left_ = t.left();
  return out;
}

nlohmann::json StatsView::json(const TcpTables& t, const StatsContext& c) {
  nlohmann::json states = nlohmann::json::object(), v4 = nlohmann::json::object(), v6 = nlohmann::json::object();
  nlohmann::json lifetimes = nlohmann::json::object(), rates = nlohmann::json::object(),
                 preexisting = nlohmann::json::object();
  const auto pre = t.preexisting(c.now_ns);
  for (uint8_t s : kShown) {
    const std::string name(state_name(s));
    states[name] = t.count(s);
    v4[name] = t.count(s, AF_INET);
    v6[name] = t.count(s, AF_INET6);
    lifetimes[name] = histogram_json(t.lifetime(s));
    rates[name] = {{"entered_per_s", rate(t.entered()[s], prev_entered_[s], c.interval_s)},
                   {"left_per_s", rate(t.left()[s], prev_left_[s], c.interval_s)}};
    if (pre[s].count) preexisting[name] = {{"count", pre[s].count}, {"min_age_ns", pre[s].min_age_of_oldest_ns}};
  }
  lifetimes["TIME_WAIT"]["expired"] = histogram_json(t.timewait_lifetime(TimewaitEnd::Expired));
  lifetimes["TIME_WAIT"]["killed"] = histogram_json(t.timewait_lifetime(TimewaitEnd::Killed));
  lifetimes["FIN_WAIT2"]["timewait"] = histogram_json(t.fin_wait2_timewait_lifetime());
  nlohmann::json transitions = nlohmann::json::object();
  for (uint8_t a = 0; a < TCPFSM_STATE_MAX; ++a) {
    for (uint8_t b = 0; b < TCPFSM_STATE_MAX; ++b) {
      if (uint64_t n = t.transitions(a, b)) transitions[fmt::format("{}>{}", state_name(a), state_name(b))] = n;
    }
  }
  prev_entered_ = t.entered();
  prev_left_ = t.left();
  const RunCounters& k = c.counters;
  nlohmann::json out = {
      {"type", "stats"},
      {"stuck", stuck_json(c)},
      {"stuck_error", c.stuck_error.empty() ? nlohmann::json(nullptr) : nlohmann::json(c.stuck_error)},
      {"stuck_owner_error",
       c.stuck && !c.stuck->owner_error.empty() ? nlohmann::json(c.stuck->owner_error) : nlohmann::json(nullptr)},
      {"stuck_failures", c.stuck_failures},
      {"states", std::move(states)},
      {"states_by_family",
       {{std::string(family_name(AF_INET)), std::move(v4)}, {std::string(family_name(AF_INET6)), std::move(v6)}}},
      {"transitions", std::move(transitions)},
      {"closes", closes_json(t)},
      {"connects", connects_json(t, c)},
      {"retransmits", retransmits_json(c)},
      {"lifetimes", std::move(lifetimes)},
      {"rates", std::move(rates)},
      {"preexisting", std::move(preexisting)},
      {"timewait_ends",
       {{"expired", t.timewait_ends(TimewaitEnd::Expired)}, {"killed", t.timewait_ends(TimewaitEnd::Killed)}}},
      {"events", k.events},
      {"lost",
       {{"total", k.lost()},
        {"ringbuf", k.ringbuf_drops},
        {"recursion", k.lost_recursion()},
        {"uncounted", k.uncounted}}},
      {"counters", counters_json(k)},
      {"counted_in", c.counted_in_kernel ? "kernel" : "userspace"},
      {"drift", c.last_drift},
      {"drift_total", c.total_drift},
      {"reconciliations", c.reconciliations},
      {"resyncs", t.resyncs()},
      {"tracked", t.tracked()},
      {"seeded", c.seeded}};
  if (c.groups) {
    nlohmann::json groups = groups_.json(*c.groups, c.interval_s);
    for (auto it = groups.begin(); it != groups.end(); ++it) out[it.key()] = std::move(it.value());
    out["groups_error"] = c.groups_error.empty() ? nlohmann::json(nullptr) : nlohmann::json(c.groups_error);
  }
  return out;
}

}  // namespace tcpfsm
