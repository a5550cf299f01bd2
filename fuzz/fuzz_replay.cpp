// Bytes as one capture line of `trace --json`, then split on '\n' as a
// capture file's lines.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "collect/capture_reader.hpp"

namespace {

void parse(std::string_view line) {
  auto r = tcpfsm::parse_capture_line(line);
  if (!r.ok()) {
    (void)r.error().message.size();
    return;
  }
  if (r->event) {
    // A parsed record has a valid comm, as decode_event guarantees.
    if (r->event->comm.back() != '\0') std::abort();
    (void)r->event->comm_view();
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view all(reinterpret_cast<const char*>(data), size);
  parse(all);
  if (all.find('\n') == std::string_view::npos) return 0;
  size_t start = 0;
  while (start <= all.size()) {
    size_t end = all.find('\n', start);
    if (end == std::string_view::npos) end = all.size();
    parse(all.substr(start, end - start));
    start = end + 1;
  }
  return 0;
}
