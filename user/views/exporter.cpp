// The exporter's HTTP routes, limits and listening socket (see exporter.hpp).
#include "views/exporter.hpp"

#include <httplib.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <sys/socket.h>

#include <atomic>
#include <functional>

#include "base/clock.hpp"

namespace tcpfsm {
namespace {

// A fixed pool with a bounded queue: past kExporterMaxPending connections
// the accepting thread serves the next one itself, so it stops accepting
// and further clients wait in the kernel's small listen backlog. Open
// connections, threads and memory stay bounded whatever clients do.
class BoundedTaskQueue : public httplib::TaskQueue {
 public:
  BoundedTaskQueue() : pool_(kExporterThreads) {}
  void enqueue(std::function<void()> fn) override {
    if (pending_.load() >= kExporterMaxPending) {
      fn();
      return;
    }
    ++pending_;
    pool_.enqueue([this, fn = std::move(fn)] {
      fn();
      --pending_;
    });
  }
  void shutdown() override { pool_.shutdown(); }

 private:
  httplib::ThreadPool pool_;
  std::atomic<size_t> pending_{0};
};

// The oldest error OpenSSL queued; the queue emptied.
unsigned long ssl_error() {
  const unsigned long e = ERR_get_error();
  ERR_clear_error();
  return e;
}

std::string ssl_reason(unsigned long e) {
  // A file that cannot be opened is a system error: OpenSSL 3 keeps errno as its reason.
  if (e && ERR_SYSTEM_ERROR(e)) return errno_text(static_cast<int>(ERR_GET_REASON(e)));
  const char* r = e ? ERR_reason_error_string(e) : nullptr;
  return r ? r : "unknown OpenSSL error";
}

std::string ssl_reason() { return ssl_reason(ssl_error()); }

int verify_mode(ClientAuth a) {
  switch (a) {
    case ClientAuth::NoClientCert:
      return SSL_VERIFY_NONE;
    case ClientAuth::RequestClientCert:
    case ClientAuth::VerifyClientCertIfGiven:
      return SSL_VERIFY_PEER;
    case ClientAuth::RequireAnyClientCert:
    case ClientAuth::RequireAndVerifyClientCert:
      return SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT;
  }
  return SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT;
}

// Go's RequestClientCert and RequireAnyClientCert take any certificate
// without checking its chain: the chain's verdict is overridden.
int accept_any_certificate(int, X509_STORE_CTX*) { return 1; }

// Fills the context cpp-httplib made; "" on success, else the one line to show.
std::string setup_tls(SSL_CTX& ctx, const TlsServerConfig& t, const std::string& source) {
  const std::string prefix = "invalid --web.config.file '" + source + "': ";
  ERR_clear_error();
  SSL_CTX_set_options(&ctx, SSL_OP_NO_COMPRESSION | SSL_OP_NO_RENEGOTIATION |
                                SSL_OP_NO_SESSION_RESUMPTION_ON_RENEGOTIATION | SSL_OP_CIPHER_SERVER_PREFERENCE);
  // OpenSSL 3 refuses TLS 1.0 and 1.1 handshakes at security level 1 and
  // above (their signatures use SHA-1 and MD5); Debian sets level 2. Say so
  // now rather than accept a version no client could then use.
  if (t.min_version < kTls12 && SSL_CTX_get_security_level(&ctx) >= 1)
    return prefix + "tls_server_config.min_version " + tls_version_name(t.min_version) +
           ": this OpenSSL refuses TLS 1.0 and 1.1 at its security level (" +
           std::to_string(SSL_CTX_get_security_level(&ctx)) + "); use TLS12 or TLS13";
  if (SSL_CTX_set_min_proto_version(&ctx, t.min_version) != 1 ||
      SSL_CTX_set_max_proto_version(&ctx, t.max_version) != 1)
    return prefix + "tls_server_config.min_version/max_version: " + ssl_reason() + "; use TLS12 or TLS13";
  if (SSL_CTX_use_certificate_chain_file(&ctx, t.cert_file.c_str()) != 1)
    return prefix + "tls_server_config.cert_file '" + t.cert_file + "': " + ssl_reason() +
           "; give a readable PEM certificate (chain)";
  const std::string mismatch = prefix + "tls_server_config.key_file '" + t.key_file +
                               "' is not the key of cert_file '" + t.cert_file +
                               "'; give the pair that belongs together";
  if (SSL_CTX_use_PrivateKey_file(&ctx, t.key_file.c_str(), SSL_FILETYPE_PEM) != 1) {
    const unsigned long e = ssl_error();
    if (ERR_GET_LIB(e) == ERR_LIB_X509 && ERR_GET_REASON(e) == X509_R_KEY_VALUES_MISMATCH) return mismatch;
    return prefix + "tls_server_config.key_file '" + t.key_file + "': " + ssl_reason(e) +
           "; give a readable PEM private key without a passphrase";
  }
  if (SSL_CTX_check_private_key(&ctx) != 1) return mismatch;
  if (!t.client_ca_file.empty()) {
    STACK_OF(X509_NAME)* names = SSL_load_client_CA_file(t.client_ca_file.c_str());
    if (!names || SSL_CTX_load_verify_locations(&ctx, t.client_ca_file.c_str(), nullptr) != 1) {
      if (names) sk_X509_NAME_pop_free(names, X509_NAME_free);
      return prefix + "tls_server_config.client_ca_file '" + t.client_ca_file + "': " + ssl_reason() +
             "; give a readable PEM file of CA certificates";
    }
    // The CAs named in the certificate request, as Go's ClientCAs are.
    SSL_CTX_set_client_CA_list(&ctx, names);
  }
  const bool any = t.client_auth == ClientAuth::RequestClientCert || t.client_auth == ClientAuth::RequireAnyClientCert;
  SSL_CTX_set_verify(&ctx, verify_mode(t.client_auth), any ? accept_any_certificate : nullptr);
  // With a peer certificate asked for, OpenSSL refuses to resume a session
  // whose context is unset; one name for the whole exporter.
  static const unsigned char kSessionContext[] = "tcpfsm-exporter";
  SSL_CTX_set_session_id_context(&ctx, kSessionContext, sizeof kSessionContext - 1);
  return "";
}

}  // namespace

Result<std::unique_ptr<httplib::Server>> make_exporter_server(const WebConfig& web) {
  if (!web.tls) return std::unique_ptr<httplib::Server>(std::make_unique<httplib::Server>());
  std::string failure;
  auto srv = std::make_unique<httplib::SSLServer>([&](SSL_CTX& ctx) {
    failure = setup_tls(ctx, *web.tls, web.source);
    return failure.empty();
  });
  if (!srv->is_valid())
    return Error::usage(failure.empty() ? "cannot create an OpenSSL context: " + ssl_reason() : failure);
  return std::unique_ptr<httplib::Server>(std::move(srv));
}

void PublishedMetrics::set(std::shared_ptr<const MetricsSnapshot> s) {
  std::lock_guard<std::mutex> lock(mu_);
  snap_ = std::move(s);
  published_ns_ = monotonic_ns();
}

std::shared_ptr<const MetricsSnapshot> PublishedMetrics::get() const {
  std::lock_guard<std::mutex> lock(mu_);
  return snap_;
}

uint64_t PublishedMetrics::age_ns() const {
  std::lock_guard<std::mutex> lock(mu_);
  return published_ns_ ? monotonic_ns() - published_ns_ : UINT64_MAX;
}

void configure_exporter(httplib::Server& srv, const PublishedMetrics& pub, OwnNetnsReader own_netns, BasicAuth* auth,
                        std::vector<std::pair<std::string, std::string>> headers) {
  using httplib::Request;
  using httplib::Response;
  srv.new_task_queue = [] { return new BoundedTaskQueue(); };
  // cpp-httplib sets SO_REUSEPORT by default, which lets a second exporter
  // bind the same port and take half the scrapes. SO_REUSEADDR alone still
  // allows a restart over old TIME_WAIT, but a port in use fails to bind.
  srv.set_socket_options([](socket_t sock) {
    int yes = 1;
    setsockopt(sock, SOL_SOCKET, SO_REUSEADDR, &yes, sizeof(yes));
  });
  // cpp-httplib writes the headers and the body apart; over TLS they are two
  // records, and Nagle holds the second until the client's delayed ACK
  // (40 ms: BENCHMARKS.md, "What TLS and basic auth cost a scrape").
  // Accepted sockets inherit TCP_NODELAY from the listener.
  srv.set_tcp_nodelay(true);
  srv.set_payload_max_length(kExporterMaxPayload);
  srv.set_read_timeout(5, 0);
  srv.set_write_timeout(5, 0);
  srv.set_keep_alive_max_count(100);
  srv.set_keep_alive_timeout(5);
  if (auth && !auth->enabled()) auth = nullptr;
  // Every path is behind basic auth, /healthz too: exporter-toolkit wraps
  // the whole handler, and a health endpoint open to anyone tells them the
  // exporter is there. A readiness probe sends the credentials
  // (deploy/README.md, "Serving over TLS with basic auth").
  srv.set_pre_routing_handler([auth, headers = std::move(headers)](const Request& req, Response& res) {
    for (const auto& [name, value] : headers) res.set_header(name.c_str(), value);
    if (auth && !auth->allows(req.get_header_value("Authorization"))) {
      res.status = 401;
      res.set_header("WWW-Authenticate", "Basic");
      res.set_content("Unauthorized\n", "text/plain");
      return httplib::Server::HandlerResponse::Handled;
    }
    if (req.method == "GET" || req.method == "HEAD") return httplib::Server::HandlerResponse::Unhandled;
    res.status = 405;
    res.set_header("Allow", "GET, HEAD");
    res.set_content("only GET and HEAD are served\n", "text/plain");
    return httplib::Server::HandlerResponse::Handled;
  });
  srv.Get("/metrics", [&pub, own_netns = std::move(own_netns), auth](const Request&, Response& res) {
    auto snap = pub.get();
    if (!snap) {
      res.status = 503;
      res.set_content("tcpfsm is starting\n", "text/plain");
      return;
    }
    const std::optional<NodeTcpStat> own = own_netns ? own_netns() : std::nullopt;
    std::string body = render_metrics(*snap, own);
    if (auth) body += render_web_auth_metrics(auth->counters());
    res.set_content(body, "text/plain; version=0.0.4; charset=utf-8");
  });
  srv.Get("/healthz", [&pub](const Request&, Response& res) {
    // Healthy while the consumer publishes: it does so every half second.
    if (pub.age_ns() < 5'000'000'000ULL) {
      res.set_content("ok\n", "text/plain");
    } else {
      res.status = 503;
      res.set_content("the event consumer has not published for 5 s\n", "text/plain");
    }
  });
  srv.Get("/", [](const Request&, Response& res) {
    res.set_content("tcpfsm exporter: see /metrics and /healthz\n", "text/plain");
  });
  srv.set_error_handler([](const Request&, Response& res) {
    if (res.body.empty()) res.set_content(std::to_string(res.status) + "\n", "text/plain");
  });
}

}  // namespace tcpfsm
