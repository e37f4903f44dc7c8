// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * httpmon.bpf.c - TC classifier (and XDP ingress program) that measures
 * HTTP/1.x traffic in the kernel: the entry points.
 *
 * Attach the same object on clsact ingress and egress (sections tc/ingress and
 * tc/egress), or XDP for ingress.  Every segment is parsed the same way
 * whichever hook sees it: the side that sends a request line is the client,
 * so the program works on a server's interface, a client's, or a bridge.  It
 * never changes a verdict: every path returns TC_ACT_UNSPEC (XDP_PASS),
 * which lets later filters classify as if httpmon were not there.
 *
 * The datapath, one header per stage in the order a segment meets them:
 *   hm_ctx.h      the context layer: TC or XDP helpers
 *   hm_packet.h   the packet window and the L2-L4 headers
 *   hm_conn.h     the connection: key, state, sequence, FIN/RST, idle sweep
 *   hm_http.h     HTTP/1.x framing
 *   hm_target.h   the request target to a route
 *   hm_account.h  pairing and accounting (rows, routes, histograms)
 *   hm_maps.h     the maps; hm_state.h the private state they hold
 *   hm_segment.h  one segment through all of them
 */
#include <linux/bpf.h>
#include <linux/pkt_cls.h>
#include <stdbool.h>
#include <bpf/bpf_endian.h>
#include <bpf/bpf_helpers.h>

#include "hm_segment.h"

char LICENSE[] SEC("license") = "Dual BSD/GPL";

SEC("tc/ingress")
int hm_tc_ingress(struct __sk_buff *skb)
{
	hm_segment(skb, HM_CTX_TC, skb->ifindex, 0);
	return TC_ACT_UNSPEC;
}

SEC("tc/egress")
int hm_tc_egress(struct __sk_buff *skb)
{
	hm_segment(skb, HM_CTX_TC, skb->ifindex, 1);
	return TC_ACT_UNSPEC;
}

SEC("xdp")
int hm_xdp_ingress(struct xdp_md *ctx)
{
	hm_segment(ctx, HM_CTX_XDP, ctx->ingress_ifindex, 0);
	return XDP_PASS;
}

/*
 * Run by hm-load (BPF_PROG_RUN) after it rewrote hm_aging, which cancels the
 * sweep: it schedules the sweep again at once, so connections already idle
 * are aged even if no packet ever comes to re-arm it.  The timer then holds
 * this program until the next hm-load or the last connection's state is gone.
 */
SEC("syscall")
int hm_aging_kick(void *ctx)
{
	__u32 zero = 0;

	hm_aging_arm(bpf_map_lookup_elem(&hm_config, &zero));
	return 0;
}
