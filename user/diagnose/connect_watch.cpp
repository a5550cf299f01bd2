// ConnectWatch (see connect_watch.hpp).
#include "diagnose/connect_watch.hpp"

#include <fmt/format.h>
#include <sys/socket.h>

#include <algorithm>

namespace tcpfsm {
namespace {

// How a connect that closed from SYN_SENT failed, into `o`.
void count_close(ConnectOutcomes& o, uint8_t cause) {
  switch (cause) {
    case TCPFSM_CAUSE_REFUSED:
      ++o.refused;
      break;
    case TCPFSM_CAUSE_SYN_TIMEOUT:
    case TCPFSM_CAUSE_TIMEOUT:
      ++o.no_answer;
      break;
    case TCPFSM_CAUSE_UNREACHABLE:
      ++o.unreachable;
      break;
    case TCPFSM_CAUSE_CONNECT_ABORTED:
      ++o.abandoned;
      break;
    default:
      ++o.other;
  }
}

std::string dest_text(uint8_t family, const std::array<uint8_t, 16>& addr, uint16_t port) {
  const std::string a = format_addr(family, addr);
  return family == AF_INET6 ? fmt::format("[{}]:{}", a, port) : fmt::format("{}:{}", a, port);
}

}  // namespace

void ConnectWatch::on_event(const Event& e) {
  if (e.kind != EventKind::State) return;
  if (e.newstate == TCPFSM_SYN_SENT && e.oldstate != TCPFSM_SYN_SENT) {
    const Dest d{e.family, e.daddr, e.dport};
    Proc& p = procs_[e.pid];
    if (p.comm.empty()) p.comm = std::string(e.comm_view());
    if (!p.reached.count(d)) {
      if (p.reached.size() >= kMaxDestinations) {
        p.folded = true;
        ++dropped_;
        return;
      }
      p.reached[d] = false;
      p.order.push_back(d);
    }
    if (in_flight_.size() >= kMaxInFlight) {
      ++dropped_;
      return;
    }
    ++p.outcomes.attempts;
    ++dests_[d].attempts;
    if (dest_procs_[d].size() < 8) dest_procs_[d].insert({p.comm, e.pid});
    in_flight_[e.cookie] = Attempt{e.pid, d};
    return;
  }
  if (e.oldstate == TCPFSM_SYN_SENT && e.newstate != TCPFSM_SYN_SENT) ended(e.cookie, e);
}

void ConnectWatch::ended(uint64_t cookie, const Event& e) {
  auto it = in_flight_.find(cookie);
  if (it == in_flight_.end()) return;  // began before the watch
  const Attempt a = it->second;
  in_flight_.erase(it);
  Proc& p = procs_[a.pid];
  ConnectOutcomes& d = dests_[a.dest];
  if (e.newstate == TCPFSM_ESTABLISHED) {
    ++p.outcomes.established;
    ++d.established;
    p.reached[a.dest] = true;
  } else {
    count_close(p.outcomes, e.cause);
    count_close(d, e.cause);
  }
}

std::vector<ProcessConnects> ConnectWatch::processes() const {
  std::map<uint32_t, uint64_t> pending;
  for (const auto& [cookie, a] : in_flight_) ++pending[a.pid];
  std::vector<ProcessConnects> out;
  for (const auto& [pid, p] : procs_) {
    ProcessConnects c;
    c.pid = pid;
    c.comm = p.comm;
    c.outcomes = p.outcomes;
    c.outcomes.pending = pending.count(pid) ? pending.at(pid) : 0;
    c.destinations = p.reached.size();
    c.folded = p.folded;
    std::set<std::pair<uint8_t, std::array<uint8_t, 16>>> addrs;
    std::set<uint16_t> ports;
    for (const auto& d : p.order) {
      const auto& [fam, addr, port] = d;
      addrs.insert({fam, addr});
      ports.insert(port);
      if (p.reached.at(d)) continue;
      ++c.failed_destinations;
      if (c.sample.size() < 5) c.sample.push_back(dest_text(fam, addr, port));
    }
    c.addresses = addrs.size();
    c.ports = ports.size();
    out.push_back(std::move(c));
  }
  std::stable_sort(out.begin(), out.end(),
                   [](const auto& a, const auto& b) { return a.failed_destinations > b.failed_destinations; });
  return out;
}

std::vector<DestinationConnects> ConnectWatch::destinations() const {
  std::map<Dest, uint64_t> pending;
  for (const auto& [cookie, a] : in_flight_) ++pending[a.dest];
  std::vector<DestinationConnects> out;
  for (const auto& [d, o] : dests_) {
    const auto& [fam, addr, port] = d;
    DestinationConnects c;
    c.addr = format_addr(fam, addr);
    c.port = port;
    c.outcomes = o;
    c.outcomes.pending = pending.count(d) ? pending.at(d) : 0;
    if (auto it = dest_procs_.find(d); it != dest_procs_.end())
      for (const auto& [comm, pid] : it->second) {
        c.comms.push_back(fmt::format("{} ({})", comm, pid));
        c.pids.push_back(pid);
      }
    out.push_back(std::move(c));
  }
  std::stable_sort(out.begin(), out.end(),
                   [](const auto& a, const auto& b) { return a.outcomes.failed() > b.outcomes.failed(); });
  return out;
}

}  // namespace tcpfsm
