// The views of `tcpfsm leaks`: one JSON object per holder group, and the
// report a person reads, grouped by state.
#pragma once

#include <nlohmann/json.hpp>
#include <string>

#include "account/leak_finder.hpp"

namespace tcpfsm {

nlohmann::json leak_group_json(const LeakGroup& g);
nlohmann::json leaks_json(const LeakReport& r);
std::string leaks_text(const LeakReport& r, const LeakOptions& opts);

}  // namespace tcpfsm
