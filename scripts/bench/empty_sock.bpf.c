/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * empty_sock.bpf.c - the floor of the socket source's cost figures.
 *
 * The socket source's hooks (kern/httpmon_sock.bpf.c) with programs that do
 * nothing, under the same program names, so scripts/bench.sh can set each
 * hook's ns per run beside the socket source's: what a program on that
 * hook costs as such (the tracepoint's call and the statistics' two clock
 * reads).  scripts/bench/attach_links.c attaches them.
 */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

char LICENSE[] SEC("license") = "Dual BSD/GPL";

#define HM_EMPTY(sec, name)                                                                 \
	SEC(sec)                                                                            \
	int name(void *ctx)                                                                 \
	{                                                                                   \
		return 0;                                                                   \
	}

HM_EMPTY("tp_btf/sock_recv_length", hm_recv)
HM_EMPTY("tp_btf/sock_send_length", hm_send)
HM_EMPTY("tp_btf/inet_sock_set_state", hm_state)
HM_EMPTY("tp_btf/tcp_destroy_sock", hm_destroy)
HM_EMPTY("tracepoint/syscalls/sys_exit_splice", hm_splice_exit)
