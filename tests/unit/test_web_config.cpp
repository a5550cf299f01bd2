// --web.config.file: exporter-toolkit's format parsed key by key, each error
// as the one line the user sees, and basic auth checked against real
// bcrypt hashes made by `htpasswd -nbB -C 4` (cost 4 keeps the tests fast).
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "cli/cli.hpp"
#include "views/metrics.hpp"
#include "views/web_auth.hpp"
#include "views/web_config.hpp"

namespace tcpfsm {
namespace {

using ::testing::HasSubstr;

// htpasswd -nbB -C 4 alice secret; bob hunter2; carol pa:ss.
constexpr const char* kAlice = "$2y$04$wrvgbkkDBb.eQTzycCRZf.wi7gI/wJqp6QHBUJkP99GH5LKZB4Uju";
constexpr const char* kBob = "$2y$04$fvjAcKWLTF0LBWomCmdlVO7WI.N8SroMEUVSeW0mCZyaeFQKr.rre";
constexpr const char* kCarol = "$2y$04$96gZZzUMfb/AOKeEOIMPNukyTqisi07xNMZic9dAPcYCw0j6iKgIa";

WebConfig parse_ok(const std::string& text, const std::string& path = "/etc/tcpfsm/web.yml") {
  auto r = parse_web_config(text, path);
  EXPECT_TRUE(r.ok()) << (r.ok() ? "" : r.error().message);
  return r.ok() ? r.value() : WebConfig{};
}

std::string parse_error(const std::string& text, const std::string& path = "/etc/tcpfsm/web.yml") {
  auto r = parse_web_config(text, path);
  EXPECT_FALSE(r.ok()) << text;
  if (r.ok()) return "";
  EXPECT_EQ(r.error().kind, Error::Kind::Usage);
  EXPECT_EQ(r.error().message.find('\n'), std::string::npos) << r.error().message;
  return r.error().message;
}

TEST(WebConfig, EmptyFileIsPlainHttpWithoutAuth) {
  for (const char* text : {"", "\n", "# nothing\n", "---\n"}) {
    WebConfig c = parse_ok(text);
    EXPECT_FALSE(c.tls.has_value()) << text;
    EXPECT_TRUE(c.basic_auth_users.empty());
    EXPECT_TRUE(c.headers.empty());
    EXPECT_EQ(c.source, "/etc/tcpfsm/web.yml");
  }
}

TEST(WebConfig, EveryTlsKeyAndRelativePathsJoinTheFilesDirectory) {
  WebConfig c = parse_ok(
      "tls_server_config:\n"
      "  cert_file: server.crt\n"
      "  key_file: /abs/server.key\n"
      "  client_ca_file: ca/clients.pem\n"
      "  client_auth_type: RequireAndVerifyClientCert\n"
      "  min_version: TLS13\n"
      "  max_version: TLS13\n");
  ASSERT_TRUE(c.tls.has_value());
  EXPECT_EQ(c.tls->cert_file, "/etc/tcpfsm/server.crt");
  EXPECT_EQ(c.tls->key_file, "/abs/server.key");
  EXPECT_EQ(c.tls->client_ca_file, "/etc/tcpfsm/ca/clients.pem");
  EXPECT_EQ(c.tls->client_auth, ClientAuth::RequireAndVerifyClientCert);
  EXPECT_EQ(c.tls->min_version, kTls13);
  EXPECT_EQ(c.tls->max_version, kTls13);
}

TEST(WebConfig, RelativeToAConfigInTheWorkingDirectoryOrARelativeOne) {
  EXPECT_EQ(parse_ok("tls_server_config: {cert_file: c.pem, key_file: k.pem}", "web.yml").tls->cert_file, "c.pem");
  EXPECT_EQ(parse_ok("tls_server_config: {cert_file: c.pem, key_file: k.pem}", "conf/web.yml").tls->key_file,
            "conf/k.pem");
}

TEST(WebConfig, DefaultsAreExporterToolkits) {
  WebConfig c = parse_ok("tls_server_config:\n  cert_file: c.pem\n  key_file: k.pem\n");
  ASSERT_TRUE(c.tls.has_value());
  EXPECT_EQ(c.tls->client_auth, ClientAuth::NoClientCert);
  EXPECT_EQ(c.tls->min_version, kTls12);
  EXPECT_EQ(c.tls->max_version, kTls13);
  EXPECT_EQ(c.tls->client_ca_file, "");
}

TEST(WebConfig, EveryClientAuthTypeAndTheOldName) {
  const std::pair<const char*, ClientAuth> cases[] = {
      {"NoClientCert", ClientAuth::NoClientCert},
      {"RequestClientCert", ClientAuth::RequestClientCert},
      {"RequireAnyClientCert", ClientAuth::RequireAnyClientCert},
      {"RequireClientCert", ClientAuth::RequireAnyClientCert},
      {"VerifyClientCertIfGiven", ClientAuth::VerifyClientCertIfGiven},
      {"RequireAndVerifyClientCert", ClientAuth::RequireAndVerifyClientCert},
  };
  for (const auto& [name, want] : cases) {
    const bool needs_ca = want != ClientAuth::NoClientCert;
    WebConfig c = parse_ok(std::string("tls_server_config:\n  cert_file: c\n  key_file: k\n  client_auth_type: ") +
                           name + (needs_ca ? "\n  client_ca_file: ca.pem\n" : "\n"));
    ASSERT_TRUE(c.tls.has_value()) << name;
    EXPECT_EQ(c.tls->client_auth, want) << name;
  }
  // Request and RequireAny do not verify: no CA needed.
  EXPECT_TRUE(
      parse_web_config("tls_server_config: {cert_file: c, key_file: k, client_auth_type: RequestClientCert}", "w")
          .ok());
  EXPECT_STREQ(client_auth_name(ClientAuth::VerifyClientCertIfGiven), "VerifyClientCertIfGiven");
}

TEST(WebConfig, EveryTlsVersion) {
  const std::pair<const char*, int> cases[] = {
      {"TLS10", kTls10}, {"TLS11", kTls11}, {"TLS12", kTls12}, {"TLS13", kTls13}};
  for (const auto& [name, v] : cases) {
    WebConfig c = parse_ok(std::string("tls_server_config: {cert_file: c, key_file: k, min_version: ") + name + "}");
    EXPECT_EQ(c.tls->min_version, v) << name;
    EXPECT_EQ(tls_version_name(v), name);
  }
}

TEST(WebConfig, TlsKeysWithoutCertOrKeyLeaveTlsOff) {
  // exporter-toolkit's IsEnabled: versions alone do not turn TLS on.
  EXPECT_FALSE(parse_ok("tls_server_config:\n  min_version: TLS13\n").tls.has_value());
  EXPECT_FALSE(parse_ok("tls_server_config:\n").tls.has_value());
  EXPECT_FALSE(parse_ok("tls_server_config: {cert_file: '', key_file: ''}").tls.has_value());
}

TEST(WebConfig, BasicAuthUsersAndHeaders) {
  WebConfig c = parse_ok(std::string("basic_auth_users:\n  alice: ") + kAlice + "\n  bob: '" + kBob +
                         "'\n"
                         "http_server_config:\n  http2: false\n  headers:\n"
                         "    X-Frame-Options: deny\n    Strict-Transport-Security: max-age=31536000\n"
                         "    X-Content-Type-Options: nosniff\n    X-XSS-Protection: '1; mode=block'\n"
                         "    Content-Security-Policy: default-src 'self'\n");
  EXPECT_FALSE(c.tls.has_value());
  ASSERT_EQ(c.basic_auth_users.size(), 2u);
  EXPECT_EQ(c.basic_auth_users.at("alice"), kAlice);
  EXPECT_EQ(c.basic_auth_users.at("bob"), kBob);
  const std::vector<std::pair<std::string, std::string>> want{{"X-Frame-Options", "deny"},
                                                              {"Strict-Transport-Security", "max-age=31536000"},
                                                              {"X-Content-Type-Options", "nosniff"},
                                                              {"X-XSS-Protection", "1; mode=block"},
                                                              {"Content-Security-Policy", "default-src 'self'"}};
  EXPECT_EQ(c.headers, want);
}

TEST(WebConfig, BcryptShapes) {
  EXPECT_TRUE(is_bcrypt_hash(kAlice));
  EXPECT_TRUE(is_bcrypt_hash("$2b$12$wrvgbkkDBb.eQTzycCRZf.wi7gI/wJqp6QHBUJkP99GH5LKZB4Uju"));
  EXPECT_TRUE(is_bcrypt_hash("$2a$31$wrvgbkkDBb.eQTzycCRZf.wi7gI/wJqp6QHBUJkP99GH5LKZB4Uju"));
  EXPECT_FALSE(is_bcrypt_hash("$2x$04$wrvgbkkDBb.eQTzycCRZf.wi7gI/wJqp6QHBUJkP99GH5LKZB4Uju"));
  EXPECT_FALSE(is_bcrypt_hash("$2y$03$wrvgbkkDBb.eQTzycCRZf.wi7gI/wJqp6QHBUJkP99GH5LKZB4Uju"));
  EXPECT_FALSE(is_bcrypt_hash("$2y$32$wrvgbkkDBb.eQTzycCRZf.wi7gI/wJqp6QHBUJkP99GH5LKZB4Uju"));
  EXPECT_FALSE(is_bcrypt_hash("$2y$04$wrvgbkkDBb.eQTzycCRZf.wi7gI/wJqp6QHBUJkP99GH5LKZB4Uj"));
  EXPECT_FALSE(is_bcrypt_hash("$2y$04$wrvgbkkDBb.eQTzycCRZf.wi7gI/wJqp6QHBUJkP99GH5LKZB4U!"));
  EXPECT_FALSE(is_bcrypt_hash("$apr1$abc$def"));
  EXPECT_FALSE(is_bcrypt_hash("secret"));
}

TEST(WebConfig, EachErrorIsOneLineNamingFileKeyAndWhatToDo) {
  const std::string f = "invalid --web.config.file '/etc/tcpfsm/web.yml': ";
  EXPECT_EQ(
      parse_error("tls_server_config: [\n"),
      f + "line 2, column 1: end of sequence flow not found; fix the YAML (exporter-toolkit's web config format)");
  EXPECT_EQ(parse_error("- a\n- b\n"),
            f + "line 1: the top level must be a map; start with tls_server_config:, http_server_config: or "
                "basic_auth_users:");
  EXPECT_EQ(parse_error("tls_server_conf:\n  cert_file: c\n"),
            f + "line 2: unknown key 'tls_server_conf'; the keys are tls_server_config, http_server_config and "
                "basic_auth_users");
  EXPECT_EQ(parse_error("tls_server_config:\n  cert_file: c\n  key_file: k\n  certfile: x\n"),
            f + "line 4: unknown key tls_server_config.certfile; the keys are cert_file, key_file, client_ca_file, "
                "client_auth_type, min_version and max_version");
  EXPECT_EQ(parse_error("tls_server_config:\n  cert_file: c.pem\n"),
            f + "line 2: tls_server_config.key_file is missing; give the server's PEM private key as key_file");
  EXPECT_EQ(parse_error("tls_server_config:\n  key_file: k.pem\n"),
            f + "line 2: tls_server_config.cert_file is missing; give the server's PEM certificate (chain) as "
                "cert_file");
  EXPECT_EQ(parse_error("tls_server_config:\n  client_auth_type: RequireAnyClientCert\n"),
            f + "line 2: tls_server_config.cert_file is missing; give the server's PEM certificate (chain) as "
                "cert_file");
  EXPECT_EQ(parse_error("tls_server_config: {cert_file: c, key_file: k, client_auth_type: Always}"),
            f + "line 1: tls_server_config.client_auth_type 'Always' is not a client auth type; use NoClientCert, "
                "RequestClientCert, RequireAnyClientCert, VerifyClientCertIfGiven or RequireAndVerifyClientCert");
  EXPECT_EQ(parse_error("tls_server_config: {cert_file: c, key_file: k, client_ca_file: ca}"),
            f + "line 1: tls_server_config.client_ca_file is set but client_auth_type is NoClientCert; set "
                "client_auth_type, e.g. RequireAndVerifyClientCert, or remove client_ca_file");
  EXPECT_EQ(parse_error("tls_server_config: {cert_file: c, key_file: k, client_auth_type: VerifyClientCertIfGiven}"),
            f + "line 1: tls_server_config.client_auth_type VerifyClientCertIfGiven needs client_ca_file; give the "
                "CA that signs client certificates as client_ca_file");
  EXPECT_EQ(parse_error("tls_server_config: {cert_file: c, key_file: k, min_version: TLS1.2}"),
            f + "line 1: tls_server_config.min_version 'TLS1.2' is not a TLS version; use TLS10, TLS11, TLS12 or "
                "TLS13");
  EXPECT_EQ(parse_error("tls_server_config: {cert_file: c, key_file: k, min_version: TLS13, max_version: TLS12}"),
            f + "line 1: tls_server_config.min_version is above max_version; lower min_version or raise max_version");
  EXPECT_EQ(parse_error("tls_server_config:\n  cert_file: [a, b]\n  key_file: k\n"),
            f + "line 2: tls_server_config.cert_file must be a string; write it as key: value on one line");
  EXPECT_EQ(parse_error("tls_server_config: yes\n"),
            f + "line 1: tls_server_config must be a map; give it cert_file and key_file on indented lines");
  EXPECT_EQ(parse_error("tls_server_config:\n  cert_file: a\n  cert_file: b\n  key_file: k\n"),
            f + "line 3: tls_server_config: 'cert_file' is given twice; keep one of them");
  EXPECT_EQ(parse_error("basic_auth_users: {}\nbasic_auth_users: {}\n"),
            f + "line 2: 'basic_auth_users' is given twice; keep one of them");
  EXPECT_EQ(parse_error("tls_server_config: {cert: '-----BEGIN', key_file: k}"),
            f + "line 1: tls_server_config.cert is not supported by tcpfsm; remove it; tcpfsm takes cert_file, "
                "key_file, client_ca_file, client_auth_type, min_version and max_version");
  EXPECT_EQ(parse_error("tls_server_config: {cert_file: c, key_file: k, cipher_suites: [TLS_AES_128_GCM_SHA256]}"),
            f + "line 1: tls_server_config.cipher_suites is not supported by tcpfsm; remove it; tcpfsm takes "
                "cert_file, key_file, client_ca_file, client_auth_type, min_version and max_version");
  EXPECT_EQ(parse_error("rate_limit: {burst: 10, interval: 1s}\n"),
            f + "line 1: rate_limit is not supported by tcpfsm; remove it; the exporter bounds its own connections");
  EXPECT_EQ(parse_error("basic_auth_users:\n  alice: secret\n"),
            f + "line 2: basic_auth_users.alice is not a bcrypt hash; make one with htpasswd -nbB USER PASSWORD and "
                "quote it: '$2y$...'");
  EXPECT_EQ(parse_error(std::string("basic_auth_users:\n  'a:b': ") + kAlice + "\n"),
            f + "line 2: basic_auth_users: user 'a:b' has a ':'; choose a user name without one");
  EXPECT_EQ(parse_error("basic_auth_users: [alice]\n"),
            f + "line 1: basic_auth_users must be a map; write one user: bcrypt-hash per line (htpasswd -nbB)");
  EXPECT_EQ(parse_error("http_server_config:\n  headers:\n    Server: tcpfsm\n"),
            f + "line 3: header 'Server' can not be configured; set Strict-Transport-Security, X-Content-Type-Options, "
                "X-Frame-Options, X-XSS-Protection or Content-Security-Policy");
  EXPECT_EQ(parse_error("http_server_config:\n  headers:\n    X-Frame-Options: allow\n"),
            f + "line 3: header 'X-Frame-Options' cannot be 'allow'; use deny or sameorigin");
  EXPECT_EQ(parse_error("http_server_config:\n  headers:\n    X-XSS-Protection: \"1\\r\\nSet-Cookie: a=b\"\n"),
            f + "line 3: header 'X-XSS-Protection' has a control character; write the value on one line");
  EXPECT_EQ(parse_error("http_server_config:\n  http2: maybe\n"),
            f + "line 2: http_server_config.http2 must be true or false; write http2: true or http2: false");
  EXPECT_EQ(parse_error("http_server_config:\n  http3: true\n"),
            f + "line 2: unknown key http_server_config.http3; the keys are headers and http2");
}

TEST(WebConfig, DeepNestingIsAnErrorNotACrash) {
  const std::string deep(100000, '[');
  EXPECT_THAT(parse_error(deep), HasSubstr("fix the YAML"));
}

std::string basic(const std::string& b64) { return "Basic " + b64; }

TEST(BasicAuth, RightPasswordPassesWrongOrMissingOnesDoNot) {
  BasicAuth auth({{"alice", kAlice}, {"carol", kCarol}});
  ASSERT_TRUE(auth.enabled());
  EXPECT_TRUE(auth.allows(basic("YWxpY2U6c2VjcmV0")));       // alice:secret
  EXPECT_TRUE(auth.allows("basic YWxpY2U6c2VjcmV0"));        // the scheme is case-insensitive
  EXPECT_TRUE(auth.allows(basic("Y2Fyb2w6cGE6c3M=")));       // carol:pa:ss, split at the first colon
  EXPECT_FALSE(auth.allows(basic("YWxpY2U6d3Jvbmc=")));      // alice:wrong
  EXPECT_FALSE(auth.allows(basic("bWFsbG9yeTpzZWNyZXQ=")));  // mallory:secret, an unknown user
  EXPECT_FALSE(auth.allows(basic("YWxpY2VzZWNyZXQ=")));      // no colon
  EXPECT_FALSE(auth.allows(""));                             // no header
  EXPECT_FALSE(auth.allows("Bearer YWxpY2U6c2VjcmV0"));      // another scheme
  EXPECT_FALSE(auth.allows(basic("YWxpY2U6c2VjcmV0!!!!")));  // not base64
  EXPECT_FALSE(auth.allows(basic("YWxpY2U6c2VjcmV")));       // not a multiple of 4
  EXPECT_FALSE(auth.allows(basic("YWxpY2U6c2VjcmV0AA==")));  // alice:secret\0: NUL would cut it short
  EXPECT_EQ(auth.counters().rejected, 8u);
}

TEST(BasicAuth, SuccessesAreCachedBoundedAndTheDropsCounted) {
  BasicAuth auth({{"alice", kAlice}, {"bob", kBob}, {"carol", kCarol}}, 2);
  EXPECT_TRUE(auth.allows(basic("YWxpY2U6c2VjcmV0")));
  EXPECT_EQ(auth.counters().cache_hits, 0u);
  EXPECT_TRUE(auth.allows(basic("YWxpY2U6c2VjcmV0")));
  EXPECT_EQ(auth.counters().cache_hits, 1u);
  // A wrong password is never cached, nor answered from the cache.
  EXPECT_FALSE(auth.allows(basic("YWxpY2U6d3Jvbmc=")));
  EXPECT_FALSE(auth.allows(basic("YWxpY2U6d3Jvbmc=")));
  EXPECT_EQ(auth.counters().cache_hits, 1u);
  EXPECT_TRUE(auth.allows(basic("Ym9iOmh1bnRlcjI=")));  // bob: the cache is full now
  EXPECT_EQ(auth.counters().cache_dropped, 0u);
  EXPECT_TRUE(auth.allows(basic("Y2Fyb2w6cGE6c3M=")));  // carol: alice, the oldest, goes
  EXPECT_EQ(auth.counters().cache_dropped, 1u);
  EXPECT_TRUE(auth.allows(basic("Ym9iOmh1bnRlcjI=")));  // bob is still there
  EXPECT_EQ(auth.counters().cache_hits, 2u);
  EXPECT_TRUE(auth.allows(basic("YWxpY2U6c2VjcmV0")));  // alice is checked again, and bob goes
  EXPECT_EQ(auth.counters().cache_hits, 2u);
  EXPECT_EQ(auth.counters().cache_dropped, 2u);
  EXPECT_EQ(auth.counters().rejected, 2u);
}

TEST(BasicAuth, NoUsersLetsEveryoneIn) {
  BasicAuth auth({});
  EXPECT_FALSE(auth.enabled());
  EXPECT_TRUE(auth.allows(""));
}

TEST(BasicAuth, CountersInTheExposition) {
  const std::string text = render_web_auth_metrics({3, 5, 7});
  EXPECT_THAT(text, HasSubstr("# TYPE tcpfsm_web_auth_cache_dropped_total counter\n"
                              "tcpfsm_web_auth_cache_dropped_total 3\n"));
  EXPECT_THAT(text, HasSubstr("tcpfsm_web_auth_rejected_total 5\n"));
  EXPECT_THAT(text, HasSubstr("tcpfsm_web_auth_cache_hits_total 7\n"));
}

TEST(WebConfigFlag, NamesTheFileAndNothingIsReadWhileParsingFlags) {
  auto none = parse_command_line({"serve"});
  ASSERT_TRUE(none.ok());
  EXPECT_EQ(none->command->serve.web_config_file, "");
  // The cli layer makes no file system calls: a missing file is the command's to find.
  auto given = parse_command_line({"serve", "--web.config.file", "/nonexistent/web.yml"});
  ASSERT_TRUE(given.ok()) << given.error().message;
  EXPECT_EQ(given->command->serve.web_config_file, "/nonexistent/web.yml");
  auto empty = parse_command_line({"serve", "--web.config.file", ""});
  ASSERT_FALSE(empty.ok());
  EXPECT_EQ(empty.error().kind, Error::Kind::Usage);
  EXPECT_EQ(empty.error().message,
            "invalid --web.config.file '': give the path of a web config file, or leave the flag out");
  EXPECT_FALSE(parse_command_line({"stats", "--web.config.file", "w.yml"}).ok()) << "serve only";
}

}  // namespace
}  // namespace tcpfsm
