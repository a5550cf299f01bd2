// The views of `tcpfsm doctor`: findings as a JSON array, or as a report a
// person reads (severity, id, title, evidence, why, what to do).
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "diagnose/doctor.hpp"
#include "diagnose/recipe.hpp"

namespace tcpfsm {

nlohmann::json findings_json(const std::vector<Finding>& f);
std::string findings_text(const std::vector<Finding>& f, const DoctorInput& in);

// `doctor --recipe`: a verdict per setting, in the recipe's order, under a
// line that counts the recipe's lines, those that were not settings, and the
// verdicts. `source` names the recipe ("-" for stdin).
nlohmann::json recipe_json(const Recipe& r, const std::vector<RecipeVerdict>& v, const std::string& source,
                           const DoctorInput& in);
std::string recipe_text(const Recipe& r, const std::vector<RecipeVerdict>& v, const std::string& source,
                        const DoctorInput& in);

}  // namespace tcpfsm
