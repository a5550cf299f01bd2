// --by, --sort, --state, --top, --max-groups and --host-root (stats and serve).
#include "base/parse.hpp"
#include "cli/flags.hpp"
#include "model/tcp_state.hpp"

namespace tcpfsm::flags {
namespace {

constexpr const char* kGroup = "Groups (--by)";

Result<uint8_t> counted_state(std::string_view flag, std::string_view text) {
  const auto s = parse_state(text);
  GroupOptions any;
  if (!s || !any.counts(*s)) {
    return Error::usage(
        "invalid " + std::string(flag) + " " + single_quoted(text) +
        ": give a state groups count, e.g. ESTABLISHED, TIME_WAIT or CLOSE_WAIT (LISTEN is shown apart)");
  }
  return *s;
}

}  // namespace

void GroupFlags::add(CLI::App* cmd, bool with_table) {
  with_table_ = with_table;
  add_text(cmd, "--by", by_,
           "Group sockets by these keys, comma-separated: raddr, peer, lport, rport, laddr, process, comm, netns, "
           "cgroup, container, pod (implies --records)",
           "KEYS", kGroup);
  if (with_table) {
    add_text(cmd, "--sort", sort_, "Order groups by this state's column (default: the total)", "STATE", kGroup);
    add_text(cmd, "--state", states_, "Count only sockets in these states, comma-separated", "STATES", kGroup);
  }
  add_text(cmd, "--top", top_,
           with_table ? "Show the first N groups, the rest as one (others) row (default 20)"
                      : "Export the first N groups per grouped metric, the rest as \"other\" (default 20)",
           "N", kGroup);
  add_text(cmd, "--max-groups", max_groups_,
           "Track at most N groups; the sockets of any more are counted in (others) (default 10000)", "N", kGroup);
  add_text(cmd, "--host-root", host_root_,
           "Read /var/log/pods (pod and container names) under this directory, e.g. /host in a container", "DIR",
           kGroup);
}

Result<GroupOptions> GroupFlags::finish() const {
  GroupOptions g;
  if (by_.given()) {
    auto spec = parse_group_spec("--by", by_.value);
    if (!spec) return spec.error();
    g.spec = std::move(spec.value());
  }
  for (const Text* t : {&sort_, &states_, &top_, &max_groups_, &host_root_}) {
    if (t->given() && !by_.given()) return Error::usage(t->opt->get_name() + " needs --by: it shapes the groups");
  }
  if (states_.given()) {
    std::string_view rest = states_.value;
    for (;;) {
      const size_t comma = rest.find(',');
      auto s = counted_state("--state", rest.substr(0, comma));
      if (!s) return s.error();
      g.states |= 1U << s.value();
      if (comma == std::string_view::npos) break;
      rest.remove_prefix(comma + 1);
    }
  }
  if (sort_.given()) {
    auto s = counted_state("--sort", sort_.value);
    if (!s) return s.error();
    if (!g.counts(s.value()))
      return Error::usage("--sort " + sort_.value + " is not among --state " + states_.value + ": nothing to sort by");
    g.sort_state = s.value();
  }
  if (top_.given()) {
    auto n = parse_count("--top", top_.value, 100000);
    if (!n) return n.error();
    g.top = n.value();
  }
  if (max_groups_.given()) {
    auto n = parse_count("--max-groups", max_groups_.value, 10'000'000);
    if (!n) return n.error();
    if (n.value() == 0) return Error::usage("invalid --max-groups '0': give at least 1");
    g.max_groups = n.value();
  }
  if (host_root_.given()) {
    if (host_root_.value.empty()) return Error::usage("invalid --host-root '': give a directory");
    g.host_root = host_root_.value;  // checked by the command
  }
  return g;
}

}  // namespace tcpfsm::flags
