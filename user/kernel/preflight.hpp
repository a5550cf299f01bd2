// Start-up checks that turn the usual reasons the BPF programs cannot load
// into one actionable line, before anything is loaded.
#pragma once

#include "base/result.hpp"

namespace tcpfsm {

// Kernel BTF, kernel version, lockdown, the tracepoint, privileges.
Status preflight();

// Routes libbpf's messages to spdlog at debug level (shown with -v).
void route_libbpf_logs();

}  // namespace tcpfsm
