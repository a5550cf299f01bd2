// tcpfsm stats against the real kernel: lifetimes of real connections,
// gauges against ss, TIME_WAIT from its timer, netns teardown.
#include <fcntl.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sched.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <thread>

#include "account/kernel_reconcile.hpp"
#include "account/kernel_table.hpp"
#include "account/state_table.hpp"
#include "base/clock.hpp"
#include "collect/sock_diag.hpp"
#include "collect/socket_source.hpp"
#include "harness.hpp"
#include "model/event.hpp"
#include "model/tcp_state.hpp"

namespace tcpfsm::test {
namespace {

using namespace std::chrono_literals;

// The live tables as `tcpfsm stats` keeps them: counted in the kernel
// (KernelTable, the default), or from a record per transition (StateTable,
// --records).
class LiveStats : public EventSink {
 public:
  explicit LiveStats(bool kernel, FilterSpec filter = {})
      : kernel_(kernel), netns_(filter.netns ? filter.netns : self_netns()) {
    TracerOptions o;
    o.filter = filter;
    // Both engines see this test's namespace only: other traffic on the host
    // (another test's TIME_WAIT expiring, a fuzzer's loopback server) is not
    // this test's.
    o.filter.netns = netns_;
    o.mode = kernel ? TracerOptions::Mode::Aggregate : TracerOptions::Mode::Events;
    filter_ = o.filter;
    auto t = Tracer::start(o);
    EXPECT_TRUE(t) << t.error().message;
    if (t) tracer_ = std::move(*t);
  }
  bool ok() const { return tracer_ != nullptr; }
  void on_event(const Event& e) override { records_.apply(e); }
  const TcpTables& table() const { return kernel_ ? static_cast<const TcpTables&>(kernel_table_) : records_; }

  // Seeds from a sock_diag dump of the namespace, as stats does at start.
  void seed() {
    if (kernel_) {
      FilteredDumper dumper(filter_, tracer_->sk_storage_map_fd());
      auto r = reconcile_kernel_counts(*tracer_, dumper, kernel_table_);
      ASSERT_TRUE(r) << r.error().message;
      return;
    }
    pump_once(0);
    uint64_t start = monotonic_ns();
    records_.begin_dump(start);
    auto dump = dump_namespaces(netns_);
    ASSERT_TRUE(dump) << dump.error().message;
    pump_once(0);
    records_.reconcile(dump->sockets, dump->namespaces, start);
  }
  void pump_once(int timeout_ms) {
    const uint64_t polled_from = monotonic_ns();  // what the live engine settles up to
    auto n = tracer_->poll(*this, timeout_ms);
    ASSERT_TRUE(n) << n.error().message;
    ASSERT_TRUE(tracer_->sweep_timewait());
    records_.settle(polled_from);
    if (kernel_) {
      auto a = tracer_->aggregates();
      ASSERT_TRUE(a) << a.error().message;
      kernel_table_.update(*a);
    }
  }
  // Polls, sweeps and settles for `d`, or until `done`.
  void pump(std::chrono::milliseconds d, const std::function<bool()>& done = {}) {
    auto until = std::chrono::steady_clock::now() + d;
    while (std::chrono::steady_clock::now() < until) {
      pump_once(kConsumerPollMs);
      if (done && done()) return;
    }
  }
  // Segments retransmitted since the start, by state.
  PerStateCounts retransmits() const {
    auto r = tracer_->retransmits();
    EXPECT_TRUE(r) << r.error().message;
    return r ? *r : PerStateCounts{};
  }
  std::vector<ProgStats> prog_stats() const { return tracer_->prog_stats(); }
  // As the live engine reports them: the kernel's counts from the last pump.
  RunCounters counters() const {
    auto c = tracer_->counters();
    EXPECT_TRUE(c) << c.error().message;
    RunCounters r = c ? *c : RunCounters{};
    if (kernel_) kernel_table_.aggregates().fill(r);
    return r;
  }

 private:
  bool kernel_;
  std::unique_ptr<Tracer> tracer_;
  uint32_t netns_;
  FilterSpec filter_;  // the tracer's, which reconciliation dumps apply too
  StateTable records_;
  KernelTable kernel_table_;
};

// Every test runs against both engines.
class Stats : public ::testing::TestWithParam<bool> {};

void expect_matches_ss(const TcpTables& t) {
  auto ss = ss_counts();
  for (uint8_t s = TCPFSM_ESTABLISHED; s <= TCPFSM_CLOSING; ++s) {
    if (s == TCPFSM_CLOSE) continue;
    EXPECT_EQ(t.count(s), ss[s]) << state_name(s);
  }
}

TEST_P(Stats, ShutdownThenCloseLaterMeasuresFinWait2AndCloseWait) {
  LiveStats live(GetParam());
  ASSERT_TRUE(live.ok());
  live.seed();
  Fd lis = listen_loopback(AF_INET);
  Fd client = connect_loopback(AF_INET, local_port(lis.get()));
  Fd server = accept_one(lis.get());
  ASSERT_EQ(shutdown(client.get(), SHUT_WR), 0);  // client FIN_WAIT2, server CLOSE_WAIT
  live.pump(1500ms);
  server.reset();  // server LAST_ACK; client TIME_WAIT
  live.pump(300ms);
  client.reset();
  live.pump(300ms);

  const auto& fw2 = live.table().lifetime(TCPFSM_FIN_WAIT2);
  const auto& cw = live.table().lifetime(TCPFSM_CLOSE_WAIT);
  ASSERT_EQ(fw2.count(), 1u);
  ASSERT_EQ(cw.count(), 1u);
  for (uint64_t v : {fw2.min(), fw2.max(), cw.min(), cw.max()}) {
    EXPECT_GE(v, 1'350'000'000u);
    EXPECT_LE(v, 1'650'000'000u);
  }
  // The client's timewait socket took over in TIME_WAIT.
  EXPECT_EQ(live.table().count(TCPFSM_TIME_WAIT), 1u);
  expect_matches_ss(live.table());
}

TEST_P(Stats, AfterABurstOfTenThousandConnectionsEveryGaugeEqualsSs) {
  Fd keep = listen_loopback(AF_INET6);  // sockets from before the start: seeded, not traced
  Fd keep_client = connect_loopback(AF_INET6, local_port(keep.get()));
  Fd keep2 = listen_loopback(AF_INET);  // a listener from before the start, serving after it
  LiveStats live(GetParam());
  ASSERT_TRUE(live.ok());
  live.seed();
  EXPECT_EQ(live.table().preexisting(monotonic_ns())[TCPFSM_ESTABLISHED].count, 2u);
  EXPECT_EQ(live.table().count(TCPFSM_LISTEN), 2u);
  EXPECT_EQ(live.table().count(TCPFSM_ESTABLISHED), 2u);

  // Connections to the listener from before the start: its children are
  // born leaving LISTEN, which must not count as the listener leaving.
  for (int i = 0; i < 3; ++i) one_connection(AF_INET, keep2.get(), local_port(keep2.get()));
  live.pump(200ms);
  EXPECT_EQ(live.table().count(TCPFSM_LISTEN), 2u);

  Fd lis = listen_loopback(AF_INET);
  const uint16_t port = local_port(lis.get());
  std::atomic<bool> done{false};
  std::thread load([&] {
    for (int i = 0; i < 10000; ++i) {
      Fd c = connect_loopback(AF_INET, port);
      Fd s = accept_one(lis.get());
      c.reset();  // client first: its timewait socket starts as orphaned FIN_WAIT2
      s.reset();
    }
    done = true;
  });
  live.pump(120s, [&] { return done.load(); });
  load.join();
  live.pump(1s);  // drain, and let the sweep see every FIN_WAIT2 -> TIME_WAIT

  EXPECT_EQ(live.table().count(TCPFSM_TIME_WAIT), 10003u);
  EXPECT_EQ(live.table().count(TCPFSM_LISTEN), 3u);
  EXPECT_EQ(live.table().count(TCPFSM_ESTABLISHED), 2u);
  EXPECT_EQ(live.table().transitions(TCPFSM_SYN_SENT, TCPFSM_ESTABLISHED), 10003u);
  EXPECT_EQ(live.table().lifetime(TCPFSM_CLOSE_WAIT).count(), 10003u);
  expect_matches_ss(live.table());
  RunCounters c = live.counters();
  EXPECT_EQ(c.ringbuf_drops, 0u);
  EXPECT_EQ(c.lost_recursion(), 0u);
  EXPECT_EQ(c.fw2_untracked, 0u);
  EXPECT_EQ(c.malformed, 0u);  // every record decoded
}

TEST_P(Stats, TimeWaitLeftToExpireLastsSixtyToSixtyThreeSeconds) {
  LiveStats live(GetParam());
  ASSERT_TRUE(live.ok());
  live.seed();
  Fd lis = listen_loopback(AF_INET);
  Fd client = connect_loopback(AF_INET, local_port(lis.get()));
  Fd server = accept_one(lis.get());
  ASSERT_EQ(shutdown(client.get(), SHUT_WR), 0);
  live.pump(50ms);
  server.reset();  // the client gets the FIN in FIN_WAIT2: TIME_WAIT at once
  live.pump(50ms);
  client.reset();
  live.pump(200ms);
  ASSERT_EQ(live.table().count(TCPFSM_TIME_WAIT), 1u);
  live.pump(75s, [&] { return live.table().timewait_ends(TimewaitEnd::Expired) > 0; });

  ASSERT_EQ(live.table().timewait_ends(TimewaitEnd::Expired), 1u);
  EXPECT_EQ(live.table().timewait_ends(TimewaitEnd::Killed), 0u);
  const auto& h = live.table().timewait_lifetime(TimewaitEnd::Expired);
  ASSERT_EQ(h.count(), 1u);
  EXPECT_GE(h.min(), 60'000'000'000u);
  EXPECT_LE(h.max(), 63'000'000'000u);
  EXPECT_EQ(live.table().count(TCPFSM_TIME_WAIT), 0u);
  expect_matches_ss(live.table());
}

TEST_P(Stats, DeletingTheNetnsCountsItsTimeWaitSocketsAsKilled) {
  NetnsChild child = fork_in_new_netns([] {
    Fd lis = listen_loopback(AF_INET);
    for (int i = 0; i < 5; ++i) one_connection(AF_INET, lis.get(), local_port(lis.get()));
    std::this_thread::sleep_for(300ms);
    return 0;  // the last process in the namespace: it goes, and its sockets with it
  });
  ASSERT_NE(child.netns, 0u);
  FilterSpec only_child;
  only_child.netns = child.netns;
  LiveStats live(GetParam(), only_child);
  ASSERT_TRUE(live.ok());
  child.release();
  live.pump(3s, [&] { return live.table().count(TCPFSM_TIME_WAIT) == 5; });
  EXPECT_EQ(live.table().count(TCPFSM_TIME_WAIT), 5u);
  EXPECT_EQ(wait_child(child.pid), 0);
  live.pump(30s, [&] { return live.table().timewait_ends(TimewaitEnd::Killed) == 5; });

  EXPECT_EQ(live.table().timewait_ends(TimewaitEnd::Killed), 5u);
  EXPECT_EQ(live.table().timewait_ends(TimewaitEnd::Expired), 0u);
  EXPECT_EQ(live.table().count(TCPFSM_TIME_WAIT), 0u);
  EXPECT_EQ(live.table().timewait_lifetime(TimewaitEnd::Killed).count(), 5u);
}

// connect() to 127.0.0.1:port; 0 or the errno it failed with.
int try_connect(Fd& fd, uint16_t port, uint32_t addr = INADDR_LOOPBACK) {
  fd = Fd(socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(port);
  a.sin_addr.s_addr = htonl(addr);
  return connect(fd.get(), reinterpret_cast<sockaddr*>(&a), sizeof(a)) == 0 ? 0 : errno;
}

// Each way a connection ends, made for real, counted under its exact cause;
// and the namespace's own counters (nstat) agree where the kernel keeps one.
TEST_P(Stats, EveryCloseCarriesItsCause) {
  LiveStats live(GetParam());
  ASSERT_TRUE(live.ok());
  live.seed();
  const auto before = nstat_counters();
  Fd lis = listen_loopback(AF_INET);
  const uint16_t port = local_port(lis.get());
  const linger zero_linger{1, 0};

  // Orderly, both ways: the client shuts down first and closes after the
  // server (fin from FIN_WAIT2 and from LAST_ACK), or closes first and is
  // orphaned in FIN_WAIT2 (handed to a timewait socket) before the server's FIN.
  {
    Fd c = connect_loopback(AF_INET, port);
    Fd s = accept_one(lis.get());
    ASSERT_EQ(shutdown(c.get(), SHUT_WR), 0);
    char b;
    ASSERT_EQ(read(s.get(), &b, 1), 0);
    s.reset();
    ASSERT_EQ(read(c.get(), &b, 1), 0);
    live.pump(100ms);
    c.reset();
  }
  {
    Fd c = connect_loopback(AF_INET, port);
    Fd s = accept_one(lis.get());
    c.reset();
    live.pump(100ms);
    s.reset();
  }
  // SO_LINGER 0: the closer resets (tcp_disconnect), the peer is reset.
  {
    Fd c = connect_loopback(AF_INET, port);
    Fd s = accept_one(lis.get());
    ASSERT_EQ(setsockopt(c.get(), SOL_SOCKET, SO_LINGER, &zero_linger, sizeof(zero_linger)), 0);
    c.reset();
    live.pump(100ms);
  }
  // Closed with 5 bytes unread: the server resets (abort_on_close) twice.
  for (int i = 0; i < 2; ++i) {
    Fd c = connect_loopback(AF_INET, port);
    Fd s = accept_one(lis.get());
    ASSERT_EQ(write(c.get(), "hello", 5), 5);
    live.pump(50ms);
    s.reset();
    live.pump(50ms);
  }
  // Three connects to a port nothing listens on.
  for (int i = 0; i < 3; ++i) {
    Fd c;
    ASSERT_EQ(try_connect(c, 1), ECONNREFUSED);
  }
  // A listener closed with four connections it never accepted.
  {
    Fd l2 = listen_loopback(AF_INET);
    std::vector<Fd> clients;
    for (int i = 0; i < 4; ++i) clients.push_back(connect_loopback(AF_INET, local_port(l2.get())));
    live.pump(50ms);
    l2.reset();
    live.pump(100ms);
  }
  // The namespace's ephemeral range cut to one port, taken by the first
  // connect: the second finds none (EADDRNOTAVAIL, no SYN sent).
  Fd l3 = listen_loopback(AF_INET);
  {
    std::ofstream("/proc/sys/net/ipv4/ip_local_port_range") << "40000 40000";
    Fd first, second;
    ASSERT_EQ(try_connect(first, local_port(l3.get())), 0);
    ASSERT_EQ(try_connect(second, local_port(l3.get())), EADDRNOTAVAIL);
    std::ofstream("/proc/sys/net/ipv4/ip_local_port_range") << "32768 60999";
    Fd s = accept_one(l3.get());
    ASSERT_EQ(setsockopt(first.get(), SOL_SOCKET, SO_LINGER, &zero_linger, sizeof(zero_linger)), 0);
    first.reset();
    live.pump(100ms);
  }
  live.pump(300ms);
  const auto after = nstat_counters();

  using Want = std::map<std::string, std::map<std::string, uint64_t>>;
  Want got;
  for (uint8_t from = 0; from < TCPFSM_STATE_MAX; ++from) {
    for (uint8_t c = 0; c < kCauseCount; ++c) {
      if (uint64_t n = live.table().closes()[from][c])
        got[std::string(state_name(from))][std::string(cause_name(c))] = n;
    }
  }
  EXPECT_EQ(got, (Want{
                     {"FIN_WAIT2", {{"fin", 1}, {"orphaned", 1}}},
                     {"LAST_ACK", {{"fin", 2}}},
                     // linger 0 twice (its peer, and l3's client); the
                     // server reset by it and by l3's client; the clients
                     // of the unread data and of the closed listener.
                     {"ESTABLISHED",
                      {{"rst_sent:tcp_state", 2},
                       {"rst_sent:abort_on_close", 2},
                       {"rst_received", 2 + 2 + 4},
                       {"listener_closed", 4}}},
                     {"SYN_SENT", {{"refused", 3}, {"no_local_port", 1}}},
                     {"LISTEN", {{"closed", 1}}},
                 }));
  auto delta = [&](const char* name) { return after.at(name) - before.at(name); };
  const auto& closes = live.table().closes();
  auto from = [&](uint8_t s) {
    uint64_t n = 0;
    for (uint64_t v : closes[s]) n += v;
    return n;
  };
  // The kernel's own counts: tcp_done() counts failed attempts (SYN_SENT,
  // SYN_RECV), which a connect() that found no port never reaches (it
  // sets CLOSE itself); tcp_set_state() counts established connections
  // (ESTABLISHED, CLOSE_WAIT) that went to CLOSE.
  EXPECT_EQ(from(TCPFSM_SYN_SENT) + from(TCPFSM_SYN_RECV) - closes[TCPFSM_SYN_SENT][TCPFSM_CAUSE_NO_LOCAL_PORT],
            delta("TcpAttemptFails"));
  EXPECT_EQ(from(TCPFSM_ESTABLISHED) + from(TCPFSM_CLOSE_WAIT), delta("TcpEstabResets"));
  // __tcp_close: unread data (TCPAbortOnClose), SO_LINGER 0 (TCPAbortOnData).
  EXPECT_EQ(closes[TCPFSM_ESTABLISHED][TCPFSM_CAUSE_RST_ABORT_ON_CLOSE], delta("TcpExtTCPAbortOnClose"));
  EXPECT_EQ(closes[TCPFSM_ESTABLISHED][TCPFSM_CAUSE_RST_TCP_STATE], delta("TcpExtTCPAbortOnData"));

  // Connect latency counts the SYN_SENT time of the connects that
  // established: ten here (five to lis, four to l2, one to l3). tcp_connect()
  // counts every connect that sent a SYN in ActiveOpens; three were refused,
  // and the one that found no port sent none.
  const LifetimeHistogram& latency = live.table().connect_latency();
  EXPECT_EQ(latency.count(), 10u);
  EXPECT_EQ(latency.count(), delta("TcpActiveOpens") - closes[TCPFSM_SYN_SENT][TCPFSM_CAUSE_REFUSED]);
  EXPECT_GT(latency.min(), 0u);
  EXPECT_LT(latency.max(), 1'000'000'000u) << "a loopback handshake took a second";
}

// The socket's pending error (SO_ERROR), as the application learns it.
int so_error(int fd) {
  int err = 0;
  socklen_t len = sizeof(err);
  EXPECT_EQ(getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len), 0);
  return err;
}

// A path that dies: SYNs never answered (syn_timeout after
// tcp_syn_retries), data never acknowledged (timeout after tcp_retries2),
// keepalive probes never answered (keepalive); the SYN retransmissions
// counted equal the namespace's TcpExtTCPSynRetrans.
TEST_P(Stats, ADeadPathEndsInTimeoutsEachNamedForWhatTimedOut) {
  DeadPath path;
  ASSERT_TRUE(path.ok());
  std::ofstream("/proc/sys/net/ipv4/tcp_syn_retries") << "1";  // give up on a SYN after about 3 s
  std::ofstream("/proc/sys/net/ipv4/tcp_retries2") << "3";     // about 3 s of unacknowledged data
  Fd lis = path.listen_there(7000);
  LiveStats live(GetParam());
  ASSERT_TRUE(live.ok());
  live.seed();

  // Two connections established while the path lives.
  Fd data = DeadPath::start_connect(7000), idle = DeadPath::start_connect(7000);
  live.pump(300ms);
  ASSERT_EQ(so_error(data.get()), 0);
  ASSERT_EQ(so_error(idle.get()), 0);
  Fd peer1 = accept_one(lis.get()), peer2 = accept_one(lis.get());
  const int one = 1;
  ASSERT_EQ(setsockopt(idle.get(), SOL_SOCKET, SO_KEEPALIVE, &one, sizeof(one)), 0);
  for (int opt : {TCP_KEEPIDLE, TCP_KEEPINTVL, TCP_KEEPCNT})
    ASSERT_EQ(setsockopt(idle.get(), IPPROTO_TCP, opt, &one, sizeof(one)), 0);

  const auto before = nstat_counters();
  auto retransmitted = [&] {
    auto r = live.retransmits();
    return r[TCPFSM_SYN_SENT];
  };
  const uint64_t syn_retrans_before = retransmitted();
  path.cut();
  ASSERT_EQ(write(data.get(), "unacknowledged", 14), 14);
  std::vector<Fd> syns;
  for (int i = 0; i < 3; ++i) syns.push_back(DeadPath::start_connect(7000));
  const auto& closes = live.table().closes();
  live.pump(15s, [&] {
    return closes[TCPFSM_SYN_SENT][TCPFSM_CAUSE_SYN_TIMEOUT] == 3 &&
           closes[TCPFSM_ESTABLISHED][TCPFSM_CAUSE_TIMEOUT] == 1 &&
           closes[TCPFSM_ESTABLISHED][TCPFSM_CAUSE_KEEPALIVE] == 1;
  });
  live.pump(200ms);
  const auto after = nstat_counters();

  for (const Fd& c : syns) EXPECT_EQ(so_error(c.get()), ETIMEDOUT);
  EXPECT_EQ(so_error(data.get()), ETIMEDOUT);
  EXPECT_EQ(so_error(idle.get()), ETIMEDOUT);
  EXPECT_EQ(closes[TCPFSM_SYN_SENT][TCPFSM_CAUSE_SYN_TIMEOUT], 3u);
  EXPECT_EQ(closes[TCPFSM_ESTABLISHED][TCPFSM_CAUSE_TIMEOUT], 1u);
  EXPECT_EQ(closes[TCPFSM_ESTABLISHED][TCPFSM_CAUSE_KEEPALIVE], 1u);
  uint64_t all = 0;
  for (const auto& row : closes)
    for (uint64_t n : row) all += n;
  EXPECT_EQ(all, 5u);  // nothing else closed here
  // The connect outcomes stats shows: 5 attempted, 2 established, 3 failed.
  EXPECT_EQ(live.table().transitions(TCPFSM_CLOSE, TCPFSM_SYN_SENT), 5u);
  EXPECT_EQ(live.table().transitions(TCPFSM_SYN_SENT, TCPFSM_ESTABLISHED), 2u);
  // The SYNs retransmitted are the kernel's count, exactly. tcp_syn_retries
  // 1 bounds the time (3 s from the first SYN: 1 s, then 2 s of backoff),
  // not the number: measured here, the check at 3 s falls a tick short and
  // a second retransmission goes out, so at least one per connect.
  const uint64_t syn_retrans = after.at("TcpExtTCPSynRetrans") - before.at("TcpExtTCPSynRetrans");
  EXPECT_EQ(retransmitted() - syn_retrans_before, syn_retrans) << [&] {
    // What a mismatch needs to be understood: the kernel's failed
    // retransmissions and the retransmit programs' runs and skipped runs.
    std::string why = "TcpExtTCPRetransFail +" +
                      std::to_string(after.at("TcpExtTCPRetransFail") - before.at("TcpExtTCPRetransFail")) +
                      ", TcpRetransSegs +" + std::to_string(after.at("TcpRetransSegs") - before.at("TcpRetransSegs"));
    for (const auto& p : live.prog_stats())
      if (p.name.find("retransmit") != std::string::npos)
        why += "; " + p.name + ": " + std::to_string(p.runs) + " runs, " + std::to_string(p.recursion_misses) +
               " skipped nested";
    return why;
  }();
  EXPECT_GE(syn_retrans, 3u);
  EXPECT_EQ(after.at("TcpExtTCPKeepAlive") - before.at("TcpExtTCPKeepAlive"), 1u);  // one probe, unanswered
  EXPECT_EQ(after.at("TcpExtTCPAbortOnTimeout") - before.at("TcpExtTCPAbortOnTimeout"), 5u);
}

// Where connects go and how they went, per destination, as `stats --by
// raddr` shows them: a live peer (established, with their time in
// SYN_SENT), a closed port (refused) and a dead path (SYNs retransmitted
// until syn_timeout), each equal to what this test did; the SYNs
// retransmitted equal the namespace's TcpExtTCPSynRetrans.
TEST(Connects, PerDestinationEqualTheTestsTallyAndTheKernelsSynRetransmits) {
  using nlohmann::json;
  DeadPath path;
  ASSERT_TRUE(path.ok());
  std::ofstream("/proc/sys/net/ipv4/tcp_syn_retries") << "1";  // give up on a SYN after about 3 s
  Fd far = path.listen_there(7001);
  Fd lis = listen_loopback(AF_INET);
  uint16_t closed_port = 0;
  {
    Fd gone = listen_loopback(AF_INET);
    closed_port = local_port(gone.get());
  }
  const auto before = nstat_counters();
  Binary bin({"stats", "--json", "--interval", "0", "--duration", "8", "--netns", std::to_string(self_netns()), "--by",
              "raddr"});
  std::this_thread::sleep_for(1s);  // attached
  const auto started = std::chrono::steady_clock::now();

  std::vector<Fd> held;
  for (int i = 0; i < 2; ++i) held.push_back(DeadPath::start_connect(7001));
  for (int i = 0; i < 4; ++i) {
    held.push_back(connect_loopback(AF_INET, local_port(lis.get())));
    held.push_back(accept_one(lis.get()));
  }
  for (int i = 0; i < 3; ++i) {
    Fd c;
    ASSERT_EQ(try_connect(c, closed_port, 0x7f000005), ECONNREFUSED);  // 127.0.0.5
  }
  std::this_thread::sleep_for(300ms);
  for (size_t i = 0; i < 2; ++i) ASSERT_EQ(so_error(held[i].get()), 0);
  const double connected_within_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  path.cut();
  std::vector<Fd> syns;
  for (int i = 0; i < 3; ++i) syns.push_back(DeadPath::start_connect(7001));
  Outcome r = bin.wait();  // the SYNs time out (about 3 s) before its 8 s are up
  const auto after = nstat_counters();
  ASSERT_EQ(r.status, 0) << r.err;
  for (const Fd& c : syns) ASSERT_EQ(so_error(c.get()), ETIMEDOUT);

  const json report = json::parse(lines(r.out).back());
  std::map<std::string, json> by_dest;
  for (const auto& row : report.at("group_connects")) by_dest[row.at("key").at("raddr")] = row;
  ASSERT_EQ(by_dest.size(), 3u) << report.at("group_connects").dump();
  EXPECT_EQ(report.at("group_connects_others").at("groups"), 0);
  EXPECT_EQ(report.at("group_connects_others").at("attempted"), 0);

  const json& dead = by_dest["10.77.0.2"];
  EXPECT_EQ(dead.at("attempted"), 5);
  EXPECT_EQ(dead.at("established"), 2);
  EXPECT_EQ(dead.at("failed"), json::parse(R"({"syn_timeout": 3})"));
  const uint64_t syn_retrans = after.at("TcpExtTCPSynRetrans") - before.at("TcpExtTCPSynRetrans");
  EXPECT_GE(syn_retrans, 3u);  // at least one per failed connect (tcp_syn_retries 1)
  EXPECT_EQ(dead.at("syn_retransmits").get<uint64_t>(), syn_retrans);               // nothing else here lost a SYN
  EXPECT_EQ(report.at("group_connects").at(0).at("key").at("raddr"), "10.77.0.2");  // most attempts first

  const json& up = by_dest["127.0.0.1"];
  EXPECT_EQ(up.at("attempted"), 4);
  EXPECT_EQ(up.at("established"), 4);
  EXPECT_EQ(up.at("failed"), json::object());
  EXPECT_EQ(up.at("syn_retransmits"), 0);
  for (const json* d : {&dead, &up}) {
    const json& lat = d->at("latency");
    EXPECT_EQ(lat.at("count"), d->at("established"));
    EXPECT_GT(lat.at("p50_ns").get<uint64_t>(), 0u);
    EXPECT_LT(lat.at("max_ns").get<double>(), connected_within_s * 1e9);
  }

  const json& refused = by_dest["127.0.0.5"];
  EXPECT_EQ(refused.at("attempted"), 3);
  EXPECT_EQ(refused.at("established"), 0);
  EXPECT_EQ(refused.at("failed"), json::parse(R"({"refused": 3})"));
  EXPECT_EQ(refused.at("latency").at("count"), 0);

  // Host-wide, the same summed.
  const json& all = report.at("connects");
  EXPECT_EQ(all.at("attempted"), 12);
  EXPECT_EQ(all.at("established"), 6);
  EXPECT_EQ(all.at("failed"), json::parse(R"({"refused": 3, "syn_timeout": 3})"));
  EXPECT_EQ(all.at("syn_retransmits").get<uint64_t>(), syn_retrans);
  EXPECT_EQ(all.at("latency").at("count"), 6);
}

INSTANTIATE_TEST_SUITE_P(Engines, Stats, ::testing::Values(true, false),
                         [](const auto& info) { return info.param ? std::string("Kernel") : std::string("Records"); });

}  // namespace
}  // namespace tcpfsm::test
