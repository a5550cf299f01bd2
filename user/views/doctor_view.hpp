// The views of `tcpfsm doctor`: findings as a JSON array, or as a report a
// person reads (severity, id, title, evidence, why, what to do).
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "diagnose/doctor.hpp"

namespace tcpfsm {

nlohmann::json findings_json(const std::vector<Finding>& f);
std::string findings_text(const std::vector<Finding>& f, const DoctorInput& in);

}  // namespace tcpfsm
