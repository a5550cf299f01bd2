// Each integration test process runs in a network namespace of its own, so
// no other traffic on the machine reaches its assertions: the tracer is
// filtered to this namespace, in the kernel.
#include <gtest/gtest.h>
#include <sched.h>
#include <unistd.h>

#include <cstdio>
#include <cstring>
#include <string>

#include "harness.hpp"

namespace {

bool listing_only(int argc, char** argv) {
  for (int i = 1; i < argc; ++i) {
    if (std::strcmp(argv[i], "--gtest_list_tests") == 0) return true;
  }
  return false;
}

}  // namespace

int main(int argc, char** argv) {
  testing::InitGoogleTest(&argc, argv);
  if (!listing_only(argc, argv)) {
    if (geteuid() != 0) {
      std::fprintf(stderr, "integration tests load BPF programs and create network namespaces: run them as root\n");
      return 1;
    }
    if (unshare(CLONE_NEWNET) != 0 || !tcpfsm::test::bring_up_loopback()) {
      std::fprintf(stderr, "cannot create a private network namespace: %s\n", std::strerror(errno));
      return 1;
    }
  }
  return RUN_ALL_TESTS();
}
