/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * hm_http.h - the HTTP/1.x framing core of httpmon.
 *
 * One direction of a TCP connection is a byte stream of messages: a start
 * line, header lines up to an empty line, then a body whose length is given
 * by Content-Length, by chunked transfer coding, or (responses only) by the
 * end of the connection.  The core walks the new bytes of one segment through
 * that grammar (struct hm_dir keeps the position between segments), so every
 * message is found wherever it starts and bodies are skipped by arithmetic,
 * never mistaken for messages.
 *
 * The walk runs under bpf_loop(): one step handles a whole body run, the rest
 * of a line up to LF, or a single byte where the grammar needs one (the start
 * line's first bytes, header names and numbers).  The callback is verified
 * once, whatever the number of steps.  Bytes are read through a per-CPU
 * window (hm_datapath.h fills it with bpf_skb_load_bytes() or
 * bpf_xdp_load_bytes(), which work on non-linear, GSO and multi-buffer
 * packets alike).  Nothing in this file depends on the program type.
 *
 * The includer provides hm_count(counter, n), hm_sample(walk, family, ns,
 * route) (a latency sample for the histograms), hm_route_row(id) (a route's
 * stats), hm_route_find(walk) (the id of the label in s->rkey),
 * hm_patterns_step() and hm_patterns_match() (operator patterns), and the
 * maps; struct hm_scratch
 * lives in a per-CPU array so the walk's big state stays off the 512-byte
 * stack.
 */
#ifndef HM_HTTP_H
#define HM_HTTP_H

#include "httpmon.h"
#include "hm_state.h"

#define HM_WIN 256          /* window bytes read per load; a power of two */
#define HM_LF_SPAN 24       /* bytes a step scans for LF (three words) */
#define HM_MAX_STEPS 8192   /* walk steps per segment (~100 pipelined messages) */
#define HM_MAX_CL (1ULL << 50)    /* larger Content-Length values are refused */
#define HM_MAX_CHUNK (1ULL << 40) /* larger chunk sizes are refused */

/* What hm_classify() made of a start line's first bytes. */
struct hm_cls {
	__u32 kind;   /* enum hm_msg_kind (HM_MSG_MORE: more bytes decide) */
	__u32 used;   /* bytes that are the start: a request's method and its space,
		       * or a response's HM_START_LEN */
	__u32 method; /* request: enum hm_method id */
	__u32 status; /* response: status code */
	__u32 rflags; /* request: HM_REQ_HEAD, HM_REQ_CONNECT */
	__u32 _pad;
};

struct hm_scratch {
	struct hm_stats delta; /* what this segment adds to its client's rows */
	struct hm_conn fresh;  /* initial value of a new connection */
	/*
	 * Position of the walk.  It lives in map memory, not on the stack, on
	 * purpose: the verifier does not track values in map memory, so every
	 * bpf_loop step starts from the same abstract state and the callback
	 * verifies in a few passes instead of once per possible offset.
	 */
	__u64 now;
	__u32 off;   /* next unparsed packet offset */
	__u32 end;   /* end of the TCP payload */
	__u32 bytes; /* payload bytes that belonged to HTTP messages */
	__u32 side;  /* side index of the sender */
	__u16 port[2]; /* TCP port of each side */
	__u32 seq0;    /* sequence number of packet offset 0 (seq of byte o: seq0 + o) */
	__u32 ack;     /* the segment's acknowledgment number */
	__u16 ack_ok;  /* ack is valid: the segment has the ACK flag */
	__u16 gap;     /* bytes before this segment were never seen */
	__u32 win_off; /* packet offset of win[0] */
	__u32 win_len; /* valid bytes in win */
	/* +32: fixed-size reads of up to 24 bytes at any masked index stay inside */
	__u8 win[HM_WIN + 32];
	struct hm_hist zero_hist; /* never written: initial value of a new histogram */
	struct hm_route_key rkey; /* key of the route being looked up */
	struct hm_cls cls;        /* the last start line classified (hm_classify) */
	struct hm_startb sb;      /* a new connection's first bytes, to classify */
};

/* The pointers one step needs; the bpf_loop context, on the caller's stack. */
struct hm_walk {
	void *ctx; /* struct __sk_buff or struct xdp_md: only hm_datapath.h reads packets */
	struct hm_scratch *s;
	struct hm_conn *conn;
	struct hm_dir *d;
	struct hm_config *cfg;
};

static __always_inline void hm_sample(struct hm_walk *w, __u32 family, __u64 ns, __u32 route);
static __always_inline struct hm_stats *hm_route_row(__u32 id);
static __always_inline __u32 hm_route_find(struct hm_walk *w);
int hm_patterns_step(struct hm_route_build *rb, __u32 npatterns);
int hm_patterns_match(struct hm_route_build *rb, struct hm_route_key *key);

/* Payload bytes of the current message: for the client's rows and the route's. */
static __always_inline void hm_consume(struct hm_walk *w, __u32 n)
{
	w->s->bytes += n;
	w->d->rbytes += n;
}

/* Adds the current message's bytes so far to its route, once that is known. */
static __always_inline void hm_route_flush(struct hm_walk *w)
{
	struct hm_dir *d = w->d;
	struct hm_stats *row;

	if (!(d->flags & HM_DF_ROUTED) || !d->rbytes)
		return;
	row = hm_route_row(d->route);
	if (row) {
		if (d->kind == HM_MSG_REQUEST)
			row->bytes_in += d->rbytes;
		else
			row->bytes_out += d->rbytes;
	}
	d->rbytes = 0;
}

/*
 * Header names matched byte by byte, lower case, as immediates (HM_C8:
 * 8 characters per word, first character in the low byte) rather than
 * strings, so the object has no .rodata and loads the same under tc and
 * libbpf.
 */
#define HM_HDR_CL_LEN 15 /* "content-length:" */
#define HM_HDR_TE_LEN 18 /* "transfer-encoding:" */
#define HM_CHUNKED_LEN 7 /* "chunked" */

static __always_inline __u8 hm_char_at(__u64 w0, __u64 w1, __u64 w2, __u32 pos)
{
	__u64 w = pos < 8 ? w0 : pos < 16 ? w1 : w2;

	return w >> ((pos & 7) * 8);
}

static __always_inline __u8 hm_hdr_cl_at(__u32 pos)
{
	return hm_char_at(HM_C8('c', 'o', 'n', 't', 'e', 'n', 't', '-'),
			  HM_C8('l', 'e', 'n', 'g', 't', 'h', ':', 0), 0, pos);
}

static __always_inline __u8 hm_hdr_te_at(__u32 pos)
{
	return hm_char_at(HM_C8('t', 'r', 'a', 'n', 's', 'f', 'e', 'r'),
			  HM_C8('-', 'e', 'n', 'c', 'o', 'd', 'i', 'n'),
			  HM_C8('g', ':', 0, 0, 0, 0, 0, 0), pos);
}

static __always_inline __u8 hm_chunked_at(__u32 pos)
{
	return hm_char_at(HM_C8('c', 'h', 'u', 'n', 'k', 'e', 'd', 0), 0, 0, pos);
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

/*
 * A word from memory as one 8-byte load: clang 14 compiles a memcpy into a
 * u64 as eight byte loads for BPF.  The verifier accepts unaligned loads
 * from map values; the userspace build (the fuzzer) uses memcpy, which is
 * one load there and defined for any alignment.
 */
static __always_inline __u64 hm_load64(const void *p)
{
#ifdef __bpf__
	return *(const __u64 *)p;
#else
	__u64 v;

	__builtin_memcpy(&v, p, sizeof(v));
	return v;
#endif
}

/* The first n (< 8) bytes of a little-endian word; n >= 8 keeps it whole. */
static __always_inline __u64 hm_keep(__u64 w, __s32 n)
{
	if (n <= 0)
		return 0;
	return n >= 8 ? w : w & ((1ULL << (n * 8)) - 1);
}

/* RFC 9110 tchar: the characters a method token is made of. */
static __always_inline bool hm_tchar(__u8 c)
{
	__u64 m = c < 64 ? 0x03ff6cfa00000000ULL : c < 128 ? 0x57ffffffc7fffffeULL : 0;

	return (m >> (c & 63)) & 1;
}

/*
 * A method token not in HM_METHOD_LIST: its id in hm_method_ids, a new one
 * when alloc is set and the table has room, else HM_METHOD_OTHER.
 */
static __always_inline __u32 hm_method_ext(__u64 t0, __u64 t1, __u64 t2, __u32 alloc)
{
	struct hm_method_key key;
	struct hm_route_val *v, nv;
	__u32 slot = HM_SEQ_METHODS, *seq;
	long err;

	__builtin_memcpy(&key.name[0], &t0, 8);
	__builtin_memcpy(&key.name[8], &t1, 8);
	__builtin_memcpy(&key.name[16], &t2, 8);
	v = bpf_map_lookup_elem(&hm_method_ids, &key);
	if (v)
		return v->id;
	if (!alloc)
		return HM_METHOD_OTHER;
	seq = bpf_map_lookup_elem(&hm_route_seq, &slot);
	if (!seq || *seq >= HM_MAX_EXT_METHODS)
		goto full;
	/* Ids are taken once per name while the map set exists: an atomic add. */
	nv.id = __sync_fetch_and_add(seq, 1) + HM_METHOD_EXT_FIRST;
	if (nv.id >= HM_METHOD_OTHER)
		goto full;
	err = bpf_map_update_elem(&hm_method_ids, &key, &nv, BPF_NOEXIST);
	if (!err)
		return nv.id;
	if (err == -EEXIST) { /* another CPU named it first; our id stays unused */
		v = bpf_map_lookup_elem(&hm_method_ids, &key);
		if (v)
			return v->id;
	}
full:
	hm_count(HM_MON_METHODS_FULL, 1);
	return HM_METHOD_OTHER;
}

/*
 * Classifies the first n bytes of a message (n <= HM_START_MAX) into out.
 *
 * A request is a method token - tchar, at most HM_METHOD_TOKEN_MAX of them -
 * and a space.  A token not in HM_METHOD_LIST must also be followed by an
 * origin-form ('/') or asterisk-form ('*') target: that keeps text protocols
 * that open with a word and a name ("EHLO mail.example") out, and "PRI",
 * the HTTP/2 connection preface, is never a method.  Methods are
 * case-sensitive (RFC 9110 9.1).  A response is "HTTP/1.0" or "HTTP/1.1",
 * a space, a status 100-599 and a space (or CR/LF from servers that omit
 * the reason phrase).  HM_MSG_MORE: the n bytes can begin either; more
 * bytes decide.  With alloc, a new extension method takes an id.
 *
 * A global function, verified once: it runs once per message, so its loop
 * over the token costs little, and inlined into the walk it would multiply
 * the verifier's states.
 */
__noinline int hm_classify(const struct hm_startb *sb, __u32 n, struct hm_cls *out, __u32 alloc)
{
	const __u64 http1 = HM_C8('H', 'T', 'T', 'P', '/', '1', '.', 0);
	__u64 t0, t1, t2, w;
	__u32 len = 0, i, method = HM_METHOD_NONE;
	const __u8 *b;

	if (!sb || !out)
		return 0;
	b = sb->b;
	out->kind = HM_MSG_NONE;
	out->used = 0;
	out->method = HM_METHOD_NONE;
	out->status = 0;
	out->rflags = 0;
	if (n == 0)
		return 0;
	if (n > HM_START_MAX)
		n = HM_START_MAX;
	w = hm_load64(b);

	/* "HTTP/1.": a status line, or the beginning of one. */
	if (!((w ^ http1) & hm_keep(~0ULL, n < 7 ? n : 7))) {
		if (n < HM_START_LEN) {
			out->kind = HM_MSG_MORE;
			return 0;
		}
		if ((b[7] != '0' && b[7] != '1') || b[8] != ' ' || b[9] < '1' || b[9] > '5' ||
		    b[10] < '0' || b[10] > '9' || b[11] < '0' || b[11] > '9' ||
		    (b[12] != ' ' && b[12] != '\r' && b[12] != '\n'))
			return 0;
		out->status = (b[9] - '0') * 100 + (b[10] - '0') * 10 + (b[11] - '0');
		out->used = HM_START_LEN;
		out->kind = HM_MSG_RESPONSE;
		return 0;
	}

	/* A method token: tchar up to the first space. */
	for (i = 0; i <= HM_METHOD_TOKEN_MAX; i++) {
		__u8 c;

		if (i >= n) {
			out->kind = HM_MSG_MORE;
			return 0;
		}
		c = b[i];
		if (c == ' ')
			break;
		if (!hm_tchar(c))
			return 0;
	}
	len = i;
	if (len == 0 || len > HM_METHOD_TOKEN_MAX)
		return 0;
	t0 = hm_keep(w, len);
	t1 = hm_keep(hm_load64(b + 8), len - 8);
	t2 = hm_keep(hm_load64(b + 16), len - 16);
#define HM_METHOD_MATCH(sym, name, l, word)                                             \
	if (len == (l) && t0 == (word) && t1 == ((l) > 8 ? HM_METHOD_LONG_TAIL : 0))   \
		method = HM_METHOD_##sym;
	HM_METHOD_LIST(HM_METHOD_MATCH)
#undef HM_METHOD_MATCH
	if (method == HM_METHOD_NONE) {
		if (len + 1 >= n) {
			out->kind = HM_MSG_MORE;
			return 0;
		}
		i = len + 1;
		if (i >= HM_START_MAX || (b[i] != '/' && b[i] != '*') ||
		    t0 == HM_C8('P', 'R', 'I', 0, 0, 0, 0, 0))
			return 0;
		method = hm_method_ext(t0, t1, t2, alloc);
	}
	if (method == HM_METHOD_HEAD)
		out->rflags = HM_REQ_HEAD;
	else if (method == HM_METHOD_CONNECT)
		out->rflags = HM_REQ_CONNECT;
	out->method = method;
	out->used = len + 1;
	out->kind = HM_MSG_REQUEST;
	return 0;
}

/* The current message's first byte is at packet offset off. */
static __always_inline void hm_msg_begins(struct hm_walk *w, __u32 off)
{
	struct hm_dir *d = w->d;

	d->msg_seq = w->s->seq0 + off;
	d->msg_ack = w->s->ack;
	d->msg_ack_ok = w->s->ack_ok;
}

static __always_inline void hm_lost(struct hm_dir *d, enum hm_monitor_counter why)
{
	hm_count(why, 1);
	d->state = HM_P_LOST;
}

/* Writes the 1-8 characters packed in word w (first character in the low byte). */
static __always_inline void hm_label_set(struct hm_route_build *rb, __u64 w, __u32 len)
{
	__builtin_memcpy(rb->label, &w, sizeof(w));
	rb->len = len;
}

static __always_inline void hm_label_put(struct hm_route_build *rb, __u8 c)
{
	if (rb->len >= HM_ROUTE_LEN) {
		rb->truncated = 1;
		return;
	}
	rb->label[rb->len & (HM_ROUTE_LEN - 1)] = c;
	rb->len++;
}

static __always_inline void hm_on_request(struct hm_walk *w, __u32 rflags, __u32 method)
{
	struct hm_conn *c = w->conn;
	struct hm_route_build *rb = &c->rb;
	struct hm_dir *d = w->d;
	__u32 n = c->nreq;

	if (c->client == HM_SIDE_UNKNOWN)
		c->client = w->s->side;
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
		    c->dir[(w->s->side ^ 1) & 1].state == HM_P_IDLE)
			c->gap &= ~HM_GAP_REQ;
		else
			rflags |= HM_REQ_UNTIMED;
	}
	/* Slot first, counter second: the response side reads nreq, then the slot. */
	if (n - c->nresp < HM_PIPELINE_DEPTH) {
		struct hm_pending *p = &c->ring[n & (HM_PIPELINE_DEPTH - 1)];

		p->ts = w->s->now;
		p->reqno = n;
		p->flags = rflags;
		p->seq = d->msg_seq;
	} else {
		hm_count(HM_MON_PIPELINE_OVERFLOW, 1);
	}
	c->nreq = n + 1;
	w->s->delta.requests++;

	/* The target starts right after "METHOD ": the next byte of the stream. */
	__builtin_memset(rb, 0, sizeof(*rb));
	rb->method = method;
	rb->pat_cand = (1U << (w->cfg->npatterns & 15)) - 1;
	if (w->cfg->npatterns >= HM_MAX_PATTERNS)
		rb->pat_cand = 0xffff;
	rb->qpos = 0xff;
	d->state = HM_P_TARGET;
}

static __always_inline void hm_on_response(struct hm_walk *w, __u32 status)
{
	struct hm_conn *c = w->conn;
	struct hm_dir *d = w->d;
	struct hm_stats *delta = &w->s->delta, *row;
	struct hm_pending *p;
	__u32 n = c->nresp, cls = status / 100 - 1, route = HM_ROUTE_UNKNOWN;
	__u64 lat = 0;
	bool timed = false;

	if (c->client == HM_SIDE_UNKNOWN)
		c->client = w->s->side ^ 1;
	if (status == 204 || status == 304)
		d->flags |= HM_DF_NOBODY;
	d->req_ts = 0;
	p = &c->ring[n & (HM_PIPELINE_DEPTH - 1)];
	if (status < 200 && status != 101) {
		/*
		 * 100 Continue and friends: the final response is still to
		 * come.  Their bytes are the pending request's route's.
		 */
		d->flags |= HM_DF_NOBODY | HM_DF_ROUTED;
		d->route = (__s32)(c->nreq - n) > 0 && p->reqno == n &&
					   (p->flags & HM_REQ_ROUTED) ?
				   p->route :
				   HM_ROUTE_UNKNOWN;
		hm_count(HM_MON_INTERIM_RESPONSES, 1);
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
		hm_count(HM_MON_EARLY_RESPONSES, 1);
		hm_count(HM_MON_ORPHAN_RESPONSES, 1);
	} else if ((__s32)(c->nreq - n) <= 0) {
		/* Counted under the _unknown route only: the client rows pair requests. */
		hm_count(HM_MON_ORPHAN_RESPONSES, 1);
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
			hm_count(HM_MON_GAP_UNTIMED, 1);
		} else if (p->reqno == n) {
			if (p->flags & HM_REQ_ROUTED)
				route = p->route;
			lat = w->s->now - p->ts;
			timed = true;
			hm_lat_add(&delta->lat, lat);
			hm_lat_add(status < 500 ? &delta->lat_ok : &delta->lat_fail, lat);
			d->req_ts = p->ts; /* for the last-byte latency when the response ends */
		}
		c->nresp = n + 1;
		delta->responses++;
		if (cls < HM_STATUS_CLASSES)
			delta->status[cls]++;
	}

	d->route = route;
	d->flags |= HM_DF_ROUTED;
	row = hm_route_row(route);
	if (row) {
		row->responses++;
		if (cls < HM_STATUS_CLASSES)
			row->status[cls]++;
		if (timed) {
			hm_lat_add(&row->lat, lat);
			hm_lat_add(status < 500 ? &row->lat_ok : &row->lat_fail, lat);
		}
	}
	if (timed)
		hm_sample(w, HM_LAT_FIRST, lat, route);
}

/*
 * The first n bytes of a start line were classified (w->s->cls); they are
 * taken as the message's.  A request's target follows its method's space.
 */
static __always_inline void hm_start_done(struct hm_walk *w, __u32 n)
{
	struct hm_cls *cls = &w->s->cls;
	struct hm_dir *d = w->d;
	__u32 kind = cls->kind;

	if (kind != HM_MSG_REQUEST && kind != HM_MSG_RESPONSE) {
		/* After a loss this was only a probe of a segment start. */
		if (!(d->flags & HM_DF_PROBE))
			hm_count(HM_MON_UNPARSEABLE, 1);
		d->state = HM_P_LOST;
		return;
	}
	/* A request right where a gap ended: the client sent it without waiting. */
	if ((d->flags & HM_DF_PROBE) && kind == HM_MSG_REQUEST && w->s->gap)
		w->conn->gap |= HM_GAP_PIPELINED;
	d->kind = kind;
	d->flags = 0;
	d->cl = 0;
	d->rbytes = 0;
	d->line_len = 0;
	d->tpend = 0;
	hm_consume(w, n);
	if (kind == HM_MSG_REQUEST) {
		hm_on_request(w, cls->rflags, cls->method);
	} else {
		/* Only "HTTP/1.1 200\n" can hold its LF within the first 13 bytes. */
		d->state = d->start.b[HM_START_LEN - 1] == '\n' ? HM_P_HDR : HM_P_LINE;
		hm_on_response(w, cls->status);
	}
	hm_route_flush(w);
}

/*
 * Path segments that are identifiers rather than names: all digits, a UUID,
 * or 16+ hex digits with at least one digit.  They become "{id}".
 */
static __always_inline bool hm_seg_is_id(const struct hm_route_build *rb)
{
	__u8 f = rb->seg_flags;

	return (f & HM_SEG_DIGITS) || ((f & HM_SEG_UUID) && rb->seg_len == 36) ||
	       ((f & HM_SEG_HEX) && (f & HM_SEG_HASDIG) && rb->seg_len >= 16);
}

static __always_inline void hm_seg_end(struct hm_walk *w)
{
	struct hm_route_build *rb = &w->conn->rb;
	__u32 depth = w->cfg->route_depth ? w->cfg->route_depth : HM_ROUTE_DEPTH_DEFAULT;

	if (!(rb->seg_flags & HM_SEG_OPEN))
		return;
	rb->seg_flags &= ~HM_SEG_OPEN;
	if (w->cfg->route_mode == HM_ROUTE_PATH && rb->segs <= depth && hm_seg_is_id(rb)) {
		rb->len = rb->seg_start;
		hm_label_put(rb, '{');
		hm_label_put(rb, 'i');
		hm_label_put(rb, 'd');
		hm_label_put(rb, '}');
	}
	if (rb->pat_cand)
		hm_patterns_step(rb, w->cfg->npatterns);
}

static __always_inline void hm_seg_byte(struct hm_walk *w, __u8 c)
{
	struct hm_route_build *rb = &w->conn->rb;
	__u32 depth = w->cfg->route_depth ? w->cfg->route_depth : HM_ROUTE_DEPTH_DEFAULT;
	bool hex = (c >= '0' && c <= '9') || ((c | 0x20) >= 'a' && (c | 0x20) <= 'f');
	__u32 pos = rb->seg_len;
	bool keep = w->cfg->route_mode == HM_ROUTE_PATH;

	if (!(rb->seg_flags & HM_SEG_OPEN)) {
		if (rb->segs < 255)
			rb->segs++;
		rb->seg_flags = HM_SEG_OPEN | HM_SEG_DIGITS | HM_SEG_HEX | HM_SEG_UUID;
		rb->seg_len = 0;
		rb->seg_hash = HM_FNV_OFFSET;
		pos = 0;
		if (keep && rb->segs <= depth) {
			hm_label_put(rb, '/');
			rb->seg_start = rb->len;
		}
	}
	rb->seg_hash = hm_fnv1a_byte(rb->seg_hash, c);
	if (c < '0' || c > '9')
		rb->seg_flags &= ~HM_SEG_DIGITS;
	else
		rb->seg_flags |= HM_SEG_HASDIG;
	if (!hex)
		rb->seg_flags &= ~HM_SEG_HEX;
	if ((pos == 8 || pos == 13 || pos == 18 || pos == 23) ? c != '-' : !hex)
		rb->seg_flags &= ~HM_SEG_UUID;
	if (rb->seg_len < 255)
		rb->seg_len++;
	if (keep && rb->segs <= depth)
		hm_label_put(rb, c);
}

/* query:NAME mode: the value of the last NAME=value parameter becomes the label. */
static __always_inline void hm_query_byte(struct hm_walk *w, __u8 c)
{
	struct hm_route_build *rb = &w->conn->rb;
	struct hm_config *cfg = w->cfg;
	__u32 qpos = rb->qpos;

	if (cfg->route_mode != HM_ROUTE_QUERY)
		return;
	if (c == '&') {
		rb->qcap = 0;
		rb->qpos = 0;
	} else if (rb->qcap) {
		hm_label_put(rb, c);
	} else if (qpos < cfg->query_len && qpos < HM_QUERY_NAME_LEN &&
		   c == (__u8)cfg->query_name[qpos & (HM_QUERY_NAME_LEN - 1)]) {
		rb->qpos = qpos + 1;
	} else if (qpos == cfg->query_len && c == '=') {
		rb->qcap = 1; /* a later occurrence replaces an earlier one */
		rb->captured = 1;
		rb->len = 0;
		rb->truncated = 0;
		rb->qpos = 0xff;
	} else {
		rb->qpos = 0xff;
	}
}

/* The label of a finished target goes to s->rkey; returns its route id. */
static __always_inline __u32 hm_route_of_target(struct hm_walk *w)
{
	struct hm_route_build *rb = &w->conn->rb;
	struct hm_route_key *key = &w->s->rkey;
	__u32 mode = w->cfg->route_mode, len;
	__u64 word;

	hm_seg_end(w);
	__builtin_memset(key, 0, sizeof(*key));
	key->method = rb->method;
	if (rb->truncated)
		hm_count(HM_MON_ROUTE_TRUNCATED, 1);
	if (rb->pat_cand && hm_patterns_match(rb, key))
		return hm_route_find(w);

	if (rb->special == HM_SPECIAL_STAR)
		hm_label_set(rb, HM_C8('*', 0, 0, 0, 0, 0, 0, 0), 1);
	else if (rb->special == HM_SPECIAL_CONNECT)
		hm_label_set(rb, HM_C8('_', 'c', 'o', 'n', 'n', 'e', 'c', 't'), 8);
	else if (mode == HM_ROUTE_NONE)
		hm_label_set(rb, HM_C8('_', 'a', 'l', 'l', 0, 0, 0, 0), 4);
	else if (mode == HM_ROUTE_QUERY && (!rb->captured || !rb->len)) {
		hm_label_set(rb, HM_C8('_', 'u', 'n', 's', 'p', 'e', 'c', 'i'), 8);
		hm_label_put(rb, 'f');
		hm_label_put(rb, 'i');
		hm_label_put(rb, 'e');
		hm_label_put(rb, 'd');
	} else if (mode == HM_ROUTE_PATH && !rb->len)
		hm_label_set(rb, HM_C8('/', 0, 0, 0, 0, 0, 0, 0), 1);

	/* Copy the label a word at a time, zeroing what lies past its length. */
	len = rb->len;
#pragma unroll
	for (int i = 0; i < HM_ROUTE_LEN / 8; i++) {
		if (i * 8 >= len)
			break;
		__builtin_memcpy(&word, &rb->label[i * 8], 8);
		if (len - i * 8 < 8)
			word &= (1ULL << ((len - i * 8) * 8)) - 1; /* little endian */
		__builtin_memcpy(&key->label[i * 8], &word, 8);
	}
	return hm_route_find(w);
}

/* The request target ended (the space before "HTTP/1.x"): its route is known. */
static __always_inline void hm_target_done(struct hm_walk *w)
{
	struct hm_conn *c = w->conn;
	struct hm_dir *d = w->d;
	__u32 id = hm_route_of_target(w), last = c->nreq - 1;
	struct hm_pending *p = &c->ring[last & (HM_PIPELINE_DEPTH - 1)];
	struct hm_stats *row;

	if (p->reqno == last) {
		p->route = id;
		p->flags |= HM_REQ_ROUTED;
	}
	d->route = id;
	d->flags |= HM_DF_ROUTED;
	row = hm_route_row(id);
	if (row)
		row->requests++;
	hm_route_flush(w);
	d->state = HM_P_LINE;
}

/* One byte of the request target (origin-form, absolute-form, * or authority). */
static __always_inline void hm_target_byte(struct hm_walk *w, __u8 c)
{
	struct hm_route_build *rb = &w->conn->rb;

	if (c == ' ' || c == '\r' || c == '\n') {
		hm_target_done(w);
		if (c == '\n')
			w->d->state = HM_P_HDR; /* HTTP/0.9-style line: no version */
		return;
	}
	switch (rb->phase) {
	case HM_TGT_START:
		if (c == '/') {
			rb->phase = HM_TGT_PATH;
		} else if (c == '*') {
			rb->special = HM_SPECIAL_STAR;
			rb->phase = HM_TGT_SKIP;
		} else if (rb->method == HM_METHOD_CONNECT) {
			rb->special = HM_SPECIAL_CONNECT;
			rb->phase = HM_TGT_SKIP;
		} else {
			rb->phase = HM_TGT_ABS; /* http://host/path: the third slash starts the path */
		}
		break;
	case HM_TGT_ABS:
		if (c == '/' && ++rb->slashes == 3)
			rb->phase = HM_TGT_PATH;
		break;
	case HM_TGT_PATH:
		if (c == '/') {
			hm_seg_end(w);
		} else if (c == '?') {
			hm_seg_end(w);
			rb->phase = HM_TGT_QUERY;
			rb->qpos = 0;
		} else if (c == '#') {
			hm_seg_end(w);
			rb->phase = HM_TGT_SKIP;
		} else {
			hm_seg_byte(w, c);
		}
		break;
	case HM_TGT_QUERY:
		if (c == '#') {
			rb->qcap = 0;
			rb->phase = HM_TGT_SKIP;
		} else {
			hm_query_byte(w, c);
		}
		break;
	}
}

/* A message ended where its framing said: a response's last byte is timed. */
static __always_inline void hm_msg_end(struct hm_walk *w)
{
	struct hm_dir *d = w->d;
	struct hm_stats *row;
	__u64 lat;

	d->state = HM_P_IDLE;
	hm_route_flush(w);
	if (d->kind == HM_MSG_RESPONSE && d->req_ts) {
		lat = w->s->now - d->req_ts;
		hm_lat_add(&w->s->delta.lat_last, lat);
		row = hm_route_row(d->route);
		if (row)
			hm_lat_add(&row->lat_last, lat);
		hm_sample(w, HM_LAT_LAST, lat, d->route);
		d->req_ts = 0;
	}
	d->flags &= ~HM_DF_ROUTED;
}

static __always_inline void hm_headers_done(struct hm_walk *w)
{
	struct hm_dir *d = w->d;
	__u8 flags = d->flags;

	if (flags & HM_DF_BAD)
		return hm_lost(d, HM_MON_BAD_LENGTH);
	d->acc = 0;
	d->flags = flags & ~HM_DF_DIGITS;
	if (d->kind == HM_MSG_RESPONSE && (flags & HM_DF_NOBODY)) {
		hm_msg_end(w);
	} else if (d->kind == HM_MSG_RESPONSE && (flags & HM_DF_TUNNEL)) {
		d->state = HM_P_UNTIL_CLOSE;
	} else if (flags & HM_DF_CHUNKED) {
		/* RFC 9112 6.3: chunked wins over a Content-Length, which is suspect. */
		if (flags & HM_DF_CL)
			hm_count(HM_MON_TE_AND_CL, 1);
		d->state = HM_P_CHUNK_SIZE;
	} else if (flags & HM_DF_CL) {
		d->remaining = d->cl;
		if (d->cl)
			d->state = HM_P_BODY;
		else
			hm_msg_end(w);
	} else if (d->kind == HM_MSG_REQUEST) {
		hm_msg_end(w);
	} else {
		d->state = HM_P_UNTIL_CLOSE; /* ends with the connection: no last-byte time */
	}
}

static __always_inline void hm_chunk_size_done(struct hm_dir *d)
{
	if (!(d->flags & HM_DF_DIGITS))
		return hm_lost(d, HM_MON_BAD_LENGTH);
	if (d->acc == 0) {
		d->state = HM_P_TRAILER;
		return;
	}
	d->remaining = d->acc;
	d->state = HM_P_CHUNK_DATA;
}

static __always_inline int hm_hexval(__u8 c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	c |= 0x20;
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

static __always_inline __u8 hm_lower(__u8 c)
{
	return c >= 'A' && c <= 'Z' ? c | 0x20 : c;
}

/* States that only look for the LF ending the current line. */
static __always_inline bool hm_to_lf_state(__u8 state)
{
	return state == HM_P_LINE || state == HM_P_HDR_SKIP ||
	       state == HM_P_CHUNK_EXT || state == HM_P_CHUNK_CRLF ||
	       state == HM_P_TRAILER_SKIP;
}

/* A line ended (LF consumed) in one of the hm_to_lf_state() states. */
static __always_inline void hm_line_done(struct hm_dir *d)
{
	d->line_len = 0;
	switch (d->state) {
	case HM_P_LINE:
	case HM_P_HDR_SKIP:
		d->state = HM_P_HDR;
		break;
	case HM_P_CHUNK_EXT:
		hm_chunk_size_done(d);
		break;
	case HM_P_CHUNK_CRLF:
		d->acc = 0;
		d->flags &= ~HM_DF_DIGITS;
		d->state = HM_P_CHUNK_SIZE;
		break;
	case HM_P_TRAILER_SKIP:
		d->state = HM_P_TRAILER;
		break;
	}
}

/*
 * One grammar byte in a byte-level state.  Returns 1 when the byte went to a
 * start line being collected (it straddles segments): the caller classifies
 * what is there.
 */
static __always_inline int hm_byte(struct hm_walk *w, __u8 c)
{
	struct hm_dir *d = w->d;
	__u8 lc = hm_lower(c);
	int v;

	/* Start-line bytes count once the message is recognised. */
	if (d->state != HM_P_IDLE && d->state != HM_P_START)
		hm_consume(w, 1);
	switch (d->state) {
	case HM_P_HDR:
		if (c == '\r') {
			d->state = HM_P_HDR_END;
		} else if (c == '\n') {
			hm_headers_done(w);
		} else {
			d->hcand = (lc == 'c' ? 1 : 0) | (lc == 't' ? 2 : 0);
			d->hpos = 1;
			d->line_len = 1;
			d->state = d->hcand ? HM_P_HDR_NAME : HM_P_HDR_SKIP;
		}
		break;
	case HM_P_HDR_NAME: {
		__u32 pos = d->hpos;

		if (c == '\n') {
			d->state = HM_P_HDR;
			break;
		}
		if ((d->hcand & 1) && (pos >= HM_HDR_CL_LEN || lc != hm_hdr_cl_at(pos)))
			d->hcand &= ~1;
		if ((d->hcand & 2) && (pos >= HM_HDR_TE_LEN || lc != hm_hdr_te_at(pos)))
			d->hcand &= ~2;
		d->hpos = ++pos;
		d->line_len = pos;
		if ((d->hcand & 1) && pos == HM_HDR_CL_LEN) {
			d->acc = 0;
			d->flags &= ~HM_DF_DIGITS;
			d->state = HM_P_HDR_CL;
		} else if ((d->hcand & 2) && pos == HM_HDR_TE_LEN) {
			d->te_match = 0;
			d->state = HM_P_HDR_TE;
		} else if (!d->hcand) {
			d->state = HM_P_HDR_SKIP;
		}
		break;
	}
	case HM_P_HDR_CL:
		if (c >= '0' && c <= '9') {
			if (d->acc > HM_MAX_CL / 10)
				d->flags |= HM_DF_BAD;
			else
				d->acc = d->acc * 10 + (c - '0');
			d->flags |= HM_DF_DIGITS;
		} else if (c == '\n') {
			/* RFC 9112 6.3: differing or unparseable lengths are fatal. */
			if (!(d->flags & HM_DF_DIGITS) ||
			    ((d->flags & HM_DF_CL) && d->cl != d->acc))
				d->flags |= HM_DF_BAD;
			d->cl = d->acc;
			d->flags |= HM_DF_CL;
			d->state = HM_P_HDR;
		} else if (c != ' ' && c != '\t' && c != '\r') {
			d->flags |= HM_DF_BAD;
			d->state = HM_P_HDR_SKIP;
		}
		break;
	case HM_P_HDR_TE:
		if (c == '\n') {
			d->state = HM_P_HDR;
		} else if (d->te_match < HM_CHUNKED_LEN &&
			   lc == hm_chunked_at(d->te_match)) {
			if (++d->te_match == HM_CHUNKED_LEN)
				d->flags |= HM_DF_CHUNKED;
		} else {
			d->te_match = lc == 'c';
		}
		break;
	case HM_P_HDR_END:
		if (c == '\n')
			hm_headers_done(w);
		else
			d->state = HM_P_HDR_SKIP;
		break;
	case HM_P_CHUNK_SIZE:
		v = hm_hexval(c);
		if (v >= 0) {
			if (d->acc >= HM_MAX_CHUNK) {
				hm_lost(d, HM_MON_BAD_LENGTH);
				return 0;
			}
			d->acc = d->acc * 16 + v;
			d->flags |= HM_DF_DIGITS;
		} else if (c == ';' || c == ' ' || c == '\t') {
			d->state = HM_P_CHUNK_EXT;
		} else if (c == '\n') {
			hm_chunk_size_done(d);
		} else if (c != '\r') {
			hm_lost(d, HM_MON_BAD_LENGTH);
		}
		break;
	case HM_P_TRAILER:
		if (c == '\r')
			d->state = HM_P_TRAILER_END;
		else if (c == '\n')
			hm_msg_end(w);
		else
			d->state = HM_P_TRAILER_SKIP;
		break;
	case HM_P_TRAILER_END:
		if (c == '\n')
			hm_msg_end(w);
		else
			d->state = HM_P_TRAILER_SKIP;
		break;
	case HM_P_IDLE:
		/* RFC 9112 2.2: empty lines before a request are ignored. */
		if (c == '\r' || c == '\n') {
			hm_consume(w, 1);
			break;
		}
		d->start.b[0] = c;
		d->start_len = 1;
		d->state = HM_P_START;
		hm_msg_begins(w, w->s->off - 1);
		return 1;
	case HM_P_START:
		d->start.b[d->start_len & (HM_START_BUF - 1)] = c;
		d->start_len++;
		return 1;
	}
	return 0;
}

#endif /* HM_HTTP_H */
