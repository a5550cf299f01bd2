// Bytes as one recv() buffer of an inet_diag dump reply. An Error must leave
// the output as it was; success appends, never removes.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <span>
#include <vector>

#include "collect/sock_diag.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace tcpfsm;
  // Copy into an exactly sized heap buffer so ASan sees any read past its end
  // (libFuzzer's own buffer is exact too; this also gives it 4-byte alignment
  // like a recv() buffer).
  std::vector<std::byte> buf(size);
  if (size) std::memcpy(buf.data(), data, size);

  std::vector<SocketRecord> out(1);  // a record from an earlier buffer
  out[0].cookie = 0x5eed;
  auto r = parse_inet_diag(std::span<const std::byte>(buf.data(), buf.size()), 4026531840u, out);
  if (!r.ok()) {
    if (out.size() != 1 || out[0].cookie != 0x5eed) {
      std::fprintf(stderr, "fuzz_sock_diag: error \"%s\" but output changed to %zu records\n",
                   r.error().message.c_str(), out.size());
      std::abort();
    }
    return 0;
  }
  if (out.empty() || out[0].cookie != 0x5eed) {
    std::fprintf(stderr, "fuzz_sock_diag: success removed or changed an earlier record\n");
    std::abort();
  }
  for (size_t i = 1; i < out.size(); ++i) {
    if (out[i].netns != 4026531840u) {
      std::fprintf(stderr, "fuzz_sock_diag: record %zu has netns %u\n", i, out[i].netns);
      std::abort();
    }
  }
  return 0;
}
