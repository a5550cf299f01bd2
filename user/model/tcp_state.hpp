// TCP state names as the kernel spells them (include/net/tcp_states.h,
// and the sock:inet_sock_set_state tracepoint's show_tcp_state_name).
#pragma once

#include <cstdint>
#include <optional>
#include <string_view>

namespace tcpfsm {

// Name for a kernel state number; "UNKNOWN" for anything out of range.
std::string_view state_name(uint8_t state);
// Lower-case form as node_exporter labels it ("time_wait").
std::string_view state_label(uint8_t state);
// Accepts either spelling, any case. nullopt for an unknown name.
std::optional<uint8_t> parse_state(std::string_view name);
bool valid_state(uint8_t state);

}  // namespace tcpfsm
