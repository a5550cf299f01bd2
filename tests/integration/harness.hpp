// Shared helpers for integration tests: real sockets on loopback inside the
// test process's private network namespace, and a live Tracer.
#pragma once

#include <fcntl.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sched.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "kernel/tracer.hpp"

namespace tcpfsm::test {

class Fd {
 public:
  Fd() = default;
  explicit Fd(int fd) : fd_(fd) {}
  Fd(Fd&& o) noexcept : fd_(std::exchange(o.fd_, -1)) {}
  Fd& operator=(Fd&& o) noexcept {
    reset();
    fd_ = std::exchange(o.fd_, -1);
    return *this;
  }
  ~Fd() { reset(); }
  int get() const { return fd_; }
  void reset() {
    if (fd_ >= 0) ::close(fd_);
    fd_ = -1;
  }

 private:
  int fd_ = -1;
};

// Sets `lo` up in the current network namespace.
bool bring_up_loopback();

// The inode of this process's network namespace.
uint32_t self_netns();

// A listening socket on the loopback address of `family`, on an ephemeral port.
Fd listen_loopback(int family, int backlog = 4096);
uint16_t local_port(int fd);
// A loopback port nothing listens on right now (0 if none could be bound).
uint16_t free_port();
// A new directory /tmp/tcpfsm-<what>-XXXXXX, for a test's files.
std::string make_tmpdir(const std::string& what);
Fd connect_loopback(int family, uint16_t port);
Fd accept_one(int listen_fd);

// Collects what the tracer delivers: transitions and timewait records apart.
class Collector : public EventSink {
 public:
  void on_event(const Event& e) override { (e.is_timewait() ? timewait : events).push_back(e); }
  std::vector<Event> events;    // EventKind::State
  std::vector<Event> timewait;  // the timewait socket records
};

// Starts the real BPF tracer limited to this test's network namespace.
std::unique_ptr<Tracer> start_tracer(FilterSpec filter = {});

// Polls until `done` holds or `timeout` passes; returns whether `done` held.
bool poll_until(Tracer& t, Collector& c, const std::function<bool()>& done,
                std::chrono::milliseconds timeout = std::chrono::seconds(5));
// Polls until no event arrives for `quiet`.
void drain(Tracer& t, Collector& c, std::chrono::milliseconds quiet = std::chrono::milliseconds(300));

// Events of each socket (by cookie), in arrival order.
std::map<uint64_t, std::vector<Event>> by_socket(const std::vector<Event>& events);
// "CLOSE>SYN_SENT" strings for a socket's events.
std::vector<std::string> transitions(const std::vector<Event>& events);

// One full connection: client connects, server accepts, client closes first,
// server closes after `hold_ms`... and the listener stays open.
void one_connection(int family, int listen_fd, uint16_t port);

// A child process in a network namespace of its own, with lo up: it reports
// the namespace and waits; release() lets it run its function and exit.
struct NetnsChild {
  pid_t pid = -1;
  uint32_t netns = 0;  // 0 if the child could not set up its namespace
  int go = -1;
  void release();
};
NetnsChild fork_in_new_netns(const std::function<int()>& fn);

// Forks a child that runs `fn` and exits with its return value; returns pid.
pid_t fork_child(const std::function<int()>& fn);
int wait_child(pid_t pid);

// `ss -tan` in this namespace, counted by state as the kernel numbers them.
std::map<uint8_t, uint64_t> ss_counts();

// `nstat -saz` in this namespace: every SNMP and netstat counter by nstat's
// name ("TcpAttemptFails", "TcpExtTCPAbortOnClose"), absolute values.
std::map<std::string, uint64_t> nstat_counters();

// build/tcpfsm, run the way a user runs it, stdout and stderr to files.
struct Outcome {
  int status = -1;
  std::string out, err;
};
class Binary {
 public:
  // Starts build/tcpfsm with `args`; uid != 0 runs it as that user.
  explicit Binary(const std::vector<std::string>& args, uid_t uid = 0);
  void signal(int sig);
  pid_t pid() const { return pid_; }
  // What it has written to stdout so far.
  std::string out_so_far() const;
  std::string err_so_far() const;
  // Waits until stderr holds `text` (false after `limit`).
  bool wait_for_err(const std::string& text, std::chrono::milliseconds limit = std::chrono::seconds(10)) const;
  // Waits for it to exit.
  Outcome wait();

 private:
  pid_t pid_ = -1;
  std::string out_path_, err_path_;
  std::string exe_dir_;  // the copy run as another user, removed by wait()
};
std::string slurp(const std::string& path);
std::vector<std::string> lines(const std::string& s);

// The findings with this id in doctor --json's array.
std::vector<nlohmann::json> findings_of(const nlohmann::json& all, const std::string& id);

// Runs a shell command, its output discarded; a test failure unless it exits 0.
bool sh(const std::string& cmd);

// A second namespace reached over a veth pair: 10.77.0.1 here, 10.77.0.2
// there. cut() adds a blackhole route back to us on the far side: what we
// send still arrives, nothing it answers (SYN-ACK, ACK, RST) comes back, so
// here the path is dead, and our sends never fail locally. This kernel has
// no tc/netem; this is the dead path it can make.
class DeadPath {
 public:
  DeadPath() : ns_("tcpfsm-dead-" + std::to_string(getpid())) {
    const std::string in = "ip netns exec " + ns_ + " ";
    ok_ = sh("ip netns add " + ns_) && sh("ip link add tfsm0 type veth peer name tfsm1 address 02:77:00:00:00:02") &&
          sh("ip link set tfsm1 netns " + ns_) && sh("ip addr add 10.77.0.1/24 dev tfsm0") &&
          sh("ip link set tfsm0 up") &&
          // No ARP on a path about to die: a failed resolution would turn it into EHOSTUNREACH.
          sh("ip neigh replace 10.77.0.2 lladdr 02:77:00:00:00:02 dev tfsm0 nud permanent") &&
          sh(in + "ip link set lo up") && sh(in + "ip addr add 10.77.0.2/24 dev tfsm1") &&
          sh(in + "ip link set tfsm1 up");
  }
  // The link goes first, at once: a deleted namespace frees its devices
  // later, and the next DeadPath in this process would find tfsm0 taken.
  // After a partial setup either may be missing, so only a full one's removal is checked.
  ~DeadPath() {
    const bool link_gone = std::system("ip link del tfsm0 2>/dev/null") == 0;
    const bool netns_gone = std::system(("ip netns del " + ns_ + " 2>/dev/null").c_str()) == 0;
    if (ok_) {
      EXPECT_TRUE(link_gone) << "ip link del tfsm0";
      EXPECT_TRUE(netns_gone) << "ip netns del " << ns_;
    }
  }
  bool ok() const { return ok_; }
  void cut() { EXPECT_TRUE(sh("ip netns exec " + ns_ + " ip route add blackhole 10.77.0.1/32")); }
  // A listener on 10.77.0.2:port, created in the far namespace.
  Fd listen_there(uint16_t port) {
    Fd l;
    std::thread([&] {
      const int nsfd = open(("/run/netns/" + ns_).c_str(), O_RDONLY | O_CLOEXEC);
      EXPECT_GE(nsfd, 0);
      EXPECT_EQ(setns(nsfd, CLONE_NEWNET), 0) << strerror(errno);  // this thread only
      close(nsfd);
      l = Fd(socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
      sockaddr_in a = there(port);
      EXPECT_EQ(bind(l.get(), reinterpret_cast<sockaddr*>(&a), sizeof(a)), 0) << strerror(errno);
      EXPECT_EQ(listen(l.get(), 16), 0);
    }).join();
    return l;
  }
  static sockaddr_in there(uint16_t port) {
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(port);
    a.sin_addr.s_addr = htonl(0x0a4d0002);  // 10.77.0.2
    return a;
  }
  // A non-blocking connect to 10.77.0.2:port; connected() waits for it.
  static Fd start_connect(uint16_t port) {
    Fd c(socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0));
    sockaddr_in a = there(port);
    const int rc = connect(c.get(), reinterpret_cast<sockaddr*>(&a), sizeof(a));
    EXPECT_TRUE(rc == 0 || errno == EINPROGRESS) << strerror(errno);
    return c;
  }

 private:
  std::string ns_;
  bool ok_ = false;
};

}  // namespace tcpfsm::test
