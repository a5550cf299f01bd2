// Number, port, duration and size parsing (see parse.hpp).
#include "base/parse.hpp"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <optional>
#include <string>

namespace tcpfsm {
// Built by appends: GCC 12 warns (-Wrestrict, a false positive) on "'" + s + "'".
std::string single_quoted(std::string_view s) {
  std::string q;
  q.reserve(s.size() + 2);
  q.push_back('\'');
  q.append(s);
  q.push_back('\'');
  return q;
}

std::optional<int64_t> parse_trimmed_int(std::string_view s) {
  constexpr std::string_view kBlank = " \t\n";
  const size_t first = s.find_first_not_of(kBlank);
  if (first == std::string_view::npos) return std::nullopt;
  s = s.substr(first, s.find_last_not_of(kBlank) - first + 1);
  return parse_number<int64_t>(s);
}

Result<std::vector<uint16_t>> parse_port_list(std::string_view flag, std::string_view text) {
  std::vector<uint16_t> ports;
  size_t start = 0;
  while (true) {
    const size_t comma = text.find(',', start);
    const std::string_view item =
        text.substr(start, comma == std::string_view::npos ? std::string_view::npos : comma - start);
    const auto port = parse_number<uint32_t>(item);
    if (!port || *port == 0 || *port > 65535) {
      return Error::usage("invalid " + std::string(flag) + " " + single_quoted(text) + ": " +
                          (item.empty() ? std::string("empty port") : single_quoted(item) + " is not a port") +
                          "; give ports 1-65535 separated by commas, e.g. 80,443");
    }
    ports.push_back(static_cast<uint16_t>(*port));
    if (comma == std::string_view::npos) break;
    start = comma + 1;
  }
  std::sort(ports.begin(), ports.end());
  ports.erase(std::unique(ports.begin(), ports.end()), ports.end());
  return ports;
}

namespace {

// Seconds in one unit of a duration, as systemd and Prometheus spell them; 0: not a unit.
double unit_seconds(std::string_view u) {
  if (u == "us") return 1e-6;
  if (u == "ms") return 1e-3;
  if (u == "s" || u == "sec") return 1;
  if (u == "m" || u == "min") return 60;
  if (u == "h") return 3600;
  if (u == "d") return 86400;
  return 0;
}

// "10", "0.5", "500ms", "1m30s": seconds; nullopt when malformed.
std::optional<double> duration_seconds(std::string_view text) {
  const char* p = text.data();
  const char* end = p + text.size();
  double v = 0;
  const auto [after, ec] = std::from_chars(p, end, v);
  if (ec != std::errc() || after == p || v < 0) return std::nullopt;
  if (after == end) return v;  // a plain number: seconds
  double total = 0;
  for (p = after;;) {  // number, unit, number, unit...
    const char* u = p;
    while (p != end && *p >= 'a' && *p <= 'z') ++p;
    const double per = unit_seconds(std::string_view(u, static_cast<size_t>(p - u)));
    if (per == 0) return std::nullopt;
    total += v * per;
    if (p == end) return total;
    const auto [next, ec2] = std::from_chars(p, end, v);
    if (ec2 != std::errc() || next == p || next == end || v < 0) return std::nullopt;  // a number needs its unit
    p = next;
  }
}

}  // namespace

Result<double> parse_seconds(std::string_view flag, std::string_view text, bool allow_zero) {
  const auto parsed = duration_seconds(text);
  const double v = parsed.value_or(-1);
  if (!parsed || !std::isfinite(v) || v < 0 || (v == 0 && !allow_zero) || v > 1e9) {
    return Error::usage("invalid " + std::string(flag) + " " + single_quoted(text) + ": give " +
                        (allow_zero ? "a duration (0 to turn it off)" : "a positive duration") +
                        " such as 10, 0.5, 500ms, 30s, 5m or 1h30m (a plain number is seconds)");
  }
  return v;
}

Result<size_t> parse_byte_size(std::string_view flag, std::string_view text) {
  size_t value = 0;
  auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), value, 10);
  const std::string_view suffix(ptr, static_cast<size_t>(text.data() + text.size() - ptr));
  size_t mult = 1;
  if (suffix == "K" || suffix == "k" || suffix == "KiB") {
    mult = 1u << 10;
  } else if (suffix == "M" || suffix == "m" || suffix == "MiB") {
    mult = 1u << 20;
  } else if (suffix == "G" || suffix == "g" || suffix == "GiB") {
    mult = 1u << 30;
  } else if (!suffix.empty()) {
    ec = std::errc::invalid_argument;
  }
  if (ec != std::errc() || ptr == text.data() || value == 0 || value > (size_t{1} << 32) / mult) {
    return Error::usage("invalid " + std::string(flag) + " " + single_quoted(text) +
                        ": give a size such as 4096, 64K or 8M");
  }
  return value * mult;
}

Result<size_t> parse_count(std::string_view flag, std::string_view text, size_t max) {
  const auto n = parse_number<size_t>(text);
  if (!n || *n > max) {
    return Error::usage("invalid " + std::string(flag) + " " + single_quoted(text) + ": give a number from 0 to " +
                        std::to_string(max));
  }
  return *n;
}

}  // namespace tcpfsm
