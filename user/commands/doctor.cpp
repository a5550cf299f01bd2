// `tcpfsm doctor`: reads the host's TCP settings and counters, watches the
// live traffic for --observe seconds (connections per destination from the
// ring buffer, then one sock_diag dump and a leak pass), and reports findings.
#include "diagnose/doctor.hpp"

#include <fmt/format.h>
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstring>
#include <map>
#include <thread>

#include "account/leak_finder.hpp"
#include "base/clock.hpp"
#include "base/output.hpp"
#include "collect/netns.hpp"
#include "collect/sock_diag.hpp"
#include "commands/checks.hpp"
#include "commands/commands.hpp"
#include "commands/privileges.hpp"
#include "commands/run_control.hpp"
#include "kernel/preflight.hpp"
#include "kernel/tracer.hpp"
#include "views/doctor_view.hpp"

namespace tcpfsm {
namespace {

// Counts outgoing connection attempts per destination, and those that
// found no local port.
class ConnectCounter : public EventSink {
 public:
  void on_event(const Event& e) override {
    if (e.kind != EventKind::State) return;
    if (e.oldstate == TCPFSM_SYN_SENT && e.newstate == TCPFSM_CLOSE && e.cause == TCPFSM_CAUSE_NO_LOCAL_PORT)
      ++no_local_port[ConnectKey{e.family, e.daddr, e.dport}];
    if (e.newstate != TCPFSM_SYN_SENT || e.oldstate == TCPFSM_SYN_SENT) return;
    ++connects[ConnectKey{e.family, e.daddr, e.dport}];
  }
  std::map<ConnectKey, uint64_t> connects, no_local_port;
};

// Settings and counters of the namespace diagnosed: --netns's, read on a
// thread that entered it (net sysctls and /proc/thread-self/net are the
// reading thread's namespace's), or this process's own; a --proc-root copy
// is read as it is.
Result<HostSnapshot> read_diagnosed(const DoctorOptions& opts) {
  if (!opts.netns || opts.proc_root != "/proc") return read_host(opts.proc_root);
  auto own = own_netns();
  if (!own) return own.error();
  if (*own == opts.netns) return read_host(opts.proc_root);
  NamespacePaths found = find_namespaces(opts.netns, *own);
  Result<HostSnapshot> out = Error::runtime(
      fmt::format("network namespace {} is gone (no process or /run/netns entry leads to it any more)", opts.netns));
  std::thread([&] {
    int err = 0;
    switch (enter_namespace(opts.netns, found.paths[opts.netns], err)) {
      case Entered::Yes:
        out = read_host("/proc", "/proc/thread-self/net");
        break;
      case Entered::Denied:
        out =
            Error::runtime(fmt::format("cannot enter network namespace {} to read its settings and counters: {}; "
                                       "run as root",
                                       opts.netns, strerror(err)));
        break;
      case Entered::Gone:
        break;
    }
  }).join();
  return out;
}

// The live half: traffic for --observe seconds, then what the kernel holds.
Status observe(const DoctorOptions& opts, DoctorInput& in) {
  if (auto st = preflight(); !st) return st;
  TracerOptions topts;
  topts.filter.netns = opts.netns;
  auto tracer = Tracer::start(topts);
  if (!tracer) return tracer.error();
  if (auto st = drop_to_live_capabilities(); !st) spdlog::warn("{}", st.error().message);
  ConnectCounter counter;
  const auto t0 = std::chrono::steady_clock::now();
  const auto deadline = t0 + std::chrono::duration_cast<std::chrono::steady_clock::duration>(
                                 std::chrono::duration<double>(opts.observe_s));
  if (!opts.json) spdlog::info("watching for {:.0f} s ...", opts.observe_s);
  while (!stop_requested() && std::chrono::steady_clock::now() < deadline) {
    if (auto n = (*tracer)->poll(counter, kConsumerPollMs); !n) return n.error();
  }
  if (auto n = (*tracer)->poll(counter, 0); !n) return n.error();
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  auto after = read_diagnosed(opts);
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
  if (!leaks.owner_error.empty()) spdlog::warn("{}", leaks.owner_error);
  auto counters = (*tracer)->counters();
  if (!counters) return counters.error();
  Observation o = summarize_observation(dump->sockets, counter.connects, seconds, std::move(leaks), lopts.min_age_ns,
                                        counter.no_local_port);
  o.events = counters->events;
  o.lost = counters->lost();
  in.observation = std::move(o);
  return Ok{};
}

}  // namespace

Result<int> run_doctor(const DoctorOptions& opts) {
  for (auto [flag, dir] : {std::pair{"--proc-root", &opts.proc_root}, std::pair{"--etc-root", &opts.etc_root}}) {
    if (auto st = check_directory(flag, *dir); !st) return st.error();
  }
  if (opts.netns) {
    if (auto st = require_netns(opts.netns); !st) return st.error();
  }
  DoctorInput in;
  in.tw_recycle_config = tw_recycle_mentions(opts.etc_root);
  auto before = read_diagnosed(opts);
  if (!before) return before.error();
  in.before = before.value();
  in.after = in.before;
  // Files copied from another host describe no live traffic here.
  if (opts.proc_root == "/proc" && opts.observe_s > 0) {
    if (auto st = observe(opts, in); !st) return st.error();
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
