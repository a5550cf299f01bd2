// The groups table, its JSON, and histogram bars (see groups_view.hpp).
#include "views/groups_view.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <iterator>

#include "base/duration.hpp"
#include "model/event.hpp"
#include "model/tcp_state.hpp"

namespace tcpfsm {
namespace {

// The state columns, in the order the posts' netstat pipelines print them.
constexpr uint8_t kColumns[] = {TCPFSM_ESTABLISHED, TCPFSM_SYN_SENT,  TCPFSM_SYN_RECV,
                                TCPFSM_FIN_WAIT1,   TCPFSM_FIN_WAIT2, TCPFSM_TIME_WAIT,
                                TCPFSM_CLOSE_WAIT,  TCPFSM_LAST_ACK,  TCPFSM_CLOSING};

std::string bracketed(uint8_t family, const std::array<uint8_t, 16>& a) {
  if (family != AF_INET6) return format_addr(family, a);
  return fmt::format("[{}]", format_addr(family, a));
}

std::string or_dash(const std::string& s) { return s.empty() ? "-" : s; }

nlohmann::json or_null(const std::string& s) { return s.empty() ? nlohmann::json(nullptr) : nlohmann::json(s); }

std::string comm_of(const GroupKey& k) { return std::string(k.comm.data(), strnlen(k.comm.data(), k.comm.size())); }

std::string lifetime_cell(const SparseHistogram& h, double q) {
  return h.count() ? human_duration(q >= 1 ? h.max() : h.quantile(q)) : "-";
}

nlohmann::json lifetime_json(const SparseHistogram& h) {
  return {{"count", h.count()}, {"p50_ns", h.quantile(0.5)}, {"p99_ns", h.quantile(0.99)}, {"max_ns", h.max()}};
}

// "rst_received 12, fin 3 (+2)": the two most frequent causes of a group's
// closes, and how many more causes there were; "-" for none.
std::string closes_cell(const CloseCounts& c) {
  const auto causes = c.by_cause();
  if (causes.empty()) return "-";
  std::string out;
  for (size_t i = 0; i < causes.size() && i < 2; ++i)
    fmt::format_to(std::back_inserter(out), "{}{} {}", i ? ", " : "", cause_name(causes[i].first), causes[i].second);
  if (causes.size() > 2) fmt::format_to(std::back_inserter(out), " (+{})", causes.size() - 2);
  return out;
}

// {"ESTABLISHED": {"rst_received": 12}, ...}, as stats' "closes".
nlohmann::json closes_json(const CloseCounts& c) {
  nlohmann::json out = nlohmann::json::object();
  for (const auto& e : c.entries) out[std::string(state_name(e.from))][std::string(cause_name(e.cause))] = e.count;
  return out;
}

nlohmann::json connect_json(const ConnectRow& row) {
  nlohmann::json failed = nlohmann::json::object();
  for (const auto& [cause, n] : row.failed.by_cause()) failed[std::string(cause_name(cause))] = n;
  return {{"attempted", row.attempted},
          {"established", row.connects.established},
          {"failed", std::move(failed)},
          {"syn_retransmits", row.connects.syn_retransmits},
          {"latency", lifetime_json(row.connects.latency)}};
}

}  // namespace

std::string key_part_text(GroupBy by, const GroupKey& k, const Identity& id) {
  switch (by) {
    case GroupBy::Raddr:
      return format_addr(k.family, k.raddr);
    case GroupBy::Laddr:
      return format_addr(k.family, k.laddr);
    case GroupBy::Peer:
      return fmt::format("{}:{}", bracketed(k.family, k.raddr), k.rport);
    case GroupBy::Lport:
      return std::to_string(k.lport);
    case GroupBy::Rport:
      return std::to_string(k.rport);
    case GroupBy::Process:
      return k.pid ? fmt::format("{} {}", k.pid, comm_of(k)) : "(no process)";
    case GroupBy::Comm:
      return k.comm[0] ? comm_of(k) : "(no process)";
    case GroupBy::Netns:
      return std::to_string(k.netns);
    case GroupBy::Cgroup:
      return or_dash(id.cgroup);
    case GroupBy::Container:
      if (id.container_id.empty()) return "-";
      return id.container_name.empty() ? id.container_id.substr(0, 12)
                                       : fmt::format("{} ({})", id.container_id.substr(0, 12), id.container_name);
    case GroupBy::Pod:
      if (id.pod_uid.empty()) return "-";
      return id.pod_name.empty() ? id.pod_uid : fmt::format("{}/{}", id.pod_namespace, id.pod_name);
  }
  return "-";
}

nlohmann::json key_part_json(GroupBy by, const GroupKey& k, const Identity& id) {
  switch (by) {
    case GroupBy::Lport:
      return k.lport;
    case GroupBy::Rport:
      return k.rport;
    case GroupBy::Netns:
      return k.netns;
    case GroupBy::Process:
      if (!k.pid) return nullptr;
      return {{"pid", k.pid}, {"comm", comm_of(k)}};
    case GroupBy::Comm:
      return k.comm[0] ? nlohmann::json(comm_of(k)) : nlohmann::json(nullptr);
    case GroupBy::Cgroup:
      return or_null(id.cgroup);
    case GroupBy::Container:
      if (id.container_id.empty()) return nullptr;
      return {{"id", id.container_id}, {"name", or_null(id.container_name)}};
    case GroupBy::Pod:
      if (id.pod_uid.empty()) return nullptr;
      return {{"namespace", or_null(id.pod_namespace)}, {"name", or_null(id.pod_name)}, {"uid", id.pod_uid}};
    case GroupBy::Raddr:
    case GroupBy::Laddr:
    case GroupBy::Peer:
      return key_part_text(by, k, id);
  }
  return nullptr;
}

double GroupsView::rate(const GroupRow& row, uint8_t state, double interval_s) const {
  if (interval_s <= 0) return 0;
  const auto it = prev_.find(row.key);
  const uint64_t before = it == prev_.end() ? 0 : it->second[state];
  return row.entered[state] >= before ? static_cast<double>(row.entered[state] - before) / interval_s : 0;
}

void GroupsView::remember(const GroupReport& r) {
  prev_.clear();
  for (const auto& row : r.rows) prev_[row.key] = row.entered;
}

// Under the table: the listeners, what the bounds folded, what the holder
// scan could not do, and the histograms of the top groups.
static void footer(std::string& out, const GroupReport& r, uint8_t hist_state) {
  auto it = std::back_inserter(out);
  const GroupOptions& o = r.opts;
  for (const auto& l : r.listeners) {
    fmt::format_to(it, "LISTEN {}:{} netns {} accept queue {}/{}{}\n", bracketed(l.family, l.addr), l.port, l.netns,
                   l.accept_queue, l.backlog, l.pid ? fmt::format(" pid {} {}", l.pid, l.comm) : std::string());
  }
  if (r.folded_groups || r.folded_records) {
    fmt::format_to(it, "groups past --max-groups {}: {} socket states and {} records counted in (others)\n",
                   o.max_groups, r.folded_groups, r.folded_records);
  }
  if (!r.holders_complete) out += "the holder scan of /proc did not finish in its time budget; the next pass goes on\n";
  if (!r.owner_error.empty()) out += r.owner_error + "\n";
  if (!hist_state) return;
  for (const auto& row : r.rows) {
    if (!row.lifetimes[hist_state].count()) continue;
    std::string who;
    for (size_t i = 0; i < o.spec.keys.size(); ++i) {
      if (i) who += ' ';
      who += key_part_text(o.spec.keys[i], row.key, row.identity);
    }
    out += log2_hist_text(
        fmt::format("{} lifetimes of {}, {} sockets", state_name(hist_state), who, row.lifetimes[hist_state].count()),
        row.lifetimes[hist_state].log2_buckets());
  }
}

// The connects block: per group that connected out, how its connects went
// (stats' host-wide "connects" line, split by the --by keys).
static void connects_block(std::string& out, const GroupReport& r, const std::string& by) {
  if (r.connects.empty() && !r.connect_other_groups && !r.connect_others.attempted) return;
  const GroupOptions& o = r.opts;
  auto it = std::back_inserter(out);
  std::vector<std::vector<std::string>> keys;
  std::vector<size_t> widths;
  for (GroupBy k : o.spec.keys) widths.push_back(std::max<size_t>(group_by_name(k).size(), 8));
  for (const auto& row : r.connects) {
    std::vector<std::string> cells;
    for (size_t i = 0; i < o.spec.keys.size(); ++i) {
      cells.push_back(key_part_text(o.spec.keys[i], row.key, row.identity));
      widths[i] = std::max(widths[i], cells.back().size());
    }
    keys.push_back(std::move(cells));
  }
  fmt::format_to(it, "\nconnects by {}: {} groups connected out; latency: time in SYN_SENT of those established\n", by,
                 r.connects.size() + r.connect_other_groups);
  std::string header;
  for (size_t i = 0; i < o.spec.keys.size(); ++i)
    header += fmt::format("{:<{}} ", fmt::format("{}", group_by_name(o.spec.keys[i])), widths[i]);
  header += fmt::format("{:>9} {:>11} {:>7} {:>11} {:>8} {:>8} {:>8}   {}", "ATTEMPTED", "ESTABLISHED", "FAILED",
                        "SYN_RETRANS", "P50", "P99", "MAX", "FAILED BY");
  for (auto& c : header) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  out += header + "\n";
  auto line = [&](const std::vector<std::string>& cells, const ConnectRow& row) {
    std::string l;
    for (size_t i = 0; i < cells.size(); ++i) l += fmt::format("{:<{}} ", cells[i], widths[i]);
    const SparseHistogram& h = row.connects.latency;
    l += fmt::format("{:>9} {:>11} {:>7} {:>11} {:>8} {:>8} {:>8}   {}", row.attempted, row.connects.established,
                     row.failures(), row.connects.syn_retransmits, lifetime_cell(h, 0.5), lifetime_cell(h, 0.99),
                     lifetime_cell(h, 1), closes_cell(row.failed));
    out += l + "\n";
  };
  for (size_t i = 0; i < r.connects.size(); ++i) line(keys[i], r.connects[i]);
  const ConnectRow& others = r.connect_others;
  if (r.connect_other_groups || others.attempted || others.connects.established || others.failures()) {
    std::vector<std::string> cells(o.spec.keys.size(), "");
    if (!cells.empty()) cells[0] = "(others)";
    line(cells, others);
  }
}

std::string GroupsView::text(const GroupReport& r, double interval_s, uint8_t hist_state) {
  std::string out;
  auto it = std::back_inserter(out);
  const GroupOptions& o = r.opts;
  const uint8_t shown = o.shown_state();
  std::vector<std::vector<std::string>> keys;  // per row, per key part
  auto key_cells = [&](const GroupRow& row) {
    std::vector<std::string> cells;
    for (GroupBy by : o.spec.keys) cells.push_back(key_part_text(by, row.key, row.identity));
    return cells;
  };
  for (const auto& row : r.rows) keys.push_back(key_cells(row));
  std::vector<size_t> widths;
  for (GroupBy by : o.spec.keys) widths.push_back(std::max<size_t>(group_by_name(by).size(), 8));
  for (const auto& cells : keys)
    for (size_t i = 0; i < cells.size(); ++i) widths[i] = std::max(widths[i], cells[i].size());
  if (!widths.empty()) widths[0] = std::max<size_t>(widths[0], 8);  // "(others)"

  std::string by;
  for (GroupBy k : o.spec.keys) {
    if (!by.empty()) by += ',';
    by += group_by_name(k);
  }
  fmt::format_to(it, "\nby {}: {} groups with sockets{}; sorted by {}; IN/s and lifetimes of {}\n", by,
                 r.rows.size() + r.other_groups, r.gauges_known ? "" : " (counts: waiting for the first pass)",
                 o.sort_state ? std::string(state_name(o.sort_state)) : std::string("TOTAL"), state_name(shown));
  std::string header;
  for (size_t i = 0; i < o.spec.keys.size(); ++i)
    header += fmt::format("{:<{}} ", fmt::format("{}", group_by_name(o.spec.keys[i])), widths[i]);
  for (uint8_t s : kColumns)
    if (o.counts(s)) header += fmt::format("{:>11} ", state_name(s));
  header += fmt::format("{:>8} {:>8} {:>8} {:>8} {:>8}   {}", "TOTAL", "IN/s", "P50", "P99", "MAX", "CLOSED BY");
  for (auto& c : header) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  out += header + "\n";
  auto row_line = [&](const std::vector<std::string>& cells, const GroupRow& row, double in_per_s) {
    std::string line;
    for (size_t i = 0; i < cells.size(); ++i) line += fmt::format("{:<{}} ", cells[i], widths[i]);
    for (uint8_t s : kColumns)
      if (o.counts(s)) line += fmt::format("{:>11} ", row.states[s]);
    const SparseHistogram& h = row.lifetimes[shown];
    line += fmt::format("{:>8} {:>8.1f} {:>8} {:>8} {:>8}   {}", row.total, in_per_s, lifetime_cell(h, 0.5),
                        lifetime_cell(h, 0.99), lifetime_cell(h, 1), closes_cell(row.closes));
    out += line + "\n";
  };
  for (size_t i = 0; i < r.rows.size(); ++i) row_line(keys[i], r.rows[i], rate(r.rows[i], shown, interval_s));
  if (r.other_groups || r.others.total || r.folded_records) {
    std::vector<std::string> cells(o.spec.keys.size(), "");
    if (!cells.empty()) cells[0] = "(others)";
    const double others_rate = interval_s > 0 && r.others.entered[shown] >= prev_others_[shown]
                                   ? static_cast<double>(r.others.entered[shown] - prev_others_[shown]) / interval_s
                                   : 0;
    row_line(cells, r.others, others_rate);
  }
  connects_block(out, r, by);
  footer(out, r, hist_state);
  remember(r);
  prev_others_ = r.others.entered;
  return out;
}

nlohmann::json GroupsView::json(const GroupReport& r, double interval_s) {
  using nlohmann::json;
  const GroupOptions& o = r.opts;
  auto row_json = [&](const GroupRow& row, bool with_key, const StateCounts* prev) {
    json states = json::object(), rates = json::object(), lifetimes = json::object();
    for (uint8_t s = 1; s < TCPFSM_STATE_MAX; ++s) {
      const std::string name(state_name(s));
      if (row.states[s]) states[name] = row.states[s];
      const uint64_t before = prev ? (*prev)[s] : 0;
      if (interval_s > 0 && row.entered[s] > before)
        rates[name] = static_cast<double>(row.entered[s] - before) / interval_s;
      if (row.lifetimes[s].count()) lifetimes[name] = lifetime_json(row.lifetimes[s]);
    }
    json j = {{"states", std::move(states)},
              {"total", row.total},
              {"rates", std::move(rates)},
              {"lifetimes", std::move(lifetimes)},
              {"closes", closes_json(row.closes)}};
    if (with_key) {
      json key = json::object();
      for (GroupBy by : o.spec.keys) key[std::string(group_by_name(by))] = key_part_json(by, row.key, row.identity);
      j["key"] = std::move(key);
    }
    return j;
  };
  json groups = json::array();
  for (const auto& row : r.rows) {
    const auto it = prev_.find(row.key);
    groups.push_back(row_json(row, true, it == prev_.end() ? nullptr : &it->second));
  }
  json others = row_json(r.others, false, &prev_others_);
  others["groups"] = r.other_groups;
  json listeners = json::array();
  for (const auto& l : r.listeners) {
    listeners.push_back({{"addr", format_addr(l.family, l.addr)},
                         {"port", l.port},
                         {"netns", l.netns},
                         {"accept_queue", l.accept_queue},
                         {"backlog", l.backlog},
                         {"pid", l.pid ? json(l.pid) : json(nullptr)},
                         {"comm", or_null(l.comm)}});
  }
  json connects = json::array();
  for (const auto& row : r.connects) {
    json j = connect_json(row);
    json key = json::object();
    for (GroupBy k : o.spec.keys) key[std::string(group_by_name(k))] = key_part_json(k, row.key, row.identity);
    j["key"] = std::move(key);
    connects.push_back(std::move(j));
  }
  json connect_others = connect_json(r.connect_others);
  connect_others["groups"] = r.connect_other_groups;
  json by = json::array();
  for (GroupBy k : o.spec.keys) by.push_back(group_by_name(k));
  remember(r);
  prev_others_ = r.others.entered;
  return {{"by", std::move(by)},
          {"groups", std::move(groups)},
          {"others", std::move(others)},
          {"listeners", std::move(listeners)},
          // Not "connects": stats' host-wide object has that name.
          {"group_connects", std::move(connects)},
          {"group_connects_others", std::move(connect_others)},
          {"counts_known", r.gauges_known},
          {"folded", {{"socket_states", r.folded_groups}, {"records", r.folded_records}, {"max_groups", o.max_groups}}},
          {"owner_error", or_null(r.owner_error)}};
}

std::string log2_hist_text(std::string_view title, const std::vector<LifetimeHistogram::Log2Bucket>& buckets) {
  std::string out = fmt::format("\n{}\n", title);
  size_t first = buckets.size(), last = 0;
  uint64_t peak = 0;
  for (size_t i = 0; i < buckets.size(); ++i) {
    if (!buckets[i].count) continue;
    first = std::min(first, i);
    last = i;
    peak = std::max(peak, buckets[i].count);
  }
  if (first == buckets.size()) return out + "  (none)\n";
  out += fmt::format("  {:>19} : {:<8} {}\n", "range", "count", "distribution");
  constexpr int kWidth = 40;
  for (size_t i = first; i <= last; ++i) {
    const uint64_t lo = i == 0 ? 0 : buckets[i - 1].le_ns;
    const std::string hi = buckets[i].le_ns ? human_duration(buckets[i].le_ns) : std::string("inf");
    const int stars = static_cast<int>(buckets[i].count * kWidth / peak);
    fmt::format_to(std::back_inserter(out), "  {:>8} -> {:<8} : {:<8} |{:<{}}|\n", human_duration(lo), hi,
                   buckets[i].count, std::string(static_cast<size_t>(stars), '*'), kWidth);
  }
  return out;
}

}  // namespace tcpfsm
