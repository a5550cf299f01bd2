// tcpfsm serve against the real things: node_tcp_connection_states equal to
// what Debian's prometheus-node-exporter (tcpstat collector) exports from the
// same namespace at the same moment, and every query of the Grafana
// dashboard answered by Debian's Prometheus scraping a live tcpfsm.
#include <arpa/inet.h>
#include <fcntl.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <httplib.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <sys/wait.h>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <sstream>
#include <thread>

#include "harness.hpp"

namespace tcpfsm::test {
namespace {

using namespace std::chrono_literals;
namespace fs = std::filesystem;

std::string tmpdir() { return make_tmpdir("parity"); }

// Another program (node_exporter, Prometheus) run in this test's network
// namespace, its output in a file; stopped and reaped however the test ends.
class Program {
 public:
  explicit Program(const std::vector<std::string>& argv) : dir_(tmpdir()) {
    const std::string log = dir_ + "/log";
    pid_ = fork();
    if (pid_ == 0) {
      const int fd = open(log.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
      dup2(fd, 1);
      dup2(fd, 2);
      std::vector<char*> args;
      for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
      args.push_back(nullptr);
      execv(args[0], args.data());
      _exit(127);
    }
  }
  ~Program() {
    kill(pid_, SIGTERM);
    waitpid(pid_, nullptr, 0);
    fs::remove_all(dir_);
  }
  const std::string& dir() const { return dir_; }
  std::string log() const { return slurp(dir_ + "/log"); }

 private:
  std::string dir_;
  pid_t pid_ = -1;
};

// Polls GET /metrics on a fresh connection until it answers 200.
bool wait_for_metrics(uint16_t port, std::chrono::seconds limit = 30s) {
  const auto deadline = std::chrono::steady_clock::now() + limit;
  while (std::chrono::steady_clock::now() < deadline) {
    httplib::Client c("127.0.0.1", port);
    c.set_connection_timeout(2, 0);
    if (auto r = c.Get("/metrics"); r && r->status == 200) return true;
    std::this_thread::sleep_for(100ms);
  }
  return false;
}

// One metric family of an exposition: its comment lines and its series,
// keyed by the label text ("{state=\"listen\"}"), values as numbers (Go
// writes 1.5e+06 where tcpfsm writes 1500000).
struct Family {
  std::vector<std::string> comments;
  std::map<std::string, double> series;
  bool operator==(const Family&) const = default;
};

Family family_of(const std::string& body, const std::string& name) {
  Family f;
  std::istringstream in(body);
  for (std::string line; std::getline(in, line);) {
    if (line.starts_with("# HELP " + name + " ") || line.starts_with("# TYPE " + name + " ")) {
      f.comments.push_back(line);
    } else if (line.starts_with(name + "{") || line.starts_with(name + " ")) {
      const size_t sp = line.rfind(' ');
      f.series[line.substr(name.size(), sp - name.size())] = std::stod(line.substr(sp + 1));
    }
  }
  return f;
}

std::string text_of(const Family& f) {
  std::string t;
  for (const auto& c : f.comments) t += c + "\n";
  for (const auto& [labels, v] : f.series) t += labels + " " + std::to_string(v) + "\n";
  return t;
}

// A scraper that keeps one connection open (HTTP keep-alive): its two
// sockets stay ESTABLISHED between scrapes instead of leaving a TIME_WAIT
// per scrape, so the namespace holds still while the two exporters count it.
class KeptScraper {
 public:
  explicit KeptScraper(uint16_t port) : c_("127.0.0.1", port) {
    c_.set_keep_alive(true);
    c_.set_connection_timeout(2, 0);
    c_.set_read_timeout(10, 0);
  }
  std::string get() {
    auto r = c_.Get("/metrics");
    return r && r->status == 200 ? r->body : "";
  }

 private:
  httplib::Client c_;
};

void set_nonblocking(int fd) { fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK); }

// Sockets in as many states as can be held still, in this namespace, both
// families, with bytes in receive queues (a listener's accept queue, a peer
// that does not read), in a send queue (the writer to that peer), and a SYN
// that goes unanswered.
struct SteadySockets {
  std::vector<Fd> held;
  uint64_t unread = 0;  // bytes written to peers that never read them
  ~SteadySockets() {
    held.clear();
    // The link may be gone already, with a test that failed before making it.
    if (std::system("ip link del tfsmpa 2>/dev/null") != 0) return;
  }

  void keep(Fd fd) { held.push_back(std::move(fd)); }

  void make() {
    for (int family : {AF_INET, AF_INET6}) {
      Fd lis = listen_loopback(family, 16);  // a listener's Send-Q is its backlog: 16
      const uint16_t port = local_port(lis.get());
      // Accepted, and the peer wrote what nobody reads.
      Fd client = connect_loopback(family, port);
      Fd server = accept_one(lis.get());
      const std::string data(family == AF_INET ? 3000 : 500, 'x');
      ASSERT_EQ(write(client.get(), data.data(), data.size()), static_cast<ssize_t>(data.size()));
      unread += data.size();
      keep(std::move(client));
      keep(std::move(server));
      // The client closes first: TIME_WAIT on its side, nothing held on the server's.
      for (int i = 0; i < 3; ++i) one_connection(family, lis.get(), port);
      // Half-closed and held: FIN_WAIT2 here, CLOSE_WAIT there.
      Fd half = connect_loopback(family, port);
      Fd wait = accept_one(lis.get());
      ASSERT_EQ(shutdown(half.get(), SHUT_WR), 0);
      keep(std::move(half));
      keep(std::move(wait));
      // Never accepted (so made last: accept takes the oldest): the
      // listener's Recv-Q counts it, the child holds 100 unread bytes.
      Fd waiting = connect_loopback(family, port);
      ASSERT_EQ(write(waiting.get(), data.data(), 100), 100);
      unread += 100;
      keep(std::move(waiting));
      keep(std::move(lis));
    }
    // A writer to a peer that does not read: its Send-Q fills once the
    // peer's receive buffer is full and the window closes.
    Fd lis = listen_loopback(AF_INET, 16);
    Fd writer = connect_loopback(AF_INET, local_port(lis.get()));
    Fd reader = accept_one(lis.get());
    set_nonblocking(writer.get());
    const std::string chunk(64 * 1024, 'y');
    while (write(writer.get(), chunk.data(), chunk.size()) > 0) {
    }
    keep(std::move(writer));
    keep(std::move(reader));
    keep(std::move(lis));
    // SYN_SENT that stays: a peer address whose link-layer address is known
    // (no ARP to fail) on a veth whose other end answers nothing.
    ASSERT_TRUE(sh("ip link add tfsmpa type veth peer name tfsmpb address 02:88:00:00:00:02"));
    ASSERT_TRUE(sh("ip addr add 10.88.0.1/24 dev tfsmpa && ip link set tfsmpa up && ip link set tfsmpb up"));
    ASSERT_TRUE(sh("ip neigh replace 10.88.0.2 lladdr 02:88:00:00:00:02 dev tfsmpa nud permanent"));
    Fd syn(socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0));
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(80);
    inet_pton(AF_INET, "10.88.0.2", &a.sin_addr);
    const int rc = connect(syn.get(), reinterpret_cast<sockaddr*>(&a), sizeof(a));
    const int err = errno;
    ASSERT_EQ(rc, -1);
    ASSERT_EQ(err, EINPROGRESS) << strerror(err);
    keep(std::move(syn));
  }
};

// Sum of a family's series whose labels contain `match`.
double sum_of(const Family& f, const std::string& match) {
  double s = 0;
  for (const auto& [labels, v] : f.series)
    if (labels.find(match) != std::string::npos) s += v;
  return s;
}

TEST(Parity, NodeTcpConnectionStatesEqualNodeExportersOwnNamespaceOnly) {
  const uint16_t ne_port = free_port(), tf_port = free_port();
  ASSERT_NE(ne_port, 0);
  ASSERT_NE(tf_port, 0);
  // Both inherit this test's network namespace: the one they count.
  Program ne({"/usr/bin/prometheus-node-exporter", "--web.listen-address=127.0.0.1:" + std::to_string(ne_port),
              "--collector.disable-defaults", "--collector.tcpstat"});
  // No filter: tcpfsm_sockets counts every namespace of the host.
  Binary tf({"serve", "--web.listen-address", "127.0.0.1:" + std::to_string(tf_port)});
  ASSERT_TRUE(wait_for_metrics(ne_port)) << ne.log();
  ASSERT_TRUE(wait_for_metrics(tf_port)) << tf.err_so_far();

  // A second namespace with listeners of its own: tcpfsm_sockets has them,
  // node_tcp_connection_states (like node_exporter) does not.
  constexpr int kOtherListeners = 7;
  int ready[2], hold[2];
  ASSERT_EQ(pipe(ready), 0);
  ASSERT_EQ(pipe(hold), 0);
  NetnsChild other = fork_in_new_netns([&] {
    close(ready[0]);
    close(hold[1]);
    std::vector<Fd> ls;
    for (int i = 0; i < kOtherListeners; ++i) ls.push_back(listen_loopback(AF_INET, 8));
    if (write(ready[1], "r", 1) != 1) return 1;
    char b;
    (void)!read(hold[0], &b, 1);  // until the test closes its end
    return 0;
  });
  close(ready[1]);
  close(hold[0]);
  struct Reap {
    NetnsChild& c;
    int hold;
    ~Reap() {
      if (c.go >= 0) close(c.go);  // never released: its read of the go pipe ends
      close(hold);
      wait_child(c.pid);
    }
  } reap{other, hold[1]};
  ASSERT_NE(other.netns, 0u);
  other.release();
  char b;
  ASSERT_EQ(read(ready[0], &b, 1), 1);
  close(ready[0]);

  SteadySockets steady;
  steady.make();
  if (HasFatalFailure()) return;

  // Each exporter counts while its own scrape is in flight, the other's
  // connection idle. Both requests are the same size (same client, ports of
  // five digits), and before each scrape the previous one's delayed ACKs
  // (at most 200 ms) are let through; under load the two moments can still
  // differ, so compare until they agree, within a deadline.
  KeptScraper ne_scraper(ne_port), tf_scraper(tf_port);
  Family from_ne, from_tf;
  std::string tf_body;
  bool equal = false;
  const auto deadline = std::chrono::steady_clock::now() + 60s;
  while (!equal && std::chrono::steady_clock::now() < deadline) {
    ne_scraper.get();  // open (or reopen) both kept connections
    tf_scraper.get();
    std::this_thread::sleep_for(300ms);
    from_ne = family_of(ne_scraper.get(), "node_tcp_connection_states");
    std::this_thread::sleep_for(300ms);
    tf_body = tf_scraper.get();
    from_tf = family_of(tf_body, "node_tcp_connection_states");
    equal = !from_ne.series.empty() && from_ne == from_tf;
  }
  EXPECT_TRUE(equal) << "node_exporter:\n" << text_of(from_ne) << "tcpfsm:\n" << text_of(from_tf);
  EXPECT_EQ(from_tf.comments,
            (std::vector<std::string>{"# HELP node_tcp_connection_states Number of connection states.",
                                      "# TYPE node_tcp_connection_states gauge"}))
      << "node_exporter's own: " << ::testing::PrintToString(from_ne.comments);
  // The states this test made are all there, and only states that have
  // sockets: node_exporter writes no zeros.
  std::vector<std::string> states;
  for (const auto& [labels, v] : from_ne.series) {
    states.push_back(labels);
    EXPECT_GT(v, 0) << labels;
  }
  EXPECT_THAT(states,
              ::testing::IsSupersetOf({"{state=\"listen\"}", "{state=\"established\"}", "{state=\"time_wait\"}",
                                       "{state=\"close_wait\"}", "{state=\"fin_wait2\"}", "{state=\"syn_sent\"}",
                                       "{state=\"rx_queued_bytes\"}", "{state=\"tx_queued_bytes\"}"}));
  EXPECT_THAT(states, ::testing::Not(::testing::Contains("{state=\"closing\"}")));
  // Unread bytes (those of the writer whose peer does not read on top) and
  // a listener's backlog at least: the queues were read.
  EXPECT_GE(from_ne.series["{state=\"rx_queued_bytes\"}"], static_cast<double>(steady.unread));
  EXPECT_GE(from_ne.series["{state=\"tx_queued_bytes\"}"], 3 * 16.0);

  // Every namespace in tcpfsm's own gauge: the other namespace's listeners
  // on top of this one's. Others' tests may add theirs, hence at least.
  double beyond = 0;
  const auto counted = std::chrono::steady_clock::now() + 30s;
  do {
    const Family own = family_of(tf_body, "node_tcp_connection_states");
    beyond = sum_of(family_of(tf_body, "tcpfsm_sockets"), "state=\"listen\"") - sum_of(own, "state=\"listen\"");
    if (beyond >= kOtherListeners) break;
    std::this_thread::sleep_for(200ms);
    tf_body = tf_scraper.get();
  } while (std::chrono::steady_clock::now() < counted);
  EXPECT_GE(beyond, kOtherListeners) << tf_body;

  tf.signal(SIGTERM);
  EXPECT_EQ(tf.wait().status, 0);
}

// Every panel's target expression, panels nested in rows included.
void collect_exprs(const nlohmann::json& panels, std::vector<std::pair<std::string, std::string>>& out) {
  for (const auto& p : panels) {
    for (const auto& t : p.value("targets", nlohmann::json::array()))
      if (t.contains("expr")) out.emplace_back(p.value("title", "?"), t["expr"].get<std::string>());
    if (p.contains("panels")) collect_exprs(p["panels"], out);
  }
}

// The dashboard's Grafana variables, as this test sets them: its one
// template variable is the instance (a regex, multi-valued in Grafana), and
// the built-in interval variables are the ranges a 1 s scrape fills.
std::string with_variables(std::string expr, const std::string& instance) {
  const std::vector<std::pair<std::string, std::string>> table = {
      {"${instance}", instance},          {"$instance", instance}, {"$__rate_interval", "1m"},
      {"${__rate_interval}", "1m"},       {"$__interval", "1s"},   {"$__range", "5m"},
      {"${DS_PROMETHEUS}", "prometheus"},
  };
  for (const auto& [var, value] : table) {
    for (size_t at; (at = expr.find(var)) != std::string::npos;) expr.replace(at, var.size(), value);
  }
  return expr;
}

// An instant query's status and result (null when nothing answered).
nlohmann::json prom_query(uint16_t port, const std::string& query) {
  httplib::Client c("127.0.0.1", port);
  c.set_read_timeout(10, 0);
  auto r = c.Get("/api/v1/query", httplib::Params{{"query", query}}, httplib::Headers{});
  if (!r) return nullptr;
  auto j = nlohmann::json::parse(r->body, nullptr, false);
  return j.is_discarded() ? nlohmann::json(r->body) : j;
}

// The dashboard as a user sees it: tcpfsm serve with the flags it assumes
// (--bpf-stats for the BPF panels, a short --stuck-min-age so the stuck
// table fills within the test), traffic that keeps every panel moving
// (connections that end in TIME_WAIT, CLOSE_WAIT held by nobody closing),
// Debian's Prometheus scraping it every second: every expr of every panel
// answers success with at least one series.
TEST(Dashboard, EveryPanelQueryReturnsSeriesFromARealPrometheus) {
  std::ifstream f(std::string(TCPFSM_FIXTURES) + "/../../deploy/grafana-dashboard.json");
  const auto dash = nlohmann::json::parse(f, nullptr, false);
  ASSERT_FALSE(dash.is_discarded());
  std::vector<std::pair<std::string, std::string>> exprs;
  collect_exprs(dash["panels"], exprs);
  ASSERT_GE(exprs.size(), 10u) << "the dashboard's panels were not found";

  const uint16_t tf_port = free_port(), prom_port = free_port();
  Binary tf({"serve", "--web.listen-address", "127.0.0.1:" + std::to_string(tf_port), "--bpf-stats", "--stuck-min-age",
             "1s"});
  ASSERT_TRUE(wait_for_metrics(tf_port)) << tf.err_so_far();

  const std::string instance = "127.0.0.1:" + std::to_string(tf_port);
  struct Dir {
    std::string path = tmpdir();
    ~Dir() { fs::remove_all(path); }
  } config;
  Program prom = [&] {
    const std::string& dir = config.path;
    std::ofstream(dir + "/prometheus.yml") << "global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\n"
                                              "scrape_configs:\n  - job_name: tcpfsm\n    static_configs:\n"
                                              "      - targets: ['"
                                           << instance << "']\n";
    return Program({"/usr/bin/prometheus", "--config.file=" + dir + "/prometheus.yml",
                    "--storage.tsdb.path=" + dir + "/data",
                    "--web.listen-address=127.0.0.1:" + std::to_string(prom_port)});
  }();
  // At least three scrapes before any panel is asked.
  const auto scraped = std::chrono::steady_clock::now() + 60s;
  for (;;) {
    const auto j = prom_query(prom_port, "count_over_time(up{job=\"tcpfsm\"}[5m]) >= 3");
    if (j.is_object() && j["status"] == "success" && !j["data"]["result"].empty()) break;
    ASSERT_LT(std::chrono::steady_clock::now(), scraped) << "no 3 scrapes: " << prom.log();
    std::this_thread::sleep_for(200ms);
  }

  // Before any traffic, no socket here is in CLOSE_WAIT, and
  // node_tcp_connection_states (as node_exporter's) has no series for it:
  // the panels that show it must still answer (0), not "No data".
  for (const auto& [title, raw] : exprs) {
    if (raw.find("state=\"close_wait\"") == std::string::npos) continue;
    const std::string q = with_variables(raw, instance);
    nlohmann::json j;
    bool ok = false;
    for (const auto until = std::chrono::steady_clock::now() + 10s; !ok && std::chrono::steady_clock::now() < until;) {
      j = prom_query(prom_port, q);
      ok = j.is_object() && j["status"] == "success" && !j["data"]["result"].empty();
      if (!ok) std::this_thread::sleep_for(500ms);
    }
    EXPECT_TRUE(ok) << title << " with no CLOSE_WAIT: " << q << " -> " << j.dump();
  }

  // Traffic: a connection every 50 ms (client closes first: ESTABLISHED,
  // FIN_WAIT2, CLOSE_WAIT, LAST_ACK lifetimes, a TIME_WAIT each), and one
  // the server never closes (CLOSE_WAIT, stuck after a second).
  Fd lis = listen_loopback(AF_INET);
  const uint16_t server = local_port(lis.get());
  Fd leaked_client = connect_loopback(AF_INET, server);
  Fd leaked = accept_one(lis.get());
  leaked_client.reset();
  std::atomic<bool> stop{false};
  std::thread traffic([&] {
    while (!stop) {
      one_connection(AF_INET, lis.get(), server);
      std::this_thread::sleep_for(50ms);
    }
  });
  struct Join {
    std::atomic<bool>& stop;
    std::thread& t;
    ~Join() {
      stop = true;
      t.join();
    }
  } join{stop, traffic};

  // Each query until it has series: the stuck pass runs every 5 s and rates
  // need two samples, so some fill a few seconds after the others.
  std::map<std::string, std::string> failing;
  const auto deadline = std::chrono::steady_clock::now() + 60s;
  for (const auto& [title, raw] : exprs) {
    const std::string q = with_variables(raw, instance);
    EXPECT_EQ(q.find('$'), std::string::npos) << "a variable the table lacks: " << raw;
    nlohmann::json j;
    bool ok = false;
    do {
      j = prom_query(prom_port, q);
      ok = j.is_object() && j["status"] == "success" && !j["data"]["result"].empty();
      if (!ok) std::this_thread::sleep_for(500ms);
    } while (!ok && std::chrono::steady_clock::now() < deadline);
    if (!ok) failing[title + ": " + q] = j.dump();
  }
  EXPECT_TRUE(failing.empty()) << ::testing::PrintToString(failing);

  tf.signal(SIGTERM);
  EXPECT_EQ(tf.wait().status, 0);
}

}  // namespace
}  // namespace tcpfsm::test
