// `tcpfsm stats --by`: real sockets from several loopback addresses to two
// services, left in a mix of states; every group's counts must equal
// `ss -tan` grouped the same way, (others) must make the sums exact, and
// per-group lifetimes must be those the test held the sockets for.
#include <arpa/inet.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/stat.h>

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <sstream>
#include <thread>

#include "harness.hpp"
#include "model/tcp_state.hpp"

namespace tcpfsm::test {
namespace {

using namespace std::chrono_literals;
using nlohmann::json;

std::string netns_arg() { return std::to_string(self_netns()); }

// A connection to 127.0.0.1:port from `src` (127.0.0.x).
Fd connect_from(const char* src, uint16_t port) {
  Fd fd(socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  sockaddr_in a{};
  a.sin_family = AF_INET;
  inet_pton(AF_INET, src, &a.sin_addr);
  EXPECT_EQ(bind(fd.get(), reinterpret_cast<sockaddr*>(&a), sizeof(a)), 0) << strerror(errno);
  sockaddr_in d{};
  d.sin_family = AF_INET;
  d.sin_port = htons(port);
  d.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  EXPECT_EQ(connect(fd.get(), reinterpret_cast<sockaddr*>(&d), sizeof(d)), 0) << strerror(errno);
  return fd;
}

void wait_eof(int fd) {
  char c;
  while (read(fd, &c, 1) > 0) {
  }
}

// Sockets from 127.0.0.2 .. 127.0.0.9 to two services, in a mix of states
// that stays put while the test looks: ESTABLISHED, CLOSE_WAIT (the client
// closed, the server has not), FIN_WAIT2 (the client shut its side down),
// TIME_WAIT (the server closed first).
struct Mix {
  Fd a = listen_loopback(AF_INET), b = listen_loopback(AF_INET);
  std::vector<Fd> held;
  Mix() {
    const uint16_t pa = local_port(a.get()), pb = local_port(b.get());
    for (int i = 2; i <= 9; ++i) {
      const std::string src = "127.0.0." + std::to_string(i);
      for (int n = 0; n < i; ++n) {  // more sockets for later addresses: distinct counts per group
        held.push_back(connect_from(src.c_str(), n % 2 ? pa : pb));
        held.push_back(accept_one(n % 2 ? a.get() : b.get()));
      }
      // CLOSE_WAIT on the server, the client's orphan in FIN_WAIT2.
      Fd c = connect_from(src.c_str(), pa);
      Fd s = accept_one(a.get());
      c.reset();
      wait_eof(s.get());
      held.push_back(std::move(s));
      if (i % 2) continue;
      // FIN_WAIT2 on a client that keeps its fd, CLOSE_WAIT on the server.
      Fd h = connect_from(src.c_str(), pb);
      Fd hs = accept_one(b.get());
      shutdown(h.get(), SHUT_WR);
      wait_eof(hs.get());
      held.push_back(std::move(h));
      held.push_back(std::move(hs));
      // TIME_WAIT on the server.
      Fd t = connect_from(src.c_str(), pa);
      Fd ts = accept_one(a.get());
      ts.reset();
      wait_eof(t.get());
    }
    std::this_thread::sleep_for(300ms);  // the last FINs and ACKs
  }
};

// `ss -tanpH`, one entry per socket: state, local, peer, and the holder's pid (0: none).
struct SsLine {
  std::string state, local, peer;
  uint32_t pid = 0;
};
std::vector<SsLine> ss_lines() {
  std::vector<SsLine> out;
  FILE* p = popen("ss -tanpH", "r");
  char buf[4096];
  while (p && fgets(buf, sizeof(buf), p)) {
    std::istringstream in(buf);
    SsLine l;
    std::string rq, sq, users;
    in >> l.state >> rq >> sq >> l.local >> l.peer;
    std::getline(in, users);
    if (const size_t at = users.find("pid="); at != std::string::npos) l.pid = std::stoul(users.substr(at + 4));
    if (l.state != "LISTEN") out.push_back(l);
  }
  if (p) pclose(p);
  return out;
}

// ss's state names as tcpfsm's ("ESTAB" -> "ESTABLISHED").
std::string state_of(const std::string& ss) {
  static const std::map<std::string, std::string> kNames = {
      {"ESTAB", "ESTABLISHED"},     {"SYN-SENT", "SYN_SENT"},    {"SYN-RECV", "SYN_RECV"},
      {"FIN-WAIT-1", "FIN_WAIT1"},  {"FIN-WAIT-2", "FIN_WAIT2"}, {"TIME-WAIT", "TIME_WAIT"},
      {"CLOSE-WAIT", "CLOSE_WAIT"}, {"LAST-ACK", "LAST_ACK"},    {"CLOSING", "CLOSING"}};
  return kNames.at(ss);
}

std::string host_of(const std::string& hostport) { return hostport.substr(0, hostport.rfind(':')); }
std::string port_of(const std::string& hostport) { return hostport.substr(hostport.rfind(':') + 1); }

using Grouped = std::map<std::string, std::map<std::string, uint64_t>>;  // group -> state -> count

// What tcpfsm reported: group (its key as text) -> state -> count, plus (others).
Grouped groups_of(const json& report, const std::function<std::string(const json&)>& key_text) {
  Grouped g;
  for (const auto& row : report.at("groups")) {
    auto& states = g[key_text(row.at("key"))];
    for (const auto& [state, n] : row.at("states").items()) states[state] = n.get<uint64_t>();
  }
  for (const auto& [state, n] : report.at("others").at("states").items()) {
    if (n.get<uint64_t>()) g["(others)"][state] = n.get<uint64_t>();
  }
  return g;
}

json stats_by(const std::vector<std::string>& extra) {
  std::vector<std::string> args = {"stats", "--json", "--interval", "0", "--duration", "1.5", "--netns", netns_arg()};
  args.insert(args.end(), extra.begin(), extra.end());
  Binary bin(args);
  Outcome r = bin.wait();
  EXPECT_EQ(r.status, 0) << r.err;
  auto ls = lines(r.out);
  EXPECT_EQ(ls.size(), 1u) << r.out;
  return ls.empty() ? json::object() : json::parse(ls.back());
}

// The same over every namespace the binary can enter (no --netns).
json stats_by_everywhere(const std::vector<std::string>& extra) {
  std::vector<std::string> args = {"stats", "--json", "--interval", "0", "--duration", "1.5"};
  args.insert(args.end(), extra.begin(), extra.end());
  Binary bin(args);
  Outcome r = bin.wait();
  EXPECT_EQ(r.status, 0) << r.err;
  auto ls = lines(r.out);
  EXPECT_EQ(ls.size(), 1u) << r.out;
  return ls.empty() ? json::object() : json::parse(ls.back());
}

TEST(Groups, EveryGroupEqualsSsGroupedTheSameWay) {
  Mix mix;
  const auto ss = ss_lines();
  ASSERT_GT(ss.size(), 50u);
  struct Case {
    std::string by;
    std::function<std::string(const SsLine&)> ss_key;
    std::function<std::string(const json&)> key_text;
  };
  const std::vector<Case> cases = {
      {"raddr", [](const SsLine& l) { return host_of(l.peer); },
       [](const json& k) { return k.at("raddr").get<std::string>(); }},
      {"peer", [](const SsLine& l) { return l.peer; }, [](const json& k) { return k.at("peer").get<std::string>(); }},
      {"lport", [](const SsLine& l) { return port_of(l.local); },
       [](const json& k) { return std::to_string(k.at("lport").get<int>()); }},
      {"process", [](const SsLine& l) { return std::to_string(l.pid); },
       [](const json& k) {
         return k.at("process").is_null() ? "0" : std::to_string(k.at("process").at("pid").get<int>());
       }},
  };
  for (const auto& c : cases) {
    Grouped want;
    for (const auto& l : ss) ++want[c.ss_key(l)][state_of(l.state)];
    const json report = stats_by({"--by", c.by, "--top", "1000"});
    ASSERT_TRUE(report.contains("groups")) << report.dump();
    EXPECT_EQ(groups_of(report, c.key_text), want) << "--by " << c.by;
    EXPECT_EQ(report.at("by"), json::array({c.by}));
  }
}

TEST(Groups, OthersMakeEveryColumnAddUpToTheHostWideGauge) {
  Mix mix;
  const json report = stats_by({"--by", "raddr", "--top", "2"});
  ASSERT_EQ(report.at("groups").size(), 2u);
  EXPECT_EQ(report.at("others").at("groups"), 7u);  // 8 client addresses and 127.0.0.1, less the two shown
  for (const char* state : {"ESTABLISHED", "CLOSE_WAIT", "FIN_WAIT2", "TIME_WAIT"}) {
    uint64_t sum = report.at("others").at("states").value(state, 0);
    for (const auto& row : report.at("groups")) sum += row.at("states").value(state, 0);
    EXPECT_EQ(sum, report.at("states").at(state).get<uint64_t>()) << state;
  }
  // Worst first: the two largest totals.
  EXPECT_GE(report.at("groups")[0].at("total").get<uint64_t>(), report.at("groups")[1].at("total").get<uint64_t>());
}

// The seeds' second pipeline: netstat -nat | grep ESTABLISHED | awk '{print $5}' | awk -F: '{print $1}' | sort | uniq
// -c
TEST(Groups, EstablishedByRemoteAddressIsTheNetstatPipeline) {
  Mix mix;
  std::map<std::string, uint64_t> want;
  for (const auto& l : ss_lines()) {
    if (l.state == "ESTAB") ++want[host_of(l.peer)];
  }
  const json report = stats_by({"--by", "raddr", "--state", "ESTABLISHED"});
  std::map<std::string, uint64_t> got;
  for (const auto& row : report.at("groups")) {
    got[row.at("key").at("raddr").get<std::string>()] = row.at("total").get<uint64_t>();
    EXPECT_EQ(row.at("states").size(), 1u) << "only ESTABLISHED is counted";
  }
  EXPECT_EQ(got, want);
}

// Two peers whose connections the server holds in CLOSE_WAIT 1 s and 3 s.
TEST(Groups, PerGroupLifetimesAreWhatEachPeerWasHeld) {
  Binary bin({"stats", "--json", "--interval", "0", "--duration", "7", "--netns", netns_arg(), "--by", "raddr",
              "--sort", "CLOSE_WAIT"});
  std::this_thread::sleep_for(1s);  // attached
  Fd lis = listen_loopback(AF_INET);
  const uint16_t port = local_port(lis.get());
  std::vector<std::pair<Fd, std::chrono::milliseconds>> servers;
  for (int i = 0; i < 5; ++i) {
    for (auto [src, hold] : {std::pair{"127.0.0.2", 1000ms}, std::pair{"127.0.0.3", 3000ms}}) {
      Fd c = connect_from(src, port);
      Fd s = accept_one(lis.get());
      c.reset();
      wait_eof(s.get());
      servers.emplace_back(std::move(s), hold);
    }
  }
  const auto start = std::chrono::steady_clock::now();
  for (auto hold : {1000ms, 3000ms}) {
    std::this_thread::sleep_until(start + hold);
    for (auto& [fd, h] : servers) {
      if (h == hold) fd.reset();
    }
  }
  Outcome r = bin.wait();
  ASSERT_EQ(r.status, 0) << r.err;
  const json report = json::parse(lines(r.out).back());
  std::map<std::string, double> p50;
  for (const auto& row : report.at("groups")) {
    const auto& lt = row.at("lifetimes");
    if (lt.contains("CLOSE_WAIT")) p50[row.at("key").at("raddr")] = lt.at("CLOSE_WAIT").at("p50_ns").get<double>();
  }
  // The rows are the groups with sockets now; the peers' are in TIME_WAIT
  // or gone, so look in every group the report has: none dropped a record.
  ASSERT_TRUE(p50.count("127.0.0.2") || report.at("others").at("lifetimes").contains("CLOSE_WAIT")) << r.out;
  for (auto [peer, want] : {std::pair{"127.0.0.2", 1e9}, std::pair{"127.0.0.3", 3e9}}) {
    ASSERT_TRUE(p50.count(peer)) << peer << " has no CLOSE_WAIT lifetimes: " << r.out;
    EXPECT_NEAR(p50[peer], want, 0.1 * want) << peer;
  }
}

// Where cgroup2 is mounted here (/sys/fs/cgroup, or .../unified on hybrid hosts).
std::string cgroup2_root() {
  std::ifstream mounts("/proc/self/mounts");
  std::string dev, mnt, type, rest;
  while (mounts >> dev >> mnt >> type && std::getline(mounts, rest)) {
    if (type == "cgroup2") return mnt;
  }
  return "";
}

// A "pod": a process in a cgroup shaped like the kubelet's and in a network
// namespace of its own, holding `established` connections to itself and
// leaving `time_wait` TIME_WAIT sockets that no process holds.
struct Pod {
  std::string cgroup;  // the container's directory
  NetnsChild child;
  int ready[2] = {-1, -1}, done[2] = {-1, -1};
  Pod(const std::string& cgroup_dir, int established, int time_wait) : cgroup(cgroup_dir) {
    std::filesystem::create_directories(cgroup);
    EXPECT_EQ(pipe(ready), 0);
    EXPECT_EQ(pipe(done), 0);
    child = fork_in_new_netns([this, established, time_wait]() -> int {
      std::ofstream(cgroup + "/cgroup.procs") << getpid() << std::flush;
      Fd lis = listen_loopback(AF_INET);
      const uint16_t port = local_port(lis.get());
      std::vector<Fd> held;
      for (int i = 0; i < established; ++i) {
        held.push_back(connect_loopback(AF_INET, port));
        held.push_back(accept_one(lis.get()));
      }
      for (int i = 0; i < time_wait; ++i) one_connection(AF_INET, lis.get(), port);
      std::this_thread::sleep_for(200ms);
      char c = 'r';
      if (write(ready[1], &c, 1) != 1) return 1;
      if (read(done[0], &c, 1) < 0) return 2;
      return 0;
    });
    child.release();
    char c;
    EXPECT_EQ(read(ready[0], &c, 1), 1);
  }
  ~Pod() {
    if (write(done[1], "x", 1) != 1) ADD_FAILURE();
    EXPECT_EQ(wait_child(child.pid), 0);
    for (int fd : {ready[0], ready[1], done[0], done[1]}) close(fd);
    // The leaf, then its parents up to the cgroup2 root, as far as they are empty.
    for (std::filesystem::path d = cgroup; d.string().size() > cgroup2_root().size(); d = d.parent_path()) {
      if (rmdir(d.c_str()) != 0) break;
    }
  }
};

TEST(Groups, PodsFromTheKubeletsCgroupsAndLogDirectoriesWithTheirTimeWait) {
  const std::string root = cgroup2_root();
  ASSERT_FALSE(root.empty()) << "no cgroup2 mount";
  const std::string uid1 = "0b1e2a3c-4d5e-4f60-8a9b-0c1d2e3f4a5b", uid2 = "9f8e7d6c-5b4a-4392-8170-6f5e4d3c2b1a";
  const std::string cid1(64, 'a'), cid2(64, 'b');
  std::string uid1_ = uid1;
  std::replace(uid1_.begin(), uid1_.end(), '-', '_');
  // The kubelet's fixture: /var/log/pods and /var/log/containers under --host-root.
  const auto host = std::filesystem::temp_directory_path() / ("tcpfsm-host-" + std::to_string(getpid()));
  std::filesystem::create_directories(host / "var/log/pods" / ("shop_cart-7d9f_" + uid1) / "server");
  std::filesystem::create_directories(host / "var/log/pods" / ("kube-system_dns-5c4b_" + uid2) / "coredns");
  std::filesystem::create_directories(host / "var/log/containers");
  std::ofstream(host / "var/log/containers" / ("cart-7d9f_shop_server-" + cid1 + ".log"));
  {
    // The systemd driver's layout, and the cgroupfs driver's.
    Pod cart(root + "/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod" + uid1_ +
                 ".slice/cri-containerd-" + cid1 + ".scope",
             3, 2);
    Pod dns(root + "/kubepods/besteffort/pod" + uid2 + "/" + cid2, 1, 4);
    for (const char* by : {"pod", "container"}) {
      const json report = stats_by_everywhere({"--by", by, "--host-root", host.string(), "--top", "1000"});
      std::map<std::string, json> found;
      for (const auto& row : report.at("groups")) {
        const json& k = row.at("key").at(by);
        if (!k.is_null()) found[k.dump()] = row.at("states");
      }
      const json cart_key = std::string(by) == "pod" ? json{{"namespace", "shop"}, {"name", "cart-7d9f"}, {"uid", uid1}}
                                                     : json{{"id", cid1}, {"name", "server"}};
      const json dns_key = std::string(by) == "pod"
                               ? json{{"namespace", "kube-system"}, {"name", "dns-5c4b"}, {"uid", uid2}}
                               : json{{"id", cid2}, {"name", nullptr}};
      ASSERT_TRUE(found.count(cart_key.dump())) << by << ": " << report.at("groups").dump();
      ASSERT_TRUE(found.count(dns_key.dump())) << by << ": " << report.at("groups").dump();
      // Both ends of each connection are the pod's; its TIME_WAIT, held by no process, by its netns.
      EXPECT_EQ(found[cart_key.dump()], (json{{"ESTABLISHED", 6}, {"TIME_WAIT", 2}})) << by;
      EXPECT_EQ(found[dns_key.dump()], (json{{"ESTABLISHED", 2}, {"TIME_WAIT", 4}})) << by;
    }
  }
  std::filesystem::remove_all(host);
}

// A capture grouped by --replay gives the live groups, without root.
TEST(Groups, ReplayGroupsACaptureAsLiveStatsDoes) {
  Binary trace({"trace", "--json", "--duration", "3", "--netns", netns_arg()});
  Binary stats({"stats", "--json", "--interval", "0", "--duration", "3", "--netns", netns_arg(), "--by", "raddr"});
  std::this_thread::sleep_for(1s);
  Fd lis = listen_loopback(AF_INET);
  const uint16_t port = local_port(lis.get());
  for (auto [src, n] : {std::pair{"127.0.0.2", 3}, std::pair{"127.0.0.3", 2}}) {
    for (int i = 0; i < n; ++i) {
      Fd c = connect_from(src, port);
      Fd srv = accept_one(lis.get());
      srv.reset();  // the server closes first: its TIME_WAIT is the peer's group
      wait_eof(c.get());
    }
  }
  Outcome t = trace.wait(), live = stats.wait();
  ASSERT_EQ(t.status, 0) << t.err;
  ASSERT_EQ(live.status, 0) << live.err;
  char path[] = "/tmp/tcpfsm-capture-XXXXXX";
  const int fd = mkstemp(path);
  ASSERT_EQ(write(fd, t.out.data(), t.out.size()), static_cast<ssize_t>(t.out.size()));
  close(fd);
  chmod(path, 0644);
  Binary replay({"stats", "--replay", path, "--json", "--by", "raddr"}, 65534);  // no privileges needed
  Outcome r = replay.wait();
  unlink(path);
  ASSERT_EQ(r.status, 0) << r.err;
  auto text = [](const json& k) { return k.at("raddr").get<std::string>(); };
  const Grouped from_live = groups_of(json::parse(lines(live.out).back()), text);
  const Grouped from_capture = groups_of(json::parse(lines(r.out).back()), text);
  EXPECT_EQ(from_capture, from_live);
  EXPECT_EQ(from_capture.at("127.0.0.2").at("TIME_WAIT"), 3u);
  EXPECT_EQ(from_capture.at("127.0.0.3").at("TIME_WAIT"), 2u);
}

TEST(Groups, BadGroupFlagsAreOneLineAndExit2) {
  for (auto args : std::vector<std::vector<std::string>>{
           {"stats", "--by", "nonsense"},
           {"stats", "--by", "raddr,raddr"},
           {"stats", "--sort", "TIME_WAIT"},
           {"stats", "--by", "raddr", "--sort", "LISTEN"},
           {"stats", "--by", "raddr", "--state", "ESTABLISHED", "--sort", "TIME_WAIT"},
           {"stats", "--by", "raddr", "--top", "x"},
           {"stats", "--by", "raddr", "--max-groups", "0"},
           {"stats", "--hist", "BOGUS"},
           {"serve", "--top", "5"}}) {
    Binary bin(args);
    Outcome r = bin.wait();
    EXPECT_EQ(r.status, 2) << args[1] << " " << r.err;
    EXPECT_EQ(lines(r.err).size(), 1u) << r.err;
  }
}

}  // namespace
}  // namespace tcpfsm::test
