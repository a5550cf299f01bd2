/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* What every program shares: the mode, the ring buffer of records, the per-CPU loss counters. */
#ifndef TCPFSM_RECORDS_BPF_H
#define TCPFSM_RECORDS_BPF_H

#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include "tcpfsm/event.h"

/* vmlinux.h has the kernel's types, not its macros. */
#define AF_INET 2
#define AF_INET6 10

/* Wake the consumer only once this much data is waiting; it also polls on
 * a short timer, so light traffic still arrives promptly. */
const volatile __u64 wakeup_bytes = 1 << 20;
/* enum tcpfsm_mode: records, storage only, or counting in the kernel. */
const volatile __u8 mode = TCPFSM_MODE_EVENTS;

/* The records, in events mode. Resized by userspace before load (to a page
 * in the other modes, which write none). */
struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, TCPFSM_DEFAULT_RINGBUF_BYTES);
} events SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct tcpfsm_cpu_counters);
} cpu_counters SEC(".maps");

/* Hands a record to userspace, waking it only past wakeup_bytes. */
static __always_inline void record_submit(struct tcpfsm_event *e)
{
	bool wake = bpf_ringbuf_query(&events, BPF_RB_AVAIL_DATA) >= wakeup_bytes;

	bpf_ringbuf_submit(e, wake ? BPF_RB_FORCE_WAKEUP : BPF_RB_NO_WAKEUP);
}

#endif /* TCPFSM_RECORDS_BPF_H */
