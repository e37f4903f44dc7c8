/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * hm_target.h - stage 4: the request target becomes a route.
 *
 * The target streams by byte by byte (it may span segments); only the label
 * it becomes is kept (struct hm_route_build in the connection), so the state
 * stays the same size whatever the URL's length.  When the target ends, the
 * label - the first operator pattern that matched, else per route_mode: the
 * first path segments with ids collapsed to {id}, a query parameter's value,
 * or one label per method - is looked up in hm_route_ids, which hands out
 * ids in order of first sight up to max_routes.
 */
#ifndef HM_TARGET_H
#define HM_TARGET_H

#include "hm_ctx.h"
#include "hm_maps.h"

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

/* A new request target of method method: the label starts empty. */
static __always_inline void hm_route_begin(struct hm_route_build *rb, const struct hm_config *cfg,
					   __u32 method)
{
	__builtin_memset(rb, 0, sizeof(*rb));
	rb->method = method;
	rb->pat_cand = (1U << (cfg->npatterns & 15)) - 1;
	if (cfg->npatterns >= HM_MAX_PATTERNS)
		rb->pat_cand = 0xffff;
	rb->qpos = 0xff;
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
	/* The pattern number lives in rb (map memory): the loop verifies in a few passes. */
	rb->pat_i = 0;
	while (hm_loop) {
		struct hm_route_pattern *p;
		__u32 i = rb->pat_i, key = i, j = idx;

		if (i >= HM_MAX_PATTERNS || i >= npatterns)
			break;
		rb->pat_i = i + 1;
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
	rb->pat_i = 0;
	while (hm_loop) {
		struct hm_route_pattern *p;
		__u32 i = rb->pat_i, k = i;

		if (i >= HM_MAX_PATTERNS)
			break;
		rb->pat_i = i + 1;
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

static __always_inline __u32 hm_route_depth(const struct hm_config *cfg)
{
	return cfg->route_depth ? cfg->route_depth : HM_ROUTE_DEPTH_DEFAULT;
}

static __always_inline void hm_seg_end(struct hm_route_build *rb, const struct hm_config *cfg)
{
	if (!(rb->seg_flags & HM_SEG_OPEN))
		return;
	rb->seg_flags &= ~HM_SEG_OPEN;
	if (cfg->route_mode == HM_ROUTE_PATH && rb->segs <= hm_route_depth(cfg) &&
	    hm_seg_is_id(rb)) {
		rb->len = rb->seg_start;
		hm_label_put(rb, '{');
		hm_label_put(rb, 'i');
		hm_label_put(rb, 'd');
		hm_label_put(rb, '}');
	}
	if (rb->pat_cand)
		hm_patterns_step(rb, cfg->npatterns);
}

static __always_inline void hm_seg_byte(struct hm_route_build *rb, const struct hm_config *cfg,
					__u8 c)
{
	bool hex = (c >= '0' && c <= '9') || ((c | 0x20) >= 'a' && (c | 0x20) <= 'f');
	bool keep = cfg->route_mode == HM_ROUTE_PATH;
	__u32 pos = rb->seg_len, depth = hm_route_depth(cfg);

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
static __always_inline void hm_query_byte(struct hm_route_build *rb, const struct hm_config *cfg,
					  __u8 c)
{
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

/*
 * One byte of a request target (origin-form, absolute-form, * or authority).
 * Returns 1 at the byte that ends it: a space, CR or LF.
 */
static __always_inline int hm_target_byte(struct hm_route_build *rb, const struct hm_config *cfg,
					  __u8 c)
{
	if (c == ' ' || c == '\r' || c == '\n')
		return 1;
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
			hm_seg_end(rb, cfg);
		} else if (c == '?') {
			hm_seg_end(rb, cfg);
			rb->phase = HM_TGT_QUERY;
			rb->qpos = 0;
		} else if (c == '#') {
			hm_seg_end(rb, cfg);
			rb->phase = HM_TGT_SKIP;
		} else {
			hm_seg_byte(rb, cfg, c);
		}
		break;
	case HM_TGT_QUERY:
		if (c == '#') {
			rb->qcap = 0;
			rb->phase = HM_TGT_SKIP;
		} else {
			hm_query_byte(rb, cfg, c);
		}
		break;
	}
	return 0;
}

/*
 * The id of the route whose key is in s->rkey; past max_routes named routes
 * or a full id map, _other (routes_full).
 */
static __always_inline __u32 hm_route_id(struct hm_scratch *s, const struct hm_config *cfg)
{
	/* max_routes counts named routes: the ids past _other and _unknown. */
	__u32 max = cfg->max_routes;

	max = max && max < HM_MAX_ROUTES - HM_ROUTE_FIRST ? max + HM_ROUTE_FIRST : HM_MAX_ROUTES;
	return hm_name_id(&hm_route_ids, &s->rkey, HM_SEQ_ROUTES, HM_ROUTE_FIRST, max, s->gen,
			  HM_MON_ROUTES_FULL);
}

/*
 * The target of connection c's current request ended: its label goes to
 * s->rkey, and the route's id is returned.  A keep-alive client asking for
 * the same route again finds the id kept in c (by a hash of the key), with
 * no map lookup.  A global function: verified once.
 */
__noinline __u32 hm_route_of_target(struct hm_conn *c, struct hm_config *cfg, struct hm_scratch *s)
{
	struct hm_route_build *rb;
	struct hm_route_key *key;
	__u64 word, h = 0;
	__u32 mode, len, id;

	if (!c || !cfg || !s)
		return HM_ROUTE_OTHER;
	rb = &c->rb;
	key = &s->rkey;
	mode = cfg->route_mode;
	hm_seg_end(rb, cfg);
	__builtin_memset(key, 0, sizeof(*key));
	key->method = rb->method;
	if (rb->truncated)
		hm_count(s->gen, HM_MON_ROUTE_TRUNCATED, 1);
	if (rb->pat_cand && hm_patterns_match(rb, key))
		return hm_route_id(s, cfg);

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

	/* Copy the label a word at a time, zeroing what lies past its length, and hash it. */
	len = rb->len;
	h = rb->method * 0x9e3779b97f4a7c15ULL;
#pragma unroll
	for (int i = 0; i < HM_ROUTE_LEN / 8; i++) {
		if (i * 8 >= len)
			break;
		__builtin_memcpy(&word, &rb->label[i * 8], 8);
		if (len - i * 8 < 8)
			word &= (1ULL << ((len - i * 8) * 8)) - 1; /* little endian */
		__builtin_memcpy(&key->label[i * 8], &word, 8);
		h = (h ^ word) * 0x100000001b3ULL;
		h ^= h >> 29;
	}
	h ^= len;
	if (c->rt_epoch == cfg->route_epoch + 1 && c->rt_hash == h)
		return c->rt_id;
	id = hm_route_id(s, cfg);
	if (id != HM_ROUTE_OTHER) { /* _other is counted anew each time (routes_full) */
		c->rt_hash = h;
		c->rt_id = id;
		c->rt_epoch = cfg->route_epoch + 1;
	}
	return id;
}

#endif /* HM_TARGET_H */
