// The HTTP side of `tcpfsm serve`: what is served and how requests are
// bounded. Kept apart from the command so it can be fuzzed with a real
// server and any snapshot.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

#include "base/result.hpp"
#include "views/metrics.hpp"
#include "views/web_auth.hpp"
#include "views/web_config.hpp"

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

// The server a web config asks for: without tls_server_config a plain
// httplib::Server; with it an SSLServer whose OpenSSL context holds the
// certificate, the key, the protocol versions and the client certificate
// policy. The files are read here, once: an error names the file and what
// OpenSSL said (a usage error: the config points at it).
Result<std::unique_ptr<httplib::Server>> make_exporter_server(const WebConfig& web);

// Routes (/metrics, /healthz, /; 404 elsewhere; 405 for anything but GET
// and HEAD), limits (worker threads, payload, timeouts, keep-alive) and
// error bodies. Without `own_netns`, node_tcp_connection_states is not
// served. With `auth` enabled every path needs basic auth (401 otherwise);
// `headers` go on every answer. `pub` and `auth` must outlive the server.
void configure_exporter(httplib::Server& srv, const PublishedMetrics& pub, OwnNetnsReader own_netns = {},
                        BasicAuth* auth = nullptr, std::vector<std::pair<std::string, std::string>> headers = {});

}  // namespace tcpfsm
