// The exporter's HTTP routes, limits and listening socket (see exporter.hpp).
#include "views/exporter.hpp"

#include <httplib.h>
#include <sys/socket.h>

#include <atomic>
#include <functional>

#include "base/clock.hpp"

namespace tcpfsm {
namespace {

// A fixed pool with a bounded queue: past kExporterMaxPending connections
// the accepting thread serves the next one itself, so it stops accepting
// and further clients wait in the kernel's small listen backlog. Open
// connections, threads and memory stay bounded whatever clients do.
class BoundedTaskQueue : public httplib::TaskQueue {
 public:
  BoundedTaskQueue() : pool_(kExporterThreads) {}
  void enqueue(std::function<void()> fn) override {
    if (pending_.load() >= kExporterMaxPending) {
      fn();
      return;
    }
    ++pending_;
    pool_.enqueue([this, fn = std::move(fn)] {
      fn();
      --pending_;
    });
  }
  void shutdown() override { pool_.shutdown(); }

 private:
  httplib::ThreadPool pool_;
  std::atomic<size_t> pending_{0};
};

}  // namespace

void PublishedMetrics::set(std::shared_ptr<const MetricsSnapshot> s) {
  std::lock_guard<std::mutex> lock(mu_);
  snap_ = std::move(s);
  published_ns_ = monotonic_ns();
}

std::shared_ptr<const MetricsSnapshot> PublishedMetrics::get() const {
  std::lock_guard<std::mutex> lock(mu_);
  return snap_;
}

uint64_t PublishedMetrics::age_ns() const {
  std::lock_guard<std::mutex> lock(mu_);
  return published_ns_ ? monotonic_ns() - published_ns_ : UINT64_MAX;
}

void configure_exporter(httplib::Server& srv, const PublishedMetrics& pub, OwnNetnsReader own_netns) {
  using httplib::Request;
  using httplib::Response;
  srv.new_task_queue = [] { return new BoundedTaskQueue(); };
  // cpp-httplib sets SO_REUSEPORT by default, which lets a second exporter
  // bind the same port and take half the scrapes. SO_REUSEADDR alone still
  // allows a restart over old TIME_WAIT, but a port in use fails to bind.
  srv.set_socket_options([](socket_t sock) {
    int yes = 1;
    setsockopt(sock, SOL_SOCKET, SO_REUSEADDR, &yes, sizeof(yes));
  });
  srv.set_payload_max_length(kExporterMaxPayload);
  srv.set_read_timeout(5, 0);
  srv.set_write_timeout(5, 0);
  srv.set_keep_alive_max_count(100);
  srv.set_keep_alive_timeout(5);
  srv.set_pre_routing_handler([](const Request& req, Response& res) {
    if (req.method == "GET" || req.method == "HEAD") return httplib::Server::HandlerResponse::Unhandled;
    res.status = 405;
    res.set_header("Allow", "GET, HEAD");
    res.set_content("only GET and HEAD are served\n", "text/plain");
    return httplib::Server::HandlerResponse::Handled;
  });
  srv.Get("/metrics", [&pub, own_netns = std::move(own_netns)](const Request&, Response& res) {
    auto snap = pub.get();
    if (!snap) {
      res.status = 503;
      res.set_content("tcpfsm is starting\n", "text/plain");
      return;
    }
    const std::optional<NodeTcpStat> own = own_netns ? own_netns() : std::nullopt;
    res.set_content(render_metrics(*snap, own), "text/plain; version=0.0.4; charset=utf-8");
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

}  // namespace tcpfsm
