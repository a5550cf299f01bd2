// StatsView: the JSON object and the text table of `tcpfsm stats`, over a
// StateTable built from scripted events; human_duration.
// Over 400 lines: every key of the JSON object and every line of the text,
// over one scripted table.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sys/socket.h>

#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "account/state_table.hpp"
#include "base/duration.hpp"
#include "model/event.hpp"
#include "model/socket_record.hpp"
#include "views/stats_view.hpp"

namespace tcpfsm {
namespace {

using ::testing::HasSubstr;
using ::testing::StartsWith;
using json = nlohmann::json;

constexpr uint64_t kUs = 1'000;
constexpr uint64_t kMs = 1'000'000;
constexpr uint64_t kSec = 1'000'000'000;
constexpr uint32_t kNs = 4026531840u;

const std::vector<std::string> kShownNames = {"LISTEN",    "SYN_SENT",  "SYN_RECV",   "ESTABLISHED", "FIN_WAIT1",
                                              "FIN_WAIT2", "TIME_WAIT", "CLOSE_WAIT", "LAST_ACK",    "CLOSING"};

Event st(uint64_t cookie, uint64_t ts, uint8_t from, uint8_t to, std::optional<uint64_t> prev = std::nullopt,
         uint8_t family = AF_INET) {
  Event e;
  e.kind = EventKind::State;
  e.cookie = cookie;
  e.skaddr = 0xffff888000000000ULL + cookie * 0x1000;
  e.ts_ns = ts;
  e.oldstate = from;
  e.newstate = to;
  e.prev_ns = prev;
  e.family = family;
  e.netns = kNs;
  return e;
}

Event tw(EventKind kind, uint64_t cookie, uint64_t ts, uint8_t substate = TCPFSM_TIME_WAIT, uint8_t family = AF_INET) {
  Event e;
  e.kind = kind;
  e.cookie = cookie;
  e.skaddr = 0xffff8881f0000000ULL + cookie * 0x100;
  e.ts_ns = ts;
  e.newstate = substate;
  e.family = family;
  e.netns = kNs;
  return e;
}

constexpr uint64_t kT = 10 * kSec;

// A v4 client through TIME_WAIT (expired after 60 s), a v6 listener with one
// established child, and a timewait socket killed 1 s after its start.
void script(StateTable& t) {
  t.apply(st(1, kT, TCPFSM_CLOSE, TCPFSM_SYN_SENT));
  t.apply(st(1, kT + 1 * kMs, TCPFSM_SYN_SENT, TCPFSM_ESTABLISHED, 1 * kMs));
  t.apply(st(1, kT + 2 * kSec + 1 * kMs, TCPFSM_ESTABLISHED, TCPFSM_FIN_WAIT1, 2 * kSec));
  t.apply(st(1, kT + 2 * kSec + 11 * kMs, TCPFSM_FIN_WAIT1, TCPFSM_FIN_WAIT2, 10 * kMs));
  const uint64_t tw_start = kT + 2 * kSec + 31 * kMs;
  t.apply(tw(EventKind::TwStart, 1, tw_start));
  t.apply(st(1, tw_start, TCPFSM_FIN_WAIT2, TCPFSM_CLOSE, 20 * kMs));

  t.apply(st(2, kT, TCPFSM_CLOSE, TCPFSM_LISTEN, std::nullopt, AF_INET6));
  t.apply(st(3, kT + 1 * kSec, TCPFSM_LISTEN, TCPFSM_SYN_RECV, std::nullopt, AF_INET6));
  t.apply(st(3, kT + 1 * kSec + 500 * kUs, TCPFSM_SYN_RECV, TCPFSM_ESTABLISHED, 500 * kUs, AF_INET6));

  t.apply(tw(EventKind::TwStart, 4, kT));
  t.apply(tw(EventKind::TwCancel, 4, kT + 1 * kSec));

  t.apply(tw(EventKind::TwCancel, 1, tw_start + 60 * kSec));
  t.apply(tw(EventKind::TwExpire, 1, tw_start + 60 * kSec));
  t.settle(kT + 100 * kSec);
}

StatsContext context() {
  StatsContext c;
  c.counters.events = 123;
  c.counters.ringbuf_drops = 3;
  c.counters.recursion_misses = 10;
  c.counters.rescued = 4;
  c.now_ns = kT + 100 * kSec;
  c.interval_s = 0;
  c.last_drift = 2;
  c.total_drift = 5;
  c.reconciliations = 3;
  c.seeded = true;
  return c;
}

std::set<std::string> keys(const json& j) {
  std::set<std::string> out;
  for (const auto& [k, v] : j.items()) out.insert(k);
  return out;
}

const std::set<std::string> kHistKeys = {"count",  "min_ns", "mean_ns", "p50_ns",
                                         "p90_ns", "p99_ns", "max_ns",  "buckets"};

// A histogram object with one sample of `ns`, in the power-of-two bucket [le/2, le).
void expect_single_hist(const json& h, uint64_t ns, uint64_t le) {
  EXPECT_EQ(h.at("count"), 1u);
  for (const char* k : {"min_ns", "mean_ns", "p50_ns", "p90_ns", "p99_ns", "max_ns"}) EXPECT_EQ(h.at(k), ns) << k;
  const json& b = h.at("buckets");
  ASSERT_TRUE(b.is_array());
  ASSERT_EQ(b.size(), 36u);
  for (const auto& x : b) {
    uint64_t want = !x.at("le_ns").is_null() && x.at("le_ns").get<uint64_t>() == le ? 1 : 0;
    EXPECT_EQ(x.at("count"), want) << x.dump();
  }
}

void expect_empty_hist(const json& h) {
  for (const char* k : {"count", "min_ns", "mean_ns", "p50_ns", "p90_ns", "p99_ns", "max_ns"})
    EXPECT_EQ(h.at(k), 0u) << k;
  ASSERT_EQ(h.at("buckets").size(), 36u);
  for (const auto& x : h.at("buckets")) EXPECT_EQ(x.at("count"), 0u);
}

// ---- human_duration ----

TEST(HumanDurationTest, RepresentativeValues) {
  EXPECT_EQ(human_duration(0), "0ns");
  EXPECT_EQ(human_duration(7), "7ns");
  EXPECT_EQ(human_duration(999), "999ns");
  EXPECT_EQ(human_duration(1'000), "1us");
  EXPECT_EQ(human_duration(812'000), "812us");
  EXPECT_EQ(human_duration(812'400), "812us");
  EXPECT_EQ(human_duration(1'200'000), "1.20ms");
  EXPECT_EQ(human_duration(9'990'000), "9.99ms");
  EXPECT_EQ(human_duration(10'000'000), "10ms");
  EXPECT_EQ(human_duration(250'000'000), "250ms");
  EXPECT_EQ(human_duration(1'000'000'000), "1.0s");
  EXPECT_EQ(human_duration(60'000'000'000), "60.0s");
  EXPECT_EQ(human_duration(60'100'000'000), "60.1s");
  EXPECT_EQ(human_duration(99'900'000'000), "99.9s");
  EXPECT_EQ(human_duration(100'000'000'000), "1m40s");
  EXPECT_EQ(human_duration(123'000'000'000), "2m03s");
  EXPECT_EQ(human_duration(3'599'000'000'000), "59m59s");
  EXPECT_EQ(human_duration(3'600'000'000'000), "1h00m");
  EXPECT_EQ(human_duration(3'720'000'000'000), "1h02m");
  EXPECT_EQ(human_duration(90'000'000'000'000), "25h00m");
}

TEST(HumanDurationTest, HistogramJsonShape) {
  LifetimeHistogram h;
  h.record(3 * kMs);
  json j = histogram_json(h);
  EXPECT_EQ(keys(j), kHistKeys);
  expect_single_hist(j, 3 * kMs, uint64_t{1} << 22);
  EXPECT_TRUE(j.at("buckets").back().at("le_ns").is_null());
  EXPECT_EQ(j.at("buckets").front().at("le_ns"), 1024u);
}

TEST(HumanDurationTest, HistogramJsonQuantiles) {
  LifetimeHistogram h;
  for (uint64_t ms = 1; ms <= 100; ++ms) h.record(ms * kMs);
  json j = histogram_json(h);
  EXPECT_EQ(j.at("count"), 100u);
  EXPECT_EQ(j.at("min_ns"), 1 * kMs);
  EXPECT_EQ(j.at("max_ns"), 100 * kMs);
  EXPECT_EQ(j.at("mean_ns"), 50 * kMs + 500 * kUs);
  // Within half a sub-bucket (1/32) of the exact quantiles.
  EXPECT_NEAR(j.at("p50_ns").get<double>(), 50e6, 50e6 / 32);
  EXPECT_NEAR(j.at("p90_ns").get<double>(), 90e6, 90e6 / 32);
  EXPECT_NEAR(j.at("p99_ns").get<double>(), 99e6, 99e6 / 32);
  uint64_t n = 0;
  for (const auto& b : j.at("buckets")) n += b.at("count").get<uint64_t>();
  EXPECT_EQ(n, 100u);
}

// ---- json ----

TEST(StatsViewTest, JsonHasDocumentedKeysAndValues) {
  StateTable t;
  script(t);
  StatsView v;
  json j = v.json(t, context());

  EXPECT_EQ(j.at("type"), "stats");
  EXPECT_EQ(keys(j), (std::set<std::string>{"type",
                                            "states",
                                            "states_by_family",
                                            "transitions",
                                            "closes",
                                            "connects",
                                            "retransmits",
                                            "lifetimes",
                                            "rates",
                                            "preexisting",
                                            "timewait_ends",
                                            "events",
                                            "lost",
                                            "counters",
                                            "drift",
                                            "drift_total",
                                            "reconciliations",
                                            "resyncs",
                                            "tracked",
                                            "seeded",
                                            "stuck",
                                            "stuck_error",
                                            "stuck_owner_error",
                                            "stuck_failures",
                                            "counted_in"}));
  EXPECT_TRUE(j.at("stuck").is_null());  // no leak pass (replay, or none finished yet)
  EXPECT_TRUE(j.at("stuck_error").is_null());
  EXPECT_TRUE(j.at("stuck_owner_error").is_null());

  // Gauges: every shown state, by family too.
  const json& states = j.at("states");
  EXPECT_EQ(keys(states), std::set<std::string>(kShownNames.begin(), kShownNames.end()));
  for (const auto& name : kShownNames) {
    uint64_t want = name == "LISTEN" || name == "ESTABLISHED" ? 1 : 0;
    EXPECT_EQ(states.at(name), want) << name;
    EXPECT_EQ(j.at("states_by_family").at("ipv4").at(name), 0u) << name;
    EXPECT_EQ(j.at("states_by_family").at("ipv6").at(name), want) << name;
  }
  EXPECT_EQ(keys(j.at("states_by_family")), (std::set<std::string>{"ipv4", "ipv6"}));

  // Transitions: only those that happened, "FROM>TO".
  EXPECT_EQ(json::parse(j.dump()), j);  // the whole object serialises and parses back
}

TEST(StatsViewTest, JsonTransitionsAndLifetimes) {
  StateTable t;
  script(t);
  StatsView v;
  json j = v.json(t, context());
  EXPECT_EQ(j.at("transitions"), json({{"CLOSE>SYN_SENT", 1},
                                       {"SYN_SENT>ESTABLISHED", 1},
                                       {"ESTABLISHED>FIN_WAIT1", 1},
                                       {"FIN_WAIT1>FIN_WAIT2", 1},
                                       {"FIN_WAIT2>CLOSE", 1},
                                       {"CLOSE>LISTEN", 1},
                                       {"LISTEN>SYN_RECV", 1},
                                       {"SYN_RECV>ESTABLISHED", 1}}));

  // Lifetimes.
  const json& lt = j.at("lifetimes");
  EXPECT_EQ(keys(lt), std::set<std::string>(kShownNames.begin(), kShownNames.end()));
  for (const auto& name : kShownNames) {
    std::set<std::string> want = kHistKeys;
    if (name == "TIME_WAIT") want.insert({"expired", "killed"});
    if (name == "FIN_WAIT2") want.insert("timewait");
    EXPECT_EQ(keys(lt.at(name)), want) << name;
  }
  expect_single_hist(lt.at("SYN_SENT"), 1 * kMs, uint64_t{1} << 20);
  expect_single_hist(lt.at("ESTABLISHED"), 2 * kSec, uint64_t{1} << 31);
  expect_single_hist(lt.at("FIN_WAIT1"), 10 * kMs, uint64_t{1} << 24);
  expect_single_hist(lt.at("FIN_WAIT2"), 20 * kMs, uint64_t{1} << 25);
  expect_single_hist(lt.at("SYN_RECV"), 500 * kUs, uint64_t{1} << 19);
  expect_empty_hist(lt.at("LISTEN"));
  expect_empty_hist(lt.at("CLOSE_WAIT"));
  expect_empty_hist(lt.at("FIN_WAIT2").at("timewait"));

  const json& twl = lt.at("TIME_WAIT");
  EXPECT_EQ(twl.at("count"), 2u);
  EXPECT_EQ(twl.at("min_ns"), 1 * kSec);
  EXPECT_EQ(twl.at("max_ns"), 60 * kSec);
  EXPECT_EQ(twl.at("mean_ns"), 30 * kSec + 500 * kMs);
  EXPECT_NEAR(twl.at("p50_ns").get<double>(), 1e9, 1e9 / 32);
  EXPECT_NEAR(twl.at("p99_ns").get<double>(), 60e9, 60e9 / 32);
  EXPECT_EQ(keys(twl.at("expired")), kHistKeys);
  EXPECT_EQ(keys(twl.at("killed")), kHistKeys);
  expect_single_hist(twl.at("expired"), 60 * kSec, uint64_t{1} << 36);
  expect_single_hist(twl.at("killed"), 1 * kSec, uint64_t{1} << 30);
  uint64_t in_buckets = 0;
  for (const auto& b : twl.at("buckets")) in_buckets += b.at("count").get<uint64_t>();
  EXPECT_EQ(in_buckets, 2u);

  EXPECT_EQ(j.at("timewait_ends"), json({{"expired", 1}, {"killed", 1}}));
}

TEST(StatsViewTest, JsonCountersLossesAndFirstRates) {
  StateTable t;
  script(t);
  StatsView v;
  json j = v.json(t, context());
  // Counters and losses.
  EXPECT_EQ(j.at("events"), 123u);
  EXPECT_EQ(j.at("lost"), json({{"total", 9}, {"ringbuf", 3}, {"recursion", 6}, {"uncounted", 0}}));
  EXPECT_EQ(j.at("counters").size(), kRunCounters.size());
  EXPECT_EQ(j.at("drift"), 2u);
  EXPECT_EQ(j.at("drift_total"), 5u);
  EXPECT_EQ(j.at("reconciliations"), 3u);
  EXPECT_EQ(j.at("resyncs"), 0u);
  EXPECT_EQ(j.at("tracked"), 2u);
  EXPECT_EQ(j.at("seeded"), true);
  EXPECT_TRUE(j.at("preexisting").is_object());
  EXPECT_TRUE(j.at("preexisting").empty());

  // First report: no rates yet.
  EXPECT_EQ(keys(j.at("rates")), std::set<std::string>(kShownNames.begin(), kShownNames.end()));
  for (const auto& name : kShownNames) {
    EXPECT_EQ(j.at("rates").at(name), json({{"entered_per_s", 0.0}, {"left_per_s", 0.0}})) << name;
  }
}

TEST(StatsViewTest, JsonRatesSincePreviousReport) {
  StateTable t;
  script(t);
  StatsView v;
  StatsContext c = context();
  (void)v.json(t, c);

  t.apply(st(6, kT + 200 * kSec, TCPFSM_CLOSE, TCPFSM_SYN_SENT));
  t.apply(st(6, kT + 200 * kSec + 2 * kMs, TCPFSM_SYN_SENT, TCPFSM_ESTABLISHED, 2 * kMs));
  t.apply(st(7, kT + 200 * kSec, TCPFSM_CLOSE, TCPFSM_SYN_SENT));
  c.interval_s = 2.0;
  json j = v.json(t, c);
  const json& r = j.at("rates");
  EXPECT_DOUBLE_EQ(r.at("SYN_SENT").at("entered_per_s").get<double>(), 1.0);
  EXPECT_DOUBLE_EQ(r.at("SYN_SENT").at("left_per_s").get<double>(), 0.5);
  EXPECT_DOUBLE_EQ(r.at("ESTABLISHED").at("entered_per_s").get<double>(), 0.5);
  EXPECT_DOUBLE_EQ(r.at("ESTABLISHED").at("left_per_s").get<double>(), 0.0);
  EXPECT_DOUBLE_EQ(r.at("LISTEN").at("entered_per_s").get<double>(), 0.0);
  EXPECT_DOUBLE_EQ(r.at("TIME_WAIT").at("entered_per_s").get<double>(), 0.0);
  EXPECT_EQ(j.at("states").at("SYN_SENT"), 1u);
  EXPECT_EQ(j.at("states").at("ESTABLISHED"), 2u);
  EXPECT_EQ(j.at("states_by_family").at("ipv4").at("ESTABLISHED"), 1u);
  EXPECT_EQ(j.at("states_by_family").at("ipv6").at("ESTABLISHED"), 1u);
  EXPECT_EQ(j.at("states_by_family").at("ipv4").at("SYN_SENT"), 1u);
  EXPECT_EQ(j.at("states_by_family").at("ipv6").at("SYN_SENT"), 0u);
  EXPECT_EQ(j.at("states_by_family").at("ipv4").at("LISTEN"), 0u);
  EXPECT_EQ(j.at("states_by_family").at("ipv6").at("LISTEN"), 1u);
  EXPECT_EQ(j.at("transitions").at("SYN_SENT>ESTABLISHED"), 2u);
  EXPECT_EQ(j.at("transitions").at("CLOSE>SYN_SENT"), 3u);
  EXPECT_EQ(j.at("lifetimes").at("SYN_SENT").at("count"), 2u);
  EXPECT_EQ(j.at("lifetimes").at("SYN_SENT").at("max_ns"), 2 * kMs);

  // Nothing new since: zero again.
  c.interval_s = 5.0;
  json k = v.json(t, c);
  EXPECT_DOUBLE_EQ(k.at("rates").at("SYN_SENT").at("entered_per_s").get<double>(), 0.0);
  EXPECT_DOUBLE_EQ(k.at("rates").at("ESTABLISHED").at("entered_per_s").get<double>(), 0.0);
}

TEST(StatsViewTest, JsonPreexistingFromDump) {
  StateTable t;
  const uint64_t s = 100 * kSec;
  std::vector<SocketRecord> dump(3);
  dump[0].family = dump[1].family = dump[2].family = AF_INET;
  dump[0].netns = dump[1].netns = dump[2].netns = kNs;
  dump[0].cookie = 1;
  dump[0].state = TCPFSM_ESTABLISHED;
  dump[1].cookie = 2;
  dump[1].state = TCPFSM_ESTABLISHED;
  dump[2].cookie = 3;
  dump[2].state = TCPFSM_TIME_WAIT;
  dump[2].timewait = true;
  t.begin_dump(s);
  auto r = t.reconcile(dump, {kNs}, s);
  EXPECT_EQ(r.added, 3u);

  StatsView v;
  StatsContext c;
  c.now_ns = s + 7 * kSec;
  c.seeded = true;
  json j = v.json(t, c);
  EXPECT_EQ(j.at("preexisting"), json({{"ESTABLISHED", {{"count", 2}, {"min_age_ns", 7 * kSec}}},
                                       {"TIME_WAIT", {{"count", 1}, {"min_age_ns", 7 * kSec}}}}));
  EXPECT_EQ(j.at("states").at("ESTABLISHED"), 2u);
  EXPECT_EQ(j.at("states").at("TIME_WAIT"), 1u);
  EXPECT_EQ(j.at("tracked"), 3u);
  EXPECT_EQ(j.at("transitions"), json::object());
  EXPECT_EQ(j.at("seeded"), true);

  std::string text = v.text(t, c);
  EXPECT_THAT(text, HasSubstr("2 for >= 7.0s"));
  EXPECT_THAT(text, HasSubstr("1 for >= 7.0s"));
}

TEST(StatsViewTest, JsonFinWait2Timewait) {
  StateTable t;
  t.apply(tw(EventKind::TwStart, 5, kT, TCPFSM_FIN_WAIT2));
  t.apply(tw(EventKind::TwSubstate, 5, kT + 3 * kSec, TCPFSM_TIME_WAIT));
  StatsView v;
  StatsContext c;
  json j = v.json(t, c);
  expect_single_hist(j.at("lifetimes").at("FIN_WAIT2").at("timewait"), 3 * kSec, uint64_t{1} << 32);
  EXPECT_EQ(j.at("lifetimes").at("FIN_WAIT2").at("count"), 0u);
  EXPECT_EQ(j.at("states").at("TIME_WAIT"), 1u);
  EXPECT_EQ(j.at("states").at("FIN_WAIT2"), 0u);

  std::string text = v.text(t, c);
  EXPECT_THAT(text, HasSubstr("orphaned FIN_WAIT2 (timewait): 1 ended, p50 3.0s, max 3.0s"));
}

// ---- text ----

struct Row {
  std::vector<std::string> words;
};

// The table row of `state`: the first line that starts with its name and a number.
std::optional<Row> row_of(const std::string& text, const std::string& state) {
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line)) {
    std::istringstream ls(line);
    Row r;
    for (std::string w; ls >> w;) r.words.push_back(w);
    if (r.words.size() >= 8 && r.words[0] == state && r.words[1].find_first_not_of("0123456789") == std::string::npos)
      return r;
  }
  return std::nullopt;
}

TEST(StatsViewTest, TextHasARowPerStateWithNowCount) {
  StateTable t;
  script(t);
  StatsView v;
  std::string text = v.text(t, context());
  EXPECT_THAT(text, StartsWith("STATE"));
  EXPECT_THAT(text.substr(0, text.find('\n')), HasSubstr("NOW"));

  for (const auto& name : kShownNames) {
    auto row = row_of(text, name);
    ASSERT_TRUE(row.has_value()) << name << "\n" << text;
    std::string want = name == "LISTEN" || name == "ESTABLISHED" ? "1" : "0";
    EXPECT_EQ(row->words[1], want) << name;
    EXPECT_EQ(row->words[2], "0.0") << name;  // ENTERED/s on the first report
    EXPECT_EQ(row->words[3], "0.0") << name;  // LEFT/s
  }
  // Rows in the order people read them.
  std::vector<size_t> pos;
  for (const auto& name : kShownNames) pos.push_back(text.find("\n" + name + " "));
  for (size_t i = 1; i < pos.size(); ++i) EXPECT_LT(pos[i - 1], pos[i]) << kShownNames[i];

  // Lifetime columns: N, P50, P99, MAX.
  auto est = row_of(text, "ESTABLISHED");
  ASSERT_TRUE(est.has_value());
  EXPECT_EQ(est->words[4], "1");
  EXPECT_EQ(est->words[5], "2.0s");
  EXPECT_EQ(est->words[6], "2.0s");
  EXPECT_EQ(est->words[7], "2.0s");
  auto syn = row_of(text, "SYN_SENT");
  ASSERT_TRUE(syn.has_value());
  EXPECT_EQ(syn->words[4], "1");
  EXPECT_EQ(syn->words[5], "1.00ms");
  auto listen = row_of(text, "LISTEN");
  ASSERT_TRUE(listen.has_value());
  EXPECT_EQ(listen->words[4], "0");
  EXPECT_EQ(listen->words[5], "-");
  EXPECT_EQ(listen->words[6], "-");
  EXPECT_EQ(listen->words[7], "-");
  auto tw_row = row_of(text, "TIME_WAIT");
  ASSERT_TRUE(tw_row.has_value());
  EXPECT_EQ(tw_row->words[1], "0");
  EXPECT_EQ(tw_row->words[4], "2");
  EXPECT_EQ(tw_row->words[7], "60.0s");

  EXPECT_THAT(text, HasSubstr("TIME_WAIT ended: 1 expired (p50 60.0s, max 60.0s), 1 killed early (p50 1.0s)"));
  EXPECT_THAT(
      text,
      HasSubstr(
          "events 123, lost 9 (ring buffer 3, recursion 6, uncounted 0); drift 2 at last reconciliation (5 in 3)"));
  EXPECT_THAT(text, ::testing::Not(HasSubstr("orphaned FIN_WAIT2")));

  // Counting in the kernel there is no ring buffer to lose records from.
  StatsContext k = context();
  k.counted_in_kernel = true;
  k.counters.ringbuf_drops = 0;
  k.counters.uncounted = 2;
  EXPECT_THAT(StatsView().text(t, k),
              HasSubstr("transitions 123 (counted in the kernel), lost 8 (recursion 6, uncounted 2); drift 2"));
}

TEST(StatsViewTest, TextRatesSincePreviousReport) {
  StateTable t;
  StatsView v;
  StatsContext c;
  (void)v.text(t, c);
  for (uint64_t i = 0; i < 4; ++i) {
    t.apply(st(100 + i, kT, TCPFSM_CLOSE, TCPFSM_SYN_SENT));
    t.apply(st(100 + i, kT + kMs, TCPFSM_SYN_SENT, TCPFSM_ESTABLISHED, kMs));
  }
  c.interval_s = 2.0;
  std::string text = v.text(t, c);
  auto est = row_of(text, "ESTABLISHED");
  ASSERT_TRUE(est.has_value());
  EXPECT_EQ(est->words[1], "4");
  EXPECT_EQ(est->words[2], "2.0");
  EXPECT_EQ(est->words[3], "0.0");
  auto syn = row_of(text, "SYN_SENT");
  ASSERT_TRUE(syn.has_value());
  EXPECT_EQ(syn->words[1], "0");
  EXPECT_EQ(syn->words[2], "2.0");
  EXPECT_EQ(syn->words[3], "2.0");
}

// Every counter of a run reaches both views (tcpfsm 0.1.0's text left out
// timewait_substate_untracked and timer_recursion_misses).
TEST(StatsViewTest, EveryRunCounterReachesTextAndJson) {
  StateTable t;
  StatsContext c;
  uint64_t v = 1001;
  for (const auto& f : kRunCounters) c.counters.*f.member = v++;
  StatsView view;
  const std::string text = view.text(t, c);
  const json j = view.json(t, c);
  for (const auto& f : kRunCounters) {
    const uint64_t want = c.counters.*f.member;
    EXPECT_THAT(text, HasSubstr(std::to_string(want))) << f.name;
    EXPECT_EQ(j.at("counters").at(std::string(f.name)), want) << f.name;
  }
}

// A failing stuck-socket pass is said, with the age of the report still shown.
TEST(StatsViewTest, StuckPassFailureIsShown) {
  StateTable t;
  StatsContext c;
  c.stuck = LeakReport{};
  c.stuck->owner_error = "cannot read /proc to find the processes holding sockets: Permission denied";
  c.stuck_age_ns = 12 * kSec;
  c.stuck_error = "cannot open a NETLINK_SOCK_DIAG socket: Too many open files";
  c.stuck_failures = 3;
  StatsView view;
  const std::string text = view.text(t, c);
  EXPECT_THAT(text, HasSubstr("stuck: the last pass failed (3 failures so far): cannot open a NETLINK_SOCK_DIAG"));
  EXPECT_THAT(text, HasSubstr("the report above is 12.0s old"));
  EXPECT_THAT(text, HasSubstr("stuck: cannot read /proc"));
  const json j = view.json(t, c);
  EXPECT_EQ(j.at("stuck_error"), c.stuck_error);
  EXPECT_EQ(j.at("stuck_owner_error"), c.stuck->owner_error);
  EXPECT_EQ(j.at("stuck_failures"), 3u);
}

// Each close counted under (from state, cause), most frequent cause first.
TEST(StatsViewTest, ClosedByBlockAndJsonCountEachCause) {
  StateTable t;
  uint64_t cookie = 100;
  auto close = [&](uint8_t from, uint8_t cause, int times) {
    for (int i = 0; i < times; ++i) {
      Event e = st(++cookie, kT, from, TCPFSM_CLOSE);
      e.cause = cause;
      t.apply(e);
    }
  };
  close(TCPFSM_ESTABLISHED, TCPFSM_CAUSE_RST_RECEIVED, 2);
  close(TCPFSM_ESTABLISHED, TCPFSM_CAUSE_RST_ABORT_ON_CLOSE, 3);
  close(TCPFSM_SYN_SENT, TCPFSM_CAUSE_REFUSED, 1);
  close(TCPFSM_LAST_ACK, TCPFSM_CAUSE_FIN, 4);
  StatsContext c;
  c.retransmits.emplace();
  (*c.retransmits)[TCPFSM_ESTABLISHED] = 7;
  (*c.retransmits)[TCPFSM_SYN_SENT] = 2;
  StatsView v;
  const std::string text = v.text(t, c);
  EXPECT_THAT(text, HasSubstr("closed by (from state: total, then each cause):\n"
                              "  SYN_SENT            1  refused 1\n"
                              "  ESTABLISHED         5  rst_sent:abort_on_close 3, rst_received 2\n"
                              "  LAST_ACK            4  fin 4\n"));
  EXPECT_THAT(text, HasSubstr("retransmitted segments: SYN_SENT 2, ESTABLISHED 7\n"));
  EXPECT_THAT(text, HasSubstr("connects: 0 attempted, 0 established, 1 failed (refused 1), 2 SYNs retransmitted\n"));
  const json j = v.json(t, c);
  EXPECT_EQ(j.at("closes"), json::parse(R"({"SYN_SENT": {"refused": 1},
      "ESTABLISHED": {"rst_sent:abort_on_close": 3, "rst_received": 2}, "LAST_ACK": {"fin": 4}})"));
  EXPECT_EQ(j.at("retransmits").at("ESTABLISHED"), 7);
  json connects = j.at("connects");
  EXPECT_EQ(connects.at("latency").at("count"), 0);  // nothing established
  connects.erase("latency");
  EXPECT_EQ(connects, json::parse(R"({"attempted": 0, "established": 0, "failed": {"refused": 1},
      "syn_retransmits": 2})"));
  EXPECT_EQ(j.at("retransmits").at("LISTEN"), 0);
  EXPECT_TRUE(StatsView().json(t, StatsContext{}).at("retransmits").is_null());  // a replay has none
}

// The connects line says how long the successes took, from their SYN_SENT
// alone: the refused connect's 40 us is not a latency.
TEST(StatsViewTest, ConnectsLineGivesTheLatencyOfTheSuccesses) {
  StateTable t;
  uint64_t cookie = 0;
  for (uint64_t ms : {2, 4, 9}) {
    t.apply(st(++cookie, kT, TCPFSM_CLOSE, TCPFSM_SYN_SENT));
    Event e = st(cookie, kT + ms * 1'000'000, TCPFSM_SYN_SENT, TCPFSM_ESTABLISHED);
    e.prev_ns = ms * 1'000'000;
    t.apply(e);
  }
  t.apply(st(++cookie, kT, TCPFSM_CLOSE, TCPFSM_SYN_SENT));
  Event refused = st(cookie, kT + 40'000, TCPFSM_SYN_SENT, TCPFSM_CLOSE);
  refused.prev_ns = 40'000;
  refused.cause = TCPFSM_CAUSE_REFUSED;
  t.apply(refused);
  StatsView v;
  const std::string text = v.text(t, StatsContext{});
  EXPECT_THAT(text, HasSubstr("connects: 4 attempted, 3 established, 1 failed (refused 1); established in p50 "));
  EXPECT_THAT(text, HasSubstr(", max 9.00ms\n")) << text;
  const json lat = v.json(t, StatsContext{}).at("connects").at("latency");
  EXPECT_EQ(lat.at("count"), 3);
  EXPECT_EQ(lat.at("min_ns"), 2'000'000);
  EXPECT_EQ(lat.at("max_ns"), 9'000'000);
}

TEST(StatsViewTest, EmptyTableText) {
  StateTable t;
  StatsView v;
  std::string text = v.text(t, StatsContext{});
  for (const auto& name : kShownNames) {
    auto row = row_of(text, name);
    ASSERT_TRUE(row.has_value()) << name;
    EXPECT_EQ(row->words[1], "0");
  }
  EXPECT_THAT(text, HasSubstr("TIME_WAIT ended: 0 expired (p50 -, max -), 0 killed early (p50 -)"));
  EXPECT_THAT(text, HasSubstr("events 0, lost 0 (ring buffer 0, recursion 0, uncounted 0)"));
  EXPECT_THAT(text, HasSubstr("closed by: no socket has closed yet\n"));
}

}  // namespace
}  // namespace tcpfsm

namespace tcpfsm {
namespace {

LeakReport stuck_report(size_t holders) {
  LeakReport r;
  for (size_t i = 0; i < holders; ++i) {
    LeakGroup g;
    g.state = i % 2 ? TCPFSM_FIN_WAIT2 : TCPFSM_CLOSE_WAIT;
    g.count = 10 + i;  // later ones are worse
    g.oldest_ns = 90'000'000'000ULL;
    if (i == 0) {
      g.kind = HolderKind::Orphaned;
    } else {
      ProcessInfo p;
      p.pid = static_cast<uint32_t>(1000 + i);
      p.comm = "leaker" + std::to_string(i);
      g.process = p;
    }
    r.groups.push_back(g);
  }
  return r;
}

TEST(StatsViewStuck, TextShowsTheWorstHoldersBounded) {
  StateTable t;
  StatsView v;
  StatsContext c;
  c.stuck_min_age_ns = 10'000'000'000ULL;
  c.stuck = stuck_report(8);
  const std::string text = v.text(t, c);
  EXPECT_NE(text.find("stuck (held over 10.0s"), std::string::npos) << text;
  EXPECT_NE(text.find("pid 1007 leaker7"), std::string::npos);
  EXPECT_LT(text.find("leaker7"), text.find("leaker6"));
  EXPECT_EQ(text.find("leaker2"), std::string::npos);  // beyond the top 5
  EXPECT_NE(text.find("... 3 more holders"), std::string::npos);
  c.stuck = LeakReport{};
  EXPECT_NE(v.text(t, c).find("stuck: no socket held"), std::string::npos);
}

TEST(StatsViewStuck, JsonCarriesAtMostTwentyGroupsWorstFirst) {
  StateTable t;
  StatsView v;
  StatsContext c;
  c.stuck = stuck_report(30);
  json j = v.json(t, c);
  ASSERT_EQ(j.at("stuck").size(), kStuckShownJson);
  EXPECT_EQ(j.at("stuck")[0].at("pid"), 1029);
  EXPECT_EQ(j.at("stuck")[0].at("count"), 39);
  EXPECT_EQ(j.at("stuck")[0].at("state"), "FIN_WAIT2");
}

}  // namespace
}  // namespace tcpfsm
