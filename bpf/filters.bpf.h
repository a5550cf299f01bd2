/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* Which sockets are traced: the rodata filters userspace sets, and their tests. */
#ifndef TCPFSM_FILTERS_BPF_H
#define TCPFSM_FILTERS_BPF_H

#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_endian.h>

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

static __always_inline bool port_set(const volatile __u8 *bits, __u16 port)
{
	return bits[port >> 3] & (1 << (port & 7));
}

/* Whether a socket's ports (host byte order) pass the port filters. */
static __always_inline bool ports_pass(__u16 sport, __u16 dport)
{
	return (!filter_lports_on || port_set(lport_bits, sport)) &&
	       (!filter_dports_on || port_set(dport_bits, dport));
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

/* The filters on what never changes for a socket (family, netns, cgroup)
 * and its ports, for the programs that see sockets outside a transition. */
static __always_inline bool socket_selected(const struct sock *sk)
{
	__u16 sport = sk->__sk_common.skc_num;
	__u16 dport = bpf_ntohs(sk->__sk_common.skc_dport);

	if (filter_family && sk->__sk_common.skc_family != filter_family)
		return false;
	if (filter_netns && sk->__sk_common.skc_net.net->ns.inum != filter_netns)
		return false;
	if (filter_cgroup_id && !in_filter_cgroup(sk))
		return false;
	return ports_pass(sport, dport);
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

#endif /* TCPFSM_FILTERS_BPF_H */
