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

namespace {

std::string upper(std::string_view s) {
  std::string out(s);
  std::transform(out.begin(), out.end(), out.begin(), [](char c) { return static_cast<char>(std::toupper(c)); });
  return out;
}

constexpr Verdict kVerdicts[] = {Verdict::Harmful, Verdict::NoEffectHere, Verdict::UnneededHere, Verdict::HelpsHere,
                                 Verdict::UnknownSetting};

}  // namespace

nlohmann::json recipe_json(const Recipe& r, const std::vector<RecipeVerdict>& v, const std::string& source,
                           const DoctorInput& in) {
  nlohmann::json lines = nlohmann::json::array();
  nlohmann::json counts = nlohmann::json::object();
  for (Verdict k : kVerdicts) counts[std::string(verdict_name(k))] = 0;
  for (const auto& x : v) {
    counts[std::string(verdict_name(x.verdict))] = counts[std::string(verdict_name(x.verdict))].get<int>() + 1;
    lines.push_back({{"line", x.line.line},
                     {"setting", x.line.setting},
                     {"value", x.line.value},
                     {"current", x.current ? nlohmann::json(*x.current) : nlohmann::json(nullptr)},
                     {"verdict", verdict_name(x.verdict)},
                     {"why", x.why},
                     {"evidence", x.evidence}});
  }
  return {{"recipe", source},
          {"lines", r.lines},
          {"skipped_lines", r.skipped},
          {"observed_seconds", in.observation ? nlohmann::json(in.observation->seconds) : nlohmann::json(nullptr)},
          {"verdict_counts", counts},
          {"verdicts", lines}};
}

std::string recipe_text(const Recipe& r, const std::vector<RecipeVerdict>& v, const std::string& source,
                        const DoctorInput& in) {
  std::string out;
  auto it = std::back_inserter(out);
  fmt::format_to(it, "tcpfsm doctor --recipe {}: {} settings on {} lines ({} lines not settings), judged {}.\n", source,
                 v.size(), r.lines, r.skipped,
                 in.observation ? fmt::format("on this host after watching {:.0f} s", in.observation->seconds)
                                : std::string("on settings and counters only, no live traffic watched"));
  std::string counts;
  for (Verdict k : kVerdicts) {
    const auto n = std::count_if(v.begin(), v.end(), [k](const RecipeVerdict& x) { return x.verdict == k; });
    counts += fmt::format("{}{} {}", counts.empty() ? "" : ", ", verdict_name(k), n);
  }
  fmt::format_to(it, "{}\n", counts);
  for (const auto& x : v) {
    fmt::format_to(it, "\n{:<15} line {}: {} = {}  (now: {})\n", upper(verdict_name(x.verdict)), x.line.line,
                   x.line.setting, x.line.value, x.current ? *x.current : "no such setting");
    fmt::format_to(it, "  why:      {}\n", x.why);
    for (const auto& e : x.evidence) fmt::format_to(it, "  evidence: {}\n", e);
  }
  return out;
}

}  // namespace tcpfsm
