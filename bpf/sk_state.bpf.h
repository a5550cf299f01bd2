/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* A full socket's state change: its per-socket storage and owner; handle() counts or records it. */
#ifndef TCPFSM_SK_STATE_BPF_H
#define TCPFSM_SK_STATE_BPF_H

#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_endian.h>
#include "tcpfsm/event.h"
#include "filters.bpf.h"
#include "records.bpf.h"
#include "aggregate.bpf.h"
#include "causes.bpf.h"

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

/*
 * Aggregate mode: count the transition where it happens. A socket is counted
 * in `known` under the state its storage says (si->counted), so a lost
 * transition corrects itself at the next one. A socket tcpfsm never saw
 * before (no storage until now) was counted, if at all, by a sock_diag dump
 * in oldstate: `unknown_left` tells userspace that population shrank.
 */
static __always_inline void aggregate(const struct sock *sk, __u16 family, int oldstate,
				      int newstate, struct tcpfsm_sk_info *si, bool unseen,
				      __u64 prev, __u8 flags, __u8 cause)
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
		if (prev && oldstate != newstate) {
			hist_record(slot, o, prev);
			/* Connect latency is SYN_SENT's lifetime of the successes
			 * only: failures (a 1 s SYN timeout) would swamp it. */
			if (o == TCP_SYN_SENT && n == TCP_ESTABLISHED)
				hist_record(slot, TCPFSM_HIST_CONNECTED, prev);
		}
		if (n == TCP_CLOSE && o != TCP_CLOSE)
			close_count(a, o, cause);
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

/*
 * The socket's storage brought up to this transition: it entered newstate
 * now, after *prev ns in oldstate (TCPFSM_F_PREV_KNOWN in *flags). *fresh:
 * 1 when the storage was created now, 2 when it was cloned from the
 * listener. NULL when the socket has none (it is entering CLOSE, or the
 * allocation failed).
 */
static __always_inline struct tcpfsm_sk_info *note_state(const struct sock *sk, int oldstate,
							 int newstate, __u64 now, __u64 *prev,
							 __u8 *flags, __u8 *fresh)
{
	struct tcpfsm_sk_info *si;

	/* A socket entering CLOSE is finished: don't allocate for it. */
	si = bpf_sk_storage_get(&sk_infos, (struct sock *)sk, 0,
				newstate == TCP_CLOSE ? 0 : BPF_SK_STORAGE_GET_F_CREATE);
	if (!si)
		return NULL;
	if (si->sk != (__u64)sk) {
		/* New entry, or one cloned from the listener. */
		*fresh = si->sk ? 2 : 1;
		si->sk = (__u64)sk;
		si->ts_ns = 0;
		si->counted = 0;
		si->evidence = 0;
		si->rst_cause = 0;
		if (si->pid)
			si->owner = TCPFSM_OWNER_LISTENER;
	}
	if (si->ts_ns && now >= si->ts_ns) {
		*prev = now - si->ts_ns;
		*flags |= TCPFSM_F_PREV_KNOWN;
	}
	/* shutdown(SHUT_WR) then close() reports FIN_WAIT1 -> FIN_WAIT1:
	 * the socket is still in the state it entered earlier. */
	if (oldstate != newstate) {
		si->ts_ns = now;
		si->state = newstate;
	}
	return si;
}

/* Who drives this transition (the owner source in *flags), kept in the
 * storage for the transitions that run in softirq. 0: unknown. */
static __always_inline __u32 note_owner(const struct sock *sk, struct tcpfsm_sk_info *si,
					__u8 *flags)
{
	__u32 pid;

	if (!driven_by_current(sk)) {
		if (!si || !si->pid)
			return 0;
		*flags |= si->owner;
		return si->pid;
	}
	pid = bpf_get_current_pid_tgid() >> 32;
	*flags |= TCPFSM_OWNER_TASK;
	if (si) {
		/* The same process again (connect, then close): its name is
		 * already there. */
		if (si->pid != pid || si->owner != TCPFSM_OWNER_RECORDED)
			bpf_get_current_comm(si->comm, sizeof(si->comm));
		si->pid = pid;
		si->owner = TCPFSM_OWNER_RECORDED;
	}
	return pid;
}

/* Events mode: the transition's record, unless the port, pid or comm
 * filters drop it. */
static __always_inline void emit_state(const struct sock *sk, __u16 family, __u32 netns,
				       int oldstate, int newstate, struct tcpfsm_sk_info *si,
				       __u64 now, __u64 prev, __u32 pid, __u8 flags, __u8 cause,
				       struct tcpfsm_cpu_counters *cc)
{
	struct tcpfsm_event *e;
	__u16 sport, dport;

	/* inet_sport, as the tracepoint itself reports: skc_num is already 0
	 * when a socket enters CLOSE (inet_put_port runs first). */
	bpf_core_read(&sport, sizeof(sport), &((struct inet_sock *)sk)->inet_sport);
	sport = bpf_ntohs(sport);
	dport = bpf_ntohs(sk->__sk_common.skc_dport);
	if (!ports_pass(sport, dport))
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
	e->cause = cause;
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
	if (newstate == TCP_CLOSE) {
		/* The totals `life` prints; still in tcp_sock when it closes. */
		const struct tcp_sock *tp = (const struct tcp_sock *)sk;

		e->bytes_acked = BPF_CORE_READ(tp, bytes_acked);
		e->bytes_received = BPF_CORE_READ(tp, bytes_received);
		e->total_retrans = BPF_CORE_READ(tp, total_retrans);
		e->srtt_us = BPF_CORE_READ(tp, srtt_us) >> 3;
	} else {
		e->bytes_acked = 0;
		e->bytes_received = 0;
		/* A connect that established: the SYNs it retransmitted (a
		 * connect that failed says so in its record into CLOSE), for
		 * the SYN retransmits per destination. */
		e->total_retrans =
			oldstate == TCP_SYN_SENT && newstate == TCP_ESTABLISHED ?
				BPF_CORE_READ((const struct tcp_sock *)sk, total_retrans) :
				0;
		e->srtt_us = 0;
	}
	record_submit(e);
}

/* One transition, whatever the mode: the filters on what never changes
 * for a socket, its storage and owner, then counting or a record. */
static __always_inline void handle(const struct sock *sk, int oldstate, int newstate,
				   struct tcpfsm_cpu_counters *cc, __u8 flags)
{
	__u16 family = sk->__sk_common.skc_family;
	__u32 netns = sk->__sk_common.skc_net.net->ns.inum;
	struct tcpfsm_sk_info *si;
	__u64 now, prev = 0;
	__u8 fresh = 0, cause = 0;
	__u32 pid;

	if (filter_family && family != filter_family)
		return;
	if (filter_netns && netns != filter_netns)
		return;
	if (filter_cgroup_id && !in_filter_cgroup(sk))
		return;

	now = bpf_ktime_get_ns();
	si = note_state(sk, oldstate, newstate, now, &prev, &flags, &fresh);
	pid = note_owner(sk, si, &flags);
	if (mode == TCPFSM_MODE_STORAGE)
		return;
	if (newstate == TCP_CLOSE && oldstate != TCP_CLOSE) {
		cause = close_cause(sk, oldstate, si);
		/* A socket may connect again after a failed connect: what
		 * decided this close must not decide the next one. */
		if (si) {
			si->evidence = 0;
			si->rst_cause = 0;
		}
	}
	if (mode == TCPFSM_MODE_AGGREGATE) {
		aggregate(sk, family, oldstate, newstate, si, !si || fresh == 1, prev, flags,
			  cause);
		return;
	}
	emit_state(sk, family, netns, oldstate, newstate, si, now, prev, pid, flags, cause, cc);
}

#endif /* TCPFSM_SK_STATE_BPF_H */
