/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * hm_ctx.h - the context layer: the only place that knows whether a segment
 * came through TC (struct __sk_buff) or XDP (struct xdp_md).
 *
 * Every stage takes the context as void * with its kind, a compile-time
 * constant at each entry point (httpmon.bpf.c), so each function below
 * compiles to the one helper the program type allows: the verifier refuses
 * a TC program that calls an XDP helper even on a dead path, and constant
 * folding removes that path.  bpf_skb_load_bytes() and bpf_xdp_load_bytes()
 * read non-linear, GSO and multi-buffer packets alike.
 */
#ifndef HM_CTX_H
#define HM_CTX_H

#include <linux/bpf.h>
#include <stdbool.h>
#ifdef __bpf__
#include <bpf/bpf_helpers.h> /* the userspace build (tests/fuzz/bpf_shim.h) has its own */
#endif

enum hm_ctx_kind {
	HM_CTX_TC,
	HM_CTX_XDP,
	HM_CTX_USER, /* a process's buffer, by the socket programs (struct hm_ubuf) */
};

/*
 * The bytes one read or write moved, as far as a walk reads them: one
 * contiguous piece of a user buffer (an iovec entry).  base 0: the bytes
 * never were in user memory (sendfile, splice), and every load fails.
 */
struct hm_ubuf {
	__u64 base;
};

/* Copies len bytes at offset off (of the packet, or the buffer) to to; < 0 when there are none. */
static __always_inline long hm_ctx_load(void *ctx, enum hm_ctx_kind kind, __u32 off, void *to,
					__u32 len)
{
	if (kind == HM_CTX_USER) {
		__u64 base = ((struct hm_ubuf *)ctx)->base;

		if (!base)
			return -1;
		return bpf_probe_read_user(to, len, (const void *)(base + off));
	}
	if (kind == HM_CTX_XDP)
		return bpf_xdp_load_bytes(ctx, off, to, len);
	return bpf_skb_load_bytes(ctx, off, to, len);
}

/* The packet's length, all fragments included. */
static __always_inline __u32 hm_ctx_len(void *ctx, enum hm_ctx_kind kind)
{
	if (kind == HM_CTX_XDP)
		return bpf_xdp_get_buff_len(ctx);
	return ((struct __sk_buff *)ctx)->len;
}

/*
 * hm_loop: the condition of a loop bounded at run time by the kernel rather
 * than by a counter the verifier must follow.  It is the may_goto
 * instruction (Linux 6.9), written as bytes because clang 14 has no mnemonic
 * for it: each pass takes one from the program run's budget (8M passes),
 * and the jump leaves the loop when the budget is spent.  The verifier
 * checks the body until its state repeats, so a loop whose position lives in
 * map memory verifies in a pass or two, however many times it runs; it
 * costs a decrement and a branch per pass.  Every hm_loop loop also ends on
 * its own (its position advances); the budget only guarantees it.  The
 * userspace build (the fuzzer) has no budget: there the loops end on their
 * own.
 */
#ifdef __bpf__
#define hm_loop                                                                          \
	({                                                                               \
		__label__ l_break, l_continue;                                           \
		bool hm_loop_ok = true;                                                  \
		asm volatile goto("1: .byte 0xe5; .byte 0;"                              \
				  ".long ((%l[l_break] - 1b - 8) / 8) & 0xffff;"         \
				  ".short 0" :::: l_break);                              \
		goto l_continue;                                                         \
	l_break:                                                                         \
		hm_loop_ok = false;                                                      \
	l_continue:;                                                                     \
		hm_loop_ok;                                                              \
	})
#else
#define hm_loop 1
#endif

#endif /* HM_CTX_H */
