// start_live_kernel (see live_kernel.hpp).
#include "commands/live_kernel.hpp"

#include <spdlog/spdlog.h>

#include "commands/checks.hpp"
#include "commands/privileges.hpp"
#include "kernel/preflight.hpp"

namespace tcpfsm {

Result<LiveKernel> start_live_kernel(LiveOptions& opts, size_t ringbuf_bytes) {
  if (auto st = resolve_filter(opts.filter); !st) return st.error();
  if (opts.groups.host_root != "/") {
    if (auto st = check_directory("--host-root", opts.groups.host_root); !st) return st.error();
  }
  const auto mode = counts_in_kernel(opts) ? TracerOptions::Mode::Aggregate : TracerOptions::Mode::Events;
  if (auto st = preflight(mode); !st) return st.error();
  LeakOptions leak;
  leak.min_age_ns = opts.stuck_min_age_ns;
  know_timers(leak, opts.filter.netns);  // dates sockets found already stuck
  if (auto st = set_holder_filters(leak, opts.filter); !st) return st.error();
  TracerOptions topts;
  topts.filter = opts.filter;
  topts.ringbuf_bytes = ringbuf_bytes;
  topts.mode = mode;
  auto tracer = Tracer::start(topts);
  if (!tracer) return tracer.error();
  if (auto st = drop_to_live_capabilities(); !st) spdlog::warn("{}", st.error().message);
  LiveKernel k;
  k.tracer = std::move(tracer.value());
  const int storage = k.tracer->sk_storage_map_fd();
  k.dumper = std::make_unique<FilteredDumper>(opts.filter, storage);
  k.leak_pass = live_leak_pass(opts.filter, storage, std::move(leak), std::chrono::milliseconds(200));
  if (opts.groups.enabled()) {
    k.identities = std::make_shared<IdentityTable>();
    auto counter = std::make_shared<GroupCounter>(opts.groups, opts.filter, *k.identities);
    k.group_pass = [counter] { return counter->pass(); };
  }
  return k;
}

}  // namespace tcpfsm
