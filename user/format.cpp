#include "tcpfsm/format.hpp"

#include <fmt/format.h>
#include <sys/socket.h>
#include <time.h>

#include <arpa/inet.h>

#include <charconv>
#include <cstring>
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
  // Most strings (a comm) need no escaping: copy them whole.
  bool plain = true;
  for (char ch : s) {
    auto c = static_cast<unsigned char>(ch);
    if (c < 0x20 || c >= 0x7f || c == '"' || c == '\\') {
      plain = false;
      break;
    }
  }
  if (plain) {
    out.append(s);
    out.push_back('"');
    return;
  }
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

namespace {

// A string literal, its length known at compile time.
template <size_t N>
void lit(std::string& out, const char (&s)[N]) {
  out.append(s, N - 1);
}

template <class T>
void put_num(std::string& out, T v) {
  char b[24];
  auto r = std::to_chars(b, b + sizeof(b), v);
  out.append(b, r.ptr);
}

void put_hex(std::string& out, uint64_t v) {
  char b[17];
  auto r = std::to_chars(b, b + sizeof(b), v, 16);
  out.append(b, r.ptr);
}

// As format_addr() (inet_ntop's forms), without a string per call.
void put_addr(std::string& out, uint8_t family, const std::array<uint8_t, 16>& a) {
  char buf[INET6_ADDRSTRLEN] = {};
  if (family == AF_INET) {
    size_t n = 0;
    for (size_t i = 0; i < 4; ++i) {
      const unsigned b = a[i];
      if (b >= 100) buf[n++] = static_cast<char>('0' + b / 100);
      if (b >= 10) buf[n++] = static_cast<char>('0' + b / 10 % 10);
      buf[n++] = static_cast<char>('0' + b % 10);
      if (i < 3) buf[n++] = '.';
    }
    out.append(buf, n);
    return;
  }
  if (family == AF_INET6) inet_ntop(AF_INET6, a.data(), buf, sizeof(buf));
  out.append(buf);
}

}  // namespace

void JsonFormatter::append_time(std::string& out, int64_t realtime_ns) const {
  int64_t secs = realtime_ns / 1'000'000'000;
  int64_t nanos = realtime_ns % 1'000'000'000;
  if (nanos < 0) {
    nanos += 1'000'000'000;
    --secs;
  }
  if (secs != cached_secs_) {
    std::string t;
    append_rfc3339(t, secs * 1'000'000'000);
    std::memcpy(cached_, t.data(), sizeof(cached_) - 1);  // up to the seconds
    cached_secs_ = secs;
  }
  out.append(cached_, sizeof(cached_) - 1);
  char frac[11] = {'.'};
  for (int i = 9; i >= 1; --i) {
    frac[i] = static_cast<char>('0' + nanos % 10);
    nanos /= 10;
  }
  frac[10] = 'Z';
  out.append(frac, sizeof(frac));
}

void JsonFormatter::append(std::string& out, const Event& e) const {
  const uint8_t v = e.family == AF_INET6 ? 6 : 4;
  if (e.is_timewait()) {
    lit(out, R"({"type":"timewait","ts":")");
    append_time(out, clock_.to_realtime_ns(e.ts_ns));
    lit(out, R"(","mono_ns":)");
    put_num(out, e.ts_ns);
    lit(out, R"(,"event":")");
    out += kind_name(e.kind);
    lit(out, R"(","tw":")");
    put_hex(out, e.skaddr);
    lit(out, R"(","cookie":)");
    put_num(out, e.cookie);
    lit(out, R"(,"netns":)");
    put_num(out, e.netns);
    lit(out, R"(,"family":)");
    put_num(out, v);
    lit(out, R"(,"saddr":")");
    put_addr(out, e.family, e.saddr);
    lit(out, R"(","sport":)");
    put_num(out, e.sport);
    lit(out, R"(,"daddr":")");
    put_addr(out, e.family, e.daddr);
    lit(out, R"(","dport":)");
    put_num(out, e.dport);
    lit(out, R"(,"substate":")");
    out += state_name(e.newstate);
    lit(out, "\"}\n");
    return;
  }
  lit(out, R"({"type":"state","ts":")");
  append_time(out, clock_.to_realtime_ns(e.ts_ns));
  lit(out, R"(","mono_ns":)");
  put_num(out, e.ts_ns);
  lit(out, R"(,"sk":")");
  put_hex(out, e.skaddr);
  lit(out, R"(","cookie":)");
  put_num(out, e.cookie);
  lit(out, R"(,"pid":)");
  put_num(out, e.pid);
  lit(out, R"(,"comm":)");
  append_json_string(out, e.comm_view());
  lit(out, R"(,"owner":")");
  out += owner_name(e.owner);
  lit(out, R"(","netns":)");
  put_num(out, e.netns);
  lit(out, R"(,"family":)");
  put_num(out, v);
  lit(out, R"(,"saddr":")");
  put_addr(out, e.family, e.saddr);
  lit(out, R"(","sport":)");
  put_num(out, e.sport);
  lit(out, R"(,"daddr":")");
  put_addr(out, e.family, e.daddr);
  lit(out, R"(","dport":)");
  put_num(out, e.dport);
  lit(out, R"(,"old":")");
  out += state_name(e.oldstate);
  lit(out, R"(","new":")");
  out += state_name(e.newstate);
  lit(out, R"(","prev_ns":)");
  if (e.prev_ns) {
    put_num(out, *e.prev_ns);
  } else {
    lit(out, "null");
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
