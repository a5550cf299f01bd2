// The doctor's rule on ESTABLISHED connections that pile up doing nothing:
// a service whose clients keep connections open without using them, and a
// client whose pool holds more connections than its load uses. One finding
// per service and per client process.
#include <fmt/format.h>

#include "base/duration.hpp"
#include "diagnose/rules.hpp"

namespace tcpfsm {
namespace {

// Fewer idle connections are a pool doing its job; the posts' piles are thousands.
constexpr uint64_t kIdleCount = 50;

bool is_pile(const IdleGroup& g) { return g.idle >= kIdleCount && g.idle * 2 >= g.established; }

std::string seconds_text(uint64_t ms) { return human_duration(ms * 1'000'000); }

std::string holder_text(const IdleGroup& g) {
  if (g.pid == 0) return "no process tcpfsm can see";
  std::string s = process_text(g.pid, g.process ? std::string_view(g.process->comm) : "?", g.process);
  if (g.holders > 1) s += fmt::format(" and {} more processes", g.holders - 1);
  return s;
}

std::string peers_text(const IdleGroup& g) {
  std::string s;
  for (const auto& p : g.peers) {
    if (!s.empty()) s += ", ";
    s += p.port ? fmt::format("{}:{} ({})", p.addr, p.port, p.count) : fmt::format("{} ({})", p.addr, p.count);
  }
  if (g.distinct_peers > g.peers.size()) s += fmt::format(", ... ({} in all)", g.distinct_peers);
  return s;
}

std::string keepalive_text(const IdleGroup& g, const TcpSettings& s) {
  std::string t = fmt::format("{} of the {} idle have keepalive on (SO_KEEPALIVE)", g.keepalive, g.idle);
  if (s.keepalive_time)
    t += fmt::format(
        "; tcp_keepalive_time = {} s: a first probe after that long idle, which closes nothing the "
        "peer still answers",
        *s.keepalive_time);
  return t;
}

Finding idle_finding(const IdleGroup& g, const DoctorInput& in, uint64_t threshold_ms) {
  Finding f;
  f.id = "idle_established";
  f.severity = Severity::Warning;
  const std::string service = fmt::format("{}:{}", g.service_addr, g.service_port);
  const std::string since =
      fmt::format("{} to {} without data either way", seconds_text(g.min_idle_ms), seconds_text(g.max_idle_ms));
  if (g.service) {
    f.title = fmt::format("{} of {} connections to the service on {} are idle, held open for over {}", g.idle,
                          g.established, service, seconds_text(threshold_ms));
    f.evidence.push_back(
        fmt::format("{} ESTABLISHED accepted on {}, {} of them idle for {} (sock_diag tcp_info: "
                    "last data sent and received)",
                    g.established, service, g.idle, since));
    f.evidence.push_back("clients holding them: " + peers_text(g));
    f.evidence.push_back("held here by " + holder_text(g));
  } else {
    f.title = fmt::format("{} holds {} idle connections of {}, open for over {} without data", holder_text(g), g.idle,
                          g.established, seconds_text(threshold_ms));
    f.evidence.push_back(
        fmt::format("{} ESTABLISHED it opened, {} of them idle for {} (sock_diag tcp_info: last "
                    "data sent and received)",
                    g.established, g.idle, since));
    f.evidence.push_back("servers they go to: " + peers_text(g));
  }
  f.evidence.push_back(keepalive_text(g, in.after.settings));
  if (g.process && !g.process->cmdline.empty()) f.evidence.push_back("command: " + one_line(g.process->cmdline));
  const std::string keepalive =
      " TCP keepalive (tcp_keepalive_time, _intvl, _probes, for sockets that set SO_KEEPALIVE) does not close "
      "them: it only finds peers that are gone, a dead host or a NAT or firewall that forgot the connection, "
      "and that is the only thing to tune it for.";
  if (g.service) {
    f.explanation =
        "Clients opened these connections and keep them (HTTP keep-alive, a connection pool) while sending nothing; "
        "this side has no idle timeout, or a longer one. Each costs a file descriptor and memory, and in a "
        "thread-per-connection server (Tomcat's blocking connector, Resin, a database's backend processes) a worker: "
        "a pile of idle ESTABLISHED is how such a server runs out of threads while doing nothing." +
        keepalive;
    f.action = fmt::format(
        "Give the server an idle timeout that closes connections it does not need (Tomcat keepAliveTimeout and "
        "maxKeepAliveRequests, nginx keepalive_timeout, MySQL wait_timeout, PostgreSQL "
        "idle_session_timeout), and bound the clients' pools (minimum idle, idle eviction). 'ss -tnoi state "
        "established sport = :{}' shows each one's lastsnd and lastrcv.",
        g.service_port);
  } else {
    f.explanation =
        "This process keeps more connections open than it uses: a pool sized above its load with no idle eviction, "
        "or connections opened and then forgotten. Each costs a descriptor and memory here and, often more dearly, "
        "a worker on the server." +
        keepalive;
    f.action = fmt::format(
        "Bound the pool and evict idle connections (HikariCP idleTimeout and minimumIdle, commons-pool "
        "minEvictableIdleTimeMillis, Go's SetMaxIdleConns and SetConnMaxIdleTime); if nothing in the code pools "
        "them, find where they are opened and never closed. 'ss -tnoip state established' shows lastsnd and "
        "lastrcv per connection{}.",
        g.pid ? fmt::format(" (pid {})", g.pid) : std::string());
  }
  return f;
}

}  // namespace

void check_idle_established(const DoctorInput& in, std::vector<Finding>& out) {
  if (!in.observation) return;
  for (const auto& g : in.observation->idle)
    if (is_pile(g)) out.push_back(idle_finding(g, in, in.observation->idle_threshold_ms));
}

}  // namespace tcpfsm
