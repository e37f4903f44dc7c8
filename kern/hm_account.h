/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * hm_account.h - stage 5: pairing responses with requests, and accounting.
 *
 * A segment's effect on its connection's rows (client, port, port/client,
 * interface) is collected in scratch (delta, with dmask naming the fields it
 * changed) and added once at the end of the segment, only those fields.
 * Routes and histograms are added to as their events happen.
 *
 * Rows are per-CPU arrays: no atomics on the hot path.  The connection finds
 * its row ids once per interval (hm_rows_find, hash lookups) and keeps them;
 * every segment then adds to array slots.  Everything is written to the
 * generation s->gen (httpmon.h, "Generations").
 */
#ifndef HM_ACCOUNT_H
#define HM_ACCOUNT_H

#include "hm_maps.h"

/* --- rows -------------------------------------------------------------------- */

/*
 * The id of key's row, a new one when the kind has room: the next of
 * hm_seq[HM_SEQ_ROW(gen, kind)] (an atomic add, once per key and interval),
 * else 0, the overflow row, and the kind's *_full counter says so.  A global
 * function: verified once for the four kinds.
 */
__noinline __u32 hm_row_id(struct hm_row_key *key, __u32 cap)
{
	struct hm_row_val *v, nv;
	__u32 slot, *seq;
	long err;

	if (!key)
		return 0;
	v = bpf_map_lookup_elem(&hm_row_ids, key);
	if (v)
		return v->id;
	slot = HM_SEQ_ROW(key->gen & 1, key->kind & 3);
	seq = bpf_map_lookup_elem(&hm_seq, &slot);
	if (!seq || *seq + 1 >= cap)
		goto full;
	nv.id = __sync_fetch_and_add(seq, 1) + 1;
	if (nv.id >= cap)
		goto full;
	err = bpf_map_update_elem(&hm_row_ids, key, &nv, BPF_NOEXIST);
	if (!err)
		return nv.id;
	if (err == -EEXIST) { /* another CPU named it first; our id stays unused */
		v = bpf_map_lookup_elem(&hm_row_ids, key);
		if (v)
			return v->id;
	}
full:
	hm_count(key->gen, HM_MON_CLIENTS_FULL + (key->kind & 3), 1);
	return 0;
}

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

/*
 * Finds the rows of connection c (key k) in generation gen of epoch, once
 * per connection and interval.  Needs the client side known.  A global
 * function, verified once: the caller sees one call.
 */
__noinline int hm_rows_find(struct hm_conn *c, struct hm_conn_key *k, struct hm_config *cfg,
			    __u32 epoch)
{
	struct hm_row_key key = {};
	__u32 gen = epoch & 1, port;

	if (!c || !k || !cfg || c->client == HM_SIDE_UNKNOWN)
		return 0;
	/* Branches, not k->addr[c->client]: a variable stack index does not verify. */
	if (c->client) {
		key.addr = k->addr[1];
		port = k->port[0];
	} else {
		key.addr = k->addr[0];
		port = k->port[1];
	}
	if (cfg->client_prefix4 || cfg->client_prefix6)
		hm_fold_client(&key.addr, cfg);
	key.gen = gen;
	key.kind = HM_ROW_CLIENT;
	c->row[HM_ROW_CLIENT] = hm_row_id(&key, HM_MAX_CLIENTS);
	key.kind = HM_ROW_PORT_CLIENT;
	key.port = port;
	c->row[HM_ROW_PORT_CLIENT] = hm_row_id(&key, HM_MAX_PORT_CLIENTS);
	__builtin_memset(&key.addr, 0, sizeof(key.addr));
	key.kind = HM_ROW_PORT;
	c->row[HM_ROW_PORT] = hm_row_id(&key, HM_MAX_PORTS);
#ifdef HM_PROC_ROWS
	/* The socket set has no interfaces: its fourth row is the connection's process. */
	c->proc.gen = gen;
	c->proc_row = hm_name_id(&hm_proc_ids, &c->proc, HM_SEQ_PROCS(gen), 1, HM_MAX_PROCS, gen,
				 HM_MON_PROCS_FULL);
#else
	key.kind = HM_ROW_IFACE;
	key.port = 0;
	key.ifindex = c->ifindex;
	c->row[HM_ROW_IFACE] = hm_row_id(&key, HM_MAX_IFACES);
#endif
	c->row_epoch = epoch;
	c->row_ok = 1;
	return 0;
}

static __always_inline void hm_lat_add(struct hm_latency *l, __u64 ns)
{
	if (l->count == 0 || ns < l->min_ns)
		l->min_ns = ns;
	if (ns > l->max_ns)
		l->max_ns = ns;
	l->count++;
	l->sum_ns += ns;
}

static __always_inline void hm_lat_merge(struct hm_latency *dst, const struct hm_latency *d)
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

/* Adds the fields of delta that dmask names to one row. */
static __always_inline void hm_row_add(void *map, __u32 idx, const struct hm_stats *d, __u32 mask)
{
	struct hm_stats *row = bpf_map_lookup_elem(map, &idx);

	if (!row)
		return;
	if (mask & HM_D_REQ)
		row->requests += d->requests;
	if (mask & HM_D_RESP) {
		row->responses += d->responses;
#pragma unroll
		for (int i = 0; i < HM_STATUS_CLASSES; i++)
			row->status[i] += d->status[i];
		hm_lat_merge(&row->lat_ok, &d->lat_ok);
		hm_lat_merge(&row->lat_fail, &d->lat_fail);
	}
	if (mask & HM_D_UNANS)
		row->unanswered += d->unanswered;
	if (mask & HM_D_LAST)
		hm_lat_merge(&row->lat_last, &d->lat_last);
	if (mask & HM_D_IN)
		row->bytes_in += d->bytes_in;
	if (mask & HM_D_OUT)
		row->bytes_out += d->bytes_out;
}

/* Adds a collected delta to the four rows of c, found for gen (hm_rows_find). */
static __always_inline void hm_rows_add(const struct hm_conn *c, __u32 gen,
					const struct hm_stats *d, __u32 mask)
{
	gen &= 1;
	if (!mask)
		return;
	hm_row_add(&hm_clients, gen * HM_MAX_CLIENTS + (c->row[HM_ROW_CLIENT] & (HM_MAX_CLIENTS - 1)),
		   d, mask);
	hm_row_add(&hm_ports, gen * HM_MAX_PORTS + (c->row[HM_ROW_PORT] & (HM_MAX_PORTS - 1)), d,
		   mask);
	hm_row_add(&hm_port_clients,
		   gen * HM_MAX_PORT_CLIENTS +
			   (c->row[HM_ROW_PORT_CLIENT] & (HM_MAX_PORT_CLIENTS - 1)),
		   d, mask);
#ifdef HM_PROC_ROWS
	hm_row_add(&hm_procs, gen * HM_MAX_PROCS + (c->proc_row & (HM_MAX_PROCS - 1)), d, mask);
#else
	hm_row_add(&hm_ifaces, gen * HM_MAX_IFACES + (c->row[HM_ROW_IFACE] & (HM_MAX_IFACES - 1)),
		   d, mask);
#endif
}

/*
 * Adds a delta to the rows of c (key k) in the generation of epoch, finding
 * them first when the connection has none for it yet.
 */
static __always_inline void hm_rows_update(struct hm_conn *c, struct hm_conn_key *k,
					   struct hm_config *cfg, __u32 epoch,
					   const struct hm_stats *d, __u32 mask)
{
	if (!c->row_ok || c->row_epoch != epoch)
		hm_rows_find(c, k, cfg, epoch);
	hm_rows_add(c, epoch & 1, d, mask);
}

/* The bytes side sent, on the delta: bytes_in when side is the client, else bytes_out. */
static __always_inline void hm_delta_bytes(struct hm_scratch *s, const struct hm_conn *c,
					   __u32 side, __u32 bytes)
{
	if (!bytes)
		return;
	if (c->client == side) {
		s->delta.bytes_in = bytes;
		s->dmask |= HM_D_IN;
	} else {
		s->delta.bytes_out = bytes;
		s->dmask |= HM_D_OUT;
	}
}

/* --- histograms and routes ------------------------------------------------------ */

static __always_inline void hm_hist_put(__u32 idx, __u32 b, __u64 ns)
{
	struct hm_hist *h = bpf_map_lookup_elem(&hm_hist, &idx);

	if (!h)
		return;
	h->count++;
	h->sum_ns += ns;
	if (b < HM_HIST_BUCKETS)
		h->buckets[b]++;
}

/*
 * One latency sample of family fam into generation gen's histograms of
 * three slots (slots: one per byte, low first): the bucket is found once.
 * A global function: verified once, not at every call site.
 */
__noinline int hm_hist_add(__u32 gen_fam, __u64 ns, __u32 slots)
{
	__u32 gen = gen_fam >> 8 & 1, fam = gen_fam & 1, b = hm_hist_bucket(ns);

#pragma unroll
	for (int i = 0; i < 3; i++)
		if ((slots >> (8 * i) & 0xff) < HM_HIST_SLOTS)
			hm_hist_put(HM_HIST_INDEX(gen, slots >> (8 * i) & 0xff, fam), b, ns);
	return 0;
}

#define HM_HOST_NOHIST 0xffff /* hm_sample: the sample has no host (HM_CFG_NO_HOSTS) */

/* A response's latency sample: its port row's, its route's and its host's histograms. */
static __always_inline void hm_sample(struct hm_scratch *s, const struct hm_conn *c, __u32 family,
				      __u64 ns, __u32 route, __u32 host)
{
	__u32 gen = s->gen & 1, port = c->row[HM_ROW_PORT], slots;

	_Static_assert(HM_HIST_SLOTS <= 256, "a histogram slot is one byte of hm_hist_add's slots");
	if (port >= 1 && port <= HM_HIST_PORTS) {
		slots = HM_HIST_PORT_FIRST + port - 1;
	} else {
		slots = HM_HIST_PORTS_OTHER;
		hm_count(gen, HM_MON_HIST_PORTS_FULL, 1);
	}
	if (route < HM_HIST_ROUTES) {
		slots |= (HM_HIST_ROUTE_FIRST + route) << 8;
	} else {
		slots |= HM_HIST_ROUTES_OTHER << 8;
		hm_count(gen, HM_MON_HIST_ROUTES_FULL, 1);
	}
	if (host == HM_HOST_NOHIST) {
		slots |= 0xffU << 16; /* no host rows: hm_hist_add skips it */
	} else if (host < HM_HIST_HOSTS) {
		slots |= (HM_HIST_HOST_FIRST + host) << 16;
	} else {
		slots |= HM_HIST_HOSTS_OTHER << 16;
		hm_count(gen, HM_MON_HIST_HOSTS_FULL, 1);
	}
	hm_hist_add(gen << 8 | family, ns, slots);
}

static __always_inline struct hm_stats *hm_route_row(__u32 gen, __u32 id)
{
	__u32 idx = (gen & 1) * HM_MAX_ROUTES + (id & (HM_MAX_ROUTES - 1));

	return bpf_map_lookup_elem(&hm_routes, &idx);
}

static __always_inline struct hm_stats *hm_host_row(__u32 gen, __u32 id)
{
	__u32 idx = (gen & 1) * HM_MAX_HOSTS + (id & (HM_MAX_HOSTS - 1));

	return bpf_map_lookup_elem(&hm_hosts, &idx);
}

static __always_inline struct hm_stats *hm_hr_row(__u32 gen, __u32 id)
{
	__u32 idx = (gen & 1) * HM_MAX_HOST_ROUTES + (id & (HM_MAX_HOST_ROUTES - 1));

	return bpf_map_lookup_elem(&hm_host_routes, &idx);
}

/*
 * The id of the host named in s->hkey: the connection's last one when the
 * name is the same, else from hm_host_ids (a new id on first sight).
 */
static __always_inline __u32 hm_host_id(struct hm_scratch *s, struct hm_conn *c,
					const struct hm_config *cfg)
{
	__u64 *k = (__u64 *)s->hkey.name, diff = 0;
	__u32 id;

#pragma unroll
	for (int i = 0; i < HM_HOST_LEN / 8; i++)
		diff |= k[i] ^ c->hn[i];
	if (!diff && c->hn_epoch == cfg->route_epoch + 1)
		return c->hn_id;
	id = hm_name_id(&hm_host_ids, &s->hkey, HM_SEQ_HOSTS, HM_HOST_FIRST, HM_MAX_HOSTS, s->gen,
			HM_MON_HOSTS_FULL);
#pragma unroll
	for (int i = 0; i < HM_HOST_LEN / 8; i++)
		c->hn[i] = k[i];
	/* _other is counted anew each time (hosts_full) */
	c->hn_epoch = id != HM_HOST_OTHER ? cfg->route_epoch + 1 : 0;
	c->hn_id = id;
	return id;
}

/* The id of the (host, route) pair: the connection's last one when it is the same. */
static __always_inline __u32 hm_pair_id(struct hm_scratch *s, struct hm_conn *c,
					const struct hm_config *cfg, __u32 host, __u32 route)
{
	__u32 key = host << 16 | (route & 0xffff), id;

	if (c->hr_epoch == cfg->route_epoch + 1 && c->hr_key == key)
		return c->hr_id;
	s->hrkey.host = host;
	s->hrkey.route = route;
	id = hm_name_id(&hm_hr_ids, &s->hrkey, HM_SEQ_HOST_ROUTES, HM_HOST_ROUTE_OTHER + 1,
			HM_MAX_HOST_ROUTES, s->gen, HM_MON_HOST_ROUTES_FULL);
	if (id != HM_HOST_ROUTE_OTHER) {
		c->hr_key = key;
		c->hr_id = id;
		c->hr_epoch = cfg->route_epoch + 1;
	}
	return id;
}

/* The clock of the segment: read once, when a latency needs it. */
static __always_inline __u64 hm_now(struct hm_scratch *s)
{
	if (!s->now)
		s->now = bpf_ktime_get_ns();
	return s->now;
}

static __always_inline void hm_row_bytes(struct hm_stats *row, struct hm_dir *d, __u32 n)
{
	if (!row)
		return;
	if (d->kind == HM_MSG_REQUEST)
		row->bytes_in += n;
	else
		row->bytes_out += n;
}

/*
 * Adds the current message's bytes so far to its route, and to its host and
 * (host, route) pair, once each is known: those kept from earlier segments
 * (d->rbytes, d->hbytes) and this segment's since s->rmark.  Until then they
 * are kept.
 */
static __always_inline void hm_route_flush(struct hm_scratch *s, struct hm_dir *d)
{
	__u32 n = s->off - s->rmark, r;

	s->rmark = s->off;
	r = d->rbytes + n;
	if (!(d->flags & HM_DF_ROUTED)) {
		d->rbytes = r;
	} else {
		d->rbytes = 0;
		if (r)
			hm_row_bytes(hm_route_row(s->gen, d->route), d, r);
	}
	r = d->hbytes + n;
	if (!d->labeled) {
		d->hbytes = r;
	} else {
		d->hbytes = 0;
		if (r) {
			hm_row_bytes(hm_host_row(s->gen, d->host), d, r);
			hm_row_bytes(hm_hr_row(s->gen, d->hr), d, r);
		}
	}
}

/*
 * A request's headers ended: its host is the Host header's, or _none, and
 * with its route that names its pair.  Both rows count it, and its slot
 * keeps them for the response.
 */
static __always_inline void hm_request_labeled(struct hm_scratch *s, struct hm_conn *c,
					       struct hm_dir *d, const struct hm_config *cfg)
{
	__u32 last = c->nreq - 1, host, route, hr;
	struct hm_pending *p = &c->ring[last & (HM_PIPELINE_DEPTH - 1)];
	struct hm_stats *row;

	if (cfg->flags & HM_CFG_NO_HOSTS)
		return;
	host = d->hseen ? d->host : HM_HOST_NONE;
	route = d->flags & HM_DF_ROUTED ? d->route : HM_ROUTE_UNKNOWN;
	hr = hm_pair_id(s, c, cfg, host, route);
	if (p->reqno == last) {
		p->host = host;
		p->hr = hr;
		p->flags |= HM_REQ_HOSTED;
	}
	d->host = host;
	d->hr = hr;
	d->labeled = 1;
	row = hm_host_row(s->gen, host);
	if (row)
		row->requests++;
	row = hm_hr_row(s->gen, hr);
	if (row)
		row->requests++;
	hm_route_flush(s, d);
}

/* A response's host and pair: those of the request it answers, or _unknown's. */
static __always_inline void hm_response_labels(struct hm_scratch *s, struct hm_conn *c,
					       struct hm_dir *d, const struct hm_config *cfg,
					       const struct hm_pending *p, bool known, __u32 route)
{
	if (cfg->flags & HM_CFG_NO_HOSTS) {
		d->labeled = 0;
		return;
	}
	if (known && (p->flags & HM_REQ_HOSTED)) {
		d->host = p->host;
		d->hr = p->hr;
	} else {
		d->host = HM_HOST_UNKNOWN;
		d->hr = hm_pair_id(s, c, cfg, HM_HOST_UNKNOWN, route);
	}
	d->labeled = 1;
}

/* A final response on one of the label rows (route, host, pair). */
static __always_inline void hm_label_response(struct hm_stats *row, __u32 cls, bool timed,
					      __u32 status, __u64 lat)
{
	if (!row)
		return;
	row->responses++;
	if (cls < HM_STATUS_CLASSES)
		row->status[cls]++;
	if (timed)
		hm_lat_add(status < 500 ? &row->lat_ok : &row->lat_fail, lat);
}

/* --- pairing ------------------------------------------------------------------------ */

/*
 * A request starts on side s->side of c (method id, rflags HM_REQ_*): it
 * takes the next slot of the ring.  Its route comes when its target ends.
 */
static __always_inline void hm_on_request(struct hm_scratch *s, struct hm_conn *c,
					  struct hm_dir *d, __u32 rflags)
{
	__u32 n = c->nreq;

	if (c->client == HM_SIDE_UNKNOWN)
		c->client = s->side;
	if (n != c->nresp)
		c->gap |= HM_GAP_PIPELINED;
	if (c->gap & HM_GAP_REQ) {
		/*
		 * Requests lost in a gap are answered before this one, so its
		 * response cannot be told from theirs.  Timing resumes when
		 * nothing is pending on a connection that never pipelined:
		 * such a client sends a request only after the previous
		 * response, so no unseen request can still be waiting.
		 */
		if (n == c->nresp && !(c->gap & HM_GAP_PIPELINED) &&
		    c->dir[(s->side ^ 1) & 1].state == HM_P_IDLE)
			c->gap &= ~HM_GAP_REQ;
		else
			rflags |= HM_REQ_UNTIMED;
	}
	/* Slot first, counter second: the response side reads nreq, then the slot. */
	if (n - c->nresp < HM_PIPELINE_DEPTH) {
		struct hm_pending *p = &c->ring[n & (HM_PIPELINE_DEPTH - 1)];

		p->ts = d->msg_ts;
		p->reqno = n;
		p->flags = rflags;
		p->seq = d->msg_seq;
	} else {
		hm_count(s->gen, HM_MON_PIPELINE_OVERFLOW, 1);
	}
	c->nreq = n + 1;
	s->delta.requests++;
	s->dmask |= HM_D_REQ;
}

/* A response with this status starts on side s->side of c. */
static __always_inline void hm_on_response(struct hm_scratch *s, struct hm_conn *c,
					   struct hm_dir *d, __u32 status,
					   const struct hm_config *cfg)
{
	__u32 route_epoch = cfg->route_epoch & 0xff;
	struct hm_stats *delta = &s->delta;
	struct hm_pending *p;
	__u32 n = c->nresp, cls = status / 100 - 1, route = HM_ROUTE_UNKNOWN;
	__u64 lat = 0;
	bool timed = false, known = false;

	if (c->client == HM_SIDE_UNKNOWN)
		c->client = s->side ^ 1;
	if (status == 204 || status == 304)
		d->flags |= HM_DF_NOBODY;
	d->req_ts = 0;
	p = &c->ring[n & (HM_PIPELINE_DEPTH - 1)];
	if (status < 200 && status != 101) {
		/*
		 * 100 Continue and friends: the final response is still to
		 * come.  Their bytes are the pending request's route's.
		 */
		known = (__s32)(c->nreq - n) > 0 && p->reqno == n && (p->flags & HM_REQ_ROUTED) &&
			p->route_epoch == route_epoch;
		d->flags |= HM_DF_NOBODY | HM_DF_ROUTED;
		d->route = known ? p->route : HM_ROUTE_UNKNOWN;
		hm_response_labels(s, c, d, cfg, p, known, d->route);
		hm_count(s->gen, HM_MON_INTERIM_RESPONSES, 1);
		return;
	}
	if (status == 101) {
		d->flags |= HM_DF_TUNNEL; /* after its headers, another protocol */
		c->tunnel = 1;
	}
	if ((__s32)(c->nreq - n) > 0 && p->reqno == n && d->msg_ack_ok &&
	    (__s32)(d->msg_ack - p->seq) <= 0) {
		/*
		 * The server sent this before it had received the first byte
		 * of request n (its ACK does not cover it): it answers a
		 * request the monitor never saw.
		 */
		hm_count(s->gen, HM_MON_EARLY_RESPONSES, 1);
		hm_count(s->gen, HM_MON_ORPHAN_RESPONSES, 1);
	} else if ((__s32)(c->nreq - n) <= 0) {
		/* Counted under the _unknown route only: the client rows pair requests. */
		hm_count(s->gen, HM_MON_ORPHAN_RESPONSES, 1);
	} else {
		if (p->reqno == n) {
			if (p->flags & HM_REQ_HEAD)
				d->flags |= HM_DF_NOBODY;
			if ((p->flags & HM_REQ_CONNECT) && status < 300) {
				d->flags |= HM_DF_TUNNEL;
				c->tunnel = 1;
			}
		}
		if (p->reqno == n && (p->flags & HM_REQ_UNTIMED)) {
			/* Possibly the answer to a request lost in a gap: counted, not timed. */
			hm_count(s->gen, HM_MON_GAP_UNTIMED, 1);
		} else if (p->reqno == n) {
			if ((p->flags & HM_REQ_ROUTED) && p->route_epoch == route_epoch) {
				route = p->route;
				known = true;
			}
			/* Clocks of two CPUs (or a write issued while its request's read returned). */
			lat = d->msg_ts > p->ts ? d->msg_ts - p->ts : 0;
			timed = true;
			hm_lat_add(status < 500 ? &delta->lat_ok : &delta->lat_fail, lat);
			d->req_ts = p->ts; /* for the last-byte latency when the response ends */
		}
		c->nresp = n + 1;
		delta->responses++;
		if (cls < HM_STATUS_CLASSES)
			delta->status[cls]++;
		s->dmask |= HM_D_RESP;
	}

	d->route = route;
	d->flags |= HM_DF_ROUTED;
	hm_response_labels(s, c, d, cfg, p, known, route);
	hm_label_response(hm_route_row(s->gen, route), cls, timed, status, lat);
	if (d->labeled) {
		hm_label_response(hm_host_row(s->gen, d->host), cls, timed, status, lat);
		hm_label_response(hm_hr_row(s->gen, d->hr), cls, timed, status, lat);
	}
	if (timed)
		hm_sample(s, c, HM_LAT_FIRST, lat, route, d->labeled ? d->host : HM_HOST_NOHIST);
}

/* A message ended where its framing said: a response's last byte is timed. */
static __always_inline void hm_msg_end(struct hm_scratch *s, struct hm_conn *c, struct hm_dir *d)
{
	struct hm_stats *row;
	__u64 lat;

	d->state = HM_P_IDLE;
	hm_route_flush(s, d);
	if (d->kind == HM_MSG_RESPONSE && d->req_ts) {
		lat = hm_now(s) - d->req_ts;
		hm_lat_add(&s->delta.lat_last, lat);
		s->dmask |= HM_D_LAST;
		row = hm_route_row(s->gen, d->route);
		if (row)
			hm_lat_add(&row->lat_last, lat);
		if (d->labeled) {
			row = hm_host_row(s->gen, d->host);
			if (row)
				hm_lat_add(&row->lat_last, lat);
			row = hm_hr_row(s->gen, d->hr);
			if (row)
				hm_lat_add(&row->lat_last, lat);
		}
		hm_sample(s, c, HM_LAT_LAST, lat, d->route, d->labeled ? d->host : HM_HOST_NOHIST);
		d->req_ts = 0;
	}
	d->flags &= ~HM_DF_ROUTED;
	d->labeled = 0;
}

/*
 * Writes pending requests off as unanswered, on delta (the connection's rows)
 * and their routes of generation gen, and returns how many.  With ack_ok,
 * only those the server had received (its ACK covers the request's first
 * byte) - the ones whose answer a gap in the responses may have held - and
 * the rest keep their place, so a later response is never paired with the
 * wrong request.  Without it, all of them: the connection ended or went
 * idle.  Advances nresp, which only the server side writes, or a caller
 * about to free the state.
 */
__noinline int hm_write_off(struct hm_conn *c, __u32 ack, __u32 ack_ok, struct hm_stats *delta,
			    __u32 gen)
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
				row = hm_route_row(gen, p->route);
				if (row)
					row->unanswered++;
			}
			if (p->flags & HM_REQ_HOSTED) {
				row = hm_host_row(gen, p->host);
				if (row)
					row->unanswered++;
				row = hm_hr_row(gen, p->hr);
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

#endif /* HM_ACCOUNT_H */
