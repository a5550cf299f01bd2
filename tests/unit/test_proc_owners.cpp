// OwnerResolver and its /proc parsers: parsers on good and malformed text,
// the resolver on fake proc roots built in a temp dir (fd links are symlinks
// whose target text is "socket:[N]"), and once against the real /proc.
// Over 400 lines: the parsers on good and malformed text, then the resolver
// on fake proc roots, sharing one fixture builder.
#include <fmt/format.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "collect/proc_owners.hpp"
#include "collect/proc_parse.hpp"

namespace tcpfsm {
namespace {

using namespace std::chrono_literals;
using ::testing::ElementsAre;
using ::testing::IsEmpty;
using ::testing::Optional;

const std::string kId = "4c01db0b339c0f8b3fbb3c1e4bbb3e1da0e5c4a7b8f0c1d2e3f4a5b6c7d8e9f0";
const std::string kId2 = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

std::string stat_line(uint32_t pid, const std::string& comm, uint64_t start_time) {
  return fmt::format(
      "{} ({}) S 1 {} {} 0 -1 4194560 120 0 0 0 3 1 0 0 20 0 1 0 {} 12345678 300 18446744073709551615 1 1 0 0 0 0 0 "
      "4096 0 0 0 0 17 2 0 0 0 0 0\n",
      pid, comm, pid, pid, start_time);
}

// ---- parsers ----

TEST(ProcOwnersParse, SocketLink) {
  EXPECT_THAT(parse_socket_link("socket:[12345]"), Optional(12345u));
  EXPECT_THAT(parse_socket_link("socket:[4294967295]"), Optional(4294967295u));
  for (const char* bad : {"socket:[4294967296]", "socket:[]", "socket:[12", "socket:12]", "socket:[", "socket:[-1]",
                          "socket:[+1]", "socket:[ 1]", "socket:[1a]", "socket:[1]x", "pipe:[123]",
                          "anon_inode:[eventfd]", "/dev/null", "", "]", "socket:[99999999999999999999999]"}) {
    EXPECT_EQ(parse_socket_link(bad), std::nullopt) << bad;
  }
}

TEST(ProcOwnersParse, StatStartTime) {
  EXPECT_THAT(parse_stat_start_time(stat_line(42, "sshd", 350456)), Optional(350456u));
  // A real line, 64-bit fields included.
  EXPECT_THAT(parse_stat_start_time("21189 (cat) R 21181 21181 20503 0 -1 4194304 100 0 0 0 0 0 0 0 20 0 1 0 350456 "
                                    "3133440 356 18446744073709551615 93847248596992 93847248616873 0 0 0 0 0 0 0 0 "
                                    "17 1 0 0 0 0 0"),
              Optional(350456u));
  EXPECT_THAT(parse_stat_start_time(stat_line(7, "a) (b", 99)), Optional(99u));
  EXPECT_THAT(parse_stat_start_time(stat_line(7, ") (", 98)), Optional(98u));
  EXPECT_THAT(parse_stat_start_time(stat_line(7, "my prog)", 97)), Optional(97u));
  EXPECT_THAT(parse_stat_start_time(stat_line(7, "x\ny 1 2 3", 96)), Optional(96u));
  EXPECT_THAT(parse_stat_start_time(stat_line(7, "", 18446744073709551615u)), Optional(18446744073709551615u));
  EXPECT_THAT(parse_stat_start_time(stat_line(7, "big", 1) + "  "), Optional(1u));

  EXPECT_EQ(parse_stat_start_time(""), std::nullopt);
  EXPECT_EQ(parse_stat_start_time("42 sshd S 1 2 3"), std::nullopt);  // no ')'
  EXPECT_EQ(parse_stat_start_time("42 (x) S 1 42 42 0 -1 4194560 120 0 0 0 3 1 0 0 20 0 1 0"), std::nullopt);
  EXPECT_EQ(parse_stat_start_time("42 (x) S 1 42 42 0 -1 4194560 120 0 0 0 3 1 0 0 20 0 1 0 12z 7"), std::nullopt);
  EXPECT_EQ(parse_stat_start_time("42 (x) S 1 42 42 0 -1 4194560 120 0 0 0 3 1 0 0 20 0 1 0 -5 7"), std::nullopt);
  EXPECT_EQ(parse_stat_start_time("42 (x) S 1 42 42 0 -1 4194560 120 0 0 0 3 1 0 0 20 0 1 0 99999999999999999999 7"),
            std::nullopt);
  // Every truncation ending before field 22 fails; none crashes.
  const std::string full = stat_line(42, "a (b) c", 123456);
  const size_t field22 = full.find(" 123456 ") + 1;
  for (size_t n = 0; n < full.size(); ++n) {
    const auto st = parse_stat_start_time(std::string_view(full).substr(0, n));
    if (n <= field22) {
      EXPECT_EQ(st, std::nullopt) << n;
    }
  }
}

TEST(ProcOwnersParse, StatusUid) {
  const std::string status = "Name:\tsshd\nUmask:\t0022\nState:\tS (sleeping)\nUid:\t1000\t0\t0\t0\nGid:\t5\t5\t5\t5\n";
  EXPECT_THAT(parse_status_uid(status), Optional(1000u));
  EXPECT_THAT(parse_status_uid("Uid:\t4294967295\t0\t0\t0"), Optional(4294967295u));  // last line, no newline
  EXPECT_THAT(parse_status_uid("Uid:  7  8"), Optional(7u));
  EXPECT_THAT(parse_status_uid("Name:\tUid: 5\nUid:\t33\t33\t33\t33\n"), Optional(33u));

  EXPECT_EQ(parse_status_uid(""), std::nullopt);
  EXPECT_EQ(parse_status_uid("Name:\tsshd\nGid:\t0\t0\t0\t0\n"), std::nullopt);
  EXPECT_EQ(parse_status_uid("Uid:\n"), std::nullopt);
  EXPECT_EQ(parse_status_uid("Uid:"), std::nullopt);
  EXPECT_EQ(parse_status_uid("Uid:\tabc\t0\n"), std::nullopt);
  EXPECT_EQ(parse_status_uid("Uid:\t-1\t0\n"), std::nullopt);
  EXPECT_EQ(parse_status_uid("Uid:\t4294967296\t0\n"), std::nullopt);
  EXPECT_EQ(parse_status_uid("XUid:\t5\n"), std::nullopt);
}

TEST(ProcOwnersParse, CgroupPath) {
  EXPECT_EQ(parse_cgroup_path("0::/system.slice/nginx.service\n"), "/system.slice/nginx.service");
  EXPECT_EQ(parse_cgroup_path("0::/a:b/c"), "/a:b/c");  // no newline, ':' in the path
  // Hybrid host: the unified line comes last and wins when it has a path.
  EXPECT_EQ(parse_cgroup_path("9:name=systemd:/user.slice/s.scope\n4:memory:/user.slice\n0::/user.slice/s.scope\n"),
            "/user.slice/s.scope");
  EXPECT_EQ(parse_cgroup_path("9:name=systemd:/\n4:memory:/process_api/5a1d\n0::/\n"), "/");
  // Hybrid or v1 host without a usable 0:: line: name=systemd.
  EXPECT_EQ(parse_cgroup_path("12:cpu,cpuacct:/x\n1:name=systemd:/system.slice/cron.service\n0::\n"),
            "/system.slice/cron.service");
  EXPECT_EQ(parse_cgroup_path("3:cpu:/x\n2:foo,name=systemd:/init.scope\n"), "/init.scope");

  EXPECT_EQ(parse_cgroup_path(""), "");
  EXPECT_EQ(parse_cgroup_path("12:cpu,cpuacct:/x\n4:memory:/y\n"), "");
  EXPECT_EQ(parse_cgroup_path("garbage\n0:\n::\n0::relative\n1:name=systemdX:/z\n"), "");
}

TEST(ProcOwnersParse, ContainerId) {
  EXPECT_EQ(container_id_of("/system.slice/docker-" + kId + ".scope"), kId);
  EXPECT_EQ(container_id_of("/docker/" + kId), kId);
  EXPECT_EQ(container_id_of("/kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod1a2b.slice/"
                            "cri-containerd-" +
                            kId + ".scope"),
            kId);
  EXPECT_EQ(
      container_id_of("/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod3c.slice/crio-" + kId + ".scope"),
      kId);
  EXPECT_EQ(container_id_of("/kubepods/burstable/pod3c4d/crio-" + kId), kId);
  EXPECT_EQ(container_id_of("/machine.slice/libpod-" + kId + ".scope"), kId);
  EXPECT_EQ(
      container_id_of("/user.slice/user-1000.slice/user@1000.service/user.slice/libpod-" + kId + ".scope/container"),
      kId);
  EXPECT_EQ(container_id_of("/kubepods/besteffort/pod0b1c2d3e-aaaa-bbbb-cccc-0123456789ab/" + kId), kId);
  EXPECT_EQ(container_id_of("/docker/" + kId2 + "/docker/" + kId), kId);  // nested: the innermost

  EXPECT_EQ(container_id_of(""), "");
  EXPECT_EQ(container_id_of("/"), "");
  EXPECT_EQ(container_id_of("/system.slice/sshd.service"), "");
  EXPECT_EQ(container_id_of("/user.slice/user-1000.slice/session-3.scope"), "");
  EXPECT_EQ(container_id_of("/docker/" + kId.substr(1)), "");  // 63 digits
  EXPECT_EQ(container_id_of("/docker/" + kId + "0"), "");      // 65 digits
  EXPECT_EQ(container_id_of("/docker/4C01DB0B339C0F8B3FBB3C1E4BBB3E1DA0E5C4A7B8F0C1D2E3F4A5B6C7D8E9F0"), "");
  EXPECT_EQ(container_id_of("/machine.slice/crio-conmon-" + kId + ".scope"), "");  // the monitor, not the container
  EXPECT_EQ(container_id_of("/system.slice/docker-" + kId.substr(0, 12) + ".scope"), "");
}

TEST(ProcOwnersParse, ContainerIdOfCgroupFile) {
  EXPECT_EQ(container_id_of_cgroup_file("0::/system.slice/docker-" + kId + ".scope\n"), kId);
  // Hybrid host, cgroupfs driver: only the v1 hierarchies show the container.
  EXPECT_EQ(container_id_of_cgroup_file("4:memory:/docker/" + kId + "\n1:name=systemd:/docker/" + kId +
                                        "\n0::/system.slice/containerd.service\n"),
            kId);
  EXPECT_EQ(container_id_of_cgroup_file("0::/init.scope\n"), "");
  EXPECT_EQ(container_id_of_cgroup_file(""), "");
}

TEST(ProcOwnersParse, Cmdline) {
  using namespace std::string_literals;
  EXPECT_EQ(parse_cmdline("/usr/sbin/nginx\0-g\0daemon off;\0"s), "/usr/sbin/nginx -g daemon off;");
  EXPECT_EQ(parse_cmdline("a\0\0b"s), "a  b");
  EXPECT_EQ(parse_cmdline("nginx: worker process\0\0\0\0   \0"s), "nginx: worker process");  // setproctitle
  EXPECT_EQ(parse_cmdline("single"), "single");
  EXPECT_EQ(parse_cmdline(""), "");
  EXPECT_EQ(parse_cmdline("\0\0\0"s), "");
}

// ---- the resolver on a fake proc root ----

// The files of one fake process.
struct Proc {
  uint64_t start_time = 1000;
  std::string comm = "daemon";
  std::string cmdline = std::string(
      "/usr/bin/daemon\0--port\0"
      "80\0",
      24);
  uint32_t uid = 0;
  std::string cgroup = "0::/system.slice/daemon.service\n";
  bool fd_dir = true;
};

class FakeProc {
 public:
  FakeProc() {
    std::string tmpl = (std::filesystem::temp_directory_path() / "tcpfsm-proc-XXXXXX").string();
    if (::mkdtemp(tmpl.data()) == nullptr) throw std::runtime_error("mkdtemp failed");
    root_ = tmpl;
  }
  ~FakeProc() {
    std::error_code ec;
    std::filesystem::remove_all(root_, ec);
  }
  FakeProc(const FakeProc&) = delete;
  FakeProc& operator=(const FakeProc&) = delete;

  const std::string& root() const { return root_; }
  std::string dir(uint32_t pid) const { return root_ + "/" + std::to_string(pid); }

  void add(uint32_t pid, const Proc& p = {}) {
    std::filesystem::create_directories(dir(pid));
    if (p.fd_dir) std::filesystem::create_directories(dir(pid) + "/fd");
    set(pid, p);
  }
  // Rewrites the files of `pid`: with a new start_time this is another process that got the same pid.
  void set(uint32_t pid, const Proc& p) {
    write(pid, "stat", stat_line(pid, p.comm, p.start_time));
    write(pid, "comm", p.comm + "\n");
    write(pid, "cmdline", p.cmdline);
    write(pid, "status",
          fmt::format("Name:\t{}\nUmask:\t0022\nState:\tS (sleeping)\nTgid:\t{}\nPid:\t{}\nPPid:\t1\n"
                      "Uid:\t{}\t{}\t{}\t{}\nGid:\t0\t0\t0\t0\n",
                      p.comm, pid, pid, p.uid, p.uid, p.uid, p.uid));
    write(pid, "cgroup", p.cgroup);
  }
  void link(uint32_t pid, int fd, const std::string& target) {
    const std::string path = dir(pid) + "/fd/" + std::to_string(fd);
    ASSERT_EQ(::symlink(target.c_str(), path.c_str()), 0) << path;
  }
  void socket(uint32_t pid, int fd, uint32_t inode) { link(pid, fd, fmt::format("socket:[{}]", inode)); }
  void unlink(uint32_t pid, int fd) { std::filesystem::remove(dir(pid) + "/fd/" + std::to_string(fd)); }
  void remove(uint32_t pid) { std::filesystem::remove_all(dir(pid)); }

 private:
  void write(uint32_t pid, const char* name, const std::string& text) {
    std::ofstream(dir(pid) + "/" + name, std::ios::binary | std::ios::trunc) << text;
  }
  std::string root_;
};

// Calls resolve until a call completes; fails the test if that takes more than `max_calls`.
OwnerResolver::Resolution resolve_fully(OwnerResolver& r, const std::vector<uint32_t>& inodes,
                                        std::chrono::milliseconds max_staleness = 30s, int max_calls = 1000) {
  for (int i = 0; i < max_calls; ++i) {
    auto res = r.resolve(inodes, 10s, max_staleness);
    if (res.complete) return res;
  }
  ADD_FAILURE() << "resolve never completed";
  return {};
}

TEST(ProcOwnersResolver, FindsOneHolder) {
  FakeProc proc;
  proc.add(123);
  proc.link(123, 0, "/dev/null");
  proc.socket(123, 3, 555);
  OwnerResolver r(proc.root());
  const auto res = r.resolve({555}, 10s);
  EXPECT_TRUE(res.complete);
  EXPECT_EQ(res.error, 0);
  EXPECT_EQ(res.processes_scanned, 1u);
  EXPECT_EQ(res.fds_scanned, 2u);
  EXPECT_THAT(res.holders.at(555), ElementsAre(123u));
  EXPECT_EQ(res.holders.size(), 1u);
}

TEST(ProcOwnersResolver, SharedSocketListsBoth) {
  FakeProc proc;
  for (const uint32_t pid : {300u, 20u, 1000u}) proc.add(pid);
  proc.socket(300, 4, 555);
  proc.socket(20, 7, 555);
  proc.socket(20, 8, 555);  // dup()ed: still one holder
  proc.socket(1000, 3, 556);
  OwnerResolver r(proc.root());
  const auto res = r.resolve({555, 556, 555}, 10s);
  EXPECT_THAT(res.holders.at(555), ElementsAre(20u, 300u));
  EXPECT_THAT(res.holders.at(556), ElementsAre(1000u));
}

TEST(ProcOwnersResolver, NonSocketLinksIgnored) {
  FakeProc proc;
  proc.add(10);
  proc.link(10, 0, "pipe:[555]");
  proc.link(10, 1, "anon_inode:[eventfd]");
  proc.link(10, 2, "/var/log/socket:[555]");
  proc.link(10, 3, "socket:[555");
  proc.link(10, 4, "/tmp/" + std::string(200, 'x'));
  proc.link(10, 5, "socket:[556]");
  OwnerResolver r(proc.root());
  const auto res = r.resolve({555, 556}, 10s);
  EXPECT_EQ(res.fds_scanned, 6u);
  EXPECT_FALSE(res.holders.contains(555));
  EXPECT_THAT(res.holders.at(556), ElementsAre(10u));
}

TEST(ProcOwnersResolver, SkipsPidDirWithoutFdDirAndNonPidEntries) {
  FakeProc proc;
  proc.add(5, {.fd_dir = false});
  proc.add(6);
  proc.socket(6, 3, 555);
  std::filesystem::create_directories(proc.root() + "/self/fd");  // names that are not pids
  ASSERT_EQ(::symlink("socket:[555]", (proc.root() + "/self/fd/3").c_str()), 0);
  std::filesystem::create_directories(proc.root() + "/0/fd");
  ASSERT_EQ(::symlink("socket:[555]", (proc.root() + "/0/fd/3").c_str()), 0);
  std::filesystem::create_directories(proc.root() + "/12ab/fd");
  std::ofstream(proc.root() + "/77") << "a file, not a directory";
  std::filesystem::create_directories(proc.root() + "/88");  // a pid dir without a stat file: vanished
  OwnerResolver r(proc.root());
  const auto res = r.resolve({555}, 10s);
  EXPECT_TRUE(res.complete);
  EXPECT_THAT(res.holders.at(555), ElementsAre(6u));
  EXPECT_EQ(res.processes_scanned, 4u);  // 5, 6, 77, 88
}

TEST(ProcOwnersResolver, UnheldInodeIsAbsentAndRemembered) {
  FakeProc proc;
  proc.add(1);
  proc.socket(1, 3, 555);
  OwnerResolver r(proc.root());
  auto res = r.resolve({777}, 10s);
  EXPECT_TRUE(res.complete);
  EXPECT_THAT(res.holders, IsEmpty());
  EXPECT_EQ(res.processes_scanned, 1u);
  // A full cycle that started after the question showed it unheld: no rescan within max_staleness.
  res = r.resolve({777, 555}, 10s);
  EXPECT_TRUE(res.complete);
  EXPECT_EQ(res.processes_scanned, 0u);
  EXPECT_THAT(res.holders, ::testing::SizeIs(1));
  EXPECT_THAT(res.holders.at(555), ElementsAre(1u));
  // Inode 0 (timewait and request sockets) is never held and costs nothing.
  res = r.resolve({0}, 10s, 0ms);
  EXPECT_EQ(res.processes_scanned, 0u);
  EXPECT_THAT(res.holders, IsEmpty());
}

TEST(ProcOwnersResolver, AnswersFromCacheUntilStale) {
  FakeProc proc;
  proc.add(100);
  proc.socket(100, 3, 555);
  OwnerResolver r(proc.root());
  EXPECT_THAT(r.resolve({555}, 10s).holders.at(555), ElementsAre(100u));
  // A fork shares the socket after the full cycle: the cache does not know yet.
  proc.add(300);
  proc.socket(300, 3, 555);
  auto res = r.resolve({555}, 10s);
  EXPECT_EQ(res.processes_scanned, 0u);
  EXPECT_THAT(res.holders.at(555), ElementsAre(100u));
  // Once the last full cycle is older than max_staleness, a new one finds it.
  res = resolve_fully(r, {555}, 0ms);
  EXPECT_THAT(res.holders.at(555), ElementsAre(100u, 300u));
}

TEST(ProcOwnersResolver, EmptyInodeListDoesNoIo) {
  OwnerResolver missing("/nonexistent/tcpfsm/proc");
  auto res = missing.resolve({}, 10s);
  EXPECT_TRUE(res.complete);
  EXPECT_EQ(res.error, 0);  // the root was never opened
  EXPECT_EQ(res.processes_scanned, 0u);
  EXPECT_EQ(res.fds_scanned, 0u);

  FakeProc proc;
  proc.add(1);
  proc.socket(1, 3, 555);
  OwnerResolver r(proc.root());
  res = r.resolve({}, 10s, 0ms);
  EXPECT_EQ(res.processes_scanned, 0u);
  EXPECT_THAT(res.holders, IsEmpty());
}

TEST(ProcOwnersResolver, MissingRootIsAnError) {
  OwnerResolver r("/nonexistent/tcpfsm/proc");
  const auto res = r.resolve({555}, 10s);
  EXPECT_EQ(res.error, ENOENT);
  EXPECT_THAT(res.holders, IsEmpty());
  EXPECT_EQ(r.process(1), std::nullopt);
}

TEST(ProcOwnersResolver, RemovedProcessDropsOut) {
  FakeProc proc;
  proc.add(100);
  proc.add(200);
  proc.socket(100, 3, 555);
  proc.socket(200, 3, 555);
  proc.socket(200, 4, 556);
  OwnerResolver r(proc.root());
  EXPECT_THAT(r.resolve({555, 556}, 10s).holders.at(555), ElementsAre(100u, 200u));
  ASSERT_TRUE(r.process(200).has_value());

  proc.remove(200);
  // Still within max_staleness: the cheap check of cached holders drops it.
  auto res = r.resolve({555}, 10s);
  EXPECT_EQ(res.processes_scanned, 0u);
  EXPECT_THAT(res.holders.at(555), ElementsAre(100u));
  res = r.resolve({556}, 10s);  // its only holder left: a rescan finds nobody
  EXPECT_TRUE(res.complete);
  EXPECT_FALSE(res.holders.contains(556));
  EXPECT_EQ(r.process(200), std::nullopt);
}

TEST(ProcOwnersResolver, PidReuseDropsCachedHolder) {
  FakeProc proc;
  proc.add(100);
  proc.socket(100, 3, 555);
  OwnerResolver r(proc.root());
  EXPECT_THAT(r.resolve({555}, 10s).holders.at(555), ElementsAre(100u));
  // The process exits and a new one gets pid 100, with a socket of its own.
  proc.unlink(100, 3);
  proc.socket(100, 5, 600);
  proc.set(100, {.start_time = 2000, .comm = "newcomer"});
  const auto res = r.resolve({555, 600}, 10s);
  EXPECT_FALSE(res.holders.contains(555));
  EXPECT_THAT(res.holders.at(600), ElementsAre(100u));
}

TEST(ProcOwnersResolver, ZeroBudgetMakesProgressAndCompletes) {
  FakeProc proc;
  constexpr uint32_t kProcs = 8;
  for (uint32_t pid = 1; pid <= kProcs; ++pid) {
    proc.add(pid);
    proc.link(pid, 0, "/dev/null");
  }
  proc.socket(5, 3, 555);
  OwnerResolver r(proc.root());
  size_t calls = 0, scanned = 0;
  OwnerResolver::Resolution res;
  do {
    res = r.resolve({555}, 0ms);
    ++calls;
    scanned += res.processes_scanned;
    EXPECT_TRUE(res.processes_scanned > 0 || res.complete) << "call " << calls << " made no progress";
    ASSERT_LE(calls, kProcs + 1);
  } while (!res.complete);
  EXPECT_GT(calls, 1u);
  EXPECT_EQ(scanned, kProcs);
  EXPECT_THAT(res.holders.at(555), ElementsAre(5u));
}

TEST(ProcOwnersResolver, LargeFdTableIsScannedAcrossCalls) {
  FakeProc proc;
  proc.add(9);
  constexpr int kFds = 500;
  for (int fd = 0; fd < kFds; ++fd) proc.socket(9, fd, 10000 + static_cast<uint32_t>(fd));
  OwnerResolver r(proc.root());
  size_t calls = 0, fds = 0;
  OwnerResolver::Resolution res;
  do {
    res = r.resolve({10000, 10499}, 0ms);
    ++calls;
    fds += res.fds_scanned;
    EXPECT_TRUE(res.fds_scanned > 0 || res.complete);  // the last call may only see the end of the pid list
    EXPECT_LT(res.fds_scanned, 100u);                  // paused mid-process, not held hostage by one big table
    ASSERT_LE(calls, 100u);
  } while (!res.complete);
  EXPECT_EQ(fds, static_cast<size_t>(kFds));
  EXPECT_THAT(res.holders.at(10000), ElementsAre(9u));
  EXPECT_THAT(res.holders.at(10499), ElementsAre(9u));
}

TEST(ProcOwnersResolver, ProcessFacts) {
  FakeProc proc;
  proc.add(42, {.start_time = 777,
                .comm = "my (odd) prog",
                .cmdline = std::string("/opt/app\0--x\0\0", 14),
                .uid = 0,
                .cgroup = "0::/system.slice/docker-" + kId + ".scope\n"});
  proc.add(
      43,
      {.comm = "kworker/0:1", .cmdline = "", .uid = 3999999999u, .cgroup = "12:cpu:/\n1:name=systemd:/user.slice\n"});
  OwnerResolver r(proc.root());
  const auto p = r.process(42);
  ASSERT_TRUE(p.has_value());
  EXPECT_EQ(p->pid, 42u);
  EXPECT_EQ(p->start_time, 777u);
  EXPECT_EQ(p->comm, "my (odd) prog");
  EXPECT_EQ(p->cmdline, "/opt/app --x");
  EXPECT_EQ(p->uid, 0u);
  EXPECT_EQ(p->user, "root");
  EXPECT_EQ(p->cgroup, "/system.slice/docker-" + kId + ".scope");
  EXPECT_EQ(p->container_id, kId);

  const auto k = r.process(43);
  ASSERT_TRUE(k.has_value());
  EXPECT_EQ(k->cmdline, "");
  EXPECT_EQ(k->uid, 3999999999u);
  EXPECT_EQ(k->user, "3999999999");
  EXPECT_EQ(k->cgroup, "/user.slice");
  EXPECT_EQ(k->container_id, "");

  EXPECT_EQ(r.process(44), std::nullopt);
}

TEST(ProcOwnersResolver, PidReuseInvalidatesFacts) {
  FakeProc proc;
  proc.add(42, {.start_time = 777, .comm = "old"});
  OwnerResolver r(proc.root());
  ASSERT_TRUE(r.process(42).has_value());
  EXPECT_EQ(r.process(42)->comm, "old");

  // Same start_time: the cached facts stand (comm changes by prctl are not tracked).
  std::ofstream(proc.dir(42) + "/comm") << "renamed\n";
  EXPECT_EQ(r.process(42)->comm, "old");

  proc.set(42, {.start_time = 778, .comm = "new", .uid = 65534});
  const auto p = r.process(42);
  ASSERT_TRUE(p.has_value());
  EXPECT_EQ(p->start_time, 778u);
  EXPECT_EQ(p->comm, "new");
  EXPECT_EQ(p->uid, 65534u);
}

// ---- the real /proc ----

TEST(ProcOwnersRealProc, FindsOwnSocket) {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  ASSERT_GE(fd, 0);
  struct stat st {};
  ASSERT_EQ(::fstat(fd, &st), 0);
  const auto inode = static_cast<uint32_t>(st.st_ino);

  OwnerResolver r;
  const auto res = resolve_fully(r, {inode});
  ::close(fd);
  EXPECT_EQ(res.error, 0);
  ASSERT_TRUE(res.holders.contains(inode));
  EXPECT_THAT(res.holders.at(inode), ElementsAre(static_cast<uint32_t>(::getpid())));

  char comm[17] = {};
  ASSERT_EQ(::prctl(PR_GET_NAME, comm), 0);
  const auto p = r.process(static_cast<uint32_t>(::getpid()));
  ASSERT_TRUE(p.has_value());
  EXPECT_EQ(p->comm, comm);
  EXPECT_EQ(p->uid, ::getuid());
  EXPECT_FALSE(p->user.empty());
  EXPECT_FALSE(p->cmdline.empty());
  EXPECT_GT(p->start_time, 0u);
}

}  // namespace
}  // namespace tcpfsm
