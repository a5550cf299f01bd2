// TCP state names, labels and their parsing.
#include <gtest/gtest.h>

#include <cctype>
#include <string>

#include "model/tcp_state.hpp"
#include "tcpfsm/event.h"

namespace tcpfsm {
namespace {

struct StateCase {
  uint8_t number;
  const char* name;
  const char* label;
};

constexpr StateCase kStates[] = {
    {1, "ESTABLISHED", "established"},
    {2, "SYN_SENT", "syn_sent"},
    {3, "SYN_RECV", "syn_recv"},
    {4, "FIN_WAIT1", "fin_wait1"},
    {5, "FIN_WAIT2", "fin_wait2"},
    {6, "TIME_WAIT", "time_wait"},
    {7, "CLOSE", "close"},
    {8, "CLOSE_WAIT", "close_wait"},
    {9, "LAST_ACK", "last_ack"},
    {10, "LISTEN", "listen"},
    {11, "CLOSING", "closing"},
    {12, "NEW_SYN_RECV", "new_syn_recv"},
    {13, "BOUND_INACTIVE", "bound_inactive"},
};

class KernelState : public ::testing::TestWithParam<StateCase> {};

TEST_P(KernelState, NameLabelAndParse) {
  const StateCase& c = GetParam();
  EXPECT_TRUE(valid_state(c.number));
  EXPECT_EQ(state_name(c.number), c.name);
  EXPECT_EQ(state_label(c.number), c.label);
  EXPECT_EQ(parse_state(c.name), c.number);
  EXPECT_EQ(parse_state(c.label), c.number);

  std::string dashed = c.label;
  for (char& ch : dashed) ch = ch == '_' ? '-' : ch;
  EXPECT_EQ(parse_state(dashed), c.number) << dashed;

  std::string mixed = c.name;  // "Syn_sent" style
  for (size_t i = 1; i < mixed.size(); ++i) mixed[i] = static_cast<char>(std::tolower(mixed[i]));
  EXPECT_EQ(parse_state(mixed), c.number) << mixed;
}

INSTANTIATE_TEST_SUITE_P(AllStates, KernelState, ::testing::ValuesIn(kStates),
                         [](const auto& info) { return std::string(info.param.name); });

TEST(TcpState, NumbersMatchKernelEnum) {
  EXPECT_EQ(state_name(TCPFSM_ESTABLISHED), "ESTABLISHED");
  EXPECT_EQ(state_name(TCPFSM_TIME_WAIT), "TIME_WAIT");
  EXPECT_EQ(state_name(TCPFSM_BOUND_INACTIVE), "BOUND_INACTIVE");
  EXPECT_EQ(TCPFSM_STATE_MAX, 14);
}

TEST(TcpState, OutOfRangeIsUnknown) {
  for (int s : {0, 14, 15, 100, 255}) {
    auto st = static_cast<uint8_t>(s);
    EXPECT_FALSE(valid_state(st)) << s;
    EXPECT_EQ(state_name(st), "UNKNOWN") << s;
    EXPECT_EQ(state_label(st), "unknown") << s;
  }
}

TEST(TcpState, ParseRejectsJunk) {
  for (const char* junk : {"", "UNKNOWN", "unknown", "ESTABLISHE", "ESTABLISHEDX", " ESTABLISHED", "ESTABLISHED ",
                           "SYN SENT", "SYN__SENT", "SYNSENT", "1", "time_wait\n", "fin_wait3", "close-wait-"}) {
    EXPECT_EQ(parse_state(junk), std::nullopt) << '"' << junk << '"';
  }
  // A string_view that carries an embedded NUL is not a state name either.
  EXPECT_EQ(parse_state(std::string_view("LISTEN\0", 7)), std::nullopt);
}

TEST(TcpState, ParseDistinguishesSimilarNames) {
  EXPECT_EQ(parse_state("close"), TCPFSM_CLOSE);
  EXPECT_EQ(parse_state("close_wait"), TCPFSM_CLOSE_WAIT);
  EXPECT_EQ(parse_state("closing"), TCPFSM_CLOSING);
  EXPECT_EQ(parse_state("syn_recv"), TCPFSM_SYN_RECV);
  EXPECT_EQ(parse_state("new_syn_recv"), TCPFSM_NEW_SYN_RECV);
  EXPECT_EQ(parse_state("fin_wait1"), TCPFSM_FIN_WAIT1);
  EXPECT_EQ(parse_state("FIN-WAIT2"), TCPFSM_FIN_WAIT2);
}

}  // namespace
}  // namespace tcpfsm
