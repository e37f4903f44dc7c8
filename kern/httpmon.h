/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * httpmon.h - the contract between the httpmon classifier (kern/) and its
 * readers (user/, pin/, bpftool).
 *
 * Everything a reader needs to interpret the pinned maps is defined here and
 * nowhere else: map names, key and value layouts, the self-metric counters and
 * the layout version.  The structs use only fixed-width __u types, natural
 * alignment and explicit padding, so the BPF object and a 64-bit reader agree
 * byte for byte and the BTF that bpftool prints is the documentation.
 *
 * Rules:
 *  - All aggregate maps are per-CPU: the classifier only ever adds to its own
 *    CPU's copy; readers sum over libbpf_num_possible_cpus() copies (min/max
 *    combine with min/max, ignoring CPUs whose count is zero).
 *  - Generations: every aggregate (rows, routes, histograms, self-metrics)
 *    exists twice, and the classifier writes generation hm_config.epoch & 1.
 *    A reset (hm-stat --reset, hm-reset) increments epoch, waits until no
 *    program run that saw the old epoch can still be running (an RCU grace
 *    period: membarrier(MEMBARRIER_CMD_GLOBAL)), then reads and clears the
 *    retired generation: consecutive intervals add up to the traffic exactly
 *    and one interval agrees with itself across every view.  A reader that
 *    does not reset sums both generations.
 *  - Rows are per-CPU arrays indexed by small ids: hm_row_ids names them
 *    (kind, generation, key -> id), and id 0 of every kind is its overflow
 *    row ("other"), which holds the traffic of keys that found no id.
 *  - Addresses are stored as 16 bytes; IPv4 uses the v4-mapped form
 *    ::ffff:a.b.c.d, so one key type serves both families.
 *  - Ports are in host byte order.
 *  - Times are nanoseconds of CLOCK_MONOTONIC (bpf_ktime_get_ns()).
 *  - Any change to a layout below bumps HM_LAYOUT_VERSION, and so does a new
 *    self-metric counter (it changes hm_monitor's size); readers refuse a map
 *    set whose version, key/value sizes or array sizes differ from theirs.
 */
#ifndef HTTPMON_H
#define HTTPMON_H

#include <linux/types.h>

#define HM_LAYOUT_VERSION 9

/*
 * Pin layout.  iproute2's tc pins LIBBPF_PIN_BY_NAME maps under
 * /sys/fs/bpf/tc/globals; hm-load uses the same directory by default, so a
 * program attached by plain tc and one attached by hm-load share one map set
 * and every reader finds it without flags.
 */
#define HM_BPFFS_ROOT "/sys/fs/bpf"
#define HM_PIN_DIR_DEFAULT "/sys/fs/bpf/tc/globals"

/*
 * The socket source (hm-load --sockets) keeps a map set of its own, in the
 * subdirectory HM_SOCK_SUBDIR of the pin directory: the same maps, names and
 * layouts as the packet set (what one segment does there, one read or write
 * does here), plus the process rows (hm_proc_ids, hm_procs) and the cgroup
 * filter (hm_sock_cgrp).  Which directory a row came from is its source; a
 * reader never adds the two sets together.  The programs' links are pinned
 * there too, as HM_SOCK_LINK_PREFIX<program name>, so they outlive hm-load.
 */
#define HM_SOCK_SUBDIR "sockets"
#define HM_SOCK_CLIENT_SUBDIR "sockets-client" /* hm-load --sockets --clients: the client role */
#define HM_SOCK_LINK_PREFIX "link_"

/* Map names (also the pin file names; at most 15 characters). */
#define HM_MAP_CONFIG "hm_config"
#define HM_MAP_CONNS "hm_conns"
#define HM_MAP_ROW_IDS "hm_row_ids"
#define HM_MAP_CLIENTS "hm_clients"
#define HM_MAP_PORTS "hm_ports"
#define HM_MAP_PORT_CLIENTS "hm_port_clients"
#define HM_MAP_IFACES "hm_ifaces"
#define HM_MAP_MONITOR "hm_monitor"
#define HM_MAP_LINKS "hm_links"
#define HM_MAP_HIST "hm_hist"
#define HM_MAP_ROUTES "hm_routes"
#define HM_MAP_ROUTE_IDS "hm_route_ids"
#define HM_MAP_ROUTE_PATTERNS "hm_route_pats"
#define HM_MAP_HOSTS "hm_hosts"
#define HM_MAP_HOST_IDS "hm_host_ids"
#define HM_MAP_HOST_ROUTES "hm_host_routes"
#define HM_MAP_HOST_ROUTE_IDS "hm_hr_ids"
#define HM_MAP_SEQ "hm_seq"
#define HM_MAP_METHOD_IDS "hm_method_ids"
#define HM_MAP_AGING "hm_aging" /* idle-connection sweep: BPF timer, kernel-private */
/* The socket set only. */
#define HM_MAP_PROC_IDS "hm_proc_ids"
#define HM_MAP_PROCS "hm_procs"
#define HM_MAP_SOCK_CGROUP "hm_sock_cgrp" /* cgroup array: index 0 is --cgroup's */

/*
 * Capacities: rows of each kind per generation, the overflow row (id 0)
 * included.  The row arrays hold two generations: index gen * capacity + id.
 */
#define HM_MAX_CONNS 65536
#define HM_MAX_CLIENTS 16384
#define HM_MAX_PORTS 1024
#define HM_MAX_PORT_CLIENTS 16384
#define HM_MAX_IFACES 256      /* interfaces with their own row */
#define HM_MAX_ROUTES 1024     /* distinct routes, _other and _unknown included */
#define HM_HIST_PORTS 32       /* port ids 1..32 have latency histograms of their own */
#define HM_HIST_ROUTES 128     /* route ids below 128 have latency histograms of their own */
#define HM_MAX_HOSTS 256       /* distinct hosts, _other, _unknown and _none included */
#define HM_MAX_HOST_ROUTES 4096 /* distinct (host, route) pairs, _other included */
#define HM_HIST_HOSTS 32       /* host ids below 32 have latency histograms of their own */
#define HM_MAX_PROCS 1024      /* (process, cgroup, role) rows of the socket set, _other included */
#define HM_GENS 2

/* Pending requests remembered per connection (HTTP/1.1 pipelining depth). */
#define HM_PIPELINE_DEPTH 8

/*
 * Idle connections.  A connection that carried no packet for idle_timeout
 * seconds (hm_config; 0 means HM_IDLE_TIMEOUT_DEFAULT) is aged: its state is
 * freed and requests still pending on it are counted unanswered.  The sweep
 * runs from a BPF timer (hm_aging) every idle_timeout / 2 seconds while
 * connection state exists, so a request is aged between idle_timeout and
 * 1.5 x idle_timeout after the connection's last packet.
 */
#define HM_IDLE_TIMEOUT_DEFAULT 300
#define HM_IDLE_TIMEOUT_MAX 86400

/* Interfaces hm-load attached to, and what it created there (hm_links). */
#define HM_MAX_LINKS 256
#define HM_LINK_CREATED_CLSACT (1U << 0) /* hm-load added the clsact qdisc */
#define HM_LINK_XDP_NATIVE (1U << 1)     /* ingress counted by XDP in native (driver) mode */
#define HM_LINK_XDP_SKB (1U << 2)        /* ingress counted by XDP in generic (skb) mode */
#define HM_LINK_CREATED_XDP_DIR (1U << 3) /* libxdp's bpffs directory was made by hm-load */

struct hm_link {
	__u32 ifindex;
	__u32 flags; /* HM_LINK_* */
	char ifname[16];
};

/* Program section names, as given to `tc filter ... sec NAME`. */
#define HM_SEC_TC_INGRESS "tc/ingress"
#define HM_SEC_TC_EGRESS "tc/egress"

struct hm_addr {
	__u8 a[16]; /* IPv6, or IPv4 as ::ffff:a.b.c.d; network byte order */
};

/* hm_config: one entry at index 0, changed live by hm-load. */
#define HM_CFG_PORT_FILTER (1U << 0) /* only watch ports set in ports[] */
#define HM_CFG_NO_HOSTS (1U << 1)    /* no Host parsing, no host or (host, route) rows */
#define HM_CFG_SOCK_CGROUP (1U << 2) /* socket set: only processes under hm_sock_cgrp[0] */
#define HM_PORT_WORDS (65536 / 64)

/* How a request's route is derived from its target (when no pattern matches). */
enum hm_route_mode {
	HM_ROUTE_PATH,  /* first route_depth path segments, ids collapsed to {id} */
	HM_ROUTE_QUERY, /* the value of query parameter query_name */
	HM_ROUTE_NONE,  /* one route per method: "_all" */
};

#define HM_QUERY_NAME_LEN 32
#define HM_ROUTE_DEPTH_DEFAULT 2
#define HM_ROUTE_DEPTH_MAX 8

struct hm_config {
	__u32 layout_version; /* HM_LAYOUT_VERSION once a loader or the program set it */
	__u32 flags;          /* HM_CFG_* */
	__u8 route_mode;      /* enum hm_route_mode */
	__u8 route_depth;     /* HM_ROUTE_PATH: segments kept; 0 means the default */
	__u8 query_len;       /* bytes of query_name */
	__u8 npatterns;       /* entries used in hm_route_pats */
	__u8 client_prefix4;  /* fold IPv4 clients to this prefix length; 0 = 32 */
	__u8 client_prefix6;  /* fold IPv6 clients to this prefix length; 0 = 128 */
	__u16 _pad;
	__u32 max_routes;     /* routes named (besides _other, _unknown); 0: all that fit */
	__u32 idle_timeout;   /* seconds without a packet before a connection is aged; 0: default */
	__u32 epoch;          /* resets so far: the classifier writes generation epoch & 1 */
	__u32 route_epoch;    /* route labels forgotten so far (hm-reset --routes) */
	__u32 route_gen;      /* route grouping or patterns changed so far (hm-load) */
	__u32 _pad2;
	char query_name[HM_QUERY_NAME_LEN];
	__u64 ports[HM_PORT_WORDS]; /* bit p%64 of word p/64: TCP port p is watched */
};

/*
 * Routes.  A request's route is a label derived from its request target: the
 * first operator pattern that matches (hm_route_pats), else per route_mode.
 * hm_route_ids maps (method, label) to a small id, for as long as the map set
 * exists or until hm-reset --routes forgets them (route_epoch); hm_routes
 * holds the stats of each id per generation.  Ids HM_ROUTE_OTHER and
 * HM_ROUTE_UNKNOWN are fixed; the others are handed out in order of first
 * appearance (hm_seq[HM_SEQ_ROUTES] counts the ids taken, only the program
 * adds to it) until max_routes labels are named, after which new labels are
 * counted under HM_ROUTE_OTHER.
 */
#define HM_ROUTE_LEN 64
enum hm_route_id {
	HM_ROUTE_OTHER,   /* "_other": labels beyond the cardinality bound */
	HM_ROUTE_UNKNOWN, /* "_unknown": responses whose request was not seen or kept */
	HM_ROUTE_FIRST,   /* first id of a real label */
};

/*
 * Hosts (virtual hosts).  A request's host is the value of its Host header,
 * lower-cased, without a port or a trailing dot, NUL-padded: "Example.COM:8080"
 * is "example.com", "[::1]:80" is "[::1]".  A value longer than HM_HOST_LEN is
 * cut there (host_truncated).  hm_host_ids maps it to a small id, kept like
 * route ids (and forgotten with them: route_epoch); hm_hosts holds the stats of
 * each id per generation.  A request is on its host's row once its headers
 * ended; a response is on the row of the request it answers.
 */
#define HM_HOST_LEN 64
enum hm_host_id {
	HM_HOST_OTHER,   /* "_other": hosts beyond the cardinality bound */
	HM_HOST_UNKNOWN, /* "_unknown": responses whose request's headers were not seen */
	HM_HOST_NONE,    /* "_none": requests without a Host header (HTTP/1.0) */
	HM_HOST_FIRST,   /* first id of a real host */
};

struct hm_host_key {
	char name[HM_HOST_LEN]; /* NUL-padded; not NUL-terminated when full */
};

/*
 * Host and route together: hm_hr_ids maps (host id, route id) to a pair id,
 * hm_host_routes holds each pair's stats per generation.  Pair id 0
 * (HM_HOST_ROUTE_OTHER) holds the pairs beyond the bound.  Like the route and
 * host ids it names, a pair id lives until route_epoch changes.
 */
#define HM_HOST_ROUTE_OTHER 0
struct hm_host_route_key {
	__u16 host;  /* enum hm_host_id or a host id */
	__u16 route; /* enum hm_route_id or a route id */
};

/*
 * Request methods.  Any RFC 9110 token (tchar) of at most HM_METHOD_TOKEN_MAX
 * characters, followed by a space, starts a request.  The methods listed here
 * have fixed ids; any other token takes the next id from
 * HM_METHOD_EXT_FIRST on, in order of first sight (hm_method_ids holds
 * name -> id, hm_seq[HM_SEQ_METHODS] counts the ids taken), up to
 * HM_MAX_EXT_METHODS names; later new tokens are counted under
 * HM_METHOD_OTHER (HM_MON_METHODS_FULL).  Extension ids are never reused
 * while the map set exists, so a reader can always name them.
 *
 * X(symbol, name, length, word): word is the name packed little-endian, first
 * character in the low byte (HM_C8); names longer than 8 characters use
 * HM_METHOD_LONG below.
 */
#define HM_C8(a, b, c, d, e, f, g, h)                                                   \
	((__u64)(a) | (__u64)(b) << 8 | (__u64)(c) << 16 | (__u64)(d) << 24 |          \
	 (__u64)(e) << 32 | (__u64)(f) << 40 | (__u64)(g) << 48 | (__u64)(h) << 56)

#define HM_METHOD_LIST(X)                                                               \
	X(GET, "GET", 3, HM_C8('G', 'E', 'T', 0, 0, 0, 0, 0))                          \
	X(HEAD, "HEAD", 4, HM_C8('H', 'E', 'A', 'D', 0, 0, 0, 0))                      \
	X(POST, "POST", 4, HM_C8('P', 'O', 'S', 'T', 0, 0, 0, 0))                      \
	X(PUT, "PUT", 3, HM_C8('P', 'U', 'T', 0, 0, 0, 0, 0))                          \
	X(DELETE, "DELETE", 6, HM_C8('D', 'E', 'L', 'E', 'T', 'E', 0, 0))              \
	X(PATCH, "PATCH", 5, HM_C8('P', 'A', 'T', 'C', 'H', 0, 0, 0))                  \
	X(OPTIONS, "OPTIONS", 7, HM_C8('O', 'P', 'T', 'I', 'O', 'N', 'S', 0))          \
	X(CONNECT, "CONNECT", 7, HM_C8('C', 'O', 'N', 'N', 'E', 'C', 'T', 0))          \
	X(TRACE, "TRACE", 5, HM_C8('T', 'R', 'A', 'C', 'E', 0, 0, 0))                  \
	X(PROPFIND, "PROPFIND", 8, HM_C8('P', 'R', 'O', 'P', 'F', 'I', 'N', 'D'))      \
	X(PROPPATCH, "PROPPATCH", 9, HM_C8('P', 'R', 'O', 'P', 'P', 'A', 'T', 'C'))    \
	X(MKCOL, "MKCOL", 5, HM_C8('M', 'K', 'C', 'O', 'L', 0, 0, 0))                  \
	X(COPY, "COPY", 4, HM_C8('C', 'O', 'P', 'Y', 0, 0, 0, 0))                      \
	X(MOVE, "MOVE", 4, HM_C8('M', 'O', 'V', 'E', 0, 0, 0, 0))                      \
	X(LOCK, "LOCK", 4, HM_C8('L', 'O', 'C', 'K', 0, 0, 0, 0))                      \
	X(UNLOCK, "UNLOCK", 6, HM_C8('U', 'N', 'L', 'O', 'C', 'K', 0, 0))              \
	X(REPORT, "REPORT", 6, HM_C8('R', 'E', 'P', 'O', 'R', 'T', 0, 0))              \
	X(SEARCH, "SEARCH", 6, HM_C8('S', 'E', 'A', 'R', 'C', 'H', 0, 0))              \
	X(QUERY, "QUERY", 5, HM_C8('Q', 'U', 'E', 'R', 'Y', 0, 0, 0))
/* The ninth character of the one listed name longer than eight (PROPPATCH). */
#define HM_METHOD_LONG_TAIL 'H'

#define HM_METHOD_ENUM(sym, name, len, word) HM_METHOD_##sym,
enum hm_method {
	HM_METHOD_NONE, /* no method: the _other and _unknown routes */
	HM_METHOD_LIST(HM_METHOD_ENUM)
	HM_METHOD_EXT_FIRST, /* first id of a token not listed above */
};
#undef HM_METHOD_ENUM

#define HM_METHOD_TOKEN_MAX 20
#define HM_MAX_EXT_METHODS 32
#define HM_METHOD_OTHER (HM_METHOD_EXT_FIRST + HM_MAX_EXT_METHODS) /* "_other" */
#define HM_METHOD_IDS (HM_METHOD_OTHER + 1)

/* hm_method_ids: an extension method's name, NUL-padded, -> struct hm_route_val. */
struct hm_method_key {
	char name[24];
};

/*
 * hm_seq: counters of ids handed out, each only added to by the program:
 * per generation and row kind (row ids past 0), route ids past
 * HM_ROUTE_FIRST, method ids past HM_METHOD_EXT_FIRST, host ids past
 * HM_HOST_FIRST, (host, route) pair ids past HM_HOST_ROUTE_OTHER.
 */
#define HM_SEQ_ROW(gen, kind) ((gen) * HM_ROW_KINDS + (kind))
#define HM_SEQ_ROUTES (HM_GENS * HM_ROW_KINDS)
#define HM_SEQ_METHODS (HM_SEQ_ROUTES + 1)
#define HM_SEQ_HOSTS (HM_SEQ_METHODS + 1)       /* host ids past HM_HOST_FIRST */
#define HM_SEQ_HOST_ROUTES (HM_SEQ_HOSTS + 1) /* pair ids past HM_HOST_ROUTE_OTHER */
#define HM_SEQ_PROCS(gen) (HM_SEQ_HOST_ROUTES + 1 + (gen)) /* socket set: process row ids past 0 */
#define HM_SEQ_SLOTS (HM_SEQ_PROCS(HM_GENS - 1) + 1)

struct hm_route_key {
	__u8 method;             /* enum hm_method id */
	__u8 _pad[3];
	char label[HM_ROUTE_LEN]; /* NUL-padded; not NUL-terminated when full */
};

struct hm_route_val {
	__u32 id;
};

/*
 * An operator's route pattern, e.g. "/api/users/{id}" or (prefix) "/static".
 * Segment i matches when bit i of wild is set (a {name} segment) or when the
 * segment's 64-bit FNV-1a hash equals seg_hash[i] (hm_fnv1a()).
 */
#define HM_MAX_PATTERNS 16
#define HM_PATTERN_SEGS 8

struct hm_route_pattern {
	__u8 nsegs;  /* segments in the pattern */
	__u8 prefix; /* matches any target that begins with these segments */
	__u8 method; /* enum hm_method, or HM_METHOD_NONE for any */
	__u8 wild;   /* bit i: segment i is a wildcard */
	__u32 _pad;
	__u64 seg_hash[HM_PATTERN_SEGS];
	char label[HM_ROUTE_LEN];
};

#define HM_FNV_OFFSET 0xcbf29ce484222325ULL
#define HM_FNV_PRIME 0x100000001b3ULL

static inline __u64 hm_fnv1a_byte(__u64 h, __u8 c)
{
	return (h ^ c) * HM_FNV_PRIME;
}

/* Latency accumulator for one family of samples. */
struct hm_latency {
	__u64 count;
	__u64 sum_ns;
	__u64 min_ns; /* valid only when count > 0 */
	__u64 max_ns;
};

enum hm_status_class {
	HM_STATUS_1XX,
	HM_STATUS_2XX,
	HM_STATUS_3XX,
	HM_STATUS_4XX,
	HM_STATUS_5XX,
	HM_STATUS_CLASSES,
};

/*
 * The value of every aggregate row.  requests counts request start lines;
 * responses counts final responses (1xx interim responses such as
 * "100 Continue" are not responses: see HM_MON_INTERIM_RESPONSES), and
 * status[] splits responses by class.  Latency is first request byte to
 * first response byte: lat_ok holds responses with status < 500, lat_fail
 * those with status >= 500, and lat, both, is left to the readers (the
 * classifier leaves it zero: it is the merge of the two).  lat_last is first
 * request byte to last response byte, for responses whose end is known
 * (Content-Length, chunked, or no body).  Bytes are TCP payload bytes of
 * HTTP messages, headers and bodies, not counting retransmissions: bytes_in
 * client to server, bytes_out server to client.  The fields a segment
 * touches most come first: a request's are in the first 64 bytes.
 */
struct hm_stats {
	__u64 requests;
	__u64 responses;
	__u64 bytes_in;
	__u64 bytes_out;
	__u64 unanswered; /* requests never answered as far as the monitor can tell: their
			   * connection ended or went idle, or a gap may have held the response */
	__u64 status[HM_STATUS_CLASSES];
	struct hm_latency lat_ok;
	struct hm_latency lat_fail;
	struct hm_latency lat_last;
	struct hm_latency lat; /* readers: lat_ok and lat_fail merged; zero in the maps */
};

/*
 * Row kinds.  A row's key is its kind's fields of struct hm_row_key; the
 * others are zero.  The client's address is folded to --client-prefix.
 */
enum hm_row_kind {
	HM_ROW_CLIENT,      /* addr: the client */
	HM_ROW_PORT,        /* port: the server port */
	HM_ROW_PORT_CLIENT, /* port and addr */
	HM_ROW_IFACE,       /* ifindex: the first monitored interface the connection crossed */
	HM_ROW_KINDS,
};

/* hm_row_ids: (kind, generation, key) -> struct hm_row_val. */
struct hm_row_key {
	__u8 kind; /* enum hm_row_kind */
	__u8 gen;  /* 0 or 1 */
	__u16 port;
	__u32 ifindex;
	struct hm_addr addr;
};

struct hm_row_val {
	__u32 id; /* index in the kind's row array, past gen * capacity; never 0 */
};

/*
 * Process rows (socket set only).  A connection's process is the one that
 * made its first read or write the monitor saw: its pid (the thread group
 * id), command name and cgroup v2 id then.  hm_proc_ids maps (generation,
 * role, process) to an id per interval like hm_row_ids; hm_procs holds the
 * rows at gen * HM_MAX_PROCS + id, id 0 being the overflow row
 * (HM_MON_PROCS_FULL).  The cgroup id is the inode number of the cgroup's
 * directory under the cgroup2 mount, which is how a reader names it.
 *
 * Roles: the server reads requests and writes responses, the client
 * writes requests and reads responses.  A socket set counts one role (the
 * programs' read-only hm_sock_role): the server's, in HM_SOCK_SUBDIR, and
 * with hm-load --sockets --clients also the client's, in a set of its own
 * in HM_SOCK_CLIENT_SUBDIR.  A connection of the other role is left to the
 * other set (HM_MON_SOCK_OTHER_ROLE), so no set counts an exchange between
 * two processes of one host twice, and no reader adds two sets together.
 * A client set's rows are the client's view: its client rows are the local
 * addresses, its port rows the servers' ports, its latency from the write
 * of a request's first byte to the return of the read of its response's.
 */
enum hm_role {
	HM_ROLE_SERVER,
	HM_ROLE_CLIENT,
	HM_ROLES,
};

struct hm_proc_key {
	__u8 gen;  /* 0 or 1 */
	__u8 role; /* enum hm_role */
	__u16 _pad;
	__u32 pid;
	__u64 cgroup;
	char comm[16]; /* NUL-padded */
};

/*
 * Latency histograms: log-linear buckets, HM_HIST_SUB per power of two.
 * Bucket 0 holds [0, 2^MIN_SHIFT) ns, the last one [2^MAX_SHIFT, inf); in
 * between, bucket 1 + (k - MIN_SHIFT) * SUB + j holds
 * [2^k + j * 2^(k - SUB_BITS), 2^k + (j + 1) * 2^(k - SUB_BITS)) ns.  A bucket
 * is 1/16 to 1/31 of its lower bound wide, so a percentile reported as its
 * bucket's midpoint is within 1/32 (3.2%) of a value in that bucket.
 */
#define HM_HIST_SUB_BITS 4
#define HM_HIST_SUB (1 << HM_HIST_SUB_BITS)
#define HM_HIST_MIN_SHIFT 10 /* 1.024 us */
#define HM_HIST_MAX_SHIFT 36 /* 68.7 s */
#define HM_HIST_BUCKETS (2 + (HM_HIST_MAX_SHIFT - HM_HIST_MIN_SHIFT) * HM_HIST_SUB)

enum hm_lat_family {
	HM_LAT_FIRST, /* first request byte to first response byte */
	HM_LAT_LAST,  /* first request byte to last response byte */
	HM_LAT_FAMILIES,
};

struct hm_hist {
	__u64 count;
	__u64 sum_ns;
	__u64 buckets[HM_HIST_BUCKETS];
};

/*
 * hm_hist: per-CPU array of struct hm_hist, one per (generation, slot,
 * family): index HM_HIST_INDEX(gen, slot, family).  Slots: the responses of
 * port rows without a histogram of their own (id 0 or past HM_HIST_PORTS)
 * and of routes without one (ids HM_HIST_ROUTES and up), then port ids
 * 1..HM_HIST_PORTS, then route ids 0..HM_HIST_ROUTES-1, then host ids
 * 0..HM_HIST_HOSTS-1 and the hosts without one.  Every response is in exactly
 * one port slot, so the histogram of all responses is the sum of those
 * (readers add them up).
 */
enum hm_hist_slot {
	HM_HIST_PORTS_OTHER,
	HM_HIST_ROUTES_OTHER,
	HM_HIST_PORT_FIRST,                                   /* port id 1 */
	HM_HIST_ROUTE_FIRST = HM_HIST_PORT_FIRST + HM_HIST_PORTS, /* route id 0 */
	HM_HIST_HOST_FIRST = HM_HIST_ROUTE_FIRST + HM_HIST_ROUTES, /* host id 0 */
	HM_HIST_HOSTS_OTHER = HM_HIST_HOST_FIRST + HM_HIST_HOSTS,
	HM_HIST_SLOTS,
};
#define HM_HIST_INDEX(gen, slot, family) (((gen) * HM_HIST_SLOTS + (slot)) * HM_LAT_FAMILIES + (family))

/* floor(log2(v)) for v > 0, without a loop (BPF has no such instruction). */
static inline __u32 hm_log2(__u64 v)
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

static inline __u32 hm_hist_bucket(__u64 ns)
{
	__u32 k;

	if (ns < (1ULL << HM_HIST_MIN_SHIFT))
		return 0;
	if (ns >= (1ULL << HM_HIST_MAX_SHIFT))
		return HM_HIST_BUCKETS - 1;
	k = hm_log2(ns);
	return 1 + (k - HM_HIST_MIN_SHIFT) * HM_HIST_SUB +
	       ((ns >> (k - HM_HIST_SUB_BITS)) & (HM_HIST_SUB - 1));
}

/* Lower bound in ns of bucket b (0 for bucket 0). */
static inline __u64 hm_hist_lower(__u32 b)
{
	__u32 k, j;

	if (b == 0)
		return 0;
	if (b >= HM_HIST_BUCKETS - 1)
		return 1ULL << HM_HIST_MAX_SHIFT;
	k = HM_HIST_MIN_SHIFT + (b - 1) / HM_HIST_SUB;
	j = (b - 1) % HM_HIST_SUB;
	return (1ULL << k) + ((__u64)j << (k - HM_HIST_SUB_BITS));
}

/*
 * Self-metrics: hm_monitor is a per-CPU array of __u64, one entry per counter
 * and generation: index gen * HM_MON_MAX + counter.
 * X(enum suffix, JSON/table name, description)
 */
#define HM_MONITOR_COUNTERS(X)                                                           \
	X(SEGMENTS, "segments", "TCP segments with payload examined")                    \
	X(CONNS_OPENED, "conns_opened", "connections whose HTTP state was created")      \
	X(CONNS_CLOSED, "conns_closed", "connections whose state was freed by FIN/RST")  \
	X(CONN_CREATE_FAILED, "conn_create_failed", "connection state could not be stored") \
	X(ORPHAN_RESPONSES, "orphan_responses", "responses with no known request")        \
	X(PIPELINE_OVERFLOW, "pipeline_overflow", "requests beyond the pipelining depth (no latency sample)") \
	X(INTERIM_RESPONSES, "interim_responses", "1xx interim responses (not counted as responses)") \
	X(UNPARSEABLE, "unparseable", "message starts that were neither a request nor a response") \
	X(TRUNCATED, "truncated", "start or header lines longer than the parser follows")   \
	X(BAD_LENGTH, "bad_length", "unusable Content-Length or chunk size (framing lost)") \
	X(RETRANS_SEGMENTS, "retrans_segments", "segments that only repeated bytes already seen") \
	X(RETRANS_BYTES, "retrans_bytes", "payload bytes skipped as already seen")       \
	X(SEQ_GAPS, "seq_gaps", "segments after missing bytes (inside a body: framing kept; else resynchronised)") \
	X(PARSE_BUDGET, "parse_budget", "segments whose parse hit the per-packet step bound") \
	X(LOAD_ERRORS, "load_errors", "packet reads that failed")                          \
	X(IP_FRAGMENTS, "ip_fragments", "non-first IP fragments ignored")                  \
	X(IPV6_EXT_LIMIT, "ipv6_ext_limit", "IPv6 packets with too many extension headers") \
	X(CLIENTS_FULL, "clients_full", "connections counted on the overflow row (per interval): no client row left") \
	X(PORTS_FULL, "ports_full", "connections counted on the overflow row (per interval): no port row left") \
	X(PORT_CLIENTS_FULL, "port_clients_full", "connections counted on the overflow row (per interval): no port/client row left") \
	X(IFACES_FULL, "ifaces_full", "connections counted on the overflow row (per interval): no interface row left") \
	X(HIST_PORTS_FULL, "hist_ports_full", "latency samples of ports without a histogram of their own (in the overflow histogram)") \
	X(ROUTES_FULL, "routes_full", "requests counted under _other: route map full (or --max-routes reached)") \
	X(ROUTE_TRUNCATED, "route_truncated", "route labels cut at 64 bytes")               \
	X(HIST_ROUTES_FULL, "hist_routes_full", "latency samples of routes without a histogram of their own (in the overflow histogram)") \
	X(CONNS_AGED, "conns_aged", "connections whose state was freed after idle_timeout without a packet") \
	X(IDLE_UNANSWERED, "idle_unanswered", "pending requests counted unanswered when their connection was aged") \
	X(GAP_UNANSWERED, "gap_unanswered", "pending requests counted unanswered: a gap in the responses may have held theirs") \
	X(EARLY_RESPONSES, "early_responses", "responses sent before the server had the pending request (not paired)") \
	X(GAP_UNTIMED, "gap_untimed", "responses not timed: requests were missed in a gap before theirs") \
	X(TE_AND_CL, "te_and_cl", "messages with both chunked Transfer-Encoding and Content-Length (framed as chunked)") \
	X(IGNORED_SEGMENTS, "ignored_segments", "segments of connections without HTTP state that start no HTTP message") \
	X(HOLE_BYTES, "hole_bytes", "bytes that arrived after later ones (reordered, or resent after a loss before the monitor): counted, not parsed") \
	X(METHODS_FULL, "methods_full", "requests whose method found the method table full: counted under _other") \
	X(REPEAT_SEGMENTS, "repeat_segments", "segments seen again on another monitored interface or hook (loopback, a bridge and its port): counted once") \
	X(HOSTS_FULL, "hosts_full", "requests counted under the _other host: host map full") \
	X(HOST_TRUNCATED, "host_truncated", "Host header values cut at 64 bytes")            \
	X(HOST_ROUTES_FULL, "host_routes_full", "requests counted on the _other (host, route) pair: pair map full") \
	X(HIST_HOSTS_FULL, "hist_hosts_full", "latency samples of hosts without a histogram of their own (in the overflow histogram)") \
	X(SOCK_CALLS, "sock_calls", "socket set: reads and writes of connections with HTTP state") \
	X(SOCK_READ_FAILED, "sock_read_failed", "socket set: calls whose buffer could not be read (bytes counted, framing lost unless inside a body)") \
	X(SOCK_WINDOW_CUT, "sock_window_cut", "socket set: calls with more buffers than one call follows (the rest counted as in sock_read_failed)") \
	X(SOCK_MIDSTREAM, "sock_midstream", "socket set: calls on connections first seen mid-stream, opened before the load (ignored)") \
	X(SOCK_IGNORED, "sock_ignored", "socket set: calls on connections that carry no HTTP (ignored)") \
	X(SOCK_OTHER_ROLE, "sock_other_role", "socket set: calls on connections of the role the set does not count (a client's in the server set)") \
	X(PROCS_FULL, "procs_full", "socket set: connections counted on the overflow process row (per interval)")

#define HM_MON_ENUM(sym, name, desc) HM_MON_##sym,
enum hm_monitor_counter { HM_MONITOR_COUNTERS(HM_MON_ENUM) HM_MON_MAX };
#undef HM_MON_ENUM

#endif /* HTTPMON_H */
