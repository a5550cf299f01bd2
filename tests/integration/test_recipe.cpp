// `tcpfsm doctor --recipe` on a seed post's own recipe, judged against a
// private namespace whose TIME_WAIT and orphaned FIN_WAIT2 the test made:
// the verdicts that rest on evidence follow it, and every line gets one.
#include <fcntl.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sched.h>

#include <fstream>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>
#include <thread>

#include "diagnose/recipe.hpp"
#include "harness.hpp"

namespace tcpfsm::test {
namespace {

using nlohmann::json;

std::string read_file(const std::string& path) {
  std::ifstream f(path);
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

// A connection whose client closes first and alone: the client's side ends
// in TIME_WAIT, the server's is closed once the client's FIN arrived.
bool time_wait_connection(int lis, uint16_t port) {
  Fd client = connect_loopback(AF_INET, port);
  Fd server = accept_one(lis);
  client.reset();
  char b;
  if (read(server.get(), &b, 1) != 0) return false;
  return true;
}

struct Namespace {
  NetnsChild child;
  int done[2] = {-1, -1};
};

// A namespace with tcp_fin_timeout 45 (its own), `time_wait` client
// TIME_WAIT sockets and `orphans` orphaned FIN_WAIT2 (the client closed, the
// server holds its end open and never closes).
Namespace make_namespace(int time_wait, int orphans) {
  Namespace ns;
  int ready[2];
  if (pipe(ready) != 0 || pipe(ns.done) != 0) return ns;
  const int done_rd = ns.done[0];
  ns.child = fork_in_new_netns([=]() -> int {
    std::ofstream("/proc/sys/net/ipv4/tcp_fin_timeout") << "45" << std::flush;
    std::ofstream("/proc/sys/net/ipv4/tcp_max_tw_buckets") << "262144" << std::flush;
    Fd lis = listen_loopback(AF_INET);
    const uint16_t port = local_port(lis.get());
    for (int i = 0; i < time_wait; ++i)
      if (!time_wait_connection(lis.get(), port)) return 1;
    std::vector<Fd> held;
    for (int i = 0; i < orphans; ++i) {
      Fd client = connect_loopback(AF_INET, port);
      held.push_back(accept_one(lis.get()));
      client.reset();
      char b;
      if (read(held.back().get(), &b, 1) != 0) return 2;  // the FIN arrived: FIN_WAIT2 once it is ACKed
    }
    char c = 'r';
    if (write(ready[1], &c, 1) != 1) return 3;
    if (read(done_rd, &c, 1) < 0) return 4;
    return 0;
  });
  ns.child.release();
  char c;
  if (read(ready[0], &c, 1) != 1) ns.child.netns = 0;
  close(ready[0]);
  close(ready[1]);
  return ns;
}

// Runs doctor --recipe on post3 (the seed whose recipe has every setting on
// one line) against `ns`; returns the JSON and the exit status.
std::pair<json, int> judge(Namespace& ns, const std::string& recipe) {
  Binary bin({"doctor", "--json", "--observe", "1", "--netns", std::to_string(ns.child.netns), "--recipe", recipe});
  Outcome r = bin.wait();
  if (write(ns.done[1], "x", 1) != 1) ADD_FAILURE();
  EXPECT_EQ(wait_child(ns.child.pid), 0);
  for (int fd : ns.done) close(fd);
  EXPECT_TRUE(r.err.find("error") == std::string::npos) << r.err;
  json out;
  try {
    out = json::parse(r.out);
  } catch (const std::exception& e) {
    ADD_FAILURE() << e.what() << "\n" << r.out << r.err;
  }
  return {out, r.status};
}

std::vector<json> lines_of(const json& out, const std::string& setting) {
  std::vector<json> v;
  for (const auto& x : out["verdicts"])
    if (x["setting"] == setting) v.push_back(x);
  return v;
}

const std::string kPost3 = std::string(TCPFSM_FIXTURES) + "/recipes/post3.conf";

// 5,100 TIME_WAIT and 12 orphaned FIN_WAIT2 (timewait sockets too, counted
// by the same limit) against the recipe's tcp_max_tw_buckets = 5000: 112
// would be destroyed, so the line is harmful; the 12 orphans at the
// namespace's tcp_fin_timeout 45 make its 20 helpful.
TEST(DoctorRecipe, VerdictsFollowTheNamespacesOwnEvidence) {
  Namespace ns = make_namespace(5100, 12);
  ASSERT_NE(ns.child.netns, 0u);
  // The tests run in a namespace of their own, which has no host-wide
  // sysctls: read it where kthreadd is, the initial namespace.
  ASSERT_EQ(read_file("/proc/2/comm"), "kthreadd\n");
  std::string tcp_mem;
  std::thread([&] {
    Fd init(open("/proc/2/ns/net", O_RDONLY | O_CLOEXEC));
    if (init.get() < 0 || setns(init.get(), CLONE_NEWNET) != 0) return;
    std::istringstream in(read_file("/proc/sys/net/ipv4/tcp_mem"));
    for (std::string w; in >> w;) tcp_mem += (tcp_mem.empty() ? "" : " ") + w;
  }).join();
  ASSERT_FALSE(tcp_mem.empty());
  auto [out, status] = judge(ns, kPost3);
  ASSERT_TRUE(out.contains("verdicts")) << out.dump(2);
  EXPECT_EQ(status, 1);  // a harmful line

  // Every setting the recipe holds, on its line, with a verdict from the set.
  const Recipe recipe = parse_recipe(read_file(kPost3));
  ASSERT_EQ(out["verdicts"].size(), recipe.settings.size());
  ASSERT_EQ(recipe.settings.size(), 45u);
  const std::set<std::string> names = {"harmful", "no effect here", "unneeded here", "helps here", "unknown setting"};
  for (size_t i = 0; i < recipe.settings.size(); ++i) {
    const json& v = out["verdicts"][i];
    EXPECT_EQ(v["setting"], recipe.settings[i].setting);
    EXPECT_EQ(v["line"], recipe.settings[i].line);
    EXPECT_EQ(v["value"], recipe.settings[i].value);
    EXPECT_TRUE(names.count(v["verdict"].get<std::string>())) << v.dump();
    EXPECT_FALSE(v["why"].get<std::string>().empty());
  }
  EXPECT_EQ(out["lines"], recipe.lines);
  EXPECT_EQ(out["skipped_lines"], recipe.skipped);

  for (const auto& v : lines_of(out, "net.ipv4.tcp_max_tw_buckets")) {
    EXPECT_EQ(v["verdict"], "harmful") << v.dump(2);
    EXPECT_EQ(v["current"], "262144");
    // 5,100 TIME_WAIT and 12 orphaned FIN_WAIT2: the limit counts both.
    EXPECT_THAT(v["why"].get<std::string>(), ::testing::HasSubstr("TIME_WAIT reached 5112 here"));
    EXPECT_THAT(v["why"].get<std::string>(), ::testing::HasSubstr("for 112 closing connections"));
  }
  const auto fin = lines_of(out, "net.ipv4.tcp_fin_timeout");
  ASSERT_EQ(fin.size(), 1u);
  EXPECT_EQ(fin[0]["verdict"], "helps here") << fin[0].dump(2);
  EXPECT_EQ(fin[0]["current"], "45");  // the namespace's own, not the host's
  EXPECT_THAT(fin[0]["evidence"].dump(), ::testing::HasSubstr("12 orphaned FIN_WAIT2"));
  EXPECT_THAT(fin[0]["why"].get<std::string>(), ::testing::HasSubstr("never shortens TIME_WAIT"));
  for (const auto& v : lines_of(out, "net.ipv4.tcp_tw_recycle")) {
    EXPECT_EQ(v["verdict"], "no effect here");
    EXPECT_TRUE(v["current"].is_null());
  }
  for (const auto& v : lines_of(out, "net.ipv4.tcp_timestamps")) EXPECT_EQ(v["verdict"], "harmful");
  // The same recipe turns timestamps off, so its tcp_tw_reuse never applies.
  for (const auto& v : lines_of(out, "net.ipv4.tcp_tw_reuse")) EXPECT_EQ(v["verdict"], "no effect here");
  // "1024-65000": the kernel refuses it.
  for (const auto& v : lines_of(out, "net.ipv4.ip_local_port_range")) {
    if (v["value"] == "1024-65000") {
      EXPECT_EQ(v["verdict"], "no effect here");
    }
  }
  // Host-wide settings exist only in the initial namespace: read there.
  const auto mem = lines_of(out, "net.ipv4.tcp_mem");
  ASSERT_EQ(mem.size(), 1u);
  EXPECT_EQ(mem[0]["current"], tcp_mem);
  EXPECT_NE(mem[0]["verdict"], "no effect here");
  for (const auto& v : lines_of(out, "vm.swappiness")) EXPECT_EQ(v["verdict"], "unknown setting");
}

// The healthy control: 50 TIME_WAIT and no orphan. tcp_max_tw_buckets =
// 5000 is unneeded here, and still explained; tcp_fin_timeout too.
TEST(DoctorRecipe, AHealthyNamespaceNeedsNoneOfIt) {
  Namespace ns = make_namespace(50, 0);
  ASSERT_NE(ns.child.netns, 0u);
  auto [out, status] = judge(ns, kPost3);
  ASSERT_TRUE(out.contains("verdicts")) << out.dump(2);
  EXPECT_EQ(status, 1);  // tcp_timestamps = 0 is harmful anywhere
  for (const auto& v : lines_of(out, "net.ipv4.tcp_max_tw_buckets")) {
    EXPECT_EQ(v["verdict"], "unneeded here") << v.dump(2);
    EXPECT_THAT(v["why"].get<std::string>(), ::testing::HasSubstr("At most 50 TIME_WAIT here, below 5000"));
    EXPECT_THAT(v["why"].get<std::string>(), ::testing::HasSubstr("it closes those connections without one"));
  }
  const auto fin = lines_of(out, "net.ipv4.tcp_fin_timeout");
  ASSERT_EQ(fin.size(), 1u);
  EXPECT_EQ(fin[0]["verdict"], "unneeded here");
  EXPECT_THAT(fin[0]["evidence"].dump(), ::testing::HasSubstr("0 orphaned FIN_WAIT2"));
  EXPECT_EQ(out["verdict_counts"]["helps here"], 0);
}

}  // namespace
}  // namespace tcpfsm::test
