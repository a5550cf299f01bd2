// `tcpfsm doctor`: evidence instead of sysctl folklore. The host's TCP
// settings, its kernel counters read twice, and what the live engines saw
// during an observation go in; findings come out, each with a severity, the
// numbers it rests on, an explanation and an action.
//
// Everything here is pure (files are read through a root directory, the
// observation is a plain struct), so every rule is unit-tested on fixtures;
// doctor_rules.hpp exposes the rules one by one.
#pragma once

#include <array>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "account/leak_finder.hpp"
#include "diagnose/connect_watch.hpp"
#include "model/socket_record.hpp"
#include "tcpfsm/event.h"

namespace tcpfsm {

// /proc/sys values the rules read; nullopt when the file is absent.
struct TcpSettings {
  std::optional<int64_t> tw_reuse, fin_timeout, max_tw_buckets, max_syn_backlog, syncookies, keepalive_time,
      keepalive_intvl, keepalive_probes, max_orphans, orphan_retries, timestamps, somaxconn, syn_retries;
  std::optional<int64_t> tw_recycle;  // only kernels before 4.12 have it
  // Milliseconds a TIME_WAIT socket must have lived before tcp_tw_reuse
  // may take its port (Linux 6.13+; 1 s fixed before).
  std::optional<int64_t> tw_reuse_delay_ms;
  std::optional<std::pair<int64_t, int64_t>> local_port_range;
};

// /proc/net/netstat and /proc/net/snmp ("TcpExt.ListenOverflows" -> n) and
// /proc/net/sockstat ("TCP.tw" -> n).
using CounterMap = std::map<std::string, int64_t>;

struct HostSnapshot {
  TcpSettings settings;
  CounterMap counters;  // netstat + snmp
  CounterMap sockstat;
  // Packets dropped because a CPU's input queue held net.core.netdev_max_backlog
  // (/proc/net/softnet_stat's second column, summed; the host's, not per namespace).
  std::optional<int64_t> softnet_dropped;
  // Sysctls by dotted name ("net.ipv4.tcp_mem" -> "94500000 915000000 927000000", blanks made single
  // spaces): every one `settings` is made of, and those asked for; a name the kernel has no file for is absent.
  std::map<std::string, std::string> sysctls;
  // false: read in a namespace that is not the initial one, which could not
  // be entered, so host-wide net.* sysctls are missing from `sysctls`.
  bool host_wide_sysctls = true;
};

// The typed settings, from sysctls read by dotted name ("net.ipv4.tcp_fin_timeout" -> "60").
TcpSettings settings_of(const std::map<std::string, std::string>& sysctls);

// Parsers: malformed lines are skipped, never a crash.
CounterMap parse_proc_netstat(std::string_view text);  // also /proc/net/snmp
CounterMap parse_sockstat(std::string_view text);
std::optional<int64_t> parse_softnet_dropped(std::string_view text);  // nullopt: no line had a drop column

// Reads settings and counters under `proc_root` (normally /proc), the
// counters from `net_dir` (proc_root/net when empty), and the `sysctls`
// named. A missing counter file is an Error: nothing can be said without
// it. The settings under /proc/sys and /proc/thread-self/net are the calling
// thread's network namespace's.
Result<HostSnapshot> read_host(const std::string& proc_root, const std::string& net_dir = "",
                               const std::vector<std::string>& sysctls = {});
// Lines of sysctl.conf and sysctl.d/*.conf under `etc_root` that set
// tcp_tw_recycle, as "FILE:LINE: text".
std::vector<std::string> tw_recycle_mentions(const std::string& etc_root);

// Outbound connections to one destination during the observation.
struct DestinationStat {
  std::string addr;
  uint16_t port = 0;
  uint64_t connects = 0;       // SYN_SENT entered
  uint64_t time_wait = 0;      // TIME_WAIT sockets to it at the end
  uint64_t no_local_port = 0;  // connects that found no free local port (close cause no_local_port)
};

struct ListenerStat {
  std::string addr;
  uint16_t port = 0;
  uint32_t accept_queue = 0;  // connections waiting for accept() (Recv-Q)
  uint32_t backlog = 0;       // the application's listen() backlog, as capped (Send-Q)
  // Handshakes in progress on it: SYN_RECV in its namespace, on its port, to
  // its address (a wildcard takes those no listener on their address does).
  uint64_t syn_recv = 0;
};

// Closing sockets of one state (FIN_WAIT1, LAST_ACK, CLOSING) to one peer
// address, from the dump's tcp_info: how many wait for an ACK that does not come.
struct ClosingStall {
  uint8_t state = 0;
  std::string peer;
  uint64_t sockets = 0;   // in the state to this peer
  uint64_t orphaned = 0;  // of those, closed by their process (no inode)
  NoAckTally no_ack;
  uint64_t since_last_ack_ms = 0;  // the longest time since an ACK arrived, over them
};

// ESTABLISHED connections that carried no data either way for longer than a
// threshold (tcp_info's last data sent and received), gathered by who keeps
// them open: a listening service (the accepted side) or a client process
// (the side that connected).
struct IdleGroup {
  bool service = false;  // accepted by a listener here: `service_addr`:`service_port` is it
  std::string service_addr;
  uint16_t service_port = 0;
  uint32_t netns = 0;
  uint32_t pid = 0;                           // the process holding most of the idle ones; 0 none seen
  uint64_t holders = 0;                       // distinct processes holding idle ones
  std::optional<ProcessInfo> process;         // the holder's name, user, cgroup: filled by the command
  uint64_t established = 0;                   // ESTABLISHED in the group, idle or not
  uint64_t idle = 0;                          // of those, idle past the threshold
  uint64_t keepalive = 0;                     // of the idle ones, with keepalive on (SO_KEEPALIVE: its timer runs)
  uint64_t min_idle_ms = 0, max_idle_ms = 0;  // over the idle ones
  // The other ends of the idle ones, most first (5 at most): a service's
  // clients by address, a client's servers by address and port.
  std::vector<PeerCount> peers;
  uint64_t distinct_peers = 0;
};

// Socket inode -> the pids holding it (OwnerLookup::Holders::pids).
using InodeHolders = std::unordered_map<uint32_t, std::vector<uint32_t>>;

// The groups with at least one ESTABLISHED idle for `idle_ms` or more, most
// idle first. A connection between two ends here counts on both sides: in
// its service, and in the client that opened it.
std::vector<IdleGroup> idle_groups(const std::vector<SocketRecord>& dump, const InodeHolders& holders,
                                   uint64_t idle_ms);

// What the live engines saw; built by summarize_observation from a dump
// taken at the end and the connections counted while watching.
// Destinations with failed connects doctor judges one by one; the rest are counted.
inline constexpr size_t kConnectDestinationsKept = 20;

struct Observation {
  double seconds = 0;
  std::array<uint64_t, TCPFSM_STATE_MAX> states{};
  uint64_t time_wait_server = 0;  // TIME_WAIT on a port something listens on: the server closed first
  uint64_t time_wait_client = 0;
  std::map<uint16_t, uint64_t> time_wait_server_ports;
  std::vector<DestinationStat> destinations;  // busiest first
  std::vector<ListenerStat> listeners;        // fullest first
  uint64_t orphan_fin_wait2 = 0;              // FIN_WAIT2 no process holds any more
  uint64_t keepalive = 0;                     // ESTABLISHED sockets whose keepalive timer runs (SO_KEEPALIVE)
  std::vector<ClosingStall> closing;          // most stalled first; every (state, peer) with a stalled socket
  // Outgoing connects during the watch (ConnectWatch), and the ones it did
  // not follow for want of room.
  std::vector<ProcessConnects> connecting;
  std::vector<DestinationConnects> connect_destinations;  // at most kConnectDestinationsKept, most failures first
  uint64_t connect_destinations_folded = 0;               // with failures, past those: not judged, only counted
  uint64_t connects_dropped = 0;
  // ESTABLISHED idle for idle_threshold_ms or more, per service and client (idle_groups).
  std::vector<IdleGroup> idle;
  uint64_t idle_threshold_ms = 0;
  LeakReport leaks;
  uint64_t leak_min_age_ns = 0;
  uint64_t events = 0, lost = 0;
};

struct ConnectKey {
  uint8_t family = 0;
  std::array<uint8_t, 16> daddr{};
  uint16_t dport = 0;
  auto operator<=>(const ConnectKey&) const = default;
};

// no_local_port: per destination, the connects that failed for want of a
// local port (SYN_SENT -> CLOSE, cause no_local_port).
// The watch's destinations, kConnectDestinationsKept of them judged one by one;
// those with failures past that are counted in connect_destinations_folded.
void keep_connect_destinations(Observation& o, std::vector<DestinationConnects> destinations);

Observation summarize_observation(const std::vector<SocketRecord>& dump, const std::map<ConnectKey, uint64_t>& connects,
                                  double seconds, LeakReport leaks, uint64_t leak_min_age_ns,
                                  const std::map<ConnectKey, uint64_t>& no_local_port = {});

enum class Severity { Ok = 0, Info = 1, Warning = 2, Critical = 3 };
std::string_view severity_name(Severity s);

struct Finding {
  std::string id;
  Severity severity = Severity::Info;
  std::string title;
  std::vector<std::string> evidence;  // each with its source
  std::string explanation;
  std::string action;
};

struct DoctorInput {
  HostSnapshot before, after;  // the counters read at the start and the end
  double interval_s = 0;       // between the two reads
  std::vector<std::string> tw_recycle_config;
  std::optional<Observation> observation;  // absent with --proc-root (files from elsewhere)
};

// Every rule's findings, worst first (the same severity in doctor_rules()
// order); exactly one "healthy" finding when nothing is wrong.
std::vector<Finding> diagnose(const DoctorInput& in);

// A counter's value; 0 when the map does not have it.
int64_t counter_value(const CounterMap& m, const std::string& key);
// How far a counter moved between the two reads; never negative (a reset
// reads as no change).
int64_t counter_moved(const DoctorInput& in, const std::string& key);

// 0 healthy (or information only), 1 a warning or worse.
int doctor_exit_status(const std::vector<Finding>& f);

}  // namespace tcpfsm
