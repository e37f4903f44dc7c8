/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * xdp.h - httpmon's XDP ingress program on an interface, through libxdp.
 *
 * The program runs as one entry of libxdp's dispatcher, so other XDP
 * programs on the interface keep running next to it (`xdp-loader status`
 * lists them all).  It is found again by its name, HM_XDP_PROG_NAME, also
 * when it was attached without a dispatcher (e.g. `ip link set ... xdp`).
 * Functions return 0 or a count, or a negative errno.
 */
#ifndef HM_XDP_H
#define HM_XDP_H

#include <stdbool.h>
#include <stddef.h>
#include <xdp/libxdp.h>

#define HM_XDP_PROG_NAME "hm_xdp_ingress"
#define HM_XDP_SECTION "xdp"
/*
 * Position in the dispatcher: after programs of the default priority (50),
 * so httpmon counts what they pass on, as tc ingress would.
 */
#define HM_XDP_RUN_PRIO 200

/* Routes libxdp's messages through hm_log (warnings as info, the rest as debug). */
void hm_libxdp_logging(void);

struct hm_xdp_state {
	enum xdp_attach_mode mode; /* of the interface's XDP programs; XDP_MODE_UNSPEC: none */
	bool dispatcher; /* they run in libxdp's dispatcher (else one alone) */
	__u32 main_id; /* the program attached to the interface */
	char main_name[16];
	int nprogs; /* programs in the dispatcher, or 1 */
	__u32 prog_id; /* ours, 0 when it is not there */
};

/*
 * What XDP runs on the interface: returns 1 when our program is among it,
 * 0 when not (st->mode says whether anything is), or a negative errno.
 */
int hm_xdp_find(int ifindex, struct hm_xdp_state *st);

/*
 * Attaches the program of section HM_XDP_SECTION of obj (opened, not yet
 * loaded: libxdp loads it as a dispatcher entry) in the given mode.
 * libbpf's and libxdp's messages are debug messages meanwhile: libxdp probes
 * the kernel by loading programs that may fail.
 */
int hm_xdp_attach(struct bpf_object *obj, int ifindex, enum xdp_attach_mode mode, __u32 *prog_id);

/* Removes our program from the interface, leaving the others; returns 1, or 0 if absent. */
int hm_xdp_detach(int ifindex);

/*
 * libxdp before 1.4.1 keeps a descriptor of the interface's main XDP
 * program open after each lookup, which keeps a detached program, and the
 * maps it uses, alive until the process exits.  Closes every BPF program
 * descriptor of the process: call it only while holding none of your own.
 */
void hm_xdp_close_stray_fds(void);

/*
 * Whether IFACE's driver runs XDP programs natively, from the kernel's
 * xdp-features (netdev generic netlink family, Linux 6.3): 1 or 0, or a
 * negative errno when the kernel does not tell.
 */
int hm_xdp_native_supported(int ifindex);

/* "native", "generic" (XDP_MODE_SKB), "offload" or "-". */
const char *hm_xdp_mode_str(enum xdp_attach_mode mode);

/* libxdp's state directory in bpffs (dispatcher pins): $LIBXDP_BPFFS/xdp. */
const char *hm_libxdp_dir(char *buf, size_t len);

/* True when IFACE's driver is veth (ethtool's driver name). */
bool hm_iface_is_veth(const char *ifname);

#endif /* HM_XDP_H */
