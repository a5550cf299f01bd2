// trace's text lines, JSON records and summaries (see trace_view.hpp).
#include "views/trace_view.hpp"

#include <arpa/inet.h>
#include <fmt/format.h>
#include <sys/socket.h>
#include <time.h>

#include <charconv>
#include <cstring>
#include <iterator>

#include "model/capture.hpp"
#include "model/tcp_state.hpp"

namespace tcpfsm {
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

namespace {

// s, quoted and escaped for JSON, written at p, which has room for 6 bytes
// per byte of s and 2 more; returns the end. Bytes outside printable ASCII
// become \u00XX, so the output is ASCII whatever s holds.
char* write_json_string(char* p, std::string_view s) {
  static constexpr char kHex[] = "0123456789abcdef";
  *p++ = '"';
  for (char ch : s) {
    const auto c = static_cast<unsigned char>(ch);
    if (c >= 0x20 && c < 0x7f && c != '"' && c != '\\') {
      *p++ = ch;
      continue;
    }
    *p++ = '\\';
    switch (c) {
      case '"':
        *p++ = '"';
        break;
      case '\\':
        *p++ = '\\';
        break;
      case '\n':
        *p++ = 'n';
        break;
      case '\t':
        *p++ = 't';
        break;
      case '\r':
        *p++ = 'r';
        break;
      default:
        *p++ = 'u';
        *p++ = '0';
        *p++ = '0';
        *p++ = kHex[c >> 4];
        *p++ = kHex[c & 15];
    }
  }
  *p++ = '"';
  return p;
}

}  // namespace

void append_json_string(std::string& out, std::string_view s) {
  const size_t old = out.size();
  out.resize(old + 6 * s.size() + 2);
  char* end = write_json_string(out.data() + old, s);
  out.resize(static_cast<size_t>(end - out.data()));
}

std::array<char, 16> printable_comm(std::string_view raw) {
  std::array<char, 16> comm{'-'};
  raw = raw.substr(0, comm.size() - 1);
  for (size_t i = 0; i < raw.size(); ++i) {
    auto c = static_cast<unsigned char>(raw[i]);
    comm[i] = c <= 0x20 || c == 0x7f ? '?' : raw[i];
  }
  if (!raw.empty()) comm[raw.size()] = '\0';
  return comm;
}

std::string TextFormatter::header() const {
  int aw = opts_.wide ? 39 : 15;
  std::string h;
  if (opts_.timestamps) h += fmt::format("{:<15} ", "TIME");
  h += fmt::format("{:<16} {:<7} {:<16} {:<{}} {:<5} {:<{}} {:<5} {:<11} -> {:<11} {}", "SKADDR", "PID", "COMM",
                   "LADDR", aw, "LPORT", "RADDR", aw, "RPORT", "OLDSTATE", "NEWSTATE", "MS");
  h += opts_.wide || opts_.cause ? "         CAUSE\n" : "\n";
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
  const auto comm = printable_comm(e.comm_view());
  fmt::format_to(it, "{:016x} {:<7} {:<16} {:<{}} {:<5} {:<{}} {:<5} {:<11} -> {:<11} ", e.skaddr, e.pid,
                 std::string_view(comm.data()), format_addr(e.family, e.saddr), aw, e.sport,
                 format_addr(e.family, e.daddr), aw, e.dport, state_name(e.oldstate), state_name(e.newstate));
  if (!opts_.wide && !opts_.cause) {
    if (e.prev_ns) {
      fmt::format_to(it, "{:.3f}\n", static_cast<double>(*e.prev_ns) / 1e6);
    } else {
      out += "-\n";
    }
    return;
  }
  // MS padded so CAUSE lines up: "-" for transitions that are not into CLOSE.
  if (e.prev_ns) {
    fmt::format_to(it, "{:<10.3f} ", static_cast<double>(*e.prev_ns) / 1e6);
  } else {
    out += "-          ";
  }
  out += e.newstate == TCPFSM_CLOSE ? cause_name(e.cause) : "-";
  out += '\n';
}

namespace {

// One JSON record, written into a buffer on the stack that holds the largest
// record there can be, then appended to the output in one piece: no capacity
// check or call per field.
template <const std::string_view& Name, char Before>
constexpr std::array<char, Name.size() + 4> key_token() {
  std::array<char, Name.size() + 4> t{};
  t[0] = Before;
  t[1] = '"';
  for (size_t i = 0; i < Name.size(); ++i) t[i + 2] = Name[i];
  t[Name.size() + 2] = '"';
  t[Name.size() + 3] = ':';
  return t;
}

class RecordWriter {
 public:
  // Longest record: the literals (under 300 bytes), four 64-bit numbers, a
  // timestamp, a comm of 16 bytes each escaped as \u00XX, two IPv6
  // addresses and the state and owner names: well under this.
  static constexpr size_t kCapacity = 1024;

  template <size_t N>
  void lit(const char (&s)[N]) {
    std::memcpy(p_, s, N - 1);
    p_ += N - 1;
  }
  void str(std::string_view s) {  // a name from a fixed table (fields, states, owners, kinds)
    std::memcpy(p_, s.data(), s.size());
    p_ += s.size();
  }
  // `,"name":` (or `{"name":` for the first), as one constant-size copy:
  // the token is built at compile time from the capture format's name, so
  // a key costs what a string literal did.
  template <const std::string_view& Name, char Before = ','>
  void key() {
    static constexpr auto token = key_token<Name, Before>();
    std::memcpy(p_, token.data(), token.size());
    p_ += token.size();
  }
  template <const std::string_view& Name>
  void first_key() {
    key<Name, '{'>();
  }
  // A constant of the format, quoted.
  template <const std::string_view& Value>
  void quoted() {
    *p_++ = '"';
    std::memcpy(p_, Value.data(), Value.size());
    p_ += Value.size();
    *p_++ = '"';
  }
  void quoted(std::string_view name) {
    *p_++ = '"';
    str(name);
    *p_++ = '"';
  }
  template <class T>
  void num(T v) {
    p_ = std::to_chars(p_, p_ + 24, v).ptr;
  }
  void quoted_hex(uint64_t v) {
    *p_++ = '"';
    p_ = std::to_chars(p_, p_ + 16, v, 16).ptr;
    *p_++ = '"';
  }
  void quoted_addr(uint8_t family, const std::array<uint8_t, 16>& a) {
    *p_++ = '"';
    addr(family, a);
    *p_++ = '"';
  }
  // As format_addr() (inet_ntop's forms).
  void addr(uint8_t family, const std::array<uint8_t, 16>& a) {
    if (family == AF_INET) {
      for (size_t i = 0; i < 4; ++i) {
        const unsigned b = a[i];
        if (b >= 100) *p_++ = static_cast<char>('0' + b / 100);
        if (b >= 10) *p_++ = static_cast<char>('0' + b / 10 % 10);
        *p_++ = static_cast<char>('0' + b % 10);
        if (i < 3) *p_++ = '.';
      }
    } else if (family == AF_INET6 && inet_ntop(AF_INET6, a.data(), p_, INET6_ADDRSTRLEN)) {
      p_ += std::strlen(p_);
    }
  }
  // A comm (at most 16 bytes), quoted and escaped.
  void comm(std::string_view s) { p_ = write_json_string(p_, s.substr(0, 16)); }
  char*& cursor() { return p_; }
  void append_to(std::string& out) const { out.append(buf_, static_cast<size_t>(p_ - buf_)); }

 private:
  char buf_[kCapacity];
  char* p_ = buf_;
};

// "netns" to "dport", the same in both kinds of record.
void endpoint_fields(RecordWriter& w, const Event& e) {
  namespace cap = capture;
  w.key<cap::kNetns>();
  w.num(e.netns);
  w.key<cap::kFamily>();
  // Both spellings are 4 characters: a fixed-size copy.
  static_assert(family_name(AF_INET).size() == 4 && family_name(AF_INET6).size() == 4);
  *w.cursor()++ = '"';
  std::memcpy(w.cursor(), family_name(e.family == AF_INET6 ? AF_INET6 : AF_INET).data(), 4);
  w.cursor() += 4;
  *w.cursor()++ = '"';
  w.key<cap::kSaddr>();
  w.quoted_addr(e.family, e.saddr);
  w.key<cap::kSport>();
  w.num(e.sport);
  w.key<cap::kDaddr>();
  w.quoted_addr(e.family, e.daddr);
  w.key<cap::kDport>();
  w.num(e.dport);
}

}  // namespace

char* JsonFormatter::append_time(char* p, int64_t realtime_ns) const {
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
  std::memcpy(p, cached_, sizeof(cached_) - 1);
  p += sizeof(cached_) - 1;
  *p = '.';
  for (int i = 9; i >= 1; --i) {
    p[i] = static_cast<char>('0' + nanos % 10);
    nanos /= 10;
  }
  p[10] = 'Z';
  return p + 11;
}

void JsonFormatter::append(std::string& out, const Event& e) const {
  namespace cap = capture;
  RecordWriter w;
  w.first_key<cap::kType>();
  if (e.is_timewait()) {
    w.quoted<cap::kTimewaitRecord>();
  } else {
    w.quoted<cap::kStateRecord>();
  }
  w.key<cap::kTs>();
  *w.cursor()++ = '"';
  w.cursor() = append_time(w.cursor(), clock_.to_realtime_ns(e.ts_ns));
  *w.cursor()++ = '"';
  w.key<cap::kMonoNs>();
  w.num(e.ts_ns);
  if (e.is_timewait()) {
    w.key<cap::kEvent>();
    w.quoted(kind_name(e.kind));
    w.key<cap::kTw>();
    w.quoted_hex(e.skaddr);
    w.key<cap::kCookie>();
    w.num(e.cookie);
    endpoint_fields(w, e);
    w.key<cap::kSubstate>();
    w.quoted(state_name(e.newstate));
    w.lit("}\n");
    w.append_to(out);
    return;
  }
  w.key<cap::kSk>();
  w.quoted_hex(e.skaddr);
  w.key<cap::kCookie>();
  w.num(e.cookie);
  w.key<cap::kPid>();
  w.num(e.pid);
  w.key<cap::kComm>();
  w.comm(e.comm_view());
  w.key<cap::kOwner>();
  w.quoted(owner_name(e.owner));
  endpoint_fields(w, e);
  w.key<cap::kOld>();
  w.quoted(state_name(e.oldstate));
  w.key<cap::kNew>();
  w.quoted(state_name(e.newstate));
  w.key<cap::kPrevNs>();
  if (e.prev_ns) {
    w.num(*e.prev_ns);
  } else {
    w.lit("null");
  }
  if (e.rescued) {
    w.key<cap::kRescued>();
    w.lit("true");
  }
  if (e.newstate == TCPFSM_CLOSE) {
    w.key<cap::kCause>();
    w.quoted(cause_name(e.cause));
    w.key<cap::kBytesAcked>();
    w.num(e.totals.bytes_acked);
    w.key<cap::kBytesReceived>();
    w.num(e.totals.bytes_received);
    w.key<cap::kTotalRetrans>();
    w.num(e.totals.retransmits);
    w.key<cap::kSrttUs>();
    w.num(e.totals.srtt_us);
  } else if (e.is_connected()) {
    w.key<cap::kTotalRetrans>();  // the SYNs this connect retransmitted
    w.num(e.totals.retransmits);
  }
  w.lit("}\n");
  w.append_to(out);
}

std::string summary_json(const RunCounters& c) {
  namespace cap = capture;
  std::string out = fmt::format(R"({{"{}":"{}","{}":{{)", cap::kType, cap::kSummaryRecord, cap::kCounters);
  for (size_t i = 0; i < kRunCounters.size(); ++i) {
    fmt::format_to(std::back_inserter(out), R"({}"{}":{})", i ? "," : "", kRunCounters[i].name,
                   c.*kRunCounters[i].member);
  }
  fmt::format_to(std::back_inserter(out),
                 R"(}},"{}":{}}})"
                 "\n",
                 cap::kLost, c.lost());
  return out;
}

std::string summary_text(const RunCounters& c) {
  std::string s = fmt::format("{} events, {} lost ({} ring buffer full, {} recursion, {} uncounted)", c.events,
                              c.lost(), c.ringbuf_drops, c.lost_recursion(), c.uncounted);
  std::string rest;
  for (const auto& f : kRunCounters) {
    if (f.name == "events" || f.name == "ringbuf_drops" || f.name == "uncounted") continue;
    fmt::format_to(std::back_inserter(rest), "{}{} {}", rest.empty() ? "" : ", ", f.name, c.*f.member);
  }
  return s + "; kernel: " + rest;
}

}  // namespace tcpfsm
