#include "tcpfsm/format.hpp"

#include <fmt/format.h>
#include <sys/socket.h>
#include <time.h>

#include <iterator>

#include "tcpfsm/tcp_state.hpp"

namespace tcpfsm {
namespace {

int64_t clock_ns(clockid_t id) {
  timespec ts{};
  clock_gettime(id, &ts);
  return static_cast<int64_t>(ts.tv_sec) * 1'000'000'000 + ts.tv_nsec;
}

}  // namespace

uint64_t monotonic_ns() { return static_cast<uint64_t>(clock_ns(CLOCK_MONOTONIC)); }

WallClock WallClock::now() {
  // Bracket the realtime read between two monotonic reads and keep the
  // tightest of a few samples.
  int64_t best_gap = INT64_MAX, offset = 0;
  for (int i = 0; i < 5; ++i) {
    int64_t m1 = clock_ns(CLOCK_MONOTONIC);
    int64_t r = clock_ns(CLOCK_REALTIME);
    int64_t m2 = clock_ns(CLOCK_MONOTONIC);
    if (m2 - m1 < best_gap) {
      best_gap = m2 - m1;
      offset = r - (m1 + (m2 - m1) / 2);
    }
  }
  return WallClock(offset);
}

void append_rfc3339(std::string& out, int64_t realtime_ns) {
  time_t secs = static_cast<time_t>(realtime_ns / 1'000'000'000);
  int64_t nanos = realtime_ns % 1'000'000'000;
  if (nanos < 0) {
    nanos += 1'000'000'000;
    --secs;
  }
  tm utc{};
  gmtime_r(&secs, &utc);
  fmt::format_to(std::back_inserter(out), "{:04d}-{:02d}-{:02d}T{:02d}:{:02d}:{:02d}.{:09d}Z", utc.tm_year + 1900,
                 utc.tm_mon + 1, utc.tm_mday, utc.tm_hour, utc.tm_min, utc.tm_sec, nanos);
}

void append_json_string(std::string& out, std::string_view s) {
  out.push_back('"');
  for (char ch : s) {
    auto c = static_cast<unsigned char>(ch);
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\n': out += "\\n"; break;
      case '\t': out += "\\t"; break;
      case '\r': out += "\\r"; break;
      default:
        if (c < 0x20 || c >= 0x7f) {
          fmt::format_to(std::back_inserter(out), "\\u{:04x}", c);
        } else {
          out.push_back(ch);
        }
    }
  }
  out.push_back('"');
}

std::string TextFormatter::header() const {
  int aw = opts_.wide ? 39 : 15;
  std::string h;
  if (opts_.timestamps) h += fmt::format("{:<15} ", "TIME");
  h += fmt::format("{:<16} {:<7} {:<16} {:<{}} {:<5} {:<{}} {:<5} {:<11} -> {:<11} {}\n", "SKADDR", "PID", "COMM",
                   "LADDR", aw, "LPORT", "RADDR", aw, "RPORT", "OLDSTATE", "NEWSTATE", "MS");
  return h;
}

void TextFormatter::append(std::string& out, const Event& e) const {
  if (e.is_timewait()) return;  // raw timer records: JSON only
  auto it = std::back_inserter(out);
  if (opts_.timestamps) {
    int64_t rt = clock_.to_realtime_ns(e.ts_ns);
    time_t secs = static_cast<time_t>(rt / 1'000'000'000);
    tm local{};
    localtime_r(&secs, &local);
    fmt::format_to(it, "{:02d}:{:02d}:{:02d}.{:06d} ", local.tm_hour, local.tm_min, local.tm_sec,
                   (rt % 1'000'000'000) / 1000);
  }
  int aw = opts_.wide ? 39 : 15;
  // One event, one line: a comm is any 15 bytes (prctl PR_SET_NAME), so
  // blanks and control characters become '?' as ps shows them.
  char comm[sizeof(e.comm)] = "-";
  std::string_view raw = e.comm_view();
  for (size_t i = 0; i < raw.size(); ++i) {
    auto c = static_cast<unsigned char>(raw[i]);
    comm[i] = c <= 0x20 || c == 0x7f ? '?' : raw[i];
  }
  if (!raw.empty()) comm[raw.size()] = '\0';
  fmt::format_to(it, "{:016x} {:<7} {:<16} {:<{}} {:<5} {:<{}} {:<5} {:<11} -> {:<11} ", e.skaddr, e.pid, std::string_view(comm),
                 format_addr(e.family, e.saddr), aw, e.sport, format_addr(e.family, e.daddr), aw, e.dport,
                 state_name(e.oldstate), state_name(e.newstate));
  if (e.prev_ns) {
    fmt::format_to(it, "{:.3f}\n", static_cast<double>(*e.prev_ns) / 1e6);
  } else {
    out += "-\n";
  }
}

void JsonFormatter::append(std::string& out, const Event& e) const {
  auto it = std::back_inserter(out);
  if (e.is_timewait()) {
    out += R"({"type":"timewait","ts":")";
    append_rfc3339(out, clock_.to_realtime_ns(e.ts_ns));
    fmt::format_to(it,
                   R"(","mono_ns":{},"event":"{}","tw":"{:x}","cookie":{},"netns":{},"family":{},"saddr":"{}",)"
                   R"("sport":{},"daddr":"{}","dport":{},"substate":"{}"}})"
                   "\n",
                   e.ts_ns, kind_name(e.kind), e.skaddr, e.cookie, e.netns, e.family == AF_INET6 ? 6 : 4,
                   format_addr(e.family, e.saddr), e.sport, format_addr(e.family, e.daddr), e.dport,
                   state_name(e.newstate));
    return;
  }
  out += R"({"type":"state","ts":")";
  append_rfc3339(out, clock_.to_realtime_ns(e.ts_ns));
  fmt::format_to(it, R"(","mono_ns":{},"sk":"{:x}","cookie":{},"pid":{},"comm":)", e.ts_ns, e.skaddr, e.cookie,
                 e.pid);
  append_json_string(out, e.comm_view());
  fmt::format_to(it, R"(,"owner":"{}","netns":{},"family":{},"saddr":"{}","sport":{},"daddr":"{}","dport":{},)",
                 owner_name(e.owner), e.netns, e.family == AF_INET6 ? 6 : 4, format_addr(e.family, e.saddr),
                 e.sport, format_addr(e.family, e.daddr), e.dport);
  fmt::format_to(it, R"("old":"{}","new":"{}","prev_ns":)", state_name(e.oldstate), state_name(e.newstate));
  if (e.prev_ns) {
    fmt::format_to(it, "{}", *e.prev_ns);
  } else {
    out += "null";
  }
  out += e.rescued ? ",\"rescued\":true}\n" : "}\n";
}

std::string summary_json(const RunCounters& c) {
  return fmt::format(
      R"({{"type":"summary","events":{},"lost":{{"ringbuf":{},"recursion":{}}},)"
      R"("kernel":{{"recursion_misses":{},"rescued":{}}},"malformed":{}}})"
      "\n",
      c.events, c.ringbuf_drops, c.lost_recursion(), c.recursion_misses, c.rescued, c.malformed);
}

std::string summary_text(const RunCounters& c) {
  std::string s = fmt::format("{} events, {} lost ({} ring buffer full, {} recursion; kernel recursion_misses {}, {} rescued)",
                              c.events, c.ringbuf_drops + c.lost_recursion(), c.ringbuf_drops, c.lost_recursion(),
                              c.recursion_misses, c.rescued);
  if (c.malformed) s += fmt::format(", {} malformed records", c.malformed);
  return s;
}

}  // namespace tcpfsm
