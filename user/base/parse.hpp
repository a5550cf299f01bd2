// Numbers, ports, durations and sizes from text: the one place user input
// and kernel text files are turned into numbers.
#pragma once

#include <charconv>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/result.hpp"

namespace tcpfsm {

// 'text', as usage errors show what was given.
std::string single_quoted(std::string_view text);

// A whole decimal number of type T, nothing before or after it (no sign for
// unsigned types, no blanks); nullopt on anything else or on overflow.
template <typename T>
std::optional<T> parse_number(std::string_view s) {
  T v{};
  const char* end = s.data() + s.size();
  const auto [ptr, ec] = std::from_chars(s.data(), end, v, 10);
  if (s.empty() || ec != std::errc() || ptr != end) return std::nullopt;
  return v;
}

// As parse_number, after dropping blanks, tabs and newlines around it (the
// form of a /proc/sys file).
std::optional<int64_t> parse_trimmed_int(std::string_view s);

// "80,443": a comma-separated list of ports 1-65535, sorted, unique.
Result<std::vector<uint16_t>> parse_port_list(std::string_view flag, std::string_view text);
// A positive duration in seconds, with allow_zero 0 too: a plain number is
// seconds ("2", "0.5"); units as systemd and Prometheus write them, one or
// several ("500ms", "30s", "5m", "1h30m"; us, ms, s/sec, m/min, h, d).
Result<double> parse_seconds(std::string_view flag, std::string_view text, bool allow_zero = false);
// "4096", "64K", "8M", "1G" -> bytes (at most 4 GiB).
Result<size_t> parse_byte_size(std::string_view flag, std::string_view text);
// A count from 0 to `max` ("20").
Result<size_t> parse_count(std::string_view flag, std::string_view text, size_t max);

}  // namespace tcpfsm
