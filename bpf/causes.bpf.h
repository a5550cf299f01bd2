/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Why a full socket enters CLOSE (enum tcpfsm_close_cause), decided at the
 * transition itself from what the kernel tests on each path to CLOSE:
 *
 *   - the error tcp_done_with_error() stored in sk_err before tcp_done()
 *     (tcp_reset, retransmit and SYN timeouts, ICMP errors, tcp_abort);
 *   - an RST tcp_send_active_reset() sent just before (keepalive, memory,
 *     linger2), noted in the socket's storage by the tcp_send_reset program;
 *   - the peer's RST, noted by the tcp_receive_reset program;
 *   - for the closes a process makes (it owns the socket lock), the same
 *     conditions __tcp_close() and tcp_disconnect() test before they send
 *     their RST *after* the transition: unread data, SO_LINGER 0.
 *
 * Where none of these decides, UNKNOWN: never a guess.
 */
#ifndef TCPFSM_CAUSES_BPF_H
#define TCPFSM_CAUSES_BPF_H

#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>
#include "tcpfsm/event.h"

/* vmlinux.h has the kernel's types, not its macros (uapi errno.h). */
#define TCPFSM_ETIMEDOUT 110
#define TCPFSM_ECONNREFUSED 111
#define TCPFSM_EHOSTDOWN 112
#define TCPFSM_EHOSTUNREACH 113
#define TCPFSM_ENETDOWN 100
#define TCPFSM_ENETUNREACH 101
#define TCPFSM_ECONNABORTED 103
#define TCPFSM_ECONNRESET 104
#define TCPFSM_EPIPE 32
#define TCPFSM_ENONET 64
#define TCPFSM_EPROTO 71

/* sock_flag(): a macro, since CO-RE relocates a named enumerator only
 * (sk_flags itself is a kernel macro for __sk_common.skc_flags). */
#define sock_flag_set(sk, flag) \
	(((sk)->__sk_common.skc_flags >> bpf_core_enum_value(enum sock_flags, flag)) & 1)

/* Bytes the application never read: what __tcp_close() sums from the
 * receive queue (less the FIN) before it resets instead of sending a FIN.
 * The queue is already purged at the transition, but the sequence numbers
 * are not: rcv_nxt - copied_seq, less 1 for a FIN received and not read
 * (reading end of file steps copied_seq past it). */
static __always_inline bool data_unread(const struct sock *sk)
{
	const struct tcp_sock *tp = (const struct tcp_sock *)sk;
	__u32 rcv_nxt = BPF_CORE_READ(tp, rcv_nxt);
	__u32 copied = BPF_CORE_READ(tp, copied_seq);
	__u32 pending = rcv_nxt - copied;

	if (sock_flag_set(sk, SOCK_DONE) && pending)
		pending--;
	return pending > 0;
}

/* tcp_need_reset(): the states in which tcp_disconnect() sends an RST. */
static __always_inline bool resets_on_disconnect(int state)
{
	return state == TCP_ESTABLISHED || state == TCP_CLOSE_WAIT || state == TCP_FIN_WAIT1 ||
	       state == TCP_FIN_WAIT2 || state == TCP_SYN_RECV;
}

/* The cause an RST we send implies, when it precedes the socket's end;
 * 0 for resets that answer a segment and leave the socket as it was. */
static __always_inline __u8 rst_sent_cause(__u32 reason)
{
	if (!bpf_core_type_exists(enum sk_rst_reason))
		return 0;
	if (reason == bpf_core_enum_value(enum sk_rst_reason, SK_RST_REASON_TCP_KEEPALIVE_TIMEOUT))
		return TCPFSM_CAUSE_KEEPALIVE;
	if (reason == bpf_core_enum_value(enum sk_rst_reason, SK_RST_REASON_TCP_ABORT_ON_MEMORY))
		return TCPFSM_CAUSE_RST_ABORT_ON_MEMORY;
	if (reason == bpf_core_enum_value(enum sk_rst_reason, SK_RST_REASON_TCP_ABORT_ON_LINGER))
		return TCPFSM_CAUSE_RST_ABORT_ON_LINGER;
	return 0;
}

static __always_inline __u8 error_cause(int err, int oldstate)
{
	switch (err) {
	case TCPFSM_ECONNREFUSED:
		return TCPFSM_CAUSE_REFUSED;
	case TCPFSM_ETIMEDOUT:
		return oldstate == TCP_SYN_SENT || oldstate == TCP_SYN_RECV ?
			       TCPFSM_CAUSE_SYN_TIMEOUT :
			       TCPFSM_CAUSE_TIMEOUT;
	case TCPFSM_EHOSTUNREACH:
	case TCPFSM_ENETUNREACH:
	case TCPFSM_EHOSTDOWN:
	case TCPFSM_ENETDOWN:
	case TCPFSM_ENONET:
	case TCPFSM_EPROTO:
		return TCPFSM_CAUSE_UNREACHABLE;
	default:
		return TCPFSM_CAUSE_OTHER;
	}
}

/* SEND_SHUTDOWN | RCV_SHUTDOWN: __tcp_close() sets it before anything else. */
#define TCPFSM_SHUTDOWN_MASK 3

static __always_inline bool linger_zero(const struct sock *sk)
{
	return sock_flag_set(sk, SOCK_LINGER) && !sk->sk_lingertime;
}

/* The cause of oldstate -> CLOSE; si may be NULL (no storage). */
static __always_inline __u8 close_cause(const struct sock *sk, int oldstate,
					const struct tcpfsm_sk_info *si)
{
	const struct tcp_sock *tp = (const struct tcp_sock *)sk;
	int err = sk->sk_err;
	/* Owned: the owner's own call (close, connect, disconnect), or the
	 * backlog of segments it drains in release_sock. Owned and shut down
	 * both ways: inside __tcp_close(). */
	bool owned = sk->sk_lock.owned;
	bool in_close = owned && sk->sk_shutdown == TCPFSM_SHUTDOWN_MASK;

	if (oldstate == TCP_LISTEN)
		return TCPFSM_CAUSE_CLOSED;
	/* tcp_abort() stores ECONNABORTED, then resets: checked first. */
	if (err == TCPFSM_ECONNABORTED)
		return TCPFSM_CAUSE_KILLED;
	if (si && si->rst_cause)
		return si->rst_cause;
	if (si && (si->evidence & TCPFSM_SEEN_RST_RECEIVED))
		return oldstate == TCP_SYN_SENT ? TCPFSM_CAUSE_REFUSED : TCPFSM_CAUSE_RST_RECEIVED;
	/* tcp_reset() without storage to note it in: its errors say so. */
	if (err == TCPFSM_ECONNRESET || err == TCPFSM_EPIPE)
		return TCPFSM_CAUSE_RST_RECEIVED;
	if (err)
		return error_cause(err, oldstate);

	switch (oldstate) {
	case TCP_LAST_ACK:
	case TCP_CLOSING:
		/* Our FIN acknowledged, unless tcp_disconnect() found data
		 * still unsent (then no FIN was, and it resets). */
		if (owned && linger_zero(sk) &&
		    BPF_CORE_READ(tp, snd_nxt) != BPF_CORE_READ(tp, write_seq))
			return TCPFSM_CAUSE_RST_DISCONNECT_WITH_DATA;
		return TCPFSM_CAUSE_FIN;
	case TCP_SYN_SENT:
		if (!owned)
			return TCPFSM_CAUSE_UNKNOWN;
		/* inet_hash_connect() failed before it set a port: no SYN left. */
		return BPF_CORE_READ((const struct inet_sock *)sk, inet_sport) ?
			       TCPFSM_CAUSE_CONNECT_ABORTED :
			       TCPFSM_CAUSE_NO_LOCAL_PORT;
	case TCP_FIN_WAIT2:
		/* SOCK_DONE is set only by tcp_fin(): the peer's FIN came, and
		 * tcp_time_wait() takes over in TIME_WAIT. */
		if (sock_flag_set(sk, SOCK_DONE))
			return TCPFSM_CAUSE_FIN;
		break;
	default:
		break;
	}
	if (owned && resets_on_disconnect(oldstate)) {
		/* __tcp_close() tests unread data first, then SO_LINGER 0
		 * (tcp_disconnect); both reset after this transition. Owned
		 * but not closing: tcp_disconnect() for connect(AF_UNSPEC). */
		if (in_close && data_unread(sk))
			return TCPFSM_CAUSE_RST_ABORT_ON_CLOSE;
		if (!in_close || linger_zero(sk))
			return TCPFSM_CAUSE_RST_TCP_STATE;
	}
	if (oldstate == TCP_FIN_WAIT2) {
		/* __tcp_close() resets an orphan whose TCP_LINGER2 is < 0. */
		if (in_close && BPF_CORE_READ(tp, linger2) < 0)
			return TCPFSM_CAUSE_RST_ABORT_ON_LINGER;
		return TCPFSM_CAUSE_ORPHANED;
	}
	/* inet_csk_listen_stop() disconnects the children nobody accepted:
	 * never given a struct socket, and not yet orphaned (SOCK_DEAD). */
	if (!owned && !sk->sk_socket && !sock_flag_set(sk, SOCK_DEAD))
		return TCPFSM_CAUSE_LISTENER_CLOSED;
	return TCPFSM_CAUSE_UNKNOWN;
}

/* tcp_receive_reset: noted for the transition to CLOSE that follows. */
static __always_inline void note_rst_received(const struct sock *sk, void *storage)
{
	struct tcpfsm_sk_info *si = bpf_sk_storage_get(storage, (struct sock *)sk, 0, 0);

	if (si)
		si->evidence |= TCPFSM_SEEN_RST_RECEIVED;
}

/* tcp_send_reset: an active reset that ends the socket before its CLOSE. */
static __always_inline void note_rst_sent(const struct sock *sk, __u32 reason, void *storage)
{
	__u8 cause = rst_sent_cause(reason);
	struct tcpfsm_sk_info *si;

	if (!cause || !sk)
		return;
	si = bpf_sk_storage_get(storage, (struct sock *)sk, 0, 0);
	if (si)
		si->rst_cause = cause;
}

#endif /* TCPFSM_CAUSES_BPF_H */
