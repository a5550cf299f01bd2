// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * tcpfsm kernel side: every TCP state change, from the
 * sock:inet_sock_set_state tracepoint, and the life of every timewait socket,
 * from its timer. In events mode each becomes a record in a BPF ring buffer;
 * in aggregate mode it is counted in the kernel (transitions, gauges and
 * lifetime histograms) and no record is written; in storage mode only the
 * per-socket storage is kept, for sock_diag to read back.
 *
 * This file holds the programs; the headers hold the rest, by concern.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_endian.h>
#include "tcpfsm/event.h"

#include "filters.bpf.h"
#include "records.bpf.h"
#include "aggregate.bpf.h"
#include "sk_state.bpf.h"
#include "rescue.bpf.h"
#include "timewait.bpf.h"
#include "causes.bpf.h"

char LICENSE[] SEC("license") = "Dual BSD/GPL";

SEC("tp_btf/inet_sock_set_state")
int BPF_PROG(on_set_state, const struct sock *sk, const int oldstate, const int newstate)
{
	__u32 zero = 0;
	struct tcpfsm_cpu_counters *cc = bpf_map_lookup_elem(&cpu_counters, &zero);
	struct recent_hits *r = bpf_map_lookup_elem(&recent, &zero);

	if (!cc || !r)
		return 0;
	if (sk->sk_protocol != IPPROTO_TCP)
		return 0;
	note_hit(r, sk, oldstate, newstate);
	handle(sk, oldstate, newstate, cc, 0);
	return 0;
}

/* The hits the kernel skipped on_set_state for (rescue.bpf.h): attached after it. */
SEC("tp_btf/inet_sock_set_state")
int BPF_PROG(on_set_state_nested, const struct sock *sk, const int oldstate, const int newstate)
{
	__u32 zero = 0;
	struct tcpfsm_cpu_counters *cc = bpf_map_lookup_elem(&cpu_counters, &zero);
	struct recent_hits *r = bpf_map_lookup_elem(&recent, &zero);

	if (!cc || !r)
		return 0;
	if (sk->sk_protocol != IPPROTO_TCP)
		return 0;
	rescue(r, sk, oldstate, newstate, cc);
	return 0;
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

/* The peer's RST (tcp_reset), before the socket closes: noted for its cause. */
SEC("tp_btf/tcp_receive_reset")
int BPF_PROG(on_receive_reset, struct sock *sk)
{
	if (sk)
		note_rst_received(sk, &sk_infos);
	return 0;
}

/* An RST we send; the kernels since 6.10 say why (enum sk_rst_reason). */
SEC("tp_btf/tcp_send_reset")
int BPF_PROG(on_send_reset, const struct sock *sk, const struct sk_buff *skb)
{
	__u32 reason = 0;

	/* The third argument exists only where the enum does: on older
	 * kernels this read is dead code the verifier never sees. */
	if (bpf_core_type_exists(enum sk_rst_reason))
		reason = (__u32)ctx[2];
	note_rst_sent(sk, reason, &sk_infos);
	return 0;
}

/* Retransmissions, counted by the state of the socket that sends them. */
static __always_inline void count_retransmit(const struct sock *sk, __u32 state)
{
	__u32 zero = 0;
	struct tcpfsm_cpu_counters *cc = bpf_map_lookup_elem(&cpu_counters, &zero);

	if (!cc || !sk || !socket_selected(sk))
		return;
	asm volatile("" : "+r"(state));
	if (state < TCPFSM_STATE_MAX)
		__sync_fetch_and_add(&cc->retransmits[state], 1);
}

/* The tracepoint's event struct as it is where the tracepoint carries the
 * attempt's result (Linux 6.17 on); on older kernels the struct is absent
 * and the field test below is false. */
struct trace_event_raw_tcp_retransmit_skb___err {
	int err;
} __attribute__((preserve_access_index));

SEC("tp_btf/tcp_retransmit_skb")
int BPF_PROG(on_retransmit, const struct sock *sk)
{
	/* Since 6.17 the tracepoint also fires for attempts that sent nothing
	 * (err: -EBUSY with the original still in a host queue, -EAGAIN,
	 * -ENOMEM, -EHOSTUNREACH); older kernels fire only on success. Count
	 * what went out (the kernel's TcpRetransSegs and TCPSynRetrans also
	 * count the few a device then refused: TCPRetransFail). */
	if (bpf_core_field_exists(struct trace_event_raw_tcp_retransmit_skb___err, err) &&
	    (int)ctx[2] != 0)
		return 0;
	if (sk)
		count_retransmit(sk, sk->__sk_common.skc_state);
	return 0;
}

/* A listener retransmitting a SYN-ACK for one of its request sockets. */
SEC("tp_btf/tcp_retransmit_synack")
int BPF_PROG(on_retransmit_synack, const struct sock *sk)
{
	count_retransmit(sk, TCP_SYN_RECV);
	return 0;
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
