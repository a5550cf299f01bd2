// The rules `diagnose` runs, one function each, so that each is tested on
// its own; diagnose adds only the order and the "healthy" finding.
#pragma once

#include <span>
#include <string_view>
#include <vector>

#include "diagnose/doctor.hpp"

namespace tcpfsm {

// Appends the rule's findings to `out`: none, one, or one per holder or
// destination. Every finding carries the rule's id.
using RuleCheck = void (*)(const DoctorInput& in, std::vector<Finding>& out);

struct DoctorRule {
  std::string_view id;
  RuleCheck check;
};

// "pid 42 (nginx, user www, container 0123456789ab)": a process as findings name it.
std::string process_text(uint32_t pid, std::string_view comm, const std::optional<ProcessInfo>& p);
// A command line on one line: control characters (a newline inside an
// argument) as spaces, at most 200 characters.
std::string one_line(std::string_view cmdline);

// Every rule, in the order diagnose runs them: findings of the same severity
// are reported in this order.
std::span<const DoctorRule> doctor_rules();

// What the observation and the counters show.
void check_close_wait_leak(const DoctorInput& in, std::vector<Finding>& out);
void check_timewait_limit(const DoctorInput& in, std::vector<Finding>& out);
void check_ephemeral_ports(const DoctorInput& in, std::vector<Finding>& out);
void check_server_closes_first(const DoctorInput& in, std::vector<Finding>& out);
void check_orphaned_fin_wait2(const DoctorInput& in, std::vector<Finding>& out);
void check_listen_queue(const DoctorInput& in, std::vector<Finding>& out);
// Closing sockets whose FIN gets no ACK, per peer (closing_rules.cpp).
void check_fin_wait1_stuck(const DoctorInput& in, std::vector<Finding>& out);
void check_last_ack_stuck(const DoctorInput& in, std::vector<Finding>& out);
void check_closing_stuck(const DoctorInput& in, std::vector<Finding>& out);
// Outgoing connects that do not get through (connect_rules.cpp).
void check_syn_sent_scan(const DoctorInput& in, std::vector<Finding>& out);
void check_syn_sent_unreachable(const DoctorInput& in, std::vector<Finding>& out);
// ESTABLISHED idle past --idle-after, per service and client (idle_rules.cpp).
void check_idle_established(const DoctorInput& in, std::vector<Finding>& out);
// Settings the tuning recipes get wrong.
void check_tw_recycle(const DoctorInput& in, std::vector<Finding>& out);
void check_timestamps_off(const DoctorInput& in, std::vector<Finding>& out);
void check_syncookies_off(const DoctorInput& in, std::vector<Finding>& out);
void check_tw_buckets_low(const DoctorInput& in, std::vector<Finding>& out);
void check_fin_timeout_changed(const DoctorInput& in, std::vector<Finding>& out);

}  // namespace tcpfsm
