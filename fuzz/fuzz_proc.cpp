// The /proc text parsers, and the Kubernetes names read from cgroup paths and
// log directories: the first byte picks one, the rest is the text.
// The text is copied to an exactly sized heap buffer so a read past the end
// of the string_view is caught by ASan.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>
#include <string_view>

#include "collect/pods.hpp"
#include "collect/proc_parse.hpp"
#include "diagnose/doctor.hpp"
#include "model/group_key.hpp"

namespace {

bool is_container_id(const std::string& id) {
  if (id.empty()) return true;
  if (id.size() != 64) return false;
  for (char c : id)
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  return true;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace tcpfsm;
  if (size == 0) return 0;
  const uint8_t which = data[0] % 13;
  const size_t n = size - 1;
  std::unique_ptr<char[]> copy(new char[n ? n : 1]);
  if (n) std::memcpy(copy.get(), data + 1, n);
  const std::string_view text(copy.get(), n);

  switch (which) {
    case 0:
      (void)parse_socket_link(text);
      break;
    case 1:
      (void)parse_stat_start_time(text);
      break;
    case 2:
      (void)parse_status_uid(text);
      break;
    case 3:
      (void)parse_cgroup_path(text);
      break;
    case 4:
      if (!is_container_id(container_id_of(text))) std::abort();
      break;
    case 5:
      if (!is_container_id(container_id_of_cgroup_file(text))) std::abort();
      break;
    case 6: {
      const std::string c = parse_cmdline(text);
      if (c.size() > n) std::abort();
      if (!c.empty() && (c.back() == ' ' || c.back() == '\0')) std::abort();
      if (c.find('\0') != std::string::npos) std::abort();
      break;
    }
    case 7:
      (void)parse_proc_netstat(text);
      break;
    case 8:
      (void)parse_sockstat(text);
      break;
    case 9: {
      const std::string uid = pod_uid_of(text);
      if (!uid.empty() && uid.size() != 36) std::abort();
      break;
    }
    case 10:
      if (const auto p = parse_pod_log_dir(text); p && (p->namespace_.empty() || p->uid.size() != 36)) std::abort();
      break;
    case 11:
      if (const auto c = parse_container_log_name(text); c && (c->container.empty() || c->id.size() != 64))
        std::abort();
      break;
    case 12:
      (void)parse_group_spec("--by", text);
      break;
  }
  return 0;
}
