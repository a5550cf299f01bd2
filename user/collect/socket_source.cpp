// FilteredDumper: sock_diag dumps for reconciliation (see socket_source.hpp).
#include "collect/socket_source.hpp"

#include <spdlog/spdlog.h>

namespace tcpfsm {

Result<NamespaceDump> FilteredDumper::dump(bool storage) {
  DumpRequest req;
  if (storage) req.storage_map_fd = storage_fd_;
  req.expected_sockets = last_size_;
  auto dump = dump_namespaces(filter_.netns, req);
  if (!dump) return dump.error();
  if (dump->unreachable) spdlog::debug("{} network namespaces could not be entered", dump->unreachable);
  last_size_ = dump->sockets.size();
  std::erase_if(dump->sockets, [&](const SocketRecord& r) { return !filter_.matches(r); });
  return dump;
}

}  // namespace tcpfsm
