// The only translation unit that includes the skeleton or libbpf.
#include "tcpfsm/tracer.hpp"

#include <bpf/bpf.h>
#include <bpf/btf.h>
#include <bpf/libbpf.h>
#include <linux/capability.h>
#include <spdlog/spdlog.h>
#include <sys/syscall.h>
#include <sys/utsname.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdarg>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include "tcpfsm.skel.h"
#include "tcpfsm/sock_diag.hpp"

namespace tcpfsm {
namespace {

constexpr const char* kVmlinuxBtf = "/sys/kernel/btf/vmlinux";

int libbpf_print(enum libbpf_print_level, const char* format, va_list args) {
  // A verifier log is one message of many kilobytes: size it first.
  va_list copy;
  va_copy(copy, args);
  int n = vsnprintf(nullptr, 0, format, copy);
  va_end(copy);
  if (n <= 0) return n;
  std::string buf(static_cast<size_t>(n) + 1, '\0');
  vsnprintf(buf.data(), buf.size(), format, args);
  buf.resize(static_cast<size_t>(n));
  while (!buf.empty() && buf.back() == '\n') buf.pop_back();
  spdlog::debug("libbpf: {}", buf);
  return n;
}

bool has_cap(const __user_cap_data_struct (&data)[2], int cap) {
  return data[cap / 32].effective & (1U << (cap % 32));
}

struct SkelDeleter {
  void operator()(tcpfsm_bpf* s) const { tcpfsm_bpf__destroy(s); }
};
struct RingDeleter {
  void operator()(ring_buffer* r) const { ring_buffer__free(r); }
};

void set_port_bits(volatile __u8* bits, const std::vector<uint16_t>& ports) {
  for (uint16_t p : ports) bits[p >> 3] = static_cast<__u8>(bits[p >> 3] | (1U << (p & 7)));
}

}  // namespace

void route_libbpf_logs() { libbpf_set_print(libbpf_print); }

Status preflight() {
  if (access(kVmlinuxBtf, R_OK) != 0) {
    return Error::runtime(std::string("kernel BTF not found at ") + kVmlinuxBtf +
                          ": tcpfsm needs Linux 5.8 or newer built with CONFIG_DEBUG_INFO_BTF=y");
  }
  utsname u{};
  unsigned major = 0, minor = 0;
  if (uname(&u) == 0 && sscanf(u.release, "%u.%u", &major, &minor) == 2 && (major < 5 || (major == 5 && minor < 8))) {
    return Error::runtime(std::string("kernel ") + u.release +
                          " is too old: tcpfsm needs Linux 5.8 or newer (BPF ring buffer, tp_btf)");
  }
  std::ifstream lockdown("/sys/kernel/security/lockdown");
  std::string mode((std::istreambuf_iterator<char>(lockdown)), std::istreambuf_iterator<char>());
  if (mode.find("[confidentiality]") != std::string::npos) {
    return Error::runtime(
        "kernel lockdown is in confidentiality mode, which forbids BPF tracing; boot with lockdown=integrity or none");
  }
  __user_cap_header_struct hdr{_LINUX_CAPABILITY_VERSION_3, 0};
  __user_cap_data_struct data[2] = {};
  if (syscall(SYS_capget, &hdr, data) == 0) {
    bool admin = has_cap(data, CAP_SYS_ADMIN);
    bool bpf = has_cap(data, CAP_BPF) && has_cap(data, CAP_PERFMON);
    if (!admin && !bpf) {
      return Error::runtime("permission denied: tcpfsm needs root, or CAP_BPF and CAP_PERFMON; run it with sudo");
    }
  }
  btf* vmlinux = btf__load_vmlinux_btf();
  if (!vmlinux) {
    return Error::runtime(std::string("cannot read kernel BTF from ") + kVmlinuxBtf + ": " + std::strerror(errno));
  }
  bool have_tp = btf__find_by_name_kind(vmlinux, "btf_trace_inet_sock_set_state", BTF_KIND_TYPEDEF) >= 0;
  btf__free(vmlinux);
  if (!have_tp) {
    return Error::runtime("this kernel has no sock:inet_sock_set_state tracepoint in its BTF; tcpfsm needs Linux 5.8+");
  }
  return Ok{};
}

struct Tracer::Impl {
  // Declaration order matters: the ring buffer goes before the skeleton.
  std::unique_ptr<tcpfsm_bpf, SkelDeleter> skel;
  std::unique_ptr<ring_buffer, RingDeleter> rb;
  EventSink* sink = nullptr;
  uint64_t events = 0;
  uint64_t malformed = 0;
  TracerOptions::Mode mode = TracerOptions::Mode::Events;
  FilterSpec filter;
  size_t last_dump_size = 0;  // sizes the next reconciliation's dump
  int ncpu = 1;
  int stats_fd = -1;
  ~Impl() {
    if (stats_fd >= 0) close(stats_fd);
  }

  static int on_record(void* ctx, void* data, size_t size) {
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
};

Tracer::Tracer(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Tracer::~Tracer() = default;

Result<std::unique_ptr<Tracer>> Tracer::start(const TracerOptions& opts) {
  size_t page = static_cast<size_t>(sysconf(_SC_PAGESIZE));
  if (opts.ringbuf_bytes < page || (opts.ringbuf_bytes & (opts.ringbuf_bytes - 1)) != 0) {
    return Error::usage("ring buffer size must be a power of two and at least " + std::to_string(page) + " bytes");
  }
  auto impl = std::make_unique<Impl>();
  impl->skel.reset(tcpfsm_bpf__open());
  if (!impl->skel) {
    return Error::runtime(std::string("cannot open the BPF object: ") + std::strerror(errno), errno);
  }
  auto* ro = impl->skel->rodata;
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
  ro->mode = opts.mode == Mode::Events      ? TCPFSM_MODE_EVENTS
             : opts.mode == Mode::Storage ? TCPFSM_MODE_STORAGE
                                          : TCPFSM_MODE_AGGREGATE;
  const int ncpu = libbpf_num_possible_cpus();
  if (ncpu <= 0) return Error::runtime("cannot count the possible CPUs: " + std::string(std::strerror(-ncpu)), -ncpu);
  ro->nr_cpus = static_cast<__u32>(ncpu);
  impl->ncpu = ncpu;
  impl->mode = opts.mode;
  impl->filter = opts.filter;
  if (opts.mode == Mode::Storage) {
    for (bpf_program* p : {impl->skel->progs.on_timer_start, impl->skel->progs.on_timer_cancel,
                           impl->skel->progs.on_timer_expire, impl->skel->progs.tw_substate_sweep})
      bpf_program__set_autoload(p, false);
  }
  const size_t ring = opts.mode == Mode::Events ? opts.ringbuf_bytes : page;
  int err = bpf_map__set_max_entries(impl->skel->maps.events, static_cast<__u32>(ring));
  if (err) return Error::runtime("cannot size the ring buffer: " + std::string(std::strerror(-err)), -err);

  err = tcpfsm_bpf__load(impl->skel.get());
  if (err) {
    if (err == -EPERM || err == -EACCES) {
      return Error::runtime(
          "the kernel refused to load tcpfsm's BPF programs (permission denied): run as root or with CAP_BPF and "
          "CAP_PERFMON; rerun with -v for details",
          -err);
    }
    return Error::runtime("cannot load tcpfsm's BPF programs: " + std::string(std::strerror(-err)) +
                              "; rerun with -v to see libbpf's log",
                          -err);
  }
  // The sweep is run on demand (BPF_PROG_TEST_RUN), never attached.
  bpf_program__set_autoattach(impl->skel->progs.tw_substate_sweep, false);
  // The rescue program must run after the main one on each hit (it looks for
  // the hit in what the main one noted): attached last, explicitly.
  bpf_program__set_autoattach(impl->skel->progs.on_set_state_nested, false);
  err = tcpfsm_bpf__attach(impl->skel.get());
  if (!err) {
    impl->skel->links.on_set_state_nested = bpf_program__attach(impl->skel->progs.on_set_state_nested);
    if (!impl->skel->links.on_set_state_nested) err = -errno;
  }
  if (err) {
    return Error::runtime("cannot attach to the sock:inet_sock_set_state tracepoint: " +
                              std::string(std::strerror(-err)) + "; rerun with -v to see libbpf's log",
                          -err);
  }
  impl->rb.reset(ring_buffer__new(bpf_map__fd(impl->skel->maps.events), &Impl::on_record, impl.get(), nullptr));
  if (!impl->rb) {
    return Error::runtime("cannot set up the ring buffer consumer: " + std::string(std::strerror(errno)), errno);
  }
  return std::unique_ptr<Tracer>(new Tracer(std::move(impl)));
}

Result<int> Tracer::poll(EventSink& sink, int timeout_ms) {
  impl_->sink = &sink;
  // Most submits don't wake us (batched wakeups); the timeout bounds latency.
  int n = ring_buffer__poll(impl_->rb.get(), timeout_ms);
  if (n < 0 && n != -EINTR) {
    return Error::runtime("reading the ring buffer failed: " + std::string(std::strerror(-n)), -n);
  }
  int m = ring_buffer__consume(impl_->rb.get());
  if (m < 0) return Error::runtime("reading the ring buffer failed: " + std::string(std::strerror(-m)), -m);
  return std::max(n, 0) + m;
}

Status Tracer::sweep_timewait() {
  if (impl_->mode == TracerOptions::Mode::Storage) return Ok{};
  LIBBPF_OPTS(bpf_test_run_opts, opts);
  int err = bpf_prog_test_run_opts(bpf_program__fd(impl_->skel->progs.tw_substate_sweep), &opts);
  if (err) return Error::runtime("running the timewait sweep failed: " + std::string(std::strerror(errno)), errno);
  return Ok{};
}

Status Tracer::enable_bpf_stats() {
  if (impl_->stats_fd >= 0) return Ok{};
  int fd = bpf_enable_stats(BPF_STATS_RUN_TIME);
  if (fd < 0) {
    return Error::runtime("cannot turn on BPF run-time stats: " + std::string(std::strerror(errno)) +
                              "; it needs CAP_SYS_ADMIN, or set the sysctl kernel.bpf_stats_enabled=1 instead",
                          errno);
  }
  impl_->stats_fd = fd;
  return Ok{};
}

std::vector<Tracer::ProgStats> Tracer::prog_stats() const {
  std::vector<ProgStats> out;
  bpf_program* p = nullptr;
  bpf_object* obj = impl_->skel->obj;
  while ((p = bpf_object__next_program(obj, p))) {
    const int fd = bpf_program__fd(p);
    if (fd < 0) continue;  // not loaded
    bpf_prog_info info{};
    __u32 len = sizeof(info);
    if (bpf_obj_get_info_by_fd(fd, &info, &len) != 0) continue;
    out.push_back({bpf_program__name(p), info.run_time_ns, info.run_cnt});
  }
  return out;
}

int Tracer::sk_storage_map_fd() const { return bpf_map__fd(impl_->skel->maps.sk_infos); }

Result<KernelAggregates> Tracer::aggregates() const {
  KernelAggregates out;
  const size_t n = static_cast<size_t>(impl_->ncpu);
  std::vector<tcpfsm_agg> aggs(n);
  const int afd = bpf_map__fd(impl_->skel->maps.aggs);
  for (__u32 slot = 0; slot < TCPFSM_SLOTS; ++slot) {
    if (bpf_map_lookup_elem(afd, &slot, aggs.data()) != 0)
      return Error::runtime("cannot read the kernel's counts: " + std::string(std::strerror(errno)), errno);
    for (const auto& a : aggs) out.add(a);
  }
  std::vector<tcpfsm_hist> hists(n);
  const int hfd = bpf_map__fd(impl_->skel->maps.hists);
  for (__u32 key = 0; key < TCPFSM_SLOTS * TCPFSM_HISTS; ++key) {
    if (bpf_map_lookup_elem(hfd, &key, hists.data()) != 0)
      return Error::runtime("cannot read the kernel's histograms: " + std::string(std::strerror(errno)), errno);
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
    int err = bpf_map_lookup_batch(fd, first ? nullptr : &in_batch, &out_batch, k.data(), v.data(), &count, &bopts);
    const int e = errno;
    keys.insert(keys.end(), k.begin(), k.begin() + count);
    if (err != 0) {
      if (e == ENOENT) break;  // the last batch
      return Error::runtime("cannot read the timewait map: " + std::string(std::strerror(e)), e);
    }
    in_batch = out_batch;
    first = false;
  }
  return Ok{};
}

Result<NamespaceDump> Tracer::dump_filtered(bool storage) {
  DumpRequest req;
  if (storage) req.storage_map_fd = sk_storage_map_fd();
  req.expected_sockets = impl_->last_dump_size;
  auto dump = dump_namespaces(impl_->filter.netns, req);
  if (!dump) return dump.error();
  if (dump->unreachable) spdlog::debug("{} network namespaces could not be entered", dump->unreachable);
  impl_->last_dump_size = dump->sockets.size();
  std::erase_if(dump->sockets, [&](const SocketRecord& r) { return !impl_->filter.matches(r); });
  return dump;
}

Result<ReconcileResult> Tracer::reconcile(KernelTable& table) {
  auto at_start = aggregates();
  if (!at_start) return at_start.error();
  std::vector<uint64_t> tracked;
  if (auto st = timewait_keys(tracked); !st) return st.error();
  const uint64_t start = monotonic_ns();
  auto dump = dump_filtered(true);
  if (!dump) return dump.error();
  auto& socks = dump->sockets;
  // A timewait socket the kernel tracked before or after the dump is its own.
  if (auto st = timewait_keys(tracked); !st) return st.error();
  std::sort(tracked.begin(), tracked.end());
  auto at_end = aggregates();
  if (!at_end) return at_end.error();
  auto r = table.reconcile(socks, *at_start, *at_end, tracked, start, dump->unreachable == 0);
  table.update(*at_end);
  return r;
}

RunCounters Tracer::counters() const {
  RunCounters c;
  c.events = impl_->events;
  if (impl_->mode == TracerOptions::Mode::Aggregate) {
    if (auto a = aggregates()) {
      c.events = a->total_transitions();
      c.uncounted = a->storage_failures + a->tw_untracked;
    }
  }
  c.malformed = impl_->malformed;
  const int ncpu = impl_->ncpu;
  if (ncpu > 0) {
    std::vector<tcpfsm_cpu_counters> per_cpu(static_cast<size_t>(ncpu));
    __u32 zero = 0;
    if (bpf_map_lookup_elem(bpf_map__fd(impl_->skel->maps.cpu_counters), &zero, per_cpu.data()) == 0) {
      for (const auto& pc : per_cpu) {
        c.ringbuf_drops += pc.ringbuf_drops;
        c.rescued += pc.rescued;
        c.fw2_untracked += pc.fw2_untracked;
      }
    }
  }
  bpf_prog_info info{};
  __u32 len = sizeof(info);
  if (bpf_obj_get_info_by_fd(bpf_program__fd(impl_->skel->progs.on_set_state), &info, &len) == 0) {
    c.recursion_misses = info.recursion_misses;
  }
  for (bpf_program* p : {impl_->skel->progs.on_timer_start, impl_->skel->progs.on_timer_cancel,
                         impl_->skel->progs.on_timer_expire}) {
    const int fd = bpf_program__fd(p);
    info = {};
    len = sizeof(info);
    if (fd >= 0 && bpf_obj_get_info_by_fd(fd, &info, &len) == 0) c.timer_recursion_misses += info.recursion_misses;
  }
  return c;
}

}  // namespace tcpfsm
