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
#include "tcpfsm/exporter.hpp"
#include "tcpfsm/metrics.hpp"

namespace tcpfsm {
namespace {

constexpr double kPublishS = 0.5;

std::string endpoint(const ServeOptions& o) {
  return o.host.find(':') != std::string::npos ? "[" + o.host + "]:" + std::to_string(o.port)
                                               : o.host + ":" + std::to_string(o.port);
}

}  // namespace

Status run_serve(const ServeOptions& opts) {
  httplib::Server srv;
  PublishedMetrics pub;
  configure_exporter(srv, pub);

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
  lopts.records = opts.records;
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
