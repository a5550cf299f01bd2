// FilterSpec::matches for events and dumped sockets.
#include "model/filter.hpp"

#include <algorithm>

namespace tcpfsm {
namespace {

bool has_port(const std::vector<uint16_t>& ports, uint16_t port) {
  return ports.empty() || std::find(ports.begin(), ports.end(), port) != ports.end();
}

}  // namespace

bool FilterSpec::matches(const SocketRecord& r) const {
  return (!family || r.family == family) && (!netns || r.netns == netns) && has_port(lports, r.sport) &&
         has_port(dports, r.dport);
}

bool FilterSpec::matches(const Event& e) const {
  if (family && e.family != family) return false;
  if (netns && e.netns != netns) return false;
  if (!has_port(lports, e.sport) || !has_port(dports, e.dport)) return false;
  if (pid && e.pid != pid) return false;
  if (!comm.empty() && (e.pid == 0 || e.comm_view() != comm)) return false;
  return true;
}

}  // namespace tcpfsm
