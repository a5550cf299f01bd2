// The doctor's rules on outgoing connects that do not get through: one
// process trying many destinations that do not answer (syn_sent_scan), and
// many attempts to one destination that fail (syn_sent_unreachable).
#include <fmt/format.h>

#include <algorithm>

#include "diagnose/rules.hpp"

namespace tcpfsm {
namespace {

// Distinct destinations no attempt reached, from one process, that make a scan.
constexpr uint64_t kScanDestinations = 20;
// Failed attempts to one destination that make a pattern rather than bad luck.
constexpr uint64_t kUnreachableAttempts = 5;

bool is_scan(const ProcessConnects& p) {
  return p.failed_destinations >= kScanDestinations && p.failed_destinations * 2 >= p.destinations;
}

std::string outcomes_text(const ConnectOutcomes& o) {
  return fmt::format(
      "{} established, {} refused, {} no answer, {} unreachable, {} given up by the process, {} still in SYN_SENT",
      o.established, o.refused, o.no_answer, o.unreachable, o.abandoned, o.pending);
}

std::string holder_text(const ProcessConnects& p) { return process_text(p.pid, p.comm, p.process); }

int64_t syn_retries(const DoctorInput& in) { return in.after.settings.syn_retries.value_or(6); }

}  // namespace

void check_syn_sent_scan(const DoctorInput& in, std::vector<Finding>& out) {
  if (!in.observation) return;
  for (const auto& p : in.observation->connecting) {
    if (!is_scan(p)) continue;
    Finding f;
    f.id = "syn_sent_scan";
    f.severity = Severity::Warning;
    f.title =
        fmt::format("{} tried {}{} destinations that did not answer: a scan, or a client pointed at dead backends",
                    holder_text(p), p.folded ? "at least " : "", p.failed_destinations);
    f.evidence.push_back(fmt::format(
        "{} connects during the {:.0f} s watched to {} destinations ({} addresses, {} ports): {} (tcpfsm trace)",
        p.outcomes.attempts, in.observation->seconds, p.destinations, p.addresses, p.ports, outcomes_text(p.outcomes)));
    std::string sample;
    for (const auto& s : p.sample) {
      if (!sample.empty()) sample += ", ";
      sample += s;
    }
    f.evidence.push_back("first that did not answer: " + sample);
    if (p.process && !p.process->cmdline.empty()) f.evidence.push_back("command: " + one_line(p.process->cmdline));
    if (in.observation->connects_dropped)
      f.evidence.push_back(
          fmt::format("{} connects not followed (more destinations or sockets than kept): counts "
                      "are lower bounds",
                      in.observation->connects_dropped));
    f.explanation = fmt::format(
        "One process trying many distinct destinations, almost none of which answer, is what a scanner does (the "
        "worm the posts describe), and what a client with a stale list of backends does. Each attempt holds a "
        "SYN_SENT socket and a local port until it is refused or its {} SYN retransmissions run out "
        "(tcp_syn_retries).",
        syn_retries(in));
    f.action = fmt::format(
        "If nobody knows this process, treat the host as compromised: look at /proc/{}/exe, its parent and how it "
        "started, isolate the host, then stop it. If it is yours, fix where it gets its backends (service "
        "discovery, DNS, configuration) and give it a connect timeout with backoff.",
        p.pid);
    out.push_back(std::move(f));
  }
}

void check_syn_sent_unreachable(const DoctorInput& in, std::vector<Finding>& out) {
  if (!in.observation) return;
  const size_t first = out.size();
  std::vector<uint32_t> scanners;
  for (const auto& p : in.observation->connecting)
    if (is_scan(p)) scanners.push_back(p.pid);
  for (const auto& d : in.observation->connect_destinations) {
    const ConnectOutcomes& o = d.outcomes;
    if (o.failed() < kUnreachableAttempts || o.failed() * 2 < o.attempts) continue;
    // A scanner's targets are its finding, not each a backend down.
    if (std::all_of(d.pids.begin(), d.pids.end(),
                    [&](uint32_t pid) { return std::count(scanners.begin(), scanners.end(), pid) > 0; }))
      continue;
    const std::string dest = d.addr.find(':') != std::string::npos ? fmt::format("[{}]:{}", d.addr, d.port)
                                                                   : fmt::format("{}:{}", d.addr, d.port);
    Finding f;
    f.id = "syn_sent_unreachable";
    f.severity = Severity::Warning;
    std::string comms;
    for (const auto& c : d.comms) {
      if (!comms.empty()) comms += ", ";
      comms += c;
    }
    f.evidence.push_back(fmt::format("{} connects to {} during the {:.0f} s watched: {} (tcpfsm trace)", o.attempts,
                                     dest, in.observation->seconds, outcomes_text(o)));
    f.evidence.push_back("tried by: " + comms);
    if (o.refused * 2 >= o.failed()) {
      f.title = fmt::format("connects to {} are refused: nothing listens there", dest);
      f.explanation =
          "The destination answers each SYN with a reset (or ICMP port unreachable): the host is up, the service "
          "on that port is not.";
      f.action = fmt::format("Start or fix the service on {}, or point the clients elsewhere.", dest);
    } else if (o.unreachable * 2 >= o.failed()) {
      f.title = fmt::format("connects to {} fail: {} is unreachable", dest, d.addr);
      f.explanation = "A router answers with ICMP host or network unreachable: there is no route to it.";
      f.action = fmt::format("Check the routes to {} and whether the host exists.", d.addr);
    } else {
      f.title = fmt::format("connects to {} get no answer: a backend down or a dead path", dest);
      f.explanation = fmt::format(
          "SYNs to it get nothing back, neither SYN-ACK nor reset: the host is down, or something on the path "
          "drops its packets. Each attempt waits through {} SYN retransmissions (tcp_syn_retries) before it fails.",
          syn_retries(in));
      f.action = fmt::format(
          "Check {} and the path to it (ping, traceroute, firewalls). Clients should fail fast: a connect timeout "
          "and a circuit breaker, not a lower tcp_syn_retries for the whole host.",
          d.addr);
    }
    out.push_back(std::move(f));
  }
  // Say what was not judged, on every finding this rule made.
  if (const uint64_t folded = in.observation->connect_destinations_folded; folded > 0) {
    for (size_t i = first; i < out.size(); ++i)
      out[i].evidence.push_back(fmt::format(
          "{} more destinations had failed connects: not judged one by one (doctor keeps the {} with the most)", folded,
          kConnectDestinationsKept));
  }
}

}  // namespace tcpfsm
