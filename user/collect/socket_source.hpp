// SocketSource: where the live engine's reconciliation dumps come from.
// FilteredDumper is the real one (sock_diag); unit tests give a fake.
#pragma once

#include <cstddef>

#include "collect/sock_diag.hpp"
#include "model/filter.hpp"

namespace tcpfsm {

class SocketSource {
 public:
  virtual ~SocketSource() = default;
  // A dump of the namespaces the filter selects, kept to the sockets the
  // kernel-side filters let through (as events are). With `storage`, each
  // socket carries tcpfsm's BPF storage of it.
  virtual Result<NamespaceDump> dump(bool storage) = 0;
};

class FilteredDumper final : public SocketSource {
 public:
  FilteredDumper(FilterSpec filter, int storage_map_fd) : filter_(std::move(filter)), storage_fd_(storage_map_fd) {}
  // Sized from the previous dump, so a big one is allocated once.
  Result<NamespaceDump> dump(bool storage) override;

 private:
  FilterSpec filter_;
  int storage_fd_;
  size_t last_size_ = 0;
};

}  // namespace tcpfsm
