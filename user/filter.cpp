#include "tcpfsm/filter.hpp"

#include <linux/magic.h>
#include <sys/stat.h>
#include <sys/vfs.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cstring>

namespace tcpfsm {
namespace {

template <typename T>
bool parse_uint(std::string_view text, T& out) {
  if (text.empty()) return false;
  auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), out, 10);
  return ec == std::errc() && ptr == text.data() + text.size();
}

std::string quoted(std::string_view s) {
  std::string q;
  q.reserve(s.size() + 2);
  q.push_back('\'');
  q.append(s);
  q.push_back('\'');
  return q;
}

}  // namespace

namespace {

bool has_port(const std::vector<uint16_t>& ports, uint16_t port) {
  return ports.empty() || std::find(ports.begin(), ports.end(), port) != ports.end();
}

}  // namespace

bool FilterSpec::matches(const SocketRecord& r) const {
  return (!family || r.family == family) && (!netns || r.netns == netns) && has_port(lports, r.sport) &&
         has_port(dports, r.dport);
}

bool FilterSpec::matches(const Event& e) const {
  if (family && e.family != family) return false;
  if (netns && e.netns != netns) return false;
  if (!has_port(lports, e.sport) || !has_port(dports, e.dport)) return false;
  if (pid && e.pid != pid) return false;
  if (!comm.empty() && (e.pid == 0 || e.comm_view() != comm)) return false;
  return true;
}

Result<std::vector<uint16_t>> parse_port_list(std::string_view flag, std::string_view text) {
  std::vector<uint16_t> ports;
  size_t start = 0;
  while (true) {
    size_t comma = text.find(',', start);
    std::string_view item = text.substr(start, comma == std::string_view::npos ? std::string_view::npos : comma - start);
    uint32_t port = 0;
    if (!parse_uint(item, port) || port == 0 || port > 65535) {
      return Error::usage("invalid " + std::string(flag) + " " + quoted(text) + ": " +
                          (item.empty() ? std::string("empty port") : quoted(item) + " is not a port") +
                          "; give ports 1-65535 separated by commas, e.g. 80,443");
    }
    ports.push_back(static_cast<uint16_t>(port));
    if (comma == std::string_view::npos) break;
    start = comma + 1;
  }
  std::sort(ports.begin(), ports.end());
  ports.erase(std::unique(ports.begin(), ports.end()), ports.end());
  return ports;
}

Result<uint32_t> parse_pid(std::string_view text) {
  uint32_t pid = 0;
  if (!parse_uint(text, pid) || pid == 0 || pid >= (1U << 22)) {
    // PID_MAX_LIMIT is 2^22: no process id reaches it.
    return Error::usage("invalid --pid " + quoted(text) + ": give a process id, a positive number such as 1234");
  }
  return pid;
}

Result<std::string> parse_comm(std::string_view text) {
  if (text.empty() || text.size() > 15) {
    return Error::usage("invalid --comm " + quoted(text) +
                        ": a process name is 1 to 15 characters, as /proc/PID/comm shows it");
  }
  return std::string(text);
}

Result<uint32_t> parse_netns(std::string_view text) {
  std::string_view digits = text;
  if (digits.starts_with("net:[") && digits.ends_with("]")) digits = digits.substr(5, digits.size() - 6);
  uint32_t ino = 0;
  if (!parse_uint(digits, ino) || ino == 0) {
    return Error::usage("invalid --netns " + quoted(text) +
                        ": give the namespace inode that 'readlink /proc/PID/ns/net' prints, e.g. 4026531840");
  }
  return ino;
}

Result<uint64_t> cgroup_id_of(const std::string& path) {
  struct statfs fs {};
  if (statfs(path.c_str(), &fs) != 0) {
    return Error::usage("invalid --cgroup " + quoted(path) + ": " + std::strerror(errno) +
                        "; give a cgroup v2 directory such as /sys/fs/cgroup/system.slice/nginx.service");
  }
  if (fs.f_type != CGROUP2_SUPER_MAGIC) {
    return Error::usage("invalid --cgroup " + quoted(path) +
                        ": not on a cgroup v2 filesystem; give a directory under the cgroup2 mount "
                        "(see 'mount -t cgroup2')");
  }
  struct stat st {};
  if (stat(path.c_str(), &st) != 0 || !S_ISDIR(st.st_mode)) {
    return Error::usage("invalid --cgroup " + quoted(path) + ": not a cgroup directory");
  }
  // On 64-bit kernels a cgroup's id is its kernfs inode number.
  return static_cast<uint64_t>(st.st_ino);
}

}  // namespace tcpfsm
