/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* Timewait sockets, seen through their timer: records, or their counting in aggregate mode. */
#ifndef TCPFSM_TIMEWAIT_BPF_H
#define TCPFSM_TIMEWAIT_BPF_H

#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_endian.h>
#include "tcpfsm/event.h"
#include "filters.bpf.h"
#include "records.bpf.h"
#include "aggregate.bpf.h"

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

/* Aggregate mode: the cancel each CPU saw last, until its follow-up settles
 * it. One entry per CPU, indexed by CPU id, in a plain array rather than a
 * per-CPU one: the sweep reads every CPU's entry with a plain lookup, where a
 * per-CPU array needs bpf_map_lookup_percpu_elem (Linux 5.19). A program runs
 * with migration disabled, so its CPU id holds for the whole run. Userspace
 * sizes it to the possible CPUs. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct tcpfsm_tw_pending);
} tw_pending SEC(".maps");

/* Possible CPUs, for the sweep's look at every CPU's pending cancel. */
const volatile __u32 nr_cpus = 1;

#define MAX_CPUS 1024 /* a bound on nr_cpus the verifier can see */

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
			hist_record(TCPFSM_SLOT_TW,
				    how ? TCPFSM_HIST_TW_KILLED : TCPFSM_HIST_TW_EXPIRED, d);
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

static __always_inline void tw_aggregate(struct inet_timewait_sock *tw, __u8 kind, __u8 family,
					 __u8 substate)
{
	struct tcpfsm_tw_pending *p;
	struct tcpfsm_agg *a;
	struct tcpfsm_tw *t;
	__u64 key, now, ptr = (__u64)tw;
	__u32 cpu = bpf_get_smp_processor_id();

	p = bpf_map_lookup_elem(&tw_pending, &cpu);
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
	if (!ports_pass(sport, dport))
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
	e->cause = 0; /* only records into CLOSE have one */
	__builtin_memset(e->pad, 0, sizeof(e->pad));
	__builtin_memset(e->saddr, 0, sizeof(e->saddr));
	__builtin_memset(e->daddr, 0, sizeof(e->daddr));
	__builtin_memset(e->comm, 0, sizeof(e->comm));
	e->bytes_acked = 0;
	e->bytes_received = 0;
	e->total_retrans = 0;
	e->srtt_us = 0;
	if (family == AF_INET) {
		*(__u32 *)e->saddr = BPF_CORE_READ(tw, __tw_common.skc_rcv_saddr);
		*(__u32 *)e->daddr = BPF_CORE_READ(tw, __tw_common.skc_daddr);
	} else {
		bpf_probe_read_kernel(e->saddr, sizeof(e->saddr),
				      &tw->__tw_common.skc_v6_rcv_saddr);
		bpf_probe_read_kernel(e->daddr, sizeof(e->daddr), &tw->__tw_common.skc_v6_daddr);
	}
	record_submit(e);
}

static __always_inline bool is_tw_timer(struct timer_list *timer)
{
	return (unsigned long)timer->function == (unsigned long)&tw_timer_handler;
}

static __always_inline struct inet_timewait_sock *tw_of(struct timer_list *timer)
{
	return (void *)timer - bpf_core_field_offset(struct inet_timewait_sock, tw_timer);
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
	__u32 cpu;

	for (cpu = 0; cpu < MAX_CPUS && cpu < nr_cpus; cpu++) {
		/* A copy for the key: the counter itself stays in a register,
		 * so the verifier sees a bounded loop. */
		__u32 index = cpu;
		struct tcpfsm_tw_pending *p = bpf_map_lookup_elem(&tw_pending, &index);
		__u64 key, ts;
		__u8 family, substate;

		if (!p)
			continue;
		key = p->key;
		ts = p->ts_ns;
		if (!key || now < ts + TCPFSM_TW_KILL_GRACE_NS)
			continue;
		family = p->family;
		substate = p->substate;
		if (__sync_val_compare_and_swap(&p->key, key, 0) == key)
			tw_end(key, family, substate, ts, 1);
	}
}

#endif /* TCPFSM_TIMEWAIT_BPF_H */
