// parse_command_line: every command's defaults and flags, and a table of bad command lines.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sys/socket.h>

#include <cmath>
#include <string>
#include <vector>

#include "base/parse.hpp"
#include "cli/cli.hpp"

namespace tcpfsm {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using Args = std::vector<std::string>;

std::string joined(const Args& args) {
  std::string s = "{";
  for (const auto& a : args) s += " '" + a + "'";
  return s + " }";
}

// ---- bad command lines: every one is a usage error

struct BadCase {
  Args args;
  const char* mention;  // what the one-line message must name
};

void PrintTo(const BadCase& c, std::ostream* os) { *os << joined(c.args); }

class BadCommandLine : public ::testing::TestWithParam<BadCase> {};

TEST_P(BadCommandLine, IsUsageError) {
  const BadCase& c = GetParam();
  auto r = parse_command_line(c.args);
  ASSERT_FALSE(r.ok()) << joined(c.args) << " was accepted";
  EXPECT_EQ(r.error().kind, Error::Kind::Usage) << joined(c.args);
  EXPECT_EQ(r.error().exit_status(), 2) << joined(c.args);
  EXPECT_THAT(r.error().message, HasSubstr(c.mention)) << joined(c.args);
  EXPECT_EQ(r.error().message.find('\n'), std::string::npos) << "not one line: " << r.error().message;
}

const BadCase kBad[] = {
    {{"trace", "-L", "70000"}, "-L"},
    {{"trace", "-L", "80,"}, "-L"},
    {{"trace", "--localport", "abc"}, "-L"},
    {{"trace", "-D", "0"}, "-D"},
    {{"trace", "--remoteport", "1;2"}, "-D"},
    {{"trace", "--pid", "abc"}, "--pid"},
    {{"trace", "--pid", "0"}, "--pid"},
    {{"trace", "--comm", "waytoolongcommname"}, "--comm"},
    {{"trace", "--netns", "x"}, "--netns"},
    {{"trace", "--netns", "net:[]"}, "--netns"},
    {{"trace", "--duration", "banana"}, "--duration"},
    {{"trace", "--duration", "-1"}, "--duration"},
    {{"trace", "--duration", "0"}, "--duration"},
    {{"trace", "--duration", "inf"}, "--duration"},
    {{"trace", "--duration", "nan"}, "--duration"},
    {{"trace", "--duration", "5 s"}, "--duration"},
    {{"trace", "--ringbuf-size", "3000"}, "--ringbuf-size"},
    {{"trace", "--ringbuf-size", "12K"}, "--ringbuf-size"},
    {{"trace", "--ringbuf-size", "1024"}, "--ringbuf-size"},
    {{"trace", "--ringbuf-size", "0"}, "--ringbuf-size"},
    {{"trace", "--ringbuf-size", "8X"}, "--ringbuf-size"},
    {{"trace", "--ringbuf-size", "8G"}, "--ringbuf-size"},
    {{"trace", "-4", "-6"}, "--ipv6"},
    {{"trace", "--bogus"}, "--bogus"},
    {{"trace", "--pid"}, "--pid"},
    {{"trace", "extra"}, "extra"},
    {{"nosuchcmd"}, "nosuchcmd"},
    {{"life", "-p", "abc"}, "--pid"},
    {{"life", "-L", "0"}, "-L"},
    {{"life", "--max-tracked", "0"}, "--max-tracked"},
    {{"life", "--max-tracked", "x"}, "--max-tracked"},
    {{"life", "--replay", ""}, "--replay"},
    {{"life", "--replay", "cap.json", "--duration", "1"}, "--duration"},
    {{"life", "--replay", "cap.json", "--cgroup", "/sys/fs/cgroup"}, "--cgroup"},
    {{"stats", "--interval", "banana"}, "--interval"},
    {{"stats", "--interval", "-1"}, "--interval"},
    {{"stats", "--duration", "0"}, "--duration"},
    {{"stats", "--reconcile", "x"}, "--reconcile"},
    {{"stats", "--replay", ""}, "--replay"},
    {{"stats", "-L", "0"}, "-L"},
    {{"stats", "--pid", ""}, "--pid"},
    // A filter flag given an empty value must not silently mean "no filter".
    {{"trace", "-L", ""}, "-L"},
    {{"trace", "-D", ""}, "-D"},
    {{"trace", "--pid", ""}, "--pid"},
    {{"trace", "--comm", ""}, "--comm"},
    {{"trace", "--netns", ""}, "--netns"},
    {{"trace", "--cgroup", ""}, "--cgroup"},
    {{"trace", "--duration", ""}, "--duration"},
    {{"trace", "--ringbuf-size", ""}, "--ringbuf-size"},
    {{"stats", "--stuck-min-age", "old"}, "--stuck-min-age"},
    // leaks
    {{"leaks", "--min-age", "banana"}, "--min-age"},
    {{"leaks", "--min-age", "-3"}, "--min-age"},
    {{"leaks", "--min-age", ""}, "--min-age"},
    {{"leaks", "--watch", "0"}, "--watch"},
    {{"leaks", "--watch", "x"}, "--watch"},
    {{"leaks", "--duration", "5"}, "--duration needs --watch"},
    {{"leaks", "--watch", "1", "--duration", "0"}, "--duration"},
    {{"leaks", "-L", "99999"}, "-L"},
    {{"leaks", "--pid", "-1"}, "--pid"},
    {{"leaks", "--ringbuf-size", "8M"}, "--ringbuf-size"},
    // serve
    {{"serve", "--listen", ""}, "--listen"},
    {{"serve", "--listen", "9977"}, "--listen"},
    {{"serve", "--listen", ":"}, "--listen"},
    {{"serve", "--web.listen-address", "9977"}, "--web.listen-address"},
    {{"serve", "--listen", "127.0.0.1:1", "--web.listen-address", "127.0.0.1:2"}, "--listen"},
    {{"serve", "--listen", "127.0.0.1:99999"}, "--listen"},
    {{"serve", "--listen", "::1:9977"}, "--listen"},
    {{"serve", "--stuck-top", "many"}, "--stuck-top"},
    {{"serve", "--stuck-top", "-1"}, "--stuck-top"},
    {{"serve", "--stuck-top", "100000"}, "--stuck-top"},
    {{"serve", "--stuck-min-age", "x"}, "--stuck-min-age"},
    {{"serve", "--reconcile", "-1"}, "--reconcile"},
    {{"serve", "--duration", "0"}, "--duration"},
    {{"serve", "--ringbuf-size", "5"}, "--ringbuf-size"},
    {{"serve", "--bpf-stats", "yes"}, "yes"},
    // doctor
    {{"doctor", "--observe", "soon"}, "--observe"},
    {{"doctor", "--observe", "-5"}, "--observe"},
    {{"doctor", "--idle-after", "0"}, "--idle-after"},
    {{"doctor", "--idle-after", "2 m"}, "--idle-after"},
    {{"doctor", "--etc-root", ""}, "--etc-root"},
    {{"doctor", "--netns", "abc"}, "--netns"},
    {{"doctor", "--json", "extra"}, "extra"},
    // grouping
    {{"stats", "--by", "nope"}, "--by"},
    {{"stats", "--by", ""}, "--by"},
    {{"stats", "--sort", "TIME_WAIT"}, "--by"},
    {{"stats", "--top", "3"}, "--by"},
    {{"stats", "--by", "raddr", "--sort", "LISTEN"}, "--sort"},
    {{"stats", "--by", "raddr", "--state", "ESTABLISHED,BOGUS"}, "--state"},
    {{"stats", "--by", "raddr", "--state", "ESTABLISHED", "--sort", "TIME_WAIT"}, "--sort"},
    {{"stats", "--by", "raddr", "--max-groups", "0"}, "--max-groups"},
    {{"stats", "--by", "raddr", "--host-root", ""}, "--host-root"},
    {{"stats", "--hist", "CLOSE"}, "--hist"},
    {{"serve", "--by", "raddr,lport"}, "--by"},
    {{"serve", "--by", "peer"}, "--by"},
    {{"serve", "--sort", "TIME_WAIT"}, "--sort"},
};

INSTANTIATE_TEST_SUITE_P(Table, BadCommandLine, ::testing::ValuesIn(kBad));

// ---- good command lines

TEST(CommandLine, GroupFlags) {
  auto r =
      parse_command_line({"stats", "--by", "lport,raddr", "--sort", "time-wait", "--state", "TIME_WAIT,ESTABLISHED",
                          "--top", "5", "--max-groups", "100", "--hist", "TIME_WAIT", "--host-root", "/host"});
  ASSERT_TRUE(r.ok()) << r.error().message;
  const auto& g = r->command->stats.groups;
  EXPECT_EQ(g.spec.keys, (std::vector<GroupBy>{GroupBy::Lport, GroupBy::Raddr}));
  EXPECT_EQ(g.sort_state, TCPFSM_TIME_WAIT);
  EXPECT_EQ(g.states, (1U << TCPFSM_TIME_WAIT) | (1U << TCPFSM_ESTABLISHED));
  EXPECT_EQ(g.top, 5u);
  EXPECT_EQ(g.max_groups, 100u);
  EXPECT_EQ(g.host_root, "/host");
  EXPECT_EQ(r->command->stats.hist_state, TCPFSM_TIME_WAIT);
  auto plain = parse_command_line({"stats"});
  ASSERT_TRUE(plain.ok());
  EXPECT_FALSE(plain->command->stats.groups.enabled());
  EXPECT_EQ(plain->command->stats.groups.top, 20u);
  auto v = parse_command_line({"serve", "--by", "pod", "--top", "50"});
  ASSERT_TRUE(v.ok()) << v.error().message;
  EXPECT_EQ(v->command->serve.groups.spec.keys, std::vector<GroupBy>{GroupBy::Pod});
  EXPECT_EQ(v->command->serve.groups.top, 50u);
}

TEST(CommandLine, Defaults) {
  auto r = parse_command_line({"trace"});
  ASSERT_TRUE(r.ok()) << r.error().message;
  ASSERT_TRUE(r->command.has_value());
  EXPECT_EQ(r->exit_status, 0);
  const CommandLine& cl = *r->command;
  EXPECT_EQ(cl.command, Command::Trace);
  EXPECT_FALSE(cl.verbose);
  const TraceOptions& t = cl.trace;
  EXPECT_EQ(t.filter.family, 0);
  EXPECT_TRUE(t.filter.lports.empty());
  EXPECT_TRUE(t.filter.dports.empty());
  EXPECT_EQ(t.filter.pid, 0u);
  EXPECT_EQ(t.filter.comm, "");
  EXPECT_EQ(t.filter.netns, 0u);
  EXPECT_EQ(t.filter.cgroup_path, "");
  EXPECT_EQ(t.filter.cgroup_id, 0u);
  EXPECT_FALSE(t.text.timestamps);
  EXPECT_FALSE(t.text.wide);
  EXPECT_FALSE(t.json);
  EXPECT_EQ(t.duration_s, 0);
  EXPECT_EQ(t.ringbuf_bytes, size_t{8} << 20);
}

TEST(CommandLine, EveryOption) {
  auto r = parse_command_line({"trace", "-4", "-L", "80,443", "-D", "22", "--pid", "42", "--comm", "nginx", "--netns",
                               "net:[4026531840]", "-T", "-w", "--json", "--duration", "2.5", "--ringbuf-size", "64K"});
  ASSERT_TRUE(r.ok()) << r.error().message;
  ASSERT_TRUE(r->command.has_value());
  const TraceOptions& t = r->command->trace;
  EXPECT_EQ(t.filter.family, AF_INET);
  EXPECT_THAT(t.filter.lports, ElementsAre(80, 443));
  EXPECT_THAT(t.filter.dports, ElementsAre(22));
  EXPECT_EQ(t.filter.pid, 42u);
  EXPECT_EQ(t.filter.comm, "nginx");
  EXPECT_EQ(t.filter.netns, 4026531840u);
  EXPECT_TRUE(t.text.timestamps);
  EXPECT_TRUE(t.text.wide);
  EXPECT_TRUE(t.json);
  EXPECT_DOUBLE_EQ(t.duration_s, 2.5);
  EXPECT_EQ(t.ringbuf_bytes, 64u * 1024);
}

TEST(CommandLine, LongFormsAndIpv6) {
  auto r = parse_command_line({"-v", "trace", "--ipv6", "--localport", "443,80,443", "--remoteport", "8080",
                               "--timestamp", "--wide", "--netns", "4026531841", "--ringbuf-size", "4096"});
  ASSERT_TRUE(r.ok()) << r.error().message;
  const CommandLine& cl = *r->command;
  EXPECT_TRUE(cl.verbose);
  EXPECT_EQ(cl.trace.filter.family, AF_INET6);
  EXPECT_THAT(cl.trace.filter.lports, ElementsAre(80, 443));
  EXPECT_THAT(cl.trace.filter.dports, ElementsAre(8080));
  EXPECT_EQ(cl.trace.filter.netns, 4026531841u);
  EXPECT_TRUE(cl.trace.text.timestamps);
  EXPECT_TRUE(cl.trace.text.wide);
  EXPECT_FALSE(cl.trace.json);
  EXPECT_EQ(cl.trace.ringbuf_bytes, 4096u);
}

TEST(CommandLine, RingbufSizes) {
  for (auto [text, want] :
       {std::pair{"4096", size_t{4096}}, std::pair{"4K", size_t{4096}}, std::pair{"1M", size_t{1} << 20},
        std::pair{"16m", size_t{16} << 20}, std::pair{"1G", size_t{1} << 30}}) {
    auto r = parse_command_line({"trace", "--ringbuf-size", text});
    ASSERT_TRUE(r.ok()) << text << ": " << r.error().message;
    EXPECT_EQ(r->command->trace.ringbuf_bytes, want) << text;
  }
}

TEST(CommandLine, HelpAndVersionGiveNoCommand) {
  for (const Args& args : {Args{"--help"}, Args{"-h"}, Args{"--version"}, Args{"-V"}, Args{"trace", "--help"}}) {
    auto r = parse_command_line(args);
    ASSERT_TRUE(r.ok()) << joined(args) << ": " << r.error().message;
    EXPECT_FALSE(r->command.has_value()) << joined(args);
    EXPECT_EQ(r->exit_status, 0) << joined(args);
  }
}

// ---- parse_byte_size

TEST(ByteSize, Good) {
  struct Case {
    const char* text;
    size_t want;
  };
  for (const Case& c : {Case{"1", 1}, Case{"4096", 4096}, Case{"3000", 3000}, Case{"64K", 64u << 10},
                        Case{"64k", 64u << 10}, Case{"64KiB", 64u << 10}, Case{"8M", 8u << 20}, Case{"8m", 8u << 20},
                        Case{"8MiB", 8u << 20}, Case{"1G", 1u << 30}, Case{"4G", size_t{4} << 30},
                        Case{"4GiB", size_t{4} << 30}, Case{"4294967296", size_t{1} << 32}}) {
    auto r = parse_byte_size("--ringbuf-size", c.text);
    ASSERT_TRUE(r.ok()) << c.text << ": " << r.error().message;
    EXPECT_EQ(*r, c.want) << c.text;
  }
}

TEST(ByteSize, Bad) {
  for (const char* s : {"", "0", "0K", "K", "-1", "-4096", "1.5M", "8X", "8KB", "8 K", " 8", "8K ", "5G", "4294967297",
                        "99999999999999999999999", "0x1000", "abc"}) {
    auto r = parse_byte_size("--ringbuf-size", s);
    ASSERT_FALSE(r.ok()) << "accepted '" << s << "'";
    EXPECT_EQ(r.error().kind, Error::Kind::Usage) << s;
    EXPECT_THAT(r.error().message, HasSubstr("--ringbuf-size")) << s;
  }
}

// ---- parse_seconds

TEST(Seconds, Good) {
  for (auto [text, want] :
       {std::pair{"2", 2.0}, std::pair{"0.5", 0.5}, std::pair{"2.5", 2.5}, std::pair{"1e3", 1000.0},
        std::pair{"0.001", 0.001}, std::pair{"1000000000", 1e9}, std::pair{"5s", 5.0}, std::pair{"500ms", 0.5},
        std::pair{"5m", 300.0}, std::pair{"1h30m", 5400.0}, std::pair{"1m30s", 90.0}, std::pair{"2min", 120.0},
        std::pair{"10sec", 10.0}, std::pair{"1.5s", 1.5}, std::pair{"250us", 0.00025}, std::pair{"1d", 86400.0}}) {
    auto r = parse_seconds("--duration", text);
    ASSERT_TRUE(r.ok()) << text << ": " << r.error().message;
    EXPECT_DOUBLE_EQ(*r, want) << text;
  }
}

TEST(Seconds, ZeroWhereAllowedInAnyUnit) {
  for (const char* s : {"0", "0s", "0ms", "0m0s"}) {
    auto r = parse_seconds("--observe", s, true);
    ASSERT_TRUE(r.ok()) << s;
    EXPECT_EQ(*r, 0.0) << s;
  }
  auto r = parse_seconds("--min-age", "1h2", true);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().message,
            "invalid --min-age '1h2': give a duration (0 to turn it off) such as 10, 0.5, 500ms, 30s, 5m or 1h30m (a "
            "plain number is seconds)");
}

TEST(Seconds, Bad) {
  for (const char* s : {"",       "0",  "0.0", "-0",     "-1",    "-0.5", "inf",   "-inf", "infinity", "nan",
                        "banana", " 5", "5 ",  "1e10",   "1e400", "1,5",  "5x",    "5 s",  "1m30",     "m",
                        "s5",     "5S", "-5s", "1m-30s", "0s",    "0ms",  "1e10s", "5s ",  "infs"}) {
    auto r = parse_seconds("--duration", s);
    ASSERT_FALSE(r.ok()) << "accepted '" << s << "'";
    EXPECT_EQ(r.error().kind, Error::Kind::Usage) << s;
    EXPECT_THAT(r.error().message, HasSubstr("--duration")) << s;
  }
}

}  // namespace
}  // namespace tcpfsm

namespace tcpfsm {
namespace {

TEST(CommandLine, NoCommandIsLiveStatsEverySecond) {
  auto r = parse_command_line({});
  ASSERT_TRUE(r.ok()) << r.error().message;
  ASSERT_TRUE(r->command);
  EXPECT_EQ(r->command->command, Command::Stats);
  EXPECT_EQ(r->command->stats.interval_s, 1.0);
  EXPECT_EQ(r->command->stats.reconcile_s, 10.0);
  EXPECT_FALSE(r->command->stats.json);
}

TEST(CommandLine, StatsFlags) {
  auto r = parse_command_line({"stats", "--json", "--interval", "0", "--duration", "5", "--reconcile", "2.5", "-6",
                               "-D", "443", "--replay", "-"});
  ASSERT_TRUE(r.ok()) << r.error().message;
  const StatsOptions& s = r->command->stats;
  EXPECT_EQ(r->command->command, Command::Stats);
  EXPECT_TRUE(s.json);
  EXPECT_EQ(s.interval_s, 0.0);
  EXPECT_EQ(s.duration_s, 5.0);
  EXPECT_EQ(s.reconcile_s, 2.5);
  EXPECT_EQ(s.filter.family, AF_INET6);
  EXPECT_EQ(s.filter.dports, std::vector<uint16_t>{443});
  EXPECT_EQ(s.replay, "-");
  EXPECT_FALSE(s.records);  // counted in the kernel unless asked
}

TEST(CommandLine, RecordsForStatsAndServe) {
  auto s = parse_command_line({"stats", "--records", "--ringbuf-size", "64K"});
  ASSERT_TRUE(s.ok()) << s.error().message;
  EXPECT_TRUE(s->command->stats.records);
  EXPECT_EQ(s->command->stats.ringbuf_bytes, 64u * 1024);
  auto v = parse_command_line({"serve", "--records"});
  ASSERT_TRUE(v.ok()) << v.error().message;
  EXPECT_TRUE(v->command->serve.records);
  EXPECT_FALSE(parse_command_line({"serve"})->command->serve.records);
  EXPECT_FALSE(parse_command_line({"trace", "--records"}).ok());  // trace always streams records
}

// The examples, as systemd and Prometheus users write durations.
TEST(CommandLine, DurationsTakeUnitsInEveryCommand) {
  auto st = parse_command_line({"stats", "--duration", "5m", "--interval", "500ms", "--reconcile", "30s"});
  ASSERT_TRUE(st.ok()) << st.error().message;
  EXPECT_EQ(st->command->stats.duration_s, 300.0);
  EXPECT_EQ(st->command->stats.interval_s, 0.5);
  EXPECT_EQ(st->command->stats.reconcile_s, 30.0);
  auto l = parse_command_line({"leaks", "--min-age", "1s", "--watch", "1m", "--duration", "1h30m"});
  ASSERT_TRUE(l.ok()) << l.error().message;
  EXPECT_EQ(l->command->leaks.min_age_s, 1.0);
  EXPECT_EQ(l->command->leaks.watch_s, 60.0);
  EXPECT_EQ(l->command->leaks.duration_s, 5400.0);
  auto d = parse_command_line({"doctor", "--observe", "2min", "--idle-after", "10m"});
  ASSERT_TRUE(d.ok()) << d.error().message;
  EXPECT_EQ(d->command->doctor.observe_s, 120.0);
  EXPECT_EQ(d->command->doctor.idle_after_s, 600.0);
  auto t = parse_command_line({"trace", "--duration", "250ms"});
  ASSERT_TRUE(t.ok()) << t.error().message;
  EXPECT_EQ(t->command->trace.duration_s, 0.25);
  auto v = parse_command_line({"serve", "--stuck-min-age", "1m", "--reconcile", "0s"});
  ASSERT_TRUE(v.ok()) << v.error().message;
  EXPECT_EQ(v->command->serve.stuck_min_age_s, 60.0);
  EXPECT_EQ(v->command->serve.reconcile_s, 0.0);
}

TEST(CommandLine, LeaksServeDoctorDefaultsAndFlags) {
  auto l = parse_command_line({"leaks"});
  ASSERT_TRUE(l.ok());
  EXPECT_EQ(l->command->command, Command::Leaks);
  EXPECT_EQ(l->command->leaks.min_age_s, 10.0);
  EXPECT_EQ(l->command->leaks.watch_s, 0.0);
  auto l2 = parse_command_line({"leaks", "--json", "--min-age", "0", "--watch", "2", "--duration", "9", "--comm", "x"});
  ASSERT_TRUE(l2.ok()) << l2.error().message;
  EXPECT_TRUE(l2->command->leaks.json);
  EXPECT_EQ(l2->command->leaks.min_age_s, 0.0);
  EXPECT_EQ(l2->command->leaks.watch_s, 2.0);
  EXPECT_EQ(l2->command->leaks.filter.comm, "x");

  auto v = parse_command_line({"serve"});
  ASSERT_TRUE(v.ok());
  EXPECT_EQ(v->command->serve.host, "127.0.0.1");  // loopback unless told otherwise
  EXPECT_EQ(v->command->serve.port, 9977);
  EXPECT_EQ(v->command->serve.stuck_top, 20u);
  EXPECT_FALSE(v->command->serve.bpf_stats);
  auto v2 = parse_command_line({"serve", "--listen", "[::]:80", "--stuck-top", "0", "--bpf-stats"});
  ASSERT_TRUE(v2.ok()) << v2.error().message;
  EXPECT_EQ(v2->command->serve.host, "::");
  EXPECT_EQ(v2->command->serve.port, 80);
  EXPECT_EQ(v2->command->serve.stuck_top, 0u);
  EXPECT_TRUE(v2->command->serve.bpf_stats);

  auto d = parse_command_line({"doctor"});
  ASSERT_TRUE(d.ok());
  EXPECT_EQ(d->command->doctor.observe_s, 10.0);
  EXPECT_EQ(d->command->doctor.proc_root, "/proc");
  EXPECT_EQ(d->command->doctor.etc_root, "/etc");
  auto d2 = parse_command_line({"doctor", "--observe", "0", "--proc-root", "/tmp/", "--json"});
  ASSERT_TRUE(d2.ok()) << d2.error().message;
  EXPECT_EQ(d2->command->doctor.observe_s, 0.0);
  EXPECT_EQ(d2->command->doctor.proc_root, "/tmp");
  EXPECT_TRUE(d2->command->doctor.json);
}

}  // namespace
}  // namespace tcpfsm
