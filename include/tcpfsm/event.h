/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * The kernel/userspace contract: what crosses the BPF ring buffer and what
 * the BPF maps hold, shared by bpf/ (tcpfsm.bpf.c and its headers) and the
 * C++ side, with the constants both use. Plain fixed-width types only; both
 * sides static_assert the layout below, so a change here that the other side
 * did not see fails to compile instead of corrupting records.
 */
#ifndef TCPFSM_EVENT_H
#define TCPFSM_EVENT_H

#ifndef __VMLINUX_H__
#include <linux/types.h>
#endif

/* TCP states exactly as the kernel numbers them (include/net/tcp_states.h). */
enum tcpfsm_tcp_state {
	TCPFSM_ESTABLISHED = 1,
	TCPFSM_SYN_SENT = 2,
	TCPFSM_SYN_RECV = 3,
	TCPFSM_FIN_WAIT1 = 4,
	TCPFSM_FIN_WAIT2 = 5,
	TCPFSM_TIME_WAIT = 6,
	TCPFSM_CLOSE = 7,
	TCPFSM_CLOSE_WAIT = 8,
	TCPFSM_LAST_ACK = 9,
	TCPFSM_LISTEN = 10,
	TCPFSM_CLOSING = 11,
	TCPFSM_NEW_SYN_RECV = 12,
	TCPFSM_BOUND_INACTIVE = 13,
	TCPFSM_STATE_MAX = 14, /* one past the last valid state */
};

/* What a ring buffer record describes. */
enum tcpfsm_event_kind {
	TCPFSM_EV_STATE = 1, /* inet_sock_set_state: a full socket changed state */
	/* The timer of an inet_timewait_sock (TIME_WAIT, or orphaned
	 * FIN_WAIT2): skaddr is the timewait socket, cookie the cookie of the
	 * full socket it replaced, newstate its substate, oldstate 0. No
	 * tracepoint reports a timewait socket's end; its timer does. */
	TCPFSM_EV_TW_START = 2, /* timer:timer_start: scheduled (again, after a cancel) */
	/* timer:timer_cancel: before an expiry, a reschedule or an early kill */
	TCPFSM_EV_TW_CANCEL = 3,
	TCPFSM_EV_TW_EXPIRE = 4, /* timer:timer_expire_entry: the timer fired */
	/* An orphaned FIN_WAIT2 timewait socket got its FIN and is now in
	 * TIME_WAIT. The kernel re-arms the timer silently when the new
	 * expiry falls in the same timer wheel bucket, so a periodic sweep
	 * (tw_substate_sweep) reports it; ts is the sweep's time. */
	TCPFSM_EV_TW_SUBSTATE = 5,
	TCPFSM_EV_KIND_MAX = 6, /* one past the last kind */
};

/*
 * Why a full socket entered CLOSE (the `cause` of a record into CLOSE, and
 * the second index of tcpfsm_agg.closes). Decided at the transition from
 * what the kernel itself tests on that path (README, "closed by", has the
 * kernel path behind each); UNKNOWN where that evidence does not decide.
 */
enum tcpfsm_close_cause {
	TCPFSM_CAUSE_UNKNOWN = 0,
	TCPFSM_CAUSE_FIN =
		1, /* orderly: both FINs (LAST_ACK, CLOSING, FIN_WAIT2 with the peer's FIN) */
	/* Orphaned FIN_WAIT2 handed to a timewait socket before the peer's
	 * FIN: the connection lives on there (tcp_fin_timeout). */
	TCPFSM_CAUSE_ORPHANED = 2,
	TCPFSM_CAUSE_RST_RECEIVED = 3, /* the peer reset (tcp_reset) */
	TCPFSM_CAUSE_REFUSED = 4, /* SYN answered by RST, or ICMP port unreachable */
	TCPFSM_CAUSE_UNREACHABLE = 5, /* ICMP host/net unreachable (sk_err) */
	TCPFSM_CAUSE_TIMEOUT = 6, /* retransmissions exhausted (tcp_retries2, TCP_USER_TIMEOUT) */
	TCPFSM_CAUSE_SYN_TIMEOUT = 7, /* SYN or SYN-ACK retries exhausted */
	TCPFSM_CAUSE_KEEPALIVE = 8, /* keepalive probes unanswered: RST, then ETIMEDOUT */
	/* connect() found no free local port (EADDRNOTAVAIL): CLOSE -> SYN_SENT
	 * -> CLOSE without a SYN sent. */
	TCPFSM_CAUSE_NO_LOCAL_PORT = 9,
	TCPFSM_CAUSE_CONNECT_ABORTED = 10, /* the owner closed a socket still in SYN_SENT */
	TCPFSM_CAUSE_LISTENER_CLOSED =
		11, /* a child never accepted, reset as its listener closed */
	TCPFSM_CAUSE_CLOSED = 12, /* a listener closed */
	TCPFSM_CAUSE_KILLED = 13, /* ECONNABORTED: destroyed through sock_diag (ss -K) */
	/* We sent the RST; the kernel's enum sk_rst_reason, lower-cased. */
	TCPFSM_CAUSE_RST_ABORT_ON_CLOSE = 14, /* close() with unread data */
	TCPFSM_CAUSE_RST_TCP_STATE = 15, /* SO_LINGER 0 close, or connect(AF_UNSPEC) */
	TCPFSM_CAUSE_RST_ABORT_ON_LINGER = 16, /* orphaned FIN_WAIT2 with TCP_LINGER2 < 0 */
	TCPFSM_CAUSE_RST_ABORT_ON_MEMORY = 17, /* too many orphans, or out of socket memory */
	/* CLOSING or LAST_ACK with data unsent, disconnected (SO_LINGER 0) */
	TCPFSM_CAUSE_RST_DISCONNECT_WITH_DATA = 18,
	TCPFSM_CAUSE_OTHER = 19, /* an error the set above does not name */
	TCPFSM_CAUSE_MAX = 20, /* one past the last cause */
};

/* Where the pid/comm of an event came from (bits 0-1 of flags). */
enum tcpfsm_owner {
	/* Unknown: a peer-driven transition (softirq) of a socket never seen
	 * in process context. pid 0, empty comm. */
	TCPFSM_OWNER_NONE = 0,
	/* The task running the transition, in process context (connect,
	 * listen, close, shutdown, backlog processing at release_sock). */
	TCPFSM_OWNER_TASK = 1,
	/* The last task seen driving this socket in process context. */
	TCPFSM_OWNER_RECORDED = 2,
	/* Inherited from the listening socket this one was cloned from: the
	 * process that called listen(), normally the one that accepts. */
	TCPFSM_OWNER_LISTENER = 3,
	TCPFSM_OWNER_MAX = 4, /* one past the last owner source */
};

#define TCPFSM_F_OWNER_MASK 0x03
/* prev_ns holds the time spent in oldstate. */
#define TCPFSM_F_PREV_KNOWN 0x04
/* Emitted by the recursion-rescue program: the main program was already
 * running on this CPU (a softirq interrupted it) and the kernel skipped it. */
#define TCPFSM_F_RESCUED 0x08

struct tcpfsm_event {
	__u64 ts_ns; /* CLOCK_MONOTONIC (bpf_ktime_get_ns) */
	__u64 skaddr; /* kernel address of struct sock: reused after free */
	__u64 cookie; /* socket cookie: unique for the boot, as ss -e shows */
	__u64 prev_ns; /* time spent in oldstate, if TCPFSM_F_PREV_KNOWN */
	__u32 pid; /* owner tgid, 0 if unknown (see flags) */
	__u32 netns; /* network namespace inode (readlink /proc/PID/ns/net) */
	__u16 sport; /* host byte order */
	__u16 dport; /* host byte order */
	__u8 family; /* AF_INET (2) or AF_INET6 (10) */
	__u8 oldstate;
	__u8 newstate;
	__u8 kind; /* enum tcpfsm_event_kind */
	__u8 flags; /* owner source, TCPFSM_F_* */
	__u8 cause; /* newstate CLOSE: enum tcpfsm_close_cause; otherwise 0 */
	__u8 pad[6];
	__u8 saddr[16]; /* IPv4 in the first 4 bytes; network byte order */
	__u8 daddr[16];
	char comm[16]; /* owner comm, NUL-terminated; empty if unknown */
	/* A state record into CLOSE (kind STATE, newstate CLOSE): the
	 * connection's totals as the socket ends, read from tcp_sock as
	 * tcplife reads them on the same tracepoint. A record SYN_SENT ->
	 * ESTABLISHED carries total_retrans alone: the SYNs its connect
	 * retransmitted. Zero in every other record. */
	__u64 bytes_acked; /* sent and acknowledged by the peer */
	__u64 bytes_received; /* received in order */
	__u32 total_retrans; /* segments retransmitted over the connection's life */
	__u32 srtt_us; /* smoothed round-trip time, microseconds (srtt_us >> 3) */
};

/* Per-CPU counters, summed by userspace. Every loss has a number. */
struct tcpfsm_cpu_counters {
	__u64 ringbuf_drops; /* bpf_ringbuf_reserve failed: ring buffer full */
	__u64 rescued; /* runs the kernel skipped, handled by the rescue program */
	__u64 fw2_untracked; /* FIN_WAIT2 timewait sockets the sweep map had no room for */
	/* Segments retransmitted (tcp_retransmit_skb), by the sender's state;
	 * SYN-ACKs a listener retransmitted (tcp_retransmit_synack) count as
	 * SYN_RECV. Atomic adds: process context and softirq both retransmit. */
	__u64 retransmits[TCPFSM_STATE_MAX];
};

#define TCPFSM_EVENT_SIZE 128

/* The ring buffer's size unless the user sets --ringbuf-size: a power of
 * two, about 80k records. */
#define TCPFSM_DEFAULT_RINGBUF_BYTES (8u << 20)

/* A timewait socket's timer that is cancelled and then neither started
 * again nor expired within this long was killed early (tw reuse, RST, netns
 * teardown). The follow-up of a reschedule or an expiry runs at once, on the
 * same CPU, so the kernel's counting and StateTable use the same grace. */
#define TCPFSM_TW_KILL_GRACE_NS 10000000ULL

/* The BPF socket storage kept for every traced socket (map sk_infos). It is
 * also read back through sock_diag (INET_DIAG_REQ_SK_BPF_STORAGES), which is
 * how `leaks` learns when a socket entered its current state. */
struct tcpfsm_sk_info {
	__u64 sk; /* the socket this entry was written for (a clone copies its listener's) */
	__u64 ts_ns; /* CLOCK_MONOTONIC time it entered `state`, 0 unknown */
	__u32 pid; /* owner tgid, 0 unknown */
	__u8 owner; /* enum tcpfsm_owner */
	__u8 state; /* the state ts_ns refers to */
	/* Aggregate mode: the state this socket is counted in by
	 * tcpfsm_agg.known (0: not counted, e.g. never seen entering a state). */
	__u8 counted;
	__u8 evidence; /* TCPFSM_SEEN_*: what happened to the socket that decides its close cause */
	char comm[16];
	/* An RST we sent that ends the socket before it enters CLOSE (keepalive
	 * timeout, memory, linger2): its enum tcpfsm_close_cause, 0 none. */
	__u8 rst_cause;
	__u8 pad[7];
};

#define TCPFSM_SK_INFO_SIZE 48
/* sk_info.evidence: the peer's RST arrived (tcp_receive_reset). */
#define TCPFSM_SEEN_RST_RECEIVED 0x01

/* What the BPF programs do with each transition (rodata `mode`). */
enum tcpfsm_mode {
	/* A ring buffer record per transition and timewait timer event
	 * (`trace`, and `stats` with owner filters). */
	TCPFSM_MODE_EVENTS = 0,
	/* Only the per-socket storage that sock_diag reads back (`leaks`); the
	 * timer programs are not loaded. */
	TCPFSM_MODE_STORAGE = 1,
	/* Counted in the kernel (`stats`, `serve`): per-CPU gauges, transition
	 * counts and lifetime histograms, no record at all. */
	TCPFSM_MODE_AGGREGATE = 2,
};

/* Aggregate mode. Each program context has its own per-CPU slot, so
 * a nested run never races a plain increment of the run it interrupted:
 * inet_sock_set_state (slot 0), its recursion rescue (1), and the timewait
 * timer programs and sweep (2), which use atomic adds. */
#define TCPFSM_SLOT_MAIN 0
#define TCPFSM_SLOT_NESTED 1
#define TCPFSM_SLOT_TW 2
#define TCPFSM_SLOTS 3

struct tcpfsm_agg {
	/* Full sockets by the state they are counted in (sk_info.counted).
	 * Summed over CPUs and slots: the number of sockets tcpfsm saw enter
	 * the state they are in now. */
	__s64 known[2][TCPFSM_STATE_MAX]; /* [0: IPv4, 1: IPv6][state] */
	/* Sockets leaving a state tcpfsm never saw them enter (they were there
	 * before it started): what a dump found shrinks by these. */
	__u64 unknown_left[2][TCPFSM_STATE_MAX];
	__u64 transitions[TCPFSM_STATE_MAX][TCPFSM_STATE_MAX]; /* [old][new] */
	/* Timewait sockets tracked in map tws, by substate. */
	__s64 tw_known[2][TCPFSM_STATE_MAX];
	/* Timewait sockets not in tws (from before the start) ending. */
	__u64 tw_unknown_left[2][TCPFSM_STATE_MAX];
	__u64 tw_ends[2]; /* tracked ones: [0: expired, 1: killed] */
	__u64 storage_failures; /* no socket storage: the socket is not counted */
	__u64 tw_untracked; /* map tws full or busy: a timewait socket is not counted */
	/* Full sockets into CLOSE: [from state][enum tcpfsm_close_cause]. */
	__u64 closes[TCPFSM_STATE_MAX][TCPFSM_CAUSE_MAX];
};

/* Lifetime histograms, log-linear like the userspace LifetimeHistogram
 * (16 sub-buckets per power of two): bucket of ns < 16 is ns, otherwise
 * (msb - 3) * 16 + the 4 bits below the msb. */
#define TCPFSM_HIST_SUB_BITS 4
#define TCPFSM_HIST_BUCKETS ((64 - TCPFSM_HIST_SUB_BITS + 1) << TCPFSM_HIST_SUB_BITS) /* 976 */
enum tcpfsm_hist_id {
	/* 0 .. TCPFSM_STATE_MAX - 1: time spent in that state (TIME_WAIT: in
	 * the TIME_WAIT substate of a timewait socket) */
	TCPFSM_HIST_TW_EXPIRED = TCPFSM_STATE_MAX, /* TIME_WAIT, timer fired */
	TCPFSM_HIST_TW_KILLED, /* TIME_WAIT, ended early */
	TCPFSM_HIST_FW2_TW, /* orphaned FIN_WAIT2 held by a timewait socket */
	TCPFSM_HIST_CONNECTED, /* SYN_SENT of connects that established: connect latency */
	TCPFSM_HISTS,
};
struct tcpfsm_hist {
	__u64 count;
	__u64 sum_ns;
	__u64 neg_min_ns; /* ~min: zero-initialised means no minimum yet */
	__u64 max_ns;
	__u64 buckets[TCPFSM_HIST_BUCKETS];
};

/* A timewait socket tracked in aggregate mode (map tws, keyed by its
 * cookie, or its address when it has none). */
struct tcpfsm_tw {
	__u64 entered_ns; /* when it entered `substate` */
	__u64 tw; /* struct inet_timewait_sock * */
	__u32 substate; /* 32 bits for compare-and-swap */
	__u8 family;
	__u8 pad[3];
};

/* Per CPU: the timewait socket whose timer was last cancelled here. A
 * cancel is followed at once, on the same CPU, by a start (reschedule) or
 * an expiry; one that is not was an early kill. Padded to 64 bytes: all
 * CPUs' entries share one array, and this keeps each CPU's writes off
 * most of its neighbours' cache lines. */
struct tcpfsm_tw_pending {
	__u64 key; /* tws key, 0: none */
	__u64 ts_ns;
	__u8 family;
	__u8 substate;
	__u8 pad[46];
};

#ifdef __cplusplus
#include <cstddef>
static_assert(sizeof(tcpfsm_event) == TCPFSM_EVENT_SIZE);
static_assert(offsetof(tcpfsm_event, prev_ns) == 24);
static_assert(offsetof(tcpfsm_event, pid) == 32);
static_assert(offsetof(tcpfsm_event, family) == 44);
static_assert(offsetof(tcpfsm_event, flags) == 48);
static_assert(offsetof(tcpfsm_event, cause) == 49);
static_assert(offsetof(tcpfsm_event, saddr) == 56);
static_assert(offsetof(tcpfsm_event, daddr) == 72);
static_assert(offsetof(tcpfsm_event, comm) == 88);
static_assert(offsetof(tcpfsm_event, bytes_acked) == 104);
static_assert(offsetof(tcpfsm_event, srtt_us) == 124);
static_assert(sizeof(tcpfsm_sk_info) == TCPFSM_SK_INFO_SIZE);
static_assert(sizeof(tcpfsm_tw_pending) == 64);
static_assert(offsetof(tcpfsm_sk_info, ts_ns) == 8);
static_assert(offsetof(tcpfsm_sk_info, state) == 21);
static_assert(offsetof(tcpfsm_sk_info, counted) == 22);
static_assert(offsetof(tcpfsm_sk_info, rst_cause) == 40);
#else
_Static_assert(sizeof(struct tcpfsm_event) == TCPFSM_EVENT_SIZE, "event layout");
_Static_assert(__builtin_offsetof(struct tcpfsm_event, prev_ns) == 24, "event layout");
_Static_assert(__builtin_offsetof(struct tcpfsm_event, pid) == 32, "event layout");
_Static_assert(__builtin_offsetof(struct tcpfsm_event, family) == 44, "event layout");
_Static_assert(__builtin_offsetof(struct tcpfsm_event, flags) == 48, "event layout");
_Static_assert(__builtin_offsetof(struct tcpfsm_event, cause) == 49, "event layout");
_Static_assert(__builtin_offsetof(struct tcpfsm_event, saddr) == 56, "event layout");
_Static_assert(__builtin_offsetof(struct tcpfsm_event, daddr) == 72, "event layout");
_Static_assert(__builtin_offsetof(struct tcpfsm_event, bytes_acked) == 104, "event layout");
_Static_assert(__builtin_offsetof(struct tcpfsm_event, srtt_us) == 124, "event layout");
_Static_assert(__builtin_offsetof(struct tcpfsm_event, comm) == 88, "event layout");
_Static_assert(sizeof(struct tcpfsm_sk_info) == TCPFSM_SK_INFO_SIZE, "sk_info layout");
_Static_assert(sizeof(struct tcpfsm_tw_pending) == 64, "tw_pending layout");
_Static_assert(__builtin_offsetof(struct tcpfsm_sk_info, ts_ns) == 8, "sk_info layout");
_Static_assert(__builtin_offsetof(struct tcpfsm_sk_info, state) == 21, "sk_info layout");
_Static_assert(__builtin_offsetof(struct tcpfsm_sk_info, counted) == 22, "sk_info layout");
_Static_assert(__builtin_offsetof(struct tcpfsm_sk_info, rst_cause) == 40, "sk_info layout");
#endif

#endif /* TCPFSM_EVENT_H */
