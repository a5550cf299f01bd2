// Tracer's lifecycle: open, configure (rodata filters and mode), load,
// attach, and the ring buffer consumer. See tracer_maps.cpp for map reads.
#include <bpf/bpf.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "kernel/preflight.hpp"
#include "kernel/tracer_impl.hpp"

namespace tcpfsm {
namespace {

void set_port_bits(volatile __u8* bits, const std::vector<uint16_t>& ports) {
  for (uint16_t p : ports) bits[p >> 3] = static_cast<__u8>(bits[p >> 3] | (1U << (p & 7)));
}

// Filters and mode go into rodata between open and load: the verifier sees
// them as constants, so a filter that is off costs nothing.
void configure(tcpfsm_bpf& skel, const TracerOptions& opts, int ncpu) {
  auto* ro = skel.rodata;
  const FilterSpec& f = opts.filter;
  ro->filter_family = f.family;
  ro->filter_netns = f.netns;
  ro->filter_cgroup_id = f.cgroup_id;
  ro->filter_pid = f.pid;
  if (!f.comm.empty()) {
    ro->filter_comm_on = 1;
    for (size_t i = 0; i < f.comm.size() && i < 15; ++i) ro->filter_comm[i] = f.comm[i];
  }
  if (!f.lports.empty()) {
    ro->filter_lports_on = 1;
    set_port_bits(ro->lport_bits, f.lports);
  }
  if (!f.dports.empty()) {
    ro->filter_dports_on = 1;
    set_port_bits(ro->dport_bits, f.dports);
  }
  // Wake the consumer once a quarter of the ring (at most 1 MiB) is waiting.
  ro->wakeup_bytes = std::min<size_t>(opts.ringbuf_bytes / 4, 1u << 20);
  using Mode = TracerOptions::Mode;
  ro->mode = opts.mode == Mode::Events    ? TCPFSM_MODE_EVENTS
             : opts.mode == Mode::Storage ? TCPFSM_MODE_STORAGE
                                          : TCPFSM_MODE_AGGREGATE;
  ro->nr_cpus = static_cast<__u32>(ncpu);
  if (opts.mode != Mode::Storage) {
    // A tracepoint this kernel lacks feeds one optional part (preflight says
    // which): its program stays out rather than failing the whole load.
    const KernelPlan plan = plan_kernel(opts.features ? *opts.features : kernel_features(), opts.mode);
    bpf_program__set_autoload(skel.progs.on_receive_reset, plan.receive_reset);
    bpf_program__set_autoload(skel.progs.on_send_reset, plan.send_reset);
    bpf_program__set_autoload(skel.progs.on_retransmit, plan.retransmit);
    bpf_program__set_autoload(skel.progs.on_retransmit_synack, plan.retransmit_synack);
  }
  if (opts.mode == Mode::Storage) {
    // leaks reads only the storage: no timewait timers, no close causes, no retransmits.
    for (bpf_program* p : {skel.progs.on_timer_start, skel.progs.on_timer_cancel, skel.progs.on_timer_expire,
                           skel.progs.tw_substate_sweep, skel.progs.on_receive_reset, skel.progs.on_send_reset,
                           skel.progs.on_retransmit, skel.progs.on_retransmit_synack})
      bpf_program__set_autoload(p, false);
  }
}

Status load(tcpfsm_bpf& skel) {
  const int err = tcpfsm_bpf__load(&skel);
  if (err == -EPERM || err == -EACCES) {
    return Error::runtime(
        "the kernel refused to load tcpfsm's BPF programs (permission denied): run as root or with CAP_BPF and "
        "CAP_PERFMON; rerun with -v for details",
        -err);
  }
  if (err) {
    return Error::runtime("cannot load tcpfsm's BPF programs: " + std::string(std::strerror(-err)) +
                              "; rerun with -v to see libbpf's log",
                          -err);
  }
  return Ok{};
}

Status attach(tcpfsm_bpf& skel) {
  // The sweep is run on demand (BPF_PROG_TEST_RUN), never attached.
  bpf_program__set_autoattach(skel.progs.tw_substate_sweep, false);
  // The rescue program must run after the main one on each hit (it looks for
  // the hit in what the main one noted): attached last, explicitly.
  bpf_program__set_autoattach(skel.progs.on_set_state_nested, false);
  int err = tcpfsm_bpf__attach(&skel);
  if (!err) {
    skel.links.on_set_state_nested = bpf_program__attach(skel.progs.on_set_state_nested);
    if (!skel.links.on_set_state_nested) err = -errno;
  }
  if (err) {
    return Error::runtime("cannot attach to the sock:inet_sock_set_state tracepoint: " +
                              std::string(std::strerror(-err)) + "; rerun with -v to see libbpf's log",
                          -err);
  }
  return Ok{};
}

}  // namespace

int Tracer::Impl::on_record(void* ctx, void* data, size_t size) {
  auto* self = static_cast<Impl*>(ctx);
  auto decoded = decode_event({static_cast<const std::byte*>(data), size});
  if (!decoded) {
    ++self->malformed;
    spdlog::debug("{}", decoded.error().message);
    return 0;
  }
  ++self->events;
  self->sink->on_event(decoded.value());
  return 0;
}

Tracer::Tracer(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Tracer::~Tracer() = default;

Result<std::unique_ptr<Tracer>> Tracer::start(const TracerOptions& opts) {
  auto impl = std::make_unique<Impl>();
  impl->skel.reset(tcpfsm_bpf__open());
  if (!impl->skel) return bpf_error("cannot open the BPF object", errno);
  const int ncpu = libbpf_num_possible_cpus();
  if (ncpu <= 0) return bpf_error("cannot count the possible CPUs", -ncpu);
  impl->ncpu = ncpu;
  impl->mode = opts.mode;
  configure(*impl->skel, opts, ncpu);
  const size_t page = static_cast<size_t>(sysconf(_SC_PAGESIZE));
  const size_t ring = opts.mode == TracerOptions::Mode::Events ? opts.ringbuf_bytes : page;
  if (int err = bpf_map__set_max_entries(impl->skel->maps.events, static_cast<__u32>(ring)))
    return bpf_error("cannot size the ring buffer", -err);
  // One pending timewait cancel per CPU, indexed by CPU id (timewait.bpf.h).
  if (int err = bpf_map__set_max_entries(impl->skel->maps.tw_pending, static_cast<__u32>(ncpu)))
    return bpf_error("cannot size the per-CPU timewait table", -err);
  if (auto st = load(*impl->skel); !st) return st.error();
  if (auto st = attach(*impl->skel); !st) return st.error();
  impl->rb.reset(ring_buffer__new(bpf_map__fd(impl->skel->maps.events), &Impl::on_record, impl.get(), nullptr));
  if (!impl->rb) return bpf_error("cannot set up the ring buffer consumer", errno);
  return std::unique_ptr<Tracer>(new Tracer(std::move(impl)));
}

Result<int> Tracer::poll(EventSink& sink, int timeout_ms) {
  impl_->sink = &sink;
  // Most submits don't wake us (batched wakeups); the timeout bounds latency.
  const int n = ring_buffer__poll(impl_->rb.get(), timeout_ms);
  if (n < 0 && n != -EINTR) return bpf_error("reading the ring buffer failed", -n);
  const int m = ring_buffer__consume(impl_->rb.get());
  if (m < 0) return bpf_error("reading the ring buffer failed", -m);
  return std::max(n, 0) + m;
}

Status Tracer::sweep_timewait() {
  if (impl_->mode == TracerOptions::Mode::Storage) return Ok{};
  LIBBPF_OPTS(bpf_test_run_opts, opts);
  if (bpf_prog_test_run_opts(bpf_program__fd(impl_->skel->progs.tw_substate_sweep), &opts) != 0)
    return bpf_error("running the timewait sweep failed", errno);
  return Ok{};
}

int Tracer::sk_storage_map_fd() const { return bpf_map__fd(impl_->skel->maps.sk_infos); }

Status Tracer::enable_bpf_stats() {
  if (impl_->stats_fd >= 0) return Ok{};
  const int fd = bpf_enable_stats(BPF_STATS_RUN_TIME);
  if (fd < 0) {
    return Error::runtime("cannot turn on BPF run-time stats: " + std::string(std::strerror(errno)) +
                              "; it needs CAP_SYS_ADMIN, or set the sysctl kernel.bpf_stats_enabled=1 instead",
                          errno);
  }
  impl_->stats_fd = fd;
  return Ok{};
}

}  // namespace tcpfsm
