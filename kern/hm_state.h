/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * hm_state.h - the datapath's private state: one connection (hm_conns
 * values) and the per-CPU working memory of one program run (hm_scratch).
 *
 * Private to kern/: readers never interpret these (they only count hm_conns
 * entries), so the layouts may change without a HM_LAYOUT_VERSION bump.
 *
 * A connection is keyed by its two endpoints in a canonical order (side 0 is
 * the lower (address, port) pair), so both directions, seen on either hook
 * and possibly on different CPUs, find the same entry.  Each direction has
 * its own parser (struct hm_dir), written only while processing segments sent
 * by that side.  Requests and responses meet in a ring of pending requests:
 * the client side writes ring[nreq % depth] and then bumps nreq, the server
 * side reads ring[nresp % depth] and bumps nresp.  Each field has one writer,
 * so no lock is needed; a slot carries the number of its request, so a
 * response never pairs with a request that did not fit in the ring.  A slot
 * also keeps the sequence number of its request's first byte: a response
 * whose ACK does not cover it was sent before the server had the request,
 * and a gap in the responses writes off every request the server had
 * received by then.
 */
#ifndef HM_STATE_H
#define HM_STATE_H

#include "httpmon.h"

#define HM_SIDE_UNKNOWN 0xff

struct hm_conn_key {
	struct hm_addr addr[2];
	__u16 port[2];
	/*
	 * The socket source: the network namespace (its inode number), so two
	 * namespaces' loopback connections with the same endpoints stay apart.
	 * The packet source: 0 (its map set serves one namespace).
	 */
	__u32 netns;
};

/* Framing states of one direction's byte stream. */
enum hm_pstate {
	HM_P_IDLE = 0,     /* between messages: the next byte starts one */
	HM_P_START,        /* collecting a start line's first bytes until it classifies */
	HM_P_START_READY,  /* (transient) start bytes collected: classified, to be taken */
	HM_P_TARGET,       /* request target, into the route label */
	HM_P_LINE,         /* rest of the start line, up to LF */
	HM_P_HDR,          /* first byte of a header line */
	HM_P_HDR_NAME,     /* matching an interesting header name */
	HM_P_HDR_CL,       /* Content-Length value */
	HM_P_HDR_TE,       /* Transfer-Encoding value */
	HM_P_HDR_HOST,     /* Host value, into the connection's host name */
	HM_P_HOST_READY,   /* (transient) Host value read: its id to be found */
	HM_P_HDR_SKIP,     /* rest of a header line, up to LF */
	HM_P_HDR_END,      /* CR at the start of a line: end of headers */
	HM_P_BODY,         /* Content-Length body bytes */
	HM_P_CHUNK_SIZE,   /* hex chunk size */
	HM_P_CHUNK_EXT,    /* chunk extensions, up to LF */
	HM_P_CHUNK_DATA,   /* chunk bytes */
	HM_P_CHUNK_CRLF,   /* CRLF after chunk data */
	HM_P_TRAILER,      /* first byte of a trailer line */
	HM_P_TRAILER_SKIP, /* rest of a trailer line */
	HM_P_TRAILER_END,  /* CR at the start of a trailer line */
	HM_P_UNTIL_CLOSE,  /* body, or tunnel (hm_conn.tunnel), that ends with the connection */
	HM_P_LOST,         /* framing lost: resynchronise at a segment start */
};

enum hm_msg_kind {
	HM_MSG_NONE,
	HM_MSG_REQUEST,
	HM_MSG_RESPONSE,
	HM_MSG_MORE, /* (classification only) a start line's beginning: more bytes decide */
};

/* hm_dir.flags */
#define HM_DF_CL (1U << 0)      /* a Content-Length header was seen */
#define HM_DF_CHUNKED (1U << 1) /* Transfer-Encoding ends in chunked */
#define HM_DF_DIGITS (1U << 2)  /* the number being parsed has a digit */
#define HM_DF_BAD (1U << 3)     /* unusable length: framing will be lost */
#define HM_DF_NOBODY (1U << 4)  /* response without body (HEAD, 1xx, 204, 304) */
#define HM_DF_TUNNEL (1U << 5)  /* 101 or 2xx to CONNECT: no HTTP after headers */
#define HM_DF_PROBE (1U << 6)   /* message start not yet trusted (after loss) */
#define HM_DF_ROUTED (1U << 7)  /* route holds the current message's route */

/* hm_dir.fin */
#define HM_FIN_SEEN (1U << 0) /* this side sent FIN */
#define HM_FIN_ACK (1U << 1)  /* ... with the ACK flag: fin_ack is valid */

/* Bytes of a status line needed to classify it: "HTTP/1.1 200 " is 13. */
#define HM_START_LEN 13
/*
 * Bytes of a start line kept to classify it: a request needs its method token
 * (up to HM_METHOD_TOKEN_MAX), the space and the target's first byte.
 */
#define HM_START_MAX 24
/* Longest start or header line followed before declaring the stream lost. */
#define HM_MAX_LINE 65536

/*
 * A start line's first bytes; a struct, so global functions know its size.
 * Room for 32, a power of two, so a masked index always stays inside.
 */
#define HM_START_BUF 32
struct hm_startb {
	__u8 b[HM_START_BUF];
};

struct hm_dir {
	/* What every segment of this side reads or writes comes first. */
	__u32 next_seq;  /* sequence number of the next new byte */
	__u8 seq_valid;
	__u8 state;      /* enum hm_pstate */
	__u8 kind;       /* enum hm_msg_kind of the current message */
	__u8 flags;      /* HM_DF_* */
	/*
	 * Where this side's new bytes were last seen: ifindex << 1 | egress.
	 * A segment of old bytes seen anywhere else is the same segment crossing
	 * a second monitored hook (loopback's egress then ingress, a bridge and
	 * its port), not a retransmission.
	 */
	__u32 seen_at;
	__u32 line_len;  /* bytes of the current line, for HM_MAX_LINE */
	__u32 route;     /* route id of the current message (valid with HM_DF_ROUTED) */
	__u32 rbytes;    /* bytes of the current message kept for its route (hm_route_flush) */
	__u64 remaining; /* body or chunk bytes still to come */
	__u64 req_ts;    /* first byte of the request this response answers, or 0 */
	__u64 msg_ts;    /* clock of the current message's first byte (its segment's, its read's) */
	__u64 cl;        /* Content-Length of the current message */
	__u64 acc;       /* number being parsed (Content-Length, chunk size) */
	__u32 msg_seq;   /* sequence number of the current message's first byte */
	__u32 msg_ack;   /* acknowledgment number of the segment that started it */
	__u8 msg_ack_ok; /* msg_ack is valid (the segment had the ACK flag) */
	__u8 fin;        /* HM_FIN_* */
	__u8 tpend;      /* 1 + index in start of a target byte taken while classifying */
	__u8 route_epoch; /* hm_config.route_epoch when route was found (low byte) */
	__u8 start_len;
	__u8 hpos;       /* header-name bytes matched so far */
	__u8 hcand;      /* candidate header names still matching */
	__u8 te_match;   /* bytes of "chunked" matched */
	/*
	 * The current message's host and (host, route) pair: a request's once
	 * its headers ended, a response's from the request it answers.  Until
	 * then (labeled == 0) its bytes wait in hbytes.
	 */
	__u16 host;      /* host id (enum hm_host_id): of the Host header once hseen */
	__u16 hr;        /* (host, route) pair id, valid with labeled */
	__u32 hbytes;    /* bytes of the current message kept for its host rows */
	__u8 labeled;    /* host and hr hold the current message's rows */
	__u8 hseen;      /* a request's Host header was taken: host is its id */
	__u8 hphase;     /* HM_P_HDR_HOST: enum hm_host_phase */
	__u8 hlen;       /* HM_P_HDR_HOST: name bytes taken */
	__u32 hole_start; /* the last gap: bytes [hole_start, hole_end) not seen yet */
	__u32 hole_end;   /* (equal: no hole) */
	__u32 fin_seq;   /* sequence number of this side's FIN */
	__u32 fin_ack;   /* acknowledgment number it carried (with HM_FIN_ACK) */
	/* Message starts only. */
	struct hm_startb start; /* first bytes of the current start line */
};

/* Where the byte grammar is in a Host value (HM_P_HDR_HOST). */
enum hm_host_phase {
	HM_HOST_OWS,  /* blanks before the value */
	HM_HOST_NAME, /* the name: up to a port's colon or a blank */
	HM_HOST_IPV6, /* an IPv6 literal: up to its closing bracket */
	HM_HOST_REST, /* a port, blanks: up to the LF */
};

/* Phases of parsing a request target into a route label. */
enum hm_tgt_phase {
	HM_TGT_START, /* first byte of the target */
	HM_TGT_ABS,   /* absolute-form: skipping "scheme://authority" */
	HM_TGT_PATH,  /* in the path */
	HM_TGT_QUERY, /* in the query string */
	HM_TGT_SKIP,  /* fragment or a target without a path: up to the space */
};

/* hm_route_build.seg_flags: what the current path segment could still be. */
#define HM_SEG_OPEN (1U << 0)   /* a segment is being read */
#define HM_SEG_DIGITS (1U << 1) /* only digits so far */
#define HM_SEG_HEX (1U << 2)    /* only hex digits so far */
#define HM_SEG_UUID (1U << 3)   /* 8-4-4-4-12 hex digits so far */
#define HM_SEG_HASDIG (1U << 4) /* at least one digit */

/* hm_route_build.special: labels that do not come from the path. */
enum hm_tgt_special {
	HM_SPECIAL_NONE,
	HM_SPECIAL_STAR,    /* "OPTIONS *" */
	HM_SPECIAL_CONNECT, /* authority-form target of CONNECT */
};

/*
 * The route of the request being parsed, built byte by byte as the target
 * streams by (it may span many segments: only the label is kept, so the
 * state stays this size whatever the URL's length).
 */
struct hm_route_build {
	char label[HM_ROUTE_LEN];
	__u64 seg_hash;  /* FNV-1a of the current raw path segment */
	__u16 pat_cand;  /* operator patterns still matching */
	__u8 len;        /* label bytes used */
	__u8 seg_start;  /* label offset of the current segment's text */
	__u8 segs;       /* path segments seen (saturating) */
	__u8 phase;      /* enum hm_tgt_phase */
	__u8 seg_flags;  /* HM_SEG_* */
	__u8 seg_len;    /* raw bytes of the current segment (saturating) */
	__u8 qpos;       /* query name bytes matched in this parameter; 0xff: no match */
	__u8 qcap;       /* capturing the query parameter's value */
	__u8 captured;   /* the parameter was present */
	__u8 slashes;    /* absolute-form: slashes skipped */
	__u8 method;     /* enum hm_method id */
	__u8 special;    /* enum hm_tgt_special */
	__u8 truncated;
	__u8 pat_i;      /* the pattern a loop over them is at */
};

/* hm_pending.flags */
#define HM_REQ_HEAD (1U << 0)
#define HM_REQ_CONNECT (1U << 1)
#define HM_REQ_ROUTED (1U << 2)  /* route is set */
#define HM_REQ_UNTIMED (1U << 3) /* seen after a gap that may have hidden requests */
#define HM_REQ_HOSTED (1U << 4)  /* host and hr are set (its headers ended) */

struct hm_pending {
	__u64 ts;          /* bpf_ktime_get_ns() of the request's first byte */
	__u32 reqno;       /* nreq when the request was seen */
	__u16 flags;       /* HM_REQ_* */
	__u8 route_epoch;  /* hm_config.route_epoch (low byte) when route was found */
	__u8 _pad;
	__u32 route;       /* route id, set when the request target has been read */
	__u32 seq;         /* sequence number of the request's first byte */
	__u16 host;        /* host id, set when the request's headers ended */
	__u16 hr;          /* (host, route) pair id, then too */
};

/* hm_conn.gap */
#define HM_GAP_REQ (1U << 0)       /* requests may have been missed: new ones are not timed */
#define HM_GAP_PIPELINED (1U << 1) /* the client pipelines (seen, or implied by a gap) */

struct hm_conn {
	/* The fields every segment reads come first: one cache line. */
	__u32 nreq;  /* requests seen (client side writes) */
	__u32 nresp; /* final responses seen (server side writes) */
	__u8 client; /* side that sends requests, or HM_SIDE_UNKNOWN */
	__u8 gap;    /* HM_GAP_*: what gaps in the request stream left behind */
	/*
	 * Set by the server side on 101 Switching Protocols or a 2xx answer to
	 * CONNECT: from the next message start on, both sides carry another
	 * protocol.  The client sends tunnel bytes only after it received the
	 * answer, which the monitor saw first, so its side reads this in time.
	 */
	__u8 tunnel;
	__u8 row_ok;
	/*
	 * The connection's rows (enum hm_row_kind) in the generation of
	 * hm_config.epoch == row_epoch, valid with row_ok: found once per
	 * connection and interval, so a segment adds to arrays without a hash
	 * lookup.
	 */
	__u32 row_epoch;
	__u16 row[HM_ROW_KINDS];
	/*
	 * Bit 1 << side: that side sent FIN.  Set with an atomic or after its
	 * fin_seq and fin_ack are written, so of two FINs handled at once on
	 * two CPUs the second always sees the first.
	 */
	__u32 fins;
	__u32 ifindex;   /* the first monitored interface the connection crossed: its rows' */
	__u64 last_seen; /* coarse clock of the last segment with payload (the idle sweep) */
	/*
	 * The route of the last request, by the hash of its key: a keep-alive
	 * client asking for the same route again finds its id here.
	 */
	__u64 rt_hash;
	__u32 rt_id;
	__u32 rt_epoch;  /* hm_config.route_epoch + 1 when rt_* is valid */
	/*
	 * The last request target, as its raw bytes (up to 32): the same target
	 * again, under the same grouping, is its route without a parse.
	 */
	__u64 tg[4];
	__u32 tg_route;
	__u32 tg_gen;    /* hm_config.route_gen + 1 when tg is valid */
	__u32 tg_epoch;  /* hm_config.route_epoch then */
	__u8 tg_len;
	__u8 tg_method;
	__u8 _pad3[2];
	/*
	 * The host name of the last request (the byte grammar also builds a
	 * name here) and its id while hn_epoch is hm_config.route_epoch + 1;
	 * the last (host, route) pair and its id while hr_epoch is.  A
	 * keep-alive client naming the same host again costs no map lookup.
	 */
	__u64 hn[HM_HOST_LEN / 8];
	__u32 hn_epoch;
	__u16 hn_id;
	__u16 hr_id;
	__u32 hr_key;    /* host << 16 | route */
	__u32 hr_epoch;
	struct hm_dir dir[2];
	struct hm_pending ring[HM_PIPELINE_DEPTH];
	struct hm_route_build rb; /* route of the client's current request */
	/*
	 * Socket set only: the process the connection is counted for (its
	 * key, kept to find its row again in a new interval) and its row id in
	 * the generation of row_epoch.
	 */
	struct hm_proc_key proc;
	__u32 proc_row;
	__u32 _pad4;
};

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

/* hm_scratch.dmask: the fields of delta a segment changed. */
#define HM_D_REQ (1U << 0)     /* requests */
#define HM_D_RESP (1U << 1)    /* responses, status[], lat, lat_ok, lat_fail */
#define HM_D_UNANS (1U << 2)   /* unanswered */
#define HM_D_LAST (1U << 3)    /* lat_last */
#define HM_D_IN (1U << 4)      /* bytes_in */
#define HM_D_OUT (1U << 5)     /* bytes_out */

/*
 * The packet window: bytes [win_off, win_off + win_len) of the packet, read
 * with one bpf_skb_load_bytes (bpf_xdp_load_bytes) - the first one also
 * holds the L2-L4 headers.  HM_WIN_SLACK more bytes let a word be read at
 * any masked index.
 */
#define HM_WIN 512
#define HM_WIN_SLACK 64

struct hm_scratch {
	__u8 win[HM_WIN + HM_WIN_SLACK];
	__u32 win_off; /* packet offset of win[0] */
	__u32 win_len; /* valid bytes in win */
	/*
	 * Position of the walk.  It lives in map memory, not on the stack, on
	 * purpose: the verifier does not track values in map memory, so a
	 * loop's iterations start from the same abstract state and verify in
	 * a few passes instead of once per possible offset.
	 */
	__u32 off;     /* next unparsed packet offset */
	__u32 end;     /* end of the TCP payload */
	__u32 bytes;   /* payload bytes that belonged to HTTP messages */
	__u32 first;   /* the first new payload byte */
	__u32 rmark;   /* bytes from here to off are not yet on a route (hm_route_flush) */
	__u32 carry;   /* bytes a start line had in earlier segments */
	__u32 rcarry;  /* the same, until the message takes them for its route */
	__u64 tg[4];   /* the raw target of the request started in this segment, */
	__u32 tg_len;  /* when it lies in the window: for the connection's cache */
	__u32 _pad5;
	__u32 side;    /* side index of the sender */
	__u32 seq0;    /* sequence number of packet offset 0 (seq of byte o: seq0 + o) */
	__u32 ack;     /* the segment's acknowledgment number */
	__u16 ack_ok;  /* ack is valid: the segment has the ACK flag */
	__u16 gap;     /* bytes before this segment were never seen */
	__u16 port[2]; /* TCP port of each side */
	__u32 gen;     /* generation written: epoch & 1 */
	__u32 epoch;   /* hm_config.epoch when the segment started */
	__u64 now;     /* bpf_ktime_get_ns() of the segment, taken when first needed; 0 until */
	__u32 dmask;   /* HM_D_* */
	__u32 vpos;    /* hm_cl_value's position in the value */
	__u32 steps;   /* walk steps taken in this segment */
	__u32 load_failed; /* a window load failed in this walk */
	struct hm_stats delta; /* what this segment adds to its connection's rows */
	struct hm_conn_key key; /* the segment's connection */
	__u16 _pad2;
	struct hm_cls cls;     /* the last start line classified (hm_classify) */
	struct hm_startb sb;   /* a new connection's first bytes, to classify */
	struct hm_route_key rkey; /* key of the route being looked up */
	struct hm_host_key hkey __attribute__((aligned(8))); /* key of the host being looked up */
	struct hm_host_route_key hrkey; /* key of the pair being looked up */
	__u32 _pad6;
	struct hm_conn fresh;  /* initial value of a new connection */
	/* The socket source's walk over one call's pieces (in map memory, like off). */
	__u64 io_left;  /* bytes of the call not walked yet */
	__u32 io_i;     /* iovec entry */
	__u32 io_seq;   /* stream offset of the next piece */
	__u32 io_bytes; /* HTTP bytes of the pieces walked */
	__u32 _pad7;
};

#endif /* HM_STATE_H */
