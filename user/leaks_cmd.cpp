// `tcpfsm leaks`: sockets stuck in CLOSE_WAIT and friends, and who holds them.
//
// The BPF programs run with records off: they only keep each socket's state
// entry time in socket storage, which every pass reads back with a
// state-filtered sock_diag dump. Nothing has to be consumed between passes.
#include <spdlog/spdlog.h>
#include <stdio.h>
#include <unistd.h>

#include <chrono>
#include <climits>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <thread>

#include "output.hpp"
#include "privileges.hpp"
#include "run_control.hpp"
#include "tcpfsm/commands.hpp"
#include "tcpfsm/format.hpp"
#include "tcpfsm/leak_watcher.hpp"
#include "tcpfsm/tracer.hpp"

namespace tcpfsm {
namespace {

// Time a pass may spend scanning /proc for owners before it reports what it
// has; the next pass goes on from there.
constexpr std::chrono::milliseconds kOwnerScanBudget{1000};

}  // namespace

Status run_leaks(const LeaksOptions& opts) {
  LeakOptions lopts;
  lopts.min_age_ns = static_cast<uint64_t>(opts.min_age_s * 1e9);
  lopts.pid = opts.filter.pid;
  lopts.comm = opts.filter.comm;
  if (!opts.filter.cgroup_path.empty()) {
    auto rel = cgroup_relative(opts.filter.cgroup_path);
    if (!rel) return rel.error();
    lopts.cgroup_under = rel.value();
  }

  if (auto ok = preflight(); !ok) return ok.error();
  TracerOptions topts;
  topts.mode = TracerOptions::Mode::Storage;  // socket storage only
  topts.filter.family = opts.filter.family;
  topts.filter.netns = opts.filter.netns;
  auto tracer = Tracer::start(topts);
  if (!tracer) return tracer.error();
  if (auto st = drop_to_live_capabilities(); !st) spdlog::warn("{}", st.error().message);

  LeakFinder finder(lopts);
  ProcOwnerLookup owners(kOwnerScanBudget);
  Output out(STDOUT_FILENO);
  const bool tty = isatty(STDOUT_FILENO);

  using clock = std::chrono::steady_clock;
  const auto start = clock::now();
  const auto deadline = start + std::chrono::duration_cast<clock::duration>(std::chrono::duration<double>(opts.duration_s));
  auto next = start;
  for (uint64_t pass = 0;; ++pass) {
    auto pass_report = leak_pass(finder, owners, opts.filter, (*tracer)->sk_storage_map_fd());
    if (!pass_report) return pass_report.error();
    const LeakReport& report = pass_report.value();
    if (opts.json) {
      out.buffer() += leaks_json(report).dump();
      out.buffer() += '\n';
    } else {
      if (tty && opts.watch_s > 0) {
        out.buffer() += "\x1b[H\x1b[2J";  // redraw in place
      } else if (pass) {
        out.buffer() += '\n';
      }
      out.buffer() += leaks_text(report, lopts);
    }
    if (!out.flush() || opts.watch_s <= 0) break;

    next += std::chrono::duration_cast<clock::duration>(std::chrono::duration<double>(opts.watch_s));
    if (next < clock::now()) next = clock::now();
    while (!stop_requested() && clock::now() < next && (opts.duration_s <= 0 || clock::now() < deadline))
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    if (stop_requested() || (opts.duration_s > 0 && clock::now() >= deadline)) break;
  }
  return Ok{};
}

}  // namespace tcpfsm
