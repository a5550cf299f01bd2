// `tcpfsm serve --web.config.file`: a CA, server and client certificates
// made by openssl and a password hashed by htpasswd, the real binary
// serving over TLS with basic auth, scraped by curl and by Debian's real
// Prometheus; every client certificate policy; and configs that must stop
// serve with exit status 2 and one line.
#include <arpa/inet.h>
#include <fcntl.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <optional>
#include <thread>

#include "harness.hpp"

namespace tcpfsm::test {
namespace {

using namespace std::chrono_literals;
using ::testing::HasSubstr;
using ::testing::Not;
namespace fs = std::filesystem;

std::string tmpdir() { return make_tmpdir("webcfg"); }

// What curl said: its exit status (0: a response came), the HTTP status
// (0 without one), the headers and the body.
struct Curl {
  int exit = -1;
  int status = 0;
  std::string headers, body;
};

Curl curl(const std::string& dir, const std::string& args) {
  const std::string body = dir + "/curl.body", hdrs = dir + "/curl.headers", code = dir + "/curl.code";
  fs::remove(body);
  fs::remove(hdrs);
  const std::string cmd = "curl -sS --max-time 5 -o " + body + " -D " + hdrs + " -w '%{http_code}' " + args + " > " +
                          code + " 2>" + dir + "/curl.err";
  const int rc = std::system(cmd.c_str());
  Curl c;
  c.exit = WIFEXITED(rc) ? WEXITSTATUS(rc) : 128;
  const std::string s = slurp(code);
  c.status = s.empty() ? 0 : std::atoi(s.c_str());
  c.headers = fs::exists(hdrs) ? slurp(hdrs) : "";
  c.body = fs::exists(body) ? slurp(body) : "";
  return c;
}

// One temp dir with a CA, a server certificate for 127.0.0.1 and two client
// certificates (one from the CA, one self-signed), and a password's hash.
class Pki {
 public:
  Pki() : dir(tmpdir()) {
    const std::string ec = " -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes";
    const std::string in = "cd " + dir + " && ";
    ok = sh(in + "openssl req -x509" + ec + " -keyout ca.key -out ca.pem -days 2 -subj /CN=tcpfsm-test-ca") &&
         sh("(" + in + "printf 'subjectAltName=IP:127.0.0.1,DNS:localhost\\n' > server.ext)") &&
         sh(in + "openssl req" + ec + " -keyout server.key -out server.csr -subj /CN=127.0.0.1") &&
         sh(in +
            "openssl x509 -req -in server.csr -CA ca.pem -CAkey ca.key -CAcreateserial -days 2 -extfile "
            "server.ext -out server.pem") &&
         sh(in + "openssl req" + ec + " -keyout client.key -out client.csr -subj /CN=prometheus") &&
         sh(in + "openssl x509 -req -in client.csr -CA ca.pem -CAkey ca.key -CAcreateserial -days 2 -out client.pem") &&
         sh(in + "openssl req -x509" + ec + " -keyout stranger.key -out stranger.pem -days 2 -subj /CN=stranger") &&
         // sh() sends the command's output to /dev/null: the subshell keeps ours.
         sh("(" + in + "htpasswd -nbB prometheus 's3cret pass' > htpasswd)");
    // "prometheus:$2y$05$...\n\n"
    const std::string line = slurp(dir + "/htpasswd");
    hash = line.substr(line.find(':') + 1);
    hash = hash.substr(0, hash.find('\n'));
    ok = ok && hash.rfind("$2y$", 0) == 0 && hash.size() == 60;
  }
  ~Pki() { fs::remove_all(dir); }
  // A web config in the temp dir, its paths relative to it.
  std::string config(const std::string& name, const std::string& text) const {
    std::ofstream(dir + "/" + name) << text;
    return dir + "/" + name;
  }
  std::string basic_auth() const { return "basic_auth_users:\n  prometheus: '" + hash + "'\n"; }

  std::string dir;
  std::string hash;
  bool ok = false;
};

const char* kTls = "tls_server_config:\n  cert_file: server.pem\n  key_file: server.key\n";

// `tcpfsm serve` on a port of its own; stopped with SIGTERM at the end.
class Serve {
 public:
  Serve(const std::string& config, uint16_t port)
      : bin_({"serve", "--web.config.file", config, "--web.listen-address", "127.0.0.1:" + std::to_string(port),
              "--netns", std::to_string(self_netns()), "--duration", "5m"}) {}
  ~Serve() {
    if (!done_) stop();
  }
  bool started() { return bin_.wait_for_err("serving https://"); }
  Outcome stop() {
    done_ = true;
    bin_.signal(SIGTERM);
    return bin_.wait();
  }
  std::string err() const { return bin_.err_so_far(); }

 private:
  Binary bin_;
  bool done_ = false;
};

std::string url(uint16_t port, const std::string& path = "/metrics") {
  return "https://127.0.0.1:" + std::to_string(port) + path;
}

// A counter's value in an exposition, -1 without it.
long counter(const std::string& body, const std::string& name) {
  const size_t at = body.find("\n" + name + " ");
  return at == std::string::npos ? -1 : std::atol(body.c_str() + at + name.size() + 2);
}

// Until the consumer has published (503 before).
Curl scrape_until_ready(const Pki& pki, const std::string& args) {
  Curl c;
  for (int i = 0; i < 100; ++i) {
    c = curl(pki.dir, args);
    if (c.status == 200) break;
    std::this_thread::sleep_for(100ms);
  }
  return c;
}

TEST(WebConfig, CurlScrapesOverTlsWithBasicAuthAndEveryoneElseGets401) {
  Pki pki;
  ASSERT_TRUE(pki.ok);
  const uint16_t port = free_port();
  Serve serve(pki.config("web.yml", kTls + pki.basic_auth() +
                                        "http_server_config:\n  headers:\n    X-Frame-Options: deny\n"
                                        "    Strict-Transport-Security: max-age=31536000\n"),
              port);
  ASSERT_TRUE(serve.started()) << serve.err();
  const std::string ca = "--cacert " + pki.dir + "/ca.pem ";

  Curl ok = scrape_until_ready(pki, ca + "-u 'prometheus:s3cret pass' " + url(port));
  ASSERT_EQ(ok.status, 200) << ok.body << serve.err();
  EXPECT_THAT(ok.body, HasSubstr("tcpfsm_build_info{version=\"0.1.0\"} 1\n"));
  EXPECT_THAT(ok.body, HasSubstr("node_tcp_connection_states{state=\"established\"}"));
  EXPECT_EQ(counter(ok.body, "tcpfsm_web_auth_rejected_total"), 0);
  EXPECT_THAT(ok.headers, HasSubstr("X-Frame-Options: deny\r\n"));
  EXPECT_THAT(ok.headers, HasSubstr("Strict-Transport-Security: max-age=31536000\r\n"));
  // 503s before the first snapshot passed auth too: count from here.
  const long hits = counter(ok.body, "tcpfsm_web_auth_cache_hits_total");
  ASSERT_GE(hits, 0);

  Curl wrong = curl(pki.dir, ca + "-u prometheus:wrong " + url(port));
  EXPECT_EQ(wrong.exit, 0);
  EXPECT_EQ(wrong.status, 401);
  EXPECT_THAT(wrong.headers, HasSubstr("WWW-Authenticate: Basic\r\n"));
  EXPECT_THAT(wrong.body, Not(HasSubstr("tcpfsm_")));
  EXPECT_THAT(wrong.headers, HasSubstr("X-Frame-Options: deny\r\n")) << "on every answer";
  Curl none = curl(pki.dir, ca + url(port));
  EXPECT_EQ(none.status, 401);
  EXPECT_THAT(none.headers, HasSubstr("WWW-Authenticate: Basic\r\n"));
  Curl unknown = curl(pki.dir, ca + "-u 'nobody:s3cret pass' " + url(port));
  EXPECT_EQ(unknown.status, 401);
  // Every path is behind the password, /healthz too (exporter-toolkit's way).
  EXPECT_EQ(curl(pki.dir, ca + url(port, "/healthz")).status, 401);
  Curl health = curl(pki.dir, ca + "-u 'prometheus:s3cret pass' " + url(port, "/healthz"));
  EXPECT_EQ(health.status, 200);
  EXPECT_EQ(health.body, "ok\n");

  // Plain HTTP to the TLS port: the handshake fails, no HTTP answer.
  Curl plain = curl(pki.dir, "-u 'prometheus:s3cret pass' http://127.0.0.1:" + std::to_string(port) + "/metrics");
  EXPECT_NE(plain.exit, 0);
  EXPECT_EQ(plain.status, 0);
  // A client that does not trust the certificate gives up in the handshake.
  Curl untrusted = curl(pki.dir, "-u 'prometheus:s3cret pass' " + url(port));
  EXPECT_EQ(untrusted.exit, 60) << "curl: certificate problem";
  EXPECT_EQ(untrusted.status, 0);

  // Failed handshakes do not stop the server; the 401s are counted.
  Curl again = curl(pki.dir, ca + "-u 'prometheus:s3cret pass' " + url(port));
  ASSERT_EQ(again.status, 200) << serve.err();
  EXPECT_EQ(counter(again.body, "tcpfsm_web_auth_rejected_total"), 4);
  // /healthz and this scrape came from the cache.
  EXPECT_EQ(counter(again.body, "tcpfsm_web_auth_cache_hits_total"), hits + 2);
  EXPECT_EQ(counter(again.body, "tcpfsm_web_auth_cache_dropped_total"), 0);
  Outcome r = serve.stop();
  EXPECT_EQ(r.status, 0) << r.err;
  EXPECT_THAT(r.err, HasSubstr("tcpfsm: serving https://127.0.0.1:" + std::to_string(port) + "/metrics (basic auth)"));
}

// Prometheus' HTTP API (plain, on loopback): an instant query's single value, or -1.
double prom_value(uint16_t port, const std::string& dir, const std::string& query) {
  Curl c =
      curl(dir, "-G --data-urlencode 'query=" + query + "' http://127.0.0.1:" + std::to_string(port) + "/api/v1/query");
  if (c.status != 200) return -1;
  auto j = nlohmann::json::parse(c.body, nullptr, false);
  if (j.is_discarded() || j["status"] != "success") return -1;
  const auto& res = j["data"]["result"];
  if (res.size() != 1) return res.empty() ? -2 : -3;
  return std::stod(res[0]["value"][1].get<std::string>());
}

TEST(WebConfig, PrometheusScrapesOverHttpsWithBasicAuth) {
  Pki pki;
  ASSERT_TRUE(pki.ok);
  const uint16_t port = free_port(), prom_port = free_port();
  Serve serve(pki.config("web.yml", kTls + pki.basic_auth()), port);
  ASSERT_TRUE(serve.started()) << serve.err();
  ASSERT_EQ(scrape_until_ready(pki, "--cacert " + pki.dir + "/ca.pem -u 'prometheus:s3cret pass' " + url(port)).status,
            200);

  const std::string pdir = pki.dir + "/prom";
  fs::create_directories(pdir);
  std::ofstream(pdir + "/prometheus.yml") << "global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\n"
                                             "scrape_configs:\n  - job_name: tcpfsm-tls\n    scheme: https\n"
                                             "    tls_config:\n      ca_file: "
                                          << pki.dir
                                          << "/ca.pem\n    basic_auth:\n      username: prometheus\n"
                                             "      password: 's3cret pass'\n"
                                             "    static_configs:\n      - targets: ['127.0.0.1:"
                                          << port << "']\n";
  const pid_t prom = fork();
  if (prom == 0) {
    const int fd = open((pdir + "/prometheus.log").c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
    dup2(fd, 1);
    dup2(fd, 2);
    const std::string config = "--config.file=" + pdir + "/prometheus.yml";
    const std::string storage = "--storage.tsdb.path=" + pdir + "/data";
    const std::string web = "--web.listen-address=127.0.0.1:" + std::to_string(prom_port);
    execl("/usr/bin/prometheus", "prometheus", config.c_str(), storage.c_str(), web.c_str(), nullptr);
    _exit(127);
  }
  ASSERT_GT(prom, 0);
  double up = 0, info = 0;
  for (int i = 0; i < 150 && up != 1; ++i) {
    up = prom_value(prom_port, pdir, "up{job=\"tcpfsm-tls\"}");
    if (up != 1) std::this_thread::sleep_for(200ms);
  }
  if (up == 1) info = prom_value(prom_port, pdir, "tcpfsm_build_info{job=\"tcpfsm-tls\",version=\"0.1.0\"}");
  const std::string log = slurp(pdir + "/prometheus.log");
  kill(prom, SIGTERM);
  waitpid(prom, nullptr, 0);
  EXPECT_EQ(up, 1) << log;
  EXPECT_EQ(info, 1);
  Outcome r = serve.stop();
  EXPECT_EQ(r.status, 0) << r.err;
}

// Each client certificate policy against no certificate, the CA's client
// certificate and a self-signed stranger: whether an answer came back.
TEST(WebConfig, EveryClientAuthTypeAsGoDefinesIt) {
  Pki pki;
  ASSERT_TRUE(pki.ok);
  struct Case {
    const char* type;
    bool none, stranger;  // answered without a certificate, with a self-signed one
  };
  const Case cases[] = {
      {"NoClientCert", true, true},
      {"RequestClientCert", true, true},
      {"RequireAnyClientCert", false, true},
      {"VerifyClientCertIfGiven", true, false},
      {"RequireAndVerifyClientCert", false, false},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.type);
    const bool ca = std::string(c.type) != "NoClientCert";
    const uint16_t port = free_port();
    Serve serve(pki.config(std::string(c.type) + ".yml", std::string(kTls) + "  client_auth_type: " + c.type + "\n" +
                                                             (ca ? "  client_ca_file: ca.pem\n" : "")),
                port);
    ASSERT_TRUE(serve.started()) << serve.err();
    const std::string base = "--cacert " + pki.dir + "/ca.pem ";
    const std::string client = "--cert " + pki.dir + "/client.pem --key " + pki.dir + "/client.key ";
    const std::string stranger = "--cert " + pki.dir + "/stranger.pem --key " + pki.dir + "/stranger.key ";
    // The CA's client certificate always gets through: also waits for the first snapshot.
    Curl good = scrape_until_ready(pki, base + client + url(port));
    EXPECT_EQ(good.status, 200) << serve.err();
    Curl none = curl(pki.dir, base + url(port));
    EXPECT_EQ(none.status == 200, c.none) << "curl exit " << none.exit;
    if (!c.none) {
      EXPECT_NE(none.exit, 0);
    }
    Curl odd = curl(pki.dir, base + stranger + url(port));
    EXPECT_EQ(odd.status == 200, c.stranger) << "curl exit " << odd.exit;
    if (!c.stranger) {
      EXPECT_NE(odd.exit, 0);
    }
    // Refused handshakes leave the server serving.
    EXPECT_EQ(curl(pki.dir, base + client + url(port)).status, 200);
    Outcome r = serve.stop();
    EXPECT_EQ(r.status, 0) << r.err;
  }
}

// serve must stop before loading anything, with exit status 2 and exactly
// one line naming the file, the key and what to do.
TEST(WebConfig, MalformedConfigsExitTwoWithOneLine) {
  Pki pki;
  ASSERT_TRUE(pki.ok);
  const std::string d = pki.dir;
  struct Case {
    std::string file, want;
  };
  const std::vector<Case> cases = {
      {pki.config("bad-yaml.yml", "tls_server_config:\n  cert_file: [server.pem\n"),
       "tcpfsm: invalid --web.config.file '" + d +
           "/bad-yaml.yml': line 3, column 1: end of sequence flow not found; fix the YAML (exporter-toolkit's web "
           "config format)\n"},
      {pki.config("unknown.yml", std::string(kTls) + "  cert_chain: x\n"),
       "tcpfsm: invalid --web.config.file '" + d +
           "/unknown.yml': line 4: unknown key tls_server_config.cert_chain; the keys are cert_file, key_file, "
           "client_ca_file, client_auth_type, min_version and max_version\n"},
      {pki.config("no-key.yml", "tls_server_config:\n  cert_file: server.pem\n"),
       "tcpfsm: invalid --web.config.file '" + d +
           "/no-key.yml': line 2: tls_server_config.key_file is missing; give the server's PEM private key as "
           "key_file\n"},
      {d + "/absent.yml", "tcpfsm: invalid --web.config.file '" + d +
                              "/absent.yml': No such file or directory; give a readable YAML file in "
                              "exporter-toolkit's web config format\n"},
      {d, "tcpfsm: invalid --web.config.file '" + d +
              "': Is a directory; give a readable YAML file in exporter-toolkit's web config format\n"},
      {pki.config("bad-hash.yml", "basic_auth_users:\n  prometheus: '$2y$05$tooshort'\n"),
       "tcpfsm: invalid --web.config.file '" + d +
           "/bad-hash.yml': line 2: basic_auth_users.prometheus is not a bcrypt hash; make one with htpasswd -nbB "
           "USER PASSWORD and quote it: '$2y$...'\n"},
      {pki.config("no-cert-file.yml", "tls_server_config:\n  cert_file: missing.pem\n  key_file: server.key\n"),
       "tcpfsm: invalid --web.config.file '" + d + "/no-cert-file.yml': tls_server_config.cert_file '" + d +
           "/missing.pem': No such file or directory; give a readable PEM certificate (chain)\n"},
      {pki.config("tls10.yml", std::string(kTls) + "  min_version: TLS10\n"),
       "tcpfsm: invalid --web.config.file '" + d +
           "/tls10.yml': tls_server_config.min_version TLS10: this OpenSSL refuses TLS 1.0 and 1.1 at its security "
           "level (2); use TLS12 or TLS13\n"},
      {pki.config("wrong-key.yml", "tls_server_config:\n  cert_file: server.pem\n  key_file: client.key\n"),
       "tcpfsm: invalid --web.config.file '" + d + "/wrong-key.yml': tls_server_config.key_file '" + d +
           "/client.key' is not the key of cert_file '" + d + "/server.pem'; give the pair that belongs together\n"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.file);
    Binary bin(
        {"serve", "--web.config.file", c.file, "--web.listen-address", "127.0.0.1:" + std::to_string(free_port())});
    Outcome r = bin.wait();
    EXPECT_EQ(r.status, 2);
    EXPECT_EQ(r.err, c.want);
    EXPECT_EQ(r.out, "");
  }
}

}  // namespace
}  // namespace tcpfsm::test
