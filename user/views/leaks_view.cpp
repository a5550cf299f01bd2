// The leaks report as JSON and as text (see leaks_view.hpp).
#include "views/leaks_view.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <iterator>

#include "base/duration.hpp"
#include "model/tcp_state.hpp"

namespace tcpfsm {
namespace {

const char* holder_kind_name(HolderKind k) {
  switch (k) {
    case HolderKind::Process:
      return "process";
    case HolderKind::Orphaned:
      return "orphaned";
    case HolderKind::Unknown:
      return "unknown";
  }
  return "unknown";
}

double seconds(uint64_t ns) { return static_cast<double>(ns) / 1e9; }

}  // namespace

nlohmann::json leak_group_json(const LeakGroup& g) {
  using nlohmann::json;
  json peers = json::array();
  for (const auto& p : g.peers) peers.push_back({{"addr", p.addr}, {"port", p.port}, {"count", p.count}});
  json ports = json::array();
  for (const auto& p : g.local_ports) ports.push_back({{"port", p.port}, {"count", p.count}});
  const ProcessInfo* p = g.process ? &*g.process : nullptr;
  auto opt_str = [&](const std::string* s) { return s ? json(*s) : json(nullptr); };
  json j = {
      {"state", state_name(g.state)},
      {"owner", holder_kind_name(g.kind)},
      {"pid", p ? json(p->pid) : json(nullptr)},
      {"comm", opt_str(p ? &p->comm : nullptr)},
      {"cmdline", opt_str(p ? &p->cmdline : nullptr)},
      {"user", opt_str(p ? &p->user : nullptr)},
      {"uid", p ? json(p->uid) : json(nullptr)},
      {"cgroup", opt_str(p ? &p->cgroup : nullptr)},
      {"container", p && !p->container_id.empty() ? json(p->container_id) : json(nullptr)},
      {"via_listener", g.via_listener},
      {"count", g.count},
      {"oldest_s", seconds(g.oldest_ns)},
      {"median_s", seconds(g.median_ns)},
      {"newest_s", seconds(g.newest_ns)},
      {"ages_exact", g.ages_exact},
      {"growth_per_min", g.growth_per_min},
      {"recv_q_bytes", g.recv_q_bytes},
      {"retransmitting", g.no_ack.retransmitting},
      {"max_retransmits", g.no_ack.max_retransmits},
      {"zero_window", g.no_ack.zero_window},
      {"unacked_segments", g.no_ack.unacked_segments},
      {"send_q_bytes", g.no_ack.send_q_bytes},
      {"peers", std::move(peers)},
      {"distinct_peers", g.distinct_peers},
      {"local_ports", std::move(ports)},
      {"distinct_local_ports", g.distinct_local_ports},
      {"netns", g.netns},
  };
  return j;
}

nlohmann::json leaks_json(const LeakReport& r) {
  nlohmann::json out = nlohmann::json::array();
  for (const auto& g : r.groups) out.push_back(leak_group_json(g));
  return out;
}

namespace {

std::string peers_text(const LeakGroup& g) {
  std::string peers;
  for (const auto& p : g.peers) {
    if (!peers.empty()) peers += ", ";
    peers +=
        fmt::format("{}:{} ({})", p.addr.find(':') != std::string::npos ? "[" + p.addr + "]" : p.addr, p.port, p.count);
  }
  if (g.distinct_peers > g.peers.size()) peers += fmt::format(", +{} more", g.distinct_peers - g.peers.size());
  return peers;
}

// The line under a group's row: what else helps to find the leak.
std::string facts_text(const LeakGroup& g) {
  std::string facts;
  if (g.via_listener) facts += "not yet accepted (held in its listener's queue)  ";
  if (g.process && !g.process->cgroup.empty()) facts += "cgroup: " + g.process->cgroup + "  ";
  if (g.process && !g.process->container_id.empty())
    facts += "container: " + g.process->container_id.substr(0, 12) + "  ";
  if (!g.local_ports.empty()) {
    facts += "local ports:";
    for (const auto& p : g.local_ports) facts += fmt::format(" {} ({})", p.port, p.count);
    if (g.distinct_local_ports > g.local_ports.size())
      facts += fmt::format(" +{} more", g.distinct_local_ports - g.local_ports.size());
    facts += "  ";
  }
  if (g.recv_q_bytes) facts += fmt::format("unread: {} bytes  ", g.recv_q_bytes);
  if (const NoAckTally& n = g.no_ack; n.stalled()) {
    facts += fmt::format("no ACK: {} retransmitting (up to {} in a row), {} probing a zero window, ", n.retransmitting,
                         n.max_retransmits, n.zero_window);
    facts += fmt::format("{} segments unacknowledged, Send-Q {} bytes  ", n.unacked_segments, n.send_q_bytes);
  }
  while (!facts.empty() && facts.back() == ' ') facts.pop_back();
  return facts;
}

void group_rows(std::string& out, const LeakGroup& g) {
  auto it = std::back_inserter(out);
  std::string pid = "-", user = "-", comm;
  if (g.process) {
    pid = std::to_string(g.process->pid);
    user = g.process->user;
    comm = g.process->comm;
  } else {
    comm = g.kind == HolderKind::Orphaned ? "(orphaned)" : "(unknown)";
  }
  const char* mark = g.ages_exact ? "" : "~";
  fmt::format_to(it, "  {:>7} {:<10} {:<16} {:>6} {:>8} {:>8} {:>8} {:>6}  {}\n", pid, user, comm, g.count,
                 mark + human_duration(g.oldest_ns), mark + human_duration(g.median_ns),
                 mark + human_duration(g.newest_ns), g.growth_per_min, peers_text(g));
  if (g.process && !g.process->cmdline.empty()) fmt::format_to(it, "  {:>7} cmd: {}\n", "", g.process->cmdline);
  if (const std::string facts = facts_text(g); !facts.empty()) fmt::format_to(it, "  {:>7} {}\n", "", facts);
}

void footnotes(std::string& out, const LeakReport& r) {
  if (std::any_of(r.groups.begin(), r.groups.end(), [](const LeakGroup& g) { return !g.ages_exact; })) {
    out +=
        "\n~ some ages are lower bounds: sockets found already in their state are dated by the last ACK they\n"
        "  received (CLOSE_WAIT, FIN_WAIT2, CLOSING), by their retransmissions and backoff (FIN_WAIT1,\n"
        "  LAST_ACK, SYN_SENT, SYN_RECV) or timer (orphaned FIN_WAIT2), or by when tcpfsm first saw them.\n";
  }
  if (r.undated) {
    fmt::format_to(std::back_inserter(out),
                   "{} socket(s) found already in a stuck state cannot be dated yet (tcpfsm did not see them "
                   "enter it); --watch follows them.\n",
                   r.undated);
  }
  if (!r.owners_complete) out += "The owner scan of /proc did not finish in its time budget; the next pass goes on.\n";
  if (!r.owner_error.empty()) out += r.owner_error + ".\n";
}

}  // namespace

std::string leaks_text(const LeakReport& r, const LeakOptions& opts) {
  std::string out;
  auto it = std::back_inserter(out);
  const std::string min_age = human_duration(opts.min_age_ns);
  if (r.groups.empty()) {
    fmt::format_to(it, "No socket has been in {} for more than {}.\n", stuck_states_text(), min_age);
  }
  for (size_t i = 0; i < r.groups.size();) {
    const uint8_t state = r.groups[i].state;
    size_t j = i;
    uint64_t total = 0;
    while (j < r.groups.size() && r.groups[j].state == state) total += r.groups[j++].count;
    if (i) out += '\n';
    fmt::format_to(it, "{}: {} held for more than {}, by {}\n", state_name(state),
                   total == 1 ? std::string("1 socket") : fmt::format("{} sockets", total), min_age,
                   j - i == 1 ? std::string("1 holder") : fmt::format("{} holders", j - i));
    fmt::format_to(it, "  {:>7} {:<10} {:<16} {:>6} {:>8} {:>8} {:>8} {:>6}  {}\n", "PID", "USER", "COMM", "COUNT",
                   "OLDEST", "MEDIAN", "NEWEST", "+/MIN", "TOP PEERS");
    for (; i < j; ++i) group_rows(out, r.groups[i]);
  }
  footnotes(out, r);
  return out;
}

}  // namespace tcpfsm
