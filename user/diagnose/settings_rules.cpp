// The doctor's rules on settings alone: tcp_tw_recycle, and four recipe settings as a table of data.
#include <fmt/format.h>

#include "diagnose/rules.hpp"

namespace tcpfsm {
namespace {

// The settings the usual tuning recipes get wrong: one value, one test of
// it and fixed texts each, so they are data rather than four copies of a rule.
struct SettingRule {
  std::string_view id;
  std::optional<int64_t> TcpSettings::*setting;
  bool (*fires)(int64_t value);
  Severity severity;
  std::string_view title;
  std::string (*evidence)(int64_t value, const TcpSettings& s);
  std::string_view explanation;
  std::string_view action;
};

constexpr SettingRule kTimestampsOff{
    "timestamps_off",
    &TcpSettings::timestamps,
    [](int64_t v) { return v == 0; },
    Severity::Warning,
    "tcp_timestamps is off",
    [](int64_t, const TcpSettings& s) {
      return fmt::format("tcp_timestamps = 0, tcp_tw_reuse = {}", s.tw_reuse ? std::to_string(*s.tw_reuse) : "unknown");
    },
    "Without timestamps there is no PAWS protection against old duplicate segments, RTT estimates "
    "worsen, and tcp_tw_reuse never applies (it needs timestamps to prove reuse safe).",
    "Set net.ipv4.tcp_timestamps=1.",
};

constexpr SettingRule kSyncookiesOff{
    "syncookies_off",
    &TcpSettings::syncookies,
    [](int64_t v) { return v == 0; },
    Severity::Warning,
    "tcp_syncookies is off",
    [](int64_t, const TcpSettings&) { return std::string("tcp_syncookies = 0"); },
    "With syncookies off, a SYN flood or a burst that fills the SYN queue drops legitimate clients.",
    "Set net.ipv4.tcp_syncookies=1 (they are used only when the queue overflows).",
};

constexpr SettingRule kTwBucketsLow{
    "tw_buckets_low",
    &TcpSettings::max_tw_buckets,
    [](int64_t v) { return v < 32768; },
    Severity::Info,
    "tcp_max_tw_buckets is set low",
    [](int64_t v, const TcpSettings&) { return fmt::format("tcp_max_tw_buckets = {}", v); },
    "A low limit (the recipes' 5000) does not reduce TIME_WAIT; once reached, the kernel skips "
    "TIME_WAIT and its protection against old duplicates.",
    "Leave it at the kernel default or raise it; reduce TIME_WAIT by reusing connections.",
};

constexpr SettingRule kFinTimeoutChanged{
    "fin_timeout_changed",
    &TcpSettings::fin_timeout,
    [](int64_t v) { return v != 60; },
    Severity::Info,
    "tcp_fin_timeout was changed; it does not shorten TIME_WAIT",
    [](int64_t v, const TcpSettings&) { return fmt::format("tcp_fin_timeout = {} s (default 60)", v); },
    "TIME_WAIT lasts 60 s, fixed in the kernel (TCP_TIMEWAIT_LEN). tcp_fin_timeout only bounds "
    "orphaned FIN_WAIT2, so recipes that lower it 'for TIME_WAIT' change nothing there.",
    "Keep it only if orphaned FIN_WAIT2 is the problem; otherwise it can go back to 60.",
};

void check_setting(const SettingRule& rule, const DoctorInput& in, std::vector<Finding>& out) {
  const TcpSettings& s = in.after.settings;
  const std::optional<int64_t>& v = s.*rule.setting;
  if (!v || !rule.fires(*v)) return;
  Finding f;
  f.id = rule.id;
  f.severity = rule.severity;
  f.title = rule.title;
  f.evidence.push_back(rule.evidence(*v, s));
  f.explanation = rule.explanation;
  f.action = rule.action;
  out.push_back(std::move(f));
}

}  // namespace

// Critical where the kernel still has it; on newer kernels a leftover line only breaks 'sysctl -p'.
void check_tw_recycle(const DoctorInput& in, std::vector<Finding>& out) {
  const TcpSettings& s = in.after.settings;
  const bool on = s.tw_recycle && *s.tw_recycle != 0;
  if (!(on || !in.tw_recycle_config.empty())) return;
  Finding f;
  f.id = "tw_recycle";
  f.severity = on ? Severity::Critical : Severity::Warning;
  f.title = on ? "tcp_tw_recycle is on: clients behind NAT get dropped"
               : "the sysctl configuration sets tcp_tw_recycle, which no longer exists";
  if (s.tw_recycle) f.evidence.push_back(fmt::format("tcp_tw_recycle = {} (/proc/sys)", *s.tw_recycle));
  for (const auto& m : in.tw_recycle_config) f.evidence.push_back(m);
  f.explanation =
      "tcp_tw_recycle dropped connections whose timestamps went backwards per host, which breaks every client "
      "behind a NAT; Linux 4.12 removed it. On current kernels the line only makes 'sysctl -p' fail.";
  f.action = "Delete the tcp_tw_recycle line. For TIME_WAIT, reuse connections; for outgoing ones, tcp_tw_reuse=1.";
  out.push_back(std::move(f));
}

void check_timestamps_off(const DoctorInput& in, std::vector<Finding>& out) { check_setting(kTimestampsOff, in, out); }
void check_syncookies_off(const DoctorInput& in, std::vector<Finding>& out) { check_setting(kSyncookiesOff, in, out); }
void check_tw_buckets_low(const DoctorInput& in, std::vector<Finding>& out) { check_setting(kTwBucketsLow, in, out); }
void check_fin_timeout_changed(const DoctorInput& in, std::vector<Finding>& out) {
  check_setting(kFinTimeoutChanged, in, out);
}

}  // namespace tcpfsm
