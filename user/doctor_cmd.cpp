// `tcpfsm doctor`: reads the host's TCP settings and counters, watches the
// live traffic for --observe seconds (connections per destination from the
// ring buffer, then one sock_diag dump and a leak pass), and reports findings.
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <map>

#include "output.hpp"
#include "privileges.hpp"
#include "run_control.hpp"
#include "tcpfsm/commands.hpp"
#include "tcpfsm/doctor.hpp"
#include "tcpfsm/leak_watcher.hpp"
#include "tcpfsm/tracer.hpp"

namespace tcpfsm {
namespace {

// Counts outgoing connection attempts per destination.
class ConnectCounter : public EventSink {
 public:
  void on_event(const Event& e) override {
    if (e.kind != EventKind::State || e.newstate != TCPFSM_SYN_SENT || e.oldstate == TCPFSM_SYN_SENT) return;
    ++connects[ConnectKey{e.family, e.daddr, e.dport}];
  }
  std::map<ConnectKey, uint64_t> connects;
};

}  // namespace

Result<int> run_doctor(const DoctorOptions& opts) {
  DoctorInput in;
  in.tw_recycle_config = tw_recycle_mentions(opts.etc_root);
  auto before = read_host(opts.proc_root);
  if (!before) return before.error();
  in.before = before.value();
  in.after = in.before;

  // Files copied from another host describe no live traffic here.
  if (opts.proc_root == "/proc" && opts.observe_s > 0) {
    if (auto ok = preflight(); !ok) return ok.error();
    TracerOptions topts;
    topts.filter.netns = opts.netns;
    auto tracer = Tracer::start(topts);
    if (!tracer) return tracer.error();
    if (auto st = drop_to_live_capabilities(); !st) spdlog::warn("{}", st.error().message);
    ConnectCounter counter;
    const auto t0 = std::chrono::steady_clock::now();
    in.before = before.value();  // taken just before the tracer started
    const auto deadline = t0 + std::chrono::duration_cast<std::chrono::steady_clock::duration>(
                                   std::chrono::duration<double>(opts.observe_s));
    if (!opts.json) spdlog::info("watching for {:.0f} s ...", opts.observe_s);
    while (!stop_requested() && std::chrono::steady_clock::now() < deadline) {
      auto n = (*tracer)->poll(counter, kConsumerPollMs);
      if (!n) return n.error();
    }
    if (auto n = (*tracer)->poll(counter, 0); !n) return n.error();
    const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    auto after = read_host(opts.proc_root);
    if (!after) return after.error();
    in.after = after.value();
    in.interval_s = seconds;

    DumpRequest req;
    req.tcp_info = true;
    req.storage_map_fd = (*tracer)->sk_storage_map_fd();
    auto dump = dump_namespaces(opts.netns, req);
    if (!dump) return dump.error();
    LeakOptions lopts;
    lopts.min_age_ns = static_cast<uint64_t>(std::min(opts.observe_s, 10.0) * 1e9);
    LeakFinder finder(lopts);
    ProcOwnerLookup owners(std::chrono::seconds(2));
    LeakReport leaks = finder.analyze(dump->sockets, monotonic_ns(), owners);
    auto counters = (*tracer)->counters();
    Observation o = summarize_observation(dump->sockets, counter.connects, seconds, std::move(leaks),
                                          lopts.min_age_ns);
    o.events = counters.events;
    o.lost = counters.ringbuf_drops + counters.lost_recursion();
    in.observation = std::move(o);
  }

  const auto findings = diagnose(in);
  Output out(STDOUT_FILENO);
  if (opts.json) {
    out.buffer() += findings_json(findings).dump(2);
    out.buffer() += '\n';
  } else {
    out.buffer() += findings_text(findings, in);
  }
  out.flush();
  return doctor_exit_status(findings);
}

}  // namespace tcpfsm
