// The doctor's findings as JSON and as text (see doctor_view.hpp).
#include "views/doctor_view.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cctype>
#include <iterator>

namespace tcpfsm {

nlohmann::json findings_json(const std::vector<Finding>& f) {
  nlohmann::json out = nlohmann::json::array();
  for (const auto& x : f) {
    out.push_back({{"id", x.id},
                   {"severity", severity_name(x.severity)},
                   {"title", x.title},
                   {"evidence", x.evidence},
                   {"explanation", x.explanation},
                   {"action", x.action}});
  }
  return out;
}

std::string findings_text(const std::vector<Finding>& f, const DoctorInput& in) {
  std::string out;
  auto it = std::back_inserter(out);
  if (f.size() == 1 && f[0].severity == Severity::Ok) {
    fmt::format_to(it, "tcpfsm doctor: {}.\n", f[0].title);
    return out;
  }
  if (in.observation) fmt::format_to(it, "tcpfsm doctor: watched {:.0f} s.\n", in.observation->seconds);
  for (const auto& x : f) {
    std::string sev(severity_name(x.severity));
    std::transform(sev.begin(), sev.end(), sev.begin(), [](char c) { return static_cast<char>(std::toupper(c)); });
    fmt::format_to(it, "\n{} [{}] {}\n", sev, x.id, x.title);
    for (const auto& e : x.evidence) fmt::format_to(it, "  evidence: {}\n", e);
    if (!x.explanation.empty()) fmt::format_to(it, "  why:      {}\n", x.explanation);
    if (!x.action.empty()) fmt::format_to(it, "  do:       {}\n", x.action);
  }
  return out;
}

}  // namespace tcpfsm
