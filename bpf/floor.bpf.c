// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * The benchmark's floor (bench/floor.cpp): empty programs at exactly the
 * attach points tcpfsm uses, two on sock:inet_sock_set_state (the main
 * program and the rescue) and one on each timer tracepoint. What a load
 * loses with these attached is what any tracer of these tracepoints pays
 * before doing any work; their bpf_stats run time is what the measurement
 * itself adds to every program.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>

char LICENSE[] SEC("license") = "Dual BSD/GPL";

SEC("tp_btf/inet_sock_set_state")
int BPF_PROG(fl_set_state, const struct sock *sk, const int oldstate, const int newstate)
{
	return 0;
}

SEC("tp_btf/inet_sock_set_state")
int BPF_PROG(fl_set_state2, const struct sock *sk, const int oldstate, const int newstate)
{
	return 0;
}

SEC("tp_btf/timer_start")
int BPF_PROG(fl_timer_start, struct timer_list *timer)
{
	return 0;
}

SEC("tp_btf/timer_cancel")
int BPF_PROG(fl_timer_cancel, struct timer_list *timer)
{
	return 0;
}

SEC("tp_btf/timer_expire_entry")
int BPF_PROG(fl_timer_expire, struct timer_list *timer)
{
	return 0;
}
