// Checks of paths and namespaces named on the command line (see checks.hpp).
#include "commands/checks.hpp"

#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "base/cgroup.hpp"
#include "collect/netns.hpp"

namespace tcpfsm {

Status resolve_filter(FilterSpec& filter) {
  if (!filter.cgroup_path.empty()) {
    auto id = cgroup_id_of(filter.cgroup_path);
    if (!id) return id.error();
    filter.cgroup_id = id.value();
  }
  if (filter.netns) return require_netns(filter.netns);
  return Ok{};
}

Status check_replay_file(const std::string& path) {
  if (path != "-" && access(path.c_str(), R_OK) != 0) {
    return Error::usage("invalid --replay '" + path + "': " + std::strerror(errno) +
                        "; give a file written by 'tcpfsm trace --json', or - for stdin");
  }
  return Ok{};
}

Status check_directory(std::string_view flag, const std::string& dir) {
  struct stat st {};
  if (stat(dir.c_str(), &st) != 0 || !S_ISDIR(st.st_mode)) {
    return Error::usage("invalid " + std::string(flag) + " '" + dir + "': not a directory");
  }
  return Ok{};
}

}  // namespace tcpfsm
