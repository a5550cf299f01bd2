// Shared helpers for integration tests: real sockets on loopback inside the
// test process's private network namespace, and a live Tracer.
#pragma once

#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
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
  // Waits for it to exit.
  Outcome wait();

 private:
  pid_t pid_ = -1;
  std::string out_path_, err_path_;
  std::string exe_dir_;  // the copy run as another user, removed by wait()
};
std::string slurp(const std::string& path);
std::vector<std::string> lines(const std::string& s);

}  // namespace tcpfsm::test
