// What the command line names but only the system can check (commands/checks):
// each bad path is one usage line naming its flag; a namespace that does not
// exist is one runtime line. The parser itself never touches a file.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <fstream>
#include <string>

#include "cli/cli.hpp"
#include "commands/checks.hpp"

namespace tcpfsm {
namespace {

using ::testing::HasSubstr;

void expect_one_line(const Status& st, Error::Kind kind, const std::string& mention) {
  ASSERT_FALSE(st.ok()) << mention;
  EXPECT_EQ(st.error().kind, kind) << st.error().message;
  EXPECT_THAT(st.error().message, HasSubstr(mention));
  EXPECT_EQ(st.error().message.find('\n'), std::string::npos) << st.error().message;
}

TEST(Checks, CgroupThatIsNoCgroupDirectoryIsAUsageError) {
  for (const char* dir : {"/nonexistent", "/tmp"}) {
    // The parser keeps the path; the command resolves it.
    auto cl = parse_command_line({"trace", "--cgroup", dir});
    ASSERT_TRUE(cl.ok()) << cl.error().message;
    FilterSpec f = cl->command->trace.filter;
    EXPECT_EQ(f.cgroup_path, dir);
    expect_one_line(resolve_filter(f), Error::Kind::Usage, "--cgroup");
  }
}

// Where cgroup2 is mounted here (/sys/fs/cgroup, or .../unified on hybrid hosts).
std::string cgroup2_mount() {
  std::ifstream mounts("/proc/self/mounts");
  std::string dev, mnt, type, rest;
  while (mounts >> dev >> mnt >> type && std::getline(mounts, rest)) {
    if (type == "cgroup2") return mnt;
  }
  return "";
}

TEST(Checks, CgroupRootResolvesToItsId) {
  const std::string root = cgroup2_mount();
  ASSERT_FALSE(root.empty()) << "no cgroup2 mount";
  FilterSpec f;
  f.cgroup_path = root;
  ASSERT_TRUE(resolve_filter(f).ok());
  struct stat st {};
  ASSERT_EQ(stat(root.c_str(), &st), 0);
  EXPECT_EQ(f.cgroup_id, st.st_ino);
}

TEST(Checks, ReplayFileMustBeReadable) {
  expect_one_line(check_replay_file("/does/not/exist"), Error::Kind::Usage, "--replay");
  EXPECT_TRUE(check_replay_file("-").ok());
  EXPECT_TRUE(check_replay_file("/etc/hostname").ok());
}

TEST(Checks, RootDirectoriesMustBeDirectories) {
  expect_one_line(check_directory("--proc-root", "/does/not/exist"), Error::Kind::Usage, "--proc-root");
  expect_one_line(check_directory("--proc-root", "/etc/hostname"), Error::Kind::Usage, "--proc-root");
  EXPECT_TRUE(check_directory("--etc-root", "/etc").ok());
}

// An inode that is no namespace: every command refuses it with one line and
// exit status 1 (a typo must not look like an idle host).
TEST(Checks, NetnsThatDoesNotExistIsOneRuntimeLine) {
  FilterSpec f;
  f.netns = 1234;
  const Status st = resolve_filter(f);
  expect_one_line(st, Error::Kind::Runtime, "1234");
  EXPECT_EQ(st.error().exit_status(), 1);
}

TEST(Checks, OwnNetnsExists) {
  struct stat st {};
  ASSERT_EQ(stat("/proc/self/ns/net", &st), 0);
  FilterSpec f;
  f.netns = static_cast<uint32_t>(st.st_ino);
  EXPECT_TRUE(resolve_filter(f).ok());
}

}  // namespace
}  // namespace tcpfsm
