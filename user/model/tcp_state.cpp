// TCP state names and their parsing.
#include "model/tcp_state.hpp"

#include <array>
#include <cctype>

#include "tcpfsm/event.h"

namespace tcpfsm {
namespace {

struct Names {
  std::string_view upper;
  std::string_view lower;
};

constexpr std::array<Names, TCPFSM_STATE_MAX> kNames = {{
    {"UNKNOWN", "unknown"},
    {"ESTABLISHED", "established"},
    {"SYN_SENT", "syn_sent"},
    {"SYN_RECV", "syn_recv"},
    {"FIN_WAIT1", "fin_wait1"},
    {"FIN_WAIT2", "fin_wait2"},
    {"TIME_WAIT", "time_wait"},
    {"CLOSE", "close"},
    {"CLOSE_WAIT", "close_wait"},
    {"LAST_ACK", "last_ack"},
    {"LISTEN", "listen"},
    {"CLOSING", "closing"},
    {"NEW_SYN_RECV", "new_syn_recv"},
    {"BOUND_INACTIVE", "bound_inactive"},
}};

}  // namespace

bool valid_state(uint8_t state) { return state >= TCPFSM_ESTABLISHED && state < TCPFSM_STATE_MAX; }

std::string_view state_name(uint8_t state) { return valid_state(state) ? kNames[state].upper : kNames[0].upper; }

std::string_view state_label(uint8_t state) { return valid_state(state) ? kNames[state].lower : kNames[0].lower; }

std::optional<uint8_t> parse_state(std::string_view name) {
  for (uint8_t s = TCPFSM_ESTABLISHED; s < TCPFSM_STATE_MAX; ++s) {
    std::string_view want = kNames[s].lower;
    if (want.size() != name.size()) continue;
    bool same = true;
    for (size_t i = 0; i < name.size() && same; ++i) {
      char c = static_cast<char>(std::tolower(static_cast<unsigned char>(name[i])));
      same = c == want[i] || (c == '-' && want[i] == '_');
    }
    if (same) return s;
  }
  return std::nullopt;
}

}  // namespace tcpfsm
