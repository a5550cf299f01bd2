// Parsers of /proc text (pid stat, status, cgroup, cmdline, fd links):
// pure functions that return nullopt or "" on malformed input, never crash
// and never read past the end of their argument. Fuzzed by fuzz_proc.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace tcpfsm {

// "socket:[12345]" -> 12345; anything else (other fd kinds, junk, overflow) -> nullopt.
std::optional<uint32_t> parse_socket_link(std::string_view link);
// Field 22 (starttime) of /proc/PID/stat. comm may hold spaces and ')', so
// fields are counted from the LAST ')'.
std::optional<uint64_t> parse_stat_start_time(std::string_view stat);
// The real uid: first number of the "Uid:" line of /proc/PID/status.
std::optional<uint32_t> parse_status_uid(std::string_view status);
// The cgroup v2 path ("0::/path") of /proc/PID/cgroup; without a 0:: line that
// has a path (cgroup v1 hosts), the name=systemd hierarchy's path; "" if none.
std::string parse_cgroup_path(std::string_view cgroup_file);
// The 64-hex container id in a cgroup path: docker-<id>.scope, /docker/<id>,
// cri-containerd-<id>.scope, crio-<id>.scope, libpod-<id>.scope,
// /kubepods/.../<id>; the innermost one when nested; "" if none.
std::string container_id_of(std::string_view cgroup_path);
// container_id_of the parse_cgroup_path path, else of any hierarchy's path:
// on hybrid hosts, cgroupfs-driver containers are visible only in the v1 lines.
std::string container_id_of_cgroup_file(std::string_view cgroup_file);
// /proc/PID/cmdline: NULs between arguments become spaces, trailing NULs and
// spaces are dropped.
std::string parse_cmdline(std::string_view raw);

}  // namespace tcpfsm
