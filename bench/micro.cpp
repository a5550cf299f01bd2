// Microbenchmarks of the userspace libraries (views and below), no kernel involved.
//
// What each one measures, and the target it speaks to:
//
//   BM_DecodeAndAccount   the `stats --records` consumer hot path: decode_event
//                         on each raw ring buffer record, StateTable::apply,
//                         settle() every 50 ms of event time.
//                         Target: >= 5 million events/s on one thread.
//   BM_DecodeOnly         the decode half of it alone,
//   BM_AccountOnly        the accounting half alone (events decoded up front).
//   BM_TraceJsonFormat    `trace --json`: JsonFormatter::append into a buffer
//                         flushed (here: cleared) past 64 KiB. No target; it
//                         says how fast `trace --json` can keep up.
//   BM_TraceTextFormat    the same for the default `trace` text lines.
//   BM_RenderMetrics_100kSockets one scrape end to end at 100k tracked sockets:
//                         fill_snapshot into a fresh snapshot (consumer
//                         thread) + render_metrics (HTTP thread).
//                         Target: < 10 ms.
//   BM_FillSnapshot, BM_Render   its two halves.
//   BM_KernelTableTick    the default `stats`/`serve` consumer (counts kept in
//                         the kernel): one tick's summing of per-CPU counts and
//                         histograms, table update and snapshot. Independent
//                         of traffic and of the number of sockets.
//   BM_AccountByRaddr/N   `stats --by raddr`: BM_AccountOnly with per-group
//                         entries and lifetimes, the server sides' peers
//                         spread over N addresses (N groups + the clients').
//   BM_AccountByPod       `stats --by pod`: the same with the identity of
//                         each record's process looked up (cached per pid).
//   BM_CountGroups/N      one gauge pass's counting: 100,000 dumped sockets
//                         over N groups (the dump itself is sock_diag's, as
//                         for a reconciliation).
//   BM_GroupReport/N      one report: merging N groups' gauges and records,
//                         sorting, the top 20, (others), the text table.
//   BM_StateTableMemory   not a timing: heap bytes per tracked socket
//                         (mallinfo2 before/after tracking 100k established
//                         sockets). Target: RSS <= 40 MiB + 200 B/socket.
//
// The event stream replays loopback connections as the kernel reports them:
// per connection 10 state transitions (client and server side, in the order
// a loopback handshake and close produce them), the client's timewait timer
// start, and the cancel + expiry of the timewait socket of the connection
// that closed 60 s earlier (a steady state of ~60k TIME_WAIT sockets at the
// 1000 connections/s the replay runs at). 13 records per connection.
// Over 400 lines: one benchmark per hot path, each with the fixture it needs.
#include <benchmark/benchmark.h>
#include <malloc.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "account/groups.hpp"
#include "account/kernel_table.hpp"
#include "account/state_table.hpp"
#include "model/event.hpp"
#include "tcpfsm/event.h"
#include "views/groups_view.hpp"
#include "views/metrics.hpp"
#include "views/trace_view.hpp"

namespace {

using tcpfsm::Event;
using tcpfsm::EventKind;
using tcpfsm::Owner;
using tcpfsm::StateTable;

// ---------------------------------------------------------------- workload

constexpr uint64_t kConnections = 100'000;             // per batch (one fresh StateTable)
constexpr uint64_t kConnGapNs = 1'000'000;             // a new connection every 1 ms
constexpr uint64_t kTimeWaitNs = 60'000'000'000;       // TCP_TIMEWAIT_LEN
constexpr uint64_t kTwLag = kTimeWaitNs / kConnGapNs;  // K: connection i expires i-K's timewait socket
constexpr uint64_t kSettleEveryNs = 50'000'000;        // the live loop settles after every 50 ms poll
constexpr uint64_t kStartNs = 1'000'000'000'000;       // some monotonic time after boot
constexpr uint32_t kNetns = 4026531840u;
constexpr uint32_t kClientPid = 1000, kServerPid = 2000;
constexpr uint16_t kServerPort = 8080;

void set_comm(Event& e, const char* name) {
  e.comm = {};
  std::memcpy(e.comm.data(), name, std::strlen(name));
}

uint64_t client_cookie(uint64_t conn) { return 2 * conn + 1; }
uint64_t server_cookie(uint64_t conn) { return 2 * conn + 2; }
// Kernel addresses: full sockets come from a small recycled pool, timewait
// sockets from a pool larger than the number alive at once (60k).
uint64_t sock_addr(uint64_t cookie) { return 0xffff888100000000ULL + (cookie % 8192) * 0x1000; }
uint64_t tw_addr(uint64_t conn) { return 0xffff888200000000ULL + (conn % 131072) * 0x100; }
uint16_t client_port(uint64_t conn) { return static_cast<uint16_t>(32768 + conn % 28232); }
uint64_t conn_start(uint64_t conn) { return kStartNs + conn * kConnGapNs; }

// One socket's side of the stream: remembers when it entered its state, so
// prev_ns is what the BPF side reports (unknown for a socket's first event).
struct Side {
  uint64_t cookie;
  bool client;
  uint64_t conn;
  uint64_t entered_ns = 0;  // 0: not seen yet

  Event state(uint64_t ts, uint8_t from, uint8_t to, Owner owner) {
    Event e;
    e.kind = EventKind::State;
    e.ts_ns = ts;
    e.skaddr = sock_addr(cookie);
    e.cookie = cookie;
    if (entered_ns) e.prev_ns = ts - entered_ns;
    entered_ns = ts;
    e.pid = client ? kClientPid : kServerPid;
    e.netns = kNetns;
    e.sport = client ? client_port(conn) : kServerPort;
    e.dport = client ? kServerPort : client_port(conn);
    e.family = AF_INET;
    e.oldstate = from;
    e.newstate = to;
    e.owner = owner;
    e.saddr = {127, 0, 0, 1};
    e.daddr = {127, 0, 0, 1};
    set_comm(e, client ? "loadgen" : "server");
    return e;
  }
};

// A timewait timer record of the client side of connection `conn`.
Event timewait(uint64_t ts, uint64_t conn, EventKind kind) {
  Event e;
  e.kind = kind;
  e.ts_ns = ts;
  e.skaddr = tw_addr(conn);
  e.cookie = client_cookie(conn);
  e.netns = kNetns;
  e.sport = client_port(conn);
  e.dport = kServerPort;
  e.family = AF_INET;
  e.newstate = TCPFSM_TIME_WAIT;
  e.saddr = {127, 0, 0, 1};
  e.daddr = {127, 0, 0, 1};
  return e;  // pid 0, no owner, no flags, empty comm: as the kernel sends them
}

// Time of the client's timewait timer start, relative to its connection start.
constexpr uint64_t kTwStartOffNs = 210'000;
// The timer of connection i-K fires 60 s after it started (+ wheel slack),
// which lands 600 us into connection i: timestamps stay increasing.
constexpr uint64_t kTwExpireOffNs = 600'000;

// Connections [kTwLag, kTwLag + n): the first K of them expire timewait
// sockets of connections from before the batch (never tracked, as after a
// start), the rest those of connections in the batch.
std::vector<Event> make_events(uint64_t n) {
  std::vector<Event> out;
  out.reserve(n * 13);
  for (uint64_t conn = kTwLag; conn < kTwLag + n; ++conn) {
    const uint64_t t = conn_start(conn);
    Side c{client_cookie(conn), true, conn};
    Side s{server_cookie(conn), false, conn};
    // Handshake: connect(), SYN-ACK at the client, the ACK makes the
    // listener's child (LISTEN -> SYN_RECV, then ESTABLISHED).
    out.push_back(c.state(t + 0, TCPFSM_CLOSE, TCPFSM_SYN_SENT, Owner::Task));
    out.push_back(c.state(t + 15'000, TCPFSM_SYN_SENT, TCPFSM_ESTABLISHED, Owner::Recorded));
    out.push_back(s.state(t + 18'000, TCPFSM_LISTEN, TCPFSM_SYN_RECV, Owner::Listener));
    out.push_back(s.state(t + 19'000, TCPFSM_SYN_RECV, TCPFSM_ESTABLISHED, Owner::Listener));
    // Request/response, then the client closes first.
    out.push_back(c.state(t + 150'000, TCPFSM_ESTABLISHED, TCPFSM_FIN_WAIT1, Owner::Task));
    out.push_back(s.state(t + 160'000, TCPFSM_ESTABLISHED, TCPFSM_CLOSE_WAIT, Owner::Recorded));
    out.push_back(c.state(t + 161'000, TCPFSM_FIN_WAIT1, TCPFSM_FIN_WAIT2, Owner::Recorded));
    out.push_back(s.state(t + 200'000, TCPFSM_CLOSE_WAIT, TCPFSM_LAST_ACK, Owner::Task));
    // The server's FIN: tcp_time_wait arms the timewait socket's timer,
    // then tcp_done moves the full socket to CLOSE.
    out.push_back(timewait(t + kTwStartOffNs, conn, EventKind::TwStart));
    out.push_back(c.state(t + 210'500, TCPFSM_FIN_WAIT2, TCPFSM_CLOSE, Owner::Recorded));
    out.push_back(s.state(t + 215'000, TCPFSM_LAST_ACK, TCPFSM_CLOSE, Owner::Recorded));
    // The connection that closed 60 s ago leaves TIME_WAIT.
    out.push_back(timewait(t + kTwExpireOffNs, conn - kTwLag, EventKind::TwCancel));
    out.push_back(timewait(t + kTwExpireOffNs + 100, conn - kTwLag, EventKind::TwExpire));
  }
  return out;
}

struct Workload {
  std::vector<tcpfsm_event> records;  // what the ring buffer hands over
  std::vector<Event> events;          // the same, decoded
};

const Workload& workload() {
  static const Workload w = [] {
    Workload w;
    w.events = make_events(kConnections);
    w.records.reserve(w.events.size());
    for (const auto& e : w.events) {
      w.records.push_back(tcpfsm::encode_event(e));
      auto back = tcpfsm::decode_event(std::as_bytes(std::span(&w.records.back(), 1)));
      if (!back) {
        std::fprintf(stderr, "micro: workload record does not decode: %s\n", back.error().message.c_str());
        std::abort();
      }
    }
    return w;
  }();
  return w;
}

std::span<const std::byte> record_bytes(const tcpfsm_event& r) { return std::as_bytes(std::span(&r, 1)); }

// As TableSink does for replays: settle on the records' own clock.
struct Settler {
  uint64_t last = 0;
  void maybe(StateTable& t, uint64_t ts) {
    if (ts > last + kSettleEveryNs) {
      t.settle(ts);
      last = ts;
    }
  }
};

void report_table(benchmark::State& state, const StateTable& t) {
  state.counters["tracked_at_end"] = static_cast<double>(t.tracked());
  state.counters["resyncs"] = static_cast<double>(t.resyncs());  // 0: the stream is consistent
}

// ---------------------------------------------------------------- 5: memory

size_t heap_in_use() {
  struct mallinfo2 mi = mallinfo2();
  return mi.uordblks + mi.hblkhd;  // small chunks in use + mmapped big ones (bucket arrays)
}

size_t rss_bytes() {
  long pages = 0, resident = 0;
  if (FILE* f = std::fopen("/proc/self/statm", "r")) {
    if (std::fscanf(f, "%ld %ld", &pages, &resident) != 2) resident = 0;
    std::fclose(f);
  }
  return static_cast<size_t>(resident) * static_cast<size_t>(sysconf(_SC_PAGESIZE));
}

// Not a timing. Heap growth of a StateTable that tracks N established
// sockets (CLOSE -> SYN_SENT -> ESTABLISHED each), per socket; the table's
// fixed part (histograms, counters) is allocated before and reported apart.
// RSS growth is noisier (malloc keeps freed memory) but is what the target
// is about, so it is shown too.
void BM_StateTableMemory(benchmark::State& state) {
  const uint64_t n = static_cast<uint64_t>(state.range(0));
  for (auto _ : state) {
    auto t = std::make_unique<StateTable>();
    const size_t heap0 = heap_in_use(), rss0 = rss_bytes();
    for (uint64_t i = 0; i < n; ++i) {
      Side c{client_cookie(i), true, i};
      t->apply(c.state(kStartNs + i * 1000, TCPFSM_CLOSE, TCPFSM_SYN_SENT, Owner::Task));
      t->apply(c.state(kStartNs + i * 1000 + 15'000, TCPFSM_SYN_SENT, TCPFSM_ESTABLISHED, Owner::Recorded));
    }
    const size_t heap1 = heap_in_use(), rss1 = rss_bytes();
    uint64_t tracked = t->tracked();
    benchmark::DoNotOptimize(tracked);
    state.counters["tracked"] = static_cast<double>(tracked);
    state.counters["bytes_per_socket"] = static_cast<double>(heap1 - heap0) / static_cast<double>(tracked);
    state.counters["rss_bytes_per_socket"] =
        static_cast<double>(rss1 > rss0 ? rss1 - rss0 : 0) / static_cast<double>(tracked);
    state.counters["table_fixed_bytes"] = static_cast<double>(sizeof(StateTable));
  }
}
// Registered first: it runs before the workload (~300 MB) exists, and once
// only (a repetition would reuse the pages the first one freed), so the RSS
// reading means something.
BENCHMARK(BM_StateTableMemory)->Arg(100'000)->Iterations(1)->Repetitions(1)->Unit(benchmark::kMillisecond);

// ---------------------------------------------------------------- 1, 2: consumer hot path

// decode + apply + settle: what Tracer's ring buffer callback and TableSink
// do per record. A fresh table per batch of 100k connections (1.3M records)
// keeps state bounded: it grows to ~60k TIME_WAIT sockets and stays there.
void BM_DecodeAndAccount(benchmark::State& state) {
  const auto& w = workload();
  uint64_t malformed = 0;
  std::unique_ptr<StateTable> table;
  for (auto _ : state) {
    table = std::make_unique<StateTable>();
    Settler settler;
    for (const auto& r : w.records) {
      auto e = tcpfsm::decode_event(record_bytes(r));
      if (!e) {
        ++malformed;
        continue;
      }
      table->apply(*e);
      settler.maybe(*table, e->ts_ns);
    }
    uint64_t tracked = table->tracked(), est = table->count(TCPFSM_TIME_WAIT);
    benchmark::DoNotOptimize(tracked);
    benchmark::DoNotOptimize(est);
    state.PauseTiming();  // the live loop never tears its table down
    report_table(state, *table);
    table.reset();
    state.ResumeTiming();
  }
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations() * w.records.size()));
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * w.records.size() * sizeof(tcpfsm_event)));
  state.counters["malformed"] = static_cast<double>(malformed);
}
BENCHMARK(BM_DecodeAndAccount)->Unit(benchmark::kMillisecond);

// Only decode_event (validation + copy into Event).
void BM_DecodeOnly(benchmark::State& state) {
  const auto& w = workload();
  for (auto _ : state) {
    uint64_t sum = 0;
    for (const auto& r : w.records) {
      auto e = tcpfsm::decode_event(record_bytes(r));
      if (e) sum += e->cookie ^ e->ts_ns;
    }
    benchmark::DoNotOptimize(sum);
  }
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations() * w.records.size()));
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * w.records.size() * sizeof(tcpfsm_event)));
}
BENCHMARK(BM_DecodeOnly)->Unit(benchmark::kMillisecond);

// Only StateTable::apply + settle, on events decoded beforehand.
void BM_AccountOnly(benchmark::State& state) {
  const auto& w = workload();
  std::unique_ptr<StateTable> table;
  for (auto _ : state) {
    table = std::make_unique<StateTable>();
    Settler settler;
    for (const auto& e : w.events) {
      table->apply(e);
      settler.maybe(*table, e.ts_ns);
    }
    uint64_t tracked = table->tracked();
    benchmark::DoNotOptimize(tracked);
    state.PauseTiming();
    report_table(state, *table);
    table.reset();
    state.ResumeTiming();
  }
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations() * w.events.size()));
}
BENCHMARK(BM_AccountOnly)->Unit(benchmark::kMillisecond);

// ---------------------------------------------------------------- 2b: grouping

// The workload with the server sides' peers spread over `groups` addresses.
std::vector<Event> spread_peers(size_t groups) {
  std::vector<Event> events = workload().events;
  for (auto& e : events) {
    const uint64_t conn = (e.cookie - 1) / 2;
    const auto peer = static_cast<uint32_t>(conn % groups);
    std::array<uint8_t, 16> a{10, static_cast<uint8_t>(peer >> 16), static_cast<uint8_t>(peer >> 8),
                              static_cast<uint8_t>(peer)};
    if (e.cookie % 2 == 0) {
      e.daddr = a;  // server side: the client is the peer
    } else {
      e.saddr = a;
    }
  }
  return events;
}

void account_grouped(benchmark::State& state, const char* by, const std::vector<Event>& events) {
  tcpfsm::IdentityTable ids;
  const auto spec = tcpfsm::parse_group_spec("--by", by).value();
  std::unique_ptr<tcpfsm::IdentityCache> cache;
  if (spec.needs_identity()) cache = std::make_unique<tcpfsm::IdentityCache>(spec, ids, "/");
  for (auto _ : state) {
    auto table = std::make_unique<StateTable>();
    tcpfsm::GroupEvents groups(spec, 10'000, cache.get());
    table->set_groups(&groups);
    Settler settler;
    for (const auto& e : events) {
      table->apply(e);
      settler.maybe(*table, e.ts_ns);
    }
    state.PauseTiming();
    state.counters["groups"] = static_cast<double>(groups.size());
    table.reset();
    state.ResumeTiming();
  }
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations() * events.size()));
}

void BM_AccountByRaddr(benchmark::State& state) {
  static const auto events = spread_peers(static_cast<size_t>(state.range(0)));
  account_grouped(state, "raddr", events);
}
BENCHMARK(BM_AccountByRaddr)->Arg(10'000)->Unit(benchmark::kMillisecond);

void BM_AccountByPod(benchmark::State& state) { account_grouped(state, "pod", workload().events); }
BENCHMARK(BM_AccountByPod)->Unit(benchmark::kMillisecond);

class NoProcesses : public tcpfsm::OwnerLookup {
 public:
  Holders holders(const std::vector<uint32_t>&) override { return {}; }
  std::optional<tcpfsm::ProcessInfo> process(uint32_t pid) override {
    tcpfsm::ProcessInfo p;
    p.pid = pid;
    p.comm = "server";
    p.cgroup = "/kubepods/burstable/pod0b1e2a3c-4d5e-4f60-8a9b-0c1d2e3f4a5b/" + std::string(64, 'a');
    return p;
  }
};

// 100,000 dumped sockets, their peers over `groups` addresses.
std::vector<tcpfsm::SocketRecord> spread_dump(size_t groups) {
  std::vector<tcpfsm::SocketRecord> dump(100'000);
  for (size_t i = 0; i < dump.size(); ++i) {
    auto& r = dump[i];
    r.family = AF_INET;
    r.state = i % 3 ? TCPFSM_TIME_WAIT : TCPFSM_ESTABLISHED;
    r.timewait = r.state == TCPFSM_TIME_WAIT;
    const auto peer = static_cast<uint32_t>(i % groups);
    r.daddr = {10, static_cast<uint8_t>(peer >> 16), static_cast<uint8_t>(peer >> 8), static_cast<uint8_t>(peer)};
    r.saddr = {127, 0, 0, 1};
    r.sport = kServerPort;
    r.dport = static_cast<uint16_t>(32768 + i % 28232);
    r.netns = kNetns;
    r.inode = r.timewait ? 0 : static_cast<uint32_t>(i + 1);
  }
  return dump;
}

void BM_CountGroups(benchmark::State& state) {
  const auto dump = spread_dump(static_cast<size_t>(state.range(0)));
  tcpfsm::GroupOptions o;
  o.spec = tcpfsm::parse_group_spec("--by", "raddr").value();
  NoProcesses procs;
  tcpfsm::IdentityTable ids;
  for (auto _ : state) {
    auto g = tcpfsm::count_groups(o, dump, {}, procs, ids, tcpfsm::PodDirectory(), {});
    benchmark::DoNotOptimize(g.counts.size());
  }
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations() * dump.size()));
}
BENCHMARK(BM_CountGroups)->Arg(10'000)->Unit(benchmark::kMillisecond);

void BM_GroupReport(benchmark::State& state) {
  const auto groups = static_cast<size_t>(state.range(0));
  tcpfsm::GroupOptions o;
  o.spec = tcpfsm::parse_group_spec("--by", "raddr").value();
  NoProcesses procs;
  tcpfsm::IdentityTable ids;
  const auto gauges = tcpfsm::count_groups(o, spread_dump(groups), {}, procs, ids, tcpfsm::PodDirectory(), {});
  const auto events = spread_peers(groups);
  StateTable table;
  tcpfsm::GroupEvents ge(o.spec, 20'000, nullptr);
  table.set_groups(&ge);
  for (const auto& e : events) table.apply(e);
  tcpfsm::GroupsView view;
  for (auto _ : state) {
    const auto report = tcpfsm::build_group_report(o, &gauges, &ge, ids);
    const std::string text = view.text(report, 1, 0);
    benchmark::DoNotOptimize(text.size());
  }
  state.counters["groups"] = static_cast<double>(gauges.counts.size());
}
BENCHMARK(BM_GroupReport)->Arg(10'000)->Unit(benchmark::kMillisecond);

// ---------------------------------------------------------------- 3: trace output

// `trace --json`: one JSON line per decoded event, appended to the output
// buffer, which is written out (here cleared) once it passes 64 KiB.
void BM_TraceJsonFormat(benchmark::State& state) {
  const auto& w = workload();
  const tcpfsm::JsonFormatter fmt(tcpfsm::WallClock(1'700'000'000'000'000'000LL));
  std::string buf;
  buf.reserve(128 * 1024);
  uint64_t bytes = 0;
  for (auto _ : state) {
    for (const auto& e : w.events) {
      fmt.append(buf, e);
      if (buf.size() > (1 << 16)) {
        bytes += buf.size();
        benchmark::DoNotOptimize(buf.data());
        buf.clear();
      }
    }
  }
  bytes += buf.size();
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations() * w.events.size()));
  state.SetBytesProcessed(static_cast<int64_t>(bytes));
  state.counters["bytes_per_event"] =
      static_cast<double>(bytes) / static_cast<double>(state.iterations() * w.events.size());
}
BENCHMARK(BM_TraceJsonFormat)->Unit(benchmark::kMillisecond);

// Default `trace` text lines (timewait records print nothing in text mode).
void BM_TraceTextFormat(benchmark::State& state) {
  const auto& w = workload();
  const tcpfsm::TextFormatter fmt(tcpfsm::TextOptions{}, tcpfsm::WallClock(1'700'000'000'000'000'000LL));
  std::string buf;
  buf.reserve(128 * 1024);
  uint64_t bytes = 0;
  for (auto _ : state) {
    for (const auto& e : w.events) {
      fmt.append(buf, e);
      if (buf.size() > (1 << 16)) {
        bytes += buf.size();
        benchmark::DoNotOptimize(buf.data());
        buf.clear();
      }
    }
  }
  bytes += buf.size();
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations() * w.events.size()));
  state.SetBytesProcessed(static_cast<int64_t>(bytes));
}
BENCHMARK(BM_TraceTextFormat)->Unit(benchmark::kMillisecond);

// ---------------------------------------------------------------- 4: scrapes

constexpr uint64_t kScrapeSockets = 100'000;
constexpr uint64_t kScrapeHistoryConns = 10'000;

// 100k tracked sockets: the first 10k connections of the workload (all
// transitions and lifetimes filled in, their 10k TIME_WAIT sockets still
// alive) plus 90k established client sockets.
const StateTable& scrape_table() {
  static const std::unique_ptr<StateTable> table = [] {
    auto t = std::make_unique<StateTable>();
    const auto& w = workload();
    Settler settler;
    for (size_t i = 0; i < kScrapeHistoryConns * 13; ++i) {
      t->apply(w.events[i]);
      settler.maybe(*t, w.events[i].ts_ns);
    }
    const uint64_t base = kTwLag + kConnections;  // cookies no workload connection uses
    const uint64_t t0 = conn_start(base);
    for (uint64_t i = 0; i < kScrapeSockets - kScrapeHistoryConns; ++i) {
      Side c{client_cookie(base + i), true, base + i};
      t->apply(c.state(t0 + i * 1000, TCPFSM_CLOSE, TCPFSM_SYN_SENT, Owner::Task));
      t->apply(c.state(t0 + i * 1000 + 15'000, TCPFSM_SYN_SENT, TCPFSM_ESTABLISHED, Owner::Recorded));
    }
    return t;
  }();
  return *table;
}

// What serve's publish() adds besides the table: counters, a few stuck
// series, the version.
void fill_rest(tcpfsm::MetricsSnapshot& s) {
  s.counters.events = 123'456'789;
  s.drift = 3;
  s.reconciliations = 42;
  for (int i = 0; i < 10; ++i)
    s.stuck.push_back({TCPFSM_CLOSE_WAIT, "worker-" + std::to_string(i), "0123456789ab", 100u - i});
  s.stuck_known = true;
  s.version = "0.1.0";
}

// One whole scrape: the consumer's snapshot copy (a fresh shared snapshot,
// as publish() makes every 0.5 s) and the HTTP thread's rendering.
void BM_RenderMetrics_100kSockets(benchmark::State& state) {
  const StateTable& t = scrape_table();
  size_t out_bytes = 0;
  for (auto _ : state) {
    auto snap = std::make_shared<tcpfsm::MetricsSnapshot>();
    tcpfsm::fill_snapshot(*snap, t);
    fill_rest(*snap);
    std::string out = tcpfsm::render_metrics(*snap);
    out_bytes = out.size();
    benchmark::DoNotOptimize(out.data());
  }
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations()));
  state.counters["tracked"] = static_cast<double>(t.tracked());
  state.counters["scrape_bytes"] = static_cast<double>(out_bytes);
}
BENCHMARK(BM_RenderMetrics_100kSockets)->Unit(benchmark::kMillisecond);

void BM_FillSnapshot(benchmark::State& state) {
  const StateTable& t = scrape_table();
  for (auto _ : state) {
    auto snap = std::make_shared<tcpfsm::MetricsSnapshot>();
    tcpfsm::fill_snapshot(*snap, t);
    fill_rest(*snap);
    benchmark::DoNotOptimize(snap.get());
  }
  state.counters["tracked"] = static_cast<double>(t.tracked());
  state.counters["snapshot_bytes"] = static_cast<double>(sizeof(tcpfsm::MetricsSnapshot));
}
BENCHMARK(BM_FillSnapshot)->Unit(benchmark::kMillisecond);

void BM_Render(benchmark::State& state) {
  tcpfsm::MetricsSnapshot snap;
  tcpfsm::fill_snapshot(snap, scrape_table());
  fill_rest(snap);
  size_t out_bytes = 0;
  for (auto _ : state) {
    std::string out = tcpfsm::render_metrics(snap);
    out_bytes = out.size();
    benchmark::DoNotOptimize(out.data());
  }
  state.counters["scrape_bytes"] = static_cast<double>(out_bytes);
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * out_bytes));
}
BENCHMARK(BM_Render)->Unit(benchmark::kMillisecond);

// The kernel-counting consumer (stats, serve): on each tick, the per-CPU
// counts of every slot (2 CPUs here, as read from the maps) summed into
// KernelAggregates, the table updated, and serve's snapshot filled. Its
// cost doesn't depend on the traffic or on the number of sockets.
void BM_KernelTableTick(benchmark::State& state) {
  constexpr int kCpus = 2;
  std::vector<tcpfsm_agg> aggs(TCPFSM_SLOTS * kCpus);
  for (size_t i = 0; i < aggs.size(); ++i) {
    aggs[i].known[0][TCPFSM_ESTABLISHED] = static_cast<int64_t>(1000 + i);
    aggs[i].transitions[TCPFSM_SYN_SENT][TCPFSM_ESTABLISHED] = 100'000 + i;
    aggs[i].tw_known[0][TCPFSM_TIME_WAIT] = 5000;
  }
  std::vector<tcpfsm_hist> hists(TCPFSM_SLOTS * TCPFSM_HISTS * kCpus);
  for (size_t i = 0; i < hists.size(); ++i) {
    hists[i].count = 100;
    hists[i].sum_ns = 100'000;
    hists[i].neg_min_ns = ~uint64_t{10};
    hists[i].max_ns = 5000;
    hists[i].buckets[200 + i % 300] = 100;
  }
  tcpfsm::KernelTable table;
  for (auto _ : state) {
    tcpfsm::KernelAggregates a;
    for (const auto& g : aggs) a.add(g);
    for (size_t i = 0; i < hists.size(); ++i) a.add(static_cast<uint32_t>((i / kCpus) % TCPFSM_HISTS), hists[i]);
    table.update(a);
    auto snap = std::make_shared<tcpfsm::MetricsSnapshot>();
    tcpfsm::fill_snapshot(*snap, table);
    benchmark::DoNotOptimize(snap.get());
  }
}
BENCHMARK(BM_KernelTableTick)->Unit(benchmark::kMicrosecond);

}  // namespace

BENCHMARK_MAIN();
