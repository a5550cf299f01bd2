// leak_pass and the LeakWatcher thread (see leak_watcher.hpp).
#include "account/leak_watcher.hpp"

#include <malloc.h>

#include <memory>

#include "base/clock.hpp"
#include "collect/sock_diag.hpp"

namespace tcpfsm {

Result<LeakReport> leak_pass(LeakFinder& finder, OwnerLookup& owners, const FilterSpec& filter, int storage_map_fd) {
  DumpRequest req;
  req.states = leak_dump_states();
  req.tcp_info = true;
  req.storage_map_fd = storage_map_fd;
  req.drop_time_wait = true;  // not a stuck state: only orphaned FIN_WAIT2 matter here
  auto dump = dump_namespaces(filter.netns, req);
  if (!dump) return dump.error();
  // Port filters select stuck sockets; listeners stay, to attribute them.
  FilterSpec listeners;
  listeners.family = filter.family;
  listeners.netns = filter.netns;
  std::vector<SocketRecord> kept;
  kept.reserve(dump->sockets.size());
  for (const auto& r : dump->sockets) {
    if (r.state == TCPFSM_LISTEN ? listeners.matches(r) : filter.matches(r)) kept.push_back(r);
  }
  return finder.analyze(kept, monotonic_ns(), owners);
}

LeakPass live_leak_pass(FilterSpec filter, int storage_map_fd, LeakOptions leak,
                        std::chrono::milliseconds owner_budget) {
  struct State {
    FilterSpec filter;
    int fd;
    LeakFinder finder;
    ProcOwnerLookup owners;
  };
  auto s = std::make_shared<State>(
      State{std::move(filter), storage_map_fd, LeakFinder(std::move(leak)), ProcOwnerLookup(owner_budget)});
  return [s] { return leak_pass(s->finder, s->owners, s->filter, s->fd); };
}

LeakWatcher::LeakWatcher(LeakPass pass, std::chrono::milliseconds period) : pass_(std::move(pass)), period_(period) {
  thread_ = std::thread([this] { run(); });
}

LeakWatcher::~LeakWatcher() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

LeakWatcher::Snapshot LeakWatcher::snapshot() const {
  std::lock_guard<std::mutex> lock(mu_);
  return snap_;
}

void LeakWatcher::run() {
  for (;;) {
    auto report = pass_();
    const uint64_t now = monotonic_ns();
    // Freed dump buffers (this pass's and the consumer's reconciliation's)
    // go back to the system; trimming here keeps that off the consumer thread.
    malloc_trim(0);
    std::unique_lock<std::mutex> lock(mu_);
    if (report) {
      snap_.latest = std::move(report.value());
      snap_.latest_ns = now;
      snap_.error.reset();
    } else {
      snap_.error = report.error();
      ++snap_.failures;
    }
    if (cv_.wait_for(lock, period_, [this] { return stop_; })) return;
  }
}

}  // namespace tcpfsm
