// human_duration (see duration.hpp).
#include "base/duration.hpp"

#include <fmt/format.h>

namespace tcpfsm {

std::string human_duration(uint64_t ns) {
  // Thresholds sit where rounding would otherwise print "1000us" or "100.0s".
  if (ns < 1'000) return fmt::format("{}ns", ns);
  if (ns < 999'500) return fmt::format("{:.0f}us", static_cast<double>(ns) / 1e3);
  if (ns < 9'995'000) return fmt::format("{:.2f}ms", static_cast<double>(ns) / 1e6);
  if (ns < 999'500'000) return fmt::format("{:.0f}ms", static_cast<double>(ns) / 1e6);
  if (ns < 99'950'000'000ULL) return fmt::format("{:.1f}s", static_cast<double>(ns) / 1e9);
  const uint64_t s = (ns + 500'000'000) / 1'000'000'000;
  if (s < 3600) return fmt::format("{}m{:02d}s", s / 60, s % 60);
  return fmt::format("{}h{:02d}m", s / 3600, (s % 3600) / 60);
}

}  // namespace tcpfsm
