// Reconciling the kernel's counts with a sock_diag dump (aggregate mode).
#pragma once

#include "account/kernel_table.hpp"
#include "collect/socket_source.hpp"
#include "kernel/kernel_source.hpp"

namespace tcpfsm {

// A dump (with storage) measures again the sockets the kernel does not
// count; the kernel's counts and tracked timewait sockets are read before
// and after it (KernelTable::reconcile says why), then the table takes the
// newest counts. A failed read or dump is an error with nothing changed.
Result<ReconcileResult> reconcile_kernel_counts(const KernelSource& kernel, SocketSource& sockets, KernelTable& table);

}  // namespace tcpfsm
