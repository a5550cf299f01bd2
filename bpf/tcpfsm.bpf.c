// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * tcpfsm kernel side: every TCP state change, from the
 * sock:inet_sock_set_state tracepoint, into one BPF ring buffer.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_endian.h>
#include "tcpfsm/event.h"

char LICENSE[] SEC("license") = "Dual BSD/GPL";

#define AF_INET 2
#define AF_INET6 10

#define MAX_CGROUP_DEPTH 32

/* Filters, set by userspace between open and load. The verifier sees them as
 * constants, so a filter that is off costs nothing. */
const volatile __u8 filter_family = 0;
const volatile __u32 filter_netns = 0;
const volatile __u64 filter_cgroup_id = 0;
const volatile __u32 filter_pid = 0;
const volatile __u8 filter_comm_on = 0;
const volatile char filter_comm[16] = {};
const volatile __u8 filter_lports_on = 0;
const volatile __u8 filter_dports_on = 0;
/* One bit per port: a single load instead of a hash lookup. */
const volatile __u8 lport_bits[8192] = {};
const volatile __u8 dport_bits[8192] = {};
/* Wake the consumer only once this much data is waiting; it also polls on
 * a short timer, so light traffic still arrives promptly. */
const volatile __u64 wakeup_bytes = 1 << 20;
/* enum tcpfsm_mode: records, storage only, or counting in the kernel. */
const volatile __u8 mode = TCPFSM_MODE_EVENTS;
/* Possible CPUs, for the sweep's look at every CPU's pending cancel. */
const volatile __u32 nr_cpus = 1;

#define MAX_CPUS 1024
/* A cancelled timewait timer not started again nor expired within this
 * long was an early kill (the follow-up comes at once, on the same CPU). */
#define TW_KILL_GRACE_NS 10000000ULL

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 8 << 20); /* resized by userspace before load */
} events SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct tcpfsm_cpu_counters);
} cpu_counters SEC(".maps");

/* Per-socket state, freed with the socket: it cannot fill up, and a reused
 * sk address never sees the previous socket's timestamp. BPF_F_CLONE copies
 * a listener's entry into each child it spawns, which is how accepted
 * sockets learn who listens for them. */
struct {
	__uint(type, BPF_MAP_TYPE_SK_STORAGE);
	__uint(map_flags, BPF_F_NO_PREALLOC | BPF_F_CLONE);
	__type(key, int);
	__type(value, struct tcpfsm_sk_info);
} sk_infos SEC(".maps");

/* Aggregate mode: counts per slot (TCPFSM_SLOT_*) and CPU. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, TCPFSM_SLOTS);
	__type(key, __u32);
	__type(value, struct tcpfsm_agg);
} aggs SEC(".maps");

/* Aggregate mode: lifetime histograms, TCPFSM_HISTS per slot. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, TCPFSM_SLOTS * TCPFSM_HISTS);
	__type(key, __u32);
	__type(value, struct tcpfsm_hist);
} hists SEC(".maps");

static __always_inline __u32 hist_index(__u64 ns)
{
	__u64 v = ns;
	__u32 msb = 0;

	if (ns < 16)
		return ns;
	if (v >> 32) { v >>= 32; msb += 32; }
	if (v >> 16) { v >>= 16; msb += 16; }
	if (v >> 8) { v >>= 8; msb += 8; }
	if (v >> 4) { v >>= 4; msb += 4; }
	if (v >> 2) { v >>= 2; msb += 2; }
	if (v >> 1)
		msb += 1;
	return (msb - 3) * 16 + ((ns >> (msb - 4)) & 15);
}

static __always_inline void hist_record(__u32 slot, __u32 id, __u64 ns)
{
	__u32 key = slot * TCPFSM_HISTS + id;
	struct tcpfsm_hist *h = bpf_map_lookup_elem(&hists, &key);
	__u32 i = hist_index(ns);

	if (!h || i >= TCPFSM_HIST_BUCKETS)
		return;
	if (slot == TCPFSM_SLOT_TW) {
		__sync_fetch_and_add(&h->buckets[i], 1);
		__sync_fetch_and_add(&h->count, 1);
		__sync_fetch_and_add(&h->sum_ns, ns);
	} else {
		h->buckets[i]++;
		h->count++;
		h->sum_ns += ns;
	}
	/* Extremes are plain stores even in the atomic slot: a rare race can
	 * only make them less extreme than they were. */
	if (~ns > h->neg_min_ns)
		h->neg_min_ns = ~ns;
	if (ns > h->max_ns)
		h->max_ns = ns;
}

static __always_inline struct tcpfsm_agg *agg_of(__u32 slot)
{
	return bpf_map_lookup_elem(&aggs, &slot);
}

/*
 * Whether the task on the CPU is the one driving this transition. A process
 * changes a socket's state only while it owns the socket lock (connect,
 * listen, close, shutdown, and the backlog it drains in release_sock). While
 * a process owns it, softirq and timers defer their work to that backlog.
 * So an owned socket means current is its owner; an unowned one means a
 * softirq or timer (SYN-ACK, final ACK, FIN, RST, timeouts), where current
 * is a bystander. This needs no per-CPU ksym (kernels without
 * CONFIG_KALLSYMS_ALL cannot resolve __preempt_count).
 */
static __always_inline bool driven_by_current(const struct sock *sk)
{
	return sk->sk_lock.owned;
}

static __always_inline bool port_set(const volatile __u8 *bits, __u16 port)
{
	return bits[port >> 3] & (1 << (port & 7));
}

static __always_inline bool in_filter_cgroup(const struct sock *sk)
{
	struct cgroup *cg = BPF_CORE_READ(sk, sk_cgrp_data.cgroup);
	int level, i;

	if (!cg)
		return false;
	level = BPF_CORE_READ(cg, level);
	/* The socket's cgroup or any of its ancestors. */
	for (i = 0; i < MAX_CGROUP_DEPTH; i++) {
		struct cgroup *anc = NULL;

		if (i > level)
			break;
		bpf_core_read(&anc, sizeof(anc), &cg->ancestors[i]);
		if (anc && BPF_CORE_READ(anc, kn, id) == filter_cgroup_id)
			return true;
	}
	return false;
}

static __always_inline bool comm_matches(const char *comm)
{
	int i;

#pragma unroll
	for (i = 0; i < 16; i++) {
		if (comm[i] != filter_comm[i])
			return false;
		if (!comm[i])
			break;
	}
	return true;
}

/*
 * Aggregate mode: count the transition where it happens. A socket is counted
 * in `known` under the state its storage says (si->counted), so a lost
 * transition corrects itself at the next one. A socket tcpfsm never saw
 * before (no storage until now) was counted, if at all, by a sock_diag dump
 * in oldstate: `unknown_left` tells userspace that population shrank.
 */
static __always_inline void aggregate(const struct sock *sk, __u16 family, int oldstate, int newstate,
				      struct tcpfsm_sk_info *si, bool unseen, __u64 prev, __u8 flags)
{
	__u32 slot = (flags & TCPFSM_F_RESCUED) ? TCPFSM_SLOT_NESTED : TCPFSM_SLOT_MAIN;
	struct tcpfsm_agg *a = agg_of(slot);
	__u32 f = family == AF_INET6;
	__u32 counted = 0, o = oldstate, n = newstate;
	bool pass = true;

	if (!a || o >= TCPFSM_STATE_MAX || n >= TCPFSM_STATE_MAX)
		return;
	/* For the verifier, which may not connect the check above with the
	 * copies the compiler indexes with: masks it cannot optimise away. */
	asm volatile("" : "+r"(o), "+r"(n));
	o &= 0xf;
	n &= 0xf;
	if (filter_lports_on || filter_dports_on) {
		__u16 sport, dport;

		bpf_core_read(&sport, sizeof(sport), &((struct inet_sock *)sk)->inet_sport);
		dport = bpf_ntohs(sk->__sk_common.skc_dport);
		pass = (!filter_lports_on || port_set(lport_bits, bpf_ntohs(sport))) &&
		       (!filter_dports_on || port_set(dport_bits, dport));
	}
	if (pass) {
		a->transitions[o][n]++;
		if (prev && oldstate != newstate)
			hist_record(slot, o, prev);
	}
	if (o == n)
		return;
	if (si) {
		counted = si->counted;
		si->counted = 0;
	}
	/* LISTEN -> SYN_RECV is a child's birth (its state starts as a copy
	 * of the listener's), never a listener leaving LISTEN: a child of a
	 * listener from before tcpfsm has no storage, and is no socket a dump
	 * counted. */
	if (counted && counted < TCPFSM_STATE_MAX)
		a->known[f][counted & 0xf]--;
	else if (pass && unseen && !(o == TCP_LISTEN && n == TCP_SYN_RECV))
		a->unknown_left[f][o]++;
	if (!pass || n == TCP_CLOSE)
		return;
	if (!si) {
		a->storage_failures++;
		return;
	}
	a->known[f][n]++;
	si->counted = n;
	/* A timewait socket inherits the cookie, and is tracked by it: make
	 * sure there is one before tcp_time_wait() copies it. */
	if (n == TCP_FIN_WAIT1 || n == TCP_FIN_WAIT2 || n == TCP_CLOSING)
		bpf_get_socket_cookie((void *)sk);
}

static __always_inline void handle(const struct sock *sk, int oldstate, int newstate,
				   struct tcpfsm_cpu_counters *cc, __u8 flags)
{
	__u16 family = sk->__sk_common.skc_family;
	__u32 netns = sk->__sk_common.skc_net.net->ns.inum;
	struct tcpfsm_event *e;
	struct tcpfsm_sk_info *si;
	__u64 now, prev = 0;
	__u32 pid = 0;
	__u16 sport, dport;
	__u8 fresh = 0; /* 1: storage created now, 2: cloned from the listener */
	bool task;

	/* Filters on what never changes for a socket go first. */
	if (filter_family && family != filter_family)
		return;
	if (filter_netns && netns != filter_netns)
		return;
	if (filter_cgroup_id && !in_filter_cgroup(sk))
		return;

	now = bpf_ktime_get_ns();
	/* A socket entering CLOSE is finished: don't allocate for it. */
	si = bpf_sk_storage_get(&sk_infos, (struct sock *)sk, 0,
				newstate == TCP_CLOSE ? 0 : BPF_SK_STORAGE_GET_F_CREATE);
	if (si) {
		if (si->sk != (__u64)sk) {
			/* New entry, or one cloned from the listener. */
			fresh = si->sk ? 2 : 1;
			si->sk = (__u64)sk;
			si->ts_ns = 0;
			si->counted = 0;
			if (si->pid)
				si->owner = TCPFSM_OWNER_LISTENER;
		}
		if (si->ts_ns && now >= si->ts_ns) {
			prev = now - si->ts_ns;
			flags |= TCPFSM_F_PREV_KNOWN;
		}
		/* shutdown(SHUT_WR) then close() reports FIN_WAIT1 -> FIN_WAIT1:
		 * the socket is still in the state it entered earlier. */
		if (oldstate != newstate) {
			si->ts_ns = now;
			si->state = newstate;
		}
	}

	task = driven_by_current(sk);
	if (task) {
		pid = bpf_get_current_pid_tgid() >> 32;
		flags |= TCPFSM_OWNER_TASK;
		if (si) {
			/* The same process again (connect, then close): its
			 * name is already there. */
			if (si->pid != pid || si->owner != TCPFSM_OWNER_RECORDED)
				bpf_get_current_comm(si->comm, sizeof(si->comm));
			si->pid = pid;
			si->owner = TCPFSM_OWNER_RECORDED;
		}
	} else if (si && si->pid) {
		pid = si->pid;
		flags |= si->owner;
	}

	if (mode == TCPFSM_MODE_STORAGE)
		return;
	if (mode == TCPFSM_MODE_AGGREGATE) {
		aggregate(sk, family, oldstate, newstate, si, !si || fresh == 1, prev, flags);
		return;
	}

	/* inet_sport, as the tracepoint itself reports: skc_num is already 0
	 * when a socket enters CLOSE (inet_put_port runs first). */
	bpf_core_read(&sport, sizeof(sport), &((struct inet_sock *)sk)->inet_sport);
	sport = bpf_ntohs(sport);
	dport = bpf_ntohs(sk->__sk_common.skc_dport);
	if (filter_lports_on && !port_set(lport_bits, sport))
		return;
	if (filter_dports_on && !port_set(dport_bits, dport))
		return;
	if (filter_pid && pid != filter_pid)
		return;

	e = bpf_ringbuf_reserve(&events, sizeof(*e), 0);
	if (!e) {
		cc->ringbuf_drops++;
		return;
	}
	if ((flags & TCPFSM_F_OWNER_MASK) == TCPFSM_OWNER_TASK)
		bpf_get_current_comm(e->comm, sizeof(e->comm));
	else if (pid && si)
		__builtin_memcpy(e->comm, si->comm, sizeof(e->comm));
	else
		__builtin_memset(e->comm, 0, sizeof(e->comm));
	if (filter_comm_on && (!pid || !comm_matches(e->comm))) {
		bpf_ringbuf_discard(e, BPF_RB_NO_WAKEUP);
		return;
	}

	e->ts_ns = now;
	e->skaddr = (__u64)sk;
	e->cookie = bpf_get_socket_cookie((void *)sk);
	e->prev_ns = prev;
	e->pid = pid;
	e->netns = netns;
	e->sport = sport;
	e->dport = dport;
	e->family = family;
	e->oldstate = oldstate;
	e->newstate = newstate;
	e->kind = TCPFSM_EV_STATE;
	e->flags = flags;
	__builtin_memset(e->pad, 0, sizeof(e->pad));
	__builtin_memset(e->saddr, 0, sizeof(e->saddr));
	__builtin_memset(e->daddr, 0, sizeof(e->daddr));
	if (family == AF_INET) {
		*(__u32 *)e->saddr = sk->__sk_common.skc_rcv_saddr;
		*(__u32 *)e->daddr = sk->__sk_common.skc_daddr;
	} else {
		bpf_probe_read_kernel(e->saddr, sizeof(e->saddr),
				      &sk->__sk_common.skc_v6_rcv_saddr);
		bpf_probe_read_kernel(e->daddr, sizeof(e->daddr), &sk->__sk_common.skc_v6_daddr);
	}

	bpf_ringbuf_submit(e, bpf_ringbuf_query(&events, BPF_RB_AVAIL_DATA) >= wakeup_bytes
				      ? BPF_RB_FORCE_WAKEUP
				      : BPF_RB_NO_WAKEUP);
}

/*
 * Exactly once, even when the kernel skips a run. A softirq that interrupts
 * on_set_state on the same CPU and changes another socket's state re-enters
 * the tracepoint; the kernel then skips on_set_state (it is already active
 * here) and only bumps its recursion_misses. A second program attached after
 * it, on_set_state_nested, runs for every hit too: it handles the hit unless
 * on_set_state already did, which on_set_state notes first thing in a small
 * per-CPU ring of the hits it took. The two are never skipped together: that
 * would need both active at once on one CPU, i.e. a nesting three deep, and
 * state changes happen only in process and softirq context. So there is no
 * window, not even in the trampolines around the programs, where a hit can
 * go unhandled. Userspace reports recursion_misses - rescued as the loss.
 */
#define RECENT 8

struct recent_hits {
	__u64 sk[RECENT];
	__u32 states[RECENT]; /* oldstate << 8 | newstate */
	__u32 head;
};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct recent_hits);
} recent SEC(".maps");

SEC("tp_btf/inet_sock_set_state")
int BPF_PROG(on_set_state, const struct sock *sk, const int oldstate, const int newstate)
{
	__u32 zero = 0;
	struct tcpfsm_cpu_counters *cc = bpf_map_lookup_elem(&cpu_counters, &zero);
	struct recent_hits *r = bpf_map_lookup_elem(&recent, &zero);
	__u32 i;

	if (!cc || !r)
		return 0;
	if (sk->sk_protocol != IPPROTO_TCP)
		return 0;
	/* This program never runs nested in itself, so the head needs no atomics. */
	i = r->head++ & (RECENT - 1);
	r->sk[i] = (__u64)sk;
	r->states[i] = (__u32)oldstate << 8 | (__u8)newstate;
	handle(sk, oldstate, newstate, cc, 0);
	return 0;
}

SEC("tp_btf/inet_sock_set_state")
int BPF_PROG(on_set_state_nested, const struct sock *sk, const int oldstate, const int newstate)
{
	__u32 zero = 0, key = (__u32)oldstate << 8 | (__u8)newstate;
	struct tcpfsm_cpu_counters *cc = bpf_map_lookup_elem(&cpu_counters, &zero);
	struct recent_hits *r = bpf_map_lookup_elem(&recent, &zero);
	int i;

	if (!cc || !r)
		return 0;
	if (sk->sk_protocol != IPPROTO_TCP)
		return 0;
#pragma unroll
	for (i = 0; i < RECENT; i++) {
		if (r->sk[i] == (__u64)sk && r->states[i] == key) {
			r->sk[i] = 0; /* taken by on_set_state */
			return 0;
		}
	}
	cc->rescued++;
	handle(sk, oldstate, newstate, cc, TCPFSM_F_RESCUED);
	return 0;
}

/*
 * TIME_WAIT. A full socket never reports TIME_WAIT to inet_sock_set_state:
 * it goes FIN_WAIT2 (or CLOSING) -> CLOSE and an inet_timewait_sock takes over
 * its 4-tuple until its timer fires or something kills it early (tw reuse,
 * RST, netns teardown). The timer tracepoints see every kernel timer: compare
 * the callback and return for anything else.
 */
extern const void tw_timer_handler __ksym;

/* Timewait sockets in the FIN_WAIT2 substate (an orphaned FIN_WAIT2 waiting
 * for the peer's FIN), swept for their switch to TIME_WAIT. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 65536);
	__type(key, __u64); /* struct inet_timewait_sock * */
	__type(value, __u64); /* its key in tws (aggregate mode) */
} fw2_tws SEC(".maps");

/* Aggregate mode: every timewait socket seen starting, until it ends. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 262144);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, __u64); /* its cookie (the full socket's), or its address */
	__type(value, struct tcpfsm_tw);
} tws SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct tcpfsm_tw_pending);
} tw_pending SEC(".maps");

static __always_inline void tw_add(__s64 *counter, __s64 v)
{
	__sync_fetch_and_add(counter, v);
}

/* A timewait socket ends (expired: how 0, killed: 1): uncount it and time
 * the substate it ended in. */
static __always_inline void tw_end(__u64 key, __u8 family, __u8 substate, __u64 at, __u32 how)
{
	struct tcpfsm_agg *a = agg_of(TCPFSM_SLOT_TW);
	struct tcpfsm_tw *t;
	__u64 ptr, *owner;
	__u32 f;

	if (!a || how > 1)
		return;
	__sync_fetch_and_add(&a->tw_ends[how], 1);
	t = bpf_map_lookup_elem(&tws, &key);
	if (!t) {
		/* From before tcpfsm started: a dump counted it. */
		f = family == AF_INET6;
		if (substate < TCPFSM_STATE_MAX)
			__sync_fetch_and_add(&a->tw_unknown_left[f][substate], 1);
		return;
	}
	f = t->family == AF_INET6;
	substate = t->substate;
	if (substate < TCPFSM_STATE_MAX)
		tw_add(&a->tw_known[f][substate], -1);
	if (at >= t->entered_ns) {
		__u64 d = at - t->entered_ns;

		if (substate == TCP_TIME_WAIT) {
			hist_record(TCPFSM_SLOT_TW, TCP_TIME_WAIT, d);
			hist_record(TCPFSM_SLOT_TW, how ? TCPFSM_HIST_TW_KILLED : TCPFSM_HIST_TW_EXPIRED, d);
		} else if (substate == TCP_FIN_WAIT2) {
			hist_record(TCPFSM_SLOT_TW, TCPFSM_HIST_FW2_TW, d);
		}
	}
	ptr = t->tw;
	owner = bpf_map_lookup_elem(&fw2_tws, &ptr);
	if (owner && *owner == key) /* not a newer socket at the same address */
		bpf_map_delete_elem(&fw2_tws, &ptr);
	bpf_map_delete_elem(&tws, &key);
}

/* An orphaned FIN_WAIT2 got its FIN: move it to TIME_WAIT once, whoever
 * sees it first (a reschedule, or the sweep on another CPU). */
static __always_inline void tw_switch(struct tcpfsm_tw *t, __u32 substate, __u64 now)
{
	struct tcpfsm_agg *a = agg_of(TCPFSM_SLOT_TW);
	__u32 old = t->substate;
	__u64 entered = t->entered_ns;
	__u32 f = t->family == AF_INET6;

	if (!a || old == substate || substate >= TCPFSM_STATE_MAX || old >= TCPFSM_STATE_MAX)
		return;
	if (__sync_val_compare_and_swap(&t->substate, old, substate) != old)
		return;
	t->entered_ns = now;
	tw_add(&a->tw_known[f][old], -1);
	tw_add(&a->tw_known[f][substate], 1);
	if (old == TCP_FIN_WAIT2 && now >= entered)
		hist_record(TCPFSM_SLOT_TW, TCPFSM_HIST_FW2_TW, now - entered);
}

static __always_inline void tw_aggregate(struct inet_timewait_sock *tw, __u8 kind, __u8 family, __u8 substate)
{
	struct tcpfsm_tw_pending *p;
	struct tcpfsm_agg *a;
	struct tcpfsm_tw *t;
	__u64 key, now, ptr = (__u64)tw;
	__u32 zero = 0;

	p = bpf_map_lookup_elem(&tw_pending, &zero);
	a = agg_of(TCPFSM_SLOT_TW);
	if (!p || !a)
		return;
	key = BPF_CORE_READ(tw, __tw_common.skc_cookie.counter);
	if (!key)
		key = ptr;
	now = bpf_ktime_get_ns();

	if (kind == TCPFSM_EV_TW_CANCEL) {
		__u64 prev_ts = p->ts_ns, prev;
		__u8 prev_family = p->family, prev_sub = p->substate;

		/* An orphaned FIN_WAIT2 stays in fw2_tws until it ends: should the
		 * start that follows this cancel be skipped (a nested run), the
		 * sweep still sees its switch to TIME_WAIT. */
		/* Fields first, then the key that makes them current: the sweep
		 * reads the key, then the time. */
		p->family = family;
		p->substate = substate;
		p->ts_ns = now;
		prev = __sync_lock_test_and_set(&p->key, key);
		if (prev && prev != key)
			tw_end(prev, prev_family, prev_sub, prev_ts, 1);
		return;
	}
	if (kind == TCPFSM_EV_TW_EXPIRE) {
		__sync_val_compare_and_swap(&p->key, key, 0);
		tw_end(key, family, substate, now, 0);
		return;
	}
	/* TCPFSM_EV_TW_START */
	if (__sync_val_compare_and_swap(&p->key, key, 0) == key) {
		/* Re-armed right after its cancel: the FIN that made an orphaned
		 * FIN_WAIT2 TIME_WAIT, or a retransmitted FIN. */
		t = bpf_map_lookup_elem(&tws, &key);
		if (t)
			tw_switch(t, substate, now);
	} else {
		struct tcpfsm_tw fresh = {
			.entered_ns = now,
			.tw = ptr,
			.substate = substate,
			.family = family,
		};
		long err = bpf_map_update_elem(&tws, &key, &fresh, BPF_NOEXIST);

		if (err == -17 /* EEXIST */) {
			t = bpf_map_lookup_elem(&tws, &key);
			if (t)
				tw_switch(t, substate, now);
		} else if (err) {
			__sync_fetch_and_add(&a->tw_untracked, 1);
			return;
		} else if (substate < TCPFSM_STATE_MAX) {
			tw_add(&a->tw_known[family == AF_INET6][substate], 1);
		}
	}
	if (substate == TCP_FIN_WAIT2 && bpf_map_update_elem(&fw2_tws, &ptr, &key, BPF_ANY))
		__sync_fetch_and_add(&a->tw_untracked, 1);
}

static __always_inline void emit_tw(struct inet_timewait_sock *tw, __u8 kind)
{
	struct tcpfsm_cpu_counters *cc;
	struct tcpfsm_event *e;
	__u32 zero = 0;
	__u16 family;
	__u32 netns;
	__u16 sport, dport;
	__u8 substate;
	__u64 key = (__u64)tw;

	family = BPF_CORE_READ(tw, __tw_common.skc_family);
	if (filter_family && family != filter_family)
		return;
	netns = BPF_CORE_READ(tw, __tw_common.skc_net.net, ns.inum);
	if (filter_netns && netns != filter_netns)
		return;
	sport = bpf_ntohs(BPF_CORE_READ(tw, tw_sport));
	dport = bpf_ntohs(BPF_CORE_READ(tw, __tw_common.skc_dport));
	if (filter_lports_on && !port_set(lport_bits, sport))
		return;
	if (filter_dports_on && !port_set(dport_bits, dport))
		return;

	substate = BPF_CORE_READ(tw, tw_substate);
	if (mode == TCPFSM_MODE_AGGREGATE) {
		tw_aggregate(tw, kind, family, substate);
		return;
	}
	if (kind == TCPFSM_EV_TW_START && substate == TCP_FIN_WAIT2) {
		if (bpf_map_update_elem(&fw2_tws, &key, &key, BPF_ANY)) {
			cc = bpf_map_lookup_elem(&cpu_counters, &zero);
			if (cc)
				cc->fw2_untracked++;
		}
	} else if (kind != TCPFSM_EV_TW_START) {
		bpf_map_delete_elem(&fw2_tws, &key);
	}

	e = bpf_ringbuf_reserve(&events, sizeof(*e), 0);
	if (!e) {
		cc = bpf_map_lookup_elem(&cpu_counters, &zero);
		if (cc)
			cc->ringbuf_drops++;
		return;
	}
	e->ts_ns = bpf_ktime_get_ns();
	e->skaddr = (__u64)tw;
	e->cookie = BPF_CORE_READ(tw, __tw_common.skc_cookie.counter);
	e->prev_ns = 0;
	e->pid = 0;
	e->netns = netns;
	e->sport = sport;
	e->dport = dport;
	e->family = family;
	e->oldstate = 0;
	e->newstate = substate;
	e->kind = kind;
	e->flags = 0;
	__builtin_memset(e->pad, 0, sizeof(e->pad));
	__builtin_memset(e->saddr, 0, sizeof(e->saddr));
	__builtin_memset(e->daddr, 0, sizeof(e->daddr));
	__builtin_memset(e->comm, 0, sizeof(e->comm));
	if (family == AF_INET) {
		*(__u32 *)e->saddr = BPF_CORE_READ(tw, __tw_common.skc_rcv_saddr);
		*(__u32 *)e->daddr = BPF_CORE_READ(tw, __tw_common.skc_daddr);
	} else {
		bpf_probe_read_kernel(e->saddr, sizeof(e->saddr),
				      &tw->__tw_common.skc_v6_rcv_saddr);
		bpf_probe_read_kernel(e->daddr, sizeof(e->daddr), &tw->__tw_common.skc_v6_daddr);
	}
	bpf_ringbuf_submit(e, bpf_ringbuf_query(&events, BPF_RB_AVAIL_DATA) >= wakeup_bytes
				      ? BPF_RB_FORCE_WAKEUP
				      : BPF_RB_NO_WAKEUP);
}

static __always_inline bool is_tw_timer(struct timer_list *timer)
{
	return (unsigned long)timer->function == (unsigned long)&tw_timer_handler;
}

static __always_inline struct inet_timewait_sock *tw_of(struct timer_list *timer)
{
	return (void *)timer - bpf_core_field_offset(struct inet_timewait_sock, tw_timer);
}

SEC("tp_btf/timer_start")
int BPF_PROG(on_timer_start, struct timer_list *timer)
{
	if (is_tw_timer(timer))
		emit_tw(tw_of(timer), TCPFSM_EV_TW_START);
	return 0;
}

SEC("tp_btf/timer_cancel")
int BPF_PROG(on_timer_cancel, struct timer_list *timer)
{
	if (is_tw_timer(timer))
		emit_tw(tw_of(timer), TCPFSM_EV_TW_CANCEL);
	return 0;
}

SEC("tp_btf/timer_expire_entry")
int BPF_PROG(on_timer_expire, struct timer_list *timer)
{
	if (is_tw_timer(timer))
		emit_tw(tw_of(timer), TCPFSM_EV_TW_EXPIRE);
	return 0;
}

static long sweep_one(struct bpf_map *map, __u64 *ptr, __u64 *key, void *ctx)
{
	struct inet_timewait_sock *tw = (void *)*ptr;
	struct tcpfsm_tw *t;
	__u64 cookie;
	__u8 substate = 0;

	/* Timewait sockets are SLAB_TYPESAFE_BY_RCU. In events mode they leave
	 * this map at their timer's cancel or expiry, before they are freed;
	 * in aggregate mode when they end, which for a kill is settled up to a
	 * sweep later (hence the identity check below). */
	bpf_core_read(&substate, sizeof(substate), &tw->tw_substate);
	if (substate == TCP_FIN_WAIT2)
		return 0;
	if (mode != TCPFSM_MODE_AGGREGATE) {
		emit_tw(tw, TCPFSM_EV_TW_SUBSTATE); /* which removes it from the map */
		return 0;
	}
	/* In aggregate mode an entry outlives the cancel of a kill until the
	 * kill is settled: make sure this is still the same socket. */
	cookie = BPF_CORE_READ(tw, __tw_common.skc_cookie.counter);
	if ((cookie ? cookie : *ptr) == *key) {
		t = bpf_map_lookup_elem(&tws, key);
		if (t)
			tw_switch(t, substate, bpf_ktime_get_ns());
	}
	bpf_map_delete_elem(&fw2_tws, ptr);
	return 0;
}

/* Aggregate mode: a cancel not followed on its CPU by a start or an expiry
 * within the grace was an early kill (tw reuse, RST, netns teardown). */
static __always_inline void settle_kills(void)
{
	__u64 now = bpf_ktime_get_ns();
	__u32 zero = 0, cpu;

	for (cpu = 0; cpu < MAX_CPUS && cpu < nr_cpus; cpu++) {
		struct tcpfsm_tw_pending *p = bpf_map_lookup_percpu_elem(&tw_pending, &zero, cpu);
		__u64 key, ts;
		__u8 family, substate;

		if (!p)
			continue;
		key = p->key;
		ts = p->ts_ns;
		if (!key || now < ts + TW_KILL_GRACE_NS)
			continue;
		family = p->family;
		substate = p->substate;
		if (__sync_val_compare_and_swap(&p->key, key, 0) == key)
			tw_end(key, family, substate, ts, 1);
	}
}

/* Not attached: userspace runs it with BPF_PROG_TEST_RUN every 100 ms. */
SEC("raw_tp")
int tw_substate_sweep(void *ctx)
{
	bpf_for_each_map_elem(&fw2_tws, sweep_one, NULL, 0);
	if (mode == TCPFSM_MODE_AGGREGATE)
		settle_kills();
	return 0;
}
