// cgroup v2 helpers: a directory's id (what BPF compares against) and its
// path as /proc/PID/cgroup names it (what holder filters compare against).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "base/result.hpp"

namespace tcpfsm {

// The id of a cgroup v2 directory (its inode number on cgroup2fs). Usage
// errors name --cgroup: the directory always comes from that flag.
Result<uint64_t> cgroup_id_of(const std::string& dir);

// A cgroup v2 directory as /proc/PID/cgroup names it: relative to the
// cgroup2 mount it is under ("/system.slice/nginx.service").
Result<std::string> cgroup_relative(const std::string& dir);

// Whether a process in cgroup `path` is at or below `under` ("/a" covers
// "/a" and "/a/b", not "/ab").
bool cgroup_within(std::string_view path, std::string_view under);

}  // namespace tcpfsm
