// The capture reader: one JSON line at a time back into Events and the run's
// counters, with the field names the writer uses (model/capture.hpp).
#include "collect/capture_reader.hpp"

#include <arpa/inet.h>
#include <sys/socket.h>

#include <cerrno>
#include <charconv>
#include <cstring>
#include <fstream>
#include <iostream>
#include <limits>
#include <nlohmann/json.hpp>

#include "model/capture.hpp"
#include "model/tcp_state.hpp"

namespace tcpfsm {
namespace {

using nlohmann::json;
namespace cap = capture;

struct BadField {
  std::string what;
};

std::string quoted(std::string_view key) { return "\"" + std::string(key) + "\""; }

const json& field(const json& j, std::string_view key) {
  auto it = j.find(key);
  if (it == j.end()) throw BadField{"missing " + quoted(key)};
  return *it;
}

template <typename T>
T number(const json& j, std::string_view key) {
  const json& v = field(j, key);
  if (!v.is_number_unsigned() || v.get<uint64_t>() > std::numeric_limits<T>::max())
    throw BadField{quoted(key) + " is not an unsigned number in range"};
  return static_cast<T>(v.get<uint64_t>());
}

std::string text(const json& j, std::string_view key) {
  const json& v = field(j, key);
  if (!v.is_string()) throw BadField{quoted(key) + " is not a string"};
  return v.get<std::string>();
}

uint8_t state(const json& j, std::string_view key) {
  auto s = parse_state(text(j, key));
  if (!s) throw BadField{quoted(key) + " is not a TCP state"};
  return *s;
}

uint64_t hex(const json& j, std::string_view key) {
  const std::string s = text(j, key);
  uint64_t v = 0;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v, 16);
  if (ec != std::errc() || p != s.data() + s.size()) throw BadField{quoted(key) + " is not hex"};
  return v;
}

// "ipv4"/"ipv6"; captures of tcpfsm 0.1.0 wrote 4 and 6.
uint8_t family(const json& j) {
  const json& v = field(j, cap::kFamily);
  if (v.is_string()) {
    if (auto f = parse_family(v.get<std::string>())) return *f;
  } else if (v.is_number_unsigned()) {
    if (v.get<uint64_t>() == 4) return AF_INET;
    if (v.get<uint64_t>() == 6) return AF_INET6;
  }
  throw BadField{quoted(cap::kFamily) + " must be \"ipv4\" or \"ipv6\""};
}

// The writer escapes each comm byte >= 0x7f as \u00XX (a comm is bytes, not
// UTF-8); the parser hands back UTF-8, so map U+0000..U+00FF back to bytes.
std::string latin1_bytes(const std::string& utf8) {
  std::string out;
  for (size_t i = 0; i < utf8.size(); ++i) {
    auto b0 = static_cast<unsigned char>(utf8[i]);
    if (b0 < 0x80) {
      out.push_back(static_cast<char>(b0));
    } else if ((b0 == 0xc2 || b0 == 0xc3) && i + 1 < utf8.size()) {
      auto b1 = static_cast<unsigned char>(utf8[++i]);
      out.push_back(static_cast<char>(((b0 & 0x1f) << 6) | (b1 & 0x3f)));
    } else {
      throw BadField{quoted(cap::kComm) + " has a character tcpfsm never writes"};
    }
  }
  return out;
}

// The fields both record types have.
void endpoints(const json& j, Event& e) {
  e.family = family(j);
  for (auto [key, dst] : {std::pair{cap::kSaddr, &e.saddr}, std::pair{cap::kDaddr, &e.daddr}}) {
    const std::string a = text(j, key);
    dst->fill(0);
    if (inet_pton(e.family, a.c_str(), dst->data()) != 1) throw BadField{quoted(key) + " is not an address"};
  }
  e.sport = number<uint16_t>(j, cap::kSport);
  e.dport = number<uint16_t>(j, cap::kDport);
  e.netns = number<uint32_t>(j, cap::kNetns);
  e.cookie = number<uint64_t>(j, cap::kCookie);
  e.ts_ns = number<uint64_t>(j, cap::kMonoNs);
}

Event state_record(const json& j) {
  Event e;
  endpoints(j, e);
  e.kind = EventKind::State;
  e.skaddr = hex(j, cap::kSk);
  e.pid = number<uint32_t>(j, cap::kPid);
  const std::string comm = latin1_bytes(text(j, cap::kComm));
  if (comm.size() >= e.comm.size()) throw BadField{quoted(cap::kComm) + " is longer than 15 bytes"};
  std::memcpy(e.comm.data(), comm.data(), comm.size());
  const auto owner = parse_owner(text(j, cap::kOwner));
  if (!owner) throw BadField{quoted(cap::kOwner) + " is not none, task, recorded or listener"};
  e.owner = *owner;
  e.oldstate = state(j, cap::kOld);
  e.newstate = state(j, cap::kNew);
  if (!field(j, cap::kPrevNs).is_null()) e.prev_ns = number<uint64_t>(j, cap::kPrevNs);
  auto r = j.find(cap::kRescued);
  e.rescued = r != j.end() && r->is_boolean() && r->get<bool>();
  if (auto c = j.find(cap::kCause); c != j.end()) {
    const auto cause = c->is_string() ? parse_cause(c->get<std::string>()) : std::nullopt;
    if (!cause) throw BadField{quoted(cap::kCause) + " is not a cause tcpfsm writes (README, \"closed by\")"};
    if (e.newstate != TCPFSM_CLOSE && *cause != TCPFSM_CAUSE_UNKNOWN)
      throw BadField{quoted(cap::kCause) + " is set on a record that does not enter CLOSE"};
    e.cause = *cause;
  }
  const auto total = [&](std::string_view key, auto& dst) {
    if (!j.contains(key)) return;
    if (e.newstate != TCPFSM_CLOSE && !(key == cap::kTotalRetrans && e.is_connected()))
      throw BadField{quoted(key) + " is set on a record that does not enter CLOSE"};
    dst = number<std::remove_reference_t<decltype(dst)>>(j, key);
  };
  total(cap::kBytesAcked, e.totals.bytes_acked);
  total(cap::kBytesReceived, e.totals.bytes_received);
  total(cap::kTotalRetrans, e.totals.retransmits);
  total(cap::kSrttUs, e.totals.srtt_us);
  return e;
}

Event timewait_record(const json& j) {
  Event e;
  endpoints(j, e);
  const auto kind = parse_kind(text(j, cap::kEvent));
  if (!kind || *kind == EventKind::State)
    throw BadField{quoted(cap::kEvent) + " is not start, cancel, expire or substate"};
  e.kind = *kind;
  e.skaddr = hex(j, cap::kTw);
  e.newstate = state(j, cap::kSubstate);
  return e;
}

RunCounters summary_record(const json& j) {
  RunCounters c;
  if (j.contains(cap::kCounters) || !j.contains("events")) {
    const json& counters = field(j, cap::kCounters);
    for (const auto& f : kRunCounters) c.*f.member = number<uint64_t>(counters, f.name);
    return c;
  }
  // tcpfsm 0.1.0 wrote fewer counters, nested differently.
  c.events = number<uint64_t>(j, "events");
  c.ringbuf_drops = number<uint64_t>(field(j, "lost"), "ringbuf");
  const json& kernel = field(j, "kernel");
  c.recursion_misses = number<uint64_t>(kernel, "recursion_misses");
  c.rescued = number<uint64_t>(kernel, "rescued");
  c.malformed = number<uint64_t>(j, "malformed");
  return c;
}

}  // namespace

Result<ReplayLine> parse_capture_line(std::string_view line) {
  ReplayLine out;
  if (line.find_first_not_of(" \t\r") == std::string_view::npos) return out;
  const json j = json::parse(line, nullptr, false);
  if (j.is_discarded() || !j.is_object()) return Error::runtime("not a JSON object");
  try {
    const std::string type = text(j, cap::kType);
    if (type == cap::kStateRecord) {
      out.event = state_record(j);
    } else if (type == cap::kTimewaitRecord) {
      out.event = timewait_record(j);
    } else if (type == cap::kSummaryRecord) {
      out.summary = summary_record(j);
    } else {
      throw BadField{"unknown " + quoted(cap::kType) + " " + type};
    }
  } catch (const BadField& b) {
    return Error::runtime(b.what);
  }
  return out;
}

Result<RunCounters> replay_capture(const std::string& path, EventSink& sink) {
  std::ifstream file;
  std::istream* in = &std::cin;
  if (path != "-") {
    file.open(path);
    if (!file) return Error::runtime("cannot read --replay file '" + path + "': " + std::strerror(errno));
    in = &file;
  }
  RunCounters counted;
  std::optional<RunCounters> summary;
  std::string line;
  for (uint64_t n = 1; std::getline(*in, line); ++n) {
    auto parsed = parse_capture_line(line);
    if (!parsed) {
      return Error::runtime(path + ":" + std::to_string(n) + ": " + parsed.error().message +
                            "; --replay reads what 'tcpfsm trace --json' writes");
    }
    if (parsed->event) {
      ++counted.events;
      sink.on_event(*parsed->event);
    }
    if (parsed->summary) summary = parsed->summary;
  }
  if (in->bad()) return Error::runtime("reading --replay file '" + path + "' failed");
  return summary ? *summary : counted;
}

}  // namespace tcpfsm
