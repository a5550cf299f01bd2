// ConnectWatch: the outgoing connects doctor saw during its watch, per
// process and per destination, with how each ended (established, refused,
// no answer, unreachable, or still in SYN_SENT at the end). A process that
// tries many destinations that do not answer is a scan (or a client whose
// backend list is stale); many attempts to one destination that fail are a
// backend down or a dead path. The rules syn_sent_scan and
// syn_sent_unreachable read what this keeps.
#pragma once

#include <array>
#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <tuple>
#include <unordered_map>
#include <vector>

#include "collect/proc_owners.hpp"
#include "model/event.hpp"

namespace tcpfsm {

struct ConnectOutcomes {
  uint64_t attempts = 0;     // SYN_SENT entered
  uint64_t established = 0;  // SYN_SENT -> ESTABLISHED
  uint64_t refused = 0;      // RST or ICMP port unreachable
  uint64_t no_answer = 0;    // SYN retries exhausted
  uint64_t unreachable = 0;  // ICMP host or net unreachable
  uint64_t abandoned = 0;    // closed by its own process while still in SYN_SENT (a connect timeout)
  uint64_t other = 0;        // closed from SYN_SENT for another cause
  uint64_t pending = 0;      // still in SYN_SENT when the watch ended
  uint64_t failed() const { return refused + no_answer + unreachable + abandoned + pending; }
};

struct ProcessConnects {
  uint32_t pid = 0;
  std::string comm;
  ConnectOutcomes outcomes;
  uint64_t destinations = 0;         // distinct (address, port) tried
  uint64_t failed_destinations = 0;  // of those, ones no attempt reached (every attempt failed or pending)
  uint64_t addresses = 0, ports = 0;
  bool folded = false;                 // more destinations than kept: the counts are lower bounds
  std::vector<std::string> sample;     // a few failed "addr:port", first tried first
  std::optional<ProcessInfo> process;  // cmdline, user, cgroup: filled by the command, when it still runs
};

struct DestinationConnects {
  std::string addr;
  uint16_t port = 0;
  ConnectOutcomes outcomes;
  std::vector<std::string> comms;  // the processes that tried it, "comm (pid)" (8 at most)
  std::vector<uint32_t> pids;
};

class ConnectWatch {
 public:
  // Distinct destinations kept per process, and sockets followed at once:
  // past them, what is new is counted in dropped() and not followed.
  static constexpr size_t kMaxDestinations = 4096;
  static constexpr size_t kMaxInFlight = 65536;

  void on_event(const Event& e);
  // Per process, most failed destinations first; per destination, most failures first.
  std::vector<ProcessConnects> processes() const;
  std::vector<DestinationConnects> destinations() const;
  uint64_t dropped() const { return dropped_; }

 private:
  using Dest = std::tuple<uint8_t, std::array<uint8_t, 16>, uint16_t>;
  struct Attempt {
    uint32_t pid;
    Dest dest;
  };
  struct Proc {
    std::string comm;
    ConnectOutcomes outcomes;
    std::map<Dest, bool> reached;  // destination -> some attempt established
    std::vector<Dest> order;       // first tried first
    bool folded = false;
  };
  void ended(uint64_t cookie, const Event& e);
  std::unordered_map<uint64_t, Attempt> in_flight_;  // by socket cookie
  std::map<uint32_t, Proc> procs_;
  std::map<Dest, ConnectOutcomes> dests_;
  std::map<Dest, std::set<std::pair<std::string, uint32_t>>> dest_procs_;
  uint64_t dropped_ = 0;
};

}  // namespace tcpfsm
