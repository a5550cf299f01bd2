// The pieces parse_command_line assembles: the filter flags every live
// command shares, and one class per command (each in its own file) that
// declares its flags on a CLI11 subcommand and turns what was given into
// that command's options.
#pragma once

#include <CLI/CLI.hpp>
#include <string>
#include <string_view>

#include "cli/cli.hpp"

namespace tcpfsm::flags {

// A flag's value kept as text, so an empty value ("--pid ''") is rejected
// rather than silently ignored, and every value is checked by our parsers.
struct Text {
  std::string value;
  CLI::Option* opt = nullptr;
  bool given() const { return opt && opt->count() > 0; }
};

// Adds an option that keeps its text in `t`.
CLI::Option* add_text(CLI::App* cmd, const std::string& names, Text& t, const std::string& help,
                      const std::string& type_name, const std::string& group);

// Parses a given Text with parse_seconds into dst; not given: dst is kept.
Status seconds(const Text& t, std::string_view flag, bool allow_zero, double& dst);
// --ringbuf-size, or the default.
Status ringbuf(const Text& t, size_t& dst);
// The help text's "(default 8M)" for the ring buffer.
std::string default_ringbuf_text();

// --by and what goes with it: --sort, --state, --top, --max-groups, --host-root.
class GroupFlags {
 public:
  // with_table: the stats flags that shape a table (--sort, --state).
  void add(CLI::App* cmd, bool with_table);
  Result<GroupOptions> finish() const;

 private:
  bool with_table_ = false;
  Text by_, sort_, states_, top_, max_groups_, host_root_;
};

class FilterFlags {
 public:
  // short_pid: -p for --pid, as tcplife spells it (`life`).
  void add(CLI::App* cmd, const std::string& group = "Filters (applied in the kernel)", bool short_pid = false);
  Result<FilterSpec> finish() const;

 private:
  bool ipv4_ = false, ipv6_ = false;
  Text lports_, dports_, pid_, comm_, netns_, cgroup_;
};

class TraceFlags {
 public:
  CLI::App* add(CLI::App& app);
  Result<TraceOptions> finish();

 private:
  TraceOptions opts_;
  FilterFlags filter_;
  Text duration_, ringbuf_;
};

class LifeFlags {
 public:
  CLI::App* add(CLI::App& app);
  Result<LifeOptions> finish();

 private:
  LifeOptions opts_;
  FilterFlags filter_;
  Text duration_, ringbuf_, replay_, max_tracked_;
};

class StatsFlags {
 public:
  CLI::App* add(CLI::App& app);
  Result<StatsOptions> finish();

 private:
  StatsOptions opts_;
  FilterFlags filter_;
  GroupFlags groups_;
  Text interval_, duration_, reconcile_, stuck_, replay_, ringbuf_, hist_;
};

class LeaksFlags {
 public:
  CLI::App* add(CLI::App& app);
  Result<LeaksOptions> finish();

 private:
  LeaksOptions opts_;
  FilterFlags filter_;
  Text min_age_, watch_, duration_;
};

class ServeFlags {
 public:
  CLI::App* add(CLI::App& app);
  Result<ServeOptions> finish();

 private:
  ServeOptions opts_;
  FilterFlags filter_;
  GroupFlags groups_;
  Text listen_, listen_old_, web_config_, top_, stuck_, reconcile_, duration_, ringbuf_;
};

class DoctorFlags {
 public:
  CLI::App* add(CLI::App& app);
  Result<DoctorOptions> finish();

 private:
  DoctorOptions opts_;
  Text observe_, proc_root_, etc_root_, netns_, recipe_, idle_after_;
};

}  // namespace tcpfsm::flags
