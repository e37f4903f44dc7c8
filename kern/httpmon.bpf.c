// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * httpmon.bpf.c - TC classifier that measures HTTP/1.x traffic in the kernel.
 *
 * Attach the same object on clsact ingress and egress (sections tc/ingress and
 * tc/egress).  Every segment is parsed the same way whichever hook sees it:
 * the side that sends a request line is the client, so the program works on a
 * server's interface, a client's, or a bridge.  It never changes a verdict:
 * every path returns TC_ACT_UNSPEC, which lets later filters classify as if
 * httpmon were not there.
 *
 * Data path per segment:
 *   L2/L3/L4 headers (bpf_skb_load_bytes: headers of veth and GSO skbs are not
 *   always in the linear area) -> port filter (hm_config) -> connection state
 *   (hm_conns, created only by a segment that starts an HTTP message) ->
 *   sequence check (retransmitted bytes skipped) -> HTTP framing walk
 *   (hm_http.h) -> one update per aggregate row (per-CPU maps: no atomics) ->
 *   FIN/RST bookkeeping.
 * Off the data path, a BPF timer (hm_aging, armed by the first segment that
 * finds it idle) sweeps hm_conns and ages connections that went quiet.
 */
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/in.h>
#include <linux/ip.h>
#include <linux/ipv6.h>
#include <linux/pkt_cls.h>
#include <linux/tcp.h>
#include <stdbool.h>
#include <bpf/bpf_endian.h>
#include <bpf/bpf_helpers.h>

#include "httpmon.h"
#include "hm_state.h"

#define EEXIST 17

char LICENSE[] SEC("license") = "Dual BSD/GPL";

#include "hm_maps.h"
#include "hm_account.h"

/* TC: clsact ingress and egress. */
#define HM_CTX_NAME tc
#define HM_CTX_T struct __sk_buff
#define HM_CTX_LOAD bpf_skb_load_bytes
#define HM_CTX_LEN(ctx) ((ctx)->len)
#include "hm_datapath.h"
#undef HM_CTX_NAME
#undef HM_CTX_T
#undef HM_CTX_LOAD
#undef HM_CTX_LEN

/* XDP: ingress before an skb exists (multi-buffer frames included). */
#define HM_CTX_NAME xdp
#define HM_CTX_T struct xdp_md
#define HM_CTX_LOAD bpf_xdp_load_bytes
#define HM_CTX_LEN(ctx) ((__u32)bpf_xdp_get_buff_len(ctx))
#include "hm_datapath.h"
#undef HM_CTX_NAME
#undef HM_CTX_T
#undef HM_CTX_LOAD
#undef HM_CTX_LEN

SEC("tc/ingress")
int hm_tc_ingress(struct __sk_buff *skb)
{
	hm_handle_tc(skb, skb->ifindex, 0);
	return TC_ACT_UNSPEC;
}

SEC("tc/egress")
int hm_tc_egress(struct __sk_buff *skb)
{
	hm_handle_tc(skb, skb->ifindex, 1);
	return TC_ACT_UNSPEC;
}

SEC("xdp")
int hm_xdp_ingress(struct xdp_md *ctx)
{
	hm_handle_xdp(ctx, ctx->ingress_ifindex, 0);
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
