/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * tc.h - httpmon's filters on an interface's clsact hooks.
 *
 * A filter is httpmon's when its BPF program is named hm_tc_*: attached by
 * hm-load (fixed handle and priority, so a reload replaces it) or by plain
 * tc with the same object (any handle).  Functions return a count or 0, or a
 * negative errno.
 */
#ifndef HM_TC_H
#define HM_TC_H

#include <stdbool.h>
#include <linux/types.h>
#include <bpf/libbpf.h>

#define HM_TC_HANDLE 0x484d
#define HM_TC_PRIO 0x484d
#define HM_TC_PROG_PREFIX "hm_tc_"
#define HM_TC_MAX_FILTERS 64

struct hm_tc_filter {
	__u32 handle;
	__u32 prio;
	__u32 prog_id;
	bool ours; /* the program is httpmon's */
};

/*
 * The filters on one clsact hook (BPF_TC_INGRESS or BPF_TC_EGRESS), ours
 * or not: returns how many there are (0 without a clsact qdisc) and stores
 * up to max of them.
 */
int hm_tc_list(int ifindex, enum bpf_tc_attach_point where, struct hm_tc_filter *out, int max);

/* Ids of httpmon's programs on one hook: returns how many, stores up to max. */
int hm_tc_our_ids(int ifindex, enum bpf_tc_attach_point where, __u32 *ids, int max);

/*
 * Attaches prog_fd to the hook with httpmon's handle and priority, replacing
 * the one there.  httpmon filters with other handles (plain tc's) are
 * removed first, so the hook never runs two of them.
 */
int hm_tc_attach(int ifindex, enum bpf_tc_attach_point where, int prog_fd);

/*
 * Removes every httpmon filter from the hook; returns how many.  *left is
 * set to the number of filters that stay (other programs').
 */
int hm_tc_detach(int ifindex, enum bpf_tc_attach_point where, int *left);

/*
 * The interface's master device (IFLA_MASTER: the bridge a port belongs to;
 * 0 when none) and whether the interface is a bridge itself.
 */
int hm_iface_master(int ifindex, int *master, bool *is_bridge);

/* True when the loaded program with this id is named NAME (prefix: starts with it). */
bool hm_prog_named(__u32 prog_id, const char *name, bool prefix);

#endif /* HM_TC_H */
