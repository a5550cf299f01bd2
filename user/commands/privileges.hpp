// Least privilege: once the BPF programs are attached and what a command
// needs is open, it gives up every capability the rest of the run does not
// use (effective, permitted, inheritable, ambient and the bounding set, so
// nothing it executes could get them back either).
#pragma once

#include <initializer_list>
#include <string>

#include "base/result.hpp"

namespace tcpfsm {

// Keeps only `keep` (CAP_* numbers) of what the process has now.
Status keep_only_capabilities(std::initializer_list<int> keep);

// What the live commands keep after attaching, and why:
//   CAP_SYS_ADMIN       setns() into other network namespaces for sock_diag dumps
//   CAP_BPF             reading tcpfsm's BPF socket storage through sock_diag
//   CAP_SYS_PTRACE      readlink /proc/PID/fd/* of other users' processes (owners)
//   CAP_DAC_READ_SEARCH enter /proc/PID/fd directories (mode 0500)
// `trace` keeps none: after attaching it only reads its own maps and ring buffer.
Status drop_to_live_capabilities();
Status drop_all_capabilities();

}  // namespace tcpfsm
