// The HTTP side of `tcpfsm serve`: what is served and how requests are
// bounded. Kept apart from the command so it can be fuzzed with a real
// server and any snapshot.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>

#include "views/metrics.hpp"

namespace httplib {
class Server;
}

namespace tcpfsm {

// The newest snapshot, swapped in by the consumer thread and read by the
// HTTP threads; neither holds the lock longer than a pointer copy.
class PublishedMetrics {
 public:
  void set(std::shared_ptr<const MetricsSnapshot> s);
  std::shared_ptr<const MetricsSnapshot> get() const;
  // Since the last set(); UINT64_MAX before the first.
  uint64_t age_ns() const;

 private:
  mutable std::mutex mu_;
  std::shared_ptr<const MetricsSnapshot> snap_;
  uint64_t published_ns_ = 0;
};

// Requests are a line and a few headers: bodies over this are refused.
inline constexpr size_t kExporterMaxPayload = 4096;
inline constexpr int kExporterThreads = 2;
// Connections accepted and waiting for a worker, at most.
inline constexpr size_t kExporterMaxPending = 16;

// Reads node_exporter's tcpstat of tcpfsm's own network namespace, on the
// HTTP thread at each scrape as node_exporter does; nullopt when the dump
// failed (the metric is left out of that scrape).
using OwnNetnsReader = std::function<std::optional<NodeTcpStat>()>;

// Routes (/metrics, /healthz, /; 404 elsewhere; 405 for anything but GET
// and HEAD), limits (worker threads, payload, timeouts, keep-alive) and
// error bodies. `pub` must outlive the server. Without `own_netns`,
// node_tcp_connection_states is not served.
void configure_exporter(httplib::Server& srv, const PublishedMetrics& pub, OwnNetnsReader own_netns = {});

}  // namespace tcpfsm
