// One function per subcommand; main only parses flags and reports errors.
#pragma once

#include "base/result.hpp"
#include "cli/cli.hpp"

namespace tcpfsm {

Status run_trace(const TraceOptions& opts);
Status run_life(const LifeOptions& opts);
Status run_stats(const StatsOptions& opts);
Status run_leaks(const LeaksOptions& opts);
Status run_serve(const ServeOptions& opts);
// The exit status: 0 healthy, 1 findings of warning or worse.
Result<int> run_doctor(const DoctorOptions& opts);

}  // namespace tcpfsm
