// Start-up checks that turn the usual reasons the BPF programs cannot load
// into one actionable line, before anything is loaded.
#pragma once

#include "base/result.hpp"
#include "kernel/kernel_features.hpp"
#include "kernel/tracer.hpp"

namespace tcpfsm {

// What the programs of `mode` need from the kernel (plan_kernel), lockdown,
// privileges: the first thing missing as one line, or Ok with a warning per
// optional piece this kernel lacks.
Status preflight(TracerOptions::Mode mode);

// The running kernel's features, probed on first use.
const KernelFeatures& kernel_features();

// Routes libbpf's messages to spdlog at debug level (shown with -v).
void route_libbpf_logs();

}  // namespace tcpfsm
