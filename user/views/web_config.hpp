// `serve --web.config.file`: Prometheus exporter-toolkit's web configuration
// (TLS, client certificates, basic auth), parsed from text with no I/O so it
// can be fuzzed. The command reads the file; the exporter applies the result.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "base/result.hpp"

namespace tcpfsm {

// Go's tls.ClientAuthType values, as exporter-toolkit spells them.
enum class ClientAuth {
  NoClientCert,                // no certificate asked for
  RequestClientCert,           // asked for, not required, not verified
  RequireAnyClientCert,        // required, not verified
  VerifyClientCertIfGiven,     // not required, verified against client_ca_file if sent
  RequireAndVerifyClientCert,  // required and verified against client_ca_file
};
const char* client_auth_name(ClientAuth a);

// Protocol versions as OpenSSL numbers them (TLS1_VERSION ... TLS1_3_VERSION).
inline constexpr int kTls10 = 0x0301, kTls11 = 0x0302, kTls12 = 0x0303, kTls13 = 0x0304;
// "TLS12" for kTls12, as the config writes it.
std::string tls_version_name(int v);

struct TlsServerConfig {
  // Relative paths are joined with the config file's directory, as exporter-toolkit does.
  std::string cert_file, key_file, client_ca_file;
  ClientAuth client_auth = ClientAuth::NoClientCert;
  int min_version = kTls12;  // exporter-toolkit's defaults
  int max_version = kTls13;
};

struct WebConfig {
  std::string source;                                        // the file's path, for messages
  std::optional<TlsServerConfig> tls;                        // empty: plain HTTP
  std::map<std::string, std::string> basic_auth_users;       // user -> bcrypt hash; empty: no auth
  std::vector<std::pair<std::string, std::string>> headers;  // http_server_config.headers
};

// Parses the YAML `text` read from `path` (used for messages and as the base
// of relative paths). Strict like exporter-toolkit's yaml.UnmarshalStrict:
// unknown and repeated keys are errors. Keys of exporter-toolkit that tcpfsm
// does not implement are refused by name, never ignored. Every error is a
// usage error of one line naming the file and the key.
Result<WebConfig> parse_web_config(std::string_view text, std::string_view path);

// Whether `hash` has the shape of a bcrypt hash ($2a$, $2b$ or $2y$, a cost
// of 04 to 31, 53 characters of salt and digest), as bcrypt.Cost checks.
bool is_bcrypt_hash(std::string_view hash);

}  // namespace tcpfsm
