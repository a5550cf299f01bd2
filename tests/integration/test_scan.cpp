// Connects that do not get through, made for real: a process named as a
// scanner tries 30 addresses routed into a dead path (none answers), a
// client tries one backend behind the same dead path, and a healthy client
// connects 50 times on loopback. doctor names the scanner (pid, name, how
// many destinations) apart from the backend that is down, and not the
// healthy client.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/prctl.h>

#include <nlohmann/json.hpp>

#include "harness.hpp"

namespace tcpfsm::test {
namespace {

using nlohmann::json;

Fd connect_nonblocking(uint32_t addr, uint16_t port) {
  Fd c(socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0));
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(port);
  a.sin_addr.s_addr = htonl(addr);
  const int rc = connect(c.get(), reinterpret_cast<sockaddr*>(&a), sizeof(a));
  EXPECT_TRUE(rc == 0 || errno == EINPROGRESS) << strerror(errno);
  return c;
}

TEST(DoctorConnects, AScannerIsNamedApartFromABackendThatIsDown) {
  DeadPath path;
  ASSERT_TRUE(path.ok());
  path.cut();
  // 10.99.0.0/24 lies behind the far side, which does not forward: SYNs to it vanish.
  ASSERT_TRUE(sh("ip route add 10.99.0.0/24 via 10.77.0.2"));
  Fd lis = listen_loopback(AF_INET);
  const uint16_t port = local_port(lis.get());

  Binary bin({"doctor", "--json", "--observe", "3", "--netns", std::to_string(self_netns())});
  ASSERT_TRUE(bin.wait_for_err("watching for")) << bin.err_so_far();
  int ready[2];
  ASSERT_EQ(pipe(ready), 0);
  const pid_t scanner = fork_child([&] {
    prctl(PR_SET_NAME, "tcpfsm-scan");
    std::vector<Fd> keep;
    for (uint32_t i = 1; i <= 30; ++i) keep.push_back(connect_nonblocking(0x0a630000 + i, 22));  // 10.99.0.i
    if (write(ready[1], "x", 1) != 1) return 1;
    pause();
    return 0;
  });
  std::vector<Fd> backend;
  for (int i = 0; i < 8; ++i) backend.push_back(connect_nonblocking(0x0a4d0002, 7000));  // 10.77.0.2
  for (int i = 0; i < 50; ++i) one_connection(AF_INET, lis.get(), port);
  char c;
  ASSERT_EQ(read(ready[0], &c, 1), 1);
  EXPECT_EQ(ss_counts()[TCPFSM_SYN_SENT], 38u);

  Outcome r = bin.wait();
  kill(scanner, SIGKILL);
  wait_child(scanner);
  close(ready[0]);
  close(ready[1]);
  ASSERT_EQ(r.status, 1) << r.out << r.err;
  const json all = json::parse(r.out);
  const auto scan = findings_of(all, "syn_sent_scan");
  ASSERT_EQ(scan.size(), 1u) << r.out;
  std::string holder = "pid ";
  holder += std::to_string(scanner);
  holder += " (tcpfsm-scan, user root";
  EXPECT_THAT(scan[0]["title"].get<std::string>(), ::testing::HasSubstr(holder));
  EXPECT_THAT(scan[0]["title"].get<std::string>(), ::testing::HasSubstr("tried 30 destinations that did not answer"));
  EXPECT_THAT(scan[0]["evidence"][0].get<std::string>(),
              ::testing::HasSubstr("30 connects during the 3 s watched to 30 destinations (30 addresses, 1 ports): 0 "
                                   "established, 0 refused, 0 no answer, 0 unreachable, 0 given up by the process, 30 "
                                   "still in SYN_SENT"));
  EXPECT_EQ(scan[0]["evidence"][1],
            "first that did not answer: 10.99.0.1:22, 10.99.0.2:22, 10.99.0.3:22, "
            "10.99.0.4:22, 10.99.0.5:22");
  const auto down = findings_of(all, "syn_sent_unreachable");
  ASSERT_EQ(down.size(), 1u) << r.out;
  EXPECT_EQ(down[0]["title"], "connects to 10.77.0.2:7000 get no answer: a backend down or a dead path");
  EXPECT_THAT(down[0]["evidence"][0].get<std::string>(),
              ::testing::HasSubstr("8 connects to 10.77.0.2:7000 during the 3 s watched"));
  EXPECT_THAT(down[0]["evidence"][0].get<std::string>(), ::testing::HasSubstr("8 still in SYN_SENT"));
  std::string self = "(";
  self += std::to_string(getpid());
  self += ")";
  EXPECT_THAT(down[0]["evidence"][1].get<std::string>(), ::testing::HasSubstr(self));
  // The healthy client's 50 connects are in neither (one finding each, above).
}

}  // namespace
}  // namespace tcpfsm::test
