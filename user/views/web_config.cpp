// exporter-toolkit's web configuration, parsed (see web_config.hpp).
#include "views/web_config.hpp"

#include <yaml-cpp/yaml.h>

#include <array>
#include <set>

namespace tcpfsm {
namespace {

// What a list of exporter-toolkit's keys looks like in a message: "a, b or c".
std::string one_of(std::initializer_list<std::string_view> names) {
  std::string t;
  size_t i = 0;
  for (std::string_view n : names) {
    if (i > 0) t += i + 1 == names.size() ? " or " : ", ";
    t += n;
    ++i;
  }
  return t;
}

class Parser {
 public:
  explicit Parser(std::string_view path) : path_(path) {}

  Error fail(const YAML::Node& at, const std::string& what, const std::string& what_to_do) const {
    std::string where;
    if (at.Mark().line >= 0) where = "line " + std::to_string(at.Mark().line + 1) + ": ";
    return Error::usage("invalid --web.config.file '" + path_ + "': " + where + what + "; " + what_to_do);
  }

  // Each key of `map` once, in order; an error for a repeated one (yaml.v2's
  // strict mode refuses them too: the second would silently win).
  Result<std::vector<std::pair<std::string, YAML::Node>>> entries(const YAML::Node& map,
                                                                  const std::string& where) const {
    std::vector<std::pair<std::string, YAML::Node>> out;
    std::set<std::string> seen;
    for (auto it = map.begin(); it != map.end(); ++it) {
      if (!it->first.IsScalar())
        return fail(it->first, where + "has a key that is not a string", "write keys as plain names");
      std::string key = it->first.Scalar();
      if (!seen.insert(key).second) return fail(it->first, where + "'" + key + "' is given twice", "keep one of them");
      out.emplace_back(std::move(key), it->second);
    }
    return out;
  }

  // A string value; null (`key:` or `~`) is the empty string, as in Go.
  Result<std::string> scalar(const YAML::Node& n, const std::string& key) const {
    if (n.IsNull()) return std::string();
    if (!n.IsScalar()) return fail(n, key + " must be a string", "write it as key: value on one line");
    return n.Scalar();
  }

  std::string join_dir(const std::string& p) const {
    // config_util.JoinDir: absolute and empty paths stay, others are relative to the file.
    if (p.empty() || p.front() == '/') return p;
    const size_t slash = path_.rfind('/');
    if (slash == std::string::npos) return p;
    return path_.substr(0, slash + 1) + p;
  }

  Result<int> version(const YAML::Node& n, const std::string& key) const {
    auto s = scalar(n, key);
    if (!s) return s.error();
    static constexpr std::array<std::pair<std::string_view, int>, 4> kVersions{
        {{"TLS10", kTls10}, {"TLS11", kTls11}, {"TLS12", kTls12}, {"TLS13", kTls13}}};
    for (const auto& [name, v] : kVersions) {
      if (*s == name) return v;
    }
    return fail(n, key + " '" + *s + "' is not a TLS version", "use " + one_of({"TLS10", "TLS11", "TLS12", "TLS13"}));
  }

  Result<ClientAuth> client_auth(const YAML::Node& n) const {
    auto s = scalar(n, "tls_server_config.client_auth_type");
    if (!s) return s.error();
    // "RequireClientCert" is exporter-toolkit's old name of RequireAnyClientCert.
    if (s->empty() || *s == "NoClientCert") return ClientAuth::NoClientCert;
    if (*s == "RequestClientCert") return ClientAuth::RequestClientCert;
    if (*s == "RequireAnyClientCert" || *s == "RequireClientCert") return ClientAuth::RequireAnyClientCert;
    if (*s == "VerifyClientCertIfGiven") return ClientAuth::VerifyClientCertIfGiven;
    if (*s == "RequireAndVerifyClientCert") return ClientAuth::RequireAndVerifyClientCert;
    return fail(n, "tls_server_config.client_auth_type '" + *s + "' is not a client auth type",
                "use " + one_of({"NoClientCert", "RequestClientCert", "RequireAnyClientCert", "VerifyClientCertIfGiven",
                                 "RequireAndVerifyClientCert"}));
  }

  Result<std::optional<TlsServerConfig>> tls(const YAML::Node& n) const {
    if (n.IsNull()) return std::optional<TlsServerConfig>();
    if (!n.IsMap())
      return fail(n, "tls_server_config must be a map", "give it cert_file and key_file on indented lines");
    auto es = entries(n, "tls_server_config: ");
    if (!es) return es.error();
    TlsServerConfig t;
    // exporter-toolkit's IsEnabled: TLS is on once any of these is set.
    bool enabled = false;
    bool ca_given = false;
    for (const auto& [key, v] : *es) {
      const std::string name = "tls_server_config." + key;
      if (key == "cert_file" || key == "key_file" || key == "client_ca_file") {
        auto s = scalar(v, name);
        if (!s) return s.error();
        enabled |= !s->empty();
        std::string& dst = key == "cert_file" ? t.cert_file : key == "key_file" ? t.key_file : t.client_ca_file;
        dst = join_dir(*s);
        ca_given |= key == "client_ca_file" && !s->empty();
      } else if (key == "client_auth_type") {
        auto a = client_auth(v);
        if (!a) return a.error();
        enabled |= !v.IsNull() && !v.Scalar().empty();
        t.client_auth = *a;
      } else if (key == "min_version" || key == "max_version") {
        auto ver = version(v, name);
        if (!ver) return ver.error();
        (key == "min_version" ? t.min_version : t.max_version) = *ver;
      } else if (key == "cert" || key == "key" || key == "client_ca" || key == "cipher_suites" ||
                 key == "curve_preferences" || key == "prefer_server_cipher_suites" || key == "client_allowed_sans") {
        return fail(v, name + " is not supported by tcpfsm",
                    "remove it; tcpfsm takes cert_file, key_file, client_ca_file, client_auth_type, min_version and "
                    "max_version");
      } else {
        return fail(v, "unknown key " + name,
                    "the keys are cert_file, key_file, client_ca_file, client_auth_type, min_version and max_version");
      }
    }
    if (!enabled) return std::optional<TlsServerConfig>();
    if (t.cert_file.empty())
      return fail(n, "tls_server_config.cert_file is missing",
                  "give the server's PEM certificate (chain) as cert_file");
    if (t.key_file.empty())
      return fail(n, "tls_server_config.key_file is missing", "give the server's PEM private key as key_file");
    const bool verifies =
        t.client_auth == ClientAuth::VerifyClientCertIfGiven || t.client_auth == ClientAuth::RequireAndVerifyClientCert;
    if (ca_given && t.client_auth == ClientAuth::NoClientCert)
      return fail(n, "tls_server_config.client_ca_file is set but client_auth_type is NoClientCert",
                  "set client_auth_type, e.g. RequireAndVerifyClientCert, or remove client_ca_file");
    // Go would verify against the system's roots; a client CA is what is meant.
    if (verifies && !ca_given)
      return fail(n,
                  std::string("tls_server_config.client_auth_type ") + client_auth_name(t.client_auth) +
                      " needs client_ca_file",
                  "give the CA that signs client certificates as client_ca_file");
    if (t.min_version > t.max_version)
      return fail(n, "tls_server_config.min_version is above max_version", "lower min_version or raise max_version");
    return std::optional<TlsServerConfig>(std::move(t));
  }

  Status http(const YAML::Node& n, WebConfig& c) const {
    if (n.IsNull()) return Ok{};
    if (!n.IsMap()) return fail(n, "http_server_config must be a map", "give it headers on indented lines");
    auto es = entries(n, "http_server_config: ");
    if (!es) return es.error();
    for (const auto& [key, v] : *es) {
      if (key == "http2") {
        // cpp-httplib speaks HTTP/1.1 only; clients that offer h2 fall back to it.
        bool b = false;
        if (!v.IsScalar() || !YAML::convert<bool>::decode(v, b))
          return fail(v, "http_server_config.http2 must be true or false", "write http2: true or http2: false");
      } else if (key == "headers") {
        if (auto st = headers(v, c); !st) return st;
      } else {
        return fail(v, "unknown key http_server_config." + key, "the keys are headers and http2");
      }
    }
    return Ok{};
  }

  // The headers exporter-toolkit lets a config set, and the values it allows.
  Status headers(const YAML::Node& n, WebConfig& c) const {
    if (n.IsNull()) return Ok{};
    if (!n.IsMap()) return fail(n, "http_server_config.headers must be a map", "write one Header-Name: value per line");
    auto es = entries(n, "http_server_config.headers: ");
    if (!es) return es.error();
    struct Allowed {
      std::string_view name;
      std::vector<std::string_view> values;  // empty: any
    };
    static const std::array<Allowed, 5> kAllowed{{{"Strict-Transport-Security", {}},
                                                  {"X-Content-Type-Options", {"nosniff"}},
                                                  {"X-Frame-Options", {"deny", "sameorigin"}},
                                                  {"X-XSS-Protection", {}},
                                                  {"Content-Security-Policy", {}}}};
    for (const auto& [key, v] : *es) {
      const Allowed* a = nullptr;
      for (const auto& x : kAllowed) {
        if (x.name == key) a = &x;
      }
      if (!a)
        return fail(v, "header '" + key + "' can not be configured",
                    "set " + one_of({"Strict-Transport-Security", "X-Content-Type-Options", "X-Frame-Options",
                                     "X-XSS-Protection", "Content-Security-Policy"}));
      auto s = scalar(v, "http_server_config.headers." + key);
      if (!s) return s.error();
      // A CR or LF would end the header and start another (response splitting).
      for (char ch : *s) {
        if (static_cast<unsigned char>(ch) < 0x20 && ch != '\t')
          return fail(v, "header '" + key + "' has a control character", "write the value on one line");
      }
      if (!a->values.empty()) {
        bool ok = false;
        for (auto allowed : a->values) ok |= *s == allowed;
        if (!ok) {
          std::string list;
          for (auto allowed : a->values) list += (list.empty() ? "" : " or ") + std::string(allowed);
          return fail(v, "header '" + key + "' cannot be '" + *s + "'", "use " + list);
        }
      }
      c.headers.emplace_back(key, *s);
    }
    return Ok{};
  }

  Status users(const YAML::Node& n, WebConfig& c) const {
    if (n.IsNull()) return Ok{};
    if (!n.IsMap())
      return fail(n, "basic_auth_users must be a map", "write one user: bcrypt-hash per line (htpasswd -nbB)");
    auto es = entries(n, "basic_auth_users: ");
    if (!es) return es.error();
    for (const auto& [user, v] : *es) {
      // Basic auth splits "user:password" at the first colon.
      if (user.find(':') != std::string::npos)
        return fail(v, "basic_auth_users: user '" + user + "' has a ':'", "choose a user name without one");
      auto h = scalar(v, "basic_auth_users." + user);
      if (!h) return h.error();
      if (!is_bcrypt_hash(*h))
        return fail(v, "basic_auth_users." + user + " is not a bcrypt hash",
                    "make one with htpasswd -nbB USER PASSWORD and quote it: '$2y$...'");
      c.basic_auth_users.emplace(user, *h);
    }
    return Ok{};
  }

  Result<WebConfig> parse(std::string_view text) const {
    YAML::Node root;
    try {
      root = YAML::Load(std::string(text));
    } catch (const YAML::Exception& e) {
      std::string where;
      if (e.mark.line >= 0)
        where = "line " + std::to_string(e.mark.line + 1) + ", column " + std::to_string(e.mark.column + 1) + ": ";
      return Error::usage("invalid --web.config.file '" + path_ + "': " + where + e.msg +
                          "; fix the YAML (exporter-toolkit's web config format)");
    }
    WebConfig c;
    c.source = path_;
    // An empty file is exporter-toolkit's defaults: plain HTTP, no auth.
    if (root.IsNull()) return c;
    if (!root.IsMap())
      return fail(root, "the top level must be a map",
                  "start with tls_server_config:, http_server_config: or basic_auth_users:");
    auto es = entries(root, "");
    if (!es) return es.error();
    for (const auto& [key, v] : *es) {
      if (key == "tls_server_config") {
        auto t = tls(v);
        if (!t) return t.error();
        c.tls = std::move(t.value());
      } else if (key == "http_server_config") {
        if (auto st = http(v, c); !st) return st.error();
      } else if (key == "basic_auth_users") {
        if (auto st = users(v, c); !st) return st.error();
      } else if (key == "rate_limit") {
        return fail(v, "rate_limit is not supported by tcpfsm", "remove it; the exporter bounds its own connections");
      } else {
        return fail(v, "unknown key '" + key + "'",
                    "the keys are tls_server_config, http_server_config and basic_auth_users");
      }
    }
    return c;
  }

 private:
  std::string path_;
};

}  // namespace

const char* client_auth_name(ClientAuth a) {
  switch (a) {
    case ClientAuth::NoClientCert:
      return "NoClientCert";
    case ClientAuth::RequestClientCert:
      return "RequestClientCert";
    case ClientAuth::RequireAnyClientCert:
      return "RequireAnyClientCert";
    case ClientAuth::VerifyClientCertIfGiven:
      return "VerifyClientCertIfGiven";
    case ClientAuth::RequireAndVerifyClientCert:
      return "RequireAndVerifyClientCert";
  }
  return "?";
}

std::string tls_version_name(int v) {
  if (v < kTls10 || v > kTls13) return "?";
  return "TLS1" + std::to_string(v - kTls10);
}

bool is_bcrypt_hash(std::string_view h) {
  if (h.size() != 60 || h.substr(0, 2) != "$2" || h[3] != '$' || h[6] != '$') return false;
  if (h[2] != 'a' && h[2] != 'b' && h[2] != 'y') return false;
  if (h[4] < '0' || h[4] > '9' || h[5] < '0' || h[5] > '9') return false;
  const int cost = (h[4] - '0') * 10 + (h[5] - '0');
  if (cost < 4 || cost > 31) return false;
  for (char ch : h.substr(7)) {
    const bool b64 =
        (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') || ch == '.' || ch == '/';
    if (!b64) return false;
  }
  return true;
}

Result<WebConfig> parse_web_config(std::string_view text, std::string_view path) {
  try {
    return Parser(path).parse(text);
  } catch (const std::exception& e) {
    // yaml-cpp throws on conversions too; none should reach here, but a
    // fuzzer's input must end as an error, never as an escaped exception.
    return Error::usage("invalid --web.config.file '" + std::string(path) + "': " + e.what() +
                        "; fix the YAML (exporter-toolkit's web config format)");
  }
}

}  // namespace tcpfsm
