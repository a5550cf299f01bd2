// The exporter of `tcpfsm serve` with its real routes and limits
// (configure_exporter), on 127.0.0.1 and an ephemeral port. Each input is
// sent as-is over a fresh connection; whatever comes back within a short
// timeout is read and the connection closed. Every kLivenessEvery inputs a
// well-formed GET /healthz must still get "HTTP/1.1 200": the server has to
// keep serving after any input.
#include <arpa/inet.h>
#include <httplib.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <csignal>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>
#include <string_view>
#include <thread>

#include "views/exporter.hpp"
#include "views/metrics.hpp"

namespace {

// A loopback answer comes within a few milliseconds. An input with no blank
// line has no complete header block, so the server waits for more (its read
// timeout is 5 s) or answers a bad request line at once: a short wait is enough.
// Either way the server reads every byte sent before our close.
constexpr int kFirstByteTimeoutMs = 50;
constexpr int kIncompleteTimeoutMs = 5;
constexpr int kDrainTimeoutMs = 1;      // after the first bytes: the rest of a response is already queued
constexpr int kHealthTimeoutMs = 2000;  // generous: both workers may still be finishing earlier inputs
constexpr int kConnectTries = 10;       // connects of up to 1 s each (SO_SNDTIMEO) before a busy exporter is a finding
constexpr unsigned kLivenessEvery = 100;

struct Exporter {
  tcpfsm::PublishedMetrics pub;
  std::shared_ptr<const tcpfsm::MetricsSnapshot> snap;
  httplib::Server srv;
  int port = -1;
};

std::shared_ptr<const tcpfsm::MetricsSnapshot> small_snapshot() {
  auto s = std::make_shared<tcpfsm::MetricsSnapshot>();
  s->sockets[0][TCPFSM_ESTABLISHED] = 12;
  s->sockets[0][TCPFSM_TIME_WAIT] = 3;
  s->sockets[1][TCPFSM_LISTEN] = 2;
  s->transitions[TCPFSM_SYN_SENT][TCPFSM_ESTABLISHED] = 40;
  s->transitions[TCPFSM_ESTABLISHED][TCPFSM_FIN_WAIT1] = 30;
  s->durations[TCPFSM_ESTABLISHED].record(1'500'000);
  s->durations[TCPFSM_SYN_SENT].record(250'000);
  s->timewait_ends = {5, 1};
  s->counters.events = 100;
  s->counters.ringbuf_drops = 1;
  s->drift = 2;
  s->reconciliations = 7;
  s->tracked = 17;
  s->stuck.push_back({TCPFSM_CLOSE_WAIT, "curl", "4c01db0b339c", 3});
  s->stuck.push_back({TCPFSM_FIN_WAIT2, "<orphaned>", "", 1});
  s->stuck_known = true;
  s->bpf.push_back({"handle_set_state", 123456, 789});
  s->version = "fuzz";
  return s;
}

// A connected TCP socket to the exporter, send/receive bounded by timeouts, or -1.
int connect_once(int port) {
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return -1;
  const timeval rcv{0, kFirstByteTimeoutMs * 1000};  // receive() also polls with its own timeouts
  const timeval snd{1, 0};
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &rcv, sizeof(rcv));
  ::setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &snd, sizeof(snd));
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(static_cast<uint16_t>(port));
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::connect(fd, reinterpret_cast<const sockaddr*>(&a), sizeof(a)) != 0) {
    const int err = errno;
    ::close(fd);
    errno = err;
    return -1;
  }
  return fd;
}

// A connect that SO_SNDTIMEO cut short (EINPROGRESS) met a full accept
// queue: the exporter still busy with earlier inputs while other fuzzers
// share the two CPUs, so its SYN waits for a retransmission. That is load,
// not a finding; an exporter that accepts nothing for kConnectTries seconds is.
// A signal that lands in that wait (libFuzzer's own timers) is EINTR: the
// same, tried again on a new socket (CI once aborted on it).
int connect_to(int port) {
  for (int i = 0;; ++i) {
    const int fd = connect_once(port);
    if (fd >= 0 || (errno != EINPROGRESS && errno != EINTR) || i + 1 >= kConnectTries) return fd;
  }
}

void send_all(int fd, const uint8_t* data, size_t size) {
  while (size > 0) {
    const ssize_t n = ::send(fd, data, size, MSG_NOSIGNAL);
    if (n <= 0) return;  // the server may close early (400, payload too large): not an error
    data += n;
    size -= static_cast<size_t>(n);
  }
}

// Reads what the server sends: waits up to kFirstByteTimeoutMs for the first
// bytes (first_timeout_ms), then drains while more keep coming. Stops at EOF.
std::string receive(int fd, int first_timeout_ms, size_t keep = 64) {
  std::string got;
  int timeout = first_timeout_ms;
  char buf[4096];
  for (;;) {
    pollfd p{fd, POLLIN, 0};
    if (::poll(&p, 1, timeout) <= 0) break;
    const ssize_t n = ::recv(fd, buf, sizeof(buf), MSG_DONTWAIT);
    if (n <= 0) break;
    if (got.size() < keep) got.append(buf, std::min(static_cast<size_t>(n), keep - got.size()));
    timeout = kDrainTimeoutMs;
  }
  return got;
}

// GET /healthz answers 200; the consumer "publishes" first, as serve's does every 0.5 s.
bool healthy(Exporter& ex, std::string* got_out = nullptr) {
  ex.pub.set(ex.snap);
  constexpr std::string_view req = "GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n";
  const int fd = connect_to(ex.port);
  if (fd < 0) return false;
  send_all(fd, reinterpret_cast<const uint8_t*>(req.data()), req.size());
  const std::string got = receive(fd, kHealthTimeoutMs);
  ::close(fd);
  if (got_out) *got_out = got;
  return got.starts_with("HTTP/1.1 200");
}

Exporter& exporter() {
  // Never destroyed: the listener thread runs until the process exits.
  static Exporter* ex = [] {
    // As tcpfsm's main does: a peer that closed early is EPIPE, not a signal.
    std::signal(SIGPIPE, SIG_IGN);
    auto* e = new Exporter;
    e->snap = small_snapshot();
    e->pub.set(e->snap);
    tcpfsm::configure_exporter(e->srv, e->pub);
    e->port = e->srv.bind_to_any_port("127.0.0.1");
    if (e->port <= 0) {
      std::fprintf(stderr, "fuzz_http: cannot bind 127.0.0.1\n");
      std::abort();
    }
    std::thread([e] { e->srv.listen_after_bind(); }).detach();
    for (int i = 0; i < 500 && !e->srv.is_running(); ++i) std::this_thread::sleep_for(std::chrono::milliseconds(10));
    std::string got;
    if (!healthy(*e, &got)) {
      std::fprintf(stderr, "fuzz_http: the exporter does not answer /healthz at start: \"%s\"\n", got.c_str());
      std::abort();
    }
    return e;
  }();
  return *ex;
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  (void)exporter();
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static unsigned inputs = 0;
  Exporter& ex = exporter();
  const int fd = connect_to(ex.port);
  if (fd < 0) {
    std::fprintf(stderr, "fuzz_http: cannot connect to the exporter: %s\n", std::strerror(errno));
    std::abort();
  }
  send_all(fd, data, size);
  const std::string_view in(reinterpret_cast<const char*>(data), size);
  const bool headers_end = in.find("\r\n\r\n") != std::string_view::npos || in.find("\n\n") != std::string_view::npos;
  (void)receive(fd, headers_end ? kFirstByteTimeoutMs : kIncompleteTimeoutMs);
  ::close(fd);

  if (++inputs % kLivenessEvery == 0) {
    std::string got;
    if (!healthy(ex, &got)) {
      std::fprintf(stderr, "fuzz_http: the exporter stopped serving: /healthz got \"%s\"\n", got.c_str());
      std::abort();
    }
  }
  return 0;
}
