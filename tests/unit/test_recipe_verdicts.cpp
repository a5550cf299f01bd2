// doctor --recipe's verdicts on fixture hosts: what each judged setting does
// on Linux, and how the verdict follows the evidence (TIME_WAIT against
// tcp_max_tw_buckets, orphaned FIN_WAIT2 against tcp_fin_timeout, ports per
// destination against the range, listen() backlogs against somaxconn), the
// four seed posts' recipes whole, and a host copy read through --proc-root.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>

#include "diagnose/recipe.hpp"
#include "views/doctor_view.hpp"

namespace tcpfsm {
namespace {

namespace fs = std::filesystem;
using ::testing::HasSubstr;

// A Debian 12 host on Linux 6.18, as /proc/sys shows it (no tcp_tw_recycle).
DoctorInput debian_host() {
  DoctorInput in;
  in.after.sysctls = {{"net.ipv4.tcp_tw_reuse", "2"},
                      {"net.ipv4.tcp_timestamps", "1"},
                      {"net.ipv4.tcp_max_tw_buckets", "262144"},
                      {"net.ipv4.tcp_fin_timeout", "60"},
                      {"net.ipv4.ip_local_port_range", "32768 60999"},
                      {"net.ipv4.tcp_keepalive_time", "7200"},
                      {"net.ipv4.tcp_keepalive_intvl", "75"},
                      {"net.ipv4.tcp_keepalive_probes", "9"},
                      {"net.ipv4.tcp_syn_retries", "6"},
                      {"net.ipv4.tcp_synack_retries", "5"},
                      {"net.ipv4.tcp_orphan_retries", "0"},
                      {"net.ipv4.tcp_max_orphans", "131072"},
                      {"net.ipv4.tcp_max_syn_backlog", "2048"},
                      {"net.core.somaxconn", "4096"},
                      {"net.core.netdev_max_backlog", "1000"},
                      {"net.ipv4.tcp_syncookies", "1"},
                      {"net.ipv4.tcp_mem", "287907 383878 575814"},
                      {"vm.swappiness", "60"}};
  in.after.settings.local_port_range = {{32768, 60999}};
  in.after.sockstat = {{"TCP.tw", 0}, {"TCP.orphan", 0}, {"TCP.mem", 28}};
  in.after.softnet_dropped = 0;
  in.before = in.after;
  return in;
}

Observation watched(double seconds = 10) {
  Observation o;
  o.seconds = seconds;
  return o;
}

RecipeVerdict one(const std::string& line, const DoctorInput& in) {
  const auto v = judge_recipe(parse_recipe(line), in);
  EXPECT_EQ(v.size(), 1u) << line;
  return v.empty() ? RecipeVerdict{} : v[0];
}

std::string fixture(const std::string& name) {
  std::ifstream f(std::string(TCPFSM_FIXTURES) + "/recipes/" + name);
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

TEST(RecipeVerdicts, TwRecycleIsGoneOnThisKernelAndHarmfulWhereItExists) {
  DoctorInput in = debian_host();
  auto v = one("net.ipv4.tcp_tw_recycle = 1", in);
  EXPECT_EQ(v.verdict, Verdict::NoEffectHere);
  EXPECT_FALSE(v.current);
  EXPECT_THAT(v.why, HasSubstr("Linux 4.12 removed tcp_tw_recycle"));
  EXPECT_THAT(v.why, HasSubstr("NAT"));
  in.after.sysctls["net.ipv4.tcp_tw_recycle"] = "0";  // a kernel before 4.12
  EXPECT_EQ(one("net.ipv4.tcp_tw_recycle = 1", in).verdict, Verdict::Harmful);
  EXPECT_EQ(one("net.ipv4.tcp_tw_recycle = 0", in).verdict, Verdict::UnneededHere);
}

// The two hosts: 100,000 TIME_WAIT make the recipes' 5000 harmful,
// 50 make it unneeded, still explained.
TEST(RecipeVerdicts, MaxTwBucketsFollowsTheTimeWaitCount) {
  DoctorInput in = debian_host();
  in.after.sockstat["TCP.tw"] = 100000;
  auto v = one("net.ipv4.tcp_max_tw_buckets = 5000", in);
  EXPECT_EQ(v.verdict, Verdict::Harmful);
  EXPECT_THAT(v.why, HasSubstr("TIME_WAIT reached 100000 here"));
  EXPECT_THAT(v.why, HasSubstr("skip TIME_WAIT for 95000 closing connections"));
  EXPECT_EQ(v.current, "262144");

  in.after.sockstat["TCP.tw"] = 50;
  in.before.sockstat["TCP.tw"] = 50;
  v = one("net.ipv4.tcp_max_tw_buckets = 5000", in);
  EXPECT_EQ(v.verdict, Verdict::UnneededHere);
  EXPECT_THAT(v.why, HasSubstr("At most 50 TIME_WAIT here, below 5000: the limit never acts"));
  EXPECT_THAT(v.why, HasSubstr("it closes those connections without one"));

  // The live count beats the files: the dump saw more than sockstat did.
  in.observation = watched();
  in.observation->states[TCPFSM_TIME_WAIT] = 6000;
  EXPECT_EQ(one("net.ipv4.tcp_max_tw_buckets = 5000", in).verdict, Verdict::Harmful);

  // At the current limit, overflowing during the watch: raising it helps.
  in = debian_host();
  in.after.sysctls["net.ipv4.tcp_max_tw_buckets"] = "5000";
  in.after.sockstat["TCP.tw"] = 5000;
  in.after.counters["TcpExt.TCPTimeWaitOverflow"] = 30;
  in.interval_s = 10;
  EXPECT_EQ(one("net.ipv4.tcp_max_tw_buckets = 262144", in).verdict, Verdict::HelpsHere);
}

TEST(RecipeVerdicts, FinTimeoutBoundsOrphanedFinWait2NeverTimeWait) {
  DoctorInput in = debian_host();
  auto v = one("net.ipv4.tcp_fin_timeout = 30", in);  // files only
  EXPECT_EQ(v.verdict, Verdict::UnneededHere);
  EXPECT_THAT(v.why, HasSubstr("never shortens TIME_WAIT, which is 60 s fixed (TCP_TIMEWAIT_LEN)"));
  in.observation = watched();
  in.after.sockstat["TCP.tw"] = 3000;  // TIME_WAIT does not make it useful
  EXPECT_EQ(one("net.ipv4.tcp_fin_timeout = 30", in).verdict, Verdict::UnneededHere);
  in.observation->orphan_fin_wait2 = 12;
  v = one("net.ipv4.tcp_fin_timeout = 30", in);
  EXPECT_EQ(v.verdict, Verdict::HelpsHere);
  EXPECT_THAT(v.why, HasSubstr("They would go after 30 s instead of 60 s"));
  EXPECT_EQ(one("net.ipv4.tcp_fin_timeout = 120", in).verdict, Verdict::Harmful);
}

TEST(RecipeVerdicts, TimestampsOffIsHarmfulAndDisarmsTheRecipesOwnTwReuse) {
  DoctorInput in = debian_host();
  const auto v = judge_recipe(parse_recipe("net.ipv4.tcp_tw_reuse = 1\nnet.ipv4.tcp_timestamps = 0\n"), in);
  ASSERT_EQ(v.size(), 2u);
  EXPECT_EQ(v[0].verdict, Verdict::NoEffectHere);
  EXPECT_THAT(v[0].why, HasSubstr("line 2 of this recipe turns timestamps off"));
  EXPECT_EQ(v[1].verdict, Verdict::Harmful);
  EXPECT_THAT(v[1].why, HasSubstr("PAWS"));
  EXPECT_THAT(v[1].why, HasSubstr("this recipe's own tcp_tw_reuse (line 1) never applies"));
  EXPECT_EQ(one("net.ipv4.tcp_timestamps = 1", in).verdict, Verdict::UnneededHere);
  in.after.sysctls["net.ipv4.tcp_timestamps"] = "0";
  EXPECT_EQ(one("net.ipv4.tcp_timestamps = 1", in).verdict, Verdict::HelpsHere);
}

// Port supply is per destination: tw_reuse and a wider range help only when
// one destination holds a large share of the range.
TEST(RecipeVerdicts, PortSettingsFollowTheBusiestDestination) {
  DoctorInput in = debian_host();
  in.observation = watched();
  in.observation->destinations.push_back({"10.0.0.5", 80, 900, 300, 0});
  EXPECT_EQ(one("net.ipv4.tcp_tw_reuse = 1", in).verdict, Verdict::UnneededHere);
  EXPECT_EQ(one("net.ipv4.ip_local_port_range = 1024 65000", in).verdict, Verdict::UnneededHere);
  in.observation->destinations[0].time_wait = 20000;
  auto v = one("net.ipv4.tcp_tw_reuse = 1", in);
  EXPECT_EQ(v.verdict, Verdict::HelpsHere);
  EXPECT_THAT(v.evidence[0], HasSubstr("busiest destination 10.0.0.5:80: 20000 connects or TIME_WAIT of 28232"));
  EXPECT_EQ(one("net.ipv4.ip_local_port_range = 1024 65000", in).verdict, Verdict::HelpsHere);
  EXPECT_EQ(one("net.ipv4.ip_local_port_range = 50000 60000", in).verdict, Verdict::Harmful);
  // A listener that the new range covers is named: it risks its port at restart.
  in.observation->listeners.push_back({"0.0.0.0", 8080, 0, 511, 0});
  v = one("net.ipv4.ip_local_port_range = 1024 65000", in);
  EXPECT_THAT(v.evidence[1], HasSubstr("listening ports 8080 fall in the new range"));
  // The posts' "1024-65000": the kernel refuses it.
  v = one("net.ipv4.ip_local_port_range = 1024-65000", in);
  EXPECT_EQ(v.verdict, Verdict::NoEffectHere);
  EXPECT_THAT(v.why, HasSubstr("Invalid argument"));
}

TEST(RecipeVerdicts, KeepaliveActsOnlyOnSocketsThatAskForIt) {
  DoctorInput in = debian_host();
  in.observation = watched();
  in.observation->states[TCPFSM_ESTABLISHED] = 40;
  auto v = one("net.ipv4.tcp_keepalive_time = 1200", in);
  EXPECT_EQ(v.verdict, Verdict::NoEffectHere);
  EXPECT_THAT(v.evidence[1], HasSubstr("0 of 40 ESTABLISHED sockets have a keepalive timer"));
  in.observation->keepalive = 3;
  EXPECT_EQ(one("net.ipv4.tcp_keepalive_time = 1200", in).verdict, Verdict::HelpsHere);
}

TEST(RecipeVerdicts, QueuesFollowTheirOverflowCounters) {
  DoctorInput in = debian_host();
  in.observation = watched();
  in.interval_s = 10;
  in.observation->listeners.push_back({"0.0.0.0", 80, 4096, 4096, 0});
  EXPECT_EQ(one("net.core.somaxconn = 40240", in).verdict, Verdict::UnneededHere);
  in.after.counters["TcpExt.ListenOverflows"] = 500;
  EXPECT_EQ(one("net.core.somaxconn = 40240", in).verdict, Verdict::HelpsHere);
  EXPECT_EQ(one("net.core.somaxconn = 1024", in).verdict, Verdict::Harmful);
  EXPECT_EQ(one("net.ipv4.tcp_max_syn_backlog = 8192", in).verdict, Verdict::UnneededHere);
  in.after.counters["TcpExt.TCPReqQFullDoCookies"] = 20;
  EXPECT_EQ(one("net.ipv4.tcp_max_syn_backlog = 8192", in).verdict, Verdict::HelpsHere);
  EXPECT_EQ(one("net.core.netdev_max_backlog = 40240", in).verdict, Verdict::UnneededHere);
  in.after.softnet_dropped = 77;
  EXPECT_EQ(one("net.core.netdev_max_backlog = 40240", in).verdict, Verdict::HelpsHere);
  EXPECT_EQ(one("net.ipv4.tcp_syncookies = 0", in).verdict, Verdict::Harmful);
  EXPECT_EQ(one("net.ipv4.tcp_syncookies = 1", in).verdict, Verdict::UnneededHere);
}

TEST(RecipeVerdicts, UnknownMisspeltAndRefusedValues) {
  DoctorInput in = debian_host();
  auto v = one("vm.swappiness = 0", in);
  EXPECT_EQ(v.verdict, Verdict::UnknownSetting);
  EXPECT_EQ(v.current, "60");
  v = one("net.ipv4.tcp_fin_timout = 30", in);
  EXPECT_EQ(v.verdict, Verdict::NoEffectHere);
  EXPECT_THAT(v.evidence[0], HasSubstr("/proc/sys/net/ipv4/tcp_fin_timout does not exist"));
  v = one("net.ipv4.tcp_fin_timeout = soon", in);
  EXPECT_EQ(v.verdict, Verdict::NoEffectHere);
  EXPECT_THAT(v.why, HasSubstr("takes one integer"));
  // Host-wide settings read from a namespace that cannot see them: not judged as absent.
  in.after.sysctls.erase("net.ipv4.tcp_mem");
  in.after.host_wide_sysctls = false;
  EXPECT_EQ(one("net.ipv4.tcp_mem = 1 2 3", in).verdict, Verdict::UnknownSetting);
}

TEST(RecipeVerdicts, ALaterLineOverridesAnEarlierOne) {
  const auto v =
      judge_recipe(parse_recipe("net.ipv4.tcp_fin_timeout = 30\nnet.ipv4.tcp_fin_timeout = 20\n"), debian_host());
  ASSERT_EQ(v.size(), 2u);
  EXPECT_THAT(v[0].evidence.back(), HasSubstr("a later line of the recipe sets it again"));
  EXPECT_THAT(v[1].evidence.back(), ::testing::Not(HasSubstr("a later line")));
}

// The four posts' recipes verbatim: every setting gets a verdict, and the
// ones the issue names are right for this kernel.
TEST(RecipeVerdicts, EverySeedPostLineGetsAVerdict) {
  const DoctorInput in = debian_host();
  for (const char* post : {"post0.conf", "post1.conf", "post2.conf", "post3.conf"}) {
    const Recipe r = parse_recipe(fixture(post));
    const auto v = judge_recipe(r, in);
    ASSERT_EQ(v.size(), r.settings.size()) << post;
    ASSERT_FALSE(v.empty()) << post;
    for (const auto& x : v) {
      EXPECT_FALSE(x.why.empty()) << post << " " << x.line.setting;
      const std::map<std::string, Verdict> expected = {{"net.ipv4.tcp_tw_recycle", Verdict::NoEffectHere},
                                                       {"net.ipv4.tcp_max_tw_buckets", Verdict::UnneededHere},
                                                       {"net.ipv4.tcp_fin_timeout", Verdict::UnneededHere},
                                                       {"net.ipv4.tcp_timestamps", Verdict::Harmful}};
      if (auto it = expected.find(x.line.setting); it != expected.end()) {
        EXPECT_EQ(x.verdict, it->second) << post << " " << x.line.setting;
      }
    }
    EXPECT_EQ(recipe_exit_status(v), std::string(post) == "post3.conf" ? 1 : 0) << post;
    // Both views carry every verdict and the skipped lines.
    const auto j = recipe_json(r, v, post, in);
    EXPECT_EQ(j["verdicts"].size(), v.size());
    EXPECT_EQ(j["skipped_lines"], r.skipped);
    EXPECT_THAT(recipe_text(r, v, post, in), HasSubstr(std::to_string(r.skipped) + " lines not settings"));
  }
}

// --proc-root: the settings the recipe names and softnet_stat are read from
// the copy; a setting the copy lacks is absent.
TEST(RecipeVerdicts, AHostCopyIsReadThroughProcRoot) {
  char tpl[] = "/tmp/tcpfsm-recipe-XXXXXX";
  const std::string root = mkdtemp(tpl);
  fs::create_directories(root + "/sys/net/ipv4");
  fs::create_directories(root + "/net");
  std::ofstream(root + "/sys/net/ipv4/tcp_max_tw_buckets") << "262144\n";
  std::ofstream(root + "/sys/net/ipv4/ip_local_port_range") << "32768\t60999\n";
  std::ofstream(root + "/net/netstat") << "TcpExt: TCPTimeWaitOverflow\nTcpExt: 0\n";
  std::ofstream(root + "/net/snmp") << "Tcp: ActiveOpens\nTcp: 1\n";
  std::ofstream(root + "/net/sockstat") << "TCP: inuse 5 orphan 0 tw 100000 alloc 8 mem 1\n";
  std::ofstream(root + "/net/softnet_stat") << "0000ab12 00000003 00000000\n0000ab12 0000000a 00000001\n";
  const Recipe r = parse_recipe(
      "net.ipv4.tcp_max_tw_buckets = 5000\nnet.ipv4.ip_local_port_range = 1024 65000\n"
      "net.ipv4.tcp_fin_timeout = 30\n");
  auto host = read_host(root, "", recipe_sysctls(r));
  fs::remove_all(root);
  ASSERT_TRUE(host.ok()) << host.error().message;
  EXPECT_EQ(host.value().sysctls.at("net.ipv4.ip_local_port_range"), "32768 60999");
  EXPECT_FALSE(host.value().sysctls.count("net.ipv4.tcp_fin_timeout"));
  EXPECT_EQ(host.value().softnet_dropped, 13);
  DoctorInput in;
  in.before = in.after = host.value();
  const auto v = judge_recipe(r, in);
  ASSERT_EQ(v.size(), 3u);
  EXPECT_EQ(v[0].verdict, Verdict::Harmful);
  EXPECT_EQ(v[2].verdict, Verdict::NoEffectHere);  // the copy has no such file
}

TEST(RecipeVerdicts, SoftnetStatParsing) {
  EXPECT_EQ(parse_softnet_dropped("00000001 0000000f 0\n00000001 00000010 0\n"), 31);
  EXPECT_EQ(parse_softnet_dropped(""), std::nullopt);
  EXPECT_EQ(parse_softnet_dropped("zz\n00000001 xyz\n"), std::nullopt);
  EXPECT_EQ(parse_softnet_dropped("1 123456789\n"), std::nullopt);  // wider than the u32 column
}

}  // namespace
}  // namespace tcpfsm
