// Replay: reading back what `tcpfsm trace --json` (JsonFormatter and
// summary_json) writes, line by line and from a capture file.
// Over 400 lines: every field of both record types and the summary, good and
// bad, and whole capture files; they share the record builders.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "collect/capture_reader.hpp"
#include "model/event.hpp"
#include "sample_events.hpp"
#include "views/trace_view.hpp"

namespace tcpfsm {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;
using ::testing::StartsWith;
using json = nlohmann::json;
using samples::sample_v4;
using samples::sample_v6;
using samples::set_comm;

// What trace --json writes for e, without the newline (as getline gives it).
std::string line_of(const Event& e) {
  JsonFormatter f(WallClock(1'700'000'000'000'000'000));
  std::string out;
  f.append(out, e);
  EXPECT_FALSE(out.empty());
  EXPECT_EQ(out.back(), '\n');
  if (!out.empty() && out.back() == '\n') out.pop_back();
  return out;
}

void expect_same(const Event& got, const Event& want) {
  EXPECT_EQ(got.kind, want.kind);
  EXPECT_EQ(got.ts_ns, want.ts_ns);
  EXPECT_EQ(got.skaddr, want.skaddr);
  EXPECT_EQ(got.cookie, want.cookie);
  EXPECT_EQ(got.prev_ns, want.prev_ns);
  EXPECT_EQ(got.pid, want.pid);
  EXPECT_EQ(got.netns, want.netns);
  EXPECT_EQ(got.sport, want.sport);
  EXPECT_EQ(got.dport, want.dport);
  EXPECT_EQ(got.family, want.family);
  EXPECT_EQ(got.oldstate, want.oldstate);
  EXPECT_EQ(got.newstate, want.newstate);
  EXPECT_EQ(got.owner, want.owner);
  EXPECT_EQ(got.rescued, want.rescued);
  EXPECT_EQ(got.cause, want.cause);
  EXPECT_EQ(got.saddr, want.saddr);
  EXPECT_EQ(got.daddr, want.daddr);
  EXPECT_EQ(got.comm, want.comm);
}

// What replay reads back from the line trace --json writes for e.
std::optional<Event> round_trip(const Event& e) {
  auto r = parse_capture_line(line_of(e));
  EXPECT_TRUE(r.ok()) << (r.ok() ? "" : r.error().message) << "\n" << line_of(e);
  if (!r.ok()) return std::nullopt;
  EXPECT_FALSE(r->summary.has_value());
  EXPECT_TRUE(r->event.has_value());
  return r->event;
}

// The line parses back to exactly e.
void expect_round_trip(const Event& e) {
  auto got = round_trip(e);
  ASSERT_TRUE(got.has_value());
  expect_same(*got, e);
}

Event timewait_v4(EventKind kind, uint8_t substate) {
  Event e;
  e.kind = kind;
  e.ts_ns = 123'456'789'012;
  e.skaddr = 0xffff8881deadbe00ULL;
  e.cookie = 77'000'000'001ULL;
  e.netns = 4026531840u;
  e.family = AF_INET;
  e.sport = 39000;
  e.dport = 443;
  e.saddr = {10, 1, 2, 3};
  e.daddr = {93, 184, 216, 34};
  e.oldstate = 0;
  e.newstate = substate;
  return e;
}

Event timewait_v6(EventKind kind, uint8_t substate) {
  Event e = timewait_v4(kind, substate);
  e.family = AF_INET6;
  e.saddr = {0xfe, 0x80, 0, 0, 0, 0, 0, 0, 0x02, 0x11, 0x22, 0xff, 0xfe, 0x33, 0x44, 0x55};
  e.daddr = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1};
  return e;
}

std::string error_of(std::string_view line) {
  auto r = parse_capture_line(line);
  EXPECT_FALSE(r.ok()) << "accepted: " << line;
  if (r.ok()) return "";
  EXPECT_FALSE(r.error().message.empty());
  EXPECT_EQ(r.error().message.find('\n'), std::string::npos);
  return r.error().message;
}

json state_json() { return json::parse(line_of(sample_v4())); }
json timewait_json() { return json::parse(line_of(timewait_v4(EventKind::TwStart, TCPFSM_TIME_WAIT))); }

// ---- state records ----

TEST(ReplayParseTest, StateEventIPv4RoundTrip) { expect_round_trip(sample_v4()); }

TEST(ReplayParseTest, StateEventIPv6RescuedRoundTrip) {
  Event e = sample_v6();
  ASSERT_TRUE(e.rescued);
  expect_round_trip(e);
}

TEST(ReplayParseTest, EveryCauseRoundTripsAndOnlyCloseCarriesOne) {
  Event e = sample_v6();  // into CLOSE
  for (uint8_t c = 0; c < kCauseCount; ++c) {
    e.cause = c;
    EXPECT_THAT(line_of(e), HasSubstr("\"cause\":\"" + std::string(cause_name(c)) + "\""));
    expect_round_trip(e);
  }
  EXPECT_THAT(line_of(sample_v4()), Not(HasSubstr("\"cause\"")));  // not into CLOSE
}

TEST(ReplayParseTest, CaptureWithoutCausesReadsAsUnknown) {
  json j = json::parse(line_of(sample_v6()));
  j.erase("cause");
  auto r = parse_capture_line(j.dump());
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_EQ(r->event->cause, TCPFSM_CAUSE_UNKNOWN);
}

TEST(ReplayParseTest, BadCausesAreErrors) {
  json j = json::parse(line_of(sample_v6()));
  j["cause"] = "gremlins";
  EXPECT_THAT(error_of(j.dump()), HasSubstr("\"cause\""));
  j["cause"] = 3;
  EXPECT_THAT(error_of(j.dump()), HasSubstr("\"cause\""));
  j = state_json();  // SYN_SENT -> ESTABLISHED
  j["cause"] = "fin";
  EXPECT_THAT(error_of(j.dump()), HasSubstr("does not enter CLOSE"));
}

TEST(ReplayParseTest, AConnectThatEstablishedCarriesItsSynRetransmitsAndNoOtherTotal) {
  json j = state_json();  // SYN_SENT -> ESTABLISHED
  j["total_retrans"] = 2;
  auto r = parse_capture_line(j.dump());
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_EQ(r->event->totals.retransmits, 2u);
  j["bytes_acked"] = 1;
  EXPECT_THAT(error_of(j.dump()), HasSubstr("\"bytes_acked\" is set on a record that does not enter CLOSE"));
}

TEST(ReplayParseTest, PrevNsNullIsUnknown) {
  Event e = sample_v4();
  e.prev_ns = std::nullopt;
  EXPECT_THAT(line_of(e), HasSubstr("\"prev_ns\":null"));
  auto got = round_trip(e);
  ASSERT_TRUE(got.has_value());
  EXPECT_FALSE(got->prev_ns.has_value());
  expect_same(*got, e);
}

TEST(ReplayParseTest, PrevNsZeroIsKnown) {
  Event e = sample_v4();
  e.prev_ns = 0;
  auto got = round_trip(e);
  ASSERT_TRUE(got.has_value());
  ASSERT_TRUE(got->prev_ns.has_value());
  EXPECT_EQ(*got->prev_ns, 0u);
}

TEST(ReplayParseTest, EveryOwnerRoundTrips) {
  for (Owner o : {Owner::None, Owner::Task, Owner::Recorded, Owner::Listener}) {
    Event e = sample_v4();
    e.owner = o;
    if (o == Owner::None) {
      e.pid = 0;
      set_comm(e, "");
    }
    auto got = round_trip(e);
    ASSERT_TRUE(got.has_value());
    EXPECT_EQ(got->owner, o) << owner_name(o);
    expect_same(*got, e);
  }
}

TEST(ReplayParseTest, ExtremeValuesRoundTrip) {
  Event e = sample_v6();
  e.ts_ns = UINT64_MAX;
  e.skaddr = UINT64_MAX;
  e.cookie = UINT64_MAX;
  e.prev_ns = UINT64_MAX;
  e.pid = UINT32_MAX;
  e.netns = UINT32_MAX;
  e.sport = 65535;
  e.dport = 0;
  e.rescued = false;
  e.oldstate = TCPFSM_CLOSE;
  e.newstate = TCPFSM_BOUND_INACTIVE;
  e.cause = TCPFSM_CAUSE_UNKNOWN;  // only CLOSE has one
  set_comm(e, "fifteen-chars!!");  // the longest comm there is
  ASSERT_EQ(e.comm_view().size(), 15u);
  expect_round_trip(e);
}

TEST(ReplayParseTest, CommWithEscapesRoundTrips) {
  Event e = sample_v4();
  set_comm(e, "a\"b\\c\td\ne\x01\x7f");
  expect_round_trip(e);
}

// JsonFormatter escapes every byte that is not printable ASCII as \u00XX:
// replay must turn those back into the same bytes, or a capture of a process
// with a non-ASCII name is not replayed faithfully (or not at all).
TEST(ReplayParseTest, CommWithHighBytesRoundTrips) {
  Event e = sample_v4();
  set_comm(e, "caf\xc3\xa9");  // "café" in UTF-8: 5 bytes
  expect_round_trip(e);

  Event full = sample_v4();
  set_comm(full, "\xe6\x97\xa5\xe6\x9c\xac\xe8\xaa\x9e-pool1");  // 15 bytes
  ASSERT_EQ(full.comm_view().size(), 15u);
  expect_round_trip(full);
}

TEST(ReplayParseTest, EveryStateNameParses) {
  for (uint8_t s = TCPFSM_ESTABLISHED; s < TCPFSM_STATE_MAX; ++s) {
    Event e = sample_v4();
    e.oldstate = s;
    e.newstate = static_cast<uint8_t>(s == TCPFSM_CLOSE ? TCPFSM_LISTEN : TCPFSM_CLOSE);
    auto got = round_trip(e);
    ASSERT_TRUE(got.has_value());
    EXPECT_EQ(got->oldstate, s);
    EXPECT_EQ(got->newstate, e.newstate);
  }
}

TEST(ReplayParseTest, TrailingNewlineAndCarriageReturnAccepted) {
  std::string l = line_of(sample_v4());
  for (const std::string& v : {l + "\n", l + "\r", std::string("  ") + l + " \t"}) {
    auto r = parse_capture_line(v);
    ASSERT_TRUE(r.ok()) << r.error().message;
    ASSERT_TRUE(r->event.has_value());
    expect_same(*r->event, sample_v4());
  }
}

// ---- timewait records ----

TEST(ReplayParseTest, TimewaitEveryKindRoundTrips) {
  for (EventKind k : {EventKind::TwStart, EventKind::TwCancel, EventKind::TwExpire, EventKind::TwSubstate}) {
    for (uint8_t sub : {uint8_t{TCPFSM_TIME_WAIT}, uint8_t{TCPFSM_FIN_WAIT2}}) {
      if (k == EventKind::TwSubstate && sub != TCPFSM_TIME_WAIT) continue;
      Event v4 = timewait_v4(k, sub);
      std::string l = line_of(v4);
      EXPECT_THAT(l, StartsWith("{\"type\":\"timewait\""));
      EXPECT_THAT(l, HasSubstr(std::string("\"event\":\"") + std::string(kind_name(k)) + "\""));
      auto got = round_trip(v4);
      ASSERT_TRUE(got.has_value());
      EXPECT_TRUE(got->is_timewait());
      expect_same(*got, v4);
      Event v6 = timewait_v6(k, sub);
      expect_round_trip(v6);
    }
  }
}

TEST(ReplayParseTest, TimewaitSubstateRecord) {
  Event e = timewait_v4(EventKind::TwSubstate, TCPFSM_TIME_WAIT);
  std::string l = line_of(e);
  EXPECT_THAT(l, HasSubstr("\"event\":\"substate\""));
  EXPECT_THAT(l, HasSubstr("\"substate\":\"TIME_WAIT\""));
  auto got = round_trip(e);
  ASSERT_TRUE(got.has_value());
  EXPECT_EQ(got->kind, EventKind::TwSubstate);
  EXPECT_EQ(got->newstate, TCPFSM_TIME_WAIT);
  EXPECT_EQ(got->oldstate, 0);
  EXPECT_EQ(got->pid, 0u);
  EXPECT_EQ(got->owner, Owner::None);
  EXPECT_FALSE(got->prev_ns.has_value());
  EXPECT_EQ(got->comm_view(), "");
}

// ---- summary and blank lines ----

TEST(ReplayParseTest, SummaryLine) {
  RunCounters c;
  c.events = 4242;
  c.ringbuf_drops = 3;
  c.recursion_misses = 10;
  c.rescued = 4;
  c.malformed = 1;
  std::string l = summary_json(c);
  auto r = parse_capture_line(l);
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_FALSE(r->event.has_value());
  ASSERT_TRUE(r->summary.has_value());
  EXPECT_EQ(r->summary->events, 4242u);
  EXPECT_EQ(r->summary->ringbuf_drops, 3u);
  EXPECT_EQ(r->summary->recursion_misses, 10u);
  EXPECT_EQ(r->summary->rescued, 4u);
  EXPECT_EQ(r->summary->malformed, 1u);
  EXPECT_EQ(r->summary->lost_recursion(), 6u);
}

TEST(ReplayParseTest, BlankLineGivesNeither) {
  for (std::string_view l : {"", " ", "\t", "\r", "  \t \r"}) {
    auto r = parse_capture_line(l);
    ASSERT_TRUE(r.ok()) << "'" << l << "': " << r.error().message;
    EXPECT_FALSE(r->event.has_value());
    EXPECT_FALSE(r->summary.has_value());
  }
}

// ---- errors ----

TEST(ReplayParseTest, NotJsonIsAnError) {
  error_of("this is not json");
  error_of("{\"type\":\"state\"");  // truncated
  error_of("00:00:01 curl ESTABLISHED");
  error_of(line_of(sample_v4()) + "}");
}

TEST(ReplayParseTest, NonObjectJsonIsAnError) {
  error_of("[1,2,3]");
  std::string wrapped = line_of(sample_v4());
  wrapped.insert(wrapped.begin(), '[');
  wrapped.push_back(']');
  error_of(wrapped);
  error_of("42");
  error_of("\"state\"");
  error_of("null");
}

TEST(ReplayParseTest, MissingFieldsAreErrors) {
  for (const char* key : {"type", "mono_ns", "sk", "cookie", "pid", "comm", "owner", "netns", "family", "saddr",
                          "sport", "daddr", "dport", "old", "new", "prev_ns"}) {
    json j = state_json();
    ASSERT_TRUE(j.contains(key)) << key;
    j.erase(key);
    std::string msg = error_of(j.dump());
    if (std::string(key) != "type") {
      EXPECT_THAT(msg, HasSubstr(key)) << key;
    }
  }
  for (const char* key :
       {"mono_ns", "event", "tw", "cookie", "netns", "family", "saddr", "sport", "daddr", "dport", "substate"}) {
    json j = timewait_json();
    ASSERT_TRUE(j.contains(key)) << key;
    j.erase(key);
    EXPECT_THAT(error_of(j.dump()), HasSubstr(key)) << key;
  }
  RunCounters c;
  c.events = 1;
  json s = json::parse(summary_json(c));
  for (const auto& f : kRunCounters) {
    json j = s;
    j["counters"].erase(std::string(f.name));
    EXPECT_THAT(error_of(j.dump()), HasSubstr(f.name)) << f.name;
  }
  json j = s;
  j.erase("counters");
  EXPECT_THAT(error_of(j.dump()), HasSubstr("counters"));
}

TEST(ReplayParseTest, WrongTypesAreErrors) {
  struct Case {
    const char* key;
    json value;
  };
  const std::vector<Case> cases = {
      {"type", 1},
      {"mono_ns", "123"},
      {"mono_ns", -1},
      {"mono_ns", 1.5},
      {"cookie", "4711"},
      {"cookie", true},
      {"pid", -5},
      {"pid", 4294967296ULL},  // > uint32
      {"netns", 4294967296ULL},
      {"sport", 65536},  // > uint16
      {"dport", json::array()},
      {"comm", 12},
      {"owner", 1},
      {"owner", "someone"},
      {"sk", 12345},
      {"sk", "xyz"},
      {"sk", ""},
      {"sk", "ffff8880abcd1234zz"},
      {"old", 1},
      {"new", nullptr},
      {"prev_ns", "1500000"},
      {"prev_ns", -1},
      {"family", "4"},
      {"saddr", 167772161},
  };
  for (const auto& c : cases) {
    json j = state_json();
    j[c.key] = c.value;
    std::string msg = error_of(j.dump());
    EXPECT_THAT(msg, HasSubstr(c.key)) << c.key << "=" << c.value.dump();
  }
  json t = timewait_json();
  t["tw"] = 5;
  EXPECT_THAT(error_of(t.dump()), HasSubstr("tw"));
  t = timewait_json();
  t["event"] = "fire";
  EXPECT_THAT(error_of(t.dump()), HasSubstr("event"));
  t = timewait_json();
  t["substate"] = 6;
  EXPECT_THAT(error_of(t.dump()), HasSubstr("substate"));
  json s = json::parse(summary_json(RunCounters{}));
  s["counters"]["events"] = "many";
  EXPECT_THAT(error_of(s.dump()), HasSubstr("events"));
  s = json::parse(summary_json(RunCounters{}));
  s["counters"] = 3;
  EXPECT_THAT(error_of(s.dump()), HasSubstr("events"));
}

// A capture's summary carries every counter of the run, so a replay
// reports the losses the live run had (tcpfsm 0.1.0 dropped uncounted,
// timewait_substate_untracked and timer_recursion_misses).
TEST(ReplayParseTest, SummaryRoundTripsEveryCounter) {
  RunCounters c;
  uint64_t v = 101;
  for (const auto& f : kRunCounters) c.*f.member = v++;
  auto r = parse_capture_line(summary_json(c));
  ASSERT_TRUE(r.ok()) << r.error().message;
  ASSERT_TRUE(r->summary.has_value());
  for (const auto& f : kRunCounters) EXPECT_EQ((*r->summary).*f.member, c.*f.member) << f.name;
}

TEST(ReplayParseTest, SummaryOfTcpfsm010StillParses) {
  auto r = parse_capture_line(
      R"({"type":"summary","events":42,"lost":{"ringbuf":3,"recursion":1},"kernel":{"recursion_misses":5,"rescued":4},"malformed":2})");
  ASSERT_TRUE(r.ok()) << r.error().message;
  ASSERT_TRUE(r->summary.has_value());
  EXPECT_EQ(r->summary->events, 42u);
  EXPECT_EQ(r->summary->ringbuf_drops, 3u);
  EXPECT_EQ(r->summary->recursion_misses, 5u);
  EXPECT_EQ(r->summary->rescued, 4u);
  EXPECT_EQ(r->summary->malformed, 2u);
}

TEST(ReplayParseTest, NumericFamilyOfTcpfsm010StillParses) {
  json j = state_json();
  j["family"] = 4;
  auto r = parse_capture_line(j.dump());
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_EQ(r->event->family, AF_INET);
}

TEST(ReplayParseTest, BadStateNameIsAnError) {
  for (const char* key : {"old", "new"}) {
    for (const char* bad : {"FOO", "", "UNKNOWN", "ESTABLISHEDX", "7"}) {
      json j = state_json();
      j[key] = bad;
      EXPECT_THAT(error_of(j.dump()), HasSubstr(key)) << key << "=" << bad;
    }
  }
  json t = timewait_json();
  t["substate"] = "HALF_OPEN";
  EXPECT_THAT(error_of(t.dump()), HasSubstr("substate"));
}

TEST(ReplayParseTest, StateNamesAcceptEitherSpelling) {
  json j = state_json();
  j["old"] = "syn_sent";
  j["new"] = "established";
  auto r = parse_capture_line(j.dump());
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_EQ(r->event->oldstate, TCPFSM_SYN_SENT);
  EXPECT_EQ(r->event->newstate, TCPFSM_ESTABLISHED);
}

TEST(ReplayParseTest, BadFamilyIsAnError) {
  for (int fam : {0, 2, 5, 10, 46}) {
    json j = state_json();
    j["family"] = fam;
    EXPECT_THAT(error_of(j.dump()), HasSubstr("family")) << fam;
  }
  json t = timewait_json();
  t["family"] = 10;  // AF_INET6 as a number: the capture says 6
  EXPECT_THAT(error_of(t.dump()), HasSubstr("family"));
}

TEST(ReplayParseTest, BadAddressIsAnError) {
  const std::vector<std::pair<const char*, const char*>> cases = {
      {"saddr", "1.2.3"},       {"saddr", "256.0.0.1"}, {"daddr", "::1"},  // IPv6 in an IPv4 record
      {"daddr", "example.com"}, {"saddr", ""},          {"daddr", "10.0.0.1 "},
  };
  for (const auto& [key, bad] : cases) {
    json j = state_json();
    j[key] = bad;
    EXPECT_THAT(error_of(j.dump()), HasSubstr(key)) << key << "=" << bad;
  }
  json v6 = json::parse(line_of(sample_v6()));
  v6["saddr"] = "10.0.0.1";  // IPv4 text in an IPv6 record
  EXPECT_THAT(error_of(v6.dump()), HasSubstr("saddr"));
  v6 = json::parse(line_of(sample_v6()));
  v6["daddr"] = "2001:db8:::2";
  EXPECT_THAT(error_of(v6.dump()), HasSubstr("daddr"));
}

TEST(ReplayParseTest, CommTooLongIsAnError) {
  json j = state_json();
  j["comm"] = "sixteen-chars!!!";
  EXPECT_THAT(error_of(j.dump()), HasSubstr("comm"));
  j["comm"] = "fifteen-chars!!";
  auto r = parse_capture_line(j.dump());
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_EQ(r->event->comm_view(), "fifteen-chars!!");
}

TEST(ReplayParseTest, UnknownTypeIsAnError) {
  for (const char* type : {"bogus", "", "State", "stats"}) {
    json j = state_json();
    j["type"] = type;
    EXPECT_THAT(error_of(j.dump()), HasSubstr("type")) << type;
  }
  error_of(R"({"hello":"world"})");
  error_of("{}");
}

// ---- whole captures ----

class Collector : public EventSink {
 public:
  void on_event(const Event& e) override { events.push_back(e); }
  std::vector<Event> events;
};

class ReplayCaptureTest : public ::testing::Test {
 protected:
  void SetUp() override {
    path_ = ::testing::TempDir() + "tcpfsm_replay_" + std::to_string(getpid()) + "_" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name() + ".jsonl";
  }
  void TearDown() override { std::remove(path_.c_str()); }
  void write(const std::string& content) {
    std::ofstream f(path_, std::ios::trunc);
    f << content;
    ASSERT_TRUE(f.good());
  }
  std::string path_;
};

Event with(Event e, uint64_t ts, uint8_t from, uint8_t to) {
  e.ts_ns = ts;
  e.oldstate = from;
  e.newstate = to;
  return e;
}

TEST_F(ReplayCaptureTest, FeedsEventsInOrderAndReturnsSummary) {
  const Event a = with(sample_v4(), 1'000, TCPFSM_CLOSE, TCPFSM_SYN_SENT);
  const Event b = with(sample_v4(), 2'000, TCPFSM_SYN_SENT, TCPFSM_ESTABLISHED);
  const Event c = timewait_v6(EventKind::TwStart, TCPFSM_TIME_WAIT);
  const Event d = timewait_v6(EventKind::TwExpire, TCPFSM_TIME_WAIT);
  RunCounters sum;
  sum.events = 4;
  sum.ringbuf_drops = 7;
  sum.recursion_misses = 5;
  sum.rescued = 2;
  sum.malformed = 1;
  write(line_of(a) + "\n" + line_of(b) + "\n\n" + line_of(c) + "\n" + line_of(d) + "\n" + summary_json(sum));
  Collector sink;
  auto r = replay_capture(path_, sink);
  ASSERT_TRUE(r.ok()) << r.error().message;
  ASSERT_EQ(sink.events.size(), 4u);
  expect_same(sink.events[0], a);
  expect_same(sink.events[1], b);
  expect_same(sink.events[2], c);
  expect_same(sink.events[3], d);
  EXPECT_EQ(r->events, 4u);
  EXPECT_EQ(r->ringbuf_drops, 7u);
  EXPECT_EQ(r->recursion_misses, 5u);
  EXPECT_EQ(r->rescued, 2u);
  EXPECT_EQ(r->malformed, 1u);
}

TEST_F(ReplayCaptureTest, SummaryCountersWinOverCounted) {
  RunCounters sum;
  sum.events = 1000;  // the capture's own number, even if lines were cut
  sum.ringbuf_drops = 12;
  write(line_of(sample_v4()) + "\n" + summary_json(sum));
  Collector sink;
  auto r = replay_capture(path_, sink);
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_EQ(sink.events.size(), 1u);
  EXPECT_EQ(r->events, 1000u);
  EXPECT_EQ(r->ringbuf_drops, 12u);
}

TEST_F(ReplayCaptureTest, WithoutSummaryCountsEvents) {
  write(line_of(sample_v4()) + "\n" + line_of(sample_v6()) + "\n\n" +
        line_of(timewait_v4(EventKind::TwCancel, TCPFSM_TIME_WAIT)));  // no final newline
  Collector sink;
  auto r = replay_capture(path_, sink);
  ASSERT_TRUE(r.ok()) << r.error().message;
  ASSERT_EQ(sink.events.size(), 3u);
  expect_same(sink.events[0], sample_v4());
  expect_same(sink.events[1], sample_v6());
  EXPECT_EQ(sink.events[2].kind, EventKind::TwCancel);
  EXPECT_EQ(r->events, 3u);
  EXPECT_EQ(r->ringbuf_drops, 0u);
  EXPECT_EQ(r->recursion_misses, 0u);
  EXPECT_EQ(r->rescued, 0u);
  EXPECT_EQ(r->malformed, 0u);
}

TEST_F(ReplayCaptureTest, EmptyFile) {
  write("");
  Collector sink;
  auto r = replay_capture(path_, sink);
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_TRUE(sink.events.empty());
  EXPECT_EQ(r->events, 0u);
}

TEST_F(ReplayCaptureTest, BadLineReportsPathAndLineNumber) {
  write(line_of(sample_v4()) + "\n\n" + "{\"type\":\"state\",\"oops\":1}\n" + line_of(sample_v6()) + "\n");
  Collector sink;
  auto r = replay_capture(path_, sink);
  ASSERT_FALSE(r.ok());
  EXPECT_THAT(r.error().message, StartsWith(path_ + ":3:"));
  EXPECT_EQ(r.error().message.find('\n'), std::string::npos);
  // Lines before the bad one were delivered, none after.
  ASSERT_EQ(sink.events.size(), 1u);
  expect_same(sink.events[0], sample_v4());
}

TEST_F(ReplayCaptureTest, GarbageFirstLine) {
  write(std::string("garbage\n") + line_of(sample_v4()) + "\n");
  Collector sink;
  auto r = replay_capture(path_, sink);
  ASSERT_FALSE(r.ok());
  EXPECT_THAT(r.error().message, StartsWith(path_ + ":1:"));
  EXPECT_TRUE(sink.events.empty());
}

TEST_F(ReplayCaptureTest, MissingFileIsAnError) {
  Collector sink;
  std::string missing = path_ + ".does-not-exist";
  auto r = replay_capture(missing, sink);
  ASSERT_FALSE(r.ok());
  EXPECT_THAT(r.error().message, HasSubstr(missing));
  EXPECT_TRUE(sink.events.empty());
}

// A directory opens like a file but reads nothing: that is not an empty
// capture, it is the wrong path.
TEST_F(ReplayCaptureTest, DirectoryIsAnError) {
  Collector sink;
  std::string dir = ::testing::TempDir();
  auto r = replay_capture(dir, sink);
  EXPECT_FALSE(r.ok()) << "replayed a directory as an empty capture: " << r->events << " events";
  if (!r.ok()) {
    EXPECT_THAT(r.error().message, HasSubstr(dir));
  }
  EXPECT_TRUE(sink.events.empty());
}

}  // namespace
}  // namespace tcpfsm
