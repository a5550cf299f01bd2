// The recipe parser on what users paste: sysctl.conf lines, and the four
// seed posts' recipes verbatim (tests/fixtures/recipes), prose, several
// settings on one line and ranges written "1024-65000" included.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <fstream>
#include <map>
#include <sstream>

#include "diagnose/recipe.hpp"

namespace tcpfsm {
namespace {

std::string fixture(const std::string& name) {
  std::ifstream f(std::string(TCPFSM_FIXTURES) + "/recipes/" + name);
  EXPECT_TRUE(f) << name;
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

// setting -> value, the last one winning as in sysctl.
std::map<std::string, std::string> last_values(const Recipe& r) {
  std::map<std::string, std::string> out;
  for (const auto& s : r.settings) out[s.setting] = s.value;
  return out;
}

TEST(Recipe, SysctlConfLinesCommentsAndSlashNames) {
  const Recipe r = parse_recipe(
      "# a comment\n"
      "; another\n"
      "\n"
      "net.ipv4.tcp_fin_timeout = 30\n"
      "net/ipv4/tcp_tw_reuse=1   # trailing comment\n"
      "net.ipv4.ip_local_port_range = 1024\t65000\n"
      "net.ipv4.tcp_congestion_control = bbr\n"
      "sysctl -w net.core.somaxconn=4096\n"
      "net.ipv4.tcp_rmem = 4096 87380 -1\n");
  ASSERT_EQ(r.settings.size(), 6u);
  EXPECT_EQ(r.lines, 9u);
  EXPECT_EQ(r.skipped, 0u);
  EXPECT_EQ(r.settings[0].setting, "net.ipv4.tcp_fin_timeout");
  EXPECT_EQ(r.settings[0].value, "30");
  EXPECT_EQ(r.settings[0].line, 4u);
  EXPECT_EQ(r.settings[0].numbers, (std::vector<int64_t>{30}));
  EXPECT_EQ(r.settings[1].setting, "net.ipv4.tcp_tw_reuse");
  EXPECT_EQ(r.settings[1].value, "1");
  EXPECT_EQ(r.settings[2].value, "1024 65000");
  EXPECT_EQ(r.settings[2].numbers, (std::vector<int64_t>{1024, 65000}));
  EXPECT_EQ(r.settings[3].value, "bbr");
  EXPECT_TRUE(r.settings[3].numbers.empty());
  EXPECT_EQ(r.settings[4].setting, "net.core.somaxconn");
  EXPECT_EQ(r.settings[4].value, "4096");
  EXPECT_EQ(r.settings[5].numbers, (std::vector<int64_t>{4096, 87380, -1}));
}

TEST(Recipe, WhatIsNotASettingIsSkippedAndCounted) {
  const Recipe r = parse_recipe(
      "vim /etc/sysctl.conf\n"
      "net.ipv4.tcp_fin_timeout 修改系統默认的 TIMEOUT 时间\n"  // no '=': prose about a setting
      "net.ipv4.tcp_fin_timeout =\n"                            // nothing after '='
      "NET.IPV4.X = 1\n"                                        // sysctl names are lowercase
      "tcp_fin_timeout = 30\n"                                  // not a dotted name
      "a..b = 1\n");
  EXPECT_TRUE(r.settings.empty());
  EXPECT_EQ(r.skipped, 6u);
}

TEST(Recipe, ProseAfterAValueAndANumberRunIntoIt) {
  const Recipe r = parse_recipe(
      "net.ipv4.tcp_syncookies = 1 表示开启SYN Cookies。当出现SYN等待队列溢出时,默认为0,表示关闭;\n"
      "net.ipv4.tcp_fin_timeout=30修改系統默认的 TIMEOUT 时间。\n"
      "net.ipv4.tcp_tw_recycle = 0 <---- 不要开启tcp_tw_recycle,尤其是 NAT 下 net.ipv4.ip_local_port_range = 1024 "
      "65000\n");
  ASSERT_EQ(r.settings.size(), 4u);
  EXPECT_EQ(r.settings[0].value, "1");
  EXPECT_EQ(r.settings[1].setting, "net.ipv4.tcp_fin_timeout");
  EXPECT_EQ(r.settings[1].value, "30");
  EXPECT_EQ(r.settings[2].value, "0");
  EXPECT_EQ(r.settings[3].setting, "net.ipv4.ip_local_port_range");
  EXPECT_EQ(r.settings[3].value, "1024 65000");
  EXPECT_EQ(r.settings[3].line, 3u);
}

// Post 0: a recipe, its explanation (which repeats each setting, once run
// into prose) and a second recipe with comments between the lines.
TEST(Recipe, SeedPost0) {
  const Recipe r = parse_recipe(fixture("post0.conf"));
  EXPECT_EQ(r.settings.size(), 12u);  // 4, their 4 explanations, then 4 more
  EXPECT_EQ(last_values(r), (std::map<std::string, std::string>{{"net.ipv4.tcp_syncookies", "1"},
                                                                {"net.ipv4.tcp_tw_reuse", "1"},
                                                                {"net.ipv4.tcp_tw_recycle", "1"},
                                                                {"net.ipv4.tcp_fin_timeout", "30"},
                                                                {"net.ipv4.tcp_keepalive_time", "1200"},
                                                                {"net.ipv4.ip_local_port_range", "1024 65000"},
                                                                {"net.ipv4.tcp_max_syn_backlog", "8192"},
                                                                {"net.ipv4.tcp_max_tw_buckets", "5000"}}));
}

// Post 1: "//" prose between the lines, a setting commented out with '#'.
TEST(Recipe, SeedPost1) {
  const Recipe r = parse_recipe(fixture("post1.conf"));
  EXPECT_EQ(last_values(r), (std::map<std::string, std::string>{{"net.ipv4.tcp_syn_retries", "2"},
                                                                {"net.ipv4.tcp_keepalive_time", "1200"},
                                                                {"net.ipv4.tcp_orphan_retries", "3"},
                                                                {"net.ipv4.tcp_fin_timeout", "30"},
                                                                {"net.ipv4.tcp_max_syn_backlog", "4096"},
                                                                {"net.ipv4.tcp_syncookies", "1"},
                                                                {"net.ipv4.tcp_tw_reuse", "1"},
                                                                {"net.ipv4.tcp_tw_recycle", "1"},
                                                                {"net.ipv4.tcp_keepalive_probes", "5"},
                                                                {"net.core.netdev_max_backlog", "3000"}}));
  EXPECT_EQ(r.settings.size(), 10u);
}

// Post 2: line numbers of the blog's code box before the recipe; the
// explanation's last line names a setting without a value.
TEST(Recipe, SeedPost2) {
  const Recipe r = parse_recipe(fixture("post2.conf"));
  EXPECT_EQ(r.settings.size(), 7u);  // 4, then 3 explained with their values
  EXPECT_EQ(last_values(r), (std::map<std::string, std::string>{{"net.ipv4.tcp_syncookies", "1"},
                                                                {"net.ipv4.tcp_tw_reuse", "1"},
                                                                {"net.ipv4.tcp_tw_recycle", "1"},
                                                                {"net.ipv4.tcp_fin_timeout", "30"}}));
}

// Post 3: seven settings run together on one line, a range as
// "1024-65000", and 31 settings on one line ending in a comment arrow.
TEST(Recipe, SeedPost3) {
  const Recipe r = parse_recipe(fixture("post3.conf"));
  std::map<size_t, size_t> per_line;
  for (const auto& s : r.settings) ++per_line[s.line];
  EXPECT_EQ(per_line[4], 7u);
  EXPECT_EQ(per_line[24], 31u);
  const auto v = last_values(r);
  EXPECT_EQ(v.at("net.ipv4.ip_local_port_range"), "1024 65000");
  EXPECT_EQ(v.at("net.ipv4.tcp_timestamps"), "0");
  EXPECT_EQ(v.at("net.ipv4.tcp_tw_recycle"), "0");
  EXPECT_EQ(v.at("net.ipv4.tcp_mem"), "94500000 915000000 927000000");
  EXPECT_EQ(v.at("fs.file-max"), "1000000");
  EXPECT_EQ(v.at("net.ipv4.conf.lo.arp_announce"), "2");
  bool range_with_dash = false;
  for (const auto& s : r.settings) {
    if (s.value == "1024-65000") {
      range_with_dash = true;
      EXPECT_EQ(s.numbers, (std::vector<int64_t>{1024, 65000}));
    }
  }
  EXPECT_TRUE(range_with_dash);
}

}  // namespace
}  // namespace tcpfsm
