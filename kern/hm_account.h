/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * hm_account.h - httpmon's bookkeeping: latency histograms, routes, operator
 * patterns and the per-CPU aggregate rows.  Independent of the program type;
 * included by httpmon.bpf.c after the maps.
 */
#ifndef HM_ACCOUNT_H
#define HM_ACCOUNT_H

/*
 * A global (not static) function is verified once on its own, with ns
 * unknown.  Inlined, the branches of the bucket computation would multiply
 * the verifier's states at every call site inside the bpf_loop callback.
 */
__noinline int hm_hist_add(struct hm_hist *h, __u64 ns)
{
	__u32 b = hm_hist_bucket(ns);

	if (!h)
		return 0;
	h->count++;
	h->sum_ns += ns;
	if (b < HM_HIST_BUCKETS)
		h->buckets[b]++;
	return 0;
}

/* Finds or creates the histogram of key in map; when the map is full, the overflow row. */
static __always_inline struct hm_hist *hm_hist_of(void *map, const void *key, struct hm_scratch *s,
						  __u32 ovf_row, __u32 family,
						  enum hm_monitor_counter full)
{
	struct hm_hist *h = bpf_map_lookup_elem(map, key);
	__u32 row;

	if (!h) {
		bpf_map_update_elem(map, key, &s->zero_hist, BPF_NOEXIST);
		h = bpf_map_lookup_elem(map, key);
	}
	if (!h) {
		hm_count(full, 1);
		row = ovf_row * HM_LAT_FAMILIES + family;
		h = bpf_map_lookup_elem(&hm_hist, &row);
	}
	return h;
}

/* One latency sample of the response being parsed: total, its port's and its route's histograms. */
static __always_inline void hm_sample(struct hm_walk *w, __u32 family, __u64 ns, __u32 route)
{
	struct hm_hist_route_key rk = { .route = route, .family = family };
	struct hm_hist_port_key pk = { .family = family };
	__u32 row = HM_HIST_ROW_TOTAL * HM_LAT_FAMILIES + family;

	hm_hist_add(bpf_map_lookup_elem(&hm_hist, &row), ns);
	pk.port = w->s->port[w->s->side & 1]; /* the response's sender is the server */
	hm_hist_add(hm_hist_of(&hm_hist_ports, &pk, w->s, HM_HIST_ROW_PORTS_OVF, family,
			       HM_MON_HIST_PORTS_FULL), ns);
	hm_hist_add(hm_hist_of(&hm_hist_routes, &rk, w->s, HM_HIST_ROW_ROUTES_OVF, family,
			       HM_MON_HIST_ROUTES_FULL), ns);
}

static __always_inline struct hm_stats *hm_route_row(__u32 id)
{
	return bpf_map_lookup_elem(&hm_routes, &id);
}

/*
 * The id of the route whose key is in s->rkey.  A new label takes the next
 * id (an atomic add on hm_route_seq, only on first sight of a label);
 * past the bound, or when the id map is full, it is counted as _other.
 */
static __always_inline __u32 hm_route_find(struct hm_walk *w)
{
	struct hm_route_key *key = &w->s->rkey;
	struct hm_route_val *v = bpf_map_lookup_elem(&hm_route_ids, key);
	struct hm_route_val nv;
	__u32 zero = 0, max, *seq;
	long err;

	if (v)
		return v->id;
	seq = bpf_map_lookup_elem(&hm_route_seq, &zero);
	if (!seq)
		return HM_ROUTE_OTHER;
	/* max_routes counts named routes: the ids past _other and _unknown. */
	max = w->cfg->max_routes;
	max = max && max < HM_MAX_ROUTES - HM_ROUTE_FIRST ? max + HM_ROUTE_FIRST : HM_MAX_ROUTES;
	if (*seq + HM_ROUTE_FIRST >= max)
		goto full;
	nv.id = __sync_fetch_and_add(seq, 1) + HM_ROUTE_FIRST;
	if (nv.id >= max)
		goto full;
	err = bpf_map_update_elem(&hm_route_ids, key, &nv, BPF_NOEXIST);
	if (!err)
		return nv.id;
	if (err == -EEXIST) { /* another CPU named it first; our id stays unused */
		v = bpf_map_lookup_elem(&hm_route_ids, key);
		if (v)
			return v->id;
	}
full:
	hm_count(HM_MON_ROUTES_FULL, 1);
	return HM_ROUTE_OTHER;
}

/*
 * Operator patterns, segment by segment: the path segment that just ended
 * (number rb->segs, hash rb->seg_hash) removes the patterns it does not
 * match from rb->pat_cand.  A global function: verified once, on its own.
 */
__noinline int hm_patterns_step(struct hm_route_build *rb, __u32 npatterns)
{
	__u32 idx;

	if (!rb || !rb->segs)
		return 0;
	idx = rb->segs - 1;
	for (__u32 i = 0; i < HM_MAX_PATTERNS && i < npatterns; i++) {
		struct hm_route_pattern *p;
		__u32 key = i, j = idx;

		if (!(rb->pat_cand & (1U << i)))
			continue;
		p = bpf_map_lookup_elem(&hm_route_pats, &key);
		if (!p || (idx >= p->nsegs && !p->prefix)) {
			rb->pat_cand &= ~(1U << i);
			continue;
		}
		if (idx >= p->nsegs || idx >= HM_PATTERN_SEGS || (p->wild & (1U << idx)))
			continue;
		/* Hide j's range from clang so the mask stays for the verifier. */
		asm volatile("" : "+r"(j));
		if (p->seg_hash[j & (HM_PATTERN_SEGS - 1)] != rb->seg_hash)
			rb->pat_cand &= ~(1U << i);
	}
	return 0;
}

/* The first pattern that matched the whole target: its label goes to key.  1 if any. */
__noinline int hm_patterns_match(struct hm_route_build *rb, struct hm_route_key *key)
{
	if (!rb || !key)
		return 0;
	for (__u32 i = 0; i < HM_MAX_PATTERNS; i++) {
		struct hm_route_pattern *p;
		__u32 k = i;

		if (!(rb->pat_cand & (1U << i)))
			continue;
		p = bpf_map_lookup_elem(&hm_route_pats, &k);
		if (!p || (p->method && p->method != rb->method))
			continue;
		if (p->prefix ? rb->segs >= p->nsegs : rb->segs == p->nsegs) {
			__builtin_memcpy(key->label, p->label, HM_ROUTE_LEN);
			return 1;
		}
	}
	return 0;
}

/* The segment being looked at, after the L2-L4 walk. */
struct hm_pkt {
	struct hm_addr src, dst;
	__u16 sport, dport;
	__u32 seq;
	__u32 ack;
	__u32 payload_off; /* packet offset of the TCP payload */
	__u32 payload_end; /* from the IP length: Ethernet padding excluded */
	__u8 fin, rst, ack_ok;
};

#define HM_VLAN_MAX 2     /* 802.1Q / 802.1ad tags followed in the packet */
#define HM_IPV6_EXT_MAX 8 /* IPv6 extension headers followed */

#define IPV6_NH_HOP 0
#define IPV6_NH_ROUTING 43
#define IPV6_NH_FRAGMENT 44
#define IPV6_NH_AH 51
#define IPV6_NH_NONE 59
#define IPV6_NH_DSTOPTS 60

static __always_inline bool hm_port_watched(struct hm_config *cfg, __u16 port)
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


static __always_inline void hm_latency_merge(struct hm_latency *dst, const struct hm_latency *d)
{
	if (!d->count)
		return;
	if (!dst->count || d->min_ns < dst->min_ns)
		dst->min_ns = d->min_ns;
	if (d->max_ns > dst->max_ns)
		dst->max_ns = d->max_ns;
	dst->count += d->count;
	dst->sum_ns += d->sum_ns;
}

static __always_inline void hm_stats_merge(struct hm_stats *dst, const struct hm_stats *d)
{
	dst->requests += d->requests;
	dst->responses += d->responses;
	dst->unanswered += d->unanswered;
#pragma unroll
	for (int i = 0; i < HM_STATUS_CLASSES; i++)
		dst->status[i] += d->status[i];
	hm_latency_merge(&dst->lat, &d->lat);
	hm_latency_merge(&dst->lat_ok, &d->lat_ok);
	hm_latency_merge(&dst->lat_fail, &d->lat_fail);
	hm_latency_merge(&dst->lat_last, &d->lat_last);
	dst->bytes_in += d->bytes_in;
	dst->bytes_out += d->bytes_out;
}

/*
 * Adds delta to one aggregate row.  A new key is inserted with delta itself
 * as its first value (per-CPU maps zero the other CPUs' copies).  When the map
 * is full the delta goes to the map's overflow row, so totals stay exact.
 */
static __always_inline void hm_row_add(void *map, const void *key, const struct hm_stats *delta,
				       __u32 ovf_row, enum hm_monitor_counter full)
{
	struct hm_stats *row = bpf_map_lookup_elem(map, key);
	long err;

	if (!row) {
		err = bpf_map_update_elem(map, key, delta, BPF_NOEXIST);
		if (!err)
			return;
		if (err == -EEXIST) /* inserted by another CPU meanwhile */
			row = bpf_map_lookup_elem(map, key);
		if (!row) {
			hm_count(full, 1);
			row = bpf_map_lookup_elem(&hm_overflow, &ovf_row);
			if (!row)
				return;
		}
	}
	hm_stats_merge(row, delta);
}

int hm_write_off(struct hm_conn *c, __u32 ack, __u32 ack_ok, struct hm_stats *delta);

/* Keeps the first bits of a 64-bit word stored in network order. */
static __always_inline __u64 hm_prefix_word(__u64 be_word, __u32 bits)
{
	__u64 mask = bits >= 64 ? ~0ULL : bits ? ~0ULL << (64 - bits) : 0;

	return bpf_cpu_to_be64(bpf_be64_to_cpu(be_word) & mask);
}

/* --client-prefix / --client-prefix6: fold a client address into its network. */
static __always_inline void hm_fold_client(struct hm_addr *a, const struct hm_config *cfg)
{
	__u64 w0, w1;
	__u32 bits;

	__builtin_memcpy(&w0, &a->a[0], 8);
	__builtin_memcpy(&w1, &a->a[8], 8);
	/* v4-mapped ::ffff:a.b.c.d: the IPv4 prefix starts 96 bits in. */
	if (!w0 && a->a[8] == 0 && a->a[9] == 0 && a->a[10] == 0xff && a->a[11] == 0xff)
		bits = cfg->client_prefix4 ? 96 + (cfg->client_prefix4 & 31) : 128;
	else
		bits = cfg->client_prefix6 ? cfg->client_prefix6 & 127 : 128;
	if (bits >= 128)
		return;
	w0 = hm_prefix_word(w0, bits);
	w1 = hm_prefix_word(w1, bits > 64 ? bits - 64 : 0);
	__builtin_memcpy(&a->a[0], &w0, 8);
	__builtin_memcpy(&a->a[8], &w1, 8);
}

static __always_inline void hm_account(const struct hm_conn_key *k, const struct hm_conn *c,
				       const struct hm_config *cfg, const struct hm_stats *delta,
				       __u32 ifindex)
{
	struct hm_iface_key ik = { .ifindex = ifindex };
	struct hm_port_client_key pck = {};
	struct hm_client_key ck = {};
	struct hm_port_key pk = {};
	/* Branches, not k->addr[c->client]: a variable stack index does not verify. */
	if (c->client) {
		ck.ip = k->addr[1];
		pk.port = k->port[0];
	} else {
		ck.ip = k->addr[0];
		pk.port = k->port[1];
	}
	if (cfg->client_prefix4 || cfg->client_prefix6)
		hm_fold_client(&ck.ip, cfg);
	pck.ip = ck.ip;
	pck.port = pk.port;
	hm_row_add(&hm_clients, &ck, delta, HM_OVF_CLIENTS, HM_MON_CLIENTS_FULL);
	hm_row_add(&hm_ports, &pk, delta, HM_OVF_PORTS, HM_MON_PORTS_FULL);
	hm_row_add(&hm_port_clients, &pck, delta, HM_OVF_PORT_CLIENTS, HM_MON_PORT_CLIENTS_FULL);
	hm_row_add(&hm_ifaces, &ik, delta, HM_OVF_IFACES, HM_MON_IFACES_FULL);
}

static __always_inline bool hm_delta_empty(const struct hm_stats *d)
{
	return !d->requests && !d->responses && !d->unanswered && !d->bytes_in &&
	       !d->bytes_out;
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
static __always_inline bool hm_conn_ends(struct hm_conn *c, const struct hm_pkt *p, __u32 side,
					 struct hm_stats *delta)
{
	struct hm_dir *me = &c->dir[side & 1], *peer = &c->dir[(side ^ 1) & 1];
	bool ends, settled;
	__u32 fins;

	if (p->rst) {
		hm_write_off(c, 0, 0, delta);
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
		hm_write_off(c, 0, 0, delta); /* nresp advances: counted once */
	return ends;
}

/*
 * Writes pending requests off as unanswered, on their rows (delta) and
 * routes, and returns how many.  With ack_ok, only those the server had
 * received (its ACK covers the request's first byte) - the ones whose answer
 * a gap in the responses may have held - and the rest keep their place, so a
 * later response is never paired with the wrong request.  Without it, all of
 * them: the connection ended or went idle.  Advances nresp, which only the
 * server side writes, or a caller about to free the state.
 */
__noinline int hm_write_off(struct hm_conn *c, __u32 ack, __u32 ack_ok, struct hm_stats *delta)
{
	__u32 n, k = 0;

	if (!c || !delta)
		return 0;
	n = c->nresp;
	for (__u32 i = 0; i < HM_PIPELINE_DEPTH; i++) {
		struct hm_pending *p = &c->ring[n & (HM_PIPELINE_DEPTH - 1)];
		struct hm_stats *row;

		if ((__s32)(c->nreq - n) <= 0)
			break;
		if (p->reqno == n) {
			if (ack_ok && (__s32)(ack - p->seq) <= 0)
				break; /* not received yet: its response is still to come */
			if (p->flags & HM_REQ_ROUTED) {
				row = hm_route_row(p->route);
				if (row)
					row->unanswered++;
			}
		}
		n++;
		k++;
	}
	/* Requests beyond the ring kept no sequence number: written off with the rest. */
	if (k == HM_PIPELINE_DEPTH && (__s32)(c->nreq - n) > 0) {
		k += c->nreq - n;
		n = c->nreq;
	}
	c->nresp = n;
	delta->unanswered += k;
	return k;
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
 * Idle connections (see HM_IDLE_TIMEOUT_DEFAULT).  A sweep visits every
 * connection; one idle for longer than the bound is freed, and its pending
 * requests are counted unanswered on its rows and routes.  A packet racing
 * with the sweep on a connection idle for exactly that long may see its
 * state freed under it; it is then treated as the start of a new one.
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
	__u32 zero = 0;
	__u32 pending;

	if ((__s64)(a->now - c->last_seen) < (__s64)a->idle_ns) {
		a->live++;
		return 0;
	}
	cfg = bpf_map_lookup_elem(&hm_config, &zero);
	if (cfg && c->client != HM_SIDE_UNKNOWN) {
		__builtin_memset(&a->delta, 0, sizeof(a->delta));
		pending = hm_write_off(c, 0, 0, &a->delta);
		if (pending) {
			hm_account(key, c, cfg, &a->delta, c->ifindex);
			hm_count(HM_MON_IDLE_UNANSWERED, pending);
		}
	}
	if (!bpf_map_delete_elem(&hm_conns, key))
		hm_count(HM_MON_CONNS_AGED, 1);
	return 0;
}

static int hm_aging_fire(void *map, __u32 *key, struct hm_aging *a)
{
	struct hm_sweep sw = { .a = a };
	__u32 zero = 0;

	/* From here on a new connection re-arms the timer itself. */
	a->armed = 0;
	a->idle_ns = hm_idle_ns(bpf_map_lookup_elem(&hm_config, &zero));
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
 * scheduled (after hm-load cancelled the timer, the next segment re-arms it).
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

#endif /* HM_ACCOUNT_H */
