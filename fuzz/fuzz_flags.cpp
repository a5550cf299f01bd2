// The value parsers behind the command line's flags: durations ("1h30m",
// "500ms"), sizes ("64K"), port lists ("80,443") and counts. Whatever the
// text, each either refuses it with a usage error that names the flag, or
// returns a value inside the range its documentation promises.
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "base/parse.hpp"

namespace {

void check(bool ok) {
  if (!ok) std::abort();
}

template <typename T>
void refused_well(const tcpfsm::Result<T>& r, std::string_view flag) {
  check(r.error().kind == tcpfsm::Error::Kind::Usage);
  check(r.error().message.find(flag) != std::string::npos);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  for (bool zero : {false, true}) {
    auto s = tcpfsm::parse_seconds("--duration", text, zero);
    if (s.ok())
      check(std::isfinite(*s) && *s >= 0 && *s <= 1e9 && (zero || *s > 0));
    else
      refused_well(s, "--duration");
  }
  auto b = tcpfsm::parse_byte_size("--ringbuf-size", text);
  if (b.ok())
    check(*b > 0 && *b <= (size_t{1} << 32));
  else
    refused_well(b, "--ringbuf-size");
  auto p = tcpfsm::parse_port_list("--port", text);
  if (p.ok()) {
    for (size_t i = 0; i < p->size(); ++i) check((*p)[i] > 0 && (i == 0 || (*p)[i - 1] < (*p)[i]));
  } else {
    refused_well(p, "--port");
  }
  auto c = tcpfsm::parse_count("--top", text, 1000);
  if (c.ok())
    check(*c <= 1000);
  else
    refused_well(c, "--top");
  return 0;
}
