/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* Recursion rescue: the per-CPU ring of hits on_set_state took, checked by on_set_state_nested. */
#ifndef TCPFSM_RESCUE_BPF_H
#define TCPFSM_RESCUE_BPF_H

#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include "sk_state.bpf.h"

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
#define RECENT 8 /* a power of two: the head wraps with a mask */

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

static __always_inline __u32 hit_states(int oldstate, int newstate)
{
	return (__u32)oldstate << 8 | (__u8)newstate;
}

/* on_set_state, first thing: note the hit it takes. */
static __always_inline void note_hit(struct recent_hits *r, const struct sock *sk, int oldstate,
				     int newstate)
{
	/* This program never runs nested in itself, so the head needs no atomics. */
	__u32 i = r->head++ & (RECENT - 1);

	r->sk[i] = (__u64)sk;
	r->states[i] = hit_states(oldstate, newstate);
}

/* on_set_state_nested: handle the hit unless on_set_state took it. A note
 * is used up when found: the same transition again is another hit. */
static __always_inline void rescue(struct recent_hits *r, const struct sock *sk, int oldstate,
				   int newstate, struct tcpfsm_cpu_counters *cc)
{
	__u32 key = hit_states(oldstate, newstate);
	int i;

#pragma unroll
	for (i = 0; i < RECENT; i++) {
		if (r->sk[i] == (__u64)sk && r->states[i] == key) {
			r->sk[i] = 0; /* taken by on_set_state */
			return;
		}
	}
	cc->rescued++;
	handle(sk, oldstate, newstate, cc, TCPFSM_F_RESCUED);
}

#endif /* TCPFSM_RESCUE_BPF_H */
