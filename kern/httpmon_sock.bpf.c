// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * httpmon_sock.bpf.c - the socket source: HTTP/1.x as the processes of this
 * host read and write it, measured in the kernel by the packet path's parse
 * core (hm_sock.h says how).  hm-load --sockets loads it on a map set of
 * its own (httpmon.h, HM_SOCK_SUBDIR) and pins its links there.
 *
 * The programs never change what a call does: they read its arguments and
 * its buffer, and return 0.
 */
#define HM_PROC_ROWS 1 /* the set's fourth row kind is the process (hm_account.h) */

#include <linux/bpf.h>
#include <stdbool.h>
#include <bpf/bpf_endian.h>
#include <bpf/bpf_helpers.h>

#include "hm_sock.h"

char LICENSE[] SEC("license") = "Dual BSD/GPL";

/* A syscalls:sys_enter_* record: the common header, the call's number, its arguments. */
struct hm_sys_enter {
	__u64 common;
	__s32 nr;
	__u32 _pad;
	__u64 args[6];
};

/* read(fd, buf, count), write(fd, buf, count), recvfrom(fd, buf, ...), sendto(fd, buf, ...) */
#define HM_ENTER_BUF(call)                                                                  \
	SEC("tracepoint/syscalls/sys_enter_" #call)                                         \
	int hm_enter_##call(struct hm_sys_enter *ctx)                                       \
	{                                                                                   \
		hm_sock_enter(ctx->nr, HM_CALL_UBUF, ctx->args[1], 0);                      \
		return 0;                                                                   \
	}
HM_ENTER_BUF(read)
HM_ENTER_BUF(write)
HM_ENTER_BUF(recvfrom)
HM_ENTER_BUF(sendto)

/* readv(fd, iov, iovcnt), writev(fd, iov, iovcnt) */
#define HM_ENTER_IOV(call)                                                                  \
	SEC("tracepoint/syscalls/sys_enter_" #call)                                         \
	int hm_enter_##call(struct hm_sys_enter *ctx)                                       \
	{                                                                                   \
		hm_sock_enter(ctx->nr, HM_CALL_IOVEC, ctx->args[1], ctx->args[2]);          \
		return 0;                                                                   \
	}
HM_ENTER_IOV(readv)
HM_ENTER_IOV(writev)

/* recvmsg(fd, msg, flags), sendmsg(fd, msg, flags) */
#define HM_ENTER_MSG(call)                                                                  \
	SEC("tracepoint/syscalls/sys_enter_" #call)                                         \
	int hm_enter_##call(struct hm_sys_enter *ctx)                                       \
	{                                                                                   \
		hm_sock_enter_msg(ctx->nr, ctx->args[1]);                                   \
		return 0;                                                                   \
	}
HM_ENTER_MSG(recvmsg)
HM_ENTER_MSG(sendmsg)

/* sendfile(out, in, offset, count), splice(...): pages, never user memory. */
#define HM_ENTER_KERNEL(call)                                                               \
	SEC("tracepoint/syscalls/sys_enter_" #call)                                         \
	int hm_enter_##call(struct hm_sys_enter *ctx)                                       \
	{                                                                                   \
		hm_sock_enter(ctx->nr, HM_CALL_KERNEL, 0, 0);                               \
		return 0;                                                                   \
	}
HM_ENTER_KERNEL(sendfile64)
HM_ENTER_KERNEL(splice)

/* sock_recvmsg() returned: ret bytes read from sk (flags as recv(2) had them). */
SEC("tp_btf/sock_recv_length")
int hm_recv(__u64 *ctx)
{
	int ret = (int)ctx[1], flags = (int)ctx[2];

	if (ret > 0 && !(flags & HM_MSG_PEEK))
		hm_sock_io((void *)ctx[0], hm_sock_call_take(), ret, 0);
	return 0;
}

/* sock_sendmsg() returned: ret bytes written to sk. */
SEC("tp_btf/sock_send_length")
int hm_send(__u64 *ctx)
{
	int ret = (int)ctx[1];

	if (ret > 0)
		hm_sock_io((void *)ctx[0], hm_sock_call_take(), ret, 1);
	return 0;
}

/* A TCP connection changed state. */
SEC("tp_btf/inet_sock_set_state")
int hm_state(__u64 *ctx)
{
	hm_sock_state((void *)ctx[0], (int)ctx[1], (int)ctx[2]);
	return 0;
}
