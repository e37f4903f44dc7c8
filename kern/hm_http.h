/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * hm_http.h - stage 3: HTTP/1.x framing.
 *
 * One direction of a TCP connection is a byte stream of messages: a start
 * line, header lines up to an empty line, then a body whose length is given
 * by Content-Length, by chunked transfer coding, or (responses only) by the
 * end of the connection.  The framing walks the new bytes of one segment
 * through that grammar (struct hm_dir keeps the position between segments),
 * so every message is found wherever it starts and bodies are skipped by
 * arithmetic, never mistaken for messages.
 *
 * The walk reads the packet window (hm_scratch.win) through four handlers,
 * each a global function verified once and independent of the program type;
 * the per-segment driver (hm_segment.h) calls the one the state needs and
 * loads a new window when a handler asks for bytes past it:
 *   hm_h_start   a message start: its first bytes classified at once;
 *   hm_h_target  the request target, into the route label;
 *   hm_h_lines   header lines, a word at a time from LF to LF, with the
 *                names the framing needs compared as words;
 *   hm_h_bytes   the byte-level grammar: chunk sizes, trailers, and lines
 *                that straddle a segment's end.
 * A handler's loops keep their position in map memory (s->off, d->state),
 * which the verifier does not track, so each loop verifies in a few passes.
 */
#ifndef HM_HTTP_H
#define HM_HTTP_H

#include "hm_account.h"
#include "hm_ctx.h"
#include "hm_target.h"

#define HM_MAX_CL (1ULL << 50)    /* larger Content-Length values are refused */
#define HM_MAX_CHUNK (1ULL << 40) /* larger chunk sizes are refused */

/* What a handler asks of the driver. */
enum hm_step {
	HM_STEP_NEXT,  /* go on: dispatch on the (new) state */
	HM_STEP_LOAD,  /* load the window at s->off, then go on */
	HM_STEP_BYTES, /* go on byte by byte (hm_h_bytes) in this state */
	HM_STEP_HOST,  /* a Host value starts at s->off (hm_h_host) */
	HM_STEP_DONE,  /* nothing more to parse in this segment */
};

#define HM_ONES 0x0101010101010101ULL
#define HM_HIGHS 0x8080808080808080ULL
#define HM_LOWER 0x2020202020202020ULL

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

/* The bytes of w equal to c, as 0x80 in each (only the lowest one is exact). */
static __always_inline __u64 hm_find_byte(__u64 w, __u8 c)
{
	__u64 x = w ^ (HM_ONES * c);

	return (x - HM_ONES) & ~x & HM_HIGHS;
}

/* Index of the lowest byte flagged in m (a hm_find_byte() result, m != 0). */
static __always_inline __u32 hm_low_byte(__u64 m)
{
	return (((m & -m) >> 7) * 0x0001020304050607ULL) >> 56;
}

/* Packet offset where the window's valid bytes of this segment end. */
static __always_inline __u32 hm_win_end(const struct hm_scratch *s)
{
	__u32 e = s->win_off + s->win_len;

	return e < s->end ? e : s->end;
}

static __always_inline __u32 hm_win_idx(const struct hm_scratch *s, __u32 off)
{
	return (off - s->win_off) & (HM_WIN - 1);
}

static __always_inline void hm_lost(struct hm_scratch *s, struct hm_dir *d,
				    enum hm_monitor_counter why)
{
	hm_count(s->gen, why, 1);
	d->state = HM_P_LOST;
}

/*
 * The current message's first byte is at packet offset off.  Its time is
 * taken here, not when the start line is decided: a start line cut after
 * "GE" or "HTT" is decided by a later segment (or read, or write), and a
 * latency runs from first byte to first byte.
 */
static __always_inline void hm_msg_begins(struct hm_scratch *s, struct hm_dir *d, __u32 off)
{
	d->msg_ts = hm_now(s);
	d->msg_seq = s->seq0 + off;
	d->msg_ack = s->ack;
	d->msg_ack_ok = s->ack_ok;
}

/* --- start lines ------------------------------------------------------------------ */

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
static __always_inline __u32 hm_method_ext(__u64 t0, __u64 t1, __u64 t2, __u32 alloc, __u32 gen)
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
	seq = bpf_map_lookup_elem(&hm_seq, &slot);
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
	hm_count(gen, HM_MON_METHODS_FULL, 1);
	return HM_METHOD_OTHER;
}

/* hm_classify() flags. */
#define HM_CLS_ALLOC 1U /* a new extension method takes an id */
#define HM_CLS_GEN1 2U  /* its counters go to generation 1 */

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
 * bytes decide.
 *
 * A global function, verified once: it runs once per message, so its loop
 * over the token costs little, and inlined it would multiply the verifier's
 * states.
 */
__noinline int hm_classify(const struct hm_startb *sb, __u32 n, struct hm_cls *out, __u32 flags)
{
	const __u64 http1 = HM_C8('H', 'T', 'T', 'P', '/', '1', '.', 0);
	__u32 len, i, method = HM_METHOD_NONE;
	__u64 t0, t1, t2, w;
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
		method = hm_method_ext(t0, t1, t2, flags & HM_CLS_ALLOC, !!(flags & HM_CLS_GEN1));
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

/*
 * The first n bytes of a start line were classified (s->cls); they are taken
 * as the message's.  A request's target follows its method's space.
 */
static __always_inline void hm_start_done(struct hm_scratch *s, struct hm_conn *c,
					  struct hm_dir *d, struct hm_config *cfg, __u32 n)
{
	struct hm_cls *cls = &s->cls;
	__u32 kind = cls->kind;

	if (kind != HM_MSG_REQUEST && kind != HM_MSG_RESPONSE) {
		/* After a loss this was only a probe of a segment start. */
		if (!(d->flags & HM_DF_PROBE))
			hm_count(s->gen, HM_MON_UNPARSEABLE, 1);
		d->state = HM_P_LOST;
		return;
	}
	/* A request right where a gap ended: the client sent it without waiting. */
	if ((d->flags & HM_DF_PROBE) && kind == HM_MSG_REQUEST && s->gap)
		c->gap |= HM_GAP_PIPELINED;
	d->kind = kind;
	d->flags = 0;
	d->cl = 0;
	d->line_len = 0;
	d->tpend = 0;
	/*
	 * The message's bytes, for its route: from its first byte on, here or,
	 * for a start line begun in an earlier segment, the bytes it had there.
	 */
	if (s->rcarry) {
		d->rbytes = s->rcarry;
		s->rmark = s->first;
		s->rcarry = 0;
	} else {
		d->rbytes = 0;
		s->rmark = s->off - n;
	}
	d->hbytes = d->rbytes; /* the same bytes wait for the host rows */
	d->labeled = 0;
	d->hseen = 0;
	if (c->client == HM_SIDE_UNKNOWN)
		c->client = kind == HM_MSG_REQUEST ? s->side : s->side ^ 1;
	/* The first message of the connection, or of an interval: its rows. */
	if (!c->row_ok || c->row_epoch != s->epoch)
		hm_rows_find(c, &s->key, cfg, s->epoch);
	if (kind == HM_MSG_REQUEST) {
		hm_on_request(s, c, d, cls->rflags);
		hm_route_begin(&c->rb, cfg, cls->method);
		d->state = HM_P_TARGET;
	} else {
		/* Only "HTTP/1.1 200\n" can hold its LF within the first 13 bytes. */
		d->state = d->start.b[HM_START_LEN - 1] == '\n' ? HM_P_HDR : HM_P_LINE;
		hm_on_response(s, c, d, cls->status, cfg);
	}
	hm_route_flush(s, d);
}

static __always_inline bool hm_target_cached(struct hm_scratch *s, struct hm_conn *c,
					     struct hm_dir *d, struct hm_config *cfg);

/*
 * A message start (state IDLE, or START_READY once hm_h_bytes collected a
 * start line that straddled segments): its first HM_START_MAX bytes (or all
 * the segment has left, when fewer) are classified at once.  A request takes
 * its method and space; the target follows.
 */
__noinline int hm_h_start(struct hm_scratch *s, struct hm_conn *c, struct hm_config *cfg)
{
	struct hm_dir *d;
	__u32 off, idx, n, avail;

	if (!s || !c || !cfg)
		return HM_STEP_DONE;
	d = &c->dir[s->side & 1];
	if (d->state == HM_P_START_READY) {
		n = d->start_len;
		goto take;
	}
	if (c->tunnel) {
		/*
		 * The connection switched protocols: what follows is opaque,
		 * the bytes of the exchange that switched it.
		 */
		d->state = HM_P_UNTIL_CLOSE;
		d->flags |= HM_DF_ROUTED;
		d->rbytes = 0;
		d->labeled = !(cfg->flags & HM_CFG_NO_HOSTS);
		d->hbytes = 0;
		s->rmark = s->off;
		return HM_STEP_NEXT;
	}
	off = s->off;
	if (off >= s->end)
		return HM_STEP_DONE;
	idx = hm_win_idx(s, off);
	if (s->win[idx] == '\r' || s->win[idx] == '\n') {
		/* RFC 9112 2.2: empty lines before a request are ignored. */
		s->off = off + 1;
		return HM_STEP_NEXT;
	}
	avail = s->end - off;
	n = avail < HM_START_MAX ? avail : HM_START_MAX;
	if (off + n > hm_win_end(s))
		return HM_STEP_LOAD;
	*(__u64 *)&d->start.b[0] = hm_load64(&s->win[idx]);
	*(__u64 *)&d->start.b[8] = hm_load64(&s->win[idx + 8]);
	*(__u64 *)&d->start.b[16] = hm_load64(&s->win[idx + 16]);
	hm_msg_begins(s, d, off);
	hm_classify(&d->start, n, &s->cls, HM_CLS_ALLOC | (s->gen ? HM_CLS_GEN1 : 0));
	if (s->cls.kind == HM_MSG_MORE) {
		/* The segment ends inside the start line: the rest comes byte by byte. */
		d->start_len = n;
		d->state = HM_P_START;
		s->off = off + n;
		return HM_STEP_NEXT;
	}
	n = s->cls.kind == HM_MSG_NONE ? 0 : s->cls.used;
	s->off = off + n;
take:
	hm_start_done(s, c, d, cfg, n);
	/* An extension method: the target's first byte, taken to decide, is parsed next. */
	if (s->cls.kind == HM_MSG_REQUEST && n > s->cls.used && d->state == HM_P_TARGET)
		d->tpend = n;
	else if (d->state == HM_P_TARGET)
		hm_target_cached(s, c, d, cfg);
	return HM_STEP_NEXT;
}

/* --- request targets -------------------------------------------------------------- */

/* The current request's route is id: its slot, the message's route, the route's row. */
static __always_inline void hm_target_route(struct hm_scratch *s, struct hm_conn *c,
					    struct hm_dir *d, struct hm_config *cfg, __u32 id)
{
	__u32 last = c->nreq - 1;
	struct hm_pending *p = &c->ring[last & (HM_PIPELINE_DEPTH - 1)];
	struct hm_stats *row;

	if (p->reqno == last) {
		p->route = id;
		p->route_epoch = cfg->route_epoch;
		p->flags |= HM_REQ_ROUTED;
	}
	d->route = id;
	d->route_epoch = cfg->route_epoch;
	d->flags |= HM_DF_ROUTED;
	row = hm_route_row(s->gen, id);
	if (row)
		row->requests++;
	hm_route_flush(s, d);
}

/* The request target ended: its route is known, and kept for the same target again. */
static __always_inline void hm_target_done(struct hm_scratch *s, struct hm_conn *c,
					   struct hm_dir *d, struct hm_config *cfg)
{
	__u32 id = hm_route_of_target(c, cfg, s);

	hm_target_route(s, c, d, cfg, id);
	if (s->tg_len && id != HM_ROUTE_OTHER) { /* _other is counted anew each time */
		c->tg[0] = s->tg[0];
		c->tg[1] = s->tg[1];
		c->tg[2] = s->tg[2];
		c->tg[3] = s->tg[3];
		c->tg_len = s->tg_len;
		c->tg_method = c->rb.method;
		c->tg_route = id;
		c->tg_gen = cfg->route_gen + 1;
		c->tg_epoch = cfg->route_epoch;
	}
	s->tg_len = 0;
}

#define HM_TG_MAX 32 /* bytes of a target the connection remembers */

/*
 * A request target that starts at s->off with its end (a space) within
 * HM_TG_MAX bytes in the window: the same as the connection's last, under
 * the same grouping, is that route at once - keep-alive clients ask for one
 * URL again and again.  Otherwise its bytes are kept in scratch, for the
 * connection to remember once the parse found its route.  Returns whether
 * the target was taken.
 */
static __always_inline bool hm_target_cached(struct hm_scratch *s, struct hm_conn *c,
					     struct hm_dir *d, struct hm_config *cfg)
{
	__u32 off = s->off, idx, len;
	__u64 t[4], sp, crlf, keep;

	s->tg_len = 0;
	if (off + HM_TG_MAX + 1 > hm_win_end(s))
		return false;
	idx = hm_win_idx(s, off);
	t[0] = hm_load64(&s->win[idx]);
	t[1] = hm_load64(&s->win[idx + 8]);
	t[2] = hm_load64(&s->win[idx + 16]);
	t[3] = hm_load64(&s->win[idx + 24]);
	len = HM_TG_MAX;
#pragma unroll
	for (int i = 3; i >= 0; i--) {
		sp = hm_find_byte(t[i], ' ');
		crlf = hm_find_byte(t[i], '\r') | hm_find_byte(t[i], '\n');
		/* A CR or LF before the space: not a target to remember. */
		if (crlf && (!sp || (crlf & -crlf) < (sp & -sp)))
			len = HM_TG_MAX + 1;
		else if (sp)
			len = i * 8 + hm_low_byte(sp);
	}
	if (len == 0 || len > HM_TG_MAX)
		return false;
#pragma unroll
	for (int i = 0; i < 4; i++) {
		keep = hm_keep(~0ULL, (__s32)len - i * 8);
		t[i] &= keep;
	}
	if (c->tg_len == len && c->tg_method == c->rb.method && c->tg_gen == cfg->route_gen + 1 &&
	    c->tg_epoch == cfg->route_epoch && c->tg[0] == t[0] && c->tg[1] == t[1] &&
	    c->tg[2] == t[2] && c->tg[3] == t[3]) {
		s->off = off + len;
		hm_target_route(s, c, d, cfg, c->tg_route);
		d->state = HM_P_LINE;
		return true;
	}
	s->tg[0] = t[0];
	s->tg[1] = t[1];
	s->tg[2] = t[2];
	s->tg[3] = t[3];
	s->tg_len = len;
	return false;
}

/* The request target, byte by byte, into the route label. */
__noinline int hm_h_target(struct hm_scratch *s, struct hm_conn *c, struct hm_config *cfg)
{
	struct hm_dir *d;
	__u32 off;
	__u8 ch;

	if (!s || !c || !cfg)
		return HM_STEP_DONE;
	d = &c->dir[s->side & 1];
	while (hm_loop) {
		if (d->tpend) {
			/* Taken (and counted) while classifying an extension method. */
			ch = d->start.b[(d->tpend - 1) & (HM_START_BUF - 1)];
			d->tpend = 0;
		} else {
			off = s->off;
			if (off >= s->end)
				return HM_STEP_DONE;
			if (off >= hm_win_end(s))
				return HM_STEP_LOAD;
			ch = s->win[hm_win_idx(s, off)];
			s->off = off + 1;
		}
		if (hm_target_byte(&c->rb, cfg, ch)) {
			hm_target_done(s, c, d, cfg);
			/* A LF right after the target: HTTP/0.9-style, no version. */
			d->state = ch == '\n' ? HM_P_HDR : HM_P_LINE;
			return HM_STEP_NEXT;
		}
	}
	return HM_STEP_NEXT;
}

/* --- headers and lines --------------------------------------------------------------- */

static __always_inline void hm_headers_done(struct hm_scratch *s, struct hm_conn *c,
					    struct hm_dir *d, struct hm_config *cfg)
{
	__u8 flags = d->flags;

	if (d->kind == HM_MSG_REQUEST)
		hm_request_labeled(s, c, d, cfg);
	if (flags & HM_DF_BAD) {
		hm_lost(s, d, HM_MON_BAD_LENGTH);
		return;
	}
	d->acc = 0;
	d->flags = flags & ~HM_DF_DIGITS;
	if (d->kind == HM_MSG_RESPONSE && (flags & HM_DF_NOBODY)) {
		hm_msg_end(s, c, d);
	} else if (d->kind == HM_MSG_RESPONSE && (flags & HM_DF_TUNNEL)) {
		d->state = HM_P_UNTIL_CLOSE;
	} else if (flags & HM_DF_CHUNKED) {
		/* RFC 9112 6.3: chunked wins over a Content-Length, which is suspect. */
		if (flags & HM_DF_CL)
			hm_count(s->gen, HM_MON_TE_AND_CL, 1);
		d->state = HM_P_CHUNK_SIZE;
	} else if (flags & HM_DF_CL) {
		d->remaining = d->cl;
		if (d->cl)
			d->state = HM_P_BODY;
		else
			hm_msg_end(s, c, d);
	} else if (d->kind == HM_MSG_REQUEST) {
		hm_msg_end(s, c, d);
	} else {
		d->state = HM_P_UNTIL_CLOSE; /* ends with the connection: no last-byte time */
	}
}

static __always_inline void hm_chunk_size_done(struct hm_scratch *s, struct hm_dir *d)
{
	if (!(d->flags & HM_DF_DIGITS)) {
		hm_lost(s, d, HM_MON_BAD_LENGTH);
		return;
	}
	if (d->acc == 0) {
		d->state = HM_P_TRAILER;
		return;
	}
	d->remaining = d->acc;
	d->state = HM_P_CHUNK_DATA;
}

/* States that only look for the LF ending the current line. */
static __always_inline bool hm_to_lf_state(__u8 state)
{
	return state == HM_P_LINE || state == HM_P_HDR_SKIP || state == HM_P_CHUNK_EXT ||
	       state == HM_P_CHUNK_CRLF || state == HM_P_TRAILER_SKIP;
}

/* A line ended (LF consumed) in one of the hm_to_lf_state() states. */
static __always_inline void hm_line_done(struct hm_scratch *s, struct hm_dir *d)
{
	d->line_len = 0;
	switch (d->state) {
	case HM_P_LINE:
	case HM_P_HDR_SKIP:
		d->state = HM_P_HDR;
		break;
	case HM_P_CHUNK_EXT:
		hm_chunk_size_done(s, d);
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

/* Header names as words (HM_C8), lower case; bytes past a name masked off. */
#define HM_HDR_CL_LEN 15 /* "content-length:" */
#define HM_HDR_TE_LEN 18 /* "transfer-encoding:" */
#define HM_HDR_HOST_LEN 5 /* "host:" */
#define HM_CHUNKED_LEN 7 /* "chunked" */
#define HM_LINE_PEEK 24  /* bytes a line start needs at hand to be matched as words */

#define HM_LF_FOUND 0x80000000U

/*
 * The offset just past the first LF in the window's bytes [off, end), with
 * HM_LF_FOUND set; end without it when there is none.  A word at a time, in
 * registers: a global function, so its loop - at most the window's 64
 * words, which the verifier follows one by one - is verified once.
 */
__noinline __u32 hm_find_lf(struct hm_scratch *s, __u32 off, __u32 end)
{
	__u32 win_off, pos = off;
	__u64 m;

	if (!s)
		return end;
	win_off = s->win_off;
	for (int j = 0; j < HM_WIN / 8; j++) {
		if (pos >= end)
			break;
		m = hm_find_byte(hm_load64(&s->win[(pos - win_off) & (HM_WIN - 1)]), '\n') &
		    hm_keep(~0ULL, end - pos);
		if (m)
			return (pos + hm_low_byte(m) + 1) | HM_LF_FOUND;
		pos += 8;
	}
	return end;
}

/*
 * The value of a Content-Length line whose name ends at packet offset off:
 * digits (optional blanks around them) up to the LF, all inside the window.
 * Sets the framing as the byte grammar would and returns the bytes taken,
 * LF included; 0 when the line does not end within 32 bytes inside the
 * window (the caller hands it to the byte grammar, which starts the value
 * over).  The number is built in d->acc, in map memory, so the loop verifies
 * in a few passes.  A global function.
 */
__noinline __u32 hm_cl_value(struct hm_scratch *s, struct hm_dir *d, __u32 off)
{
	__u32 end, i;
	__u8 c;

	if (!s || !d)
		return 0;
	end = hm_win_end(s);
	d->acc = 0;
	d->flags &= ~HM_DF_DIGITS;
	s->vpos = 0;
	while (hm_loop) {
		i = s->vpos;
		if (i >= 32 || off + i >= end)
			return 0;
		s->vpos = i + 1;
		c = s->win[hm_win_idx(s, off + i)];
		if (c >= '0' && c <= '9') {
			if (d->acc > HM_MAX_CL / 10)
				d->flags |= HM_DF_BAD;
			else
				d->acc = d->acc * 10 + (c - '0');
			d->flags |= HM_DF_DIGITS;
		} else if (c == '\n') {
			/* RFC 9112 6.3: differing or unparseable lengths are fatal. */
			if (!(d->flags & HM_DF_DIGITS) || ((d->flags & HM_DF_CL) && d->cl != d->acc))
				d->flags |= HM_DF_BAD;
			d->cl = d->acc;
			d->flags |= HM_DF_CL;
			return i + 1;
		} else if (c != ' ' && c != '\t' && c != '\r') {
			d->flags |= HM_DF_BAD;
		}
	}
	return 0;
}

/* --- the Host header ----------------------------------------------------------------- */

/* A request's first Host header is taken; a response's or a second one is skipped. */
static __always_inline bool hm_wants_host(const struct hm_dir *d, const struct hm_config *cfg)
{
	return d->kind == HM_MSG_REQUEST && !d->hseen && !(cfg->flags & HM_CFG_NO_HOSTS);
}

/* The bytes of w equal to c, as 0x80 in each: exact in every byte. */
static __always_inline __u64 hm_eq_bytes(__u64 w, __u8 c)
{
	__u64 x = w ^ (HM_ONES * c), low7 = 0x7f7f7f7f7f7f7f7fULL;

	return ~(((x & low7) + low7) | x | low7);
}

/* w with its ASCII capitals in lower case, and nothing else changed. */
static __always_inline __u64 hm_lower_word(__u64 w)
{
	__u64 h = w & 0x7f7f7f7f7f7f7f7fULL;
	__u64 ge_a = h + HM_ONES * (0x80 - 'A'); /* 0x80 set from 'A' up */
	__u64 gt_z = h + HM_ONES * (0x80 - 'Z' - 1); /* 0x80 set past 'Z' */

	return w | (((ge_a & ~gt_z & ~w) & HM_HIGHS) >> 2);
}

/* The host name now in s->hkey (len bytes, the rest zero) is the request's host. */
static __always_inline void hm_host_take(struct hm_scratch *s, struct hm_conn *c,
					 struct hm_config *cfg, struct hm_dir *d, __u32 len)
{
	/* A trailing dot (an absolute name) names the same host. */
	if (len && s->hkey.name[(len - 1) & (HM_HOST_LEN - 1)] == '.') {
		len--;
		s->hkey.name[len & (HM_HOST_LEN - 1)] = 0;
	}
	d->host = len ? hm_host_id(s, c, cfg) : HM_HOST_NONE;
	d->hseen = 1;
}

/* A Host value the byte grammar reads (one the window cuts): into c->hn. */
static __always_inline void hm_host_begin(struct hm_conn *c, struct hm_dir *d)
{
#pragma unroll
	for (int i = 0; i < HM_HOST_LEN / 8; i++)
		c->hn[i] = 0;
	c->hn_epoch = 0; /* hn no longer names hn_id */
	d->hphase = HM_HOST_OWS;
	d->hlen = 0;
	d->state = HM_P_HDR_HOST;
}

/*
 * A Host value that starts at s->off (just past "host:"): when its line ends
 * inside the window, the name - lower case, without blanks, a port or a
 * trailing dot - into s->hkey and its id into the request's host, and the
 * line is taken, LF included.  Otherwise the byte grammar reads it.  A word
 * at a time; a global function.
 */
__noinline int hm_h_host(struct hm_scratch *s, struct hm_conn *c, struct hm_config *cfg)
{
	__u64 *k, w, t, b, m;
	__u32 off, lf, pos, idx, len = HM_HOST_LEN + 1, cand;
	struct hm_dir *d;
	bool v6;

	if (!s || !c || !cfg)
		return HM_STEP_DONE;
	d = &c->dir[s->side & 1];
	off = s->off;
	lf = hm_find_lf(s, off, hm_win_end(s));
	if (!(lf & HM_LF_FOUND)) {
		hm_host_begin(c, d);
		return HM_STEP_BYTES;
	}
	lf &= ~HM_LF_FOUND;
	/* Blanks before the value (RFC 9110 5.6.3), at most a word of them. */
	pos = off;
	for (int i = 0; i < 8; i++) {
		__u8 ch = s->win[hm_win_idx(s, pos)];

		if (ch != ' ' && ch != '\t')
			break;
		pos++;
	}
	if (pos - off >= 8) {
		hm_host_begin(c, d);
		return HM_STEP_BYTES;
	}
	idx = hm_win_idx(s, pos);
	v6 = s->win[idx] == '[';
	k = (__u64 *)s->hkey.name;
	/*
	 * The name ends at a blank, CR, LF or a port's colon; an IPv6 literal
	 * just after its closing bracket.  The LF lies in the window, so the
	 * first word that holds an end decides, and bytes past it are masked.
	 */
#pragma unroll
	for (int i = HM_HOST_LEN / 8 - 1; i >= 0; i--) {
		w = hm_load64(&s->win[idx + i * 8]);
		k[i] = hm_lower_word(w);
		t = hm_find_byte(w, ' ') | hm_find_byte(w, '\t') | hm_find_byte(w, '\r') |
		    hm_find_byte(w, '\n') | (v6 ? 0 : hm_find_byte(w, ':'));
		b = v6 ? hm_find_byte(w, ']') : 0;
		m = t | b;
		if (m) {
			cand = i * 8 + hm_low_byte(m);
			/* a bracket ends the name after itself */
			if (b && (!t || hm_low_byte(b) < hm_low_byte(t)))
				cand++;
			len = cand;
		}
	}
	if (len > HM_HOST_LEN) {
		len = HM_HOST_LEN;
		hm_count(s->gen, HM_MON_HOST_TRUNCATED, 1);
	}
#pragma unroll
	for (int i = 0; i < HM_HOST_LEN / 8; i++)
		k[i] = hm_keep(k[i], (__s32)len - i * 8);
	hm_host_take(s, c, cfg, d, len);
	s->off = lf;
	d->line_len = 0;
	d->state = HM_P_HDR;
	return HM_STEP_NEXT;
}

static __always_inline void hm_host_byte(struct hm_conn *c, struct hm_dir *d, __u8 ch)
{
	bool blank = ch == ' ' || ch == '\t' || ch == '\r';

	if (d->hphase == HM_HOST_OWS) {
		if (blank)
			return;
		d->hphase = ch == '[' ? HM_HOST_IPV6 : HM_HOST_NAME;
	}
	if (d->hphase == HM_HOST_REST || blank || (d->hphase == HM_HOST_NAME && ch == ':')) {
		d->hphase = HM_HOST_REST;
		return;
	}
	if (d->hlen < HM_HOST_LEN)
		((__u8 *)c->hn)[d->hlen & (HM_HOST_LEN - 1)] =
			ch >= 'A' && ch <= 'Z' ? ch | 0x20 : ch;
	if (d->hlen <= HM_HOST_LEN)
		d->hlen++; /* HM_HOST_LEN + 1: it was cut */
	if (d->hphase == HM_HOST_IPV6 && ch == ']')
		d->hphase = HM_HOST_REST;
}

/* The LF of a Host line the byte grammar read: its name is the request's host. */
__noinline int hm_host_done(struct hm_scratch *s, struct hm_conn *c, struct hm_config *cfg)
{
	__u64 *k;
	__u32 len;
	struct hm_dir *d;

	if (!s || !c || !cfg)
		return HM_STEP_DONE;
	d = &c->dir[s->side & 1];
	len = d->hlen;
	if (len > HM_HOST_LEN) {
		len = HM_HOST_LEN;
		hm_count(s->gen, HM_MON_HOST_TRUNCATED, 1);
	}
	k = (__u64 *)s->hkey.name;
#pragma unroll
	for (int i = 0; i < HM_HOST_LEN / 8; i++)
		k[i] = c->hn[i];
	hm_host_take(s, c, cfg, d, len);
	d->state = HM_P_HDR;
	return HM_STEP_NEXT;
}

/*
 * Lines, from LF to LF a word at a time: the rest of a start line, header
 * lines and the empty line that ends them, and the lines of chunked framing
 * that only wait for their LF.  At each header line start with
 * HM_LINE_PEEK bytes at hand the name is compared as words: Content-Length
 * is read here, Transfer-Encoding and lines cut by the segment's end go to
 * the byte grammar.
 */
__noinline int hm_h_lines(struct hm_scratch *s, struct hm_conn *c, struct hm_config *cfg)
{
	__u32 off, end, seg_end, win_off, idx, n, have, pos;
	struct hm_dir *d;
	__u64 w0, w1, w2, m;

	if (!s || !c || !cfg)
		return HM_STEP_DONE;
	d = &c->dir[s->side & 1];
	/* The window and the segment do not move during a call. */
	seg_end = s->end;
	end = hm_win_end(s);
	win_off = s->win_off;
	while (hm_loop) {
		off = s->off;
		if (off >= seg_end)
			return HM_STEP_DONE;
		if (off >= end)
			return HM_STEP_LOAD;
		idx = (off - win_off) & (HM_WIN - 1);
		have = end - off;

		if (d->state == HM_P_HDR) {
			if (have < HM_LINE_PEEK && end < seg_end)
				return HM_STEP_LOAD; /* the window starts here next */
			/* The line's first bytes as words; past the segment's end, zeros. */
			w0 = hm_keep(hm_load64(&s->win[idx]), have);
			w1 = hm_keep(hm_load64(&s->win[idx + 8]), have - 8);
			w2 = hm_keep(hm_load64(&s->win[idx + 16]), have - 16);
			if ((w0 & 0xffff) == HM_C8('\r', '\n', 0, 0, 0, 0, 0, 0) || (w0 & 0xff) == '\n') {
				n = (w0 & 0xff) == '\n' ? 1 : 2;
				s->off = off + n;
				hm_headers_done(s, c, d, cfg);
				return HM_STEP_NEXT;
			}
			/*
			 * A line the segment's end cuts before its LF: its name
			 * may go on in the next segment, which only the byte
			 * grammar follows (so does a lone CR).
			 */
			if ((w0 & 0xff) == '\r' ||
			    (have < HM_LINE_PEEK && !(hm_find_byte(w0, '\n') | hm_find_byte(w1, '\n') |
						       hm_find_byte(w2, '\n'))))
				return HM_STEP_BYTES;
			w0 |= HM_LOWER;
			w1 |= HM_LOWER;
			w2 |= HM_LOWER;
			if (w0 == HM_C8('c', 'o', 'n', 't', 'e', 'n', 't', '-') &&
			    (w1 & 0x00ffffffffffffffULL) == HM_C8('l', 'e', 'n', 'g', 't', 'h', ':', 0)) {
				n = hm_cl_value(s, d, off + HM_HDR_CL_LEN);
				s->off = off + HM_HDR_CL_LEN;
				if (!n) {
					/* The value runs past the window: byte by byte. */
					d->line_len = HM_HDR_CL_LEN;
					d->acc = 0;
					d->flags &= ~HM_DF_DIGITS;
					d->state = HM_P_HDR_CL;
					return HM_STEP_BYTES;
				}
				s->off = off + HM_HDR_CL_LEN + n;
				continue;
			}
			if ((w0 & 0xffffffffffULL) == HM_C8('h', 'o', 's', 't', ':', 0, 0, 0) &&
			    hm_wants_host(d, cfg)) {
				s->off = off + HM_HDR_HOST_LEN;
				d->line_len = HM_HDR_HOST_LEN;
				return HM_STEP_HOST; /* a frame of its own: the stack */
			}
			if (w0 == HM_C8('t', 'r', 'a', 'n', 's', 'f', 'e', 'r') &&
			    w1 == HM_C8('-', 'e', 'n', 'c', 'o', 'd', 'i', 'n') &&
			    (w2 & 0xffff) == HM_C8('g', ':', 0, 0, 0, 0, 0, 0)) {
				s->off = off + HM_HDR_TE_LEN;
				d->line_len = HM_HDR_TE_LEN;
				d->te_match = 0;
				d->state = HM_P_HDR_TE;
				return HM_STEP_BYTES;
			}
			d->line_len = 0;
			d->state = HM_P_HDR_SKIP;
		} else if (!hm_to_lf_state(d->state)) {
			return HM_STEP_NEXT;
		}

		/* Up to the LF ending the line. */
		pos = hm_find_lf(s, off, end);
		m = pos & HM_LF_FOUND;
		pos &= ~HM_LF_FOUND;
		n = pos - off;
		s->off = pos;
		if (d->line_len + n > HM_MAX_LINE) {
			hm_lost(s, d, HM_MON_TRUNCATED);
			return HM_STEP_DONE;
		}
		if (!m) {
			d->line_len += n;
			continue;
		}
		hm_line_done(s, d);
	}
	return HM_STEP_NEXT;
}

/* --- the byte grammar ------------------------------------------------------------- */

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

static __always_inline __u8 hm_hdr_host_at(__u32 pos)
{
	return hm_char_at(HM_C8('h', 'o', 's', 't', ':', 0, 0, 0), 0, 0, pos);
}

static __always_inline __u8 hm_chunked_at(__u32 pos)
{
	return hm_char_at(HM_C8('c', 'h', 'u', 'n', 'k', 'e', 'd', 0), 0, 0, pos);
}

/* One byte of the byte grammar.  Returns an enum hm_step when the driver must take over. */
static __always_inline int hm_byte(struct hm_scratch *s, struct hm_conn *c, struct hm_dir *d,
				   struct hm_config *cfg, __u8 ch)
{
	__u8 lc = hm_lower(ch);
	int v;

	switch (d->state) {
	case HM_P_START:
		d->start.b[d->start_len & (HM_START_BUF - 1)] = ch;
		d->start_len++;
		hm_classify(&d->start, d->start_len, &s->cls,
			    HM_CLS_ALLOC | (s->gen ? HM_CLS_GEN1 : 0));
		if (s->cls.kind == HM_MSG_MORE) {
			if (ch != '\n' && d->start_len < HM_START_MAX)
				return -1;
			s->cls.kind = HM_MSG_NONE; /* it ended, or grew, before it could be one */
		}
		d->state = HM_P_START_READY;
		return HM_STEP_NEXT;
	case HM_P_HDR:
		if (ch == '\r') {
			d->state = HM_P_HDR_END;
		} else if (ch == '\n') {
			hm_headers_done(s, c, d, cfg);
			return HM_STEP_NEXT;
		} else {
			d->hcand = (lc == 'c' ? 1 : 0) | (lc == 't' ? 2 : 0) |
				   (lc == 'h' && hm_wants_host(d, cfg) ? 4 : 0);
			d->hpos = 1;
			d->line_len = 1;
			d->state = d->hcand ? HM_P_HDR_NAME : HM_P_HDR_SKIP;
			if (!d->hcand)
				return HM_STEP_NEXT;
		}
		return -1;
	case HM_P_HDR_NAME: {
		__u32 pos = d->hpos;

		if (ch == '\n') {
			d->state = HM_P_HDR;
			return HM_STEP_NEXT;
		}
		if ((d->hcand & 1) && (pos >= HM_HDR_CL_LEN || lc != hm_hdr_cl_at(pos)))
			d->hcand &= ~1;
		if ((d->hcand & 2) && (pos >= HM_HDR_TE_LEN || lc != hm_hdr_te_at(pos)))
			d->hcand &= ~2;
		if ((d->hcand & 4) && (pos >= HM_HDR_HOST_LEN || lc != hm_hdr_host_at(pos)))
			d->hcand &= ~4;
		d->hpos = ++pos;
		d->line_len = pos;
		if ((d->hcand & 1) && pos == HM_HDR_CL_LEN) {
			d->acc = 0;
			d->flags &= ~HM_DF_DIGITS;
			d->state = HM_P_HDR_CL;
		} else if ((d->hcand & 2) && pos == HM_HDR_TE_LEN) {
			d->te_match = 0;
			d->state = HM_P_HDR_TE;
		} else if ((d->hcand & 4) && pos == HM_HDR_HOST_LEN) {
			hm_host_begin(c, d);
		} else if (!d->hcand) {
			d->state = HM_P_HDR_SKIP;
			return HM_STEP_NEXT;
		}
		return -1;
	}
	case HM_P_HDR_CL:
		if (ch >= '0' && ch <= '9') {
			if (d->acc > HM_MAX_CL / 10)
				d->flags |= HM_DF_BAD;
			else
				d->acc = d->acc * 10 + (ch - '0');
			d->flags |= HM_DF_DIGITS;
		} else if (ch == '\n') {
			/* RFC 9112 6.3: differing or unparseable lengths are fatal. */
			if (!(d->flags & HM_DF_DIGITS) || ((d->flags & HM_DF_CL) && d->cl != d->acc))
				d->flags |= HM_DF_BAD;
			d->cl = d->acc;
			d->flags |= HM_DF_CL;
			d->state = HM_P_HDR;
			return HM_STEP_NEXT;
		} else if (ch != ' ' && ch != '\t' && ch != '\r') {
			d->flags |= HM_DF_BAD;
			d->state = HM_P_HDR_SKIP;
			return HM_STEP_NEXT;
		}
		return -1;
	case HM_P_HDR_TE:
		if (ch == '\n') {
			d->state = HM_P_HDR;
			return HM_STEP_NEXT;
		} else if (d->te_match < HM_CHUNKED_LEN && lc == hm_chunked_at(d->te_match)) {
			if (++d->te_match == HM_CHUNKED_LEN)
				d->flags |= HM_DF_CHUNKED;
		} else {
			d->te_match = lc == 'c';
		}
		return -1;
	case HM_P_HDR_HOST:
		if (ch == '\n') {
			d->state = HM_P_HOST_READY; /* hm_host_done, in a frame of its own */
			return HM_STEP_NEXT;
		}
		hm_host_byte(c, d, ch);
		return -1;
	case HM_P_HDR_END:
		if (ch == '\n')
			hm_headers_done(s, c, d, cfg);
		else
			d->state = HM_P_HDR_SKIP;
		return HM_STEP_NEXT;
	case HM_P_CHUNK_SIZE:
		v = hm_hexval(ch);
		if (v >= 0) {
			if (d->acc >= HM_MAX_CHUNK) {
				hm_lost(s, d, HM_MON_BAD_LENGTH);
				return HM_STEP_DONE;
			}
			d->acc = d->acc * 16 + v;
			d->flags |= HM_DF_DIGITS;
		} else if (ch == ';' || ch == ' ' || ch == '\t') {
			d->state = HM_P_CHUNK_EXT;
			return HM_STEP_NEXT;
		} else if (ch == '\n') {
			hm_chunk_size_done(s, d);
			return HM_STEP_NEXT;
		} else if (ch != '\r') {
			hm_lost(s, d, HM_MON_BAD_LENGTH);
			return HM_STEP_DONE;
		}
		return -1;
	case HM_P_TRAILER:
		if (ch == '\r') {
			d->state = HM_P_TRAILER_END;
			return -1;
		}
		if (ch == '\n')
			hm_msg_end(s, c, d);
		else
			d->state = HM_P_TRAILER_SKIP;
		return HM_STEP_NEXT;
	case HM_P_TRAILER_END:
		if (ch == '\n')
			hm_msg_end(s, c, d);
		else
			d->state = HM_P_TRAILER_SKIP;
		return HM_STEP_NEXT;
	}
	return HM_STEP_NEXT; /* a state another handler takes: the byte was not used */
}

/*
 * The byte grammar: start lines and header
 * lines cut by a segment's end, header values, chunk sizes, trailers.  It
 * returns as soon as the state is one another handler takes faster.
 */
__noinline int hm_h_bytes(struct hm_scratch *s, struct hm_conn *c, struct hm_config *cfg)
{
	struct hm_dir *d;
	__u32 off, state;
	int r;

	if (!s || !c || !cfg)
		return HM_STEP_DONE;
	d = &c->dir[s->side & 1];
	while (hm_loop) {
		off = s->off;
		if (off >= s->end)
			return HM_STEP_DONE;
		if (off >= hm_win_end(s))
			return HM_STEP_LOAD;
		state = d->state;
		if (state != HM_P_START && state != HM_P_HDR && state != HM_P_HDR_NAME &&
		    state != HM_P_HDR_CL && state != HM_P_HDR_TE && state != HM_P_HDR_HOST &&
		    state != HM_P_HDR_END &&
		    state != HM_P_CHUNK_SIZE && state != HM_P_TRAILER && state != HM_P_TRAILER_END)
			return HM_STEP_NEXT;
		s->off = off + 1;
		r = hm_byte(s, c, d, cfg, s->win[hm_win_idx(s, off)]);
		if (r >= 0)
			return r;
	}
	return HM_STEP_NEXT;
}

#endif /* HM_HTTP_H */
