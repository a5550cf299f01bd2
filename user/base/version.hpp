// tcpfsm's version, from the project() line of the top CMakeLists.txt.
#pragma once

namespace tcpfsm {

inline constexpr const char* kVersion = TCPFSM_VERSION;

}  // namespace tcpfsm
