// --web.config.file's parser on any text: it must return a config or one
// line of error, never crash, hang or throw, and what it returns must hold
// what the exporter relies on (TLS has both files, versions in order,
// every user a bcrypt hash without ':'). No bcrypt runs here: a fuzzed cost
// of 31 would take hours by design.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "views/web_config.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace tcpfsm;
  const std::string text(reinterpret_cast<const char*>(data), size);
  auto r = parse_web_config(text, "/etc/tcpfsm/web.yml");
  if (!r) {
    const Error& e = r.error();
    if (e.kind != Error::Kind::Usage || e.message.empty()) std::abort();
    if (e.message.rfind("invalid --web.config.file '/etc/tcpfsm/web.yml': ", 0) != 0) std::abort();
    return 0;
  }
  const WebConfig& c = r.value();
  if (c.tls) {
    if (c.tls->cert_file.empty() || c.tls->key_file.empty()) std::abort();
    if (c.tls->min_version > c.tls->max_version) std::abort();
    if (c.tls->min_version < kTls10 || c.tls->max_version > kTls13) std::abort();
    for (const std::string* p : {&c.tls->cert_file, &c.tls->key_file}) {
      // Relative paths are joined with /etc/tcpfsm.
      if (p->front() != '/') std::abort();
    }
  }
  for (const auto& [user, hash] : c.basic_auth_users) {
    if (user.find(':') != std::string::npos || !is_bcrypt_hash(hash)) std::abort();
  }
  for (const auto& [name, value] : c.headers) {
    for (char ch : value) {
      if (ch == '\r' || ch == '\n') std::abort();
    }
  }
  return 0;
}
