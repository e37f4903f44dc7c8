// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * vlan_tag.bpf.c - VLAN 7 on a veth pair without the 802.1Q driver, for
 * tests/e2e/test_xdp.sh.
 *
 * Attached with plain tc: tc/vlan_push on an egress hook tags every IP
 * frame with VLAN 7 (with the device's tx VLAN offload off, the kernel then
 * writes the tag into the frame itself); tc/vlan_pop on the peer's ingress
 * hook, which runs after XDP, takes a VLAN 7 tag off again, so the stack
 * receives plain frames.  vlan_popped counts the frames that arrived
 * tagged, for the test to check that they really were.
 */
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/pkt_cls.h>
#include <bpf/bpf_endian.h>
#include <bpf/bpf_helpers.h>

#define TEST_VLAN_ID 7

__u64 vlan_popped;

SEC("tc/vlan_push")
int vlan_push7(struct __sk_buff *skb)
{
	if (skb->protocol == bpf_htons(ETH_P_IP) || skb->protocol == bpf_htons(ETH_P_IPV6))
		bpf_skb_vlan_push(skb, bpf_htons(ETH_P_8021Q), TEST_VLAN_ID);
	return TC_ACT_UNSPEC; /* let the next filters (httpmon's) run too */
}

SEC("tc/vlan_pop")
int vlan_pop7(struct __sk_buff *skb)
{
	/* The receive path moved the tag from the frame into the skb's metadata. */
	if (skb->vlan_present && (skb->vlan_tci & 0xfff) == TEST_VLAN_ID) {
		bpf_skb_vlan_pop(skb);
		__sync_fetch_and_add(&vlan_popped, 1);
	}
	return TC_ACT_UNSPEC; /* let the next filters (httpmon's) run too */
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
