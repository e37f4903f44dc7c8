/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * hm_datapath.h - the per-program-type half of httpmon: reading the packet.
 *
 * This file is a template, included once per context type by
 * httpmon.bpf.c with these defined:
 *   HM_CTX_NAME       suffix of the functions it defines (tc, xdp)
 *   HM_CTX_T          the program's context (struct __sk_buff, struct xdp_md)
 *   HM_CTX_LOAD       its byte-copy helper (bpf_skb_load_bytes, bpf_xdp_load_bytes)
 *   HM_CTX_LEN(ctx)   the packet's length, all fragments included
 * Everything else - the HTTP framing (hm_http.h) and the bookkeeping
 * (hm_account.h) - is shared source; only these few functions differ,
 * because the verifier allows each helper in its own program types only.
 */

#ifndef HM_CAT
#define HM_CAT_(a, b) a##_##b
#define HM_CAT(a, b) HM_CAT_(a, b)
#endif
#define HM_FN(name) HM_CAT(name, HM_CTX_NAME)

static __always_inline int HM_FN(hm_win_load)(struct hm_walk *w, __u32 off)
{
	struct hm_scratch *s = w->s;
	__u64 len = w->s->end - off;

	if (len > HM_WIN)
		len = HM_WIN;
	/* Keep the clamped value in a register: clang would otherwise pass the
	 * unclamped one and rely on the compare, which the verifier cannot see. */
	asm volatile("" : "+r"(len));
	if (len == 0 || len > HM_WIN || HM_CTX_LOAD((HM_CTX_T *)w->ctx, off, s->win, len) < 0) {
		hm_lost(w->d, HM_MON_LOAD_ERRORS);
		return -1;
	}
	s->win_off = off;
	s->win_len = len;
	return 0;
}

/* bpf_loop callback: one step of the walk; returns 1 to stop. */
static long HM_FN(hm_step)(__u32 i, void *arg)
{
	struct hm_walk *w = arg;
	struct hm_dir *d = w->d;
	struct hm_scratch *s = w->s;
	__u32 off = w->s->off, idx, k, n;
	__u64 avail;
	__u8 ch;

	if (off >= w->s->end)
		return 1;
	avail = w->s->end - off;

	switch (d->state) {
	case HM_P_BODY:
	case HM_P_CHUNK_DATA:
		n = avail < d->remaining ? avail : d->remaining;
		w->s->off = off + n;
		hm_consume(w, n);
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
		hm_consume(w, avail);
		return 1;
	case HM_P_LOST:
		return 1;
	case HM_P_TARGET:
		if (d->tpend) {
			ch = d->start.b[(d->tpend - 1) & (HM_START_BUF - 1)];
			d->tpend = 0;
			goto target; /* one call site of the target parser: the verifier's states */
		}
		break;
	case HM_P_IDLE:
		if (w->conn->tunnel) {
			/*
			 * The connection switched protocols: what follows is
			 * opaque, the bytes of the exchange that switched it.
			 */
			d->state = HM_P_UNTIL_CLOSE;
			d->flags |= HM_DF_ROUTED;
			return 0;
		}
	}

	if (off < s->win_off || off - s->win_off >= s->win_len)
		if (HM_FN(hm_win_load)(w, off))
			return 1;
	idx = (off - s->win_off) & (HM_WIN - 1);

	/*
	 * The start of a header line with its first 24 bytes at hand: the two
	 * names the framing needs are compared as words, lower-cased with 0x20
	 * (which only confuses them with lines no peer sends), and any other
	 * line goes straight to the LF scan below, in this same step.
	 */
	if (d->state == HM_P_HDR && avail >= HM_LF_SPAN && idx + HM_LF_SPAN > s->win_len) {
		if (HM_FN(hm_win_load)(w, off))
			return 1;
		idx = 0;
	}
	if (d->state == HM_P_HDR && idx + HM_LF_SPAN <= s->win_len &&
	    s->win[idx] != '\r' && s->win[idx] != '\n') {
		__u64 w0, w1, w2, lower = 0x2020202020202020ULL;

		__builtin_memcpy(&w0, &s->win[idx], 8);
		__builtin_memcpy(&w1, &s->win[idx + 8], 8);
		__builtin_memcpy(&w2, &s->win[idx + 16], 8);
		w0 |= lower;
		w1 |= lower;
		w2 |= lower;
		if (w0 == HM_C8('c', 'o', 'n', 't', 'e', 'n', 't', '-') &&
		    (w1 & 0x00ffffffffffffffULL) == HM_C8('l', 'e', 'n', 'g', 't', 'h', ':', 0)) {
			w->s->off = off + HM_HDR_CL_LEN;
			hm_consume(w, HM_HDR_CL_LEN);
			d->line_len = HM_HDR_CL_LEN;
			d->acc = 0;
			d->flags &= ~HM_DF_DIGITS;
			d->state = HM_P_HDR_CL;
			return 0;
		}
		if (w0 == HM_C8('t', 'r', 'a', 'n', 's', 'f', 'e', 'r') &&
		    w1 == HM_C8('-', 'e', 'n', 'c', 'o', 'd', 'i', 'n') &&
		    (w2 & 0xffff) == HM_C8('g', ':', 0, 0, 0, 0, 0, 0)) {
			w->s->off = off + HM_HDR_TE_LEN;
			hm_consume(w, HM_HDR_TE_LEN);
			d->line_len = HM_HDR_TE_LEN;
			d->te_match = 0;
			d->state = HM_P_HDR_TE;
			return 0;
		}
		d->line_len = 0;
		d->state = HM_P_HDR_SKIP;
	}

	if (hm_to_lf_state(d->state)) {
		/*
		 * Look for LF up to HM_LF_SPAN bytes per step, a word at a time:
		 * the zero-byte test on w ^ 0x0a.. says whether a word holds a
		 * LF at all; only then are its bytes looked at one by one.  A
		 * loop over the whole window here would multiply the verifier's
		 * states by the window size.
		 */
		__u64 v, x, ones = 0x0101010101010101ULL;
		__u32 have = s->win_len - idx, n;

#pragma unroll
		for (int j = 0; j < HM_LF_SPAN / 8; j++) {
			if (j * 8 >= have)
				break;
			__builtin_memcpy(&v, &s->win[idx + j * 8], sizeof(v));
			x = v ^ (ones * '\n');
			if (!((x - ones) & ~x & (ones * 0x80)))
				continue;
#pragma unroll
			for (k = 0; k < 8; k++) {
				if (j * 8 + k < have && (__u8)(v >> (k * 8)) == '\n') {
					w->s->off = off + j * 8 + k + 1;
					hm_consume(w, j * 8 + k + 1);
					hm_line_done(d);
					return 0;
				}
			}
		}
		n = have < HM_LF_SPAN ? have : HM_LF_SPAN;
		w->s->off = off + n;
		hm_consume(w, n);
		d->line_len += n;
		if (d->line_len > HM_MAX_LINE)
			hm_lost(d, HM_MON_TRUNCATED);
		return 0;
	}

	/*
	 * A message start: its first HM_START_MAX bytes (or all the segment
	 * has left, when fewer) are classified at once.  A request takes its
	 * method and space; the target follows in the next steps.
	 */
	if (d->state == HM_P_IDLE && s->win[idx] != '\r' && s->win[idx] != '\n') {
		n = avail < HM_START_MAX ? avail : HM_START_MAX;
		if (idx + n > s->win_len) {
			if (HM_FN(hm_win_load)(w, off))
				return 1;
			idx = 0;
		}
		*(__u64 *)&d->start.b[0] = hm_load64(&s->win[idx]);
		*(__u64 *)&d->start.b[8] = hm_load64(&s->win[idx + 8]);
		*(__u64 *)&d->start.b[16] = hm_load64(&s->win[idx + 16]);
		hm_msg_begins(w, off);
		hm_classify(&d->start, n, &s->cls, 1);
		if (s->cls.kind == HM_MSG_MORE) {
			/* The segment ends inside the start line: the rest byte by byte. */
			d->start_len = n;
			d->state = HM_P_START;
			w->s->off = off + n;
			return 0;
		}
		n = s->cls.kind == HM_MSG_NONE ? 0 : s->cls.used;
		w->s->off = off + n;
		goto start;
	}

	w->s->off = off + 1;
	if (d->state == HM_P_TARGET) {
		hm_consume(w, 1);
		ch = s->win[idx];
target:
		hm_target_byte(w, ch);
		return 0;
	}
	if (!hm_byte(w, s->win[idx]))
		return 0;

	/*
	 * A start line collected byte by byte (it straddles segments): a
	 * request is decided at its method's space - for an extension method
	 * at the target's first byte, which the target parser takes next.
	 */
	n = d->start_len;
	hm_classify(&d->start, n, &s->cls, 1);
	if (s->cls.kind == HM_MSG_MORE) {
		if (d->start.b[(n - 1) & (HM_START_BUF - 1)] != '\n' && n < HM_START_MAX)
			return 0;
		s->cls.kind = HM_MSG_NONE; /* it ended, or grew, before it could be one */
	}
start:
	/* One call site: the start's bookkeeping is verified once per step. */
	hm_start_done(w, n);
	if (s->cls.kind == HM_MSG_REQUEST && n > s->cls.used && d->state == HM_P_TARGET)
		d->tpend = n;
	return 0;
}

/*
 * Parses the new payload bytes [s->off, s->end) that side s->side sent on
 * connection c.  On return s->bytes holds how many belonged to HTTP messages
 * and s->delta what the segment adds to the client's rows.
 */
static __always_inline void HM_FN(hm_http_walk)(HM_CTX_T *ctx, struct hm_conn *c,
						struct hm_scratch *s, struct hm_config *cfg)
{
	struct hm_walk w = {
		.ctx = ctx,
		.s = s,
		.conn = c,
		.d = s->side ? &c->dir[1] : &c->dir[0],
		.cfg = cfg,
	};
	struct hm_dir *d = w.d;
	__u32 first = s->off;

	if (d->state == HM_P_LOST) {
		/* Framing was lost: a segment that starts a message resumes it. */
		d->state = HM_P_IDLE;
		d->flags |= HM_DF_PROBE;
	}
	bpf_loop(HM_MAX_STEPS, HM_FN(hm_step), &w, 0);
	if (s->off < s->end && d->state != HM_P_LOST)
		hm_lost(d, HM_MON_PARSE_BUDGET);
	/*
	 * After a loss, framing resumes only at a segment that holds a whole
	 * start: one that ends undecided is more likely the middle of a body.
	 */
	if ((d->flags & HM_DF_PROBE) && d->state == HM_P_START)
		d->state = HM_P_LOST;
	/*
	 * Framing lost in or before this segment: its bytes still belong to
	 * the connection's messages (only not to a route).
	 */
	if (d->state == HM_P_LOST)
		s->bytes = s->end - first;
	d->flags &= ~HM_DF_PROBE;
	hm_route_flush(&w); /* the rest of the message follows in later segments */
}

static __always_inline int HM_FN(hm_parse_ipv6)(HM_CTX_T *ctx, __u32 pkt_len, __u32 *off,
					 struct hm_pkt *p, __u32 *ip_end)
{
	struct ipv6hdr ip6;
	__u8 nh;

	if (HM_CTX_LOAD(ctx, *off, &ip6, sizeof(ip6)) < 0)
		return -1;
	if (ip6.version != 6)
		return -1;
	__builtin_memcpy(p->src.a, &ip6.saddr, 16);
	__builtin_memcpy(p->dst.a, &ip6.daddr, 16);
	/* payload_len 0 is a jumbogram (BIG TCP): the packet length is the truth. */
	*ip_end = ip6.payload_len ? *off + sizeof(ip6) + bpf_ntohs(ip6.payload_len)
				  : pkt_len;
	*off += sizeof(ip6);
	nh = ip6.nexthdr;

#pragma unroll
	for (int i = 0; i < HM_IPV6_EXT_MAX; i++) {
		__u8 ext[8];

		if (nh == IPPROTO_TCP)
			return 0;
		if (nh != IPV6_NH_HOP && nh != IPV6_NH_ROUTING && nh != IPV6_NH_DSTOPTS &&
		    nh != IPV6_NH_FRAGMENT && nh != IPV6_NH_AH)
			return -1;
		if (HM_CTX_LOAD(ctx, *off, ext, sizeof(ext)) < 0)
			return -1;
		if (nh == IPV6_NH_FRAGMENT) {
			/* Offset is the top 13 bits of bytes 2-3: only the first fragment has TCP. */
			if ((ext[2] << 8 | ext[3]) & 0xfff8) {
				hm_count(HM_MON_IP_FRAGMENTS, 1);
				return -1;
			}
			*off += 8;
		} else if (nh == IPV6_NH_AH) {
			*off += (ext[1] + 2) * 4;
		} else {
			*off += (ext[1] + 1) * 8;
		}
		nh = ext[0];
	}
	if (nh == IPPROTO_TCP)
		return 0;
	hm_count(HM_MON_IPV6_EXT_LIMIT, 1);
	return -1;
}

static __always_inline int HM_FN(hm_parse_ipv4)(HM_CTX_T *ctx, __u32 pkt_len, __u32 *off,
					 struct hm_pkt *p, __u32 *ip_end)
{
	struct iphdr ip;
	__u32 tot;

	if (HM_CTX_LOAD(ctx, *off, &ip, sizeof(ip)) < 0)
		return -1;
	if (ip.version != 4 || ip.ihl < 5 || ip.protocol != IPPROTO_TCP)
		return -1;
	if (bpf_ntohs(ip.frag_off) & 0x1fff) {
		hm_count(HM_MON_IP_FRAGMENTS, 1);
		return -1;
	}
	/* ::ffff:a.b.c.d, so IPv4 and IPv6 share one key type. */
	__builtin_memset(p->src.a, 0, 10);
	__builtin_memset(p->dst.a, 0, 10);
	p->src.a[10] = p->src.a[11] = 0xff;
	p->dst.a[10] = p->dst.a[11] = 0xff;
	__builtin_memcpy(&p->src.a[12], &ip.saddr, 4);
	__builtin_memcpy(&p->dst.a[12], &ip.daddr, 4);
	/* tot_len 0 happens on GSO packets above 64 KiB (BIG TCP). */
	tot = bpf_ntohs(ip.tot_len);
	*ip_end = tot ? *off + tot : pkt_len;
	*off += ip.ihl * 4;
	return 0;
}

/*
 * Ethernet -> [VLAN tags] -> IPv4/IPv6 -> TCP.  0 when p describes a TCP
 * segment.  Global functions like this one are verified once, on their own:
 * the many paths through the headers do not multiply the states of the
 * caller.
 */
__noinline int HM_FN(hm_parse_pkt)(HM_CTX_T *ctx, struct hm_pkt *p)
{
	__u32 off = ETH_HLEN, ip_end, pkt_len = HM_CTX_LEN(ctx);
	struct tcphdr tcp;
	__be16 proto;
	int err;

	if (!p)
		return -1;
	if (HM_CTX_LOAD(ctx, offsetof(struct ethhdr, h_proto), &proto,
			       sizeof(proto)) < 0)
		return -1;
	/* On TC a tag the driver stripped sits in skb->vlan_tci; these are the ones left in the packet. */
#pragma unroll
	for (int i = 0; i < HM_VLAN_MAX; i++) {
		if (proto != bpf_htons(ETH_P_8021Q) && proto != bpf_htons(ETH_P_8021AD))
			break;
		if (HM_CTX_LOAD(ctx, off + 2, &proto, sizeof(proto)) < 0)
			return -1;
		off += 4;
	}
	if (proto == bpf_htons(ETH_P_IP))
		err = HM_FN(hm_parse_ipv4)(ctx, pkt_len, &off, p, &ip_end);
	else if (proto == bpf_htons(ETH_P_IPV6))
		err = HM_FN(hm_parse_ipv6)(ctx, pkt_len, &off, p, &ip_end);
	else
		return -1;
	if (err)
		return -1;

	if (HM_CTX_LOAD(ctx, off, &tcp, sizeof(tcp)) < 0)
		return -1;
	if (tcp.doff < 5)
		return -1;
	if (ip_end > pkt_len)
		ip_end = pkt_len;
	p->sport = bpf_ntohs(tcp.source);
	p->dport = bpf_ntohs(tcp.dest);
	/* Data on a SYN (TCP Fast Open) starts after the SYN's own sequence number. */
	p->seq = bpf_ntohl(tcp.seq) + tcp.syn;
	p->ack = bpf_ntohl(tcp.ack_seq);
	p->ack_ok = tcp.ack;
	p->fin = tcp.fin;
	p->rst = tcp.rst;
	p->payload_off = off + tcp.doff * 4;
	p->payload_end = ip_end > p->payload_off ? ip_end : p->payload_off;
	return 0;
}

/*
 * Cheap test on the first payload bytes: does this segment start an HTTP
 * message?  Only such a segment creates connection state, so non-HTTP flows
 * and connections joined mid-body cost one short read and no map entry.  A
 * segment too short to decide counts when it could be the beginning of a
 * start line ("GE" of a request line split by the sender).
 */
static __always_inline bool HM_FN(hm_starts_message)(HM_CTX_T *ctx, const struct hm_pkt *p,
						     struct hm_scratch *s)
{
	__u64 len = p->payload_end - p->payload_off;

	if (len > HM_START_MAX)
		len = HM_START_MAX;
	asm volatile("" : "+r"(len)); /* bound-check the register that is passed */
	if (len == 0 || len > HM_START_MAX ||
	    HM_CTX_LOAD(ctx, p->payload_off, s->sb.b, len) < 0)
		return false;
	hm_classify(&s->sb, len, &s->cls, 0);
	return s->cls.kind != HM_MSG_NONE;
}

/* The framing walk of one segment, verified once as a global function. */
__noinline int HM_FN(hm_walk_segment)(HM_CTX_T *ctx, struct hm_conn *c, struct hm_scratch *s,
				struct hm_config *cfg)
{
	if (!c || !s || !cfg)
		return 0;
	HM_FN(hm_http_walk)(ctx, c, s, cfg);
	return 0;
}

/*
 * One segment, seen on interface ifindex at hook egress (0: ingress, 1:
 * egress).
 */
static __always_inline void HM_FN(hm_handle)(HM_CTX_T *ctx, __u32 ifindex, __u32 egress)
{
	struct hm_pkt p = {};
	struct hm_conn_key key = {};
	struct hm_scratch *s;
	struct hm_config *cfg;
	struct hm_conn *c;
	__u32 zero = 0, side, skip = 0, plen, late = 0, seen = ifindex << 1 | (egress & 1);
	__s32 delta_seq;
	bool ends = false;

	if (HM_FN(hm_parse_pkt)(ctx, &p))
		return;
	plen = p.payload_end - p.payload_off;
	if (!plen && !p.fin && !p.rst)
		return; /* pure ACK or SYN */

	cfg = bpf_map_lookup_elem(&hm_config, &zero);
	if (!cfg)
		return;
	if (cfg->layout_version == 0)
		cfg->layout_version = HM_LAYOUT_VERSION; /* stamp for readers of a tc-loaded set */
	if ((cfg->flags & HM_CFG_PORT_FILTER) && !hm_port_watched(cfg, p.sport) &&
	    !hm_port_watched(cfg, p.dport))
		return;

	s = bpf_map_lookup_elem(&hm_scratch, &zero);
	if (!s)
		return;
	side = hm_conn_key_of(&p, &key);
	c = bpf_map_lookup_elem(&hm_conns, &key);
	if (!c) {
		if (!plen)
			return;
		if (!HM_FN(hm_starts_message)(ctx, &p, s)) {
			/* Not HTTP, or joined in the middle of a message: one short read, no state. */
			hm_count(HM_MON_IGNORED_SEGMENTS, 1);
			return;
		}
		/* The initial value is built in scratch: it is too big for the stack. */
		__builtin_memset(&s->fresh, 0, sizeof(s->fresh));
		s->fresh.client = HM_SIDE_UNKNOWN;
		s->fresh.last_seen = bpf_ktime_get_ns(); /* before the sweep can see it */
		s->fresh.ifindex = ifindex; /* the connection's rows: where it was first seen */
		if (bpf_map_update_elem(&hm_conns, &key, &s->fresh, BPF_NOEXIST) &&
		    bpf_map_update_elem(&hm_conns, &key, &s->fresh, BPF_ANY)) {
			hm_count(HM_MON_CONN_CREATE_FAILED, 1);
			return;
		}
		c = bpf_map_lookup_elem(&hm_conns, &key);
		if (!c)
			return;
		hm_count(HM_MON_CONNS_OPENED, 1);
	}
	__builtin_memset(&s->delta, 0, sizeof(s->delta));

	if (plen) {
		struct hm_dir *d = &c->dir[side & 1];

		hm_count(HM_MON_SEGMENTS, 1);
		if (!d->seq_valid) {
			d->next_seq = p.seq;
			d->seq_valid = 1;
		}
		/*
		 * The peer's first byte the monitor will see is the one this
		 * segment acknowledges next: starting there, a lost first
		 * segment of the other direction shows as a gap.  The one
		 * write to the peer's parser, before its first segment; racing
		 * with that segment on another CPU only moves where the first
		 * gap check starts.
		 */
		if (!c->dir[(side ^ 1) & 1].seq_valid && p.ack_ok) {
			c->dir[(side ^ 1) & 1].next_seq = p.ack;
			c->dir[(side ^ 1) & 1].seq_valid = 1;
		}
		/* Serial-number arithmetic: wraps at 2^32 like TCP itself. */
		delta_seq = p.seq - d->next_seq;
		if (delta_seq < 0) {
			late = hm_hole_fill(d, p.seq, plen);
			if (late)
				hm_count(HM_MON_HOLE_BYTES, late);
			if ((__s64)plen + delta_seq <= 0) {
				if (late) {
					hm_count(HM_MON_RETRANS_BYTES, plen - late);
				} else if (d->seen_at != seen) {
					/* The same segment at a second monitored hook. */
					hm_count(HM_MON_REPEAT_SEGMENTS, 1);
				} else {
					hm_count(HM_MON_RETRANS_SEGMENTS, 1);
					hm_count(HM_MON_RETRANS_BYTES, plen);
				}
				goto close;
			}
			skip = -delta_seq; /* resent head of a segment with new bytes */
			hm_count(HM_MON_RETRANS_BYTES, skip - late);
		} else if (delta_seq > 0) {
			/*
			 * Bytes the monitor never saw; when they come (the
			 * retransmission, or a reordered segment) they are
			 * counted, not parsed (hm_hole_fill).
			 */
			hm_count(HM_MON_SEQ_GAPS, 1);
			d->hole_start = d->next_seq;
			d->hole_end = p.seq;
			if (d->state == HM_P_UNTIL_CLOSE ||
			    ((d->state == HM_P_BODY || d->state == HM_P_CHUNK_DATA) &&
			     (__u64)delta_seq <= d->remaining)) {
				/* All inside the current body: no message can start
				 * in the gap, so the framing just moves past it. */
				if (d->state != HM_P_UNTIL_CLOSE)
					d->remaining -= delta_seq;
			} else {
				/* The framing resynchronises at a later message start. */
				d->state = HM_P_LOST;
				d->req_ts = 0;
				if (side == c->client)
					c->gap |= HM_GAP_REQ;
				else if (c->client != HM_SIDE_UNKNOWN)
					hm_count(HM_MON_GAP_UNANSWERED,
						 hm_write_off(c, p.ack, p.ack_ok, &s->delta));
			}
		}
		d->next_seq = p.seq + plen;
		d->seen_at = seen;

		s->now = bpf_ktime_get_ns();
		c->last_seen = s->now;
		hm_aging_arm(cfg); /* one read of a flag once the sweep is scheduled */
		s->seq0 = p.seq - p.payload_off;
		s->ack = p.ack;
		s->ack_ok = p.ack_ok;
		s->gap = delta_seq > 0;
		s->off = p.payload_off + skip;
		s->end = p.payload_end;
		s->side = side;
		s->port[0] = key.port[0];
		s->port[1] = key.port[1];
		s->bytes = 0;
		s->win_off = 0;
		s->win_len = 0;
		HM_FN(hm_walk_segment)(ctx, c, s, cfg);
		if (c->client == side)
			s->delta.bytes_in += s->bytes;
		else
			s->delta.bytes_out += s->bytes;
	}
close:
	if (late) { /* bytes that filled a gap count as the connection's own */
		if (c->client == side)
			s->delta.bytes_in += late;
		else
			s->delta.bytes_out += late;
	}
	if (p.fin || p.rst)
		ends = hm_conn_ends(c, &p, side, &s->delta);
	if (c->client != HM_SIDE_UNKNOWN && !hm_delta_empty(&s->delta))
		hm_account(&key, c, cfg, &s->delta, c->ifindex);
	if (ends && !bpf_map_delete_elem(&hm_conns, &key))
		hm_count(HM_MON_CONNS_CLOSED, 1);
}

#undef HM_FN
