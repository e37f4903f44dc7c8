/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * floor.bpf.c - the cost floor of an in-kernel HTTP monitor, for the
 * test_run microbenchmark (scripts/bench/testrun.c).
 *
 * It does the essential work every exact monitor must do per segment, and
 * nothing else: L2-L4 from one copy of the frame's first bytes into per-CPU
 * scratch, an LRU lookup of the connection (created on first sight), a
 * word-at-a-time scan that finds every LF of the header block, the end of
 * headers and Content-Length / Transfer-Encoding, a clock read where a
 * message starts, three per-CPU rows (array-indexed by ids the connection
 * keeps) and a log-linear histogram bucket for a response's latency.  No
 * pipelining ring, no routes, no loss handling, no framing across segments:
 * httpmon's cost is reported against this program's, measured in the same
 * run on the same frames.
 */
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/in.h>
#include <linux/ip.h>
#include <linux/pkt_cls.h>
#include <linux/tcp.h>
#include <bpf/bpf_endian.h>
#include <bpf/bpf_helpers.h>

char LICENSE[] SEC("license") = "Dual BSD/GPL";

#define BUF 512
#define HIST_BUCKETS 418

struct key {
	__u32 addr[2];
	__u16 port[2];
};

struct conn {
	__u32 next_seq[2];
	__u64 req_ts;
	__u32 row[3];
	__u32 _pad;
};

struct row {
	__u64 requests, responses, status[5], bytes_in, bytes_out;
	__u64 lat_count, lat_sum, lat_min, lat_max;
};

struct scratch {
	__u8 buf[BUF + 16];
	__u32 cl_pos; /* where the Content-Length value starts, or 0 */
	__u32 te;     /* a Transfer-Encoding header was seen */
};

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 65536);
	__type(key, struct key);
	__type(value, struct conn);
} fl_conns SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 3 * 1024);
	__type(key, __u32);
	__type(value, struct row);
} fl_rows SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, HIST_BUCKETS);
	__type(key, __u32);
	__type(value, __u64);
} fl_hist SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct scratch);
} fl_scratch SEC(".maps");

#define ONES 0x0101010101010101ULL
#define HIGHS 0x8080808080808080ULL

static __always_inline __u64 ld64(const void *p)
{
	return *(const __u64 *)p;
}

/* Index of the lowest byte flagged in m (a has-zero-byte mask). */
static __always_inline __u32 low_byte(__u64 m)
{
	return (((m & -m) >> 7) * 0x0001020304050607ULL) >> 56;
}

static __always_inline __u32 log2_64(__u64 v)
{
	__u32 k = 0;

	if (v >> 32) { k += 32; v >>= 32; }
	if (v >> 16) { k += 16; v >>= 16; }
	if (v >> 8) { k += 8; v >>= 8; }
	if (v >> 4) { k += 4; v >>= 4; }
	if (v >> 2) { k += 2; v >>= 2; }
	if (v >> 1) k += 1;
	return k;
}

static __always_inline void row_add(__u32 id, __u32 req, __u32 status, __u32 in, __u32 out,
				    __u64 lat)
{
	struct row *r = bpf_map_lookup_elem(&fl_rows, &id);

	if (!r)
		return;
	r->requests += req;
	r->bytes_in += in;
	r->bytes_out += out;
	if (status) {
		__u32 cls = status / 100 - 1;

		r->responses++;
		if (cls < 5)
			r->status[cls]++;
		r->lat_count++;
		r->lat_sum += lat;
		if (!r->lat_min || lat < r->lat_min)
			r->lat_min = lat;
		if (lat > r->lat_max)
			r->lat_max = lat;
	}
}

SEC("tc")
int hm_bench_floor(struct __sk_buff *skb)
{
	__u32 zero = 0, len = skb->len, off, end, side, ihl, doff, status = 0, i;
	struct scratch *s = bpf_map_lookup_elem(&fl_scratch, &zero);
	struct key k = {};
	struct conn *c, fresh = {};
	__u64 now, cl = 0, lat = 0, w, x, m;
	__u8 *b;
	int te = 0;

	if (!s)
		return TC_ACT_UNSPEC;
	b = s->buf;
	if (len > BUF)
		len = BUF;
	if (len < 54 || bpf_skb_load_bytes(skb, 0, b, len))
		return TC_ACT_UNSPEC;
	if (*(__u16 *)&b[12] != bpf_htons(ETH_P_IP) || b[23] != IPPROTO_TCP)
		return TC_ACT_UNSPEC;
	ihl = (b[14] & 15) * 4;
	end = 14 + bpf_ntohs(*(__u16 *)&b[16]);
	if (ihl < 20 || ihl > 60)
		return TC_ACT_UNSPEC;
	off = 14 + ihl;
	doff = (b[(off + 12) & (BUF - 1)] >> 4) * 4;
	{
		__u32 sa = *(__u32 *)&b[26], da = *(__u32 *)&b[30];
		__u16 sp = *(__u16 *)&b[off & (BUF - 1)], dp = *(__u16 *)&b[(off + 2) & (BUF - 1)];

		side = sa > da || (sa == da && sp > dp);
		if (side) {
			k.addr[0] = da;
			k.addr[1] = sa;
			k.port[0] = dp;
			k.port[1] = sp;
		} else {
			k.addr[0] = sa;
			k.addr[1] = da;
			k.port[0] = sp;
			k.port[1] = dp;
		}
	}
	off += doff;
	if (end > len)
		end = len;
	if (off >= end)
		return TC_ACT_UNSPEC;

	c = bpf_map_lookup_elem(&fl_conns, &k);
	if (!c) {
		bpf_map_update_elem(&fl_conns, &k, &fresh, BPF_ANY);
		c = bpf_map_lookup_elem(&fl_conns, &k);
		if (!c)
			return TC_ACT_UNSPEC;
	}
	c->next_seq[side & 1] = bpf_ntohl(*(__u32 *)&b[(off - doff + 4) & (BUF - 1)]) + end - off;

	/* The start line. */
	off &= BUF - 1;
	w = ld64(&b[off]);
	if (w == 0x312e312f50545448ULL) { /* "HTTP/1.1" */
		status = (b[(off + 9) & (BUF - 1)] - '0') * 100 +
			 (b[(off + 10) & (BUF - 1)] - '0') * 10 + (b[(off + 11) & (BUF - 1)] - '0');
		if (status < 100 || status > 599)
			status = 0;
	}
	now = bpf_ktime_get_ns();

	/*
	 * Every LF of the header block, a word at a time; each line start
	 * looked at.  What the scan finds goes to scratch, not registers, so
	 * the verifier's states do not multiply with the lines.
	 */
	s->cl_pos = 0;
	s->te = 0;
	for (i = 0; i < BUF / 8; i++) {
		__u32 p = off + i * 8;

		if (p >= end)
			break;
		w = ld64(&b[p & (BUF - 1)]);
		x = w ^ (ONES * '\n');
		m = (x - ONES) & ~x & HIGHS;
		for (int j = 0; j < 8 && m; j++) {
			__u32 q = p + low_byte(m) + 1; /* a line starts after the LF */
			__u64 v;

			m &= m - 1;
			v = ld64(&b[q & (BUF - 1)]);
			if ((v & 0xffff) == 0x0a0d) /* CRLF: the end of the headers */
				goto headers_end;
			v |= 0x2020202020202020ULL;
			/* volatile: a register copy would make the verifier track it */
			if (v == 0x2d746e65746e6f63ULL) /* "content-" */
				*(volatile __u32 *)&s->cl_pos = q + 16;
			else if (v == 0x726566736e617274ULL) /* "transfer" */
				*(volatile __u32 *)&s->te = 1;
		}
	}
headers_end:
	if (*(volatile __u32 *)&s->cl_pos) {
		__u32 q = *(volatile __u32 *)&s->cl_pos;

		for (int d = 0; d < 8; d++) {
			__u8 ch = b[(q + d) & (BUF - 1)];

			if (ch < '0' || ch > '9')
				break;
			cl = cl * 10 + ch - '0';
		}
	}
	te = *(volatile __u32 *)&s->te;

	{
		__u32 row0 = c->row[0], row1 = c->row[1] + 1024, row2 = c->row[2] + 2048;
		__u32 plen = end - (skb->len > BUF ? end : end);

		(void)plen;
		if (status) {
			__u64 *h;
			__u32 bk, kk;

			lat = now - c->req_ts;
			kk = lat ? log2_64(lat) : 0;
			bk = kk < 10 ? 0 : kk >= 36 ? HIST_BUCKETS - 1 :
			     1 + (kk - 10) * 16 + ((lat >> (kk - 4)) & 15);
			h = bpf_map_lookup_elem(&fl_hist, &bk);
			if (h)
				(*h)++;
			row_add(row0, 0, status, 0, skb->len, lat);
			row_add(row1, 0, status, 0, skb->len, lat);
			row_add(row2, 0, status, 0, skb->len, lat);
		} else {
			c->req_ts = now;
			row_add(row0, 1, 0, skb->len, 0, 0);
			row_add(row1, 1, 0, skb->len, 0, 0);
			row_add(row2, 1, 0, skb->len, 0, 0);
		}
	}
	if (cl || te)
		c->_pad = cl + te;
	return TC_ACT_UNSPEC;
}
