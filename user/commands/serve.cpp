// `tcpfsm serve`: the live engine of `stats`, exported to Prometheus.
//
// The consumer thread copies a MetricsSnapshot (fixed size: no per-socket
// data) every kPublishS seconds; HTTP threads render the newest one.
// Neither ever waits for the other beyond a pointer swap. Only
// node_tcp_connection_states is read at the scrape, on the HTTP thread: a
// sock_diag dump of this namespace, as node_exporter takes it.
#include <fcntl.h>
#include <httplib.h>
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <memory>
#include <optional>
#include <thread>

#include "base/version.hpp"
#include "collect/netns.hpp"
#include "collect/sock_diag.hpp"
#include "commands/commands.hpp"
#include "commands/live_kernel.hpp"
#include "commands/run_control.hpp"
#include "views/exporter.hpp"
#include "views/metrics.hpp"
#include "views/web_auth.hpp"
#include "views/web_config.hpp"

namespace tcpfsm {
namespace {

constexpr double kPublishS = 0.5;
// Settings change rarely, namespaces come and go: read them this often.
constexpr auto kSysctlPeriod = std::chrono::seconds(30);
// tcpfsm_sysctl series come from at most this many other namespaces.
constexpr size_t kSysctlNamespaces = 256;

std::string endpoint(const ServeOptions& o) {
  return o.host.find(':') != std::string::npos ? "[" + o.host + "]:" + std::to_string(o.port)
                                               : o.host + ":" + std::to_string(o.port);
}

// Serves on a thread of its own; stops the server and joins the thread
// however run_serve returns. stop() does nothing until the thread has
// entered its accept loop, so an early return (the tracer failed to load)
// first waits for that, or the join would wait forever.
class HttpThread {
 public:
  explicit HttpThread(httplib::Server& srv)
      : srv_(srv), thread_([this] {
          srv_.listen_after_bind();
          done_ = true;
        }) {}
  ~HttpThread() {
    while (!done_ && !srv_.is_running()) std::this_thread::sleep_for(std::chrono::milliseconds(1));
    if (!done_) srv_.stop();
    thread_.join();
  }

 private:
  httplib::Server& srv_;
  std::atomic<bool> done_{false};
  std::thread thread_;
};

// node_tcp_connection_states: node_exporter's own dump (TCPF_ALL, both
// families, this process's namespace), taken at the scrape as it takes it,
// so the two agree socket for socket whatever the filters say.
std::optional<NodeTcpStat> read_own_netns(uint32_t netns) {
  DumpRequest req;
  req.states = kNodeExporterStates;
  auto dump = dump_tcp_sockets(netns, req);
  if (!dump) {
    spdlog::warn("node_tcp_connection_states left out of this scrape: {}", dump.error().message);
    return std::nullopt;
  }
  return node_tcp_stat(*dump);
}

// The web config's text. Bounded: a web config is a page of YAML.
Result<std::string> read_web_config(const std::string& path) {
  constexpr size_t kMaxWebConfig = 1 << 20;
  const std::string what_to_do = "; give a readable YAML file in exporter-toolkit's web config format";
  const int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return Error::usage("invalid --web.config.file '" + path + "': " + errno_text(errno) + what_to_do);
  std::string text;
  char buf[65536];
  ssize_t n = 0;
  while ((n = read(fd, buf, sizeof buf)) > 0 || (n < 0 && errno == EINTR)) {
    if (n > 0) text.append(buf, static_cast<size_t>(n));
    if (text.size() > kMaxWebConfig) break;
  }
  const int err = errno;
  close(fd);
  if (n < 0) return Error::usage("invalid --web.config.file '" + path + "': " + errno_text(err) + what_to_do);
  if (text.size() > kMaxWebConfig)
    return Error::usage("invalid --web.config.file '" + path + "': larger than 1 MiB" + what_to_do);
  return text;
}

Result<WebConfig> load_web_config(const std::string& path) {
  if (path.empty()) return WebConfig{};
  auto text = read_web_config(path);
  if (!text) return text.error();
  return parse_web_config(text.value(), path);
}

}  // namespace

Status run_serve(const ServeOptions& opts) {
  // The web config, its certificate and key are checked before anything
  // is loaded into the kernel: a typo costs no BPF load and says so at once.
  auto web = load_web_config(opts.web_config_file);
  if (!web) return web.error();
  auto server = make_exporter_server(web.value());
  if (!server) return server.error();
  httplib::Server& srv = *server.value();
  BasicAuth auth(web->basic_auth_users);
  PublishedMetrics pub;
  const auto own = own_netns();
  if (!own) return own.error();
  configure_exporter(
      srv, pub, [netns = *own] { return read_own_netns(netns); }, &auth, web->headers);
  // Bind before loading anything: a port in use fails at once.
  errno = 0;
  if (!srv.bind_to_port(opts.host, opts.port)) {
    const int err = errno;
    return Error::runtime("cannot listen on " + endpoint(opts) + ": " +
                              (err ? std::string(std::strerror(err)) : std::string("bind failed")) +
                              "; is another exporter using the port? choose another with --web.listen-address",
                          err);
  }
  HttpThread http(srv);

  LiveOptions lopts;
  lopts.filter = opts.filter;
  lopts.duration_s = opts.duration_s;
  lopts.reconcile_s = opts.reconcile_s;
  lopts.records = opts.records;
  lopts.stuck_min_age_ns = static_cast<uint64_t>(opts.stuck_min_age_s * 1e9);
  lopts.stuck_period = std::chrono::seconds(5);
  lopts.tick_s = kPublishS;
  lopts.groups = opts.groups;
  lopts.group_period = std::chrono::seconds(5);
  auto kernel = start_live_kernel(lopts, opts.ringbuf_bytes);
  if (!kernel) return kernel.error();

  std::vector<SysctlSeries> sysctls;
  uint64_t sysctls_folded = 0;
  std::optional<std::chrono::steady_clock::time_point> sysctls_read;
  LiveHooks hooks;
  hooks.stopped = stop_requested;
  hooks.on_tick = [&](LiveState& s) -> Status {
    if (const auto now = std::chrono::steady_clock::now(); !sysctls_read || now - *sysctls_read >= kSysctlPeriod) {
      const SysctlScan scan = read_sysctls_by_netns(exported_sysctls(), opts.filter.netns, kSysctlNamespaces);
      sysctls = sysctl_series(scan);
      sysctls_folded = scan.folded;
      sysctls_read = now;
    }
    auto snap = std::make_shared<MetricsSnapshot>();
    snap->sysctls = sysctls;
    snap->sysctl_namespaces_folded = sysctls_folded;
    fill_snapshot(*snap, s.table);
    fill_snapshot(*snap, s.ctx, opts.stuck_top);
    if (opts.bpf_stats) {
      for (auto& p : s.kernel.prog_stats()) snap->bpf.push_back({std::move(p.name), p.run_ns, p.runs});
    }
    snap->version = kVersion;
    pub.set(std::move(snap));
    return Ok{};
  };
  hooks.on_start = [&](LiveState& s) -> Status {
    if (opts.bpf_stats) {
      if (auto st = s.kernel.enable_bpf_stats(); !st) return st;
    }
    spdlog::info("serving {}://{}/metrics{}", web->tls ? "https" : "http", endpoint(opts),
                 auth.enabled() ? " (basic auth)" : "");
    return hooks.on_tick(s);
  };
  return run_live(lopts, kernel->sources(), hooks);
}

}  // namespace tcpfsm
