#include "tcpfsm/stats_view.hpp"

#include <fmt/format.h>
#include <sys/socket.h>

#include <algorithm>
#include <iterator>
#include <vector>

#include "tcpfsm/tcp_state.hpp"

namespace tcpfsm {
namespace {

// The states ss and netstat show, in the order people read them.
constexpr uint8_t kShown[] = {TCPFSM_LISTEN,     TCPFSM_SYN_SENT,   TCPFSM_SYN_RECV,  TCPFSM_ESTABLISHED,
                              TCPFSM_FIN_WAIT1,  TCPFSM_FIN_WAIT2,  TCPFSM_TIME_WAIT, TCPFSM_CLOSE_WAIT,
                              TCPFSM_LAST_ACK,   TCPFSM_CLOSING};

double rate(uint64_t now, uint64_t before, double seconds) {
  return seconds > 0 && now >= before ? static_cast<double>(now - before) / seconds : 0.0;
}

}  // namespace

std::string human_duration(uint64_t ns) {
  // Thresholds sit where rounding would otherwise print "1000us" or "100.0s".
  if (ns < 1'000) return fmt::format("{}ns", ns);
  if (ns < 999'500) return fmt::format("{:.0f}us", static_cast<double>(ns) / 1e3);
  if (ns < 9'995'000) return fmt::format("{:.2f}ms", static_cast<double>(ns) / 1e6);
  if (ns < 999'500'000) return fmt::format("{:.0f}ms", static_cast<double>(ns) / 1e6);
  if (ns < 99'950'000'000ULL) return fmt::format("{:.1f}s", static_cast<double>(ns) / 1e9);
  uint64_t s = (ns + 500'000'000) / 1'000'000'000;
  if (s < 3600) return fmt::format("{}m{:02d}s", s / 60, s % 60);
  return fmt::format("{}h{:02d}m", s / 3600, (s % 3600) / 60);
}

nlohmann::json histogram_json(const LifetimeHistogram& h) {
  nlohmann::json buckets = nlohmann::json::array();
  for (const auto& b : h.log2_buckets()) {
    buckets.push_back({{"le_ns", b.le_ns ? nlohmann::json(b.le_ns) : nlohmann::json(nullptr)}, {"count", b.count}});
  }
  return {{"count", h.count()},         {"min_ns", h.min()},           {"mean_ns", h.mean()},
          {"p50_ns", h.quantile(0.50)}, {"p90_ns", h.quantile(0.90)},  {"p99_ns", h.quantile(0.99)},
          {"max_ns", h.max()},          {"buckets", std::move(buckets)}};
}

std::string StatsView::text(const TcpTables& t, const StatsContext& c) {
  std::string out;
  auto it = std::back_inserter(out);
  auto pre = t.preexisting(c.now_ns);
  fmt::format_to(it, "{:<12} {:>8} {:>10} {:>10}   {:>8} {:>8} {:>8} {:>8}   {}\n", "STATE", "NOW", "ENTERED/s",
                 "LEFT/s", "N", "P50", "P99", "MAX", "FOUND AT START (still there, at least)");
  for (uint8_t s : kShown) {
    const LifetimeHistogram& h = t.lifetime(s);
    std::string p50 = h.count() ? human_duration(h.quantile(0.5)) : "-";
    std::string p99 = h.count() ? human_duration(h.quantile(0.99)) : "-";
    std::string mx = h.count() ? human_duration(h.max()) : "-";
    std::string found = pre[s].count ? fmt::format("{} for >= {}", pre[s].count, human_duration(pre[s].min_age_of_oldest_ns))
                                     : "";
    fmt::format_to(it, "{:<12} {:>8} {:>10.1f} {:>10.1f}   {:>8} {:>8} {:>8} {:>8}   {}\n", state_name(s), t.count(s),
                   rate(t.entered()[s], prev_entered_[s], c.interval_s), rate(t.left()[s], prev_left_[s], c.interval_s),
                   h.count(), p50, p99, mx, found);
  }
  const auto& ex = t.timewait_lifetime(TimewaitEnd::Expired);
  const auto& kl = t.timewait_lifetime(TimewaitEnd::Killed);
  fmt::format_to(it, "TIME_WAIT ended: {} expired (p50 {}, max {}), {} killed early (p50 {})\n",
                 t.timewait_ends(TimewaitEnd::Expired), ex.count() ? human_duration(ex.quantile(0.5)) : "-",
                 ex.count() ? human_duration(ex.max()) : "-", t.timewait_ends(TimewaitEnd::Killed),
                 kl.count() ? human_duration(kl.quantile(0.5)) : "-");
  const auto& fw2 = t.fin_wait2_timewait_lifetime();
  if (fw2.count()) {
    fmt::format_to(it, "orphaned FIN_WAIT2 (timewait): {} ended, p50 {}, max {}\n", fw2.count(),
                   human_duration(fw2.quantile(0.5)), human_duration(fw2.max()));
  }
  if (c.stuck) {
    // Worst holders across states: a leak is many sockets, held long.
    std::vector<const LeakGroup*> top;
    for (const auto& g : c.stuck->groups) top.push_back(&g);
    std::stable_sort(top.begin(), top.end(), [](const LeakGroup* a, const LeakGroup* b) { return a->count > b->count; });
    if (top.empty()) {
      fmt::format_to(it, "stuck: no socket held in CLOSE_WAIT, FIN_WAIT2, LAST_ACK, CLOSING, SYN_SENT or SYN_RECV over {}\n",
                     human_duration(c.stuck_min_age_ns));
    } else {
      fmt::format_to(it, "stuck (held over {}; 'tcpfsm leaks' for details):\n", human_duration(c.stuck_min_age_ns));
      for (size_t i = 0; i < top.size() && i < kStuckShownText; ++i) {
        const LeakGroup& g = *top[i];
        std::string who = g.process ? fmt::format("pid {} {}", g.process->pid, g.process->comm)
                                    : std::string(g.kind == HolderKind::Orphaned ? "(orphaned)" : "(unknown)");
        fmt::format_to(it, "  {:<12} {:>6}  oldest {:>8}  {}\n", state_name(g.state), g.count,
                       human_duration(g.oldest_ns), who);
      }
      if (top.size() > kStuckShownText) fmt::format_to(it, "  ... {} more holders\n", top.size() - kStuckShownText);
    }
  }
  const uint64_t lost = c.counters.ringbuf_drops + c.counters.lost_recursion() + c.counters.uncounted;
  if (c.counted_in_kernel) {
    fmt::format_to(it, "transitions {} (counted in the kernel), lost {} (recursion {}, uncounted {})", c.counters.events,
                   lost, c.counters.lost_recursion(), c.counters.uncounted);
  } else {
    fmt::format_to(it, "events {}, lost {} (ring buffer {}, recursion {})", c.counters.events, lost,
                   c.counters.ringbuf_drops, c.counters.lost_recursion());
  }
  fmt::format_to(it, "; drift {} at last reconciliation ({} in {})\n", c.last_drift, c.total_drift, c.reconciliations);
  prev_entered_ = t.entered();
  prev_left_ = t.left();
  return out;
}

nlohmann::json StatsView::json(const TcpTables& t, const StatsContext& c) {
  nlohmann::json states = nlohmann::json::object(), v4 = nlohmann::json::object(), v6 = nlohmann::json::object();
  nlohmann::json lifetimes = nlohmann::json::object(), rates = nlohmann::json::object(),
                 preexisting = nlohmann::json::object();
  auto pre = t.preexisting(c.now_ns);
  for (uint8_t s : kShown) {
    std::string name(state_name(s));
    states[name] = t.count(s);
    v4[name] = t.count(s, AF_INET);
    v6[name] = t.count(s, AF_INET6);
    lifetimes[name] = histogram_json(t.lifetime(s));
    rates[name] = {{"entered_per_s", rate(t.entered()[s], prev_entered_[s], c.interval_s)},
                   {"left_per_s", rate(t.left()[s], prev_left_[s], c.interval_s)}};
    if (pre[s].count) {
      preexisting[name] = {{"count", pre[s].count},
                           {"min_age_ns", pre[s].min_age_of_oldest_ns}};
    }
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
  nlohmann::json stuck = nullptr;
  if (c.stuck) {
    stuck = nlohmann::json::array();
    std::vector<const LeakGroup*> top;
    for (const auto& g : c.stuck->groups) top.push_back(&g);
    std::stable_sort(top.begin(), top.end(), [](const LeakGroup* a, const LeakGroup* b) { return a->count > b->count; });
    for (size_t i = 0; i < top.size() && i < kStuckShownJson; ++i) stuck.push_back(leak_group_json(*top[i]));
  }
  return {{"type", "stats"},
          {"stuck", std::move(stuck)},
          {"states", std::move(states)},
          {"states_by_family", {{"4", std::move(v4)}, {"6", std::move(v6)}}},
          {"transitions", std::move(transitions)},
          {"lifetimes", std::move(lifetimes)},
          {"rates", std::move(rates)},
          {"preexisting", std::move(preexisting)},
          {"timewait_ends",
           {{"expired", t.timewait_ends(TimewaitEnd::Expired)}, {"killed", t.timewait_ends(TimewaitEnd::Killed)}}},
          {"events", c.counters.events},
          {"lost", {{"ringbuf", c.counters.ringbuf_drops}, {"recursion", c.counters.lost_recursion()}}},
          {"timewait_substate_untracked", c.counters.fw2_untracked},
          {"uncounted", c.counters.uncounted},
          {"timer_recursion_misses", c.counters.timer_recursion_misses},
          {"counted_in", c.counted_in_kernel ? "kernel" : "userspace"},
          {"drift", c.last_drift},
          {"drift_total", c.total_drift},
          {"reconciliations", c.reconciliations},
          {"resyncs", t.resyncs()},
          {"tracked", t.tracked()},
          {"seeded", c.seeded}};
}

}  // namespace tcpfsm
