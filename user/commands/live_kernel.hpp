// The live engine's real sources, for `stats` and `serve`: the checked
// filter, the tracer loaded in the mode the options need, sock_diag dumps
// and the stuck-socket pass, with capabilities dropped once they are open.
#pragma once

#include <cstddef>
#include <memory>

#include "account/live.hpp"
#include "collect/socket_source.hpp"
#include "kernel/tracer.hpp"

namespace tcpfsm {

struct LiveKernel {
  std::unique_ptr<Tracer> tracer;
  std::unique_ptr<FilteredDumper> dumper;
  LeakPass leak_pass;
  GroupPass group_pass;                       // with --by
  std::shared_ptr<IdentityTable> identities;  // with --by
  LiveSources sources() const { return {*tracer, *dumper, leak_pass, group_pass, identities.get()}; }
};

// Resolves opts.filter (cgroup id, netns) in place.
Result<LiveKernel> start_live_kernel(LiveOptions& opts, size_t ringbuf_bytes);

}  // namespace tcpfsm
