// parse_inet_diag on synthetic netlink replies: well-formed dumps decode
// field by field, and every kind of malformed input is an Error that leaves
// the output untouched.
// Over 400 lines: a builder of netlink replies and one test per field and
// per kind of malformation, which a fuzzer cannot tell apart.
#include <arpa/inet.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <linux/inet_diag.h>
#include <linux/netlink.h>
#include <linux/sock_diag.h>
#include <linux/tcp.h>
#include <sys/socket.h>

#include <array>
#include <cerrno>
#include <climits>
#include <cstring>
#include <random>
#include <span>
#include <vector>

#include "collect/sock_diag.hpp"
#include "tcpfsm/event.h"

namespace tcpfsm {
namespace {

using ::testing::HasSubstr;
using Bytes = std::vector<std::byte>;

constexpr uint8_t kEstablished = 1;
constexpr uint8_t kSynRecv = 3;
constexpr uint8_t kFinWait2 = 5;
constexpr uint8_t kTimeWait = 6;
constexpr uint8_t kListen = 10;
constexpr uint32_t kNetns = 4026532000;

template <typename T>
void append(Bytes& b, const T& v) {
  const size_t at = b.size();
  b.resize(at + sizeof(v));
  std::memcpy(b.data() + at, &v, sizeof(v));
}

void pad4(Bytes& b) {
  while (b.size() % 4 != 0) b.push_back(std::byte{0});
}

// One netlink attribute, padded.
void put_attr(Bytes& b, uint16_t type, const Bytes& data) {
  nlattr a{};
  a.nla_len = static_cast<uint16_t>(sizeof(nlattr) + data.size());
  a.nla_type = type;
  append(b, a);
  b.insert(b.end(), data.begin(), data.end());
  pad4(b);
}

// One netlink message; `pad` false leaves the message unaligned at the end.
void put_msg(Bytes& b, uint16_t type, const Bytes& payload, bool pad = true) {
  nlmsghdr h{};
  h.nlmsg_len = static_cast<uint32_t>(NLMSG_HDRLEN + payload.size());
  h.nlmsg_type = type;
  h.nlmsg_flags = NLM_F_MULTI;
  h.nlmsg_seq = 1;
  append(b, h);
  b.insert(b.end(), payload.begin(), payload.end());
  if (pad) pad4(b);
}

inet_diag_msg v4_msg(uint8_t state, uint16_t sport, uint16_t dport) {
  inet_diag_msg m{};
  m.idiag_family = AF_INET;
  m.idiag_state = state;
  m.id.idiag_sport = htons(sport);
  m.id.idiag_dport = htons(dport);
  m.id.idiag_src[0] = htonl(0x0a000001);  // 10.0.0.1
  m.id.idiag_dst[0] = htonl(0xc0a80102);  // 192.168.1.2
  m.id.idiag_cookie[0] = 0x89abcdef;
  m.id.idiag_cookie[1] = 0x01234567;
  m.idiag_expires = 1234;
  m.idiag_uid = 1000;
  m.idiag_inode = 56789;
  return m;
}

inet_diag_msg v6_msg(uint8_t state, uint16_t sport, uint16_t dport) {
  inet_diag_msg m{};
  m.idiag_family = AF_INET6;
  m.idiag_state = state;
  m.id.idiag_sport = htons(sport);
  m.id.idiag_dport = htons(dport);
  for (int i = 0; i < 16; ++i) {
    reinterpret_cast<uint8_t*>(m.id.idiag_src)[i] = static_cast<uint8_t>(0x20 + i);
    reinterpret_cast<uint8_t*>(m.id.idiag_dst)[i] = static_cast<uint8_t>(0xf0 - i);
  }
  m.id.idiag_cookie[0] = 7;
  m.id.idiag_cookie[1] = 0;
  m.idiag_uid = 0;
  m.idiag_inode = 42;
  return m;
}

// Payload as inet_sk_diag_fill() builds it for a full socket: the message,
// then INET_DIAG_SHUTDOWN (always) and a further attribute.
Bytes full_payload(const inet_diag_msg& m) {
  Bytes p;
  append(p, m);
  put_attr(p, INET_DIAG_SHUTDOWN, {std::byte{0}});
  put_attr(p, INET_DIAG_TOS, {std::byte{0x10}});
  return p;
}

// Payload as tcp_twsk_diag_fill()/tcp_req_diag_fill() build it: the message,
// and INET_DIAG_MARK only when the reader has CAP_NET_ADMIN.
Bytes mini_payload(const inet_diag_msg& m, bool with_mark = false) {
  Bytes p;
  append(p, m);
  if (with_mark) put_attr(p, INET_DIAG_MARK, {std::byte{1}, std::byte{0}, std::byte{0}, std::byte{0}});
  return p;
}

Bytes int_payload(int v) {
  Bytes p;
  append(p, v);
  return p;
}

// NLMSG_ERROR payload: struct nlmsgerr (error + the offending request header).
Bytes error_payload(int error) {
  nlmsgerr e{};
  e.error = error;
  e.msg.nlmsg_len = 72;
  e.msg.nlmsg_type = SOCK_DIAG_BY_FAMILY;
  Bytes p;
  append(p, e);
  return p;
}

Result<DumpProgress> parse(const Bytes& b, std::vector<SocketRecord>& out) {
  return parse_inet_diag(std::span(b.data(), b.size()), kNetns, out);
}

// A record that must survive every failed parse untouched.
SocketRecord sentinel() {
  SocketRecord r;
  r.cookie = 0xfeedface;
  r.state = kListen;
  return r;
}

// Parses `b` expecting a malformed-reply Error, with `out` unchanged.
void expect_malformed(const Bytes& b, const char* mention) {
  std::vector<SocketRecord> out{sentinel()};
  auto r = parse(b, out);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().kind, Error::Kind::Runtime);
  EXPECT_EQ(r.error().err, EPROTO);
  EXPECT_THAT(r.error().message, HasSubstr("malformed sock_diag reply"));
  EXPECT_THAT(r.error().message, HasSubstr(mention));
  EXPECT_EQ(r.error().message.find('\n'), std::string::npos);
  ASSERT_EQ(out.size(), 1u) << "records were left behind by a failed parse";
  EXPECT_EQ(out[0].cookie, 0xfeedfaceu);
}

std::array<uint8_t, 16> addr(std::initializer_list<uint8_t> bytes) {
  std::array<uint8_t, 16> a{};
  std::copy(bytes.begin(), bytes.end(), a.begin());
  return a;
}

// ---- well-formed replies

TEST(SockDiagParse, OneIpv4Record) {
  Bytes b;
  put_msg(b, SOCK_DIAG_BY_FAMILY, full_payload(v4_msg(kEstablished, 443, 51000)));
  std::vector<SocketRecord> out;
  auto r = parse(b, out);
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_EQ(*r, DumpProgress::More);
  ASSERT_EQ(out.size(), 1u);
  const SocketRecord& s = out[0];
  EXPECT_EQ(s.family, AF_INET);
  EXPECT_EQ(s.state, kEstablished);
  EXPECT_FALSE(s.timewait);
  EXPECT_FALSE(s.request);
  EXPECT_EQ(s.cookie, 0x0123456789abcdefULL);
  EXPECT_EQ(s.inode, 56789u);
  EXPECT_EQ(s.uid, 1000u);
  EXPECT_EQ(s.netns, kNetns);
  EXPECT_EQ(s.expires_ms, 1234u);
  EXPECT_EQ(s.saddr, addr({10, 0, 0, 1}));
  EXPECT_EQ(s.daddr, addr({192, 168, 1, 2}));
  EXPECT_EQ(s.sport, 443);
  EXPECT_EQ(s.dport, 51000);
}

// INET_DIAG_SK_BPF_STORAGES as bpf_sk_storage_diag_put() nests it:
// { SK_DIAG_BPF_STORAGE { MAP_ID, MAP_VALUE } }.
Bytes storages_attr(const tcpfsm_sk_info& si) {
  Bytes value;
  append(value, si);
  Bytes one;
  put_attr(one, SK_DIAG_BPF_STORAGE_MAP_ID, {std::byte{7}, std::byte{0}, std::byte{0}, std::byte{0}});
  put_attr(one, SK_DIAG_BPF_STORAGE_MAP_VALUE, value);
  Bytes all;
  put_attr(all, NLA_F_NESTED | SK_DIAG_BPF_STORAGE, one);
  return all;
}

Bytes payload_with_extras(uint8_t state, uint32_t last_ack_ms, const tcpfsm_sk_info* si) {
  inet_diag_msg m = v4_msg(state, 40000, 5432);
  m.idiag_rqueue = 101;
  m.idiag_wqueue = 7;
  Bytes p = full_payload(m);
  tcp_info ti{};
  ti.tcpi_last_ack_recv = last_ack_ms;
  ti.tcpi_last_data_sent = 2500;
  ti.tcpi_last_data_recv = 9000;
  Bytes info;
  append(info, ti);
  put_attr(p, INET_DIAG_INFO, info);
  if (si) put_attr(p, NLA_F_NESTED | INET_DIAG_SK_BPF_STORAGES, storages_attr(*si));
  return p;
}

TEST(SockDiagParse, TcpInfoAndBpfStorageDateTheState) {
  constexpr uint8_t kCloseWait = 8;
  tcpfsm_sk_info si{};
  si.sk = 0xffff888000001000ULL;
  si.ts_ns = 123'456'789;
  si.state = kCloseWait;
  Bytes b;
  put_msg(b, SOCK_DIAG_BY_FAMILY, payload_with_extras(kCloseWait, 4321, &si));
  std::vector<SocketRecord> out;
  ASSERT_TRUE(parse(b, out).ok());
  ASSERT_EQ(out.size(), 1u);
  EXPECT_TRUE(out[0].has_last_ack_recv);
  EXPECT_EQ(out[0].last_ack_recv_ms, 4321u);
  ASSERT_TRUE(out[0].data);
  EXPECT_EQ(out[0].data->since_sent_ms, 2500u);
  EXPECT_EQ(out[0].data->since_recv_ms, 9000u);
  EXPECT_EQ(out[0].data->idle_ms(), 2500u);
  EXPECT_EQ(out[0].state_since_ns, 123'456'789u);
  EXPECT_EQ(out[0].rqueue, 101u);
  EXPECT_EQ(out[0].wqueue, 7u);
}

TEST(SockDiagParse, StorageOfAnotherStateDatesNothing) {
  tcpfsm_sk_info si{};
  si.ts_ns = 99;
  si.state = kEstablished;  // written before the socket moved on (a lost event)
  Bytes b;
  put_msg(b, SOCK_DIAG_BY_FAMILY, payload_with_extras(8, 10, &si));
  std::vector<SocketRecord> out;
  ASSERT_TRUE(parse(b, out).ok());
  EXPECT_EQ(out[0].state_since_ns, 0u);
  // Without extras nothing is claimed.
  Bytes plain;
  put_msg(plain, SOCK_DIAG_BY_FAMILY, full_payload(v4_msg(8, 1, 2)));
  out.clear();
  ASSERT_TRUE(parse(plain, out).ok());
  EXPECT_FALSE(out[0].has_last_ack_recv);
  EXPECT_EQ(out[0].state_since_ns, 0u);
}

TEST(SockDiagParse, ShortTcpInfoAndShortStorageValueAreIgnored) {
  Bytes p = full_payload(v4_msg(8, 1, 2));
  put_attr(p, INET_DIAG_INFO, Bytes(8));  // an old kernel's shorter struct
  Bytes one;
  put_attr(one, SK_DIAG_BPF_STORAGE_MAP_VALUE, Bytes(12));
  Bytes all;
  put_attr(all, SK_DIAG_BPF_STORAGE, one);
  put_attr(p, INET_DIAG_SK_BPF_STORAGES, all);
  Bytes b;
  put_msg(b, SOCK_DIAG_BY_FAMILY, p);
  std::vector<SocketRecord> out;
  ASSERT_TRUE(parse(b, out).ok());
  EXPECT_FALSE(out[0].has_last_ack_recv);
  EXPECT_FALSE(out[0].data);
  EXPECT_EQ(out[0].state_since_ns, 0u);
}

TEST(SockDiagParse, MalformedNestedStorageIsAnError) {
  Bytes p = full_payload(v4_msg(8, 1, 2));
  Bytes bad;
  nlattr a{};
  a.nla_len = 200;  // overruns its parent
  a.nla_type = SK_DIAG_BPF_STORAGE;
  append(bad, a);
  put_attr(p, INET_DIAG_SK_BPF_STORAGES, bad);
  Bytes b;
  put_msg(b, SOCK_DIAG_BY_FAMILY, p);
  expect_malformed(b, "attribute");
}

TEST(SockDiagParse, Ipv4UsesOnlyTheFirstFourAddressBytes) {
  inet_diag_msg m = v4_msg(kEstablished, 1, 2);
  m.id.idiag_src[1] = 0xffffffff;  // garbage the kernel would never send past the IPv4 address
  m.id.idiag_dst[3] = 0xffffffff;
  Bytes b;
  put_msg(b, SOCK_DIAG_BY_FAMILY, full_payload(m));
  std::vector<SocketRecord> out;
  ASSERT_TRUE(parse(b, out).ok());
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].saddr, addr({10, 0, 0, 1}));
  EXPECT_EQ(out[0].daddr, addr({192, 168, 1, 2}));
}

TEST(SockDiagParse, OneIpv6Record) {
  Bytes b;
  put_msg(b, SOCK_DIAG_BY_FAMILY, full_payload(v6_msg(kListen, 8080, 0)));
  std::vector<SocketRecord> out;
  auto r = parse(b, out);
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_EQ(*r, DumpProgress::More);
  ASSERT_EQ(out.size(), 1u);
  const SocketRecord& s = out[0];
  EXPECT_EQ(s.family, AF_INET6);
  EXPECT_EQ(s.state, kListen);
  EXPECT_FALSE(s.timewait);
  EXPECT_FALSE(s.request);
  EXPECT_EQ(s.cookie, 7u);
  EXPECT_EQ(s.inode, 42u);
  EXPECT_EQ(s.uid, 0u);
  EXPECT_EQ(s.sport, 8080);
  EXPECT_EQ(s.dport, 0);
  for (int i = 0; i < 16; ++i) {
    EXPECT_EQ(s.saddr[i], 0x20 + i) << i;
    EXPECT_EQ(s.daddr[i], 0xf0 - i) << i;
  }
}

TEST(SockDiagParse, SeveralRecordsThenDone) {
  Bytes b;
  put_msg(b, SOCK_DIAG_BY_FAMILY, full_payload(v4_msg(kListen, 80, 0)));
  put_msg(b, SOCK_DIAG_BY_FAMILY, full_payload(v6_msg(kEstablished, 80, 40000)));
  put_msg(b, SOCK_DIAG_BY_FAMILY, mini_payload(v4_msg(kTimeWait, 80, 40001)));
  put_msg(b, NLMSG_DONE, int_payload(0));
  std::vector<SocketRecord> out{sentinel()};
  auto r = parse(b, out);
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_EQ(*r, DumpProgress::Done);
  ASSERT_EQ(out.size(), 4u);  // appended after what was there
  EXPECT_EQ(out[0].cookie, 0xfeedfaceu);
  EXPECT_EQ(out[1].family, AF_INET);
  EXPECT_EQ(out[1].state, kListen);
  EXPECT_EQ(out[1].sport, 80);
  EXPECT_EQ(out[2].family, AF_INET6);
  EXPECT_EQ(out[2].state, kEstablished);
  EXPECT_EQ(out[2].dport, 40000);
  EXPECT_EQ(out[3].state, kTimeWait);
  EXPECT_EQ(out[3].dport, 40001);
}

TEST(SockDiagParse, DoneAloneAddsNothing) {
  Bytes b;
  put_msg(b, NLMSG_DONE, int_payload(0));
  std::vector<SocketRecord> out;
  auto r = parse(b, out);
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_EQ(*r, DumpProgress::Done);
  EXPECT_TRUE(out.empty());
}

TEST(SockDiagParse, DoneWithoutPayloadIsDone) {
  Bytes b;
  put_msg(b, NLMSG_DONE, {});
  std::vector<SocketRecord> out;
  auto r = parse(b, out);
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_EQ(*r, DumpProgress::Done);
}

TEST(SockDiagParse, DoneStopsTheWalk) {
  Bytes b;
  put_msg(b, SOCK_DIAG_BY_FAMILY, full_payload(v4_msg(kListen, 80, 0)));
  put_msg(b, NLMSG_DONE, int_payload(0));
  put_msg(b, SOCK_DIAG_BY_FAMILY, full_payload(v4_msg(kListen, 81, 0)));
  std::vector<SocketRecord> out;
  auto r = parse(b, out);
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_EQ(*r, DumpProgress::Done);
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].sport, 80);
}

TEST(SockDiagParse, NoopIsSkipped) {
  Bytes b;
  put_msg(b, NLMSG_NOOP, {});
  put_msg(b, SOCK_DIAG_BY_FAMILY, full_payload(v4_msg(kListen, 80, 0)));
  std::vector<SocketRecord> out;
  auto r = parse(b, out);
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_EQ(*r, DumpProgress::More);
  EXPECT_EQ(out.size(), 1u);
}

TEST(SockDiagParse, LastMessageWithoutPaddingIsAccepted) {
  // 16 + 72 + 5 (one u8 attribute, unpadded) = 93 bytes, the datagram ends there.
  Bytes payload;
  append(payload, v4_msg(kEstablished, 1, 2));
  nlattr a{};
  a.nla_len = 5;
  a.nla_type = INET_DIAG_SHUTDOWN;
  append(payload, a);
  payload.push_back(std::byte{3});
  Bytes b;
  put_msg(b, SOCK_DIAG_BY_FAMILY, payload, /*pad=*/false);
  ASSERT_EQ(b.size(), 93u);
  std::vector<SocketRecord> out;
  auto r = parse(b, out);
  ASSERT_TRUE(r.ok()) << r.error().message;
  ASSERT_EQ(out.size(), 1u);
  EXPECT_FALSE(out[0].request);
}

// ---- timewait and request sockets

TEST(SockDiagParse, TimewaitRecord) {
  inet_diag_msg m = v4_msg(kTimeWait, 40000, 80);
  m.idiag_timer = 3;
  m.idiag_inode = 0;
  m.idiag_uid = 0;
  m.idiag_expires = 59000;
  Bytes b;
  put_msg(b, SOCK_DIAG_BY_FAMILY, mini_payload(m));
  std::vector<SocketRecord> out;
  ASSERT_TRUE(parse(b, out).ok());
  ASSERT_EQ(out.size(), 1u);
  EXPECT_TRUE(out[0].timewait);
  EXPECT_FALSE(out[0].request);
  EXPECT_EQ(out[0].state, kTimeWait);
  EXPECT_EQ(out[0].inode, 0u);
  EXPECT_EQ(out[0].expires_ms, 59000u);
}

TEST(SockDiagParse, TimewaitInFinWait2Substate) {
  inet_diag_msg m = v4_msg(kFinWait2, 40000, 80);
  m.idiag_timer = 3;
  m.idiag_inode = 0;
  Bytes b;
  put_msg(b, SOCK_DIAG_BY_FAMILY, mini_payload(m, /*with_mark=*/true));
  std::vector<SocketRecord> out;
  ASSERT_TRUE(parse(b, out).ok());
  ASSERT_EQ(out.size(), 1u);
  EXPECT_TRUE(out[0].timewait);
  EXPECT_FALSE(out[0].request);
  EXPECT_EQ(out[0].state, kFinWait2);
}

TEST(SockDiagParse, FullSocketInFinWait2IsNotTimewait) {
  inet_diag_msg m = v4_msg(kFinWait2, 40000, 80);
  m.idiag_timer = 2;  // keepalive/FIN_WAIT2 timer of a full socket
  Bytes b;
  put_msg(b, SOCK_DIAG_BY_FAMILY, full_payload(m));
  std::vector<SocketRecord> out;
  ASSERT_TRUE(parse(b, out).ok());
  ASSERT_EQ(out.size(), 1u);
  EXPECT_FALSE(out[0].timewait);
  EXPECT_FALSE(out[0].request);
}

TEST(SockDiagParse, RequestRecord) {
  inet_diag_msg m = v6_msg(kSynRecv, 80, 40000);
  m.idiag_timer = 1;
  m.idiag_inode = 0;
  m.idiag_expires = 900;
  for (bool with_mark : {false, true}) {
    Bytes b;
    put_msg(b, SOCK_DIAG_BY_FAMILY, mini_payload(m, with_mark));
    std::vector<SocketRecord> out;
    ASSERT_TRUE(parse(b, out).ok());
    ASSERT_EQ(out.size(), 1u);
    EXPECT_TRUE(out[0].request) << "with_mark=" << with_mark;
    EXPECT_FALSE(out[0].timewait);
    EXPECT_EQ(out[0].state, kSynRecv);
    EXPECT_EQ(out[0].inode, 0u);
    EXPECT_EQ(out[0].expires_ms, 900u);
  }
}

TEST(SockDiagParse, FastOpenChildInSynRecvIsNotARequest) {
  // A TCP Fast Open child is a full socket in SYN_RECV: retransmit timer (1),
  // not yet accepted (inode 0), yet it carries INET_DIAG_SHUTDOWN.
  inet_diag_msg m = v4_msg(kSynRecv, 80, 40000);
  m.idiag_timer = 1;
  m.idiag_inode = 0;
  Bytes b;
  put_msg(b, SOCK_DIAG_BY_FAMILY, full_payload(m));
  std::vector<SocketRecord> out;
  ASSERT_TRUE(parse(b, out).ok());
  ASSERT_EQ(out.size(), 1u);
  EXPECT_FALSE(out[0].request);
  EXPECT_FALSE(out[0].timewait);
  EXPECT_EQ(out[0].state, kSynRecv);
}

// ---- errors the kernel reports

TEST(SockDiagParse, ErrorMessageCarriesErrno) {
  Bytes b;
  put_msg(b, NLMSG_ERROR, error_payload(-ENOENT));
  std::vector<SocketRecord> out{sentinel()};
  auto r = parse(b, out);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().kind, Error::Kind::Runtime);
  EXPECT_EQ(r.error().err, ENOENT);
  EXPECT_THAT(r.error().message, HasSubstr("rejected"));
  EXPECT_EQ(r.error().message.find('\n'), std::string::npos);
  EXPECT_EQ(out.size(), 1u);
}

TEST(SockDiagParse, ErrorAfterRecordsDropsThem) {
  Bytes b;
  put_msg(b, SOCK_DIAG_BY_FAMILY, full_payload(v4_msg(kListen, 80, 0)));
  put_msg(b, NLMSG_ERROR, error_payload(-EPERM));
  std::vector<SocketRecord> out{sentinel()};
  auto r = parse(b, out);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().err, EPERM);
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].cookie, 0xfeedfaceu);
}

TEST(SockDiagParse, ErrorWithOnlyTheErrnoIsStillAnError) {
  Bytes b;
  put_msg(b, NLMSG_ERROR, int_payload(-EINVAL));
  std::vector<SocketRecord> out;
  auto r = parse(b, out);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().err, EINVAL);
}

TEST(SockDiagParse, ErrorWithGarbageErrnoIsEproto) {
  for (int garbage : {INT_MIN, 5}) {
    Bytes b;
    put_msg(b, NLMSG_ERROR, error_payload(garbage));
    std::vector<SocketRecord> out;
    auto r = parse(b, out);
    ASSERT_FALSE(r.ok()) << garbage;
    EXPECT_EQ(r.error().err, EPROTO) << garbage;
  }
}

TEST(SockDiagParse, AcknowledgementIsSkipped) {
  Bytes b;
  put_msg(b, NLMSG_ERROR, error_payload(0));
  put_msg(b, NLMSG_DONE, int_payload(0));
  std::vector<SocketRecord> out;
  auto r = parse(b, out);
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_EQ(*r, DumpProgress::Done);
}

TEST(SockDiagParse, DoneWithNegativeStatusIsAnAbortedDump) {
  Bytes b;
  put_msg(b, SOCK_DIAG_BY_FAMILY, full_payload(v4_msg(kListen, 80, 0)));
  put_msg(b, NLMSG_DONE, int_payload(-ENOBUFS));
  std::vector<SocketRecord> out;
  auto r = parse(b, out);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().err, ENOBUFS);
  EXPECT_THAT(r.error().message, HasSubstr("aborted"));
  EXPECT_TRUE(out.empty());
}

// ---- malformed input

TEST(SockDiagParse, ZeroLengthBuffer) { expect_malformed({}, "empty"); }

TEST(SockDiagParse, TruncatedHeader) {
  Bytes b;
  put_msg(b, NLMSG_DONE, int_payload(0));
  b.resize(10);
  expect_malformed(b, "too short for a netlink header");
}

TEST(SockDiagParse, LengthLargerThanBuffer) {
  Bytes b;
  put_msg(b, SOCK_DIAG_BY_FAMILY, full_payload(v4_msg(kListen, 80, 0)));
  nlmsghdr h;
  std::memcpy(&h, b.data(), sizeof(h));
  h.nlmsg_len = static_cast<uint32_t>(b.size() + 1);
  std::memcpy(b.data(), &h, sizeof(h));
  expect_malformed(b, "claims");
  h.nlmsg_len = UINT32_MAX;
  std::memcpy(b.data(), &h, sizeof(h));
  expect_malformed(b, "claims");
}

TEST(SockDiagParse, LengthSmallerThanHeader) {
  for (uint32_t len : {0u, 1u, 8u, 15u}) {
    Bytes b;
    put_msg(b, SOCK_DIAG_BY_FAMILY, full_payload(v4_msg(kListen, 80, 0)));
    nlmsghdr h;
    std::memcpy(&h, b.data(), sizeof(h));
    h.nlmsg_len = len;
    std::memcpy(b.data(), &h, sizeof(h));
    SCOPED_TRACE(len);
    expect_malformed(b, "shorter than its header");
  }
}

TEST(SockDiagParse, ShortSocketPayload) {
  Bytes payload;
  append(payload, v4_msg(kListen, 80, 0));
  payload.resize(40);
  Bytes b;
  put_msg(b, SOCK_DIAG_BY_FAMILY, payload);
  expect_malformed(b, "40-byte payload");
}

TEST(SockDiagParse, ShortErrorPayload) {
  Bytes b;
  put_msg(b, NLMSG_ERROR, {std::byte{0xff}, std::byte{0xff}});
  expect_malformed(b, "NLMSG_ERROR");
}

TEST(SockDiagParse, TrailingGarbageAfterRecord) {
  for (size_t garbage = 1; garbage < sizeof(nlmsghdr); ++garbage) {
    Bytes b;
    put_msg(b, SOCK_DIAG_BY_FAMILY, full_payload(v4_msg(kListen, 80, 0)));
    b.insert(b.end(), garbage, std::byte{0xab});
    SCOPED_TRACE(garbage);
    expect_malformed(b, "too short for a netlink header");
  }
}

TEST(SockDiagParse, TrailingGarbageHeaderAfterRecord) {
  Bytes b;
  put_msg(b, SOCK_DIAG_BY_FAMILY, full_payload(v4_msg(kListen, 80, 0)));
  b.insert(b.end(), 20, std::byte{0xab});  // reads as a header with nlmsg_len 0xabababab
  expect_malformed(b, "claims");
}

TEST(SockDiagParse, UnknownMessageType) {
  Bytes b;
  put_msg(b, 0x77, full_payload(v4_msg(kListen, 80, 0)));
  expect_malformed(b, "unexpected netlink message type 119");
}

TEST(SockDiagParse, UnknownAddressFamily) {
  inet_diag_msg m = v4_msg(kListen, 80, 0);
  m.idiag_family = AF_UNIX;
  Bytes b;
  put_msg(b, SOCK_DIAG_BY_FAMILY, full_payload(m));
  expect_malformed(b, "address family 1");
}

TEST(SockDiagParse, MalformedAttributes) {
  const auto with_attr_bytes = [](const Bytes& attrs) {
    Bytes payload;
    append(payload, v4_msg(kListen, 80, 0));
    payload.insert(payload.end(), attrs.begin(), attrs.end());
    Bytes b;
    put_msg(b, SOCK_DIAG_BY_FAMILY, payload);
    return b;
  };
  const auto attr_header = [](uint16_t len, uint16_t type) {
    Bytes h;
    nlattr a{};
    a.nla_len = len;
    a.nla_type = type;
    append(h, a);
    return h;
  };
  {
    SCOPED_TRACE("nla_len shorter than its header");
    expect_malformed(with_attr_bytes(attr_header(2, INET_DIAG_SHUTDOWN)), "malformed attribute");
  }
  {
    SCOPED_TRACE("nla_len past the message");
    Bytes attrs = attr_header(200, INET_DIAG_SHUTDOWN);
    attrs.resize(8);
    expect_malformed(with_attr_bytes(attrs), "malformed attribute");
  }
  {
    SCOPED_TRACE("zero-length attribute");
    expect_malformed(with_attr_bytes(attr_header(0, 0)), "malformed attribute");
  }
}

// ---- robustness: every prefix and many mutations of a real-looking reply

Bytes sample_reply() {
  Bytes b;
  put_msg(b, SOCK_DIAG_BY_FAMILY, full_payload(v4_msg(kListen, 80, 0)));
  put_msg(b, SOCK_DIAG_BY_FAMILY, full_payload(v6_msg(kEstablished, 80, 40000)));
  inet_diag_msg tw = v4_msg(kTimeWait, 40001, 80);
  tw.idiag_timer = 3;
  put_msg(b, SOCK_DIAG_BY_FAMILY, mini_payload(tw, true));
  put_msg(b, NLMSG_DONE, int_payload(0));
  return b;
}

TEST(SockDiagParse, EveryPrefixParsesExactlyOrFails) {
  const Bytes full = sample_reply();
  // Message boundaries: a prefix ending on one holds that many whole messages.
  std::vector<size_t> ends;
  for (size_t off = 0; off < full.size();) {
    nlmsghdr h;
    std::memcpy(&h, full.data() + off, sizeof(h));
    off += NLMSG_ALIGN(h.nlmsg_len);
    ends.push_back(off);
  }
  ASSERT_EQ(ends.size(), 4u);
  for (size_t len = 1; len <= full.size(); ++len) {
    Bytes prefix(full.begin(), full.begin() + static_cast<std::ptrdiff_t>(len));
    std::vector<SocketRecord> out;
    auto r = parse(prefix, out);
    const auto at = std::find(ends.begin(), ends.end(), len);
    if (at == ends.end()) {
      EXPECT_FALSE(r.ok()) << "prefix of " << len << " bytes was accepted";
      EXPECT_TRUE(out.empty()) << len;
    } else {
      const size_t messages = static_cast<size_t>(at - ends.begin()) + 1;
      ASSERT_TRUE(r.ok()) << len << ": " << r.error().message;
      EXPECT_EQ(*r, messages == 4 ? DumpProgress::Done : DumpProgress::More) << len;
      EXPECT_EQ(out.size(), std::min<size_t>(messages, 3)) << len;
    }
  }
}

TEST(SockDiagParse, RandomMutationsNeverCrashAndLeaveOutputIntactOnError) {
  const Bytes full = sample_reply();
  std::mt19937 rng(12345);
  for (int i = 0; i < 20000; ++i) {
    Bytes b = full;
    const int flips = 1 + static_cast<int>(rng() % 8);
    for (int f = 0; f < flips; ++f) b[rng() % b.size()] = static_cast<std::byte>(rng() & 0xff);
    if (rng() % 4 == 0) b.resize(rng() % (b.size() + 1));
    std::vector<SocketRecord> out{sentinel()};
    auto r = parse(b, out);
    ASSERT_GE(out.size(), 1u);
    EXPECT_EQ(out[0].cookie, 0xfeedfaceu);
    if (!r.ok()) {
      ASSERT_EQ(out.size(), 1u) << "iteration " << i;
      EXPECT_FALSE(r.error().message.empty());
      EXPECT_EQ(r.error().message.find('\n'), std::string::npos);
    } else {
      EXPECT_LE(out.size(), 1u + 3u);
      for (size_t k = 1; k < out.size(); ++k) {
        EXPECT_TRUE(out[k].family == AF_INET || out[k].family == AF_INET6);
        EXPECT_EQ(out[k].netns, kNetns);
        EXPECT_FALSE(out[k].timewait && out[k].request);
      }
    }
  }
}

TEST(SockDiagParse, RandomBytesNeverCrash) {
  std::mt19937 rng(777);
  for (int i = 0; i < 20000; ++i) {
    Bytes b(rng() % 300);
    for (auto& x : b) x = static_cast<std::byte>(rng() & 0xff);
    // Give the walk a plausible first length now and then so it gets past the header.
    if (b.size() >= 4 && rng() % 2 == 0) {
      const uint32_t len = static_cast<uint32_t>(rng() % (b.size() + 8));
      std::memcpy(b.data(), &len, sizeof(len));
    }
    std::vector<SocketRecord> out;
    auto r = parse(b, out);
    if (!r.ok()) {
      EXPECT_TRUE(out.empty());
    }
  }
}

}  // namespace
}  // namespace tcpfsm
