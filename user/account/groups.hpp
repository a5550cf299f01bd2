// Accounting per group of sockets (`stats --by`): the gauges of each group
// from a sock_diag dump (exact, as `ss -tan` grouped the same way), and
// from the records each group's entries into states and lifetimes. Both
// are bounded by max_groups; what a bound folds away is counted.
#pragma once

#include <array>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "account/identities.hpp"
#include "account/leak_finder.hpp"
#include "model/event.hpp"
#include "model/filter.hpp"
#include "model/group_key.hpp"
#include "model/socket_record.hpp"
#include "model/sparse_histogram.hpp"
#include "tcpfsm/event.h"

namespace tcpfsm {

using StateCounts = std::array<uint64_t, TCPFSM_STATE_MAX>;

// A group's closes by (from state, cause): only the few pairs that happened,
// so a group costs a few bytes, not states x causes counters.
struct CloseCounts {
  struct Entry {
    uint8_t from = 0;
    uint8_t cause = 0;
    uint64_t count = 0;
  };
  std::vector<Entry> entries;  // sorted by (from, cause)

  void add(uint8_t from, uint8_t cause, uint64_t n = 1);
  void merge(const CloseCounts& other);
  uint64_t total() const;
  // Summed over the from states, most frequent cause first (ties: by cause).
  std::vector<std::pair<uint8_t, uint64_t>> by_cause() const;
};

// A group's outgoing connects, as they ended (the attempts are its entries
// into SYN_SENT, the failures its closes from SYN_SENT, by cause).
struct ConnectCounts {
  uint64_t established = 0;      // SYN_SENT -> ESTABLISHED
  uint64_t syn_retransmits = 0;  // SYNs retransmitted by the connects that ended, either way
  SparseHistogram latency;       // time in SYN_SENT of those that established, when known

  void merge(const ConnectCounts& other);
};

struct GroupOptions {
  GroupSpec spec;               // empty: no grouping
  uint32_t states = 0;          // bit (1 << state) of the states counted (--state); 0: every state but LISTEN
  uint8_t sort_state = 0;       // the column rows are sorted by (--sort); 0: the total
  size_t top = 20;              // rows shown before (others)
  size_t max_groups = 10000;    // groups tracked at most, each side
  std::string host_root = "/";  // where /var/log/pods is (--host-root)
  bool enabled() const { return !spec.empty(); }
  bool counts(uint8_t state) const;
  // The state whose rate and lifetimes the rows show: the sorted one, the
  // one --state names if it names one, or ESTABLISHED (new connections/s
  // and how long they lasted).
  uint8_t shown_state() const {
    if (sort_state) return sort_state;
    if (states && !(states & (states - 1))) return static_cast<uint8_t>(__builtin_ctz(states));
    return TCPFSM_ESTABLISHED;
  }
};

// What StateTable tells a per-group accounting (records mode).
class GroupAccounting {
 public:
  virtual ~GroupAccounting() = default;
  virtual uint32_t group_of(const Event& e) = 0;
  virtual void entered(uint32_t group, uint8_t state) = 0;
  virtual void left(uint32_t group, uint8_t state, uint64_t spent_ns) = 0;
  // A socket of the group entered CLOSE from `from`, for `cause`.
  virtual void closed(uint32_t group, uint8_t from, uint8_t cause) = 0;
  // A connect of the group ended: established or not, after `spent_ns` in
  // SYN_SENT (when known), having retransmitted `syn_retransmits` SYNs.
  virtual void connect_ended(uint32_t group, bool established, std::optional<uint64_t> spent_ns,
                             uint32_t syn_retransmits) = 0;
};

// Per group, from the records: entries into each state, and the time
// spent in each state by the sockets that left it. Group 0 is where the
// records of groups past max_groups go.
class GroupEvents final : public GroupAccounting {
 public:
  struct Group {
    GroupKey key;
    StateCounts entered{};
    std::array<SparseHistogram, TCPFSM_STATE_MAX> lifetimes;
    CloseCounts closes;
    ConnectCounts connects;
  };

  // identities: for keys a process or netns tells (cgroup, container,
  // pod); may be null when the spec has none.
  GroupEvents(GroupSpec spec, size_t max_groups, IdentityCache* identities);

  uint32_t group_of(const Event& e) override;
  void entered(uint32_t group, uint8_t state) override;
  void left(uint32_t group, uint8_t state, uint64_t spent_ns) override;
  void closed(uint32_t group, uint8_t from, uint8_t cause) override;
  void connect_ended(uint32_t group, bool established, std::optional<uint64_t> spent_ns,
                     uint32_t syn_retransmits) override;

  const Group* find(const GroupKey& key) const;
  const Group& group(uint32_t id) const { return groups_[id < groups_.size() ? id : 0]; }
  template <typename F>
  void for_each(F&& f) const {  // every tracked group, not group 0
    for (size_t i = 1; i < groups_.size(); ++i) f(groups_[i]);
  }
  const Group& overflow() const { return groups_[0]; }
  uint64_t folded() const { return folded_; }  // records put in group 0
  size_t size() const { return groups_.size() - 1; }

 private:
  GroupSpec spec_;
  size_t max_groups_;
  IdentityCache* identities_;
  std::vector<Group> groups_;
  std::unordered_map<GroupKey, uint32_t, GroupKeyHash> ids_;
  uint64_t folded_ = 0;
};

struct ListenerRow {
  uint8_t family = 0;
  std::array<uint8_t, 16> addr{};
  uint16_t port = 0;
  uint32_t netns = 0;
  uint32_t accept_queue = 0;  // waiting for accept() (Recv-Q)
  uint32_t backlog = 0;       // listen()'s backlog as capped (Send-Q)
  uint32_t pid = 0;           // its holder, 0 unknown
  std::string comm;
};

// Per group, from one dump.
struct GroupGauges {
  std::unordered_map<GroupKey, StateCounts, GroupKeyHash> counts;
  StateCounts folded{};        // sockets of groups past max_groups, by state
  uint64_t folded_groups = 0;  // how many such groups
  std::vector<ListenerRow> listeners;
  bool holders_complete = true;
  std::string owner_error;
  NetnsIdentities netns;  // for sockets no process holds, also for the records' side
};

// The gauges of the sockets a StateTable tracks, by the groups `events`
// gave them (replays: captures carry no dump).
class StateTable;
GroupGauges gauges_of_table(const GroupOptions& opts, const StateTable& table, const GroupEvents& events);

// Counts a dump by group. `holders`: for the spec's process keys, the
// holder of each socket inode (lowest pid when shared); `processes`
// answers about those pids.
GroupGauges count_groups(const GroupOptions& opts, const std::vector<SocketRecord>& dump,
                         const std::unordered_map<uint32_t, uint32_t>& holders, OwnerLookup& processes,
                         IdentityTable& identities, const PodDirectory& pods, NetnsIdentities netns);

// A gauge pass against the live system: dump, find holders (within a time
// budget per pass; the scan resumes at the next), count.
class GroupCounter {
 public:
  GroupCounter(GroupOptions opts, FilterSpec filter, IdentityTable& identities);
  Result<GroupGauges> pass();

 private:
  GroupOptions opts_;
  FilterSpec filter_;
  IdentityTable& identities_;
  ProcOwnerLookup owners_;
  OwnerResolver netns_owners_;
  size_t last_dump_ = 0;
};

// One row of a report: a group, or (others).
struct GroupRow {
  GroupKey key;
  Identity identity;
  StateCounts states{};
  uint64_t total = 0;
  StateCounts entered{};  // cumulative: rates come from two reports
  std::array<SparseHistogram, TCPFSM_STATE_MAX> lifetimes;
  CloseCounts closes;  // cumulative, from the records
};

// One row of the connects block: a group that connected out while traced,
// or (others).
struct ConnectRow {
  GroupKey key;
  Identity identity;
  uint64_t attempted = 0;  // CLOSE -> SYN_SENT
  ConnectCounts connects;
  CloseCounts failed;  // SYN_SENT -> CLOSE, by cause
  uint64_t failures() const { return failed.total(); }
};

struct GroupReport {
  GroupOptions opts;
  std::vector<GroupRow> rows;  // the top groups with sockets now, worst first
  GroupRow others;             // everything else, so every column adds up
  uint64_t other_groups = 0;   // groups with sockets in `others`
  uint64_t folded_groups = 0;  // groups past max_groups (in `others` too)
  uint64_t folded_records = 0;
  std::vector<ListenerRow> listeners;
  // From the records: the groups that connected out, most attempts first
  // (ties: most failures), at most opts.top; the rest in connect_others.
  std::vector<ConnectRow> connects;
  ConnectRow connect_others;
  uint64_t connect_other_groups = 0;
  bool gauges_known = false;  // a gauge pass has finished
  bool holders_complete = true;
  std::string owner_error;
};

// The rows: gauges (if a pass finished) and records (if any) merged by key.
GroupReport build_group_report(const GroupOptions& opts, const GroupGauges* gauges, const GroupEvents* events,
                               const IdentityTable& identities);

}  // namespace tcpfsm
