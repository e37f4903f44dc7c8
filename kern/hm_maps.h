/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * hm_maps.h - the maps of the httpmon classifier, and hm_count().
 *
 * Included by every stage that touches a map (and by the userspace fuzz
 * harness, which backs the same definitions with maps of its own).  Maps
 * declared LIBBPF_PIN_BY_NAME are the pinned set described in httpmon.h.
 */
#ifndef HM_MAPS_H
#define HM_MAPS_H

#include "httpmon.h"
#include "hm_state.h"

#ifndef EEXIST
#define EEXIST 17 /* errno.h is not for BPF programs */
#endif

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct hm_config);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} hm_config SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, HM_MAX_CONNS);
	__type(key, struct hm_conn_key);
	__type(value, struct hm_conn);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} hm_conns SEC(".maps");

/* Row ids: (kind, generation, key) -> id, for every kind's array below. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, HM_GENS * (HM_MAX_CLIENTS + HM_MAX_PORTS + HM_MAX_PORT_CLIENTS +
				       HM_MAX_IFACES));
	__type(key, struct hm_row_key);
	__type(value, struct hm_row_val);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} hm_row_ids SEC(".maps");

/* The rows: index gen * HM_MAX_<KIND> + id; id 0 is the kind's overflow row. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, HM_GENS * HM_MAX_CLIENTS);
	__type(key, __u32);
	__type(value, struct hm_stats);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} hm_clients SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, HM_GENS * HM_MAX_PORTS);
	__type(key, __u32);
	__type(value, struct hm_stats);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} hm_ports SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, HM_GENS * HM_MAX_PORT_CLIENTS);
	__type(key, __u32);
	__type(value, struct hm_stats);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} hm_port_clients SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, HM_GENS * HM_MAX_IFACES);
	__type(key, __u32);
	__type(value, struct hm_stats);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} hm_ifaces SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, HM_GENS * HM_MON_MAX);
	__type(key, __u32); /* gen * HM_MON_MAX + enum hm_monitor_counter */
	__type(value, __u64);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} hm_monitor SEC(".maps");

/* Latency histograms, HM_HIST_INDEX(gen, slot, family). */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, HM_GENS * HM_HIST_SLOTS * HM_LAT_FAMILIES);
	__type(key, __u32);
	__type(value, struct hm_hist);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} hm_hist SEC(".maps");

/* Routes: (method, label) -> id, id -> stats per generation, operator patterns. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, HM_MAX_ROUTES);
	__type(key, struct hm_route_key);
	__type(value, struct hm_route_val);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} hm_route_ids SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, HM_GENS * HM_MAX_ROUTES);
	__type(key, __u32); /* gen * HM_MAX_ROUTES + route id */
	__type(value, struct hm_stats);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} hm_routes SEC(".maps");

/* Host names -> ids, and each host's rows per generation (HM_HOST_* in httpmon.h). */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, HM_MAX_HOSTS);
	__type(key, struct hm_host_key);
	__type(value, struct hm_route_val);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} hm_host_ids SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, HM_GENS * HM_MAX_HOSTS);
	__type(key, __u32); /* gen * HM_MAX_HOSTS + host id */
	__type(value, struct hm_stats);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} hm_hosts SEC(".maps");

/* (host, route) pairs -> ids, and each pair's rows per generation. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, HM_MAX_HOST_ROUTES);
	__type(key, struct hm_host_route_key);
	__type(value, struct hm_route_val);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} hm_hr_ids SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, HM_GENS * HM_MAX_HOST_ROUTES);
	__type(key, __u32); /* gen * HM_MAX_HOST_ROUTES + pair id */
	__type(value, struct hm_stats);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} hm_host_routes SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, HM_MAX_PATTERNS);
	__type(key, __u32);
	__type(value, struct hm_route_pattern);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} hm_route_pats SEC(".maps");

/* Ids handed out (HM_SEQ_*). */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, HM_SEQ_SLOTS);
	__type(key, __u32);
	__type(value, __u32);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} hm_seq SEC(".maps");

/* Methods not in HM_METHOD_LIST: name -> id, for as long as the map set exists. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, HM_MAX_EXT_METHODS);
	__type(key, struct hm_method_key);
	__type(value, struct hm_route_val);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} hm_method_ids SEC(".maps");

/*
 * Loader bookkeeping, keyed by ifindex: which interfaces hm-load attached to
 * and whether it created their clsact qdisc.  The program never touches it;
 * it is declared here so that it is pinned with the rest of the set.
 */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, HM_MAX_LINKS);
	__type(key, __u32);
	__type(value, struct hm_link);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} hm_links SEC(".maps");

/*
 * The idle-connection sweep: one BPF timer and its working memory.  Only the
 * timer callback writes delta (a timer's callbacks never overlap), so it
 * needs neither the per-CPU scratch nor a lock.  Pinned so that every
 * program sharing the map set (tc ingress and egress loaded one at a time by
 * iproute2, XDP) shares one sweep; hm-load rewrites the entry on detach and
 * reload, which cancels the timer and releases the program it holds.
 */
struct hm_aging {
	struct bpf_timer timer;
	__u64 armed;   /* 1 while the timer is scheduled (set by cmpxchg) */
	__u64 now;     /* coarse clock of the sweep in progress */
	__u64 idle_ns; /* its idle bound */
	__u32 live;    /* connections the sweep kept */
	__u32 gen;     /* generation the sweep writes */
	__u32 epoch;
	__u32 _pad;
	struct hm_stats delta;   /* requests of the connection being aged */
	struct hm_conn_key key;  /* its key, writable (hm_rows_find takes memory) */
};

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct hm_aging);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} hm_aging SEC(".maps");

#ifdef HM_PROC_ROWS
/* The socket set's process rows (httpmon.h, "Process rows") and its cgroup filter. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, HM_GENS * HM_MAX_PROCS);
	__type(key, struct hm_proc_key);
	__type(value, struct hm_route_val);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} hm_proc_ids SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, HM_GENS * HM_MAX_PROCS);
	__type(key, __u32); /* gen * HM_MAX_PROCS + process row id */
	__type(value, struct hm_stats);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} hm_procs SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_CGROUP_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u32);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} hm_sock_cgrp SEC(".maps");
#endif

/* Per-CPU working memory of one program run; never pinned, never read outside. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct hm_scratch);
} hm_scratch SEC(".maps");

/* Adds n to a self-metric of generation gen. */
static __always_inline void hm_count(__u32 gen, enum hm_monitor_counter idx, __u64 n)
{
	__u32 key = (gen & 1) * HM_MON_MAX + idx;
	__u64 *v = bpf_map_lookup_elem(&hm_monitor, &key);

	if (v)
		*v += n;
}

/*
 * The id of a name (a route label, a host, a host and route pair) in its id
 * map ids.  A new name takes the next id of hm_seq[slot] from first on (an
 * atomic add, only on first sight of a name); at max, or when the id map is
 * full, it gets the overflow id 0, and the self-metric full counts it.
 */
static __always_inline __u32 hm_name_id(void *ids, const void *key, __u32 slot, __u32 first,
					__u32 max, __u32 gen, enum hm_monitor_counter full)
{
	struct hm_route_val *v = bpf_map_lookup_elem(ids, key), nv;
	__u32 *seq;
	long err;

	if (v)
		return v->id;
	seq = bpf_map_lookup_elem(&hm_seq, &slot);
	if (!seq || *seq + first >= max)
		goto full;
	nv.id = __sync_fetch_and_add(seq, 1) + first;
	if (nv.id >= max)
		goto full;
	err = bpf_map_update_elem(ids, key, &nv, BPF_NOEXIST);
	if (!err)
		return nv.id;
	if (err == -EEXIST) { /* another CPU named it first; our id stays unused */
		v = bpf_map_lookup_elem(ids, key);
		if (v)
			return v->id;
	}
full:
	hm_count(gen, full, 1);
	return 0;
}

#endif /* HM_MAPS_H */
