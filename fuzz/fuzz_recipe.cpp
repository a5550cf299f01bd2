// A sysctl recipe as `doctor --recipe` reads it (the first byte 0-127), or
// /proc/net/softnet_stat (128-255). A recipe is parsed, judged against a
// fixed host and rendered as text and JSON: every setting must keep a line
// within the recipe and a non-empty value, and nothing may crash or throw.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <string_view>

#include "diagnose/recipe.hpp"
#include "views/doctor_view.hpp"

namespace {

tcpfsm::DoctorInput host() {
  tcpfsm::DoctorInput in;
  in.after.sysctls = {{"net.ipv4.tcp_max_tw_buckets", "262144"},
                      {"net.ipv4.tcp_fin_timeout", "60"},
                      {"net.ipv4.tcp_timestamps", "1"},
                      {"net.ipv4.tcp_syn_retries", "6"},
                      {"net.ipv4.ip_local_port_range", "32768 60999"},
                      {"net.core.somaxconn", "4096"},
                      {"net.ipv4.tcp_orphan_retries", "0"},
                      {"net.ipv4.tcp_mem", "1 2 3"}};
  in.after.sockstat = {{"TCP.tw", 7000}, {"TCP.orphan", 3}};
  in.after.settings.local_port_range = {{32768, 60999}};
  tcpfsm::Observation o;
  o.seconds = 1;
  o.orphan_fin_wait2 = 2;
  o.destinations.push_back({"10.0.0.1", 80, 20000, 100, 1});
  o.listeners.push_back({"0.0.0.0", 8080, 10, 4096, 5});
  in.observation = o;
  in.interval_s = 1;
  in.before = in.after;
  in.after.counters["TcpExt.TCPSynRetrans"] = 5;
  return in;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace tcpfsm;
  if (size == 0) return 0;
  const size_t n = size - 1;
  std::unique_ptr<char[]> copy(new char[n ? n : 1]);
  if (n) std::memcpy(copy.get(), data + 1, n);
  const std::string_view text(copy.get(), n);
  if (data[0] >= 128) {
    (void)parse_softnet_dropped(text);
    return 0;
  }
  const Recipe r = parse_recipe(text);
  if (r.skipped > r.lines) std::abort();
  for (const auto& s : r.settings) {
    if (s.line == 0 || s.line > r.lines || s.value.empty() || s.setting.empty()) std::abort();
  }
  static const DoctorInput in = host();
  const auto verdicts = judge_recipe(r, in);
  if (verdicts.size() != r.settings.size()) std::abort();
  (void)recipe_text(r, verdicts, "fuzz", in);
  (void)recipe_json(r, verdicts, "fuzz", in).dump(2, ' ', false, nlohmann::json::error_handler_t::replace);
  return 0;
}
