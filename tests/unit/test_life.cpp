// LifeTracker and the life views, from records built by hand: the path and
// its times, who closed first, the owner, the bytes the application moved,
// the TIME_WAIT follow-up and what the bound drops.
#include <gtest/gtest.h>
#include <sys/socket.h>

#include <nlohmann/json.hpp>

#include "account/life.hpp"
#include "views/life_view.hpp"

namespace tcpfsm {
namespace {

struct Collected : LifeSink {
  void on_life(const ConnectionLife& l) override { lives.push_back(l); }
  void on_timewait(const TimewaitFollowUp& f) override { tws.push_back(f); }
  std::vector<ConnectionLife> lives;
  std::vector<TimewaitFollowUp> tws;
};

Event state(uint64_t cookie, uint8_t from, uint8_t to, uint64_t ts, std::optional<uint64_t> prev = std::nullopt,
            uint32_t pid = 0) {
  Event e;
  e.kind = EventKind::State;
  e.cookie = cookie;
  e.skaddr = 0xffff000000000000 | cookie;
  e.family = AF_INET;
  e.saddr = {127, 0, 0, 1};
  e.daddr = {127, 0, 0, 1};
  e.sport = 40000;
  e.dport = 80;
  e.oldstate = from;
  e.newstate = to;
  e.ts_ns = ts;
  e.prev_ns = prev;
  e.pid = pid;
  e.owner = pid ? Owner::Task : Owner::None;
  if (pid) std::memcpy(e.comm.data(), "curl", 5);
  return e;
}

Event tw(uint64_t cookie, EventKind kind, uint64_t ts) {
  Event e = state(cookie, 0, TCPFSM_TIME_WAIT, ts);
  e.kind = kind;
  e.oldstate = 0;
  return e;
}

// A client that connects, sends 1000 bytes, receives 200 and closes first.
std::vector<Event> active_client(uint64_t cookie) {
  std::vector<Event> v = {state(cookie, TCPFSM_CLOSE, TCPFSM_SYN_SENT, 1'000, std::nullopt, 7),
                          state(cookie, TCPFSM_SYN_SENT, TCPFSM_ESTABLISHED, 85'000, 84'000),
                          state(cookie, TCPFSM_ESTABLISHED, TCPFSM_FIN_WAIT1, 1'200'085'000, 1'200'000'000, 7),
                          state(cookie, TCPFSM_FIN_WAIT1, TCPFSM_FIN_WAIT2, 1'200'195'000, 110'000),
                          tw(cookie, EventKind::TwStart, 1'203'195'000),
                          state(cookie, TCPFSM_FIN_WAIT2, TCPFSM_CLOSE, 1'203'195'100, 3'000'100)};
  Event& close = v.back();
  close.cause = TCPFSM_CAUSE_FIN;
  close.totals = {1000 + 2, 200 + 1, 4, 250};  // SYN and FIN acked, the peer's FIN received
  return v;
}

TEST(LifeTracker, AConnectionIsOneLineWithItsPathTimesOwnerAndBytes) {
  Collected got;
  LifeTracker t(got);
  for (const auto& e : active_client(5)) t.on_event(e);
  ASSERT_EQ(got.lives.size(), 1u);
  const ConnectionLife& l = got.lives[0];
  EXPECT_TRUE(l.start_known);
  EXPECT_EQ(l.start_ns, 1'000u);
  EXPECT_EQ(l.duration_ns(), 1'203'194'100u);
  ASSERT_EQ(l.path.size(), 4u);
  EXPECT_EQ(l.path[0].state, TCPFSM_SYN_SENT);
  EXPECT_EQ(l.path[0].ns, 84'000u);
  EXPECT_EQ(l.path[3].state, TCPFSM_FIN_WAIT2);
  EXPECT_EQ(l.closer, Closer::Active);
  EXPECT_TRUE(l.time_wait);
  // The close ran in softirq (no owner): the line names the last owner seen.
  EXPECT_EQ(l.close.pid, 7u);
  EXPECT_EQ(l.close.comm_view(), "curl");
  EXPECT_EQ(l.payload_sent(), 1000u);
  EXPECT_EQ(l.payload_received(), 200u);
  EXPECT_EQ(life_path_text(l), "SYN_SENT 84us > ESTABLISHED 1.2s > FIN_WAIT1 110us > FIN_WAIT2 3.00ms > TIME_WAIT");
  EXPECT_EQ(t.open(), 0u);
}

TEST(LifeTracker, ItsTimewaitEndFollowsByCookieOrIsReportedStillOpen) {
  Collected got;
  LifeTracker t(got);
  for (const auto& e : active_client(5)) t.on_event(e);
  for (const auto& e : active_client(6)) t.on_event(e);
  t.on_event(tw(5, EventKind::TwCancel, 61'000'000'000));
  t.on_event(tw(5, EventKind::TwExpire, 61'000'000'100));
  ASSERT_EQ(got.tws.size(), 1u);
  EXPECT_EQ(got.tws[0].cookie, 5u);
  EXPECT_FALSE(got.tws[0].still_open);
  EXPECT_EQ(got.tws[0].how, TimewaitEnd::Expired);
  t.finish();
  ASSERT_EQ(got.tws.size(), 2u);
  EXPECT_EQ(got.tws[1].cookie, 6u);
  EXPECT_TRUE(got.tws[1].still_open);
}

TEST(LifeTracker, PassiveCloseFailedConnectAndListener) {
  Collected got;
  LifeTracker t(got);
  // The server's end: the peer closed first.
  t.on_event(state(1, TCPFSM_LISTEN, TCPFSM_SYN_RECV, 10, std::nullopt, 9));
  t.on_event(state(1, TCPFSM_SYN_RECV, TCPFSM_ESTABLISHED, 20, 10));
  t.on_event(state(1, TCPFSM_ESTABLISHED, TCPFSM_CLOSE_WAIT, 30, 10));
  t.on_event(state(1, TCPFSM_CLOSE_WAIT, TCPFSM_LAST_ACK, 40, 10, 9));
  Event close = state(1, TCPFSM_LAST_ACK, TCPFSM_CLOSE, 50, 10);
  close.cause = TCPFSM_CAUSE_FIN;
  close.totals = {300 + 1, 1000 + 1, 0, 30};
  t.on_event(close);
  // A refused connect.
  t.on_event(state(2, TCPFSM_CLOSE, TCPFSM_SYN_SENT, 100, std::nullopt, 9));
  Event refused = state(2, TCPFSM_SYN_SENT, TCPFSM_CLOSE, 160, 60, 9);
  refused.cause = TCPFSM_CAUSE_REFUSED;
  t.on_event(refused);
  // A listener: not a connection.
  t.on_event(state(3, TCPFSM_CLOSE, TCPFSM_LISTEN, 100, std::nullopt, 9));
  t.on_event(state(3, TCPFSM_LISTEN, TCPFSM_CLOSE, 200, 100, 9));
  ASSERT_EQ(got.lives.size(), 2u);
  EXPECT_EQ(got.lives[0].closer, Closer::Passive);
  EXPECT_FALSE(got.lives[0].time_wait);
  EXPECT_EQ(got.lives[0].payload_sent(), 300u);  // no SYN of its own in bytes_acked
  EXPECT_EQ(got.lives[0].payload_received(), 1000u);
  EXPECT_EQ(got.lives[1].closer, Closer::None);
  EXPECT_EQ(got.lives[1].payload_sent(), 0u);
  EXPECT_EQ(life_path_text(got.lives[1]), "SYN_SENT 60ns");
}

TEST(LifeTracker, ASocketFirstSeenMidLifeSaysSo) {
  Collected got;
  LifeTracker t(got);
  t.on_event(state(4, TCPFSM_ESTABLISHED, TCPFSM_FIN_WAIT1, 5'000, std::nullopt, 3));
  Event close = state(4, TCPFSM_FIN_WAIT1, TCPFSM_CLOSE, 6'000, 1'000);
  close.cause = TCPFSM_CAUSE_RST_RECEIVED;
  t.on_event(close);
  ASSERT_EQ(got.lives.size(), 1u);
  const auto& l = got.lives[0];
  EXPECT_FALSE(l.start_known);
  EXPECT_EQ(l.path[0].ns, std::nullopt);  // its time in ESTABLISHED began before tcpfsm
  EXPECT_EQ(l.payload_sent(), std::nullopt);
  EXPECT_EQ(life_path_text(l), "ESTABLISHED ? > FIN_WAIT1 1us");
}

TEST(LifeTracker, TheBoundCountsWhatClosesUnfollowed) {
  Collected got;
  LifeTracker t(got, 1);
  t.on_event(state(1, TCPFSM_CLOSE, TCPFSM_SYN_SENT, 1, std::nullopt, 1));
  t.on_event(state(2, TCPFSM_CLOSE, TCPFSM_SYN_SENT, 2, std::nullopt, 1));  // no room
  t.on_event(state(2, TCPFSM_SYN_SENT, TCPFSM_CLOSE, 3, 1));
  t.on_event(state(1, TCPFSM_SYN_SENT, TCPFSM_CLOSE, 4, 3));
  EXPECT_EQ(got.lives.size(), 1u);
  EXPECT_EQ(t.untracked(), 1u);
}

TEST(LifeView, TextHasTcplifesColumnsThenTcpfsmsAndJsonEveryField) {
  Collected got;
  LifeTracker t(got);
  for (const auto& e : active_client(5)) t.on_event(e);
  ASSERT_EQ(got.lives.size(), 1u);
  LifeTextFormatter f({}, WallClock(0));
  const std::string h = f.header();
  EXPECT_EQ(h.find("PID"), 0u);
  for (const char* col : {"COMM", "LADDR", "LPORT", "RADDR", "RPORT", "TX_KB", "RX_KB", "MS", "CLOSER", "CAUSE",
                          "RETRANS", "SRTT_MS", "PATH"})
    EXPECT_NE(h.find(col), std::string::npos) << col;
  std::string line;
  f.append(line, got.lives[0]);
  EXPECT_EQ(line.substr(0, 13), "7       curl ");
  for (const char* part : {" 0.98 ", " 0.20 ", " 1203.19 ", " active ", " fin ", " 4 ", " 0.250 ", "> TIME_WAIT\n"})
    EXPECT_NE(line.find(part), std::string::npos) << part << " in " << line;

  std::string out;
  append_life_json(out, got.lives[0], WallClock(0));
  const auto j = nlohmann::json::parse(out);
  EXPECT_EQ(j["type"], "life");
  EXPECT_EQ(j["tx_bytes"], 1000);
  EXPECT_EQ(j["rx_bytes"], 200);
  EXPECT_EQ(j["bytes_acked"], 1002);
  EXPECT_EQ(j["duration_ns"], 1'203'194'100u);
  EXPECT_EQ(j["closer"], "active");
  EXPECT_EQ(j["cause"], "fin");
  EXPECT_EQ(j["path"][1]["state"], "ESTABLISHED");
  EXPECT_EQ(j["path"][1]["ns"], 1'200'000'000u);
  EXPECT_EQ(j["time_wait"], "pending");
  out.clear();
  append_timewait_json(out, {5, true, TimewaitEnd::Expired, 0, std::nullopt, 0}, WallClock(0));
  EXPECT_EQ(out, "{\"type\":\"time_wait\",\"cookie\":5,\"end\":\"still_open\"}\n");
}

}  // namespace
}  // namespace tcpfsm
