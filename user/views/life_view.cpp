// `tcpfsm life`: text lines and JSON objects, one per connection.
#include "views/life_view.hpp"

#include <fmt/format.h>
#include <time.h>

#include <nlohmann/json.hpp>

#include "base/duration.hpp"
#include "model/tcp_state.hpp"
#include "views/trace_view.hpp"

namespace tcpfsm {
namespace {

using json = nlohmann::ordered_json;

double kib(uint64_t bytes) { return static_cast<double>(bytes) / 1024.0; }

std::string rfc3339(int64_t realtime_ns) {
  std::string s;
  append_rfc3339(s, realtime_ns);
  return s;
}

std::string_view end_name(const TimewaitFollowUp& f) {
  if (f.still_open) return "still_open";
  return f.how == TimewaitEnd::Expired ? "expired" : "killed";
}

}  // namespace

std::string life_path_text(const ConnectionLife& life) {
  std::string out;
  for (const auto& span : life.path) {
    if (!out.empty()) out += " > ";
    out += state_name(span.state);
    out += ' ';
    out += span.ns ? human_duration(*span.ns) : "?";
  }
  if (life.time_wait) out += out.empty() ? "TIME_WAIT" : " > TIME_WAIT";
  return out.empty() ? "-" : out;
}

std::string LifeTextFormatter::header() const {
  const int aw = opts_.wide ? 39 : 15;
  std::string h;
  if (opts_.timestamps) h += fmt::format("{:<15} ", "TIME");
  h += fmt::format("{:<7} {:<16} {:<{}} {:<5} {:<{}} {:<5} {:<8} {:<8} {:<10} {:<7} {:<24} {:<7} {:<8} {}\n", "PID",
                   "COMM", "LADDR", aw, "LPORT", "RADDR", aw, "RPORT", "TX_KB", "RX_KB", "MS", "CLOSER", "CAUSE",
                   "RETRANS", "SRTT_MS", "PATH");
  return h;
}

void LifeTextFormatter::append(std::string& out, const ConnectionLife& life) const {
  const Event& e = life.close;
  auto it = std::back_inserter(out);
  if (opts_.timestamps) {
    const int64_t rt = clock_.to_realtime_ns(e.ts_ns);
    const time_t secs = static_cast<time_t>(rt / 1'000'000'000);
    tm local{};
    localtime_r(&secs, &local);
    fmt::format_to(it, "{:02d}:{:02d}:{:02d}.{:06d} ", local.tm_hour, local.tm_min, local.tm_sec,
                   (rt % 1'000'000'000) / 1000);
  }
  const int aw = opts_.wide ? 39 : 15;
  const auto comm = printable_comm(e.comm_view());
  // MS: from the socket's first state to CLOSE, as tcplife measures it; ">"
  // when tcpfsm first saw it later than that.
  const std::string ms = fmt::format("{}{:.2f}", life.start_known ? "" : ">", life.duration_ns() / 1e6);
  fmt::format_to(it, "{:<7} {:<16} {:<{}} {:<5} {:<{}} {:<5} {:<8.2f} {:<8.2f} {:<10} {:<7} {:<24} {:<7} {:<8.3f} {}\n",
                 e.pid, std::string_view(comm.data()), format_addr(e.family, e.saddr), aw, e.sport,
                 format_addr(e.family, e.daddr), aw, e.dport, kib(e.totals.bytes_acked), kib(e.totals.bytes_received),
                 ms, closer_name(life.closer), cause_name(e.cause), e.totals.retransmits, e.totals.srtt_us / 1e3,
                 life_path_text(life));
}

void append_life_json(std::string& out, const ConnectionLife& life, WallClock clock) {
  const Event& e = life.close;
  json path = json::array();
  for (const auto& span : life.path) {
    json s = {{"state", state_name(span.state)}};
    s["ns"] = span.ns ? json(*span.ns) : json(nullptr);
    path.push_back(std::move(s));
  }
  json j = {
      {"type", "life"},
      {"ts", rfc3339(clock.to_realtime_ns(e.ts_ns))},
      {"mono_ns", e.ts_ns},
      {"cookie", e.cookie},
      {"pid", e.pid},
      {"comm", std::string(e.comm_view())},
      {"owner", owner_name(e.owner)},
      {"netns", e.netns},
      {"family", e.family == AF_INET6 ? "ipv6" : "ipv4"},
      {"saddr", format_addr(e.family, e.saddr)},
      {"sport", e.sport},
      {"daddr", format_addr(e.family, e.daddr)},
      {"dport", e.dport},
      {"start_mono_ns", life.start_ns},
      {"start_known", life.start_known},
      {"duration_ns", life.duration_ns()},
      {"closer", closer_name(life.closer)},
      {"cause", cause_name(e.cause)},
      {"tx_bytes", life.payload_sent() ? json(*life.payload_sent()) : json(nullptr)},
      {"rx_bytes", life.payload_received() ? json(*life.payload_received()) : json(nullptr)},
      {"bytes_acked", e.totals.bytes_acked},
      {"bytes_received", e.totals.bytes_received},
      {"total_retrans", e.totals.retransmits},
      {"srtt_us", e.totals.srtt_us},
      {"path", std::move(path)},
      {"time_wait", life.time_wait ? "pending" : "none"},
  };
  out += j.dump(-1, ' ', false, json::error_handler_t::replace);
  out += '\n';
}

void append_timewait_json(std::string& out, const TimewaitFollowUp& f, WallClock clock) {
  json j = {{"type", "time_wait"}, {"cookie", f.cookie}, {"end", end_name(f)}};
  if (!f.still_open) {
    j["ts"] = rfc3339(clock.to_realtime_ns(f.at_ns));
    j["mono_ns"] = f.at_ns;
    j["substate"] = state_name(f.substate);
    j["ns"] = f.ns ? json(*f.ns) : json(nullptr);
  }
  out += j.dump();
  out += '\n';
}

std::string life_summary_json(const RunCounters& c, uint64_t untracked, uint64_t open) {
  json counters = json::object();
  for (const auto& f : kRunCounters) counters[std::string(f.name)] = c.*f.member;
  json j = {{"type", "summary"},
            {"counters", std::move(counters)},
            {"lost", c.lost()},
            {"untracked", untracked},
            {"open", open}};
  return j.dump() + "\n";
}

std::string life_summary_text(const RunCounters& c, uint64_t untracked, uint64_t open) {
  return fmt::format("{}; life: {} connections closed unfollowed (too many open at once), {} still open",
                     summary_text(c), untracked, open);
}

}  // namespace tcpfsm
