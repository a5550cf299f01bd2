// `tcpfsm life` on real connections: bytes to the byte, the path and its
// times bracketed by the test's clock, who closed first and why, the TIME_WAIT
// follow-up; and side by side with libbpf-tools' tcplife on the same
// connections.
#include <fcntl.h>
#include <fmt/format.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/statfs.h>
#include <sys/wait.h>

#include <chrono>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <thread>

#include "base/clock.hpp"
#include "harness.hpp"

namespace tcpfsm::test {
namespace {

using namespace std::chrono_literals;
using nlohmann::json;

// tcplife attaches a classic tracepoint (tp/sock/inet_sock_set_state),
// which libbpf finds through tracefs; tcpfsm needs none, and a fresh machine
// may not have it mounted.
void mount_tracefs() {
  constexpr long kTracefsMagic = 0x74726163;
  struct statfs st {};
  if (statfs("/sys/kernel/tracing", &st) == 0 && st.f_type == kTracefsMagic) return;
  if (mount("tracefs", "/sys/kernel/tracing", "tracefs", 0, nullptr) != 0)
    ADD_FAILURE() << "cannot mount tracefs on /sys/kernel/tracing for tcplife: " << std::strerror(errno);
}

// libbpf-tools' tcplife, line-buffered into a file; stopped with SIGINT,
// which is when it would print anything still buffered.
class Tcplife {
 public:
  Tcplife() : path_("/tmp/tcpfsm-tcplife-" + std::to_string(getpid())) {
    mount_tracefs();
    pid_ = fork();
    if (pid_ == 0) {
      const int fd = open(path_.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
      dup2(fd, 1);
      dup2(fd, 2);
      execlp("stdbuf", "stdbuf", "-oL", "tcplife", static_cast<char*>(nullptr));
      _exit(127);
    }
  }
  ~Tcplife() {
    stop();
    unlink(path_.c_str());
  }
  // Its header is printed once its programs are attached.
  bool wait_ready() {
    for (int i = 0; i < 100; ++i) {
      if (text().find("RPORT") != std::string::npos) return true;
      std::this_thread::sleep_for(50ms);
    }
    return false;
  }
  void stop() {
    if (pid_ <= 0) return;
    kill(pid_, SIGINT);
    int st = 0;
    waitpid(pid_, &st, 0);
    pid_ = -1;
  }
  std::string text() const {
    std::ifstream in(path_);
    std::stringstream ss;
    ss << in.rdbuf();
    return ss.str();
  }
  // Its line for the connection with these ports: PID COMM LADDR LPORT
  // RADDR RPORT TX_KB RX_KB MS.
  std::vector<std::string> line(uint16_t lport, uint16_t rport) const {
    std::istringstream in(text());
    std::string l;
    while (std::getline(in, l)) {
      std::istringstream f(l);
      std::vector<std::string> cols;
      for (std::string c; f >> c;) cols.push_back(c);
      if (cols.size() == 9 && cols[3] == std::to_string(lport) && cols[5] == std::to_string(rport)) return cols;
    }
    return {};
  }

 private:
  std::string path_;
  pid_t pid_ = -1;
};

// One connection's ends as the test itself saw them.
struct Truth {
  uint16_t client_port = 0, server_port = 0;
  uint64_t client_sent = 0, server_sent = 0;
  uint64_t start_ns = 0, end_ns = 0;  // CLOCK_MONOTONIC around connect() .. the last close()
};

void send_all(int fd, size_t n) {
  std::string buf(n, 'x');
  size_t done = 0;
  while (done < n) {
    const ssize_t w = send(fd, buf.data() + done, n - done, 0);
    ASSERT_GT(w, 0) << strerror(errno);
    done += static_cast<size_t>(w);
  }
}

uint64_t recv_exactly(int fd, size_t n) {
  std::string buf(65536, '\0');
  uint64_t got = 0;
  while (got < n) {
    const ssize_t r = recv(fd, buf.data(), buf.size(), 0);
    if (r <= 0) break;
    got += static_cast<uint64_t>(r);
  }
  return got;
}

// The client sends, the server answers; then `client_first` decides who
// closes first (the other reads the EOF, then closes). The test's own
// counts are the truth for the bytes.
Truth exchange(int lis, uint16_t port, size_t up, size_t down, bool client_first) {
  Truth t;
  t.server_port = port;
  t.start_ns = monotonic_ns();
  Fd c = connect_loopback(AF_INET, port);
  Fd s = accept_one(lis);
  t.client_port = local_port(c.get());
  send_all(c.get(), up);
  EXPECT_EQ(recv_exactly(s.get(), up), up);
  send_all(s.get(), down);
  EXPECT_EQ(recv_exactly(c.get(), down), down);
  std::this_thread::sleep_for(20ms);  // a measurable ESTABLISHED
  Fd& first = client_first ? c : s;
  Fd& second = client_first ? s : c;
  first.reset();
  char b;
  EXPECT_EQ(recv(second.get(), &b, 1, 0), 0);  // the EOF
  second.reset();
  t.end_ns = monotonic_ns();
  t.client_sent = up;
  t.server_sent = down;
  return t;
}

std::vector<json> objects(const std::string& out, const std::string& type) {
  std::vector<json> v;
  for (const auto& l : lines(out)) {
    json j = json::parse(l, nullptr, false);
    if (!j.is_discarded() && j["type"] == type) v.push_back(j);
  }
  return v;
}

const json* find_line(const std::vector<json>& lives, uint16_t sport, uint16_t dport) {
  for (const auto& j : lives)
    if (j["sport"] == sport && j["dport"] == dport) return &j;
  return nullptr;
}

std::vector<std::string> path_states(const json& life) {
  std::vector<std::string> v;
  for (const auto& s : life["path"]) v.push_back(s["state"]);
  return v;
}

void expect_bracketed(const json& life, const Truth& t) {
  const uint64_t bracket = t.end_ns - t.start_ns;
  EXPECT_TRUE(life["start_known"].get<bool>());
  EXPECT_GE(life["start_mono_ns"].get<uint64_t>(), t.start_ns);
  EXPECT_LE(life["mono_ns"].get<uint64_t>(), t.end_ns);
  EXPECT_LE(life["duration_ns"].get<uint64_t>(), bracket);
  uint64_t sum = 0;
  for (const auto& s : life["path"]) {
    ASSERT_TRUE(s["ns"].is_number()) << s.dump();
    sum += s["ns"].get<uint64_t>();
  }
  // The path's times add up to the line's duration (each span is the
  // kernel's time between two transitions of the socket).
  EXPECT_NEAR(static_cast<double>(sum), life["duration_ns"].get<double>(), 50'000.0);
  for (const auto& s : life["path"]) {
    if (s["state"] == "ESTABLISHED") {
      EXPECT_GE(s["ns"].get<uint64_t>(), 20'000'000u);  // the test's 20 ms sleep
    }
  }
}

TEST(Life, EachConnectionIsOneLineWithItsBytesPathCauseAndOwnerBesideTcplife) {
  Tcplife tcplife;
  ASSERT_TRUE(tcplife.wait_ready()) << "tcplife did not start: " << tcplife.text();
  Binary life({"life", "--json", "--duration", "4", "--netns", std::to_string(self_netns())});
  std::this_thread::sleep_for(1s);  // load and attach
  Fd lis = listen_loopback(AF_INET);
  const uint16_t port = local_port(lis.get());
  const Truth active = exchange(lis.get(), port, 100'000, 5'000, true);
  const Truth passive = exchange(lis.get(), port, 700, 3'000, false);
  Outcome r = life.wait();
  ASSERT_EQ(r.status, 0) << r.err;
  std::this_thread::sleep_for(100ms);
  tcplife.stop();

  const auto lives = objects(r.out, "life");
  EXPECT_EQ(lives.size(), 4u) << r.out;                         // two connections, two ends each; the listener is none
  const json* ac = find_line(lives, active.client_port, port);  // active close, client end
  const json* as = find_line(lives, port, active.client_port);
  const json* pc = find_line(lives, passive.client_port, port);
  const json* ps = find_line(lives, port, passive.client_port);
  ASSERT_TRUE(ac && as && pc && ps) << r.out;

  // Bytes: the application's, to the byte, at both ends.
  for (auto [line, sent, received] :
       {std::tuple{ac, active.client_sent, active.server_sent}, std::tuple{as, active.server_sent, active.client_sent},
        std::tuple{pc, passive.client_sent, passive.server_sent},
        std::tuple{ps, passive.server_sent, passive.client_sent}}) {
    EXPECT_EQ((*line)["tx_bytes"], sent) << line->dump();
    EXPECT_EQ((*line)["rx_bytes"], received) << line->dump();
    EXPECT_EQ((*line)["cause"], "fin");
    EXPECT_EQ((*line)["total_retrans"], 0);
    EXPECT_GT((*line)["srtt_us"].get<uint64_t>(), 0u);
    // The real owner at both ends, also the one whose close the peer drove.
    EXPECT_EQ((*line)["pid"], getpid()) << line->dump();
  }
  EXPECT_EQ((*ac)["closer"], "active");
  EXPECT_EQ((*as)["closer"], "passive");
  EXPECT_EQ((*pc)["closer"], "passive");
  EXPECT_EQ((*ps)["closer"], "active");
  using V = std::vector<std::string>;
  EXPECT_EQ(path_states(*ac), (V{"SYN_SENT", "ESTABLISHED", "FIN_WAIT1", "FIN_WAIT2"}));
  EXPECT_EQ(path_states(*as), (V{"SYN_RECV", "ESTABLISHED", "CLOSE_WAIT", "LAST_ACK"}));
  EXPECT_EQ(path_states(*pc), (V{"SYN_SENT", "ESTABLISHED", "CLOSE_WAIT", "LAST_ACK"}));
  EXPECT_EQ(path_states(*ps), (V{"SYN_RECV", "ESTABLISHED", "FIN_WAIT1", "FIN_WAIT2"}));
  for (auto [line, truth] :
       {std::pair{ac, active}, std::pair{as, active}, std::pair{pc, passive}, std::pair{ps, passive}}) {
    expect_bracketed(*line, truth);
  }

  // The active closers' timewait sockets outlive their lines: pending, and
  // still open when the run stopped (TIME_WAIT lasts 60 s).
  EXPECT_EQ((*ac)["time_wait"], "pending");
  EXPECT_EQ((*ps)["time_wait"], "pending");
  EXPECT_EQ((*as)["time_wait"], "none");
  EXPECT_EQ((*pc)["time_wait"], "none");
  std::set<uint64_t> open;
  for (const auto& f : objects(r.out, "time_wait")) {
    EXPECT_EQ(f["end"], "still_open") << f.dump();
    open.insert(f["cookie"].get<uint64_t>());
  }
  EXPECT_EQ(open, (std::set<uint64_t>{(*ac)["cookie"], (*ps)["cookie"]}));
  const auto summary = objects(r.out, "summary");
  ASSERT_EQ(summary.size(), 1u);
  EXPECT_EQ(summary[0]["lost"], 0);
  EXPECT_EQ(summary[0]["untracked"], 0);

  // tcplife saw the same connections: the same bytes (as it prints them,
  // the kernel's counts in KiB) and the same life within 1 ms.
  for (const json* line : {ac, as, pc, ps}) {
    const auto cols = tcplife.line((*line)["sport"], (*line)["dport"]);
    ASSERT_EQ(cols.size(), 9u) << "no tcplife line for " << line->dump() << "\n" << tcplife.text();
    EXPECT_EQ(cols[6], fmt::format("{:.2f}", (*line)["bytes_acked"].get<double>() / 1024)) << line->dump();
    EXPECT_EQ(cols[7], fmt::format("{:.2f}", (*line)["bytes_received"].get<double>() / 1024)) << line->dump();
    EXPECT_NEAR(std::stod(cols[8]), (*line)["duration_ns"].get<double>() / 1e6, 1.0) << line->dump();
  }
}

// Resets and failed connects are lines too: the cause says how they ended.
TEST(Life, AResetAndARefusedConnectEndWithTheirCauses) {
  Binary life({"life", "--json", "--duration", "2.5", "--netns", std::to_string(self_netns())});
  std::this_thread::sleep_for(1s);
  Fd lis = listen_loopback(AF_INET);
  const uint16_t port = local_port(lis.get());
  Fd c = connect_loopback(AF_INET, port);
  Fd s = accept_one(lis.get());
  const uint16_t cport = local_port(c.get());
  send_all(c.get(), 1234);
  EXPECT_EQ(recv_exactly(s.get(), 1234), 1234u);
  const linger lg{1, 0};
  ASSERT_EQ(setsockopt(c.get(), SOL_SOCKET, SO_LINGER, &lg, sizeof(lg)), 0);
  c.reset();  // RST
  std::this_thread::sleep_for(20ms);
  s.reset();
  lis.reset();  // its port is now closed
  Fd refused(socket(AF_INET, SOCK_STREAM, 0));
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(port);
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  EXPECT_NE(connect(refused.get(), reinterpret_cast<sockaddr*>(&a), sizeof(a)), 0);
  EXPECT_EQ(errno, ECONNREFUSED);
  const uint16_t rport = local_port(refused.get());
  Outcome r = life.wait();
  ASSERT_EQ(r.status, 0) << r.err;
  const auto lives = objects(r.out, "life");
  const json* client = find_line(lives, cport, port);
  const json* server = find_line(lives, port, cport);
  ASSERT_TRUE(client && server) << r.out;
  EXPECT_EQ((*client)["cause"], "rst_sent:tcp_state");
  EXPECT_EQ((*client)["closer"], "none");
  EXPECT_EQ((*client)["tx_bytes"], 1234);
  EXPECT_EQ((*server)["cause"], "rst_received");
  EXPECT_EQ((*server)["rx_bytes"], 1234);
  EXPECT_EQ((*client)["time_wait"], "none");
  bool saw_refused = false;
  for (const auto& j : lives) {
    if (j["dport"] != port || j["cause"] != "refused") continue;
    saw_refused = true;
    EXPECT_EQ(path_states(j), std::vector<std::string>{"SYN_SENT"});
    EXPECT_EQ(j["tx_bytes"], 0);
    if (rport) {
      EXPECT_EQ(j["sport"], rport);
    }
  }
  EXPECT_TRUE(saw_refused) << r.out;
}

}  // namespace
}  // namespace tcpfsm::test
