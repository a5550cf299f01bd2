// `tcpfsm serve`: the live engine of `stats`, exported to Prometheus.
//
// The consumer thread copies a MetricsSnapshot (fixed size: no per-socket
// data) every kPublishMs; HTTP threads render the newest one. Neither ever
// waits for the other beyond a pointer swap.
#include <httplib.h>
#include <spdlog/spdlog.h>

#include <atomic>
#include <cerrno>
#include <cstring>
#include <memory>
#include <mutex>
#include <thread>

#include "live.hpp"
#include "run_control.hpp"
#include "tcpfsm/cli.hpp"
#include "tcpfsm/commands.hpp"
#include "tcpfsm/metrics.hpp"

namespace tcpfsm {
namespace {

constexpr double kPublishS = 0.5;
// Requests are a line and a few headers: anything bigger is refused.
constexpr size_t kMaxPayload = 4096;
constexpr int kHttpThreads = 2;

class Published {
 public:
  void set(std::shared_ptr<const MetricsSnapshot> s) {
    std::lock_guard<std::mutex> lock(mu_);
    snap_ = std::move(s);
    published_ns_ = monotonic_ns();
  }
  std::shared_ptr<const MetricsSnapshot> get() const {
    std::lock_guard<std::mutex> lock(mu_);
    return snap_;
  }
  uint64_t age_ns() const {
    std::lock_guard<std::mutex> lock(mu_);
    return published_ns_ ? monotonic_ns() - published_ns_ : UINT64_MAX;
  }

 private:
  mutable std::mutex mu_;
  std::shared_ptr<const MetricsSnapshot> snap_;
  uint64_t published_ns_ = 0;
};

std::string endpoint(const ServeOptions& o) {
  return o.host.find(':') != std::string::npos ? "[" + o.host + "]:" + std::to_string(o.port)
                                               : o.host + ":" + std::to_string(o.port);
}

void setup_routes(httplib::Server& srv, const Published& pub) {
  using httplib::Request;
  using httplib::Response;
  srv.set_pre_routing_handler([](const Request& req, Response& res) {
    if (req.method == "GET" || req.method == "HEAD") return httplib::Server::HandlerResponse::Unhandled;
    res.status = 405;
    res.set_header("Allow", "GET, HEAD");
    res.set_content("only GET and HEAD are served\n", "text/plain");
    return httplib::Server::HandlerResponse::Handled;
  });
  srv.Get("/metrics", [&pub](const Request&, Response& res) {
    auto snap = pub.get();
    if (!snap) {
      res.status = 503;
      res.set_content("tcpfsm is starting\n", "text/plain");
      return;
    }
    res.set_content(render_metrics(*snap), "text/plain; version=0.0.4; charset=utf-8");
  });
  srv.Get("/healthz", [&pub](const Request&, Response& res) {
    // Healthy while the consumer publishes: it does so every half second.
    if (pub.age_ns() < 5'000'000'000ULL) {
      res.set_content("ok\n", "text/plain");
    } else {
      res.status = 503;
      res.set_content("the event consumer has not published for 5 s\n", "text/plain");
    }
  });
  srv.Get("/", [](const Request&, Response& res) {
    res.set_content("tcpfsm exporter: see /metrics and /healthz\n", "text/plain");
  });
  srv.set_error_handler([](const Request&, Response& res) {
    if (res.body.empty()) res.set_content(std::to_string(res.status) + "\n", "text/plain");
  });
}

}  // namespace

Status run_serve(const ServeOptions& opts) {
  httplib::Server srv;
  srv.new_task_queue = [] { return new httplib::ThreadPool(kHttpThreads); };
  srv.set_payload_max_length(kMaxPayload);
  srv.set_read_timeout(5, 0);
  srv.set_write_timeout(5, 0);
  srv.set_keep_alive_max_count(100);
  srv.set_keep_alive_timeout(5);
  Published pub;
  setup_routes(srv, pub);

  // Bind before loading anything: a port in use fails at once.
  errno = 0;
  if (!srv.bind_to_port(opts.host, opts.port)) {
    const int err = errno;
    return Error::runtime("cannot listen on " + endpoint(opts) + ": " +
                              (err ? std::string(std::strerror(err)) : std::string("bind failed")) +
                              "; is another exporter using the port? choose another with --listen",
                          err);
  }
  std::thread http([&srv] { srv.listen_after_bind(); });
  struct Stopper {
    httplib::Server& s;
    std::thread& t;
    ~Stopper() {
      s.stop();
      if (t.joinable()) t.join();
    }
  } stopper{srv, http};

  LiveOptions lopts;
  lopts.filter = opts.filter;
  lopts.duration_s = opts.duration_s;
  lopts.reconcile_s = opts.reconcile_s;
  lopts.ringbuf_bytes = opts.ringbuf_bytes;
  lopts.stuck_min_age_s = opts.stuck_min_age_s;
  lopts.stuck_period = std::chrono::seconds(5);
  lopts.tick_s = kPublishS;

  auto publish = [&](LiveState& s) -> Status {
    auto snap = std::make_shared<MetricsSnapshot>();
    fill_snapshot(*snap, s.table);
    snap->counters = s.ctx.counters;
    snap->drift = s.ctx.last_drift;
    snap->reconciliations = s.ctx.reconciliations;
    if (s.ctx.stuck) {
      snap->stuck = stuck_series(*s.ctx.stuck, opts.stuck_top);
      snap->stuck_known = true;
    }
    if (opts.bpf_stats) {
      for (auto& p : s.tracer.prog_stats()) snap->bpf.push_back({std::move(p.name), p.run_ns, p.runs});
    }
    snap->version = kVersion;
    pub.set(std::move(snap));
    return Ok{};
  };
  auto on_start = [&](LiveState& s) -> Status {
    if (opts.bpf_stats) {
      if (auto st = s.tracer.enable_bpf_stats(); !st) return st;
    }
    spdlog::info("serving http://{}/metrics", endpoint(opts));
    return publish(s);
  };
  return run_live(lopts, on_start, publish, nullptr);
}

}  // namespace tcpfsm
