// The flags every command shares: filters, and the helpers for text values.
#include <sys/socket.h>

#include "base/parse.hpp"
#include "cli/flags.hpp"
#include "cli/values.hpp"

namespace tcpfsm::flags {

CLI::Option* add_text(CLI::App* cmd, const std::string& names, Text& t, const std::string& help,
                      const std::string& type_name, const std::string& group) {
  t.opt = cmd->add_option(names, t.value, help)->type_name(type_name)->group(group);
  return t.opt;
}

Status seconds(const Text& t, std::string_view flag, bool allow_zero, double& dst) {
  if (!t.given()) return Ok{};
  auto v = parse_seconds(flag, t.value, allow_zero);
  if (!v) return v.error();
  dst = v.value();
  return Ok{};
}

Status ringbuf(const Text& t, size_t& dst) {
  dst = TCPFSM_DEFAULT_RINGBUF_BYTES;
  if (!t.given()) return Ok{};
  auto s = parse_ringbuf_size(t.value);
  if (!s) return s.error();
  dst = s.value();
  return Ok{};
}

std::string default_ringbuf_text() { return "(default " + std::to_string(TCPFSM_DEFAULT_RINGBUF_BYTES >> 20) + "M)"; }

void FilterFlags::add(CLI::App* cmd, const std::string& group, bool short_pid) {
  auto* v4 = cmd->add_flag("-4,--ipv4", ipv4_, "IPv4 sockets only")->group(group);
  cmd->add_flag("-6,--ipv6", ipv6_, "IPv6 sockets only")->excludes(v4)->group(group);
  add_text(cmd, "-L,--localport", lports_, "Local ports, comma-separated (e.g. 80,443)", "PORTS", group);
  add_text(cmd, "-D,--remoteport", dports_, "Remote ports, comma-separated", "PORTS", group);
  add_text(cmd, short_pid ? "-p,--pid" : "--pid", pid_, "Sockets owned by this process id", "PID", group);
  add_text(cmd, "--comm", comm_, "Sockets owned by a process with this name (exact, as in /proc/PID/comm)", "NAME",
           group);
  add_text(cmd, "--netns", netns_, "Sockets in this network namespace (inode from 'readlink /proc/PID/ns/net')",
           "INODE", group);
  add_text(cmd, "--cgroup", cgroup_, "Sockets created in this cgroup v2 directory or below it", "PATH", group);
}

Result<FilterSpec> FilterFlags::finish() const {
  FilterSpec f;
  if (ipv4_) f.family = AF_INET;
  if (ipv6_) f.family = AF_INET6;
  for (auto [text, flag, dst] : {std::tuple{&lports_, "-L", &f.lports}, std::tuple{&dports_, "-D", &f.dports}}) {
    if (!text->given()) continue;
    auto p = parse_port_list(flag, text->value);
    if (!p) return p.error();
    *dst = std::move(p.value());
  }
  if (pid_.given()) {
    auto p = parse_pid(pid_.value);
    if (!p) return p.error();
    f.pid = p.value();
  }
  if (comm_.given()) {
    auto c = parse_comm(comm_.value);
    if (!c) return c.error();
    f.comm = c.value();
  }
  if (netns_.given()) {
    auto n = parse_netns("--netns", netns_.value);
    if (!n) return n.error();
    f.netns = n.value();
  }
  if (cgroup_.given()) {
    // Resolved to an id by the command (commands/checks.hpp): a file system lookup.
    if (cgroup_.value.empty()) return Error::usage("invalid --cgroup '': give a cgroup v2 directory");
    f.cgroup_path = cgroup_.value;
  }
  return f;
}

}  // namespace tcpfsm::flags
