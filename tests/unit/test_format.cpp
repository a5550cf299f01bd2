// The trace views: text lines against tcpstates' columns, JSON records
// against reference formatters and the capture format, and the summaries.
// Over 400 lines: every field of both record writers against reference
// formatters, hostile comms, and the summaries.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cstdlib>
#include <ctime>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "model/capture.hpp"
#include "model/run_counters.hpp"
#include "sample_events.hpp"
#include "views/trace_view.hpp"

namespace tcpfsm {
namespace {

using ::testing::HasSubstr;
using ::testing::StartsWith;
using json = nlohmann::json;
using samples::sample_v4;
using samples::sample_v6;
using samples::set_comm;

constexpr int64_t kNov2023 = 1700000000123456789;  // 2023-11-14T22:13:20.123456789Z

std::string rfc3339(int64_t ns) {
  std::string s;
  append_rfc3339(s, ns);
  return s;
}

std::string json_string(std::string_view s) {
  std::string out;
  append_json_string(out, s);
  return out;
}

std::vector<std::string> words(const std::string& line) {
  std::istringstream in(line);
  std::vector<std::string> w;
  for (std::string t; in >> t;) w.push_back(t);
  return w;
}

std::set<std::string> keys(const json& j) {
  std::set<std::string> k;
  for (auto it = j.begin(); it != j.end(); ++it) k.insert(it.key());
  return k;
}

// ---- append_rfc3339

TEST(Rfc3339, KnownInstants) {
  EXPECT_EQ(rfc3339(0), "1970-01-01T00:00:00.000000000Z");
  EXPECT_EQ(rfc3339(kNov2023), "2023-11-14T22:13:20.123456789Z");
  EXPECT_EQ(rfc3339(1), "1970-01-01T00:00:00.000000001Z");
  EXPECT_EQ(rfc3339(951782400'999999999), "2000-02-29T00:00:00.999999999Z");
  EXPECT_EQ(rfc3339(-1), "1969-12-31T23:59:59.999999999Z");
}

TEST(Rfc3339, Appends) {
  std::string s = "ts=";
  append_rfc3339(s, 0);
  EXPECT_EQ(s, "ts=1970-01-01T00:00:00.000000000Z");
}

// ---- append_json_string

TEST(JsonString, Escapes) {
  struct Case {
    std::string in;
    std::string want;
  };
  for (const Case& c : {
           Case{"", R"("")"},
           Case{"nginx", R"("nginx")"},
           Case{"a\"b", R"("a\"b")"},
           Case{"a\\b", R"("a\\b")"},
           Case{"a\nb", R"("a\nb")"},
           Case{"\x01", R"("\u0001")"},
           Case{"\x1f", R"("\u001f")"},
           Case{std::string("\0", 1), R"("\u0000")"},
           Case{"\x7f", R"("\u007f")"},
           Case{"\x80", R"("\u0080")"},
           Case{"\xff", R"("\u00ff")"},
       }) {
    EXPECT_EQ(json_string(c.in), c.want) << c.in;
  }
}

TEST(JsonString, AllAsciiRoundTripsThroughParser) {
  std::string all;
  for (int c = 0; c < 0x80; ++c) all.push_back(static_cast<char>(c));
  std::string lit = json_string(all);
  json j = json::parse(lit);
  ASSERT_TRUE(j.is_string());
  EXPECT_EQ(j.get<std::string>(), all);
  for (char c : lit) {
    auto u = static_cast<unsigned char>(c);
    EXPECT_TRUE(u >= 0x20 && u < 0x7f) << "raw byte " << int(u) << " in output";
  }
}

TEST(JsonString, HighBytesGiveValidJson) {
  std::string high;
  for (int c = 0x80; c < 0x100; ++c) high.push_back(static_cast<char>(c));
  std::string lit = json_string(high);
  json j;
  ASSERT_NO_THROW(j = json::parse(lit)) << lit;
  // Each byte became one code point U+0080..U+00FF, two bytes of UTF-8 each.
  EXPECT_EQ(j.get<std::string>().size(), 2 * high.size());
  EXPECT_EQ(j.get<std::string>().substr(0, 2), "\xc2\x80");
}

TEST(JsonString, Appends) {
  std::string s = "x:";
  append_json_string(s, "y");
  EXPECT_EQ(s, "x:\"y\"");
}

// ---- JsonFormatter

const std::set<std::string> kBaseKeys = {"type",  "ts",    "mono_ns", "sk",     "cookie", "pid",
                                         "comm",  "owner", "netns",   "family", "saddr",  "sport",
                                         "daddr", "dport", "old",     "new",    "prev_ns"};

struct JsonLine {
  std::string raw;
  json j;
};

JsonLine to_json(const Event& e, int64_t offset) {
  std::string out;
  JsonFormatter(WallClock(offset)).append(out, e);
  return {out, json::parse(out)};
}

// The fast path writes times from a per-second cache and IPv4 by hand: both
// must agree with the reference formatters, across seconds and every octet width.
TEST(JsonFormatter, TimesAndAddressesMatchTheReferenceFormatters) {
  JsonFormatter f(WallClock(1'700'000'000'000'000'000));
  Event e = sample_v4();
  const uint64_t times[] = {5, 999'999'999, 1'000'000'000, 1'000'000'001, 86'400'000'000'123, 86'400'000'000'124};
  const std::array<uint8_t, 4> addrs[] = {{0, 9, 10, 99}, {100, 199, 200, 255}, {127, 0, 0, 1}, {255, 255, 255, 255}};
  for (size_t i = 0; i < std::size(times); ++i) {
    e.ts_ns = times[i];
    e.saddr = {};
    std::copy(addrs[i % 4].begin(), addrs[i % 4].end(), e.saddr.begin());
    std::string out;
    f.append(out, e);
    json j = json::parse(out);
    std::string ts;
    append_rfc3339(ts, 1'700'000'000'000'000'000 + static_cast<int64_t>(times[i]));
    EXPECT_EQ(j["ts"], ts);
    EXPECT_EQ(j["saddr"], format_addr(AF_INET, e.saddr));
  }
}

TEST(JsonFormatter, Ipv4) {
  Event e = sample_v4();  // SYN_SENT -> ESTABLISHED: with the SYNs its connect retransmitted
  e.totals.retransmits = 2;
  auto [raw, j] = to_json(e, kNov2023 - static_cast<int64_t>(e.ts_ns));
  std::set<std::string> want = kBaseKeys;
  want.insert("total_retrans");
  EXPECT_EQ(keys(j), want);
  EXPECT_EQ(j["total_retrans"], 2);
  EXPECT_EQ(j["type"], "state");
  EXPECT_EQ(j["ts"], "2023-11-14T22:13:20.123456789Z");
  EXPECT_EQ(j["mono_ns"], 5'000'000'123u);
  EXPECT_EQ(j["sk"], "ffff8880abcd1234");
  EXPECT_EQ(j["cookie"], 4711);
  EXPECT_EQ(j["pid"], 1234);
  EXPECT_EQ(j["comm"], "curl");
  EXPECT_EQ(j["owner"], "task");
  EXPECT_EQ(j["netns"], 4026531840u);
  EXPECT_EQ(j["family"], "ipv4");
  EXPECT_EQ(j["saddr"], "10.0.0.1");
  EXPECT_EQ(j["sport"], 54321);
  EXPECT_EQ(j["daddr"], "192.168.1.2");
  EXPECT_EQ(j["dport"], 443);
  EXPECT_EQ(j["old"], "SYN_SENT");
  EXPECT_EQ(j["new"], "ESTABLISHED");
  EXPECT_TRUE(j["prev_ns"].is_number_unsigned());
  EXPECT_EQ(j["prev_ns"], 1500000);
}

TEST(JsonFormatter, Ipv6Rescued) {
  Event e = sample_v6();
  auto [raw, j] = to_json(e, -static_cast<int64_t>(e.ts_ns));  // realtime 0
  std::set<std::string> want = kBaseKeys;
  want.insert("rescued");
  for (const char* k : {"cause", "bytes_acked", "bytes_received", "total_retrans", "srtt_us"}) want.insert(k);
  EXPECT_EQ(keys(j), want);
  EXPECT_EQ(j["bytes_acked"], 123456);
  EXPECT_EQ(j["bytes_received"], 7890);
  EXPECT_EQ(j["total_retrans"], 3);
  EXPECT_EQ(j["srtt_us"], 150);
  EXPECT_EQ(j["ts"], "1970-01-01T00:00:00.000000000Z");
  EXPECT_EQ(j["sk"], "ffff888012345678");
  EXPECT_EQ(j["cookie"], 99);
  EXPECT_EQ(j["pid"], 42);
  EXPECT_EQ(j["comm"], "nginx");
  EXPECT_EQ(j["owner"], "listener");
  EXPECT_EQ(j["netns"], 4026532000u);
  EXPECT_EQ(j["family"], "ipv6");
  EXPECT_EQ(j["saddr"], "2001:db8::1");
  EXPECT_EQ(j["sport"], 8080);
  EXPECT_EQ(j["daddr"], "2001:db8::2");
  EXPECT_EQ(j["dport"], 36000);
  EXPECT_EQ(j["old"], "FIN_WAIT1");
  EXPECT_EQ(j["new"], "CLOSE");
  EXPECT_EQ(j["prev_ns"], 250000);
  EXPECT_EQ(j["rescued"], true);
  EXPECT_EQ(j["cause"], "rst_received");
}

TEST(JsonFormatter, UnknownPrevIsNullAndUnownedHasEmptyComm) {
  Event e = sample_v4();
  e.prev_ns.reset();
  e.owner = Owner::None;
  e.pid = 0;
  e.comm = {};
  e.skaddr = 0xabc;
  e.oldstate = TCPFSM_ESTABLISHED;
  e.newstate = TCPFSM_FIN_WAIT1;
  auto [raw, j] = to_json(e, 0);
  EXPECT_EQ(keys(j), kBaseKeys);
  EXPECT_TRUE(j["prev_ns"].is_null());
  EXPECT_EQ(j["owner"], "none");
  EXPECT_EQ(j["pid"], 0);
  EXPECT_EQ(j["comm"], "");
  EXPECT_EQ(j["sk"], "abc");
}

TEST(JsonFormatter, OwnerNames) {
  for (auto [owner, name] : {std::pair{Owner::None, "none"}, std::pair{Owner::Task, "task"},
                             std::pair{Owner::Recorded, "recorded"}, std::pair{Owner::Listener, "listener"}}) {
    Event e = sample_v4();
    e.owner = owner;
    EXPECT_EQ(to_json(e, 0).j["owner"], name);
  }
}

TEST(JsonFormatter, EndsWithExactlyOneNewline) {
  for (const Event& e : {sample_v4(), sample_v6()}) {
    std::string out = to_json(e, 0).raw;
    ASSERT_GE(out.size(), 2u);
    EXPECT_EQ(out.back(), '\n');
    EXPECT_NE(out[out.size() - 2], '\n');
    EXPECT_EQ(out.find('\n'), out.size() - 1);
  }
}

TEST(JsonFormatter, HostileCommStillValidJson) {
  Event e = sample_v4();
  set_comm(e, "a\"b\\c\n\x01\xff");
  auto [raw, j] = to_json(e, 0);
  EXPECT_EQ(raw.find('\n'), raw.size() - 1);
  EXPECT_EQ(j["comm"], "a\"b\\c\n\x01\xc3\xbf");
}

// The comm field of a record is what append_json_string() writes, for
// every byte value, at the longest comm (15 bytes and its NUL).
TEST(JsonFormatter, CommEscapedAsTheReferenceForEveryByte) {
  for (int c = 1; c < 0x100; ++c) {
    Event e = sample_v6();
    std::string comm(15, static_cast<char>(c));
    set_comm(e, comm.c_str());
    auto [raw, j] = to_json(e, 0);
    std::string want = R"("comm":)";
    append_json_string(want, comm);
    EXPECT_NE(raw.find(want + ","), std::string::npos) << "byte " << c << ": " << raw;
  }
}

TEST(JsonFormatter, AppendsWithoutClobbering) {
  std::string out;
  JsonFormatter f(WallClock(0));
  f.append(out, sample_v4());
  f.append(out, sample_v6());
  std::istringstream lines(out);
  int n = 0;
  for (std::string line; std::getline(lines, line); ++n) EXPECT_TRUE(json::accept(line)) << line;
  EXPECT_EQ(n, 2);
}

// ---- TextFormatter

std::string text_line(const Event& e, TextOptions opts = {}, int64_t offset = 0) {
  std::string out;
  TextFormatter(opts, WallClock(offset)).append(out, e);
  return out;
}

TEST(TextFormatter, HeaderColumns) {
  std::string h = TextFormatter({}, WallClock(0)).header();
  EXPECT_EQ(words(h), (std::vector<std::string>{"SKADDR", "PID", "COMM", "LADDR", "LPORT", "RADDR", "RPORT", "OLDSTATE",
                                                "->", "NEWSTATE", "MS"}));
  EXPECT_EQ(h.back(), '\n');
  EXPECT_THAT(h, StartsWith("SKADDR"));
}

TEST(TextFormatter, Ipv4LineExact) {
  EXPECT_EQ(text_line(sample_v4()),
            "ffff8880abcd1234 1234    curl             10.0.0.1        54321 192.168.1.2     443   "
            "SYN_SENT    -> ESTABLISHED 1.500\n");
}

TEST(TextFormatter, LineFields) {
  std::string line = text_line(sample_v6(), {.timestamps = false, .wide = true});
  EXPECT_EQ(words(line),
            (std::vector<std::string>{"ffff888012345678", "42", "nginx", "2001:db8::1", "8080", "2001:db8::2", "36000",
                                      "FIN_WAIT1", "->", "CLOSE", "0.250", "rst_received"}));
  EXPECT_EQ(line.find('\n'), line.size() - 1);
}

// -w or --cause: the CAUSE column, the close's cause or "-" for other transitions.
TEST(TextFormatter, CauseColumn) {
  for (TextOptions opts : {TextOptions{.cause = true}, TextOptions{.wide = true}}) {
    const std::string h = TextFormatter(opts, WallClock(0)).header();
    EXPECT_THAT(h, ::testing::EndsWith(" CAUSE\n"));
    Event e = sample_v6();
    e.cause = TCPFSM_CAUSE_RST_ABORT_ON_CLOSE;
    const std::string closed = text_line(e, opts);
    EXPECT_THAT(closed, ::testing::EndsWith(" 0.250      rst_sent:abort_on_close\n"));
    EXPECT_EQ(h.find(" CAUSE"), closed.find(" rst_sent:abort_on_close"));
    EXPECT_THAT(text_line(sample_v4(), opts), ::testing::EndsWith(" 1.500      -\n"));  // not into CLOSE
    e.prev_ns.reset();
    EXPECT_THAT(text_line(e, opts), ::testing::EndsWith(" -          rst_sent:abort_on_close\n"));
  }
  EXPECT_THAT(TextFormatter({}, WallClock(0)).header(), ::testing::EndsWith(" MS\n"));  // off by default
}

TEST(TextFormatter, ColumnsLineUpWithHeader) {
  for (bool wide : {false, true}) {
    TextOptions opts{.timestamps = false, .wide = wide};
    std::string h = TextFormatter(opts, WallClock(0)).header();
    std::string line = text_line(sample_v4(), opts);
    for (auto [col, value] :
         {std::pair{"PID", "1234"}, std::pair{"COMM", "curl"}, std::pair{"LADDR", "10.0.0.1"},
          std::pair{"LPORT", "54321"}, std::pair{"RADDR", "192.168.1.2"}, std::pair{"RPORT", "443"},
          std::pair{"OLDSTATE", "SYN_SENT"}, std::pair{"NEWSTATE", "ESTABLISHED"}, std::pair{"MS", "1.500"}}) {
      EXPECT_EQ(h.find(std::string(" ") + col), line.find(std::string(" ") + value)) << col << " wide=" << wide;
    }
  }
}

TEST(TextFormatter, MsColumn) {
  struct Case {
    std::optional<uint64_t> prev;
    const char* want;
  };
  for (const Case& c : {Case{1'500'000, " 1.500\n"}, Case{0, " 0.000\n"}, Case{999, " 0.001\n"},
                        Case{2'000'000'000, " 2000.000\n"}, Case{std::nullopt, " -\n"}}) {
    Event e = sample_v4();
    e.prev_ns = c.prev;
    std::string line = text_line(e);
    EXPECT_THAT(line, ::testing::EndsWith(std::string("ESTABLISHED") + c.want)) << line;
  }
}

TEST(TextFormatter, EmptyCommIsDash) {
  Event e = sample_v4();
  e.pid = 0;
  e.comm = {};
  auto w = words(text_line(e));
  ASSERT_GE(w.size(), 3u);
  EXPECT_EQ(w[1], "0");
  EXPECT_EQ(w[2], "-");
}

TEST(TextFormatter, SkaddrIsZeroPaddedHex) {
  Event e = sample_v4();
  e.skaddr = 0x1f;
  EXPECT_THAT(text_line(e), StartsWith("000000000000001f "));
}

TEST(TextFormatter, WideWidensAddressColumns) {
  std::string narrow = text_line(sample_v4(), {.cause = true});
  std::string wide = text_line(sample_v4(), {.timestamps = false, .wide = true});
  EXPECT_EQ(wide.size(), narrow.size() + 2 * (39 - 15));
  EXPECT_EQ(words(wide), words(narrow));
  EXPECT_NE(wide.find("10.0.0.1" + std::string(39 - 8 + 1, ' ') + "54321"), std::string::npos) << wide;

  std::string hn = TextFormatter({.cause = true}, WallClock(0)).header();
  std::string hw = TextFormatter({.timestamps = false, .wide = true}, WallClock(0)).header();
  EXPECT_EQ(hw.size(), hn.size() + 2 * (39 - 15));
  EXPECT_EQ(hw.find("RADDR") - hw.find("LADDR"), 39u + 1 + 5 + 1);
}

class ScopedUtc {
 public:
  ScopedUtc() {
    if (const char* tz = std::getenv("TZ")) saved_ = tz;
    setenv("TZ", "UTC", 1);
    tzset();
  }
  ~ScopedUtc() {
    if (saved_) {
      setenv("TZ", saved_->c_str(), 1);
    } else {
      unsetenv("TZ");
    }
    tzset();
  }

 private:
  std::optional<std::string> saved_;
};

TEST(TextFormatter, TimestampColumn) {
  ScopedUtc utc;
  Event e = sample_v4();
  TextOptions opts{.timestamps = true, .wide = false};
  std::string line = text_line(e, opts, kNov2023 - static_cast<int64_t>(e.ts_ns));
  EXPECT_EQ(line, "22:13:20.123456 " + text_line(e));

  std::string h = TextFormatter(opts, WallClock(0)).header();
  EXPECT_EQ(words(h).front(), "TIME");
  EXPECT_EQ(h.substr(16), TextFormatter({}, WallClock(0)).header());
}

// ---- summaries

// `"name":` as the writer puts a key (appends: GCC 12 warns on "\"" + k).
std::string key_token(std::string_view k) {
  std::string t = "\"";
  t += k;
  t += "\":";
  return t;
}

// The writer's fields are the capture format's (model/capture.hpp), which
// the reader reads: one list for both, in the writer's order.
TEST(CaptureFormat, StateRecordHasExactlyTheListedFieldsInOrder) {
  JsonFormatter f(WallClock(0));
  std::string out;
  Event e = samples::sample_v6();  // rescued: every optional field present
  f.append(out, e);
  const json j = json::parse(out);
  std::vector<std::string> want(capture::kStateFields.begin(), capture::kStateFields.end());
  EXPECT_EQ(keys(j), std::set<std::string>(want.begin(), want.end()));
  // The order, by position in the text (nlohmann sorts the keys it parsed).
  size_t at = 0;
  for (const auto& k : want) {
    const size_t pos = out.find(key_token(k), at);
    ASSERT_NE(pos, std::string::npos) << k << " missing or out of order";
    at = pos;
  }
  EXPECT_EQ(j.size(), capture::kStateFields.size());
}

TEST(CaptureFormat, TimewaitRecordHasExactlyTheListedFieldsInOrder) {
  JsonFormatter f(WallClock(0));
  for (EventKind kind : {EventKind::TwStart, EventKind::TwCancel, EventKind::TwExpire, EventKind::TwSubstate}) {
    Event e = samples::sample_v4();
    e.kind = kind;
    e.oldstate = 0;
    e.newstate = TCPFSM_TIME_WAIT;
    e.pid = 0;
    e.prev_ns.reset();
    e.comm = {};
    std::string out;
    f.append(out, e);
    const json j = json::parse(out);
    EXPECT_EQ(j.size(), capture::kTimewaitFields.size());
    size_t at = 0;
    for (const auto& k : capture::kTimewaitFields) {
      const size_t pos = out.find(key_token(k), at);
      ASSERT_NE(pos, std::string::npos) << k << " missing or out of order";
      at = pos;
    }
    EXPECT_EQ(j.at("event"), kind_name(kind));
  }
}

// Every name of each enum parses back to its value: a value added to
// event.h without a name fails the static_asserts in model/event.cpp.
TEST(CaptureFormat, EnumNamesRoundTrip) {
  for (int o = 0; o < TCPFSM_OWNER_MAX; ++o) {
    const auto owner = static_cast<Owner>(o);
    EXPECT_EQ(parse_owner(owner_name(owner)), owner) << o;
  }
  for (int k = TCPFSM_EV_STATE; k < TCPFSM_EV_KIND_MAX; ++k) {
    const auto kind = static_cast<EventKind>(k);
    EXPECT_EQ(parse_kind(kind_name(kind)), kind) << k;
  }
  EXPECT_EQ(parse_owner("nobody"), std::nullopt);
  EXPECT_EQ(parse_kind(""), std::nullopt);
  EXPECT_EQ(family_name(AF_INET), "ipv4");
  EXPECT_EQ(family_name(AF_INET6), "ipv6");
  EXPECT_EQ(parse_family("ipv6"), AF_INET6);
}

// Distinct values for every counter of kRunCounters.
RunCounters every_counter_set() {
  RunCounters c;
  uint64_t v = 11;
  for (const auto& f : kRunCounters) c.*f.member = v++;
  return c;
}

TEST(Summary, JsonCarriesEveryCounterByName) {
  const RunCounters c = every_counter_set();
  std::string s = summary_json(c);
  EXPECT_EQ(s.find('\n'), s.size() - 1);
  json j = json::parse(s);
  EXPECT_EQ(keys(j), (std::set<std::string>{"type", "counters", "lost"}));
  EXPECT_EQ(j["type"], "summary");
  ASSERT_EQ(j["counters"].size(), kRunCounters.size());
  for (const auto& f : kRunCounters) EXPECT_EQ(j["counters"][std::string(f.name)], c.*f.member) << f.name;
  EXPECT_EQ(j["lost"], c.lost());
}

TEST(Summary, LostRecursionFlooredAtZero) {
  RunCounters c{.events = 1, .ringbuf_drops = 0, .recursion_misses = 2, .rescued = 7, .malformed = 0};
  EXPECT_EQ(c.lost_recursion(), 0u);
  json j = json::parse(summary_json(c));
  EXPECT_EQ(j["lost"], 0);
  EXPECT_EQ(j["counters"]["rescued"], 7);
  EXPECT_EQ(j["counters"]["recursion_misses"], 2);
}

TEST(Summary, LostIsRingBufferRecursionAndUncounted) {
  RunCounters c{.ringbuf_drops = 3, .recursion_misses = 5, .rescued = 2, .uncounted = 7};
  EXPECT_EQ(c.lost(), 3u + 3u + 7u);
  EXPECT_EQ(json::parse(summary_json(c))["lost"], 13);
}

TEST(Summary, ZeroCountersParse) {
  json j = json::parse(summary_json({}));
  for (const auto& f : kRunCounters) EXPECT_EQ(j["counters"][std::string(f.name)], 0) << f.name;
  EXPECT_EQ(j["lost"], 0);
}

TEST(Summary, TextMentionsEveryCounter) {
  RunCounters c{.events = 10, .ringbuf_drops = 3, .recursion_misses = 5, .rescued = 2, .malformed = 4};
  std::string s = summary_text(c);
  EXPECT_THAT(s, HasSubstr("10 events"));
  EXPECT_THAT(s, HasSubstr("6 lost"));
  EXPECT_THAT(s, HasSubstr("3 ring buffer full"));
  EXPECT_THAT(s, HasSubstr("3 recursion"));
  EXPECT_THAT(s, HasSubstr("recursion_misses 5"));
  EXPECT_THAT(s, HasSubstr("rescued 2"));
  EXPECT_THAT(s, HasSubstr("malformed 4"));
  const RunCounters all = every_counter_set();
  const std::string t = summary_text(all);
  for (const auto& f : kRunCounters) EXPECT_THAT(t, HasSubstr(std::to_string(all.*f.member))) << f.name;

  EXPECT_THAT(summary_text({}), HasSubstr("0 lost"));
}

}  // namespace
}  // namespace tcpfsm

namespace tcpfsm {
namespace {

TEST(JsonFormatter, TimewaitRecord) {
  Event e = samples::sample_v4();
  e.kind = EventKind::TwExpire;
  e.oldstate = 0;
  e.newstate = TCPFSM_TIME_WAIT;
  e.pid = 0;
  e.prev_ns.reset();
  e.owner = Owner::None;
  std::string out;
  JsonFormatter(WallClock(0)).append(out, e);
  auto j = nlohmann::json::parse(out);
  EXPECT_EQ(j["type"], "timewait");
  EXPECT_EQ(j["event"], "expire");
  EXPECT_EQ(j["tw"], "ffff8880abcd1234");
  EXPECT_EQ(j["cookie"], 4711);
  EXPECT_EQ(j["substate"], "TIME_WAIT");
  EXPECT_EQ(j["mono_ns"], e.ts_ns);
  EXPECT_EQ(j["saddr"], "10.0.0.1");
  EXPECT_EQ(j["dport"], 443);
  EXPECT_FALSE(j.contains("pid"));
}

TEST(TextFormatter, TimewaitRecordsAreJsonOnly) {
  Event e = samples::sample_v4();
  e.kind = EventKind::TwStart;
  std::string out;
  TextFormatter({}, WallClock(0)).append(out, e);
  EXPECT_EQ(out, "");
}

TEST(TextFormatter, ControlCharactersInCommBecomeQuestionMarks) {
  Event e = samples::sample_v4();
  samples::set_comm(e, "a b\nc");
  std::string out;
  TextFormatter({}, WallClock(0)).append(out, e);
  EXPECT_NE(out.find(" a?b?c "), std::string::npos) << out;
  EXPECT_EQ(out.find('\n'), out.size() - 1);
}

}  // namespace
}  // namespace tcpfsm
