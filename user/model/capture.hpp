// The capture format of `trace --json`, which `stats --replay` reads back:
// the record types and the field names of each, defined once for the writer
// (views/trace_view.cpp) and the reader (collect/capture_reader.cpp).
// Enum values are named in model/event.cpp; counters in run_counters.hpp.
#pragma once

#include <array>
#include <string_view>

namespace tcpfsm::capture {

// "type" of each line
inline constexpr std::string_view kType = "type";
inline constexpr std::string_view kStateRecord = "state";
inline constexpr std::string_view kTimewaitRecord = "timewait";
inline constexpr std::string_view kSummaryRecord = "summary";

// Fields of both record types
inline constexpr std::string_view kTs = "ts";  // RFC 3339, for people; the reader uses mono_ns
inline constexpr std::string_view kMonoNs = "mono_ns";
inline constexpr std::string_view kCookie = "cookie";
inline constexpr std::string_view kNetns = "netns";
inline constexpr std::string_view kFamily = "family";
inline constexpr std::string_view kSaddr = "saddr";
inline constexpr std::string_view kSport = "sport";
inline constexpr std::string_view kDaddr = "daddr";
inline constexpr std::string_view kDport = "dport";
// State records
inline constexpr std::string_view kSk = "sk";
inline constexpr std::string_view kPid = "pid";
inline constexpr std::string_view kComm = "comm";
inline constexpr std::string_view kOwner = "owner";
inline constexpr std::string_view kOld = "old";
inline constexpr std::string_view kNew = "new";
inline constexpr std::string_view kPrevNs = "prev_ns";
inline constexpr std::string_view kRescued = "rescued";  // written only when true
// Written only into CLOSE (a cause name, model/event.cpp); absent in
// captures from before causes: read as "unknown".
inline constexpr std::string_view kCause = "cause";
// Written only into CLOSE, after the cause: the connection's totals
// (ConnTotals); absent in older captures: read as 0.
inline constexpr std::string_view kBytesAcked = "bytes_acked";
inline constexpr std::string_view kBytesReceived = "bytes_received";
inline constexpr std::string_view kTotalRetrans = "total_retrans";
inline constexpr std::string_view kSrttUs = "srtt_us";
// Timewait records
inline constexpr std::string_view kEvent = "event";
inline constexpr std::string_view kTw = "tw";
inline constexpr std::string_view kSubstate = "substate";
// Summary: an object of every kRunCounters name, and the total lost
inline constexpr std::string_view kCounters = "counters";
inline constexpr std::string_view kLost = "lost";

// Every field the writer puts in each record type, in its order.
inline constexpr std::array kStateFields = {kType,  kTs,         kMonoNs,        kSk,           kCookie, kPid,
                                            kComm,  kOwner,      kNetns,         kFamily,       kSaddr,  kSport,
                                            kDaddr, kDport,      kOld,           kNew,          kPrevNs, kRescued,
                                            kCause, kBytesAcked, kBytesReceived, kTotalRetrans, kSrttUs};
inline constexpr std::array kTimewaitFields = {kType,   kTs,    kMonoNs, kEvent, kTw,    kCookie,  kNetns,
                                               kFamily, kSaddr, kSport,  kDaddr, kDport, kSubstate};
inline constexpr std::array kSummaryFields = {kType, kCounters, kLost};

}  // namespace tcpfsm::capture
