/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * hm_sock.h - the socket source: what a process reads from and writes to
 * its TCP sockets, through the same parse core as the packet path.
 *
 * The hooks (httpmon_sock.bpf.c) are tracepoints, which every kernel since
 * 6.3 has and which need neither kprobes nor fentry (this kernel allows
 * neither):
 *  - sock:sock_recv_length and sock:sock_send_length (tp_btf): fired by
 *    sock_recvmsg() and sock_sendmsg() with the socket and the byte count,
 *    whichever call got there.  The socket gives the connection's addresses
 *    and ports directly, where the syscall arguments would give an fd to
 *    resolve through the task's file table.  Where its bytes are comes from
 *    the system call the task is in: its number and arguments, in the
 *    registers the call saved (bpf_task_pt_regs; struct hm_sock_call), so
 *    no program runs on a system call that moves no socket byte.  The bytes
 *    are read from the buffer the call named (bpf_probe_read_user), one
 *    iovec piece at a time, and walked by hm_stream(), the packet path's
 *    walk.  A socket moved by anything else (io_uring, sendmmsg, the kernel
 *    itself) has its bytes counted, not read.
 *  - sock:inet_sock_set_state (tp_btf): a connection established (see
 *    hm_sock_seen) and a connection this side closed (FIN_WAIT1, LAST_ACK),
 *    which frees its state.  A process that exits closes its sockets too.
 *  - tcp:tcp_destroy_sock (tp_btf): the socket is freed; what is left of
 *    its state goes (a reset connection's, after the calls its process
 *    still made).
 *
 * A connection is keyed by its endpoints in the socket's own order (local
 * first) and its network namespace, so the two ends of a loopback
 * connection, both on this host, are two connections: a server socket
 * reads requests, a client socket writes them.  A set counts one role, the server's or the client's (httpmon.h,
 * "Roles"): the programs are the same, hm_sock_role tells them which.
 * Sequence numbers are the stream offsets of each direction, and a write's
 * acknowledgment is what the socket has read so far: the pairing rules of
 * the packet path hold as they are.
 *
 * Times: a byte is taken when the read or write that moved it returns (the
 * socket event: a write's bytes are then in the socket).  A server's latency
 * is so its own time between reading the request and writing the response;
 * a client's, from writing the request to having read the response.
 */
#ifndef HM_SOCK_H
#define HM_SOCK_H

#include "hm_segment.h"

#ifndef AF_INET
#define AF_INET 2
#define AF_INET6 10
#endif
#define HM_SOCK_STREAM 1
#define HM_MSG_PEEK 2 /* recv(2) flags: a peek moves no byte */
#define HM_TCP_ESTABLISHED 1
#define HM_TCP_SYN_SENT 2
#define HM_TCP_SYN_RECV 3
#define HM_TCP_FIN_WAIT1 4
#define HM_TCP_CLOSE 7
#define HM_TCP_LAST_ACK 9

/* Iovec entries one call follows; the bytes of the rest are counted, not parsed. */
#define HM_SOCK_IOV_MAX 1024
/* Empty iovec entries skipped to find a new connection's first bytes. */
#define HM_SOCK_FIRST_IOVS 8
/* Empty lines (CR, LF) before a new connection's first request that are looked past. */
#define HM_SOCK_BLANKS 8

/* A struct iovec, and the head of a struct user_msghdr, as user memory holds them. */
struct hm_iovec {
	__u64 base;
	__u64 len;
};

struct hm_user_msghdr {
	__u64 name;
	__u32 namelen;
	__u32 _pad;
	__u64 iov;
	__u64 iovlen;
};

/* Where a call's bytes are, from its system call's arguments. */
struct hm_sock_call {
	__u64 base;    /* HM_CALL_UBUF: the buffer; HM_CALL_IOVEC: the iovec array */
	__u64 nr_segs; /* HM_CALL_IOVEC: its entries */
	__u32 type;    /* HM_CALL_* */
	__u32 _pad;
};

#define HM_CALL_UBUF 0
#define HM_CALL_IOVEC 1
#define HM_CALL_KERNEL 2 /* sendfile, splice: the bytes never are in user memory */

/*
 * The role this set counts (httpmon.h, "Roles"): read-only, set by hm-load
 * before the programs load, so the verifier folds the other role's paths.
 */
#ifdef __bpf__
const volatile __u32 hm_sock_role = HM_ROLE_SERVER;
#else
__u32 hm_sock_role = HM_ROLE_SERVER; /* the fuzzer's, set per input */
#endif

/*
 * What the monitor knows of a socket it has no connection state for, by
 * the socket's address (struct sock *), until the connection ends (its
 * entry is deleted at FIN_WAIT1, LAST_ACK or CLOSE, before the address can
 * be reused):
 *  HM_SK_NEW     established since the programs were attached: a first call
 *                that starts no HTTP message means no HTTP, where on an
 *                older one it more likely means the middle of a message;
 *  HM_SK_OTHER   the other role's (a client's in the server set: it wrote a
 *                request or read a response first);
 *  HM_SK_NOHTTP  established since the load, and its first bytes were no
 *                HTTP.
 * A call on a socket marked OTHER or NOHTTP costs one lookup.
 */
#define HM_SK_NEW (1U << 0)
#define HM_SK_OTHER (1U << 1)
#define HM_SK_NOHTTP (1U << 2)

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, HM_MAX_CONNS);
	__type(key, __u64);
	__type(value, __u8);
} hm_sock_seen SEC(".maps");

/* Is the calling task in the cgroup hm-load --cgroup named (or is there no such filter)? */
static __always_inline bool hm_sock_watched(const struct hm_config *cfg)
{
	if (!(cfg->flags & HM_CFG_SOCK_CGROUP))
		return true;
	return bpf_current_task_under_cgroup(&hm_sock_cgrp, 0) == 1;
}

/* The bytes [0, n) of piece base as the next bytes of side's stream, at sequence seq. */
static __always_inline __u32 hm_sock_piece(struct hm_scratch *s, struct hm_conn *c,
					   struct hm_config *cfg, __u32 side, __u64 base, __u32 n,
					   __u32 seq)
{
	struct hm_ubuf ub = { .base = base };

	s->seq0 = seq;
	s->off = 0;
	s->end = n;
	s->win_off = 0;
	s->win_len = 0;
	hm_stream(&ub, HM_CTX_USER, s, c, cfg, side);
	return s->bytes;
}

/* The first piece of a call: its buffer and length (base 0: not readable). */
static __always_inline void hm_sock_first(const struct hm_sock_call *call, __u64 ret,
					  __u64 *base, __u64 *len)
{
	struct hm_iovec iov = {};

	*base = 0;
	*len = ret;
	if (!call)
		return;
	if (call->type == HM_CALL_UBUF) {
		*base = call->base;
		return;
	}
	if (call->type != HM_CALL_IOVEC)
		return;
	/* The first entry that holds a byte: empty ones before it move none. */
	for (__u32 i = 0; i < HM_SOCK_FIRST_IOVS && i < call->nr_segs; i++) {
		if (bpf_probe_read_user(&iov, sizeof(iov),
					(const void *)(call->base + (__u64)i * sizeof(iov))))
			return;
		if (!iov.len)
			continue;
		*base = iov.base;
		*len = iov.len < ret ? iov.len : ret;
		return;
	}
}

/*
 * Does a connection without state start here?  Only one of this set's role
 * does: its first call moves the beginning of a request the way its role
 * does (a server reads it, a client writes it).  Otherwise the call is
 * counted by why it was left alone, and a socket of the other role is
 * marked so that its later calls cost one lookup.
 */
static __always_inline bool hm_sock_starts(struct hm_scratch *s, __u64 skp,
					   const struct hm_sock_call *call, __u64 ret,
					   __u32 write)
{
	struct hm_pkt p = {};
	struct hm_ubuf ub;
	__u64 base, len;
	__u8 *seen = bpf_map_lookup_elem(&hm_sock_seen, &skp), mark = HM_SK_OTHER;
	/* The way this role moves requests; responses go the other way. */
	__u32 req_write = hm_sock_role == HM_ROLE_CLIENT;

	__u32 blanks = 0;

	hm_sock_first(call, ret, &base, &len);
	ub.base = base;
	s->win_off = 0;
	s->win_len = 0;
	/* RFC 9112 2.2: empty lines before a request are ignored, here too. */
	if (base && !hm_win_load(&ub, HM_CTX_USER, s, 0, len)) {
		for (__u32 i = 0; i < HM_SOCK_BLANKS && i < s->win_len; i++) {
			if (s->win[i] != '\r' && s->win[i] != '\n')
				break;
			blanks++;
		}
		if (blanks == len) {
			hm_count(s->gen, HM_MON_SOCK_IGNORED, 1); /* nothing else yet: undecided */
			return false;
		}
	}
	p.payload_off = blanks;
	p.payload_end = len - blanks > HM_START_MAX ? blanks + HM_START_MAX : len;
	if (!hm_starts_message(&ub, HM_CTX_USER, s, &p)) {
		if (seen && (*seen & HM_SK_NEW) && base) {
			*seen |= HM_SK_NOHTTP;
			hm_count(s->gen, HM_MON_SOCK_IGNORED, 1);
		} else {
			hm_count(s->gen, HM_MON_SOCK_MIDSTREAM, 1);
		}
		return false;
	}
	/* A start line still undecided counts as what it most likely begins: a request. */
	if (s->cls.kind == HM_MSG_REQUEST || s->cls.kind == HM_MSG_MORE) {
		if (write == req_write)
			return true;
	} else if (write != req_write) {
		/* This role's response, whose request went by before the load. */
		hm_count(s->gen, HM_MON_SOCK_MIDSTREAM, 1);
		return false;
	}
	hm_count(s->gen, HM_MON_SOCK_OTHER_ROLE, 1);
	if (s->cls.kind != HM_MSG_MORE) {
		if (seen)
			*seen |= mark;
		else
			bpf_map_update_elem(&hm_sock_seen, &skp, &mark, BPF_ANY);
	}
	return false;
}

/*
 * A socket the monitor has decided to leave alone (HM_SK_OTHER,
 * HM_SK_NOHTTP): the call is counted and goes no further.
 */
static __always_inline bool hm_sock_skip(struct hm_scratch *s, __u64 skp)
{
	__u8 *seen = bpf_map_lookup_elem(&hm_sock_seen, &skp);

	if (!seen || !(*seen & (HM_SK_OTHER | HM_SK_NOHTTP)))
		return false;
	hm_count(s->gen, *seen & HM_SK_OTHER ? HM_MON_SOCK_OTHER_ROLE : HM_MON_SOCK_IGNORED, 1);
	return true;
}

/*
 * The scratch and settings of a socket event, the generation set; NULL when
 * the calling task is out of scope (hm-load --cgroup).
 */
static __always_inline struct hm_scratch *hm_sock_begin(struct hm_config **cfgp, __u64 skp)
{
	struct hm_scratch *s;
	struct hm_config *cfg;
	__u32 zero = 0;
	__u8 *seen;

	s = bpf_map_lookup_elem(&hm_scratch, &zero);
	cfg = bpf_map_lookup_elem(&hm_config, &zero);
	if (!s || !cfg)
		return NULL;
	if (cfg->layout_version == 0)
		cfg->layout_version = HM_LAYOUT_VERSION;
	if (!hm_sock_watched(cfg)) {
		/*
		 * A call out of scope: if the process comes into scope later
		 * (moved to the cgroup, or the scope widened), its first call
		 * seen may be the middle of a message, so the connection is no
		 * longer one seen from its start.
		 */
		seen = bpf_map_lookup_elem(&hm_sock_seen, &skp);
		if (seen)
			*seen &= ~HM_SK_NEW;
		return NULL;
	}
	s->epoch = cfg->epoch;
	s->gen = s->epoch & 1;
	*cfgp = cfg;
	return s;
}

/*
 * One read (write == 0) or write that moved ret bytes through the socket
 * skp, whose connection key is in s->key (local endpoint first), its buffer
 * described by call (NULL: not readable).  The socket source's entry into
 * the parse core.  arm: the caller may start the aging sweep; a plain
 * tracepoint program may not use a map that holds a bpf_timer, and passes
 * a constant false so the arming is not even compiled into it (the events
 * of every connection's first bytes arm it).
 */
static __always_inline void hm_sock_io(struct hm_scratch *s, struct hm_config *cfg, __u64 skp,
				       const struct hm_sock_call *call, __u64 ret, __u32 write,
				       bool arm)
{
	struct hm_conn *c;
	struct hm_dir *d, *peer;
	struct hm_iovec iov;
	__u64 pid_tgid, n;
	__u32 side = write ? 0 : 1;

	if (!ret)
		return;
	/* --ports names servers' ports: a server's own, the one a client connected to. */
	if ((cfg->flags & HM_CFG_PORT_FILTER) &&
	    !hm_port_watched(cfg, s->key.port[hm_sock_role == HM_ROLE_CLIENT ? 1 : 0]))
		return;

	c = bpf_map_lookup_elem(&hm_conns, &s->key);
	/* The event's clock, read once (tracing programs have no coarse clock). */
	s->now = 0;
	if (!c) {
		if (hm_sock_skip(s, skp) || !hm_sock_starts(s, skp, call, ret, write))
			return;
		hm_conn_fresh(s, hm_now(s));
		/* Both streams start here: offset 0 of each is its first byte seen. */
		s->fresh.dir[0].seq_valid = 1;
		s->fresh.dir[1].seq_valid = 1;
		pid_tgid = bpf_get_current_pid_tgid();
		s->fresh.proc.pid = pid_tgid >> 32;
		s->fresh.proc.role = hm_sock_role;
		s->fresh.proc.cgroup = bpf_get_current_cgroup_id();
		bpf_get_current_comm(s->fresh.proc.comm, sizeof(s->fresh.proc.comm));
		c = hm_conn_create(s);
		if (!c)
			return;
	}
	hm_count(s->gen, HM_MON_SOCK_CALLS, 1);
	__builtin_memset(&s->delta, 0, sizeof(s->delta));
	s->dmask = 0;
	s->side = side;
	s->port[0] = s->key.port[0];
	s->port[1] = s->key.port[1];
	c->last_seen = hm_now(s);
	if (arm)
		hm_aging_arm(cfg);

	d = &c->dir[side & 1];
	peer = &c->dir[(side ^ 1) & 1];
	/* What this socket has read of the other direction, when it writes: the ACK. */
	s->ack = peer->next_seq;
	s->ack_ok = 1;
	/* The loop's position lives in scratch (map memory): see hm_scratch.off. */
	s->io_left = ret;
	s->io_seq = d->next_seq;
	s->io_bytes = 0;
	s->io_i = 0;
	if (!call) {
		hm_count(s->gen, HM_MON_SOCK_READ_FAILED, 1); /* counted below, not read */
	} else if (call->type == HM_CALL_IOVEC) {
		while (hm_loop) {
			__u32 i = s->io_i;

			if (!s->io_left || i >= call->nr_segs || i >= HM_SOCK_IOV_MAX)
				break;
			if (bpf_probe_read_user(&iov, sizeof(iov),
						(const void *)(call->base + (__u64)i * sizeof(iov))))
				break;
			n = iov.len < s->io_left ? iov.len : s->io_left;
			if (n) {
				s->io_bytes += hm_sock_piece(s, c, cfg, side, iov.base, n, s->io_seq);
				s->io_seq += n;
				s->io_left -= n;
			}
			s->io_i = i + 1;
		}
		if (s->io_left)
			hm_count(s->gen, HM_MON_SOCK_WINDOW_CUT, 1);
	} else if (call->type == HM_CALL_UBUF) {
		s->io_bytes = hm_sock_piece(s, c, cfg, side, call->base, ret, s->io_seq);
		s->io_seq += ret;
		s->io_left = 0;
	}
	/* Bytes that never were in user memory, or beyond what a call follows: bodies pass. */
	if (s->io_left) {
		s->io_bytes += hm_sock_piece(s, c, cfg, side, 0, s->io_left, s->io_seq);
		s->io_seq += s->io_left;
	}
	d->next_seq = s->io_seq;

	hm_delta_bytes(s, c, side, s->io_bytes);
	if (c->client != HM_SIDE_UNKNOWN && s->dmask)
		hm_rows_update(c, &s->key, cfg, s->epoch, &s->delta, s->dmask);
}

/*
 * The connection of key ended on this side (closed, shut down, or its
 * process exited): requests still pending are never answered, and its
 * state is freed.  Its memory is the caller's (the stack), not the
 * scratch: a state change can come in a softirq that interrupted a socket
 * event on the same CPU.
 */
static __always_inline void hm_sock_end(struct hm_conn_key *key, struct hm_stats *delta)
{
	struct hm_config *cfg;
	struct hm_conn *c;
	__u32 zero = 0, epoch, gen;

	cfg = bpf_map_lookup_elem(&hm_config, &zero);
	c = bpf_map_lookup_elem(&hm_conns, key);
	if (!cfg || !c)
		return;
	epoch = cfg->epoch;
	gen = epoch & 1;
	if (c->client != HM_SIDE_UNKNOWN) {
		__builtin_memset(delta, 0, sizeof(*delta));
		if (hm_write_off(c, 0, 0, delta, gen))
			hm_rows_update(c, key, cfg, epoch, delta, HM_D_UNANS);
	}
	if (!bpf_map_delete_elem(&hm_conns, key))
		hm_count(gen, HM_MON_CONNS_CLOSED, 1);
}

#endif /* HM_SOCK_H */
