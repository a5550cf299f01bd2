// What the command line names but only the system can check, done once a
// command starts: a cgroup directory, a capture file, a directory, a
// network namespace. Each failure is one line: a usage error (exit 2) for
// what the user typed wrong, a runtime one (exit 1) for a namespace that
// does not exist (it may exist on another run).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "base/result.hpp"
#include "model/filter.hpp"

namespace tcpfsm {

// Sets filter.cgroup_id from filter.cgroup_path, and checks --netns.
Status resolve_filter(FilterSpec& filter);
// A capture file that can be read ("-": stdin).
Status check_replay_file(const std::string& path);
// A directory, for --proc-root and --etc-root.
Status check_directory(std::string_view flag, const std::string& dir);

}  // namespace tcpfsm
