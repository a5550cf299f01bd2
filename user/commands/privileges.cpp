// Dropping capabilities once attached (see privileges.hpp).
#include "commands/privileges.hpp"

#include <linux/capability.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace tcpfsm {

Status keep_only_capabilities(std::initializer_list<int> keep) {
  __user_cap_header_struct hdr{_LINUX_CAPABILITY_VERSION_3, 0};
  __user_cap_data_struct data[2] = {};
  if (syscall(SYS_capget, &hdr, data) != 0) {
    return Error::runtime(std::string("cannot read capabilities: ") + std::strerror(errno), errno);
  }
  uint64_t want = 0;
  for (int c : keep) want |= uint64_t{1} << c;
  // The bounding set first: dropping from it needs CAP_SETPCAP, which goes next.
  for (int c = 0; c <= CAP_LAST_CAP; ++c) {
    if (!(want & (uint64_t{1} << c)) && prctl(PR_CAPBSET_READ, c, 0, 0, 0) == 1) {
      if (prctl(PR_CAPBSET_DROP, c, 0, 0, 0) != 0 && errno != EPERM) {
        return Error::runtime(std::string("cannot drop a capability from the bounding set: ") + std::strerror(errno),
                              errno);
      }
    }
  }
  prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0);
  for (int i = 0; i < 2; ++i) {
    const auto mask = static_cast<uint32_t>(want >> (32 * i));
    data[i].effective &= mask;
    data[i].permitted &= mask;
    data[i].inheritable = 0;
  }
  if (syscall(SYS_capset, &hdr, data) != 0) {
    return Error::runtime(std::string("cannot drop capabilities: ") + std::strerror(errno), errno);
  }
  return Ok{};
}

Status drop_to_live_capabilities() {
  return keep_only_capabilities({CAP_SYS_ADMIN, CAP_BPF, CAP_SYS_PTRACE, CAP_DAC_READ_SEARCH});
}

Status drop_all_capabilities() { return keep_only_capabilities({}); }

}  // namespace tcpfsm
