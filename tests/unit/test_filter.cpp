// FilterSpec::matches on events and sockets, and the flag value parsers behind it.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "base/cgroup.hpp"
#include "base/parse.hpp"
#include "cli/values.hpp"
#include "model/filter.hpp"
#include "sample_events.hpp"

namespace tcpfsm {
namespace {

using samples::sample_v4;
using samples::sample_v6;
using samples::set_comm;
using ::testing::ElementsAre;
using ::testing::HasSubstr;

template <typename T>
void expect_usage(const Result<T>& r, const std::string& mention, const std::string& input) {
  ASSERT_FALSE(r.ok()) << "accepted '" << input << "'";
  EXPECT_EQ(r.error().kind, Error::Kind::Usage) << input;
  EXPECT_EQ(r.error().exit_status(), 2) << input;
  EXPECT_THAT(r.error().message, HasSubstr(mention)) << input;
}

// ---- parse_port_list

TEST(PortList, Good) {
  struct Case {
    const char* text;
    std::vector<uint16_t> want;
  };
  for (const Case& c : {Case{"80", {80}}, Case{"80,443", {80, 443}}, Case{"443,80", {80, 443}}, Case{"80,80", {80}},
                        Case{"443,22,443,80,22", {22, 80, 443}}, Case{"1,65535", {1, 65535}}}) {
    auto r = parse_port_list("-L", c.text);
    ASSERT_TRUE(r.ok()) << c.text << ": " << r.error().message;
    EXPECT_EQ(*r, c.want) << c.text;
  }
}

class BadPortList : public ::testing::TestWithParam<const char*> {};

TEST_P(BadPortList, UsageErrorNamingFlag) {
  expect_usage(parse_port_list("-L", GetParam()), "-L", GetParam());
  expect_usage(parse_port_list("--remoteport", GetParam()), "--remoteport", GetParam());
}

INSTANTIATE_TEST_SUITE_P(Bad, BadPortList,
                         ::testing::Values("", "0", "70000", "65536", "80,", ",80", "80,,443", "abc", "80;443", "-1",
                                           " 80", "80 ", "+80", "0x50", "99999999999999999999"));

// ---- parse_pid / parse_comm / parse_netns

TEST(Pid, Good) {
  auto r = parse_pid("1234");
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(*r, 1234u);
  EXPECT_EQ(parse_pid("1").value(), 1u);
}

TEST(Pid, Bad) {
  for (const char* s : {"abc", "0", "-5", "12x", "", "99999999999", " 12", "1.5"}) {
    expect_usage(parse_pid(s), "--pid", s);
  }
}

TEST(Comm, Good) {
  for (std::string s : {std::string("a"), std::string("nginx"), std::string(15, 'x')}) {
    auto r = parse_comm(s);
    ASSERT_TRUE(r.ok()) << s;
    EXPECT_EQ(*r, s);
  }
}

TEST(Comm, Bad) {
  expect_usage(parse_comm(""), "--comm", "");
  expect_usage(parse_comm(std::string(16, 'x')), "--comm", std::string(16, 'x'));
  expect_usage(parse_comm("waytoolongcommname"), "--comm", "waytoolongcommname");
}

TEST(Netns, Good) {
  for (const char* s : {"4026531840", "net:[4026531840]"}) {
    auto r = parse_netns("--netns", s);
    ASSERT_TRUE(r.ok()) << s;
    EXPECT_EQ(*r, 4026531840u) << s;
  }
}

TEST(Netns, Bad) {
  for (const char* s : {"net:[]", "abc", "0", "", "net:[0]", "net:[abc]", "net:[4026531840", "4026531840]",
                        "mnt:[4026531840]", "99999999999"}) {
    expect_usage(parse_netns("--netns", s), "--netns", s);
  }
}

// ---- cgroup_id_of

TEST(Cgroup, NonexistentPathIsUsageError) {
  expect_usage(cgroup_id_of("/nonexistent/path"), "--cgroup", "/nonexistent/path");
}

TEST(Cgroup, NonCgroup2PathIsUsageError) {
  expect_usage(cgroup_id_of("/tmp"), "--cgroup", "/tmp");
  EXPECT_THAT(cgroup_id_of("/tmp").error().message, HasSubstr("cgroup v2"));
}

// ---- FilterSpec::matches

TEST(Matches, EmptyFilterMatchesEverything) {
  FilterSpec f;
  EXPECT_TRUE(f.matches(sample_v4()));
  EXPECT_TRUE(f.matches(sample_v6()));
  Event unowned = sample_v4();
  unowned.pid = 0;
  unowned.comm = {};
  EXPECT_TRUE(f.matches(unowned));
}

TEST(Matches, Family) {
  FilterSpec v4;
  v4.family = AF_INET;
  FilterSpec v6;
  v6.family = AF_INET6;
  EXPECT_TRUE(v4.matches(sample_v4()));
  EXPECT_FALSE(v4.matches(sample_v6()));
  EXPECT_TRUE(v6.matches(sample_v6()));
  EXPECT_FALSE(v6.matches(sample_v4()));
}

TEST(Matches, Netns) {
  FilterSpec f;
  f.netns = sample_v4().netns;
  EXPECT_TRUE(f.matches(sample_v4()));
  EXPECT_FALSE(f.matches(sample_v6()));
}

TEST(Matches, LocalPorts) {
  FilterSpec f;
  f.lports = {22, 54321};
  EXPECT_TRUE(f.matches(sample_v4()));   // sport 54321
  EXPECT_FALSE(f.matches(sample_v6()));  // sport 8080
  f.lports = {443};                      // sample_v4's *remote* port
  EXPECT_FALSE(f.matches(sample_v4()));
}

TEST(Matches, RemotePorts) {
  FilterSpec f;
  f.dports = {443};
  EXPECT_TRUE(f.matches(sample_v4()));   // dport 443
  EXPECT_FALSE(f.matches(sample_v6()));  // dport 36000
  f.dports = {54321};                    // sample_v4's *local* port
  EXPECT_FALSE(f.matches(sample_v4()));
}

TEST(Matches, Pid) {
  FilterSpec f;
  f.pid = 1234;
  EXPECT_TRUE(f.matches(sample_v4()));
  EXPECT_FALSE(f.matches(sample_v6()));
  Event unowned = sample_v4();
  unowned.pid = 0;
  EXPECT_FALSE(f.matches(unowned));
}

TEST(Matches, Comm) {
  FilterSpec f;
  f.comm = "curl";
  EXPECT_TRUE(f.matches(sample_v4()));
  EXPECT_FALSE(f.matches(sample_v6()));  // nginx
  Event prefix = sample_v4();
  set_comm(prefix, "curly");
  EXPECT_FALSE(f.matches(prefix));
  f.comm = "cur";
  EXPECT_FALSE(f.matches(sample_v4()));
}

TEST(Matches, CommNeverMatchesUnownedEvent) {
  FilterSpec f;
  f.comm = "curl";
  Event e = sample_v4();
  e.pid = 0;  // comm set but owner unknown
  EXPECT_FALSE(f.matches(e));
}

TEST(Matches, Combination) {
  FilterSpec f;
  f.family = AF_INET;
  f.netns = 4026531840u;
  f.lports = {54321};
  f.dports = {80, 443};
  f.pid = 1234;
  f.comm = "curl";
  EXPECT_TRUE(f.matches(sample_v4()));

  // Each field on its own can veto.
  auto fails_with = [&](auto mutate) {
    Event e = sample_v4();
    mutate(e);
    return !f.matches(e);
  };
  EXPECT_TRUE(fails_with([](Event& e) { e.family = AF_INET6; }));
  EXPECT_TRUE(fails_with([](Event& e) { e.netns = 1; }));
  EXPECT_TRUE(fails_with([](Event& e) { e.sport = 54322; }));
  EXPECT_TRUE(fails_with([](Event& e) { e.dport = 8443; }));
  EXPECT_TRUE(fails_with([](Event& e) { e.pid = 1235; }));
  EXPECT_TRUE(fails_with([](Event& e) { set_comm(e, "wget"); }));
  EXPECT_FALSE(fails_with([](Event& e) { e.dport = 80; }));
}

TEST(Matches, ParsedPortsWorkWithMatches) {
  FilterSpec f;
  f.dports = parse_port_list("-D", "8443,443").value();
  EXPECT_THAT(f.dports, ElementsAre(443, 8443));
  EXPECT_TRUE(f.matches(sample_v4()));
}

}  // namespace
}  // namespace tcpfsm
