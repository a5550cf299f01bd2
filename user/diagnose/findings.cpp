// Severity names, the exit status findings give, and what every rule's
// text shares: counters, processes, command lines.
#include <fmt/format.h>

#include <algorithm>

#include "diagnose/rules.hpp"

namespace tcpfsm {

int64_t counter_value(const CounterMap& m, const std::string& key) {
  auto it = m.find(key);
  return it == m.end() ? 0 : it->second;
}

int64_t counter_moved(const DoctorInput& in, const std::string& key) {
  return std::max<int64_t>(0, counter_value(in.after.counters, key) - counter_value(in.before.counters, key));
}

std::string process_text(uint32_t pid, std::string_view comm, const std::optional<ProcessInfo>& p) {
  std::string s = fmt::format("pid {} ({}", pid, comm);
  if (p) {
    if (!p->user.empty()) s += ", user " + p->user;
    if (!p->container_id.empty())
      s += ", container " + p->container_id.substr(0, 12);
    else if (!p->cgroup.empty() && p->cgroup != "/")
      s += ", cgroup " + p->cgroup;
  }
  return s + ")";
}

std::string one_line(std::string_view cmdline) {
  std::string out;
  for (char c : cmdline) out += static_cast<unsigned char>(c) < 0x20 ? ' ' : c;
  if (out.size() > 200) out = out.substr(0, 197) + "...";
  return out;
}

std::string_view severity_name(Severity s) {
  switch (s) {
    case Severity::Ok:
      return "ok";
    case Severity::Info:
      return "info";
    case Severity::Warning:
      return "warning";
    case Severity::Critical:
      return "critical";
  }
  return "info";
}

int doctor_exit_status(const std::vector<Finding>& f) {
  for (const auto& x : f) {
    if (x.severity >= Severity::Warning) return 1;
  }
  return 0;
}

}  // namespace tcpfsm
