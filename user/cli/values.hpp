// Values of single flags: process ids, names, namespaces, listen addresses
// and ring buffer sizes. Pure: no file is touched.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <utility>

#include "base/result.hpp"

namespace tcpfsm {

// A positive process id.
Result<uint32_t> parse_pid(std::string_view text);
// 1-15 characters, as the kernel's comm holds.
Result<std::string> parse_comm(std::string_view text);
// "4026531840" or "net:[4026531840]" (what readlink /proc/PID/ns/net prints).
Result<uint32_t> parse_netns(std::string_view flag, std::string_view text);
// "127.0.0.1:9977", "[::1]:9977", "0.0.0.0:9977", "localhost:9977" -> host, port.
Result<std::pair<std::string, uint16_t>> parse_listen(std::string_view text,
                                                      std::string_view flag = "--web.listen-address");
// --ringbuf-size: a power of two of at least 4096 ("4M").
Result<size_t> parse_ringbuf_size(std::string_view text);

}  // namespace tcpfsm
