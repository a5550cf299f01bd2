// Tracer's map reads: the kernel's counts and histograms, the tracked
// timewait sockets, loss counters and per-program statistics.
#include <bpf/bpf.h>

#include <cerrno>
#include <vector>

#include "kernel/tracer_impl.hpp"

namespace tcpfsm {
namespace {

// bpf_prog_info of a loaded program; nullopt if it is not loaded.
std::optional<bpf_prog_info> prog_info(const bpf_program* p) {
  const int fd = bpf_program__fd(p);
  bpf_prog_info info{};
  __u32 len = sizeof(info);
  if (fd < 0 || bpf_obj_get_info_by_fd(fd, &info, &len) != 0) return std::nullopt;
  return info;
}

// Every CPU's tcpfsm_cpu_counters (a per-CPU array of one entry).
Result<std::vector<tcpfsm_cpu_counters>> per_cpu_counters(int map_fd, int ncpu, const char* what) {
  std::vector<tcpfsm_cpu_counters> per_cpu(static_cast<size_t>(ncpu));
  const __u32 zero = 0;
  if (bpf_map_lookup_elem(map_fd, &zero, per_cpu.data()) != 0) return bpf_error(what, errno);
  return per_cpu;
}

}  // namespace

Result<KernelAggregates> Tracer::aggregates() const {
  KernelAggregates out;
  const size_t n = static_cast<size_t>(impl_->ncpu);
  std::vector<tcpfsm_agg> aggs(n);
  const int afd = bpf_map__fd(impl_->skel->maps.aggs);
  for (__u32 slot = 0; slot < TCPFSM_SLOTS; ++slot) {
    if (bpf_map_lookup_elem(afd, &slot, aggs.data()) != 0) return bpf_error("cannot read the kernel's counts", errno);
    for (const auto& a : aggs) out.add(a);
  }
  std::vector<tcpfsm_hist> hists(n);
  const int hfd = bpf_map__fd(impl_->skel->maps.hists);
  for (__u32 key = 0; key < TCPFSM_SLOTS * TCPFSM_HISTS; ++key) {
    if (bpf_map_lookup_elem(hfd, &key, hists.data()) != 0)
      return bpf_error("cannot read the kernel's histograms", errno);
    for (const auto& h : hists) out.add(key % TCPFSM_HISTS, h);
  }
  return out;
}

Status Tracer::timewait_keys(std::vector<uint64_t>& keys) const {
  const int fd = bpf_map__fd(impl_->skel->maps.tws);
  // Batched: one syscall per 4096 entries instead of one per entry.
  constexpr __u32 kBatch = 4096;
  std::vector<uint64_t> k(kBatch);
  std::vector<tcpfsm_tw> v(kBatch);
  uint64_t in_batch = 0, out_batch = 0;
  bool first = true;
  for (;;) {
    __u32 count = kBatch;
    LIBBPF_OPTS(bpf_map_batch_opts, bopts);
    const int err =
        bpf_map_lookup_batch(fd, first ? nullptr : &in_batch, &out_batch, k.data(), v.data(), &count, &bopts);
    const int e = errno;
    keys.insert(keys.end(), k.begin(), k.begin() + count);
    if (err != 0) {
      if (e == ENOENT) break;  // the last batch
      return bpf_error("cannot read the timewait map", e);
    }
    in_batch = out_batch;
    first = false;
  }
  return Ok{};
}

Result<RunCounters> Tracer::counters() const {
  RunCounters c;
  c.events = impl_->events;
  c.malformed = impl_->malformed;
  auto per_cpu = per_cpu_counters(bpf_map__fd(impl_->skel->maps.cpu_counters), impl_->ncpu,
                                  "cannot read the kernel's loss counters");
  if (!per_cpu) return per_cpu.error();
  for (const auto& pc : *per_cpu) {
    c.ringbuf_drops += pc.ringbuf_drops;
    c.rescued += pc.rescued;
    c.fw2_untracked += pc.fw2_untracked;
  }
  const auto main = prog_info(impl_->skel->progs.on_set_state);
  if (!main) return bpf_error("cannot read the state program's statistics", errno);
  c.recursion_misses = main->recursion_misses;
  for (const bpf_program* p :
       {impl_->skel->progs.on_timer_start, impl_->skel->progs.on_timer_cancel, impl_->skel->progs.on_timer_expire}) {
    if (const auto info = prog_info(p)) c.timer_recursion_misses += info->recursion_misses;  // not loaded for leaks
  }
  return c;
}

Result<PerStateCounts> Tracer::retransmits() const {
  auto per_cpu = per_cpu_counters(bpf_map__fd(impl_->skel->maps.cpu_counters), impl_->ncpu,
                                  "cannot read the kernel's retransmission counts");
  if (!per_cpu) return per_cpu.error();
  PerStateCounts out{};
  for (const auto& pc : *per_cpu)
    for (size_t s = 0; s < out.size(); ++s) out[s] += pc.retransmits[s];
  return out;
}

std::vector<ProgStats> Tracer::prog_stats() const {
  std::vector<ProgStats> out;
  bpf_program* p = nullptr;
  while ((p = bpf_object__next_program(impl_->skel->obj, p))) {
    if (const auto info = prog_info(p))
      out.push_back({bpf_program__name(p), info->run_time_ns, info->run_cnt, info->recursion_misses});
  }
  return out;
}

}  // namespace tcpfsm
