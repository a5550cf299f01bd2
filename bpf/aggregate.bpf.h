/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* Aggregate mode's kernel counters: the aggs and hists maps, and lifetimes into histograms. */
#ifndef TCPFSM_AGGREGATE_BPF_H
#define TCPFSM_AGGREGATE_BPF_H

#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include "tcpfsm/event.h"

#define HIST_SUBS (1 << TCPFSM_HIST_SUB_BITS)

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

/* The bucket of ns, as LifetimeHistogram numbers them (see event.h). */
static __always_inline __u32 hist_index(__u64 ns)
{
	__u64 v = ns;
	__u32 msb = 0;

	if (ns < HIST_SUBS)
		return ns;
	if (v >> 32) {
		v >>= 32;
		msb += 32;
	}
	if (v >> 16) {
		v >>= 16;
		msb += 16;
	}
	if (v >> 8) {
		v >>= 8;
		msb += 8;
	}
	if (v >> 4) {
		v >>= 4;
		msb += 4;
	}
	if (v >> 2) {
		v >>= 2;
		msb += 2;
	}
	if (v >> 1)
		msb += 1;
	return (msb - TCPFSM_HIST_SUB_BITS + 1) * HIST_SUBS +
	       ((ns >> (msb - TCPFSM_HIST_SUB_BITS)) & (HIST_SUBS - 1));
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

/* closes[from][cause]++, indexed flat: a bound the verifier can check. */
static __always_inline void close_count(struct tcpfsm_agg *a, __u32 from, __u32 cause)
{
	__u32 i = from * TCPFSM_CAUSE_MAX + cause;

	asm volatile("" : "+r"(i));
	if (i < TCPFSM_STATE_MAX * TCPFSM_CAUSE_MAX)
		((__u64 *)a->closes)[i]++;
}

static __always_inline struct tcpfsm_agg *agg_of(__u32 slot)
{
	return bpf_map_lookup_elem(&aggs, &slot);
}

#endif /* TCPFSM_AGGREGATE_BPF_H */
