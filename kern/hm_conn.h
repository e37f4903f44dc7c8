/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * hm_conn.h - stage 2: the connection.
 *
 * Its key (both endpoints in a canonical order), its state in hm_conns
 * (created only by a segment that starts an HTTP message), the sequence
 * check that skips retransmitted bytes and notices gaps, FIN and RST, and
 * the idle sweep that frees connections that went quiet.
 */
#ifndef HM_CONN_H
#define HM_CONN_H

#include "hm_account.h"
#include "hm_packet.h"

static __always_inline bool hm_port_watched(const struct hm_config *cfg, __u16 port)
{
	return cfg->ports[(port >> 6) & (HM_PORT_WORDS - 1)] & (1ULL << (port & 63));
}

/* Orders the endpoints so both directions share a key; returns the sender's side. */
static __always_inline __u32 hm_conn_key_of(const struct hm_pkt *p, struct hm_conn_key *k)
{
	__u64 s0, s1, d0, d1;
	bool src_first;

	__builtin_memcpy(&s0, &p->src.a[0], 8);
	__builtin_memcpy(&s1, &p->src.a[8], 8);
	__builtin_memcpy(&d0, &p->dst.a[0], 8);
	__builtin_memcpy(&d1, &p->dst.a[8], 8);
	/* Any total order works; this one compares raw words. */
	if (s0 != d0)
		src_first = s0 < d0;
	else if (s1 != d1)
		src_first = s1 < d1;
	else
		src_first = p->sport < p->dport;

	k->netns = 0;
	if (src_first) {
		k->addr[0] = p->src;
		k->addr[1] = p->dst;
		k->port[0] = p->sport;
		k->port[1] = p->dport;
		return 0;
	}
	k->addr[0] = p->dst;
	k->addr[1] = p->src;
	k->port[0] = p->dport;
	k->port[1] = p->sport;
	return 1;
}

/*
 * A new connection's initial state, built in scratch (s->fresh: it is too big
 * for the stack), last seen at now so the idle sweep cannot take it at once.
 * The caller adds what its source knows, then hm_conn_create() stores it.
 */
static __always_inline void hm_conn_fresh(struct hm_scratch *s, __u64 now)
{
	__builtin_memset(&s->fresh, 0, sizeof(s->fresh));
	s->fresh.client = HM_SIDE_UNKNOWN;
	s->fresh.last_seen = now;
}

/* Stores s->fresh as the state of connection s->key: the stored entry, or NULL (counted). */
static __always_inline struct hm_conn *hm_conn_create(struct hm_scratch *s)
{
	struct hm_conn *c;

	if (bpf_map_update_elem(&hm_conns, &s->key, &s->fresh, BPF_NOEXIST) &&
	    bpf_map_update_elem(&hm_conns, &s->key, &s->fresh, BPF_ANY)) {
		hm_count(s->gen, HM_MON_CONN_CREATE_FAILED, 1);
		return NULL;
	}
	c = bpf_map_lookup_elem(&hm_conns, &s->key);
	if (c)
		hm_count(s->gen, HM_MON_CONNS_OPENED, 1);
	return c;
}

/*
 * Bytes of [seq, seq + len) that fall in the direction's last gap: new bytes
 * that came late (reordered, or resent after a loss before the monitor).
 * They were not parsed - the framing went on without them - but they are
 * the connection's bytes all the same.  The hole shrinks by what arrived; a
 * piece from its middle leaves only the part before it open.
 */
static __always_inline __u32 hm_hole_fill(struct hm_dir *d, __u32 seq, __u32 len)
{
	__u32 start = d->hole_start, end = d->hole_end, lo, hi;

	if (start == end)
		return 0;
	lo = (__s32)(seq - start) > 0 ? seq : start;
	hi = (__s32)(seq + len - end) < 0 ? seq + len : end;
	if ((__s32)(hi - lo) <= 0)
		return 0;
	if (lo == start)
		d->hole_start = hi;
	else
		d->hole_end = lo;
	return hi - lo;
}

/*
 * The sequence check of a segment with plen payload bytes sent by side on
 * hook seen (ifindex << 1 | egress).  Returns how many of its first bytes
 * were seen before (to skip), or -1 when all of them were; *late is set to
 * the bytes that filled a gap (counted, not parsed).  A gap starts framing
 * over at the next message start, unless it lies inside a body.
 */
static __always_inline __s64 hm_conn_seq(struct hm_scratch *s, struct hm_conn *c, __u32 side,
					 const struct hm_pkt *p, __u32 plen, __u32 seen,
					 __u32 *late)
{
	struct hm_dir *d = &c->dir[side & 1], *peer = &c->dir[(side ^ 1) & 1];
	__s32 delta_seq;
	__u32 skip = 0;

	*late = 0;
	if (!d->seq_valid) {
		d->next_seq = p->seq;
		d->seq_valid = 1;
	}
	/*
	 * The peer's first byte the monitor will see is the one this segment
	 * acknowledges next: starting there, a lost first segment of the other
	 * direction shows as a gap.  The one write to the peer's parser, before
	 * its first segment; racing with that segment on another CPU only moves
	 * where the first gap check starts.
	 */
	if (!peer->seq_valid && p->ack_ok) {
		peer->next_seq = p->ack;
		peer->seq_valid = 1;
	}
	/* Serial-number arithmetic: wraps at 2^32 like TCP itself. */
	delta_seq = p->seq - d->next_seq;
	s->gap = delta_seq > 0;
	if (delta_seq < 0) {
		*late = hm_hole_fill(d, p->seq, plen);
		if (*late)
			hm_count(s->gen, HM_MON_HOLE_BYTES, *late);
		if ((__s64)plen + delta_seq <= 0) {
			if (*late) {
				hm_count(s->gen, HM_MON_RETRANS_BYTES, plen - *late);
			} else if (d->seen_at != seen) {
				/* The same segment at a second monitored hook. */
				hm_count(s->gen, HM_MON_REPEAT_SEGMENTS, 1);
			} else {
				hm_count(s->gen, HM_MON_RETRANS_SEGMENTS, 1);
				hm_count(s->gen, HM_MON_RETRANS_BYTES, plen);
			}
			return -1;
		}
		skip = -delta_seq; /* resent head of a segment with new bytes */
		hm_count(s->gen, HM_MON_RETRANS_BYTES, skip - *late);
	} else if (delta_seq > 0) {
		/*
		 * Bytes the monitor never saw; when they come (the
		 * retransmission, or a reordered segment) they are counted, not
		 * parsed (hm_hole_fill).
		 */
		hm_count(s->gen, HM_MON_SEQ_GAPS, 1);
		d->hole_start = d->next_seq;
		d->hole_end = p->seq;
		if (d->state == HM_P_UNTIL_CLOSE ||
		    ((d->state == HM_P_BODY || d->state == HM_P_CHUNK_DATA) &&
		     (__u64)delta_seq <= d->remaining)) {
			/* All inside the current body: no message can start in the
			 * gap, so the framing just moves past it. */
			if (d->state != HM_P_UNTIL_CLOSE)
				d->remaining -= delta_seq;
		} else {
			/* The framing resynchronises at a later message start. */
			d->state = HM_P_LOST;
			d->req_ts = 0;
			if (side == c->client) {
				c->gap |= HM_GAP_REQ;
			} else if (c->client != HM_SIDE_UNKNOWN) {
				__u32 k = hm_write_off(c, p->ack, p->ack_ok, &s->delta, s->gen);

				if (k) {
					s->dmask |= HM_D_UNANS;
					hm_count(s->gen, HM_MON_GAP_UNANSWERED, k);
				}
			}
		}
	}
	d->next_seq = p->seq + plen;
	d->seen_at = seen;
	return skip;
}

/*
 * FIN or RST; true when the connection's state can be freed.
 *
 * RST ends everything at once.  Requests still pending can no longer be
 * answered once the server sends FIN; a client's FIN (half-close) with
 * requests in flight waits for the server.  The state outlives the first
 * FIN: a segment lost after the monitor is sent again, and it must be
 * recognised as a retransmission, not taken for the start of a new
 * connection.  It is freed when both sides have sent FIN and neither can
 * send a data byte again; a connection that never gets there (a FIN lost
 * after the monitor, a peer that vanished) is left to the idle sweep.
 */
static __always_inline bool hm_conn_ends(struct hm_scratch *s, struct hm_conn *c,
					 const struct hm_pkt *p, __u32 side)
{
	struct hm_dir *me = &c->dir[side & 1], *peer = &c->dir[(side ^ 1) & 1];
	bool ends, settled;
	__u32 fins;

	if (p->rst) {
		if (hm_write_off(c, 0, 0, &s->delta, s->gen))
			s->dmask |= HM_D_UNANS;
		return true;
	}
	if (!me->fin) {
		me->fin = HM_FIN_SEEN | (p->ack_ok ? HM_FIN_ACK : 0);
		me->fin_seq = p->seq + (p->payload_end - p->payload_off);
		me->fin_ack = p->ack;
		/*
		 * FINs that cross are often handled at the same time on two
		 * CPUs: the atomic or (a full barrier) makes the second of
		 * them see the first, fin_seq and fin_ack included.
		 */
		fins = __sync_fetch_and_or(&c->fins, 1U << (side & 1));
	} else {
		fins = c->fins; /* a FIN sent again */
	}
	/*
	 * Either this FIN acknowledges the peer's, or the two crossed (each
	 * sent before the other arrived) and each acknowledges every data byte
	 * of the other: then only FINs can still be resent, and they carry no
	 * payload.
	 */
	ends = (fins & (1U << ((side ^ 1) & 1))) && p->ack_ok &&
	       ((__s32)(p->ack - (peer->fin_seq + 1)) >= 0 ||
		((__s32)(p->ack - peer->fin_seq) >= 0 && (peer->fin & HM_FIN_ACK) &&
		 (__s32)(peer->fin_ack - me->fin_seq) >= 0));
	/*
	 * The server's FIN ends the wait for answers only once every byte
	 * before it was seen: a FIN that overtook a lost segment is followed by
	 * that segment's retransmission, which may hold the answer.
	 */
	settled = !me->seq_valid || (__s32)(me->fin_seq - me->next_seq) <= 0;
	if (ends || (side != c->client && settled))
		if (hm_write_off(c, 0, 0, &s->delta, s->gen)) /* nresp advances: counted once */
			s->dmask |= HM_D_UNANS;
	return ends;
}

/*
 * Idle connections (see HM_IDLE_TIMEOUT_DEFAULT).  A sweep visits every
 * connection; one idle for longer than the bound is freed, and its pending
 * requests are counted unanswered on its rows and routes.  A packet racing
 * with the sweep on a connection idle for exactly that long may see its
 * state freed under it; it is then treated as the start of a new one.
 * last_seen is the coarse clock (cheap on the hot path): the bound is in
 * seconds.
 */
#define HM_CLOCK_MONOTONIC 1

static __always_inline __u64 hm_idle_ns(const struct hm_config *cfg)
{
	__u64 t = cfg ? cfg->idle_timeout : 0;

	if (!t)
		t = HM_IDLE_TIMEOUT_DEFAULT;
	if (t > HM_IDLE_TIMEOUT_MAX)
		t = HM_IDLE_TIMEOUT_MAX;
	return t * 1000000000ULL;
}

/* bpf_for_each_map_elem's context must live on the stack: it points to the map entry. */
struct hm_sweep {
	struct hm_aging *a;
};

static long hm_age_conn(void *map, struct hm_conn_key *key, struct hm_conn *c,
			struct hm_sweep *sw)
{
	struct hm_aging *a = sw->a;
	struct hm_config *cfg;
	__u32 zero = 0, pending;

	if ((__s64)(a->now - c->last_seen) < (__s64)a->idle_ns) {
		a->live++;
		return 0;
	}
	cfg = bpf_map_lookup_elem(&hm_config, &zero);
	if (cfg && c->client != HM_SIDE_UNKNOWN) {
		__builtin_memset(&a->delta, 0, sizeof(a->delta));
		pending = hm_write_off(c, 0, 0, &a->delta, a->gen);
		if (pending) {
			a->key = *key; /* writable: hm_rows_find takes memory */
			hm_rows_update(c, &a->key, cfg, a->epoch, &a->delta, HM_D_UNANS);
			hm_count(a->gen, HM_MON_IDLE_UNANSWERED, pending);
		}
	}
	if (!bpf_map_delete_elem(&hm_conns, key))
		hm_count(a->gen, HM_MON_CONNS_AGED, 1);
	return 0;
}

static int hm_aging_fire(void *map, __u32 *key, struct hm_aging *a)
{
	struct hm_sweep sw = { .a = a };
	struct hm_config *cfg;
	__u32 zero = 0;

	/* From here on a new connection re-arms the timer itself. */
	a->armed = 0;
	cfg = bpf_map_lookup_elem(&hm_config, &zero);
	a->idle_ns = hm_idle_ns(cfg);
	a->epoch = cfg ? cfg->epoch : 0;
	a->gen = a->epoch & 1;
	/* The precise clock: the coarse one is refused to hm_aging_kick (a syscall
	 * program); last_seen lags it by at most a tick, seconds here matter. */
	a->now = bpf_ktime_get_ns();
	a->live = 0;
	bpf_for_each_map_elem(&hm_conns, hm_age_conn, &sw, 0);
	/* Sweep again while state is left; an idle monitor stops ticking. */
	if (a->live && !__sync_val_compare_and_swap(&a->armed, 0, 1))
		bpf_timer_start(&a->timer, a->idle_ns / 2, 0);
	return 0;
}

/*
 * Called for every segment with connection state: makes sure a sweep is
 * scheduled (after hm-load cancelled the timer, hm_aging_kick or the next
 * segment re-arms it).
 */
static __always_inline void hm_aging_arm(const struct hm_config *cfg)
{
	struct hm_aging *a;
	__u32 zero = 0;

	a = bpf_map_lookup_elem(&hm_aging, &zero);
	if (!a || a->armed || __sync_val_compare_and_swap(&a->armed, 0, 1))
		return;
	bpf_timer_init(&a->timer, &hm_aging, HM_CLOCK_MONOTONIC); /* -EBUSY after the first */
	if (bpf_timer_set_callback(&a->timer, hm_aging_fire) ||
	    bpf_timer_start(&a->timer, hm_idle_ns(cfg) / 2, 0))
		a->armed = 0;
}

#endif /* HM_CONN_H */
