#include "tcpfsm/leak_watcher.hpp"

#include <malloc.h>

#include <climits>
#include <cstdlib>
#include <cstring>
#include <fstream>

#include "tcpfsm/format.hpp"

namespace tcpfsm {

// A cgroup directory as /proc/PID/cgroup names it: relative to the cgroup2
// mount it is under.
Result<std::string> cgroup_relative(const std::string& dir) {
  char real[PATH_MAX];
  if (!realpath(dir.c_str(), real)) {
    return Error::usage("invalid --cgroup '" + dir + "': " + std::strerror(errno));
  }
  const std::string path = real;
  std::ifstream mounts("/proc/self/mounts");
  std::string dev, mnt, type, rest;
  std::string best;
  while (mounts >> dev >> mnt >> type && std::getline(mounts, rest)) {
    if (type != "cgroup2") continue;
    if (path.compare(0, mnt.size(), mnt) == 0 && (path.size() == mnt.size() || path[mnt.size()] == '/') &&
        mnt.size() > best.size())
      best = mnt;
  }
  if (best.empty()) {
    return Error::usage("invalid --cgroup '" + dir + "': not under a cgroup2 mount; give a directory below it, e.g. "
                        "/sys/fs/cgroup/system.slice/app.service");
  }
  std::string rel = path.substr(best.size());
  return rel.empty() ? std::string("/") : rel;
}


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

LeakWatcher::LeakWatcher(LeakWatcherOptions opts) : opts_(std::move(opts)) {
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

std::optional<LeakReport> LeakWatcher::latest() const {
  std::lock_guard<std::mutex> lock(mu_);
  return latest_;
}

std::optional<Error> LeakWatcher::last_error() const {
  std::lock_guard<std::mutex> lock(mu_);
  return error_;
}

void LeakWatcher::run() {
  LeakFinder finder(opts_.leak);
  ProcOwnerLookup owners(opts_.owner_budget);
  for (;;) {
    auto report = leak_pass(finder, owners, opts_.filter, opts_.storage_map_fd);
    // Freed dump buffers (this pass's and the consumer's reconciliation's)
    // go back to the system; trimming here keeps that off the consumer thread.
    malloc_trim(0);
    std::unique_lock<std::mutex> lock(mu_);
    if (report) {
      latest_ = std::move(report.value());
      error_.reset();
    } else {
      error_ = report.error();
    }
    if (cv_.wait_for(lock, opts_.period, [this] { return stop_; })) return;
  }
}

}  // namespace tcpfsm
