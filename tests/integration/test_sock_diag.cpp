// dump_tcp_sockets and dump_namespaces against the real kernel: a known set
// of sockets in a fresh network namespace must come back exactly as `ss -tan`
// sees them, and dump_namespaces must find sockets in other namespaces
// (through /proc and /run/netns) without moving the caller.
// Over 400 lines: each kind of socket (listener, request, full, timewait in
// both substates, other namespaces) set up for real and compared with ss.
#include <arpa/inet.h>
#include <fcntl.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sched.h>
#include <signal.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <functional>
#include <map>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "collect/sock_diag.hpp"
#include "harness.hpp"

namespace tcpfsm::test {
namespace {

using ::testing::Contains;
using ::testing::ElementsAre;
using ::testing::HasSubstr;

constexpr uint8_t kEstablished = 1;
constexpr uint8_t kSynRecv = 3;
constexpr uint8_t kFinWait2 = 5;
constexpr uint8_t kTimeWait = 6;
constexpr uint8_t kCloseWait = 8;
constexpr uint8_t kListen = 10;

// The calling thread's network namespace (self_netns() reads the process's).
uint32_t thread_netns() {
  struct stat st {};
  if (stat("/proc/thread-self/ns/net", &st) != 0) return 0;
  return static_cast<uint32_t>(st.st_ino);
}

uint32_t fd_inode(int fd) {
  struct stat st {};
  EXPECT_EQ(fstat(fd, &st), 0) << strerror(errno);
  return static_cast<uint32_t>(st.st_ino);
}

// Runs `fn` on a thread of its own in a brand-new network namespace with lo
// up, so no socket of another test in this process is in the way.
void in_fresh_netns(const std::function<void(uint32_t netns)>& fn) {
  std::thread t([&] {
    if (unshare(CLONE_NEWNET) != 0) {
      ADD_FAILURE() << "unshare(CLONE_NEWNET): " << strerror(errno);
      return;
    }
    if (!bring_up_loopback()) {
      ADD_FAILURE() << "cannot bring lo up: " << strerror(errno);
      return;
    }
    fn(thread_netns());
  });
  t.join();
}

// ss's name for each kernel state (iproute2 misc/ss.c sstate_name).
std::string ss_state_name(uint8_t state) {
  static const char* const kNames[] = {"UNKNOWN",    "ESTAB",     "SYN-SENT",     "SYN-RECV",      "FIN-WAIT-1",
                                       "FIN-WAIT-2", "TIME-WAIT", "UNCONN",       "CLOSE-WAIT",    "LAST-ACK",
                                       "LISTEN",     "CLOSING",   "NEW-SYN-RECV", "BOUND-INACTIVE"};
  return state < std::size(kNames) ? kNames[state] : "STATE-" + std::to_string(state);
}

std::map<std::string, int> count_states(const std::vector<SocketRecord>& records) {
  std::map<std::string, int> counts;
  for (const auto& r : records) ++counts[ss_state_name(r.state)];
  return counts;
}

// Counts the first column of `ss -tan`, run in the calling thread's namespace.
std::map<std::string, int> ss_counts() {
  std::map<std::string, int> counts;
  FILE* p = popen("PATH=/usr/sbin:/usr/bin:/sbin:/bin ss -tan 2>&1", "r");
  if (p == nullptr) {
    ADD_FAILURE() << "popen(ss): " << strerror(errno);
    return counts;
  }
  std::string out;
  char line[4096];
  while (fgets(line, sizeof(line), p) != nullptr) out += line;
  const int status = pclose(p);
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << "ss -tan failed (is iproute2 installed?):\n" << out;
  std::istringstream lines(out);
  std::string l;
  bool header = true;
  while (std::getline(lines, l)) {
    if (header) {
      EXPECT_THAT(l, ::testing::StartsWith("State")) << out;
      header = false;
      continue;
    }
    std::istringstream words(l);
    std::string state;
    if (words >> state) ++counts[state];
  }
  return counts;
}

std::string describe(const std::map<std::string, int>& counts) {
  std::string s;
  for (const auto& [k, v] : counts) s += k + "=" + std::to_string(v) + " ";
  return s;
}

std::vector<SocketRecord> dump_or_fail(uint32_t netns) {
  auto r = dump_tcp_sockets(netns);
  EXPECT_TRUE(r.ok()) << r.error().message;
  return r.ok() ? std::move(r.value()) : std::vector<SocketRecord>{};
}

// Dumps until the state counts equal `want` (connections settle in softirq,
// not necessarily before the syscall that started them returns).
std::vector<SocketRecord> dump_when(uint32_t netns, const std::map<std::string, int>& want) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  std::vector<SocketRecord> records = dump_or_fail(netns);
  while (count_states(records) != want && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
    records = dump_or_fail(netns);
  }
  return records;
}

const SocketRecord* find_by_sport(const std::vector<SocketRecord>& records, uint8_t family, uint16_t sport,
                                  uint8_t state) {
  const SocketRecord* found = nullptr;
  for (const auto& r : records) {
    if (r.family == family && r.sport == sport && r.state == state) {
      EXPECT_EQ(found, nullptr) << "two records with port " << sport << " in state " << int(state);
      found = &r;
    }
  }
  return found;
}

// Blocks until the peer's FIN has arrived (read returns 0): the socket is in CLOSE_WAIT.
void expect_eof(int fd) {
  char c;
  ssize_t n;
  do n = read(fd, &c, 1);
  while (n < 0 && errno == EINTR);
  EXPECT_EQ(n, 0) << strerror(errno);
}

std::array<uint8_t, 16> v4_loopback() {
  std::array<uint8_t, 16> a{};
  a[0] = 127;
  a[3] = 1;
  return a;
}

std::array<uint8_t, 16> v6_loopback() {
  std::array<uint8_t, 16> a{};
  a[15] = 1;
  return a;
}

// One socket in each state a dump can report, made for real in the
// caller's (fresh) namespace: what DumpMatchesSsInAFreshNamespace dumps.
struct SocketZoo {
  // LISTEN: a plain IPv4 listener.
  Fd listener = listen_loopback(AF_INET);
  uint16_t port = local_port(listener.get());
  // ESTABLISHED pair.
  Fd est_client, est_server;
  // Client closed first, server still open: server in CLOSE_WAIT; the orphaned
  // client in FIN_WAIT2 is handed to tcp_time_wait(sk, TCP_FIN_WAIT2, ...) because
  // tcp_fin_timeout (60 s in a fresh namespace) is not above TCP_TIMEWAIT_LEN,
  // so it is a timewait socket in the FIN_WAIT2 substate.
  Fd fw2_server;
  uint16_t fw2_port = 0;
  // Client shut down its side but keeps the fd: a full socket in FIN_WAIT2.
  Fd half_client, half_server;
  uint16_t half_port = 0;
  // Client closed, then the server: the client ends in TIME_WAIT, the server goes away.
  uint16_t tw_port = 0;
  // A request socket: with TCP_DEFER_ACCEPT the listener drops the bare
  // final ACK, so the connection stays a request (NEW_SYN_RECV) on the
  // server side while the client is ESTABLISHED.
  Fd deferred, req_client;
  uint16_t deferred_port = 0, req_client_port = 0;

  SocketZoo() {
    est_client = connect_loopback(AF_INET, port);
    est_server = accept_one(listener.get());

    Fd fw2_client = connect_loopback(AF_INET, port);
    fw2_server = accept_one(listener.get());
    fw2_port = local_port(fw2_client.get());
    fw2_client.reset();
    expect_eof(fw2_server.get());

    half_client = connect_loopback(AF_INET, port);
    half_server = accept_one(listener.get());
    half_port = local_port(half_client.get());
    EXPECT_EQ(shutdown(half_client.get(), SHUT_WR), 0) << strerror(errno);
    expect_eof(half_server.get());

    Fd tw_client = connect_loopback(AF_INET, port);
    Fd tw_server = accept_one(listener.get());
    tw_port = local_port(tw_client.get());
    tw_client.reset();
    expect_eof(tw_server.get());
    tw_server.reset();

    deferred = listen_loopback(AF_INET6);
    const int defer_secs = 600;
    EXPECT_EQ(setsockopt(deferred.get(), IPPROTO_TCP, TCP_DEFER_ACCEPT, &defer_secs, sizeof(defer_secs)), 0)
        << strerror(errno);
    deferred_port = local_port(deferred.get());
    req_client = connect_loopback(AF_INET6, deferred_port);
    req_client_port = local_port(req_client.get());
  }
};

void expect_listener_and_established(const std::vector<SocketRecord>& records, const SocketZoo& z) {
  const SocketRecord* l = find_by_sport(records, AF_INET, z.port, kListen);
  ASSERT_NE(l, nullptr);
  EXPECT_EQ(l->inode, fd_inode(z.listener.get()));
  EXPECT_NE(l->inode, 0u);
  EXPECT_FALSE(l->timewait);
  EXPECT_FALSE(l->request);
  EXPECT_EQ(l->uid, geteuid());
  EXPECT_EQ(l->dport, 0);

  const SocketRecord* e = find_by_sport(records, AF_INET, local_port(z.est_client.get()), kEstablished);
  ASSERT_NE(e, nullptr);
  EXPECT_EQ(e->inode, fd_inode(z.est_client.get()));
  EXPECT_EQ(e->dport, z.port);
  EXPECT_EQ(e->daddr, v4_loopback());
  EXPECT_FALSE(e->timewait);
  const SocketRecord* es = find_by_sport(records, AF_INET, z.port, kEstablished);
  ASSERT_NE(es, nullptr);
  EXPECT_EQ(es->inode, fd_inode(z.est_server.get()));
  EXPECT_EQ(es->dport, local_port(z.est_client.get()));
}

void expect_closing_ones(const std::vector<SocketRecord>& records, const SocketZoo& z) {
  const SocketRecord* fw2 = find_by_sport(records, AF_INET, z.fw2_port, kFinWait2);
  ASSERT_NE(fw2, nullptr);
  EXPECT_TRUE(fw2->timewait) << "an orphaned FIN_WAIT2 socket is an inet_timewait_sock";
  EXPECT_EQ(fw2->inode, 0u);
  EXPECT_FALSE(fw2->request);

  const SocketRecord* half = find_by_sport(records, AF_INET, z.half_port, kFinWait2);
  ASSERT_NE(half, nullptr);
  EXPECT_FALSE(half->timewait) << "a FIN_WAIT2 socket that still has its fd is a full socket";
  EXPECT_EQ(half->inode, fd_inode(z.half_client.get()));

  size_t close_wait = 0;
  for (const auto& r : records) {
    if (r.state != kCloseWait) continue;
    ++close_wait;
    EXPECT_EQ(r.sport, z.port);
    EXPECT_TRUE(r.dport == z.fw2_port || r.dport == z.half_port) << r.dport;
    EXPECT_TRUE(r.inode == fd_inode(z.fw2_server.get()) || r.inode == fd_inode(z.half_server.get()));
    EXPECT_FALSE(r.timewait);
  }
  EXPECT_EQ(close_wait, 2u);

  const SocketRecord* tw = find_by_sport(records, AF_INET, z.tw_port, kTimeWait);
  ASSERT_NE(tw, nullptr);
  EXPECT_TRUE(tw->timewait);
  EXPECT_FALSE(tw->request);
  EXPECT_EQ(tw->inode, 0u);
  EXPECT_EQ(tw->dport, z.port);
}

void expect_request_socket(const std::vector<SocketRecord>& records, const SocketZoo& z) {
  const SocketRecord* req = find_by_sport(records, AF_INET6, z.deferred_port, kSynRecv);
  ASSERT_NE(req, nullptr);
  EXPECT_TRUE(req->request);
  EXPECT_FALSE(req->timewait);
  EXPECT_EQ(req->inode, 0u);
  EXPECT_EQ(req->dport, z.req_client_port);
  EXPECT_EQ(req->daddr, v6_loopback());
  const SocketRecord* rc = find_by_sport(records, AF_INET6, z.req_client_port, kEstablished);
  ASSERT_NE(rc, nullptr);
  EXPECT_EQ(rc->inode, fd_inode(z.req_client.get()));
  EXPECT_FALSE(rc->request);
  const SocketRecord* dl = find_by_sport(records, AF_INET6, z.deferred_port, kListen);
  ASSERT_NE(dl, nullptr);
  EXPECT_EQ(dl->inode, fd_inode(z.deferred.get()));
}

TEST(SockDiag, DumpMatchesSsInAFreshNamespace) {
  in_fresh_netns([](uint32_t netns) {
    ASSERT_NE(netns, 0u);
    ASSERT_NE(netns, self_netns()) << "the thread did not get a namespace of its own";
    const SocketZoo zoo;

    const std::map<std::string, int> want = {{"LISTEN", 2},     {"ESTAB", 3},     {"FIN-WAIT-2", 2},
                                             {"CLOSE-WAIT", 2}, {"TIME-WAIT", 1}, {"SYN-RECV", 1}};
    const std::vector<SocketRecord> records = dump_when(netns, want);
    const auto counts = count_states(records);
    ASSERT_EQ(counts, want) << "dump: " << describe(counts);
    const auto ss = ss_counts();
    EXPECT_EQ(counts, ss) << "dump: " << describe(counts) << "\nss:   " << describe(ss);

    std::set<uint64_t> cookies;
    for (const auto& r : records) {
      EXPECT_EQ(r.netns, netns);
      EXPECT_NE(r.cookie, 0u);
      EXPECT_TRUE(cookies.insert(r.cookie).second) << "duplicate cookie " << r.cookie;
      EXPECT_FALSE(r.timewait && r.request);
      EXPECT_EQ(r.saddr, r.family == AF_INET ? v4_loopback() : v6_loopback());
    }
    expect_listener_and_established(records, zoo);
    expect_closing_ones(records, zoo);
    expect_request_socket(records, zoo);
  });
}

TEST(SockDiag, EmptyNamespaceDumpsNothing) {
  in_fresh_netns([](uint32_t netns) {
    auto r = dump_tcp_sockets(netns);
    ASSERT_TRUE(r.ok()) << r.error().message;
    EXPECT_TRUE(r->empty());
    EXPECT_TRUE(ss_counts().empty());
  });
}

TEST(SockDiag, ManySocketsSpanSeveralReads) {
  // Far more records than fit in one netlink datagram.
  in_fresh_netns([](uint32_t netns) {
    Fd listener = listen_loopback(AF_INET, 4096);
    const uint16_t port = local_port(listener.get());
    std::vector<Fd> fds;
    constexpr int kPairs = 400;  // 801 fds: within the default limit of 1024
    for (int i = 0; i < kPairs; ++i) {
      fds.push_back(connect_loopback(AF_INET, port));
      fds.push_back(accept_one(listener.get()));
    }
    auto r = dump_tcp_sockets(netns);
    ASSERT_TRUE(r.ok()) << r.error().message;
    const auto counts = count_states(*r);
    EXPECT_EQ(counts, (std::map<std::string, int>{{"LISTEN", 1}, {"ESTAB", 2 * kPairs}})) << describe(counts);
    std::set<uint64_t> cookies;
    for (const auto& s : *r) cookies.insert(s.cookie);
    EXPECT_EQ(cookies.size(), r->size());
    EXPECT_EQ(counts, ss_counts());
  });
}

// What a child in a namespace of its own reports through a pipe.
struct ChildReport {
  uint32_t netns;
  uint32_t listener_inode;
  uint16_t port;
};

bool read_full(int fd, void* buf, size_t len) {
  auto* p = static_cast<char*>(buf);
  while (len > 0) {
    const ssize_t n = read(fd, p, len);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    p += n;
    len -= static_cast<size_t>(n);
  }
  return true;
}

// Forks a child that unshares a network namespace, listens on 127.0.0.1,
// reports through a pipe, and blocks reading `hold_w`'s pipe until it is
// killed (or the write end closes). Returns the pid, or -1 with a failure added.
pid_t spawn_listener_in_new_netns(ChildReport& report, int& hold_w) {
  int to_parent[2];
  int hold[2];
  if (pipe2(to_parent, O_CLOEXEC) != 0 || pipe2(hold, O_CLOEXEC) != 0) {
    ADD_FAILURE() << "pipe2: " << strerror(errno);
    return -1;
  }
  const pid_t pid = fork_child([&]() -> int {
    close(to_parent[0]);
    close(hold[1]);
    if (unshare(CLONE_NEWNET) != 0 || !bring_up_loopback()) return 10;
    const int l = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (l < 0 || bind(l, reinterpret_cast<sockaddr*>(&a), sizeof(a)) != 0 || listen(l, 16) != 0) return 11;
    socklen_t len = sizeof(a);
    struct stat ns {};
    struct stat ls {};
    if (getsockname(l, reinterpret_cast<sockaddr*>(&a), &len) != 0 || stat("/proc/self/ns/net", &ns) != 0 ||
        fstat(l, &ls) != 0)
      return 12;
    const ChildReport r{static_cast<uint32_t>(ns.st_ino), static_cast<uint32_t>(ls.st_ino), ntohs(a.sin_port)};
    if (write(to_parent[1], &r, sizeof(r)) != static_cast<ssize_t>(sizeof(r))) return 13;
    char c;
    while (read(hold[0], &c, 1) < 0 && errno == EINTR) {
    }
    return 0;
  });
  close(to_parent[1]);
  close(hold[0]);
  hold_w = hold[1];
  if (pid <= 0) {
    ADD_FAILURE() << "fork: " << strerror(errno);
    close(to_parent[0]);
    return -1;
  }
  const bool reported = read_full(to_parent[0], &report, sizeof(report));
  close(to_parent[0]);
  if (!reported) {
    close(hold_w);
    ADD_FAILURE() << "the child did not report; it exited with " << wait_child(pid);
    return -1;
  }
  return pid;
}

// Kills and reaps the child however the test ends.
class ChildGuard {
 public:
  ChildGuard(pid_t pid, int hold_w) : pid_(pid), hold_w_(hold_w) {}
  ChildGuard(const ChildGuard&) = delete;
  ChildGuard& operator=(const ChildGuard&) = delete;
  ~ChildGuard() { stop(); }
  // SIGKILLs the child and returns wait_child's status.
  int stop() {
    if (pid_ <= 0) return -1;
    kill(pid_, SIGKILL);
    close(hold_w_);
    const int status = wait_child(pid_);
    pid_ = -1;
    return status;
  }

 private:
  pid_t pid_;
  int hold_w_;
};

TEST(SockDiag, DumpNamespacesFindsAListenerInAnotherNamespace) {
  ChildReport child{};
  int hold_w = -1;
  const pid_t pid = spawn_listener_in_new_netns(child, hold_w);
  ASSERT_GT(pid, 0);
  ChildGuard guard(pid, hold_w);

  const uint32_t self = self_netns();
  ASSERT_NE(child.netns, 0u);
  ASSERT_NE(child.netns, self);
  const uint32_t before = thread_netns();
  // A listener in this process's namespace, to be found by the no-setns path.
  Fd own_listener = listen_loopback(AF_INET);
  const uint16_t own_port = local_port(own_listener.get());

  {
    SCOPED_TRACE("only the child's namespace");
    auto r = dump_namespaces(child.netns);
    ASSERT_TRUE(r.ok()) << r.error().message;
    EXPECT_THAT(r->namespaces, ElementsAre(child.netns));
    EXPECT_EQ(r->unreachable, 0u);
    ASSERT_EQ(r->sockets.size(), 1u);
    const SocketRecord& s = r->sockets[0];
    EXPECT_EQ(s.netns, child.netns);
    EXPECT_EQ(s.family, AF_INET);
    EXPECT_EQ(s.state, kListen);
    EXPECT_EQ(s.sport, child.port);
    EXPECT_EQ(s.inode, child.listener_inode);
    EXPECT_NE(s.cookie, 0u);
    EXPECT_EQ(thread_netns(), before) << "dump_namespaces moved the calling thread";
  }
  {
    SCOPED_TRACE("only the caller's namespace");
    auto r = dump_namespaces(self);
    ASSERT_TRUE(r.ok()) << r.error().message;
    EXPECT_THAT(r->namespaces, ElementsAre(self));
    EXPECT_EQ(r->unreachable, 0u);
    const SocketRecord* l = find_by_sport(r->sockets, AF_INET, own_port, kListen);
    ASSERT_NE(l, nullptr);
    EXPECT_EQ(l->inode, fd_inode(own_listener.get()));
    for (const auto& s : r->sockets) EXPECT_EQ(s.netns, self);
  }
  {
    SCOPED_TRACE("every namespace");
    auto r = dump_namespaces(0);
    ASSERT_TRUE(r.ok()) << r.error().message;
    EXPECT_THAT(r->namespaces, Contains(self));
    EXPECT_THAT(r->namespaces, Contains(child.netns));
    const std::set<uint32_t> distinct(r->namespaces.begin(), r->namespaces.end());
    EXPECT_EQ(distinct.size(), r->namespaces.size()) << "a namespace was dumped twice";
    std::vector<SocketRecord> in_child;
    for (const auto& s : r->sockets) {
      EXPECT_TRUE(distinct.count(s.netns)) << s.netns;
      if (s.netns == child.netns) in_child.push_back(s);
    }
    ASSERT_EQ(in_child.size(), 1u);
    EXPECT_EQ(in_child[0].state, kListen);
    EXPECT_EQ(in_child[0].sport, child.port);
    EXPECT_EQ(in_child[0].inode, child.listener_inode);
    std::vector<SocketRecord> in_self;
    for (const auto& s : r->sockets)
      if (s.netns == self) in_self.push_back(s);
    const SocketRecord* l = find_by_sport(in_self, AF_INET, own_port, kListen);
    ASSERT_NE(l, nullptr);
    EXPECT_EQ(l->inode, fd_inode(own_listener.get()));
    EXPECT_EQ(thread_netns(), before) << "dump_namespaces moved the calling thread";
  }

  EXPECT_EQ(guard.stop(), 128 + SIGKILL);
}

TEST(SockDiag, DumpNamespacesRejectsAnUnknownNamespace) {
  auto r = dump_namespaces(1);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().kind, Error::Kind::Runtime);
  EXPECT_THAT(r.error().message, HasSubstr("no process or /run/netns entry is in network namespace 1"));
  EXPECT_EQ(r.error().message.find('\n'), std::string::npos);
}

// What the runner child of the /run/netns test found.
struct RunNetnsReport {
  int stage;  // 0 when everything ran; otherwise where it stopped
  int err;
  uint32_t netns;
  int only_ok;
  uint32_t only_namespaces;
  uint32_t only_first;
  uint32_t only_sockets;
  uint8_t only_state;
  bool only_timewait;
  uint32_t only_record_netns;
  int all_ok;
  int all_contains;
  char message[256];
};

// In a child of its own: leaves one TIME_WAIT socket in a new network
// namespace, says so on `ready`, and exits when `go` closes, so that only a
// /run/netns bind mount leads to the namespace. Exits nonzero on a failure.
[[noreturn]] void leave_a_timewait_socket(int ready, int go) {
  if (unshare(CLONE_NEWNET) != 0 || !bring_up_loopback()) _exit(1);
  const int l = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof(a);
  if (l < 0 || bind(l, reinterpret_cast<sockaddr*>(&a), sizeof(a)) != 0 || listen(l, 4) != 0 ||
      getsockname(l, reinterpret_cast<sockaddr*>(&a), &len) != 0)
    _exit(2);
  const int c = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (c < 0 || connect(c, reinterpret_cast<sockaddr*>(&a), sizeof(a)) != 0) _exit(3);
  const int s = accept4(l, nullptr, nullptr, SOCK_CLOEXEC);
  if (s < 0) _exit(4);
  close(c);
  char ch;
  if (read(s, &ch, 1) != 0) _exit(5);
  close(s);
  close(l);
  // Wait until the client is in TIME_WAIT and nothing else is left.
  for (int i = 0; i < 1000; ++i) {
    auto d = dump_tcp_sockets(0);
    if (d.ok() && d->size() == 1 && (*d)[0].state == kTimeWait) {
      if (write(ready, "x", 1) != 1) _exit(6);
      while (read(go, &ch, 1) < 0 && errno == EINTR) {
      }
      _exit(0);
    }
    usleep(10000);
  }
  _exit(7);
}

// What the two dumps found, for the report.
void dump_the_bound_namespace(RunNetnsReport& rep) {
  auto only = dump_namespaces(rep.netns);
  rep.only_ok = only.ok();
  if (only.ok()) {
    rep.only_namespaces = static_cast<uint32_t>(only->namespaces.size());
    rep.only_first = only->namespaces.empty() ? 0 : only->namespaces[0];
    rep.only_sockets = static_cast<uint32_t>(only->sockets.size());
    if (!only->sockets.empty()) {
      rep.only_state = only->sockets[0].state;
      rep.only_timewait = only->sockets[0].timewait;
      rep.only_record_netns = only->sockets[0].netns;
    }
  } else {
    std::snprintf(rep.message, sizeof(rep.message), "%s", only.error().message.c_str());
  }
  auto all = dump_namespaces(0);
  rep.all_ok = all.ok();
  if (all.ok()) {
    rep.all_contains = std::count(all->namespaces.begin(), all->namespaces.end(), rep.netns);
  } else if (rep.message[0] == '\0') {
    std::snprintf(rep.message, sizeof(rep.message), "%s", all.error().message.c_str());
  }
}

// The runner: a private mount namespace with a tmpfs /run, where
// /run/netns/tcpfsm-test becomes a bind mount of the namespace the
// grandchild leaves; then both dumps. Returns the stage it stopped at.
int run_netns_runner(RunNetnsReport& rep) {
  if (unshare(CLONE_NEWNS) != 0) return 1;
  if (mount(nullptr, "/", nullptr, MS_REC | MS_PRIVATE, nullptr) != 0) return 2;
  if (mount("tmpfs", "/run", "tmpfs", 0, "mode=0755") != 0) return 3;
  if (mkdir("/run/netns", 0755) != 0) return 4;
  const int placeholder = open("/run/netns/tcpfsm-test", O_CREAT | O_RDONLY | O_CLOEXEC, 0444);
  if (placeholder < 0) return 5;
  close(placeholder);
  int ready[2];
  int go[2];
  if (pipe2(ready, O_CLOEXEC) != 0 || pipe2(go, O_CLOEXEC) != 0) return 6;
  const pid_t gc = fork();
  if (gc == 0) {
    close(ready[0]);
    close(go[1]);  // else the read on go[0] never sees the runner's close
    leave_a_timewait_socket(ready[1], go[0]);
  }
  if (gc < 0) return 7;
  close(ready[1]);
  close(go[0]);
  char ch;
  if (read(ready[0], &ch, 1) != 1) return 8;
  const std::string gc_ns = "/proc/" + std::to_string(gc) + "/ns/net";
  if (mount(gc_ns.c_str(), "/run/netns/tcpfsm-test", nullptr, MS_BIND, nullptr) != 0) return 9;
  struct stat st {};
  if (stat("/run/netns/tcpfsm-test", &st) != 0) return 10;
  rep.netns = static_cast<uint32_t>(st.st_ino);
  close(go[1]);
  int status = 0;
  if (waitpid(gc, &status, 0) != gc || !WIFEXITED(status) || WEXITSTATUS(status) != 0) return 11;
  dump_the_bound_namespace(rep);
  return 0;
}

// A namespace whose last process has exited, so only /run/netns leads to it
// (and only a TIME_WAIT socket is left in it): dump_namespaces finds it.
// Nothing outside the runner sees the mounts.
TEST(SockDiag, DumpNamespacesEntersARunNetnsEntry) {
  int pipefd[2];
  ASSERT_EQ(pipe2(pipefd, O_CLOEXEC), 0);
  const pid_t runner = fork_child([&]() -> int {
    close(pipefd[0]);
    RunNetnsReport rep{};
    rep.stage = run_netns_runner(rep);
    rep.err = errno;
    (void)!write(pipefd[1], &rep, sizeof(rep));
    return 0;
  });
  close(pipefd[1]);
  ASSERT_GT(runner, 0);
  RunNetnsReport rep{};
  const bool got = read_full(pipefd[0], &rep, sizeof(rep));
  close(pipefd[0]);
  EXPECT_EQ(wait_child(runner), 0);
  ASSERT_TRUE(got) << "the runner did not report";
  ASSERT_EQ(rep.stage, 0) << "setup failed at stage " << rep.stage << ": " << strerror(rep.err);
  ASSERT_NE(rep.netns, 0u);
  EXPECT_NE(rep.netns, self_netns());
  ASSERT_TRUE(rep.only_ok) << rep.message;
  EXPECT_EQ(rep.only_namespaces, 1u);
  EXPECT_EQ(rep.only_first, rep.netns);
  ASSERT_EQ(rep.only_sockets, 1u);
  EXPECT_EQ(rep.only_state, kTimeWait);
  EXPECT_TRUE(rep.only_timewait);
  EXPECT_EQ(rep.only_record_netns, rep.netns);
  ASSERT_TRUE(rep.all_ok) << rep.message;
  EXPECT_EQ(rep.all_contains, 1);
}

}  // namespace
}  // namespace tcpfsm::test
