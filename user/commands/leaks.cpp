// `tcpfsm leaks`: sockets stuck in CLOSE_WAIT and friends, and who holds them.
//
// The BPF programs run with records off: they only keep each socket's state
// entry time in socket storage, which every pass reads back with a
// state-filtered sock_diag dump. Nothing has to be consumed between passes.
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <chrono>
#include <thread>

#include "account/leak_watcher.hpp"
#include "base/output.hpp"
#include "commands/checks.hpp"
#include "commands/commands.hpp"
#include "commands/privileges.hpp"
#include "commands/run_control.hpp"
#include "kernel/preflight.hpp"
#include "kernel/tracer.hpp"
#include "views/leaks_view.hpp"

namespace tcpfsm {
namespace {

// Time a pass may spend scanning /proc for owners before it reports what it
// has; the next pass goes on from there.
constexpr std::chrono::milliseconds kOwnerScanBudget{1000};

void print(Output& out, const LeakReport& report, const LeaksOptions& opts, const LeakOptions& lopts, uint64_t pass) {
  if (opts.json) {
    out.buffer() += leaks_json(report).dump();
    out.buffer() += '\n';
    return;
  }
  out.start_report(opts.watch_s > 0, pass == 0);
  out.buffer() += leaks_text(report, lopts);
}

}  // namespace

Status run_leaks(const LeaksOptions& opts) {
  FilterSpec filter = opts.filter;
  if (auto st = resolve_filter(filter); !st) return st;
  LeakOptions lopts;
  lopts.min_age_ns = static_cast<uint64_t>(opts.min_age_s * 1e9);
  know_timers(lopts, filter.netns);  // dates sockets found already stuck
  if (auto st = set_holder_filters(lopts, filter); !st) return st;
  TracerOptions topts;
  topts.mode = TracerOptions::Mode::Storage;  // socket storage only
  if (auto st = preflight(topts.mode); !st) return st;
  topts.filter.family = filter.family;
  topts.filter.netns = filter.netns;
  auto tracer = Tracer::start(topts);
  if (!tracer) return tracer.error();
  if (auto st = drop_to_live_capabilities(); !st) spdlog::warn("{}", st.error().message);

  LeakFinder finder(lopts);
  ProcOwnerLookup owners(kOwnerScanBudget);
  Output out(STDOUT_FILENO);
  using clock = std::chrono::steady_clock;
  const auto start = clock::now();
  const auto deadline =
      start + std::chrono::duration_cast<clock::duration>(std::chrono::duration<double>(opts.duration_s));
  auto over = [&] { return stop_requested() || (opts.duration_s > 0 && clock::now() >= deadline); };
  auto next = start;
  std::string warned;
  for (uint64_t pass = 0;; ++pass) {
    auto report = leak_pass(finder, owners, filter, (*tracer)->sk_storage_map_fd());
    if (!report) return report.error();
    // JSON readers see it too: stderr, once per distinct error.
    if (!report->owner_error.empty() && report->owner_error != warned) spdlog::warn("{}", warned = report->owner_error);
    print(out, *report, opts, lopts, pass);
    if (!out.flush() || opts.watch_s <= 0) break;
    next += std::chrono::duration_cast<clock::duration>(std::chrono::duration<double>(opts.watch_s));
    if (next < clock::now()) next = clock::now();
    while (!over() && clock::now() < next) std::this_thread::sleep_for(std::chrono::milliseconds(20));
    if (over()) break;
  }
  return Ok{};
}

}  // namespace tcpfsm
