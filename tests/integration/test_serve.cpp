// `tcpfsm serve` scraped by Debian's real Prometheus server, checked by
// promtool, and fed bad requests.
#include <arpa/inet.h>
#include <fcntl.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <httplib.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>
#include <thread>

#include "harness.hpp"

namespace tcpfsm::test {
namespace {

using namespace std::chrono_literals;
using nlohmann::json;
namespace fs = std::filesystem;

std::string tmpdir() { return make_tmpdir("serve"); }

// GET path from 127.0.0.1:port; status 0 when nothing answered.
std::pair<int, std::string> get(uint16_t port, const std::string& path) {
  httplib::Client c("127.0.0.1", port);
  c.set_connection_timeout(2, 0);
  c.set_read_timeout(5, 0);
  auto r = c.Get(path.c_str());
  if (!r) return {0, ""};
  return {r->status, r->body};
}

bool wait_for_metrics(uint16_t port) {
  for (int i = 0; i < 100; ++i) {
    if (get(port, "/metrics").first == 200) return true;
    std::this_thread::sleep_for(100ms);
  }
  return false;
}

// Sends raw bytes, returns the response's status line ("" if the server just closed).
std::string raw_request(uint16_t port, const std::string& bytes) {
  Fd s = connect_loopback(AF_INET, port);
  size_t off = 0;
  while (off < bytes.size()) {
    ssize_t n = send(s.get(), bytes.data() + off, bytes.size() - off, MSG_NOSIGNAL);
    if (n <= 0) break;
    off += static_cast<size_t>(n);
  }
  // No shutdown(SHUT_WR): a client that went away gets no answer. The
  // status line is all we need; keep-alive may hold the connection open.
  timeval tv{3, 0};
  setsockopt(s.get(), SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
  std::string reply;
  char buf[4096];
  ssize_t n;
  while (reply.find("\r\n") == std::string::npos && (n = recv(s.get(), buf, sizeof(buf), 0)) > 0)
    reply.append(buf, static_cast<size_t>(n));
  return reply.substr(0, reply.find("\r\n"));
}

// Prometheus' HTTP API: the value of an instant query's single series, or -1.
double prom_value(uint16_t port, const std::string& query) {
  httplib::Client c("127.0.0.1", port);
  c.set_read_timeout(5, 0);
  httplib::Params params{{"query", query}};
  auto r = c.Get("/api/v1/query", params, httplib::Headers{});
  if (!r || r->status != 200) return -1;
  json j = json::parse(r->body, nullptr, false);
  if (j.is_discarded() || j["status"] != "success") return -1;
  const json& res = j["data"]["result"];
  if (res.size() != 1) return res.empty() ? -2 : -3;
  return std::stod(res[0]["value"][1].get<std::string>());
}

// Polls a Prometheus query until it returns `want`.
bool prom_until(uint16_t port, const std::string& query, double want, double& last) {
  for (int i = 0; i < 150; ++i) {
    last = prom_value(port, query);
    if (last == want) return true;
    std::this_thread::sleep_for(200ms);
  }
  return false;
}

class Prometheus {
 public:
  Prometheus(uint16_t target_port, uint16_t web_port) : dir_(tmpdir()) {
    std::ofstream(dir_ + "/prometheus.yml") << "global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\n"
                                               "scrape_configs:\n  - job_name: tcpfsm\n    static_configs:\n"
                                               "      - targets: ['127.0.0.1:"
                                            << target_port << "']\n";
    const std::string log = dir_ + "/prometheus.log";
    pid_ = fork();
    if (pid_ == 0) {
      int fd = open(log.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
      dup2(fd, 1);
      dup2(fd, 2);
      const std::string config = "--config.file=" + dir_ + "/prometheus.yml";
      const std::string storage = "--storage.tsdb.path=" + dir_ + "/data";
      const std::string web = "--web.listen-address=127.0.0.1:" + std::to_string(web_port);
      execl("/usr/bin/prometheus", "prometheus", config.c_str(), storage.c_str(), web.c_str(), nullptr);
      _exit(127);
    }
  }
  ~Prometheus() {
    kill(pid_, SIGTERM);
    waitpid(pid_, nullptr, 0);
    fs::remove_all(dir_);
  }
  std::string log() const { return slurp(dir_ + "/prometheus.log"); }

 private:
  std::string dir_;
  pid_t pid_ = -1;
};

TEST(Serve, PrometheusScrapesTheTransitionsAndStatesTheTestMade) {
  const uint16_t port = free_port(), prom_port = free_port();
  ASSERT_NE(port, 0);
  // Only connections to the test's server count (-D): the scrapes and the
  // test's queries to Prometheus are TCP connections in this namespace too.
  Fd lis = listen_loopback(AF_INET);
  const uint16_t server = local_port(lis.get());
  Binary bin({"serve", "--listen", "127.0.0.1:" + std::to_string(port), "--netns", std::to_string(self_netns()), "-D",
              std::to_string(server)});
  ASSERT_TRUE(wait_for_metrics(port));
  Prometheus prom(port, prom_port);
  double v = 0;
  ASSERT_TRUE(prom_until(prom_port, "up{job=\"tcpfsm\"}", 1, v)) << "last " << v << "\n" << prom.log();
  const std::string est = "tcpfsm_transitions_total{job=\"tcpfsm\",from=\"syn_sent\",to=\"established\"}";
  // tcpfsm_sockets: node_tcp_connection_states counts, as node_exporter, the whole
  // namespace unfiltered (the test's own scrapes and queries leave TIME_WAITs).
  const std::string tw = "sum(tcpfsm_sockets{job=\"tcpfsm\",state=\"time_wait\"})";
  // Nothing has connected to the server yet: no transition series, no TIME_WAIT.
  EXPECT_EQ(prom_value(prom_port, est), -2);
  EXPECT_EQ(prom_value(prom_port, tw), 0);

  constexpr int kConnections = 20;
  for (int i = 0; i < kConnections; ++i) one_connection(AF_INET, lis.get(), server);
  EXPECT_TRUE(prom_until(prom_port, est, kConnections, v)) << "last " << v;
  // Every client end closed first: one TIME_WAIT each, for 60 s.
  EXPECT_TRUE(prom_until(prom_port, tw, kConnections, v)) << "last " << v;
  EXPECT_TRUE(
      prom_until(prom_port, "tcpfsm_sockets{job=\"tcpfsm\",state=\"time_wait\",family=\"ipv4\"}", kConnections, v))
      << "last " << v;
  EXPECT_EQ(prom_value(prom_port, "tcpfsm_events_lost_total{job=\"tcpfsm\",reason=\"ringbuf\"}"), 0);
  EXPECT_EQ(prom_value(prom_port, "tcpfsm_events_lost_total{job=\"tcpfsm\",reason=\"recursion\"}"), 0);
  EXPECT_EQ(prom_value(prom_port, "tcpfsm_build_info{job=\"tcpfsm\",version=\"0.1.0\"}"), 1);

  bin.signal(SIGTERM);
  Outcome r = bin.wait();
  EXPECT_EQ(r.status, 0) << r.err;
}

TEST(Serve, PromtoolAcceptsTheExposition) {
  const uint16_t port = free_port();
  Fd lis = listen_loopback(AF_INET);
  const uint16_t server = local_port(lis.get());
  Binary bin({"serve", "--bpf-stats", "--listen", "127.0.0.1:" + std::to_string(port), "--netns",
              std::to_string(self_netns()), "-D", std::to_string(server)});
  ASSERT_TRUE(wait_for_metrics(port));
  for (int i = 0; i < 5; ++i) one_connection(AF_INET, lis.get(), server);
  std::this_thread::sleep_for(1200ms);  // published every 0.5 s
  auto [status, body] = get(port, "/metrics");
  ASSERT_EQ(status, 200);
  EXPECT_THAT(body, ::testing::HasSubstr("tcpfsm_transitions_total{from=\"syn_sent\",to=\"established\"} 5\n"));
  EXPECT_THAT(body, ::testing::HasSubstr("tcpfsm_state_duration_seconds_count{state=\"established\"}"));
  EXPECT_THAT(body, ::testing::HasSubstr("tcpfsm_bpf_runs_total{prog=\"on_set_state\"}"));
  EXPECT_THAT(body, ::testing::Not(::testing::HasSubstr("tcpfsm_bpf_runs_total{prog=\"on_set_state\"} 0\n")));
  const std::string dir = tmpdir();
  std::ofstream(dir + "/metrics.txt") << body;
  const std::string cmd = "promtool check metrics < " + dir + "/metrics.txt > " + dir + "/out.txt 2>&1";
  int rc = std::system(cmd.c_str());
  EXPECT_EQ(rc, 0) << slurp(dir + "/out.txt");
  EXPECT_EQ(slurp(dir + "/out.txt"), "") << "promtool lint findings";
  fs::remove_all(dir);
  bin.signal(SIGTERM);
  EXPECT_EQ(bin.wait().status, 0);
}

// A connection to port from src that the server closes first: a TIME_WAIT
// socket on the server whose remote address is src, and nothing held.
void server_closes_first(const std::string& src, int lis, uint16_t port) {
  Fd c(socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  sockaddr_in a{};
  a.sin_family = AF_INET;
  inet_pton(AF_INET, src.c_str(), &a.sin_addr);
  ASSERT_EQ(bind(c.get(), reinterpret_cast<sockaddr*>(&a), sizeof(a)), 0) << src;
  sockaddr_in d{};
  d.sin_family = AF_INET;
  d.sin_port = htons(port);
  d.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(connect(c.get(), reinterpret_cast<sockaddr*>(&d), sizeof(d)), 0);
  Fd s = accept_one(lis);
  s.reset();
  char ch;
  while (read(c.get(), &ch, 1) > 0) {
  }
}

// Peers become labels only with a bound: 5,000 of them give --top series
// and "other", which holds the rest, and promtool finds nothing to say.
TEST(Serve, GroupedMetricsAreBoundedAndLintClean) {
  Fd lis = listen_loopback(AF_INET);
  const uint16_t server = local_port(lis.get());
  for (int i = 0; i < 5000; ++i)
    server_closes_first("127.0." + std::to_string(1 + i / 250) + "." + std::to_string(2 + i % 250), lis.get(), server);
  const uint16_t port = free_port();
  Binary bin({"serve", "--listen", "127.0.0.1:" + std::to_string(port), "--netns", std::to_string(self_netns()), "--by",
              "raddr", "--top", "20"});
  ASSERT_TRUE(wait_for_metrics(port));
  std::string body;
  for (int i = 0; i < 50 && body.find("tcpfsm_sockets_by_raddr{") == std::string::npos; ++i) {
    std::this_thread::sleep_for(200ms);
    body = get(port, "/metrics").second;
  }
  std::set<std::string> peers;
  uint64_t time_wait = 0;
  std::istringstream in(body);
  for (std::string line; std::getline(in, line);) {
    if (!line.starts_with("tcpfsm_sockets_by_raddr{")) continue;
    const size_t at = line.find("raddr=\"") + 7;
    peers.insert(line.substr(at, line.find('"', at) - at));
    if (line.find("state=\"time_wait\"") != std::string::npos)
      time_wait += std::stoull(line.substr(line.rfind(' ') + 1));
  }
  EXPECT_EQ(peers.size(), 21u) << "20 and other";
  EXPECT_TRUE(peers.count("other"));
  // The test's own scrapes leave TIME_WAIT sockets to 127.0.0.1 on top.
  EXPECT_GE(time_wait, 5000u);
  EXPECT_LE(time_wait, 5000u + 60);
  EXPECT_THAT(body, ::testing::HasSubstr("tcpfsm_groups_dropped_total 0\n"));
  const std::string dir = tmpdir();
  std::ofstream(dir + "/metrics.txt") << body;
  const std::string cmd = "promtool check metrics < " + dir + "/metrics.txt > " + dir + "/out.txt 2>&1";
  EXPECT_EQ(std::system(cmd.c_str()), 0) << slurp(dir + "/out.txt");
  EXPECT_EQ(slurp(dir + "/out.txt"), "") << "promtool lint findings";
  fs::remove_all(dir);
  bin.signal(SIGTERM);
  EXPECT_EQ(bin.wait().status, 0);
}

TEST(Serve, BadRequestsGet4xxAndServingGoesOn) {
  const uint16_t port = free_port();
  Binary bin(
      {"serve", "--web.listen-address", "127.0.0.1:" + std::to_string(port), "--netns", std::to_string(self_netns())});
  ASSERT_TRUE(wait_for_metrics(port));
  EXPECT_THAT(raw_request(port, "garbage\r\n\r\n"), ::testing::StartsWith("HTTP/1.1 400"));
  EXPECT_THAT(raw_request(port, "GET /metrics HTTP/1.1\r\nHost: x\r\nX-Big: " + std::string(100000, 'a') + "\r\n\r\n"),
              ::testing::MatchesRegex("HTTP/1.1 4[0-9][0-9].*"));
  EXPECT_THAT(raw_request(port, "POST /metrics HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\nabc"),
              ::testing::StartsWith("HTTP/1.1 405"));
  EXPECT_THAT(raw_request(port, "DELETE /healthz HTTP/1.1\r\nHost: x\r\n\r\n"), ::testing::StartsWith("HTTP/1.1 405"));
  EXPECT_EQ(get(port, "/no/such/path").first, 404);
  EXPECT_EQ(get(port, "/healthz"), (std::pair<int, std::string>{200, "ok\n"}));
  EXPECT_EQ(get(port, "/metrics").first, 200);
  bin.signal(SIGTERM);
  EXPECT_EQ(bin.wait().status, 0);
}

// Clients that connect and send nothing hold a worker for the 5 s read
// timeout. However many there are, the exporter's descriptors and threads
// stay bounded, and it serves again once they are gone.
TEST(Serve, IdleConnectionsCannotExhaustTheExporter) {
  const uint16_t port = free_port();
  Binary bin({"serve", "--listen", "127.0.0.1:" + std::to_string(port), "--netns", std::to_string(self_netns())});
  ASSERT_TRUE(wait_for_metrics(port));
  auto count = [&](const std::string& dir) {
    size_t n = 0;
    for ([[maybe_unused]] const auto& e : fs::directory_iterator("/proc/" + std::to_string(bin.pid()) + "/" + dir)) ++n;
    return n;
  };
  const size_t fds0 = count("fd"), threads0 = count("task");
  std::vector<Fd> idle;
  for (int i = 0; i < 300; ++i) {
    Fd s(socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0));
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(port);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    connect(s.get(), reinterpret_cast<sockaddr*>(&a), sizeof(a));  // EINPROGRESS once the backlog is full
    idle.push_back(std::move(s));
  }
  std::this_thread::sleep_for(1s);
  EXPECT_LE(count("fd"), fds0 + 2 + 16 + 1 + 2) << "workers + queue + the acceptor's own + slack";
  EXPECT_EQ(count("task"), threads0);
  idle.clear();
  // Closed clients are dropped as each worker gets to them.
  bool served = false;
  for (int i = 0; i < 40 && !served; ++i) {
    served = get(port, "/metrics").first == 200;
    if (!served) std::this_thread::sleep_for(500ms);
  }
  EXPECT_TRUE(served);
  bin.signal(SIGTERM);
  EXPECT_EQ(bin.wait().status, 0);
}

TEST(Serve, PortInUseIsOneLineAndExit1) {
  Fd taken = listen_loopback(AF_INET);
  Binary bin({"serve", "--listen", "127.0.0.1:" + std::to_string(local_port(taken.get())), "--duration", "2"});
  Outcome r = bin.wait();
  EXPECT_EQ(r.status, 1);
  auto ls = lines(r.err);
  ASSERT_EQ(ls.size(), 1u) << r.err;
  EXPECT_THAT(ls[0], ::testing::HasSubstr("cannot listen on 127.0.0.1:"));
  EXPECT_THAT(ls[0], ::testing::HasSubstr("--web.listen-address"));
}

// cpp-httplib turns SO_REUSEPORT on by default: a second exporter used to
// bind the same port, print "serving" and take half the scrapes.
TEST(Serve, ASecondServeOnTheSamePortIsOneLineAndExit1) {
  const uint16_t port = free_port();
  ASSERT_NE(port, 0);
  const std::string listen = "127.0.0.1:" + std::to_string(port);
  Binary first({"serve", "--listen", listen, "--duration", "20"});
  ASSERT_TRUE(wait_for_metrics(port)) << "the first serve never answered";
  Binary second({"serve", "--listen", listen, "--duration", "5"});
  Outcome r = second.wait();
  EXPECT_EQ(r.status, 1);
  auto ls = lines(r.err);
  ASSERT_EQ(ls.size(), 1u) << r.err;
  EXPECT_THAT(ls[0], ::testing::HasSubstr("cannot listen on " + listen + ": Address already in use"));
  EXPECT_THAT(r.err, ::testing::Not(::testing::HasSubstr("serving")));
  // The first one still answers every scrape.
  for (int i = 0; i < 10; ++i) EXPECT_EQ(get(port, "/metrics").first, 200) << i;
  first.signal(SIGTERM);
  EXPECT_EQ(first.wait().status, 0);
}

}  // namespace
}  // namespace tcpfsm::test

namespace tcpfsm::test {
namespace {

std::string proc_sys(const std::string& rel) {
  std::ifstream f("/proc/sys/" + rel);
  std::string a, b;
  f >> a >> b;
  return b.empty() ? a : a + " " + b;
}

// tcpfsm_sysctl: this namespace's settings as /proc/sys has them, and a
// namespace with a limit of its own (as a container has), labelled with
// its inode; what it shares with this one is not repeated.
TEST(Serve, SysctlsOfItsNamespaceAndOfOneThatDiffers) {
  const std::string ns = "tcpfsm-sysctl-" + std::to_string(getpid());
  ASSERT_TRUE(sh("ip netns add " + ns));
  struct Cleanup {
    std::string ns;
    ~Cleanup() { EXPECT_EQ(std::system(("ip netns del " + ns).c_str()), 0) << ns; }
  } cleanup{ns};
  ASSERT_TRUE(sh("ip netns exec " + ns + " sysctl -q -w net.ipv4.tcp_max_tw_buckets=20"));
  ASSERT_TRUE(sh("ip netns exec " + ns +
                 " sysctl -q -w net.core.somaxconn=" + proc_sys("net/core/somaxconn")));  // the same as here
  struct stat st {};
  ASSERT_EQ(stat(("/run/netns/" + ns).c_str(), &st), 0);
  const std::string ino = std::to_string(st.st_ino);
  const uint16_t port = free_port();
  Binary bin({"serve", "--web.listen-address", "127.0.0.1:" + std::to_string(port)});
  ASSERT_TRUE(wait_for_metrics(port)) << bin.err_so_far();
  const std::string body = get(port, "/metrics").second;
  const std::string range = proc_sys("net/ipv4/ip_local_port_range");
  const std::string low = range.substr(0, range.find(' ')), high = range.substr(range.find(' ') + 1);
  for (const std::string& line :
       {"tcpfsm_sysctl{name=\"tcp_max_tw_buckets\"} " + proc_sys("net/ipv4/tcp_max_tw_buckets") + "\n",
        "tcpfsm_sysctl{name=\"tcp_fin_timeout\"} " + proc_sys("net/ipv4/tcp_fin_timeout") + "\n",
        "tcpfsm_sysctl{name=\"ip_local_port_range_low\"} " + low + "\n",
        "tcpfsm_sysctl{name=\"ip_local_port_range_high\"} " + high + "\n",
        "tcpfsm_sysctl{name=\"somaxconn\"} " + proc_sys("net/core/somaxconn") + "\n",
        "tcpfsm_sysctl{name=\"tcp_max_syn_backlog\"} " + proc_sys("net/ipv4/tcp_max_syn_backlog") + "\n",
        "tcpfsm_sysctl{name=\"tcp_max_tw_buckets\",netns=\"" + ino + "\"} 20\n",
        std::string("tcpfsm_sysctl_namespaces_folded 0\n")})
    EXPECT_THAT(body, ::testing::HasSubstr(line));
  EXPECT_THAT(body, ::testing::Not(::testing::HasSubstr("name=\"somaxconn\",netns=\"" + ino + "\"")));
  bin.signal(SIGTERM);
  EXPECT_EQ(bin.wait().status, 0);
}

// The alert rules parse, and promtool's unit tests of them pass
// (deploy/alerts_test.yml: each alert fires where it should and not beside).
TEST(Alerts, RulesPassTheirPromtoolTests) {
  const std::string deploy = std::string(TCPFSM_FIXTURES) + "/../../deploy";
  EXPECT_TRUE(sh("promtool check rules " + deploy + "/alerts.yml"));
  EXPECT_TRUE(sh("cd " + deploy + " && promtool test rules alerts_test.yml"));
}

}  // namespace
}  // namespace tcpfsm::test
