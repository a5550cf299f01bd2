// The integration tests' shared helpers: loopback sockets, namespaces, children, the tracer, the binary.
#include "harness.hpp"

#include <arpa/inet.h>
#include <grp.h>
#include <net/if.h>
#include <sched.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

#include "model/tcp_state.hpp"

namespace tcpfsm::test {

bool bring_up_loopback() {
  int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return false;
  ifreq ifr{};
  std::strncpy(ifr.ifr_name, "lo", IFNAMSIZ - 1);
  bool ok = ioctl(fd, SIOCGIFFLAGS, &ifr) == 0;
  ifr.ifr_flags = static_cast<short>(ifr.ifr_flags | IFF_UP);
  ok = ok && ioctl(fd, SIOCSIFFLAGS, &ifr) == 0;
  close(fd);
  return ok;
}

uint32_t self_netns() {
  struct stat st {};
  if (stat("/proc/self/ns/net", &st) != 0) return 0;
  return static_cast<uint32_t>(st.st_ino);
}

namespace {

socklen_t loopback(int family, uint16_t port, sockaddr_storage& ss) {
  ss = {};
  if (family == AF_INET) {
    auto* a = reinterpret_cast<sockaddr_in*>(&ss);
    a->sin_family = AF_INET;
    a->sin_port = htons(port);
    a->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    return sizeof(*a);
  }
  auto* a = reinterpret_cast<sockaddr_in6*>(&ss);
  a->sin6_family = AF_INET6;
  a->sin6_port = htons(port);
  a->sin6_addr = in6addr_loopback;
  return sizeof(*a);
}

}  // namespace

Fd listen_loopback(int family, int backlog) {
  Fd fd(socket(family, SOCK_STREAM | SOCK_CLOEXEC, 0));
  EXPECT_GE(fd.get(), 0);
  sockaddr_storage ss;
  socklen_t len = loopback(family, 0, ss);
  EXPECT_EQ(bind(fd.get(), reinterpret_cast<sockaddr*>(&ss), len), 0) << strerror(errno);
  EXPECT_EQ(listen(fd.get(), backlog), 0) << strerror(errno);
  return fd;
}

uint16_t local_port(int fd) {
  sockaddr_storage ss{};
  socklen_t len = sizeof(ss);
  getsockname(fd, reinterpret_cast<sockaddr*>(&ss), &len);
  return ss.ss_family == AF_INET ? ntohs(reinterpret_cast<sockaddr_in*>(&ss)->sin_port)
                                 : ntohs(reinterpret_cast<sockaddr_in6*>(&ss)->sin6_port);
}

uint16_t free_port() {
  Fd s(socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (bind(s.get(), reinterpret_cast<sockaddr*>(&a), sizeof(a)) != 0) return 0;
  return local_port(s.get());
}

std::string make_tmpdir(const std::string& what) {
  std::string tpl = "/tmp/tcpfsm-" + what + "-XXXXXX";
  if (!mkdtemp(tpl.data())) ADD_FAILURE() << "mkdtemp " << tpl << ": " << strerror(errno);
  return tpl;
}

Fd connect_loopback(int family, uint16_t port) {
  Fd fd(socket(family, SOCK_STREAM | SOCK_CLOEXEC, 0));
  EXPECT_GE(fd.get(), 0);
  sockaddr_storage ss;
  socklen_t len = loopback(family, port, ss);
  EXPECT_EQ(connect(fd.get(), reinterpret_cast<sockaddr*>(&ss), len), 0) << strerror(errno);
  return fd;
}

Fd accept_one(int listen_fd) {
  Fd fd(accept4(listen_fd, nullptr, nullptr, SOCK_CLOEXEC));
  EXPECT_GE(fd.get(), 0) << strerror(errno);
  return fd;
}

std::unique_ptr<Tracer> start_tracer(FilterSpec filter) {
  if (filter.netns == 0) filter.netns = self_netns();
  TracerOptions opts;
  opts.filter = std::move(filter);
  auto t = Tracer::start(opts);
  if (!t) {
    ADD_FAILURE() << "Tracer::start: " << t.error().message;
    return nullptr;
  }
  return std::move(t.value());
}

bool poll_until(Tracer& t, Collector& c, const std::function<bool()>& done, std::chrono::milliseconds timeout) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (!done()) {
    if (std::chrono::steady_clock::now() >= deadline) return false;
    auto n = t.poll(c, 50);
    if (!n) {
      ADD_FAILURE() << n.error().message;
      return false;
    }
  }
  return true;
}

void drain(Tracer& t, Collector& c, std::chrono::milliseconds quiet) {
  auto last = std::chrono::steady_clock::now();
  size_t seen = c.events.size();
  while (std::chrono::steady_clock::now() - last < quiet) {
    auto n = t.poll(c, 50);
    ASSERT_TRUE(n) << n.error().message;
    if (c.events.size() != seen) {
      seen = c.events.size();
      last = std::chrono::steady_clock::now();
    }
  }
}

std::map<uint64_t, std::vector<Event>> by_socket(const std::vector<Event>& events) {
  std::map<uint64_t, std::vector<Event>> out;
  for (const auto& e : events) out[e.cookie].push_back(e);
  return out;
}

std::vector<std::string> transitions(const std::vector<Event>& events) {
  std::vector<std::string> out;
  for (const auto& e : events)
    out.push_back(std::string(state_name(e.oldstate)) + ">" + std::string(state_name(e.newstate)));
  return out;
}

void one_connection(int family, int listen_fd, uint16_t port) {
  Fd client = connect_loopback(family, port);
  Fd server = accept_one(listen_fd);
  client.reset();  // client closes first: FIN_WAIT1/2 here, CLOSE_WAIT there
  std::this_thread::sleep_for(std::chrono::milliseconds(5));
  server.reset();  // LAST_ACK there, TIME_WAIT (FIN_WAIT2 -> CLOSE) here
}

pid_t fork_child(const std::function<int()>& fn) {
  pid_t pid = fork();
  if (pid == 0) _exit(fn());
  return pid;
}

NetnsChild fork_in_new_netns(const std::function<int()>& fn) {
  int ns_pipe[2], go_pipe[2];
  NetnsChild c;
  if (pipe(ns_pipe) != 0 || pipe(go_pipe) != 0) return c;
  c.pid = fork_child([&] {
    if (unshare(CLONE_NEWNET) != 0 || !bring_up_loopback()) return 2;
    uint32_t ino = self_netns();
    if (write(ns_pipe[1], &ino, sizeof(ino)) != sizeof(ino)) return 3;
    char byte;
    if (read(go_pipe[0], &byte, 1) != 1) return 4;
    return fn();
  });
  close(ns_pipe[1]);
  close(go_pipe[0]);
  if (read(ns_pipe[0], &c.netns, sizeof(c.netns)) != static_cast<ssize_t>(sizeof(c.netns))) c.netns = 0;
  close(ns_pipe[0]);
  c.go = go_pipe[1];
  return c;
}

void NetnsChild::release() {
  EXPECT_EQ(write(go, "x", 1), 1);
  close(go);
  go = -1;
}

int wait_child(pid_t pid) {
  int status = 0;
  if (waitpid(pid, &status, 0) != pid) return -1;
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

namespace {

// A copy of build/tcpfsm that `uid` can execute wherever the clone is (a
// checkout under a 0700 directory, as mktemp -d makes, is out of its reach).
std::string reachable_copy(uid_t uid, std::string& dir) {
  if (uid == 0) return TCPFSM_BINARY;
  char tpl[] = "/tmp/tcpfsm-exe-XXXXXX";
  if (!mkdtemp(tpl)) return TCPFSM_BINARY;
  dir = tpl;
  const std::string exe = dir + "/tcpfsm";
  std::error_code ec;
  std::filesystem::copy_file(TCPFSM_BINARY, exe, ec);
  chmod(dir.c_str(), 0755);
  chmod(exe.c_str(), 0755);
  return exe;
}

}  // namespace

Binary::Binary(const std::vector<std::string>& args, uid_t uid) {
  char out_tpl[] = "/tmp/tcpfsm-out-XXXXXX", err_tpl[] = "/tmp/tcpfsm-err-XXXXXX";
  int out = mkstemp(out_tpl), err = mkstemp(err_tpl);
  out_path_ = out_tpl;
  err_path_ = err_tpl;
  const std::string exe = reachable_copy(uid, exe_dir_);
  pid_ = fork();
  if (pid_ == 0) {
    dup2(out, 1);
    dup2(err, 2);
    if (uid != 0 && (setgroups(0, nullptr) != 0 || setgid(uid) != 0 || setuid(uid) != 0)) _exit(120);
    std::vector<char*> argv{const_cast<char*>(exe.c_str())};
    for (const auto& a : args) argv.push_back(const_cast<char*>(a.c_str()));
    argv.push_back(nullptr);
    execv(exe.c_str(), argv.data());
    _exit(127);
  }
  close(out);
  close(err);
}

void Binary::signal(int sig) { kill(pid_, sig); }

std::string Binary::out_so_far() const { return slurp(out_path_); }
std::string Binary::err_so_far() const { return slurp(err_path_); }

bool Binary::wait_for_err(const std::string& text, std::chrono::milliseconds limit) const {
  const auto deadline = std::chrono::steady_clock::now() + limit;
  while (std::chrono::steady_clock::now() < deadline) {
    if (err_so_far().find(text) != std::string::npos) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return false;
}

Outcome Binary::wait() {
  Outcome r;
  int status = 0;
  waitpid(pid_, &status, 0);
  r.status = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  r.out = slurp(out_path_);
  r.err = slurp(err_path_);
  unlink(out_path_.c_str());
  unlink(err_path_.c_str());
  if (!exe_dir_.empty()) std::filesystem::remove_all(exe_dir_);
  return r;
}

std::string slurp(const std::string& path) {
  std::ifstream f(path);
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

std::vector<std::string> lines(const std::string& s) {
  std::vector<std::string> out;
  std::istringstream in(s);
  for (std::string l; std::getline(in, l);) out.push_back(l);
  return out;
}

// `ss -tan` in this namespace, counted by state as the kernel numbers them.
std::map<uint8_t, uint64_t> ss_counts() {
  static const std::map<std::string, uint8_t> names = {
      {"ESTAB", TCPFSM_ESTABLISHED},     {"SYN-SENT", TCPFSM_SYN_SENT},    {"SYN-RECV", TCPFSM_SYN_RECV},
      {"FIN-WAIT-1", TCPFSM_FIN_WAIT1},  {"FIN-WAIT-2", TCPFSM_FIN_WAIT2}, {"TIME-WAIT", TCPFSM_TIME_WAIT},
      {"CLOSE-WAIT", TCPFSM_CLOSE_WAIT}, {"LAST-ACK", TCPFSM_LAST_ACK},    {"LISTEN", TCPFSM_LISTEN},
      {"CLOSING", TCPFSM_CLOSING}};
  std::map<uint8_t, uint64_t> out;
  FILE* p = popen("ss -tan 2>&1", "r");
  EXPECT_NE(p, nullptr);
  char line[512];
  bool header = true;
  while (p && fgets(line, sizeof(line), p)) {
    if (header) {
      header = false;
      continue;
    }
    char state[32] = {};
    if (sscanf(line, "%31s", state) != 1) continue;
    auto it = names.find(state);
    EXPECT_NE(it, names.end()) << "unexpected ss state " << state;
    if (it != names.end()) ++out[it->second];
  }
  if (p) {
    EXPECT_EQ(pclose(p), 0);
  }
  return out;
}

std::map<std::string, uint64_t> nstat_counters() {
  std::map<std::string, uint64_t> out;
  // -s: leave nstat's history file alone; -a: absolute; -z: zeros too.
  FILE* p = popen("nstat -saz 2>&1", "r");
  EXPECT_NE(p, nullptr);
  char line[512];
  while (p && fgets(line, sizeof(line), p)) {
    char name[128] = {};
    unsigned long long value = 0;
    if (line[0] == '#' || sscanf(line, "%127s %llu", name, &value) != 2) continue;
    out[name] = value;
  }
  if (p) {
    EXPECT_EQ(pclose(p), 0);
  }
  EXPECT_TRUE(out.count("TcpAttemptFails")) << "nstat printed no TCP counters";
  return out;
}

std::vector<nlohmann::json> findings_of(const nlohmann::json& all, const std::string& id) {
  std::vector<nlohmann::json> v;
  for (const auto& f : all)
    if (f["id"] == id) v.push_back(f);
  return v;
}

bool sh(const std::string& cmd) {
  const int rc = std::system((cmd + " >/dev/null 2>&1").c_str());
  EXPECT_EQ(rc, 0) << cmd;
  return rc == 0;
}

}  // namespace tcpfsm::test
