// Tracer::Impl: the skeleton and ring buffer owners, shared by the files of
// this folder only (lifecycle in tracer.cpp, map reads in tracer_maps.cpp).
#pragma once

#include <bpf/libbpf.h>
#include <unistd.h>

#include <cstring>
#include <memory>
#include <string>

#include "kernel/tracer.hpp"
#include "tcpfsm.skel.h"

namespace tcpfsm {

struct SkelDeleter {
  void operator()(tcpfsm_bpf* s) const { tcpfsm_bpf__destroy(s); }
};
struct RingDeleter {
  void operator()(ring_buffer* r) const { ring_buffer__free(r); }
};

struct Tracer::Impl {
  // Declaration order matters: the ring buffer goes before the skeleton.
  std::unique_ptr<tcpfsm_bpf, SkelDeleter> skel;
  std::unique_ptr<ring_buffer, RingDeleter> rb;
  EventSink* sink = nullptr;
  uint64_t events = 0;
  uint64_t malformed = 0;
  TracerOptions::Mode mode = TracerOptions::Mode::Events;
  int ncpu = 1;
  int stats_fd = -1;  // BPF_ENABLE_STATS while >= 0
  ~Impl() {
    if (stats_fd >= 0) close(stats_fd);
  }

  static int on_record(void* ctx, void* data, size_t size);
};

// "what failed: strerror(err)", for libbpf's negative or errno returns.
inline Error bpf_error(const std::string& what, int err) {
  return Error::runtime(what + ": " + std::strerror(err), err);
}

}  // namespace tcpfsm
