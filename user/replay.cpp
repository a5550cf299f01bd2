#include "tcpfsm/replay.hpp"

#include <arpa/inet.h>
#include <sys/socket.h>

#include <charconv>
#include <limits>
#include <cstring>
#include <fstream>
#include <iostream>
#include <nlohmann/json.hpp>

#include "tcpfsm/tcp_state.hpp"

namespace tcpfsm {
namespace {

using nlohmann::json;

struct BadField {
  std::string what;
};

const json& field(const json& j, const char* key) {
  auto it = j.find(key);
  if (it == j.end()) throw BadField{std::string("missing \"") + key + "\""};
  return *it;
}

template <typename T>
T number(const json& j, const char* key) {
  const json& v = field(j, key);
  if (!v.is_number_unsigned() || v.get<uint64_t>() > std::numeric_limits<T>::max())
    throw BadField{std::string("\"") + key + "\" is not an unsigned number in range"};
  return static_cast<T>(v.get<uint64_t>());
}

std::string text(const json& j, const char* key) {
  const json& v = field(j, key);
  if (!v.is_string()) throw BadField{std::string("\"") + key + "\" is not a string"};
  return v.get<std::string>();
}

uint8_t state(const json& j, const char* key) {
  auto s = parse_state(text(j, key));
  if (!s) throw BadField{std::string("\"") + key + "\" is not a TCP state"};
  return *s;
}

uint64_t hex(const json& j, const char* key) {
  std::string s = text(j, key);
  uint64_t v = 0;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v, 16);
  if (ec != std::errc() || p != s.data() + s.size()) throw BadField{std::string("\"") + key + "\" is not hex"};
  return v;
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
      throw BadField{"\"comm\" has a character tcpfsm never writes"};
    }
  }
  return out;
}

void ends(const json& j, Event& e) {
  unsigned fam = number<unsigned>(j, "family");
  if (fam != 4 && fam != 6) throw BadField{"\"family\" must be 4 or 6"};
  e.family = fam == 4 ? AF_INET : AF_INET6;
  for (auto [key, dst] : {std::pair{"saddr", &e.saddr}, std::pair{"daddr", &e.daddr}}) {
    std::string a = text(j, key);
    dst->fill(0);
    if (inet_pton(e.family, a.c_str(), dst->data()) != 1) throw BadField{std::string("\"") + key + "\" is not an address"};
  }
  e.sport = number<uint16_t>(j, "sport");
  e.dport = number<uint16_t>(j, "dport");
  e.netns = number<uint32_t>(j, "netns");
  e.cookie = number<uint64_t>(j, "cookie");
  e.ts_ns = number<uint64_t>(j, "mono_ns");
}

}  // namespace

Result<ReplayLine> parse_capture_line(std::string_view line) {
  ReplayLine out;
  if (line.find_first_not_of(" \t\r") == std::string_view::npos) return out;
  json j = json::parse(line, nullptr, false);
  if (j.is_discarded() || !j.is_object()) return Error::runtime("not a JSON object");
  try {
    std::string type = text(j, "type");
    if (type == "state") {
      Event e;
      ends(j, e);
      e.kind = EventKind::State;
      e.skaddr = hex(j, "sk");
      e.pid = number<uint32_t>(j, "pid");
      std::string comm = latin1_bytes(text(j, "comm"));
      if (comm.size() >= e.comm.size()) throw BadField{"\"comm\" is longer than 15 bytes"};
      std::memcpy(e.comm.data(), comm.data(), comm.size());
      std::string owner = text(j, "owner");
      if (owner == "none") e.owner = Owner::None;
      else if (owner == "task") e.owner = Owner::Task;
      else if (owner == "recorded") e.owner = Owner::Recorded;
      else if (owner == "listener") e.owner = Owner::Listener;
      else throw BadField{"\"owner\" is not none, task, recorded or listener"};
      e.oldstate = state(j, "old");
      e.newstate = state(j, "new");
      const json& prev = field(j, "prev_ns");
      if (!prev.is_null()) e.prev_ns = number<uint64_t>(j, "prev_ns");
      auto r = j.find("rescued");
      e.rescued = r != j.end() && r->is_boolean() && r->get<bool>();
      out.event = e;
    } else if (type == "timewait") {
      Event e;
      ends(j, e);
      std::string ev = text(j, "event");
      if (ev == "start") e.kind = EventKind::TwStart;
      else if (ev == "cancel") e.kind = EventKind::TwCancel;
      else if (ev == "expire") e.kind = EventKind::TwExpire;
      else if (ev == "substate") e.kind = EventKind::TwSubstate;
      else throw BadField{"\"event\" is not start, cancel, expire or substate"};
      e.skaddr = hex(j, "tw");
      e.newstate = state(j, "substate");
      out.event = e;
    } else if (type == "summary") {
      RunCounters c;
      c.events = number<uint64_t>(j, "events");
      const json& lost = field(j, "lost");
      c.ringbuf_drops = number<uint64_t>(lost, "ringbuf");
      const json& kernel = field(j, "kernel");
      c.recursion_misses = number<uint64_t>(kernel, "recursion_misses");
      c.rescued = number<uint64_t>(kernel, "rescued");
      c.malformed = number<uint64_t>(j, "malformed");
      out.summary = c;
    } else {
      throw BadField{"unknown \"type\" " + type};
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
