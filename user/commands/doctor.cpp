// `tcpfsm doctor`: reads the host's TCP settings and counters, watches the
// live traffic for --observe seconds (connections per destination from the
// ring buffer, then one sock_diag dump and a leak pass), and reports findings.
#include "diagnose/doctor.hpp"

#include <fcntl.h>
#include <fmt/format.h>
#include <spdlog/spdlog.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstring>
#include <fstream>
#include <map>
#include <thread>

#include "account/leak_finder.hpp"
#include "base/clock.hpp"
#include "base/output.hpp"
#include "collect/netns.hpp"
#include "collect/sock_diag.hpp"
#include "commands/checks.hpp"
#include "commands/commands.hpp"
#include "commands/privileges.hpp"
#include "commands/run_control.hpp"
#include "diagnose/recipe.hpp"
#include "kernel/preflight.hpp"
#include "kernel/tracer.hpp"
#include "views/doctor_view.hpp"

namespace tcpfsm {
namespace {

// Counts outgoing connection attempts per destination, and those that
// found no local port.
class ConnectCounter : public EventSink {
 public:
  void on_event(const Event& e) override {
    if (e.kind != EventKind::State) return;
    if (e.oldstate == TCPFSM_SYN_SENT && e.newstate == TCPFSM_CLOSE && e.cause == TCPFSM_CAUSE_NO_LOCAL_PORT)
      ++no_local_port[ConnectKey{e.family, e.daddr, e.dport}];
    watch.on_event(e);
    if (e.newstate != TCPFSM_SYN_SENT || e.oldstate == TCPFSM_SYN_SENT) return;
    ++connects[ConnectKey{e.family, e.daddr, e.dport}];
  }
  std::map<ConnectKey, uint64_t> connects, no_local_port;
  ConnectWatch watch;  // per process and destination, with how each ended
};

// read_host on a thread that entered network namespace `ino` (found at
// `paths`): net sysctls and /proc/thread-self/net are the reading thread's
// namespace's.
Result<HostSnapshot> read_in_netns(uint32_t ino, const std::vector<std::string>& paths,
                                   const std::vector<std::string>& sysctls) {
  Result<HostSnapshot> out = Error::runtime(
      fmt::format("network namespace {} is gone (no process or /run/netns entry leads to it any more)", ino));
  std::thread([&] {
    int err = 0;
    switch (enter_namespace(ino, paths, err)) {
      case Entered::Yes:
        out = read_host("/proc", "/proc/thread-self/net", sysctls);
        break;
      case Entered::Denied:
        out = Error::runtime(
            fmt::format("cannot enter network namespace {} to read its settings and counters: {}; run as root", ino,
                        strerror(err)));
        break;
      case Entered::Gone:
        break;
    }
  }).join();
  return out;
}

// The initial network namespace, where the host-wide sysctls are: kthreadd's
// (kernel threads never leave it), or pid 1's; nullopt when neither can be
// read (another pid namespace, or no permission).
std::optional<std::pair<uint32_t, std::string>> initial_netns() {
  std::ifstream comm("/proc/2/comm");
  std::string name;
  std::getline(comm, name);
  for (const char* path : {name == "kthreadd" ? "/proc/2/ns/net" : "/proc/1/ns/net", "/proc/1/ns/net"}) {
    struct stat st {};
    if (stat(path, &st) == 0) return std::pair{static_cast<uint32_t>(st.st_ino), std::string(path)};
  }
  return std::nullopt;
}

// Settings and counters of the namespace diagnosed: --netns's, or this
// process's own; a --proc-root copy is read as it is. Host-wide sysctls
// (net.core.netdev_max_backlog, net.ipv4.tcp_mem, ...) exist only in the
// initial namespace's /proc/sys: when the one diagnosed is another, they are
// read there.
Result<HostSnapshot> read_diagnosed(const DoctorOptions& opts, const std::vector<std::string>& sysctls) {
  if (opts.proc_root != "/proc") return read_host(opts.proc_root, "", sysctls);
  auto own = own_netns();
  if (!own) return own.error();
  const uint32_t target = opts.netns ? opts.netns : *own;
  Result<HostSnapshot> out = target == *own
                                 ? read_host(opts.proc_root, "", sysctls)
                                 : read_in_netns(target, find_namespaces(target, *own).paths[target], sysctls);
  if (!out || sysctls.empty()) return out;
  const auto init = initial_netns();
  if (init && init->first == target) return out;
  Result<HostSnapshot> host = Error::runtime("the initial network namespace cannot be read");
  if (init) {
    host = init->first == *own ? read_host(opts.proc_root, "", sysctls)
                               : read_in_netns(init->first, {init->second}, sysctls);
  }
  if (host)
    out.value().sysctls.insert(host.value().sysctls.begin(), host.value().sysctls.end());  // keeps its own
  else
    out.value().host_wide_sysctls = false;
  return out;
}

// The recipe's text: a file, or stdin for "-". Bounded: a recipe is a page,
// not a log.
Result<std::string> read_recipe(const std::string& path) {
  constexpr size_t kMaxRecipe = 1 << 20;
  const int fd = path == "-" ? STDIN_FILENO : open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0)
    return Error::usage(
        fmt::format("invalid --recipe '{}': {}; give a sysctl.conf-style file, or - for stdin", path, strerror(errno)));
  std::string text;
  char buf[65536];
  ssize_t n = 0;
  while ((n = read(fd, buf, sizeof buf)) > 0 || (n < 0 && errno == EINTR)) {
    if (n > 0) text.append(buf, static_cast<size_t>(n));
    if (text.size() > kMaxRecipe) break;
  }
  const int err = errno;
  if (fd != STDIN_FILENO) close(fd);
  if (n < 0)
    return Error::usage(
        fmt::format("invalid --recipe '{}': {}; give a sysctl.conf-style file, or - for stdin", path, strerror(err)));
  if (text.size() > kMaxRecipe)
    return Error::usage(fmt::format("invalid --recipe '{}': larger than 1 MiB; give the sysctl lines only", path));
  return text;
}

// The live half: traffic for --observe seconds, then what the kernel holds.
Status observe(const DoctorOptions& opts, const std::vector<std::string>& sysctls, DoctorInput& in) {
  if (auto st = preflight(TracerOptions::Mode::Events); !st) return st;
  TracerOptions topts;
  topts.filter.netns = opts.netns;
  auto tracer = Tracer::start(topts);
  if (!tracer) return tracer.error();
  if (auto st = drop_to_live_capabilities(); !st) spdlog::warn("{}", st.error().message);
  ConnectCounter counter;
  const auto t0 = std::chrono::steady_clock::now();
  const auto deadline = t0 + std::chrono::duration_cast<std::chrono::steady_clock::duration>(
                                 std::chrono::duration<double>(opts.observe_s));
  spdlog::info("watching for {:.0f} s ...", opts.observe_s);  // stderr: the JSON on stdout stays whole
  while (!stop_requested() && std::chrono::steady_clock::now() < deadline) {
    if (auto n = (*tracer)->poll(counter, kConsumerPollMs); !n) return n.error();
  }
  if (auto n = (*tracer)->poll(counter, 0); !n) return n.error();
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  auto after = read_diagnosed(opts, sysctls);
  if (!after) return after.error();
  in.after = after.value();
  in.interval_s = seconds;

  DumpRequest req;
  req.tcp_info = true;
  req.storage_map_fd = (*tracer)->sk_storage_map_fd();
  auto dump = dump_namespaces(opts.netns, req);
  if (!dump) return dump.error();
  LeakOptions lopts;
  lopts.min_age_ns = static_cast<uint64_t>(std::min(opts.observe_s, 10.0) * 1e9);
  know_timers(lopts, opts.netns);  // dates sockets found already stuck
  LeakFinder finder(lopts);
  ProcOwnerLookup owners(std::chrono::seconds(2));
  LeakReport leaks = finder.analyze(dump->sockets, monotonic_ns(), owners);
  if (!leaks.owner_error.empty()) spdlog::warn("{}", leaks.owner_error);
  auto counters = (*tracer)->counters();
  if (!counters) return counters.error();
  Observation o = summarize_observation(dump->sockets, counter.connects, seconds, std::move(leaks), lopts.min_age_ns,
                                        counter.no_local_port);
  o.events = counters->events;
  o.lost = counters->lost();
  o.connecting = counter.watch.processes();
  for (auto& p : o.connecting)
    if (p.failed_destinations > 0 && p.pid) p.process = owners.process(p.pid);
  keep_connect_destinations(o, counter.watch.destinations());
  o.connects_dropped = counter.watch.dropped();
  // Who keeps idle connections open: the leak pass looked up only stuck sockets' holders.
  o.idle_threshold_ms = static_cast<uint64_t>(opts.idle_after_s * 1e3);
  std::vector<uint32_t> inodes;
  for (const auto& r : dump->sockets)
    if (r.state == TCPFSM_ESTABLISHED && r.inode && r.data && r.data->idle_ms() >= o.idle_threshold_ms)
      inodes.push_back(r.inode);
  const auto held = owners.holders(inodes);
  o.idle = idle_groups(dump->sockets, held.pids, o.idle_threshold_ms);
  for (auto& g : o.idle)
    if (g.pid) g.process = owners.process(g.pid);
  in.observation = std::move(o);
  return Ok{};
}

}  // namespace

Result<int> run_doctor(const DoctorOptions& opts) {
  for (auto [flag, dir] : {std::pair{"--proc-root", &opts.proc_root}, std::pair{"--etc-root", &opts.etc_root}}) {
    if (auto st = check_directory(flag, *dir); !st) return st.error();
  }
  if (opts.netns) {
    if (auto st = require_netns(opts.netns); !st) return st.error();
  }
  std::optional<Recipe> recipe;
  if (!opts.recipe.empty()) {
    auto text = read_recipe(opts.recipe);
    if (!text) return text.error();
    recipe = parse_recipe(text.value());
    if (recipe->settings.empty())
      return Error::usage(
          fmt::format("invalid --recipe '{}': no setting in its {} lines; give sysctl.conf lines such as "
                      "'net.ipv4.tcp_fin_timeout = 30'",
                      opts.recipe, recipe->lines));
  }
  // A recipe's settings are judged (the rules' own are always read).
  const std::vector<std::string> sysctls = recipe ? recipe_sysctls(*recipe) : std::vector<std::string>{};
  DoctorInput in;
  in.tw_recycle_config = tw_recycle_mentions(opts.etc_root);
  auto before = read_diagnosed(opts, sysctls);
  if (!before) return before.error();
  in.before = before.value();
  in.after = in.before;
  // Files copied from another host describe no live traffic here.
  if (opts.proc_root == "/proc" && opts.observe_s > 0) {
    if (auto st = observe(opts, sysctls, in); !st) return st.error();
  }

  Output out(STDOUT_FILENO);
  if (recipe) {
    const auto verdicts = judge_recipe(*recipe, in);
    if (opts.json) {
      // A file name or a --proc-root copy's value need not be UTF-8.
      out.buffer() +=
          recipe_json(*recipe, verdicts, opts.recipe, in).dump(2, ' ', false, nlohmann::json::error_handler_t::replace);
      out.buffer() += '\n';
    } else {
      out.buffer() += recipe_text(*recipe, verdicts, opts.recipe, in);
    }
    out.flush();
    return recipe_exit_status(verdicts);
  }
  const auto findings = diagnose(in);
  if (opts.json) {
    out.buffer() += findings_json(findings).dump(2);
    out.buffer() += '\n';
  } else {
    out.buffer() += findings_text(findings, in);
  }
  out.flush();
  return doctor_exit_status(findings);
}

}  // namespace tcpfsm
