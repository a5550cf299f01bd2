// reconcile_kernel_counts (see kernel_reconcile.hpp).
#include "account/kernel_reconcile.hpp"

#include <algorithm>

#include "base/clock.hpp"

namespace tcpfsm {

Result<ReconcileResult> reconcile_kernel_counts(const KernelSource& kernel, SocketSource& sockets, KernelTable& table) {
  auto at_start = kernel.aggregates();
  if (!at_start) return at_start.error();
  std::vector<uint64_t> tracked;
  if (auto st = kernel.timewait_keys(tracked); !st) return st.error();
  const uint64_t start = monotonic_ns();
  auto dump = sockets.dump(true);
  if (!dump) return dump.error();
  // A timewait socket the kernel tracked before or after the dump is its own.
  if (auto st = kernel.timewait_keys(tracked); !st) return st.error();
  std::sort(tracked.begin(), tracked.end());
  auto at_end = kernel.aggregates();
  if (!at_end) return at_end.error();
  auto r = table.reconcile(dump->sockets, *at_start, *at_end, tracked, start, dump->unreachable == 0);
  table.update(*at_end);
  return r;
}

}  // namespace tcpfsm
