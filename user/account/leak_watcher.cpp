// leak_pass and the LeakWatcher thread (see leak_watcher.hpp).
#include "account/leak_watcher.hpp"

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

}  // namespace tcpfsm
