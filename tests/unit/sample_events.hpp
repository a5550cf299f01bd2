// Fully populated sample events shared by the unit tests.
#pragma once

#include <sys/socket.h>

#include <cstring>

#include "model/event.hpp"

namespace tcpfsm::samples {

inline void set_comm(Event& e, const char* name) {
  e.comm = {};
  std::memcpy(e.comm.data(), name, strnlen(name, e.comm.size() - 1));
}

// 10.0.0.1:54321 -> 192.168.1.2:443, SYN_SENT -> ESTABLISHED.
inline Event sample_v4() {
  Event e;
  e.ts_ns = 5'000'000'123;
  e.skaddr = 0xffff8880abcd1234;
  e.cookie = 4711;
  e.prev_ns = 1'500'000;
  e.pid = 1234;
  e.netns = 4026531840u;
  e.sport = 54321;
  e.dport = 443;
  e.family = AF_INET;
  e.oldstate = TCPFSM_SYN_SENT;
  e.newstate = TCPFSM_ESTABLISHED;
  e.owner = Owner::Task;
  e.saddr = {10, 0, 0, 1};
  e.daddr = {192, 168, 1, 2};
  set_comm(e, "curl");
  return e;
}

// [2001:db8::1]:8080 -> [2001:db8::2]:36000, FIN_WAIT1 -> CLOSE, reset by
// the peer: every optional field of a record is set.
inline Event sample_v6() {
  Event e;
  e.ts_ns = 7'000'000'000;
  e.skaddr = 0xffff888012345678;
  e.cookie = 99;
  e.prev_ns = 250'000;
  e.pid = 42;
  e.netns = 4026532000u;
  e.sport = 8080;
  e.dport = 36000;
  e.family = AF_INET6;
  e.oldstate = TCPFSM_FIN_WAIT1;
  e.newstate = TCPFSM_CLOSE;
  e.cause = TCPFSM_CAUSE_RST_RECEIVED;
  e.owner = Owner::Listener;
  e.rescued = true;
  e.totals = {123456, 7890, 3, 150};
  e.saddr = {0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1};
  e.daddr = {0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2};
  set_comm(e, "nginx");
  return e;
}

}  // namespace tcpfsm::samples
