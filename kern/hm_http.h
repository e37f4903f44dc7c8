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
 * window filled with bpf_skb_load_bytes(), which works on non-linear and GSO
 * skbs alike.
 *
 * The includer provides hm_count(counter, n), hm_sample(walk, family, ns)
 * (a latency sample for the histograms) and the maps; struct hm_scratch
 * lives in a per-CPU array so the walk's big state stays off the 512-byte
 * stack.
 */
#ifndef HM_HTTP_H
#define HM_HTTP_H

#include "httpmon.h"
#include "hm_state.h"

#define HM_WIN 256          /* window bytes read per load; a power of two */
#define HM_MAX_STEPS 8192   /* walk steps per segment (~100 pipelined messages) */
#define HM_MAX_CL (1ULL << 50)    /* larger Content-Length values are refused */
#define HM_MAX_CHUNK (1ULL << 40) /* larger chunk sizes are refused */

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
	__u32 win_off; /* packet offset of win[0] */
	__u32 win_len; /* valid bytes in win */
	/* +16: fixed-size reads at any masked index stay inside the buffer */
	__u8 win[HM_WIN + 16];
	struct hm_hist zero_hist; /* never written: initial value of a new histogram */
};

/* The pointers one step needs; the bpf_loop context, on the caller's stack. */
struct hm_walk {
	struct __sk_buff *skb;
	struct hm_scratch *s;
	struct hm_conn *conn;
	struct hm_dir *d;
};

static __always_inline void hm_sample(struct hm_walk *w, __u32 family, __u64 ns);

/*
 * Header names matched byte by byte, lower case.  Kept as immediates (8
 * characters per word, first character in the low byte) rather than strings,
 * so the object has no .rodata and loads the same under tc and libbpf.
 */
#define HM_C8(a, b, c, d, e, f, g, h)                                                   \
	((__u64)(a) | (__u64)(b) << 8 | (__u64)(c) << 16 | (__u64)(d) << 24 |          \
	 (__u64)(e) << 32 | (__u64)(f) << 40 | (__u64)(g) << 48 | (__u64)(h) << 56)
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

static __always_inline bool hm_prefix(const __u8 *b, const char *lit, int n)
{
	/* n is a constant at every call site: this unrolls into compares. */
	for (int i = 0; i < n; i++)
		if (b[i] != (__u8)lit[i])
			return false;
	return true;
}

/*
 * Classifies the first HM_START_LEN bytes of a message.  Requests are a known
 * method token followed by a space (methods are case-sensitive, RFC 9110
 * 9.1); responses are "HTTP/1.x NNN" followed by SP (or CR/LF from servers
 * that omit the reason phrase), with NNN in 100..599.
 */
static __always_inline int hm_classify(const __u8 *b, __u32 *status, __u32 *rflags)
{
	*rflags = 0;
	switch (b[0]) {
	case 'G':
		return hm_prefix(b, "GET ", 4) ? HM_MSG_REQUEST : HM_MSG_NONE;
	case 'P':
		return hm_prefix(b, "POST ", 5) || hm_prefix(b, "PUT ", 4) ||
		       hm_prefix(b, "PATCH ", 6) ? HM_MSG_REQUEST : HM_MSG_NONE;
	case 'D':
		return hm_prefix(b, "DELETE ", 7) ? HM_MSG_REQUEST : HM_MSG_NONE;
	case 'O':
		return hm_prefix(b, "OPTIONS ", 8) ? HM_MSG_REQUEST : HM_MSG_NONE;
	case 'T':
		return hm_prefix(b, "TRACE ", 6) ? HM_MSG_REQUEST : HM_MSG_NONE;
	case 'C':
		*rflags = HM_REQ_CONNECT;
		return hm_prefix(b, "CONNECT ", 8) ? HM_MSG_REQUEST : HM_MSG_NONE;
	case 'H':
		if (hm_prefix(b, "HEAD ", 5)) {
			*rflags = HM_REQ_HEAD;
			return HM_MSG_REQUEST;
		}
		if (!hm_prefix(b, "HTTP/1.", 7) || (b[7] != '0' && b[7] != '1') ||
		    b[8] != ' ')
			return HM_MSG_NONE;
		if (b[9] < '1' || b[9] > '5' || b[10] < '0' || b[10] > '9' ||
		    b[11] < '0' || b[11] > '9')
			return HM_MSG_NONE;
		if (b[12] != ' ' && b[12] != '\r' && b[12] != '\n')
			return HM_MSG_NONE;
		*status = (b[9] - '0') * 100 + (b[10] - '0') * 10 + (b[11] - '0');
		return HM_MSG_RESPONSE;
	}
	return HM_MSG_NONE;
}

static __always_inline void hm_on_request(struct hm_walk *w, __u32 rflags)
{
	struct hm_conn *c = w->conn;
	__u32 n = c->nreq;

	if (c->client == HM_SIDE_UNKNOWN)
		c->client = w->s->side;
	/* Slot first, counter second: the response side reads nreq, then the slot. */
	if (n - c->nresp < HM_PIPELINE_DEPTH) {
		struct hm_pending *p = &c->ring[n & (HM_PIPELINE_DEPTH - 1)];

		p->ts = w->s->now;
		p->reqno = n;
		p->flags = rflags;
	} else {
		hm_count(HM_MON_PIPELINE_OVERFLOW, 1);
	}
	c->nreq = n + 1;
	w->s->delta.requests++;
}

static __always_inline void hm_on_response(struct hm_walk *w, __u32 status)
{
	struct hm_conn *c = w->conn;
	struct hm_dir *d = w->d;
	struct hm_stats *delta = &w->s->delta;
	struct hm_pending *p;
	__u32 n = c->nresp, cls = status / 100 - 1;
	__u64 lat;

	if (c->client == HM_SIDE_UNKNOWN)
		c->client = w->s->side ^ 1;
	if (status == 204 || status == 304)
		d->flags |= HM_DF_NOBODY;
	d->req_ts = 0;
	if (status < 200 && status != 101) {
		/* 100 Continue and friends: the final response is still to come. */
		d->flags |= HM_DF_NOBODY;
		hm_count(HM_MON_INTERIM_RESPONSES, 1);
		return;
	}
	if (status == 101)
		d->flags |= HM_DF_TUNNEL;
	if ((__s32)(c->nreq - n) <= 0) {
		hm_count(HM_MON_ORPHAN_RESPONSES, 1);
		return;
	}
	p = &c->ring[n & (HM_PIPELINE_DEPTH - 1)];
	if (p->reqno == n) {
		if (p->flags & HM_REQ_HEAD)
			d->flags |= HM_DF_NOBODY;
		if ((p->flags & HM_REQ_CONNECT) && status < 300)
			d->flags |= HM_DF_TUNNEL;
		lat = w->s->now - p->ts;
		hm_lat_add(&delta->lat, lat);
		hm_lat_add(status < 500 ? &delta->lat_ok : &delta->lat_fail, lat);
		hm_sample(w, HM_LAT_FIRST, lat);
		d->req_ts = p->ts; /* for the last-byte latency when the response ends */
	}
	c->nresp = n + 1;
	delta->responses++;
	if (cls < HM_STATUS_CLASSES)
		delta->status[cls]++;
}

/* The start line's first HM_START_LEN bytes are in d->start. */
static __always_inline void hm_start_done(struct hm_walk *w)
{
	struct hm_dir *d = w->d;
	__u32 status = 0, rflags = 0;
	int kind = hm_classify(d->start, &status, &rflags);

	if (kind == HM_MSG_NONE) {
		/* After a loss this was only a probe of a segment start. */
		if (!(d->flags & HM_DF_PROBE))
			hm_count(HM_MON_UNPARSEABLE, 1);
		d->state = HM_P_LOST;
		return;
	}
	w->s->bytes += HM_START_LEN;
	d->kind = kind;
	d->flags = 0;
	d->cl = 0;
	d->line_len = HM_START_LEN;
	if (kind == HM_MSG_REQUEST)
		hm_on_request(w, rflags);
	else
		hm_on_response(w, status);
	/* Only "HTTP/1.1 200\n" can hold its LF within the first 13 bytes. */
	d->state = d->start[HM_START_LEN - 1] == '\n' ? HM_P_HDR : HM_P_LINE;
	d->line_len = 0;
}

static __always_inline void hm_lost(struct hm_dir *d, enum hm_monitor_counter why)
{
	hm_count(why, 1);
	d->state = HM_P_LOST;
}

/* A message ended where its framing said: a response's last byte is timed. */
static __always_inline void hm_msg_end(struct hm_walk *w)
{
	struct hm_dir *d = w->d;
	__u64 lat;

	d->state = HM_P_IDLE;
	if (d->kind == HM_MSG_RESPONSE && d->req_ts) {
		lat = w->s->now - d->req_ts;
		hm_lat_add(&w->s->delta.lat_last, lat);
		hm_sample(w, HM_LAT_LAST, lat);
		d->req_ts = 0;
	}
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

/* One grammar byte in a byte-level state. */
static __always_inline void hm_byte(struct hm_walk *w, __u8 c)
{
	struct hm_dir *d = w->d;
	__u8 lc = hm_lower(c);
	int v;

	w->s->bytes++;
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
			if (d->acc >= HM_MAX_CHUNK)
				return hm_lost(d, HM_MON_BAD_LENGTH);
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
		if (c == '\r' || c == '\n')
			break;
		w->s->bytes--; /* start bytes count once the message is recognised */
		d->start[0] = c;
		d->start_len = 1;
		d->state = HM_P_START;
		break;
	case HM_P_START:
		w->s->bytes--;
		d->start[d->start_len & 15] = c;
		if (++d->start_len >= HM_START_LEN || c == '\n') {
			/* A LF this early means no valid start line. */
			if (d->start_len < HM_START_LEN)
				d->start[0] = 0;
			hm_start_done(w);
		}
		break;
	}
}

static __always_inline int hm_win_load(struct hm_walk *w, __u32 off)
{
	struct hm_scratch *s = w->s;
	__u64 len = w->s->end - off;

	if (len > HM_WIN)
		len = HM_WIN;
	/* Keep the clamped value in a register: clang would otherwise pass the
	 * unclamped one and rely on the compare, which the verifier cannot see. */
	asm volatile("" : "+r"(len));
	if (len == 0 || len > HM_WIN || bpf_skb_load_bytes(w->skb, off, s->win, len) < 0) {
		hm_lost(w->d, HM_MON_LOAD_ERRORS);
		return -1;
	}
	s->win_off = off;
	s->win_len = len;
	return 0;
}

/* bpf_loop callback: one step of the walk; returns 1 to stop. */
static long hm_step(__u32 i, void *ctx)
{
	struct hm_walk *w = ctx;
	struct hm_dir *d = w->d;
	struct hm_scratch *s = w->s;
	__u32 off = w->s->off, idx, k, n;
	__u64 avail;

	if (off >= w->s->end)
		return 1;
	avail = w->s->end - off;

	switch (d->state) {
	case HM_P_BODY:
	case HM_P_CHUNK_DATA:
		n = avail < d->remaining ? avail : d->remaining;
		w->s->off = off + n;
		w->s->bytes += n;
		d->remaining -= n;
		if (d->remaining)
			return 0;
		if (d->state == HM_P_BODY)
			hm_msg_end(w);
		else
			d->state = HM_P_CHUNK_CRLF;
		return 0;
	case HM_P_UNTIL_CLOSE:
		w->s->off = w->s->end;
		w->s->bytes += avail;
		return 1;
	case HM_P_LOST:
		return 1;
	}

	if (off < s->win_off || off - s->win_off >= s->win_len)
		if (hm_win_load(w, off))
			return 1;
	idx = (off - s->win_off) & (HM_WIN - 1);

	if (hm_to_lf_state(d->state)) {
		/*
		 * Look for LF one 8-byte word per step: a bounded loop here would
		 * multiply the verifier's states by the window size.  The
		 * zero-byte test on w ^ 0x0a.. says whether the word holds a LF
		 * at all; only then are its bytes looked at one by one.
		 */
		__u64 v, x, ones = 0x0101010101010101ULL;
		__u32 valid = s->win_len - idx;

		if (valid > 8)
			valid = 8;
		__builtin_memcpy(&v, &s->win[idx], sizeof(v));
		x = v ^ (ones * '\n');
		if ((x - ones) & ~x & (ones * 0x80)) {
#pragma unroll
			for (k = 0; k < 8; k++) {
				if (k < valid && (__u8)(v >> (k * 8)) == '\n') {
					w->s->off = off + k + 1;
					w->s->bytes += k + 1;
					hm_line_done(d);
					return 0;
				}
			}
		}
		w->s->off = off + valid;
		w->s->bytes += valid;
		d->line_len += valid;
		if (d->line_len > HM_MAX_LINE)
			hm_lost(d, HM_MON_TRUNCATED);
		return 0;
	}

	/* A message start with all its classifying bytes at hand: take them at once. */
	if (d->state == HM_P_IDLE && avail >= HM_START_LEN &&
	    idx + HM_START_LEN > s->win_len) {
		if (hm_win_load(w, off))
			return 1;
		idx = 0;
	}
	if (d->state == HM_P_IDLE && idx + HM_START_LEN <= s->win_len &&
	    s->win[idx] != '\r' && s->win[idx] != '\n') {
		__builtin_memcpy(d->start, &s->win[idx], sizeof(d->start));
		d->start_len = HM_START_LEN;
		w->s->off = off + HM_START_LEN;
		hm_start_done(w);
		return 0;
	}

	w->s->off = off + 1;
	hm_byte(w, s->win[idx]);
	return 0;
}

/*
 * Parses the new payload bytes [s->off, s->end) that side s->side sent on
 * connection c.  On return s->bytes holds how many belonged to HTTP messages
 * and s->delta what the segment adds to the client's rows.
 */
static __always_inline void hm_http_walk(struct __sk_buff *skb, struct hm_conn *c,
					 struct hm_scratch *s)
{
	struct hm_walk w = {
		.skb = skb,
		.s = s,
		.conn = c,
		.d = s->side ? &c->dir[1] : &c->dir[0],
	};
	struct hm_dir *d = w.d;

	if (d->state == HM_P_LOST) {
		/* Framing was lost: a segment that starts a message resumes it. */
		d->state = HM_P_IDLE;
		d->flags |= HM_DF_PROBE;
	}
	bpf_loop(HM_MAX_STEPS, hm_step, &w, 0);
	if (s->off < s->end && d->state != HM_P_LOST)
		hm_lost(d, HM_MON_PARSE_BUDGET);
	d->flags &= ~HM_DF_PROBE;
}

#endif /* HM_HTTP_H */
