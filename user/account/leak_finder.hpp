// LeakFinder: the sockets held too long in a state where sockets get stuck
// (CLOSE_WAIT above all), grouped by the process that holds them, as
// `tcpfsm leaks` reports them and `stats` and the exporter summarise them.
//
// Input is a sock_diag dump (the truth about which sockets exist now, with
// their inodes) taken with tcpfsm's BPF socket storage, which dates the
// state each traced socket is in. Owners come from an OwnerLookup (the
// /proc/PID/fd scan `ss -p` does), asked only about sockets past min-age.
#pragma once

#include <array>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <tuple>
#include <unordered_map>
#include <vector>

#include "collect/proc_owners.hpp"
#include "collect/sock_diag.hpp"
#include "model/filter.hpp"
#include "tcpfsm/event.h"

namespace tcpfsm {

// Where sockets get stuck, in report order.
inline constexpr std::array<uint8_t, 7> kStuckStates = {TCPFSM_CLOSE_WAIT, TCPFSM_FIN_WAIT1, TCPFSM_FIN_WAIT2,
                                                        TCPFSM_LAST_ACK,   TCPFSM_CLOSING,   TCPFSM_SYN_SENT,
                                                        TCPFSM_SYN_RECV};
bool is_stuck_state(uint8_t state);
// "CLOSE_WAIT, FIN_WAIT1, ... or SYN_RECV", for the texts that list them.
std::string stuck_states_text();

// The DumpRequest::states a leak pass needs: the stuck states, plus
// listeners (SYN_RECV and unaccepted sockets are theirs) and TIME_WAIT (an
// orphaned FIN_WAIT2 is a timewait socket; the kernel filters on TIME_WAIT).
uint32_t leak_dump_states();

// Who is asked about owners. The live one scans /proc; tests use a fake.
class OwnerLookup {
 public:
  virtual ~OwnerLookup() = default;
  struct Holders {
    std::unordered_map<uint32_t, std::vector<uint32_t>> pids;  // inode -> holders
    bool complete = true;                                      // false: not every process was looked at yet
    // Why no holder could be looked for at all (the proc root is
    // unreadable), in one line; empty when the lookup worked.
    std::string error;
  };
  virtual Holders holders(const std::vector<uint32_t>& inodes) = 0;
  virtual std::optional<ProcessInfo> process(uint32_t pid) = 0;
};

// Adapts OwnerResolver: each call scans for at most `budget`.
class ProcOwnerLookup : public OwnerLookup {
 public:
  explicit ProcOwnerLookup(std::chrono::milliseconds budget, std::string proc_root = "/proc")
      : proc_root_(proc_root), resolver_(std::move(proc_root)), budget_(budget) {}
  Holders holders(const std::vector<uint32_t>& inodes) override;
  std::optional<ProcessInfo> process(uint32_t pid) override { return resolver_.process(pid); }

 private:
  std::string proc_root_;
  OwnerResolver resolver_;
  std::chrono::milliseconds budget_;
};

enum class HolderKind {
  Process,   // a process holds a descriptor of it
  Orphaned,  // closed by its process, still finishing in the kernel
  Unknown,   // it has a descriptor, but no process we can see holds it
};

// How a socket's age is known.
enum class AgeSource {
  Traced,        // tcpfsm saw it enter the state: exact
  LastReceived,  // found in it; dated by the last ACK it received (CLOSE_WAIT, FIN_WAIT2, CLOSING)
  Timer,         // found in it; dated by what the kernel keeps: its retransmissions and their backoff
                 // (FIN_WAIT1, LAST_ACK, SYN_SENT, SYN_RECV), or its timer (orphaned FIN_WAIT2)
  FirstSeen,     // found in it; at least as old as tcpfsm has seen it
};

struct PeerCount {
  std::string addr;
  uint16_t port = 0;
  uint64_t count = 0;
};

struct PortCount {
  uint16_t port = 0;
  uint64_t count = 0;
};

struct LeakGroup {
  uint8_t state = 0;
  HolderKind kind = HolderKind::Process;
  std::optional<ProcessInfo> process;  // HolderKind::Process
  // Not yet accepted (SYN_RECV, or CLOSE_WAIT in the accept queue): held
  // for the process that listens on its port.
  bool via_listener = false;
  uint64_t count = 0;  // sockets past min-age
  uint64_t oldest_ns = 0, median_ns = 0, newest_ns = 0;
  bool ages_exact = true;  // every age traced; otherwise some are estimates or lower bounds
  // Sockets of this group that crossed min-age within the last minute (all
  // still held): how fast the count grows. Sockets dated only by when
  // tcpfsm first saw them don't count.
  uint64_t growth_per_min = 0;
  uint64_t recv_q_bytes = 0;           // unread data left in them (Recv-Q), full sockets
  NoAckTally no_ack;                   // closing states (FIN_WAIT1, LAST_ACK, CLOSING): why they are still there
  std::vector<PeerCount> peers;        // top peers, most sockets first
  std::vector<PortCount> local_ports;  // top local ports
  uint64_t distinct_peers = 0, distinct_local_ports = 0;
  std::vector<uint32_t> netns;  // namespaces its sockets are in
};

struct LeakReport {
  std::vector<LeakGroup> groups;  // by kStuckStates order, then count, worst first
  uint64_t stuck = 0;             // sockets in stuck states, any age
  uint64_t undated = 0;           // of those, dated only by first sight and below min-age
  bool owners_complete = true;    // every holder was looked for
  std::string owner_error;        // why no holder could be looked for (OwnerLookup::Holders::error)
};

struct LeakOptions {
  uint64_t min_age_ns = 10'000'000'000ULL;
  // The retransmission settings of namespace timers_netns, with which a
  // socket found already stuck in it is dated by its timers (another
  // namespace's may differ: only SYNs are dated there, every timeout taken
  // as the shortest, 1 s). 0: unknown.
  uint32_t timers_netns = 0;
  uint64_t fin_timeout_ms = 0;       // tcp_fin_timeout: an orphaned FIN_WAIT2's timer
  uint32_t syn_linear_timeouts = 0;  // tcp_syn_linear_timeouts (6.5+): SYN timeouts that do not double
  uint64_t rto_min_ns = 0;           // tcp_rto_min_us (200 ms before it existed)
  uint64_t rto_max_ns = 0;           // tcp_rto_max_ms (120 s before it existed)
  size_t top_peers = 5;
  size_t top_ports = 5;
  // Holder filters: only groups of a process with this pid, this comm, or
  // a cgroup at or below this path (relative to the cgroup2 root, as in
  // /proc/PID/cgroup). Any of them hides orphaned and unknown holders.
  uint32_t pid = 0;
  std::string comm;
  std::string cgroup_under;
};

// The holder filters of `f` (pid, comm, cgroup) set in `o`; the cgroup as
// /proc/PID/cgroup names it, which needs the cgroup2 mount: a usage error
// when the directory is not under one.
Status set_holder_filters(LeakOptions& o, const FilterSpec& f);

// Sets the timer settings of LeakOptions to those of network namespace
// `netns` (0: this thread's), read on a thread that entered it; leaves them
// unknown when they cannot be read.
void know_timers(LeakOptions& o, uint32_t netns = 0);

class LeakFinder {
 public:
  explicit LeakFinder(LeakOptions opts) : opts_(opts) {}

  // One pass over a dump taken at now_ns (CLOCK_MONOTONIC). Records of any
  // state may be passed; listeners are used to attribute unaccepted sockets.
  LeakReport analyze(const std::vector<SocketRecord>& dump, uint64_t now_ns, OwnerLookup& owners);

 private:
  struct Seen {
    uint8_t state = 0;
    uint64_t first_ns = 0;
  };
  struct Item;  // a stuck socket past min-age: its age, how it is known, and whose holders hold it
  struct Acc;   // what a group's sockets add up to
  using GroupKey = std::tuple<size_t, int, uint32_t, bool>;  // (state rank, holder kind, pid, via listener)
  using Listeners = std::unordered_map<uint64_t, std::vector<const SocketRecord*>>;  // by (netns, port)

  static Listeners listeners_of(const std::vector<SocketRecord>& dump);
  Item date(const SocketRecord& r, uint64_t now_ns, std::unordered_map<uint64_t, Seen>& seen) const;
  static void attribute(Item& it, const Listeners& listeners);
  std::map<GroupKey, Acc> accumulate(const std::vector<Item>& items, const OwnerLookup::Holders& holders) const;
  LeakGroup group_of(uint8_t state, HolderKind kind, bool via_listener, std::optional<ProcessInfo> process,
                     Acc& a) const;
  bool selected(const LeakGroup& g) const;  // the holder filters

  LeakOptions opts_;
  // Sockets with no traced entry time: when a pass first saw them in their
  // state. Only stuck ones are kept, and only while they are.
  std::unordered_map<uint64_t, Seen> first_seen_;
};

}  // namespace tcpfsm
