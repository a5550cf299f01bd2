// tcpfsm_loadgen: a loopback short-connection load generator for
// benchmarking the tracer. It runs a server and its clients in one process
// and counts exactly what it did, so a benchmark can compare the tracer's
// event counts against the work actually done.
//
//   server  listens on 0.0.0.0:PORT (so every 127.0.0.x reaches it); each of
//           --server-threads threads accepts in a loop and closes the accepted
//           socket at once.
//   clients --threads threads; each connection: socket, connect (blocking) to
//           127.0.0.1 .. 127.0.0.K round-robin (spreading the 4-tuples over K
//           destination addresses), wait for the server's FIN (recv() == 0),
//           close.
//
// Modes: closed loop (each thread as fast as it goes) or open loop (a fixed
// total rate, split evenly across threads, on an absolute schedule).
//
// The hot loop takes no lock and allocates nothing: each thread counts into
// its own stack-local stats, published once at the end and summed by main.
//
// Output: one JSON object on stdout (one line) and a one-line summary on
// stderr. Exit 0 on success, 1 on a runtime failure (cannot listen, ...),
// 2 on bad flags.
// Over 400 lines: a self-contained program (flags, server, clients, drain,
// report) that links nothing of tcpfsm, so the load is the same whatever
// tcpfsm version it measures.

#include <arpa/inet.h>
#include <linux/inet_diag.h>
#include <linux/netlink.h>
#include <linux/sock_diag.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <cerrno>
#include <charconv>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <limits>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <system_error>
#include <thread>
#include <vector>

namespace {

constexpr const char* kProg = "tcpfsm_loadgen";
constexpr int kBacklog = 4096;
constexpr int64_t kNsPerSec = 1'000'000'000;
// Open loop: never burst more than this much schedule backlog.
constexpr int64_t kMaxBacklogNs = 1'000'000;
// After the clients finish, wait at most this long for the last sockets to
// settle (see count_unsettled()).
constexpr int64_t kDrainTimeoutNs = 3 * kNsPerSec;
// Per-errno counters: slot = errno, the last slot collects anything larger.
constexpr int kErrnoSlots = 256;

// ---------------------------------------------------------------------------
// Options

enum class Mode { Closed, Open };

struct Options {
  Mode mode = Mode::Closed;
  unsigned threads = 2;
  unsigned server_threads = 1;
  double duration_s = 5.0;
  bool duration_set = false;
  std::optional<uint64_t> connections;
  std::optional<double> rate;
  uint16_t port = 5201;
  unsigned addresses = 200;
  bool linger0 = false;
  std::string ready_file;
  double start_delay_s = 0.0;
};

void print_usage(std::FILE* out) {
  std::fprintf(out,
               "usage: %s [options]\n"
               "\n"
               "Loopback short-connection load generator (server and clients in one process).\n"
               "Prints one JSON object on stdout at the end.\n"
               "\n"
               "  --mode closed|open     closed: as fast as possible (default); open: fixed --rate\n"
               "  --rate R               open loop: total connections/s across all client threads;\n"
               "                         starts more than 1 ms behind schedule are skipped, counted\n"
               "                         as \"late\" in the output\n"
               "  --threads N            client threads (default 2)\n"
               "  --server-threads N     accepting threads (default 1)\n"
               "  --duration S           seconds, fractional allowed (default 5; unlimited when only\n"
               "                         --connections is given)\n"
               "  --connections N        stop after exactly N connection attempts in total\n"
               "                         (with --duration: whichever comes first)\n"
               "  --port P               listening port (default 5201)\n"
               "  --addresses K          destinations 127.0.0.1 and the K-1 loopback addresses after it (default 200, "
               "1..65535)\n"
               "  --linger0              clients close with SO_LINGER {1,0} (RST, no TIME_WAIT)\n"
               "  --ready-file PATH      write \"ready\\n\" to PATH once the server is listening\n"
               "  --start-delay S        wait S seconds after listening before clients start (default 0)\n"
               "  --help                 this text\n",
               kProg);
}

[[noreturn]] void usage_error(const std::string& msg) {
  std::fprintf(stderr, "%s: %s (see --help)\n", kProg, msg.c_str());
  std::exit(2);
}

template <typename T>
T parse_uint(std::string_view flag, std::string_view v, T lo, T hi) {
  T out{};
  const char* b = v.data();
  const char* e = v.data() + v.size();
  auto [p, ec] = std::from_chars(b, e, out);
  if (v.empty() || ec != std::errc{} || p != e || out < lo || out > hi) {
    usage_error("invalid value '" + std::string(v) + "' for " + std::string(flag) + " (expected an integer in " +
                std::to_string(lo) + ".." + std::to_string(hi) + ")");
  }
  return out;
}

double parse_double(std::string_view flag, std::string_view v, bool allow_zero) {
  double out = 0;
  const char* b = v.data();
  const char* e = v.data() + v.size();
  auto [p, ec] = std::from_chars(b, e, out);
  if (v.empty() || ec != std::errc{} || p != e || !std::isfinite(out) || out < 0 || (!allow_zero && out == 0)) {
    usage_error("invalid value '" + std::string(v) + "' for " + std::string(flag) + " (expected a " +
                (allow_zero ? "non-negative" : "positive") + " number)");
  }
  return out;
}

Options parse_args(int argc, char** argv) {
  Options o;
  for (int i = 1; i < argc; ++i) {
    std::string_view arg = argv[i];
    if (arg.size() < 3 || arg.substr(0, 2) != "--") {
      usage_error("unexpected argument '" + std::string(arg) + "'");
    }
    std::string_view name = arg;
    std::optional<std::string_view> inline_value;
    if (auto eq = arg.find('='); eq != std::string_view::npos) {
      name = arg.substr(0, eq);
      inline_value = arg.substr(eq + 1);
    }

    // Boolean flags.
    if (name == "--help" || name == "--linger0") {
      if (inline_value) usage_error(std::string(name) + " takes no value");
      if (name == "--help") {
        print_usage(stdout);
        std::exit(0);
      }
      o.linger0 = true;
      continue;
    }

    auto value = [&]() -> std::string_view {
      if (inline_value) return *inline_value;
      if (i + 1 >= argc) usage_error(std::string(name) + " requires a value");
      return argv[++i];
    };

    if (name == "--mode") {
      std::string_view v = value();
      if (v == "closed") {
        o.mode = Mode::Closed;
      } else if (v == "open") {
        o.mode = Mode::Open;
      } else {
        usage_error("invalid value '" + std::string(v) + "' for --mode (expected closed or open)");
      }
    } else if (name == "--rate") {
      o.rate = parse_double(name, value(), false);
    } else if (name == "--threads") {
      o.threads = parse_uint<unsigned>(name, value(), 1, 4096);
    } else if (name == "--server-threads") {
      o.server_threads = parse_uint<unsigned>(name, value(), 1, 1024);
    } else if (name == "--duration") {
      o.duration_s = parse_double(name, value(), false);
      o.duration_set = true;
    } else if (name == "--connections") {
      o.connections = parse_uint<uint64_t>(name, value(), 1, std::numeric_limits<uint64_t>::max());
    } else if (name == "--port") {
      o.port = parse_uint<uint16_t>(name, value(), 1, 65535);
    } else if (name == "--addresses") {
      o.addresses = parse_uint<unsigned>(name, value(), 1, 65535);
    } else if (name == "--ready-file") {
      std::string_view v = value();
      if (v.empty()) usage_error("--ready-file requires a non-empty path");
      o.ready_file = std::string(v);
    } else if (name == "--start-delay") {
      o.start_delay_s = parse_double(name, value(), true);
    } else {
      usage_error("unknown flag '" + std::string(name) + "'");
    }
  }
  if (o.mode == Mode::Open && !o.rate) usage_error("--mode open requires --rate");
  if (o.mode == Mode::Closed && o.rate) usage_error("--rate requires --mode open");
  if (o.duration_s * 1e9 > 9e18) usage_error("--duration is too large");
  if (o.start_delay_s * 1e9 > 9e18) usage_error("--start-delay is too large");
  return o;
}

// ---------------------------------------------------------------------------
// Time and signals

std::atomic<bool> g_interrupted{false};  // SIGINT/SIGTERM: stop early, still report
std::atomic<bool> g_server_stop{false};

extern "C" void on_signal(int) { g_interrupted.store(true, std::memory_order_relaxed); }

int64_t now_ns() {
  timespec ts{};
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<int64_t>(ts.tv_sec) * kNsPerSec + ts.tv_nsec;
}

timespec to_timespec(int64_t ns) {
  timespec ts{};
  ts.tv_sec = static_cast<time_t>(ns / kNsPerSec);
  ts.tv_nsec = static_cast<long>(ns % kNsPerSec);
  return ts;
}

// Sleep until the absolute CLOCK_MONOTONIC time `t`; returns early only when
// interrupted by SIGINT/SIGTERM.
void sleep_until(int64_t t) {
  const timespec ts = to_timespec(t);
  while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, nullptr) == EINTR) {
    if (g_interrupted.load(std::memory_order_relaxed)) return;
  }
}

int errno_slot(int e) { return (e >= 0 && e < kErrnoSlots - 1) ? e : kErrnoSlots - 1; }

std::string errno_name(int slot) {
  if (slot == kErrnoSlots - 1) return "other";
  if (const char* n = strerrorname_np(slot)) return n;
  return "errno_" + std::to_string(slot);
}

// ---------------------------------------------------------------------------
// Server

struct ServerStats {
  uint64_t accepted = 0;
  uint64_t errors = 0;
};

void server_loop(int lfd, ServerStats& out) {
  ServerStats st;
  for (;;) {
    const int fd = accept4(lfd, nullptr, nullptr, SOCK_CLOEXEC);
    if (fd >= 0) {
      close(fd);
      ++st.accepted;
      continue;
    }
    const int e = errno;
    // shutdown(SHUT_RDWR) on the listener wakes accept() with EINVAL.
    if (g_server_stop.load(std::memory_order_acquire)) break;
    if (e == EINTR) continue;
    ++st.errors;
    if (e == ECONNABORTED) continue;
    if (e == EMFILE || e == ENFILE || e == ENOBUFS || e == ENOMEM) {
      sleep_until(now_ns() + 1'000'000);  // resource exhaustion: back off 1 ms
      continue;
    }
    std::fprintf(stderr, "%s: accept: %s\n", kProg, std::strerror(e));
    break;
  }
  out = st;
}

// ---------------------------------------------------------------------------
// Clients

struct ClientStats {
  uint64_t attempts = 0;   // socket() calls made
  uint64_t completed = 0;  // connect ok, server FIN seen (recv() == 0), closed
  uint64_t recv_errors = 0;
  uint64_t late = 0;  // open loop: scheduled starts skipped, being > 1 ms behind
  std::array<uint64_t, kErrnoSlots> connect_errno{};
  std::array<uint64_t, kErrnoSlots> socket_errno{};
  int64_t first_start_ns = 0;
  int64_t last_end_ns = 0;
};

struct ClientShared {
  const Options* opt = nullptr;
  std::vector<sockaddr_in> destinations;
  std::vector<uint64_t> quota;  // per thread; UINT64_MAX = no count limit
  std::atomic<bool> go{false};
  int64_t start_ns = 0;     // written before `go`
  int64_t deadline_ns = 0;  // written before `go`; INT64_MAX = no time limit
};

// One connection on `fd`: connect, then read until the server's FIN.
inline void connect_and_wait(int fd, const sockaddr_in& dst, ClientStats& st) {
  char buf[64];
  if (connect(fd, reinterpret_cast<const sockaddr*>(&dst), sizeof dst) != 0) {
    ++st.connect_errno[errno_slot(errno)];
    return;
  }
  for (;;) {
    const ssize_t r = recv(fd, buf, sizeof buf, 0);
    if (r == 0) {
      ++st.completed;
      return;
    }
    if (r < 0) {
      if (errno == EINTR) continue;
      ++st.recv_errors;
      return;
    }
    // r > 0: the server never sends data; keep reading until its FIN.
  }
}

void client_loop(const ClientShared& sh, unsigned id, ClientStats& out) {
  ClientStats st;
  const Options& opt = *sh.opt;
  const uint64_t quota = sh.quota[id];
  const auto ndest = static_cast<unsigned>(sh.destinations.size());
  unsigned dest = id % ndest;
  const linger lg{1, 0};

  const bool open_loop = opt.mode == Mode::Open;
  // The default 50 us timer slack would make every open-loop sleep overshoot.
  if (open_loop) (void)prctl(PR_SET_TIMERSLACK, 1UL, 0UL, 0UL, 0UL);

  sh.go.wait(false, std::memory_order_acquire);
  const int64_t deadline = sh.deadline_ns;

  // Open loop: this thread's share of the rate; the threads' schedules are
  // staggered by a fraction of the interval so they do not start in lockstep.
  const double interval_ns = open_loop ? static_cast<double>(kNsPerSec) * opt.threads / *opt.rate : 0.0;
  double next_ns = static_cast<double>(sh.start_ns) + interval_ns * id / opt.threads;

  while (st.attempts < quota && !g_interrupted.load(std::memory_order_relaxed)) {
    int64_t now = now_ns();
    if (open_loop) {
      if (next_ns >= static_cast<double>(deadline)) break;
      if (next_ns > static_cast<double>(now)) {
        sleep_until(static_cast<int64_t>(next_ns));
        if (g_interrupted.load(std::memory_order_relaxed)) break;
        now = now_ns();
      } else if (const double behind = static_cast<double>(now - kMaxBacklogNs) - next_ns; behind > 0) {
        // More than 1 ms behind schedule: do not burst to catch up. The
        // slots older than 1 ms are skipped and counted as late; the schedule
        // keeps its grid, so connections + late ~= rate * duration.
        // Only slots before the deadline count.
        const double skipped = std::min(std::ceil(behind / interval_ns),
                                        std::ceil((static_cast<double>(deadline) - next_ns) / interval_ns));
        st.late += static_cast<uint64_t>(skipped);
        next_ns += skipped * interval_ns;
        if (next_ns >= static_cast<double>(deadline)) break;
      }
      next_ns += interval_ns;
    } else if (now >= deadline) {
      break;
    }

    if (st.attempts == 0) st.first_start_ns = now;
    ++st.attempts;

    const int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) {
      ++st.socket_errno[errno_slot(errno)];
      st.last_end_ns = now_ns();
      continue;
    }
    if (opt.linger0) (void)setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof lg);

    connect_and_wait(fd, sh.destinations[dest], st);
    if (++dest == ndest) dest = 0;
    close(fd);
    st.last_end_ns = now_ns();
  }
  out = st;
}

// ---------------------------------------------------------------------------
// Drain

// close() returns with the client socket in LAST_ACK; its last transition
// (LAST_ACK>CLOSE) comes with the server's ACK, normally microseconds later,
// but a delayed ACK or a tail loss probe can push it out by a few hundred ms.
// Likewise a server child can still be in FIN_WAIT1. So before reporting we
// wait until no socket on our port is in a state that still owes a
// transition; then every transition counted in transitions_expected has
// happened when the JSON appears (and a netns torn down right after exit
// loses nothing).
//
// Counts, via NETLINK_SOCK_DIAG in the current netns, the TCP sockets with
// source or destination port `port` in SYN_SENT, SYN_RECV, NEW_SYN_RECV,
// ESTABLISHED, FIN_WAIT1, FIN_WAIT2 (full sockets only), CLOSE_WAIT, LAST_ACK
// or CLOSING. Not counted: LISTEN, TIME_WAIT and timewait sockets in
// FIN_WAIT2, whose FIN_WAIT2>CLOSE has already fired. nullopt if the dump
// fails.
std::optional<uint64_t> count_unsettled(uint16_t port, std::vector<char>& buf) {
  enum : unsigned {  // kernel TCP state numbers
    kEstablished = 1,
    kSynSent = 2,
    kSynRecv = 3,
    kFinWait1 = 4,
    kFinWait2 = 5,
    kCloseWait = 8,
    kLastAck = 9,
    kClosing = 11,
    kNewSynRecv = 12,
  };
  constexpr uint8_t kTimewaitTimer = 3;  // inet_diag_msg.idiag_timer of a timewait socket
  const int fd = socket(AF_NETLINK, SOCK_DGRAM | SOCK_CLOEXEC, NETLINK_SOCK_DIAG);
  if (fd < 0) return std::nullopt;

  struct {
    nlmsghdr nlh;
    inet_diag_req_v2 req;
  } msg{};
  msg.nlh.nlmsg_len = sizeof msg;
  msg.nlh.nlmsg_type = SOCK_DIAG_BY_FAMILY;
  msg.nlh.nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP;
  msg.req.sdiag_family = AF_INET;
  msg.req.sdiag_protocol = IPPROTO_TCP;
  for (unsigned st :
       {kEstablished, kSynSent, kSynRecv, kFinWait1, kFinWait2, kCloseWait, kLastAck, kClosing, kNewSynRecv}) {
    msg.req.idiag_states |= 1u << st;
  }
  sockaddr_nl kernel{};
  kernel.nl_family = AF_NETLINK;
  if (sendto(fd, &msg, sizeof msg, 0, reinterpret_cast<const sockaddr*>(&kernel), sizeof kernel) < 0) {
    close(fd);
    return std::nullopt;
  }

  uint64_t n = 0;
  for (;;) {
    const ssize_t len = recv(fd, buf.data(), buf.size(), 0);
    if (len < 0 && errno == EINTR) continue;
    if (len <= 0) break;
    auto left = static_cast<unsigned>(len);
    for (auto* h = reinterpret_cast<nlmsghdr*>(buf.data()); NLMSG_OK(h, left); h = NLMSG_NEXT(h, left)) {
      if (h->nlmsg_type == NLMSG_DONE) {
        close(fd);
        return n;
      }
      if (h->nlmsg_type == NLMSG_ERROR) break;
      if (h->nlmsg_type != SOCK_DIAG_BY_FAMILY || h->nlmsg_len < NLMSG_LENGTH(sizeof(inet_diag_msg))) continue;
      const auto* m = static_cast<const inet_diag_msg*>(NLMSG_DATA(h));
      if (ntohs(m->id.idiag_sport) != port && ntohs(m->id.idiag_dport) != port) continue;
      if (m->idiag_state == kFinWait2 && m->idiag_timer == kTimewaitTimer) continue;
      ++n;
    }
    if (left != 0) break;  // an error or a malformed reply
  }
  close(fd);
  return std::nullopt;
}

struct DrainResult {
  std::optional<uint64_t> unsettled;  // 0 = settled; nullopt = could not tell
  double seconds = 0;
};

DrainResult drain(uint16_t port) {
  std::vector<char> buf(64 * 1024);
  DrainResult r;
  const int64_t start = now_ns();
  for (;;) {
    r.unsettled = count_unsettled(port, buf);
    const int64_t now = now_ns();
    r.seconds = static_cast<double>(now - start) / 1e9;
    if (!r.unsettled || *r.unsettled == 0 || now - start >= kDrainTimeoutNs) return r;
    if (g_interrupted.load(std::memory_order_relaxed)) return r;
    sleep_until(now + 2'000'000);
  }
}

// ---------------------------------------------------------------------------
// Setup helpers

void raise_nofile_limit() {
  rlimit rl{};
  if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
    rl.rlim_cur = rl.rlim_max;
    if (setrlimit(RLIMIT_NOFILE, &rl) != 0) {
      std::fprintf(stderr, "%s: warning: cannot raise RLIMIT_NOFILE: %s\n", kProg, std::strerror(errno));
    }
  }
}

void install_signals() {
  signal(SIGPIPE, SIG_IGN);
  struct sigaction sa {};
  sa.sa_handler = on_signal;
  sigemptyset(&sa.sa_mask);
  sa.sa_flags = SA_RESTART;
  sigaction(SIGINT, &sa, nullptr);
  sigaction(SIGTERM, &sa, nullptr);
}

[[noreturn]] void fail(const std::string& msg) {
  std::fprintf(stderr, "%s: %s\n", kProg, msg.c_str());
  std::exit(1);
}

int make_listener(uint16_t port) {
  const int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) fail(std::string("socket: ") + std::strerror(errno));
  const int one = 1;
  if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) != 0) {
    fail(std::string("setsockopt(SO_REUSEADDR): ") + std::strerror(errno));
  }
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(port);
  addr.sin_addr.s_addr = htonl(INADDR_ANY);
  if (bind(fd, reinterpret_cast<const sockaddr*>(&addr), sizeof addr) != 0) {
    fail("cannot listen on 0.0.0.0:" + std::to_string(port) + ": bind: " + std::strerror(errno));
  }
  if (listen(fd, kBacklog) != 0) {
    fail("cannot listen on 0.0.0.0:" + std::to_string(port) + ": listen: " + std::strerror(errno));
  }
  return fd;
}

// Written via a temporary and rename(), so a poller never sees it half-written.
void write_ready_file(const std::string& path) {
  const std::string tmp = path + ".tmp." + std::to_string(getpid());
  std::FILE* f = std::fopen(tmp.c_str(), "w");
  if (f == nullptr) fail("cannot write ready file " + tmp + ": " + std::strerror(errno));
  const bool ok = std::fputs("ready\n", f) >= 0;
  if (std::fclose(f) != 0 || !ok) fail("cannot write ready file " + tmp + ": " + std::strerror(errno));
  if (std::rename(tmp.c_str(), path.c_str()) != 0) {
    const int e = errno;
    std::remove(tmp.c_str());
    fail("cannot write ready file " + path + ": " + std::strerror(e));
  }
}

// Where each client thread connects and how many connections it makes.
void prepare(ClientShared& sh, const Options& opt) {
  sh.opt = &opt;
  sh.destinations.resize(opt.addresses);
  for (unsigned k = 0; k < opt.addresses; ++k) {
    sockaddr_in& a = sh.destinations[k];
    a = sockaddr_in{};
    a.sin_family = AF_INET;
    a.sin_port = htons(opt.port);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK + k);  // 127.0.0.1 + k
  }
  sh.quota.assign(opt.threads, std::numeric_limits<uint64_t>::max());
  if (opt.connections) {
    const uint64_t base = *opt.connections / opt.threads;
    const uint64_t rem = *opt.connections % opt.threads;
    for (unsigned i = 0; i < opt.threads; ++i) sh.quota[i] = base + (i < rem ? 1 : 0);
  }
}

// What every thread did, summed.
struct Totals {
  uint64_t attempts = 0, completed = 0, recv_errors = 0, late = 0, accepted = 0, accept_errors = 0;
  std::array<uint64_t, kErrnoSlots> connect_errno{}, socket_errno{};
  uint64_t connect_error_total = 0, socket_error_total = 0;
  double duration = 0, rate = 0;
};

Totals sum(const std::vector<ClientStats>& clients, const std::vector<ServerStats>& servers) {
  Totals t;
  int64_t first = std::numeric_limits<int64_t>::max(), last = std::numeric_limits<int64_t>::min();
  for (const auto& s : clients) {
    t.attempts += s.attempts;
    t.completed += s.completed;
    t.recv_errors += s.recv_errors;
    t.late += s.late;
    for (int e = 0; e < kErrnoSlots; ++e) {
      t.connect_errno[e] += s.connect_errno[e];
      t.socket_errno[e] += s.socket_errno[e];
      t.connect_error_total += s.connect_errno[e];
      t.socket_error_total += s.socket_errno[e];
    }
    if (s.attempts > 0) {
      first = std::min(first, s.first_start_ns);
      last = std::max(last, s.last_end_ns);
    }
  }
  for (const auto& s : servers) {
    t.accepted += s.accepted;
    t.accept_errors += s.errors;
  }
  t.duration = t.attempts > 0 ? static_cast<double>(last - first) / 1e9 : 0.0;
  t.rate = t.duration > 0 ? static_cast<double>(t.completed) / t.duration : 0.0;
  return t;
}

// The JSON line bench.sh reads.
nlohmann::ordered_json report_json(const Options& opt, const Totals& t, const DrainResult& drained) {
  nlohmann::ordered_json connect_errors = nlohmann::ordered_json::object();
  nlohmann::ordered_json socket_errors = nlohmann::ordered_json::object();
  for (int e = 0; e < kErrnoSlots; ++e) {
    if (t.connect_errno[e] != 0) connect_errors[errno_name(e)] = t.connect_errno[e];
    if (t.socket_errno[e] != 0) socket_errors[errno_name(e)] = t.socket_errno[e];
  }
  const uint64_t error_total = t.connect_error_total + t.socket_error_total + t.recv_errors;
  nlohmann::ordered_json j;
  j["mode"] = opt.mode == Mode::Open ? "open" : "closed";
  j["threads"] = opt.threads;
  j["server_threads"] = opt.server_threads;
  j["duration_s"] = t.duration;
  j["connections"] = t.completed;
  j["attempts"] = t.attempts;
  j["accepted"] = t.accepted;
  j["rate"] = t.rate;
  j["errors"] = {
      {"connect", connect_errors}, {"recv", t.recv_errors}, {"socket", socket_errors}, {"accept", t.accept_errors}};
  j["late"] = t.late;
  j["target_rate"] = opt.rate ? nlohmann::ordered_json(*opt.rate) : nlohmann::ordered_json(nullptr);
  j["linger0"] = opt.linger0;
  j["addresses"] = opt.addresses;
  j["port"] = opt.port;
  // A loopback connection with a normal close makes exactly 10
  // inet_sock_set_state transitions. The server closes first (active close),
  // the client closes after seeing the FIN (passive close):
  //   client: CLOSE>SYN_SENT, SYN_SENT>ESTABLISHED, ESTABLISHED>CLOSE_WAIT,
  //           CLOSE_WAIT>LAST_ACK, LAST_ACK>CLOSE
  //   server child: LISTEN>SYN_RECV, SYN_RECV>ESTABLISHED,
  //           ESTABLISHED>FIN_WAIT1, FIN_WAIT1>FIN_WAIT2, FIN_WAIT2>CLOSE
  //           (FIN_WAIT2/TIME_WAIT continue as a timewait socket, no event).
  // Not included: the listener itself (CLOSE>LISTEN at startup, before the
  // ready file; LISTEN>CLOSE at shutdown).
  // With --linger0 the count differs: the client's close from CLOSE_WAIT
  // sends an RST and goes straight to CLOSE (CLOSE_WAIT>CLOSE instead of
  // CLOSE_WAIT>LAST_ACK>CLOSE), and what the server child sees depends on
  // timing, so we report null. Failed attempts make transitions of their own
  // (a failed connect typically CLOSE>SYN_SENT>CLOSE) and a recv error leaves
  // the connection's path unknown, so any error also makes it null.
  if (!opt.linger0 && error_total == 0) {
    j["transitions_expected"] = 10 * t.completed;
  } else {
    j["transitions_expected"] = nullptr;
  }
  // Sockets still owing a transition after the drain timeout (0 = every
  // expected transition has happened; null = could not check).
  j["unsettled"] = drained.unsettled ? nlohmann::ordered_json(*drained.unsettled) : nlohmann::ordered_json(nullptr);
  j["drain_s"] = drained.seconds;
  if (g_interrupted.load()) j["interrupted"] = true;
  return j;
}

void report_text(const Options& opt, const Totals& t, const DrainResult& drained) {
  std::fprintf(stderr,
               "%s: %s loop, %u client threads: %llu connections in %.3f s = %.0f conn/s%s; "
               "errors: connect %llu, socket %llu, recv %llu, accept %llu; late %llu; accepted %llu; "
               "unsettled %s after %.3f s%s\n",
               kProg, opt.mode == Mode::Open ? "open" : "closed", opt.threads,
               static_cast<unsigned long long>(t.completed), t.duration, t.rate,
               opt.rate ? (" (target " + std::to_string(static_cast<long long>(*opt.rate)) + "/s)").c_str() : "",
               static_cast<unsigned long long>(t.connect_error_total),
               static_cast<unsigned long long>(t.socket_error_total), static_cast<unsigned long long>(t.recv_errors),
               static_cast<unsigned long long>(t.accept_errors), static_cast<unsigned long long>(t.late),
               static_cast<unsigned long long>(t.accepted),
               drained.unsettled ? std::to_string(*drained.unsettled).c_str() : "unknown", drained.seconds,
               g_interrupted.load() ? " (interrupted)" : "");
}

int run(const Options& opt) {
  install_signals();
  raise_nofile_limit();

  const int lfd = make_listener(opt.port);
  std::vector<ServerStats> server_stats(opt.server_threads);
  std::vector<std::thread> servers;
  servers.reserve(opt.server_threads);
  for (unsigned i = 0; i < opt.server_threads; ++i) {
    servers.emplace_back(server_loop, lfd, std::ref(server_stats[i]));
  }

  if (!opt.ready_file.empty()) write_ready_file(opt.ready_file);
  if (opt.start_delay_s > 0) sleep_until(now_ns() + static_cast<int64_t>(opt.start_delay_s * 1e9));

  ClientShared sh;
  prepare(sh, opt);
  std::vector<ClientStats> client_stats(opt.threads);
  std::vector<std::thread> clients;
  clients.reserve(opt.threads);
  for (unsigned i = 0; i < opt.threads; ++i) {
    clients.emplace_back(client_loop, std::cref(sh), i, std::ref(client_stats[i]));
  }

  // Release all clients at once; with only --connections there is no time limit.
  sh.start_ns = now_ns();
  const bool time_limited = opt.duration_set || !opt.connections;
  sh.deadline_ns =
      time_limited ? sh.start_ns + static_cast<int64_t>(opt.duration_s * 1e9) : std::numeric_limits<int64_t>::max();
  sh.go.store(true, std::memory_order_release);
  sh.go.notify_all();

  for (auto& t : clients) t.join();
  const DrainResult drained = drain(opt.port);

  // Every completed client has seen its FIN, so the server has nothing left
  // to accept. shutdown() moves the listener to CLOSE and wakes accept().
  g_server_stop.store(true, std::memory_order_release);
  shutdown(lfd, SHUT_RDWR);
  for (auto& t : servers) t.join();
  close(lfd);

  const Totals totals = sum(client_stats, server_stats);
  const std::string line = report_json(opt, totals, drained).dump() + "\n";
  std::fwrite(line.data(), 1, line.size(), stdout);
  std::fflush(stdout);
  report_text(opt, totals, drained);
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  const Options opt = parse_args(argc, argv);
  try {
    return run(opt);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "%s: %s\n", kProg, e.what());
    return 1;
  }
}
