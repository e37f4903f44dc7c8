/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * hm_segment.h - one TCP segment through the stages, for any program type.
 *
 *   packet (hm_packet.h): one window copy, L2-L4 into struct hm_pkt
 *   -> port filter (hm_config)
 *   -> connection (hm_conn.h): lookup, or creation by a segment that starts
 *      an HTTP message; the sequence check
 *   -> framing (hm_http.h): the walk over the new bytes
 *   -> accounting (hm_account.h): the segment's delta added to its rows once
 *   -> FIN/RST bookkeeping.
 *
 * hm_segment() is always inlined into an entry point (httpmon.bpf.c) with
 * the context kind a constant, so each program holds only its own helpers.
 */
#ifndef HM_SEGMENT_H
#define HM_SEGMENT_H

#include "hm_conn.h"
#include "hm_http.h"

#define HM_MAX_STEPS 8192 /* walk steps per segment (~100 pipelined messages and more) */

/* The pointers one walk step needs. */
struct hm_walk {
	void *ctx;
	struct hm_scratch *s;
	struct hm_conn *c;
	struct hm_dir *d;
	struct hm_config *cfg;
};

/*
 * One step of the walk over a segment's new bytes: bodies by arithmetic,
 * the rest through the handler the state needs.  Returns 1 to stop.
 */
static __always_inline long hm_walk_step(struct hm_walk *w, enum hm_ctx_kind kind)
{
	struct hm_scratch *s = w->s;
	struct hm_conn *c = w->c;
	struct hm_dir *d = w->d;
	__u32 off = s->off, state = d->state;
	__u64 avail, n;
	int r;

	if (off >= s->end)
		return 1;
	avail = s->end - off;
	switch (state) {
	case HM_P_BODY:
	case HM_P_CHUNK_DATA:
		n = avail < d->remaining ? avail : d->remaining;
		s->off = off + n;
		d->remaining -= n;
		if (d->remaining)
			return 1;
		if (state == HM_P_BODY)
			hm_msg_end(s, c, d);
		else
			d->state = HM_P_CHUNK_CRLF;
		return s->off >= s->end;
	case HM_P_UNTIL_CLOSE:
		s->off = s->end;
		return 1;
	case HM_P_LOST:
		return 1;
	}

	if (off < s->win_off || off >= s->win_off + s->win_len)
		if (hm_win_load(w->ctx, kind, s, off, s->end))
			return 1;
	switch (state) {
	case HM_P_IDLE:
	case HM_P_START_READY:
		r = hm_h_start(s, c, w->cfg);
		break;
	case HM_P_TARGET:
		r = hm_h_target(s, c, w->cfg);
		break;
	case HM_P_LINE:
	case HM_P_HDR:
	case HM_P_HDR_SKIP:
	case HM_P_CHUNK_EXT:
	case HM_P_CHUNK_CRLF:
	case HM_P_TRAILER_SKIP:
		r = hm_h_lines(s, c, w->cfg);
		if (r == HM_STEP_HOST)
			r = hm_h_host(s, c, w->cfg);
		if (r == HM_STEP_BYTES)
			r = hm_h_bytes(s, c, w->cfg);
		break;
	default:
		r = hm_h_bytes(s, c, w->cfg);
	}
	/*
	 * A start line the byte grammar decided is taken now, also when the
	 * segment (or the read) ended with its deciding byte: its class is in
	 * s->cls, per-CPU scratch, which the next segment of the connection may
	 * not find there (another CPU, another connection's segment between).
	 */
	if (d->state == HM_P_START_READY)
		r = hm_h_start(s, c, w->cfg);
	/* A Host value the byte grammar read: named here, in a frame of its own (the stack). */
	if (d->state == HM_P_HOST_READY)
		hm_host_done(s, c, w->cfg);
	if (r == HM_STEP_LOAD && hm_win_load(w->ctx, kind, s, s->off, s->end))
		return 1;
	return r == HM_STEP_DONE || s->off >= s->end;
}

/*
 * The walk over new bytes [s->off, s->end) that side sent on connection c:
 * the one parse core of every source.  The caller set the position, the
 * sequence number of offset 0 (seq0), the acknowledgment and the clock; the
 * context kind says where the bytes are read from (a packet, a user
 * buffer).  Leaves the bytes that belonged to HTTP messages in s->bytes.
 */
static __always_inline void hm_stream(void *ctx, enum hm_ctx_kind kind, struct hm_scratch *s,
				      struct hm_conn *c, struct hm_config *cfg, __u32 side)
{
	struct hm_walk w;
	struct hm_dir *d;
	__u32 first;

	first = s->first = s->rmark = s->off;
	s->tg_len = 0;
	s->load_failed = 0;

	d = &c->dir[side & 1];
	/* A start line begun in an earlier segment: its bytes there count now. */
	s->carry = s->rcarry = d->state == HM_P_START ? d->start_len : 0;
	if (d->state == HM_P_LOST) {
		/* Framing was lost: a segment that starts a message resumes it. */
		d->state = HM_P_IDLE;
		d->flags |= HM_DF_PROBE;
	}
	w.ctx = ctx;
	w.s = s;
	w.c = c;
	w.d = d;
	w.cfg = cfg;
	/*
	 * The walk: each step parses, or moves the window, or changes the
	 * state, so it ends; HM_MAX_STEPS bounds it all the same.
	 */
	s->steps = 0;
	while (hm_loop) {
		if (hm_walk_step(&w, kind) || ++s->steps >= HM_MAX_STEPS)
			break;
	}
	if (s->off < s->end && d->state != HM_P_LOST)
		hm_lost(s, d, s->load_failed && kind == HM_CTX_USER ? HM_MON_SOCK_READ_FAILED :
								      HM_MON_PARSE_BUDGET);
	/*
	 * After a loss, framing resumes only at a segment that holds a whole
	 * start: one that ends undecided is more likely the middle of a body.
	 */
	if ((d->flags & HM_DF_PROBE) && d->state == HM_P_START)
		d->state = HM_P_LOST;
	/*
	 * The segment's HTTP bytes: all it parsed, and a start line finished
	 * here that began earlier, but not one that goes on in the next segment
	 * (it counts when it is taken).  Framing lost in or before this
	 * segment: its bytes still belong to the connection's messages (only
	 * not to a route).
	 */
	if (d->state == HM_P_LOST)
		s->bytes = s->end - first;
	else
		s->bytes = s->off - first + s->carry - (d->state == HM_P_START ? d->start_len : 0);
	d->flags &= ~HM_DF_PROBE;
	hm_route_flush(s, d); /* the rest of the message follows in later segments */
}

/*
 * Does the segment's payload, at packet offset off, start an HTTP message?
 * Only such a segment creates connection state, so non-HTTP flows and
 * connections joined mid-body cost one short look and no map entry.  A
 * segment too short to decide counts when it could be the beginning of a
 * start line ("GE" of a request line split by the sender).
 */
static __always_inline bool hm_starts_message(void *ctx, enum hm_ctx_kind kind,
					      struct hm_scratch *s, const struct hm_pkt *p)
{
	__u32 n = p->payload_end - p->payload_off, idx;

	if (n > HM_START_MAX)
		n = HM_START_MAX;
	if (p->payload_off + n > s->win_off + s->win_len &&
	    hm_win_load(ctx, kind, s, p->payload_off, p->payload_end))
		return false;
	if (p->payload_off < s->win_off)
		return false;
	idx = hm_win_idx(s, p->payload_off);
	*(__u64 *)&s->sb.b[0] = hm_load64(&s->win[idx]);
	*(__u64 *)&s->sb.b[8] = hm_load64(&s->win[idx + 8]);
	*(__u64 *)&s->sb.b[16] = hm_load64(&s->win[idx + 16]);
	hm_classify(&s->sb, n, &s->cls, s->gen ? HM_CLS_GEN1 : 0);
	return s->cls.kind != HM_MSG_NONE;
}

/* One segment, seen on interface ifindex at hook egress (0: ingress, 1: egress). */
static __always_inline void hm_segment(void *ctx, enum hm_ctx_kind kind, __u32 ifindex,
				       __u32 egress)
{
	struct hm_pkt p = {};
	struct hm_scratch *s;
	struct hm_config *cfg;
	struct hm_conn *c;
	__u32 zero = 0, side, plen, late = 0, pkt_len, seen = ifindex << 1 | (egress & 1);
	__s64 skip;
	bool ends = false;

	s = bpf_map_lookup_elem(&hm_scratch, &zero);
	cfg = bpf_map_lookup_elem(&hm_config, &zero);
	if (!s || !cfg)
		return;
	if (cfg->layout_version == 0)
		cfg->layout_version = HM_LAYOUT_VERSION; /* stamp for readers of a tc-loaded set */
	s->epoch = cfg->epoch;
	s->gen = s->epoch & 1;
	pkt_len = hm_ctx_len(ctx, kind);
	if (pkt_len <= ETH_HLEN || hm_win_load(ctx, kind, s, 0, pkt_len))
		return;
	if (hm_packet_parse(s, &p, pkt_len))
		return;
	plen = p.payload_end - p.payload_off;
	if (!plen && !p.fin && !p.rst)
		return; /* pure ACK or SYN */
	if ((cfg->flags & HM_CFG_PORT_FILTER) && !hm_port_watched(cfg, p.sport) &&
	    !hm_port_watched(cfg, p.dport))
		return;

	side = hm_conn_key_of(&p, &s->key);
	c = bpf_map_lookup_elem(&hm_conns, &s->key);
	if (!c) {
		if (!plen)
			return;
		if (!hm_starts_message(ctx, kind, s, &p)) {
			/* Not HTTP, or joined in the middle of a message: one short look, no state. */
			hm_count(s->gen, HM_MON_IGNORED_SEGMENTS, 1);
			return;
		}
		hm_conn_fresh(s, bpf_ktime_get_coarse_ns());
		s->fresh.ifindex = ifindex; /* the connection's rows: where it was first seen */
		c = hm_conn_create(s);
		if (!c)
			return;
	}
	__builtin_memset(&s->delta, 0, sizeof(s->delta));
	s->dmask = 0;
	s->now = 0;
	s->side = side;

	if (plen) {
		hm_count(s->gen, HM_MON_SEGMENTS, 1);
		skip = hm_conn_seq(s, c, side, &p, plen, seen, &late);
		if (skip < 0)
			goto close;
		c->last_seen = bpf_ktime_get_coarse_ns();
		hm_aging_arm(cfg); /* one read of a flag once the sweep is scheduled */
		s->seq0 = p.seq - p.payload_off;
		s->ack = p.ack;
		s->ack_ok = p.ack_ok;
		s->off = p.payload_off + skip;
		s->end = p.payload_end;
		s->port[0] = s->key.port[0];
		s->port[1] = s->key.port[1];
		hm_stream(ctx, kind, s, c, cfg, side);
		late += s->bytes;
	}
close:
	/* Bytes of this segment, and late ones that filled a gap: the connection's own. */
	hm_delta_bytes(s, c, side, late);
	if (p.fin || p.rst)
		ends = hm_conn_ends(s, c, &p, side);
	if (c->client != HM_SIDE_UNKNOWN && s->dmask)
		hm_rows_update(c, &s->key, cfg, s->epoch, &s->delta, s->dmask);
	if (ends && !bpf_map_delete_elem(&hm_conns, &s->key))
		hm_count(s->gen, HM_MON_CONNS_CLOSED, 1);
}

#endif /* HM_SEGMENT_H */
