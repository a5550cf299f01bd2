// decode_event and encode_event: every field, every rejected record.
#include <gtest/gtest.h>

#include <cstring>
#include <set>
#include <span>
#include <vector>

#include "model/event.hpp"
#include "sample_events.hpp"

namespace tcpfsm {
namespace {

using samples::sample_v4;
using samples::sample_v6;

std::span<const std::byte> bytes_of(const tcpfsm_event& raw) { return std::as_bytes(std::span(&raw, 1)); }

// A valid raw record with every field set.
tcpfsm_event valid_raw() { return encode_event(sample_v4()); }

void expect_same(const Event& a, const Event& b) {
  EXPECT_EQ(a.ts_ns, b.ts_ns);
  EXPECT_EQ(a.skaddr, b.skaddr);
  EXPECT_EQ(a.cookie, b.cookie);
  EXPECT_EQ(a.prev_ns, b.prev_ns);
  EXPECT_EQ(a.pid, b.pid);
  EXPECT_EQ(a.netns, b.netns);
  EXPECT_EQ(a.sport, b.sport);
  EXPECT_EQ(a.dport, b.dport);
  EXPECT_EQ(a.family, b.family);
  EXPECT_EQ(a.oldstate, b.oldstate);
  EXPECT_EQ(a.newstate, b.newstate);
  EXPECT_EQ(a.owner, b.owner);
  EXPECT_EQ(a.rescued, b.rescued);
  EXPECT_EQ(a.cause, b.cause);
  EXPECT_EQ(a.saddr, b.saddr);
  EXPECT_EQ(a.daddr, b.daddr);
  EXPECT_EQ(a.comm, b.comm);
  EXPECT_EQ(a.totals, b.totals);
}

TEST(Decode, RoundTripIpv4) {
  Event in = sample_v4();
  tcpfsm_event raw = encode_event(in);
  EXPECT_EQ(raw.kind, TCPFSM_EV_STATE);
  EXPECT_EQ(raw.flags, TCPFSM_OWNER_TASK | TCPFSM_F_PREV_KNOWN);
  auto out = decode_event(bytes_of(raw));
  ASSERT_TRUE(out.ok()) << out.error().message;
  expect_same(*out, in);
  EXPECT_EQ(out->comm_view(), "curl");
  EXPECT_EQ(format_addr(out->family, out->saddr), "10.0.0.1");
  EXPECT_EQ(format_addr(out->family, out->daddr), "192.168.1.2");
}

TEST(Decode, RoundTripIpv6) {
  Event in = sample_v6();
  tcpfsm_event raw = encode_event(in);
  EXPECT_EQ(raw.flags, TCPFSM_OWNER_LISTENER | TCPFSM_F_PREV_KNOWN | TCPFSM_F_RESCUED);
  auto out = decode_event(bytes_of(raw));
  ASSERT_TRUE(out.ok()) << out.error().message;
  expect_same(*out, in);
  EXPECT_TRUE(out->rescued);
  EXPECT_EQ(format_addr(out->family, out->saddr), "2001:db8::1");
  EXPECT_EQ(format_addr(out->family, out->daddr), "2001:db8::2");
}

TEST(Decode, RoundTripWithoutPrev) {
  Event in = sample_v4();
  in.prev_ns.reset();
  in.owner = Owner::None;
  in.pid = 0;
  in.comm = {};
  auto out = decode_event(bytes_of(encode_event(in)));
  ASSERT_TRUE(out.ok()) << out.error().message;
  expect_same(*out, in);
  EXPECT_EQ(out->comm_view(), "");
}

TEST(Decode, RawFieldsLandInEvent) {
  tcpfsm_event raw{};
  raw.ts_ns = 11;
  raw.skaddr = 22;
  raw.cookie = 33;
  raw.prev_ns = 44;
  raw.pid = 55;
  raw.netns = 66;
  raw.sport = 77;
  raw.dport = 88;
  raw.family = AF_INET;
  raw.oldstate = TCPFSM_LISTEN;
  raw.newstate = TCPFSM_SYN_RECV;
  raw.kind = TCPFSM_EV_STATE;
  raw.flags = TCPFSM_F_PREV_KNOWN | TCPFSM_OWNER_RECORDED;
  raw.saddr[0] = 127;
  raw.saddr[3] = 1;
  raw.daddr[0] = 8;
  std::memcpy(raw.comm, "sshd", 5);
  auto e = decode_event(bytes_of(raw));
  ASSERT_TRUE(e.ok()) << e.error().message;
  EXPECT_EQ(e->ts_ns, 11u);
  EXPECT_EQ(e->skaddr, 22u);
  EXPECT_EQ(e->cookie, 33u);
  EXPECT_EQ(e->prev_ns, 44u);
  EXPECT_EQ(e->pid, 55u);
  EXPECT_EQ(e->netns, 66u);
  EXPECT_EQ(e->sport, 77);
  EXPECT_EQ(e->dport, 88);
  EXPECT_EQ(e->oldstate, TCPFSM_LISTEN);
  EXPECT_EQ(e->newstate, TCPFSM_SYN_RECV);
  EXPECT_EQ(e->owner, Owner::Recorded);
  EXPECT_FALSE(e->rescued);
  EXPECT_EQ(format_addr(e->family, e->saddr), "127.0.0.1");
  EXPECT_EQ(format_addr(e->family, e->daddr), "8.0.0.0");
  EXPECT_EQ(e->comm_view(), "sshd");
}

TEST(Decode, CauseOnlyIntoCloseAndInRange) {
  tcpfsm_event raw = encode_event(sample_v6());  // FIN_WAIT1 -> CLOSE
  EXPECT_EQ(raw.cause, TCPFSM_CAUSE_RST_RECEIVED);
  for (uint8_t c = 0; c < TCPFSM_CAUSE_MAX; ++c) {
    raw.cause = c;
    auto e = decode_event(bytes_of(raw));
    ASSERT_TRUE(e.ok()) << cause_name(c);
    EXPECT_EQ(e->cause, c);
  }
  raw.cause = TCPFSM_CAUSE_MAX;
  EXPECT_FALSE(decode_event(bytes_of(raw)).ok());
  raw = encode_event(sample_v4());  // SYN_SENT -> ESTABLISHED: no cause
  raw.cause = TCPFSM_CAUSE_FIN;
  EXPECT_FALSE(decode_event(bytes_of(raw)).ok());
}

// The connection's totals ride only on a record into CLOSE; a connect that
// established carries its SYN retransmissions alone.
TEST(Decode, TotalsOnlyIntoCloseAndSynRetransmitsOnAnEstablishedConnect) {
  tcpfsm_event raw = encode_event(sample_v6());  // FIN_WAIT1 -> CLOSE
  EXPECT_EQ(raw.bytes_acked, 123456u);
  EXPECT_EQ(raw.srtt_us, 150u);
  ASSERT_TRUE(decode_event(bytes_of(raw)).ok());
  raw = encode_event(sample_v4());  // SYN_SENT -> ESTABLISHED
  raw.total_retrans = 2;
  auto connected = decode_event(bytes_of(raw));
  ASSERT_TRUE(connected.ok()) << connected.error().message;
  EXPECT_TRUE(connected->is_connected());
  EXPECT_EQ(connected->totals.retransmits, 2u);
  for (auto set : {+[](tcpfsm_event& r) { r.bytes_acked = 1; }, +[](tcpfsm_event& r) { r.bytes_received = 1; },
                   +[](tcpfsm_event& r) { r.srtt_us = 1; },
                   // Not a connect: ESTABLISHED -> FIN_WAIT1 has no totals at all.
                   +[](tcpfsm_event& r) {
                     r.oldstate = TCPFSM_ESTABLISHED;
                     r.newstate = TCPFSM_FIN_WAIT1;
                   }}) {
    tcpfsm_event bad = raw;
    set(bad);
    auto e = decode_event(bytes_of(bad));
    ASSERT_FALSE(e.ok());
    EXPECT_NE(e.error().message.find("totals"), std::string::npos) << e.error().message;
  }
}

TEST(Decode, EveryCauseHasOneNameThatParsesBack) {
  std::set<std::string_view> seen;
  for (uint8_t c = 0; c < kCauseCount; ++c) {
    const auto name = cause_name(c);
    EXPECT_FALSE(name.empty());
    EXPECT_TRUE(seen.insert(name).second) << name;
    EXPECT_EQ(parse_cause(name), c) << name;
  }
  EXPECT_EQ(cause_name(TCPFSM_CAUSE_MAX), "unknown");
  EXPECT_EQ(parse_cause("rst_sent"), std::nullopt);
  EXPECT_EQ(parse_cause(""), std::nullopt);
}

class WrongSize : public ::testing::TestWithParam<size_t> {};

TEST_P(WrongSize, Rejected) {
  // Valid record bytes at the front, so only the size is wrong.
  std::vector<std::byte> buf(200);
  tcpfsm_event raw = valid_raw();
  std::memcpy(buf.data(), &raw, sizeof(raw));
  auto e = decode_event(std::span<const std::byte>(buf.data(), GetParam()));
  ASSERT_FALSE(e.ok());
  EXPECT_EQ(e.error().kind, Error::Kind::Runtime);
  EXPECT_NE(e.error().message.find(std::to_string(GetParam())), std::string::npos) << e.error().message;
}

INSTANTIATE_TEST_SUITE_P(Sizes, WrongSize, ::testing::Values(0, 1, 103, 105, 200));

TEST(Decode, ExactSizeOfValidRecordAccepted) {
  std::vector<std::byte> buf(200);
  tcpfsm_event raw = valid_raw();
  std::memcpy(buf.data(), &raw, sizeof(raw));
  EXPECT_TRUE(decode_event(std::span<const std::byte>(buf.data(), TCPFSM_EVENT_SIZE)).ok());
}

TEST(Decode, UnknownKindRejected) {
  for (int kind : {0, 6, 255}) {
    tcpfsm_event raw = valid_raw();
    raw.kind = static_cast<uint8_t>(kind);
    EXPECT_FALSE(decode_event(bytes_of(raw)).ok()) << kind;
  }
}

TEST(Decode, UnknownFamilyRejected) {
  for (int family : {0, 1, 3, 9, 11, 255}) {
    tcpfsm_event raw = valid_raw();
    raw.family = static_cast<uint8_t>(family);
    EXPECT_FALSE(decode_event(bytes_of(raw)).ok()) << family;
  }
}

TEST(Decode, OutOfRangeStatesRejected) {
  for (int state : {0, 14, 255}) {
    tcpfsm_event old_bad = valid_raw();
    old_bad.oldstate = static_cast<uint8_t>(state);
    EXPECT_FALSE(decode_event(bytes_of(old_bad)).ok()) << "oldstate " << state;
    tcpfsm_event new_bad = valid_raw();
    new_bad.newstate = static_cast<uint8_t>(state);
    EXPECT_FALSE(decode_event(bytes_of(new_bad)).ok()) << "newstate " << state;
  }
}

TEST(Decode, EdgeStatesAccepted) {
  tcpfsm_event raw = valid_raw();
  raw.oldstate = TCPFSM_ESTABLISHED;
  raw.newstate = TCPFSM_BOUND_INACTIVE;
  EXPECT_TRUE(decode_event(bytes_of(raw)).ok());
}

TEST(Decode, UnknownFlagBitsRejected) {
  for (int bit : {0x10, 0x20, 0x40, 0x80}) {
    tcpfsm_event raw = valid_raw();
    raw.flags = static_cast<uint8_t>(raw.flags | bit);
    EXPECT_FALSE(decode_event(bytes_of(raw)).ok()) << "flag " << bit;
  }
}

TEST(Decode, CommWithoutNulIsTerminated) {
  tcpfsm_event raw = valid_raw();
  std::memset(raw.comm, 'A', sizeof(raw.comm));
  auto e = decode_event(bytes_of(raw));
  ASSERT_TRUE(e.ok()) << e.error().message;
  EXPECT_EQ(e->comm.back(), '\0');
  EXPECT_LE(e->comm_view().size(), 15u);
  EXPECT_EQ(e->comm_view(), std::string(15, 'A'));
}

TEST(Decode, PrevNsIgnoredWhenNotKnown) {
  tcpfsm_event raw = valid_raw();
  raw.prev_ns = 123456789;
  raw.flags = static_cast<uint8_t>(raw.flags & ~TCPFSM_F_PREV_KNOWN);
  auto e = decode_event(bytes_of(raw));
  ASSERT_TRUE(e.ok()) << e.error().message;
  EXPECT_EQ(e->prev_ns, std::nullopt);

  raw.flags |= TCPFSM_F_PREV_KNOWN;
  auto known = decode_event(bytes_of(raw));
  ASSERT_TRUE(known.ok());
  EXPECT_EQ(known->prev_ns, 123456789u);
}

TEST(Decode, PrevKnownWithZeroIsZeroNotUnknown) {
  tcpfsm_event raw = valid_raw();
  raw.prev_ns = 0;
  raw.flags = TCPFSM_F_PREV_KNOWN;
  auto e = decode_event(bytes_of(raw));
  ASSERT_TRUE(e.ok());
  EXPECT_EQ(e->prev_ns, 0u);
}

TEST(Decode, OwnerAndRescuedBits) {
  struct Case {
    uint8_t flags;
    Owner owner;
    bool rescued;
  };
  for (const Case& c : {Case{TCPFSM_OWNER_NONE, Owner::None, false}, Case{TCPFSM_OWNER_TASK, Owner::Task, false},
                        Case{TCPFSM_OWNER_RECORDED, Owner::Recorded, false},
                        Case{TCPFSM_OWNER_LISTENER, Owner::Listener, false}, Case{TCPFSM_F_RESCUED, Owner::None, true},
                        Case{TCPFSM_F_RESCUED | TCPFSM_OWNER_RECORDED, Owner::Recorded, true},
                        Case{TCPFSM_F_RESCUED | TCPFSM_F_PREV_KNOWN | TCPFSM_OWNER_LISTENER, Owner::Listener, true}}) {
    tcpfsm_event raw = valid_raw();
    raw.flags = c.flags;
    auto e = decode_event(bytes_of(raw));
    ASSERT_TRUE(e.ok()) << int(c.flags);
    EXPECT_EQ(e->owner, c.owner) << int(c.flags);
    EXPECT_EQ(e->rescued, c.rescued) << int(c.flags);
  }
}

TEST(Decode, OwnerNames) {
  EXPECT_EQ(owner_name(Owner::None), "none");
  EXPECT_EQ(owner_name(Owner::Task), "task");
  EXPECT_EQ(owner_name(Owner::Recorded), "recorded");
  EXPECT_EQ(owner_name(Owner::Listener), "listener");
}

TEST(Decode, FormatAddrUnknownFamilyIsEmpty) {
  std::array<uint8_t, 16> addr{1, 2, 3, 4};
  EXPECT_EQ(format_addr(0, addr), "");
  EXPECT_EQ(format_addr(AF_INET, addr), "1.2.3.4");
}

}  // namespace
}  // namespace tcpfsm

namespace tcpfsm {
namespace {

tcpfsm_event timewait_raw(uint8_t kind) {
  tcpfsm_event raw{};
  raw.kind = kind;
  raw.family = AF_INET;
  raw.newstate = TCPFSM_TIME_WAIT;
  raw.cookie = 77;
  raw.skaddr = 0xffff888000001000;
  return raw;
}

TEST(DecodeTimewait, AllThreeKindsDecode) {
  for (uint8_t kind : {TCPFSM_EV_TW_START, TCPFSM_EV_TW_CANCEL, TCPFSM_EV_TW_EXPIRE, TCPFSM_EV_TW_SUBSTATE}) {
    tcpfsm_event raw = timewait_raw(kind);
    auto e = decode_event({reinterpret_cast<const std::byte*>(&raw), sizeof(raw)});
    ASSERT_TRUE(e.ok()) << e.error().message;
    EXPECT_EQ(static_cast<uint8_t>(e->kind), kind);
    EXPECT_TRUE(e->is_timewait());
    EXPECT_EQ(e->newstate, TCPFSM_TIME_WAIT);
    EXPECT_EQ(e->cookie, 77u);
    tcpfsm_event back = encode_event(e.value());
    EXPECT_EQ(std::memcmp(&back, &raw, sizeof(raw)), 0);
  }
}

TEST(DecodeTimewait, RejectsTransitionFieldsOnTimewaitRecords) {
  tcpfsm_event raw = timewait_raw(TCPFSM_EV_TW_START);
  raw.oldstate = TCPFSM_FIN_WAIT2;
  EXPECT_FALSE(decode_event({reinterpret_cast<const std::byte*>(&raw), sizeof(raw)}).ok());
  raw = timewait_raw(TCPFSM_EV_TW_START);
  raw.flags = TCPFSM_F_PREV_KNOWN;
  EXPECT_FALSE(decode_event({reinterpret_cast<const std::byte*>(&raw), sizeof(raw)}).ok());
  raw = timewait_raw(TCPFSM_EV_TW_START);
  raw.newstate = 0;
  EXPECT_FALSE(decode_event({reinterpret_cast<const std::byte*>(&raw), sizeof(raw)}).ok());
}

}  // namespace
}  // namespace tcpfsm
