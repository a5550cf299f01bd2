// Any bytes as one ring buffer record. What decodes must survive
// encode_event -> decode_event unchanged.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <span>

#include "model/event.hpp"

namespace {

[[noreturn]] void fail(const char* what) {
  std::fprintf(stderr, "fuzz_decode: round trip changed %s\n", what);
  std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace tcpfsm;
  auto r = decode_event(std::as_bytes(std::span(data, size)));
  if (!r.ok()) return 0;
  const Event& e = r.value();
  (void)kind_name(e.kind);
  (void)owner_name(e.owner);
  (void)format_addr(e.family, e.saddr);
  (void)format_addr(e.family, e.daddr);
  if (e.comm.back() != '\0') fail("comm termination");
  (void)e.comm_view();

  const tcpfsm_event raw = encode_event(e);
  auto again = decode_event(std::as_bytes(std::span(&raw, 1)));
  if (!again.ok()) fail("decodability (re-encoded record rejected)");
  const Event& d = again.value();
  if (d.kind != e.kind) fail("kind");
  if (d.ts_ns != e.ts_ns) fail("ts_ns");
  if (d.skaddr != e.skaddr) fail("skaddr");
  if (d.cookie != e.cookie) fail("cookie");
  if (d.prev_ns != e.prev_ns) fail("prev_ns");
  if (d.pid != e.pid) fail("pid");
  if (d.netns != e.netns) fail("netns");
  if (d.sport != e.sport) fail("sport");
  if (d.dport != e.dport) fail("dport");
  if (d.family != e.family) fail("family");
  if (d.oldstate != e.oldstate) fail("oldstate");
  if (d.newstate != e.newstate) fail("newstate");
  if (d.owner != e.owner) fail("owner");
  if (d.rescued != e.rescued) fail("rescued");
  if (d.saddr != e.saddr) fail("saddr");
  if (d.daddr != e.daddr) fail("daddr");
  if (d.comm != e.comm) fail("comm");
  return 0;
}
