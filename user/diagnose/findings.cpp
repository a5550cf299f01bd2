// Severity names and the exit status findings give.
#include "diagnose/doctor.hpp"

namespace tcpfsm {

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
