// Flag values (see values.hpp).
#include "cli/values.hpp"

#include "base/parse.hpp"

namespace tcpfsm {

Result<uint32_t> parse_pid(std::string_view text) {
  const auto pid = parse_number<uint32_t>(text);
  // PID_MAX_LIMIT is 2^22: no process id reaches it.
  if (!pid || *pid == 0 || *pid >= (1U << 22)) {
    return Error::usage("invalid --pid " + single_quoted(text) + ": give a process id, a positive number such as 1234");
  }
  return *pid;
}

Result<std::string> parse_comm(std::string_view text) {
  if (text.empty() || text.size() > 15) {
    return Error::usage("invalid --comm " + single_quoted(text) +
                        ": a process name is 1 to 15 characters, as /proc/PID/comm shows it");
  }
  return std::string(text);
}

Result<uint32_t> parse_netns(std::string_view flag, std::string_view text) {
  std::string_view digits = text;
  if (digits.starts_with("net:[") && digits.ends_with("]")) digits = digits.substr(5, digits.size() - 6);
  const auto ino = parse_number<uint32_t>(digits);
  if (!ino || *ino == 0) {
    return Error::usage("invalid " + std::string(flag) + " " + single_quoted(text) +
                        ": give the namespace inode that 'readlink /proc/PID/ns/net' prints, e.g. 4026531840");
  }
  return *ino;
}

Result<std::pair<std::string, uint16_t>> parse_listen(std::string_view text, std::string_view flag) {
  auto bad = [&](const std::string& why) {
    return Error::usage("invalid " + std::string(flag) + " " + single_quoted(text) + ": " + why +
                        "; give HOST:PORT, e.g. 127.0.0.1:9977, [::1]:9977 or :9977 (every address)");
  };
  std::string_view host, port;
  if (!text.empty() && text.front() == '[') {
    const size_t close = text.find(']');
    if (close == std::string_view::npos || close + 1 >= text.size() || text[close + 1] != ':')
      return bad("an IPv6 address needs brackets and a port");
    host = text.substr(1, close - 1);
    port = text.substr(close + 2);
  } else {
    const size_t colon = text.rfind(':');
    if (colon == std::string_view::npos) return bad("no port");
    host = text.substr(0, colon);
    port = text.substr(colon + 1);
    if (host.find(':') != std::string_view::npos) return bad("an IPv6 address needs brackets");
  }
  // ":9977" is every address, IPv4 and IPv6, as the Prometheus exporters read it.
  if (host.empty() && text.front() != '[') host = "::";
  if (host.empty()) return bad("no host");
  const auto value = parse_number<uint32_t>(port);
  if (!value || *value == 0 || *value > 65535) return bad("the port must be 1-65535");
  return std::pair<std::string, uint16_t>{std::string(host), static_cast<uint16_t>(*value)};
}

Result<size_t> parse_ringbuf_size(std::string_view text) {
  auto s = parse_byte_size("--ringbuf-size", text);
  if (!s) return s.error();
  if (s.value() < 4096 || (s.value() & (s.value() - 1)) != 0) {
    return Error::usage("invalid --ringbuf-size " + single_quoted(text) +
                        ": give a power of two of at least 4096, e.g. 4M");
  }
  return s.value();
}

}  // namespace tcpfsm
