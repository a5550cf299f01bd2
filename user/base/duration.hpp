// Durations as people read them: "812us", "1.20ms", "60.1s", "2m03s", "1h02m".
#pragma once

#include <cstdint>
#include <string>

namespace tcpfsm {

std::string human_duration(uint64_t ns);

}  // namespace tcpfsm
