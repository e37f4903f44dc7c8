// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * httpmon_sock.bpf.c - the socket source: HTTP/1.x as the processes of this
 * host read and write it, measured in the kernel by the packet path's parse
 * core.  hm_sock.h says how; this file holds what only the kernel has: the
 * hooks, the kernel types they read (CO-RE), and the calling task's storage.
 * hm-load --sockets loads it on a map set of its own (httpmon.h,
 * HM_SOCK_SUBDIR) and pins its links there.
 *
 * The programs never change what a call does: they read its arguments and
 * its buffer, and return 0.
 */
#define HM_PROC_ROWS 1 /* the set's fourth row kind is the process (hm_account.h) */

#include <linux/bpf.h>
#include <stdbool.h>
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_endian.h>
#include <bpf/bpf_helpers.h>

#include "hm_sock.h"

char LICENSE[] SEC("license") = "Dual BSD/GPL";

/*
 * The kernel types the programs read, by name: CO-RE relocates each field
 * to where this kernel's BTF has it, whatever the layout below.  The
 * tp_btf programs' arguments are typed pointers (BTF), so the verifier lets
 * them read these fields directly: a plain load, checked against the
 * kernel's own type, where bpf_probe_read_kernel() would be a helper call
 * per field.
 */
struct ns_common___hm {
	unsigned int inum;
} __attribute__((preserve_access_index));

struct net___hm {
	struct ns_common___hm ns;
} __attribute__((preserve_access_index));

struct possible_net___hm {
	struct net___hm *net;
} __attribute__((preserve_access_index));

/* An IPv6 address, read as two words. */
struct in6_addr___hm {
	__u64 w[2];
};

struct sock_common___hm {
	__be32 skc_daddr;
	__be32 skc_rcv_saddr;
	__be16 skc_dport;
	__u16 skc_num;
	unsigned short skc_family;
	struct possible_net___hm skc_net;
	struct in6_addr___hm skc_v6_daddr;
	struct in6_addr___hm skc_v6_rcv_saddr;
} __attribute__((preserve_access_index));

struct sock___hm {
	struct sock_common___hm __sk_common;
	__u16 sk_protocol;
	__u16 sk_type;
} __attribute__((preserve_access_index));

/*
 * The local port as inet_sport: inet_num (skc_num) is cleared when the
 * connection reaches CLOSE (the port is given back), before the state
 * change and the calls that may still follow it.
 */
struct inet_sock___hm {
	__be16 inet_sport;
} __attribute__((preserve_access_index));

struct pt_regs___hm {
	unsigned long orig_ax;
} __attribute__((preserve_access_index));

struct {
	__uint(type, BPF_MAP_TYPE_TASK_STORAGE);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, int);
	__type(value, struct hm_sock_call);
} hm_sock_calls SEC(".maps");

/*
 * sys_enter: where the bytes of system call nr will be.  A call that may
 * write to a socket keeps its entry time: a response's first byte is sent
 * then.  A read's time is taken when it returns, if it was a socket's.
 */
static __always_inline void hm_sock_enter(__u32 nr, __u8 type, __u64 base, __u64 nr_segs,
					  bool write)
{
	struct hm_sock_call *call;

	call = bpf_task_storage_get(&hm_sock_calls, bpf_get_current_task_btf(), 0,
				    BPF_LOCAL_STORAGE_GET_F_CREATE);
	if (!call)
		return;
	call->ts = write ? bpf_ktime_get_ns() : 0;
	call->base = base;
	call->nr_segs = nr_segs;
	call->nr = nr;
	call->type = type;
	call->active = 1;
}

/* sendmsg(2), recvmsg(2): the iovec array is named by the user's struct msghdr. */
static __always_inline void hm_sock_enter_msg(__u32 nr, __u64 umsg, bool write)
{
	struct hm_user_msghdr m;

	if (bpf_probe_read_user(&m, sizeof(m), (const void *)umsg))
		m.iov = m.iovlen = 0; /* unreadable: the bytes are counted, not parsed */
	hm_sock_enter(nr, HM_CALL_IOVEC, m.iov, m.iovlen, write);
}

/*
 * A socket event's call record, or NULL when the task is not in the system
 * call recorded (the bytes are then counted, not read).  A call's user
 * bytes are taken once; sendfile and splice hand a socket many pieces.
 */
static __always_inline struct hm_sock_call *hm_sock_call_take(void)
{
	struct task_struct *task = bpf_get_current_task_btf();
	struct hm_sock_call *call;

	call = bpf_task_storage_get(&hm_sock_calls, task, 0, 0);
	if (!call || !call->active)
		return NULL;
#ifdef __TARGET_ARCH_x86
	{
		struct pt_regs___hm *regs = (void *)bpf_task_pt_regs(task);

		if (!regs || regs->orig_ax != call->nr)
			return NULL;
	}
#endif
	if (call->type != HM_CALL_KERNEL)
		call->active = 0;
	return call;
}

static __always_inline void hm_copy_addr(struct hm_addr *a, const __u64 *w)
{
	__u64 w0 = w[0], w1 = w[1];

	__builtin_memcpy(&a->a[0], &w0, 8);
	__builtin_memcpy(&a->a[8], &w1, 8);
}

/* Is sk a TCP socket of the Internet families? */
static __always_inline bool hm_sock_is_tcp(void *sk)
{
	struct sock___hm *so = sk;
	__u16 family = so->__sk_common.skc_family;

	return (family == AF_INET || family == AF_INET6) && so->sk_protocol == IPPROTO_TCP &&
	       so->sk_type == HM_SOCK_STREAM;
}

/* The connection key of socket sk, local endpoint first (side 0). */
static __always_inline int hm_sock_key(void *sk, struct hm_conn_key *k)
{
	struct sock___hm *so = sk;
	__u16 family = so->__sk_common.skc_family;
	struct net___hm *net;
	__be32 a4;

	if (family == AF_INET) {
		__builtin_memset(k, 0, sizeof(*k));
		k->addr[0].a[10] = k->addr[0].a[11] = 0xff;
		k->addr[1].a[10] = k->addr[1].a[11] = 0xff;
		a4 = so->__sk_common.skc_rcv_saddr;
		__builtin_memcpy(&k->addr[0].a[12], &a4, 4);
		a4 = so->__sk_common.skc_daddr;
		__builtin_memcpy(&k->addr[1].a[12], &a4, 4);
	} else if (family == AF_INET6) {
		/* A v4-mapped peer of a dual-stack socket is already ::ffff:a.b.c.d here. */
		hm_copy_addr(&k->addr[0], so->__sk_common.skc_v6_rcv_saddr.w);
		hm_copy_addr(&k->addr[1], so->__sk_common.skc_v6_daddr.w);
	} else {
		return -1;
	}
	/* Past struct sock: the verifier's type for sk ends there, so a helper reads it. */
	k->port[0] = bpf_ntohs(BPF_CORE_READ((struct inet_sock___hm *)sk, inet_sport));
	k->port[1] = bpf_ntohs(so->__sk_common.skc_dport);
	net = so->__sk_common.skc_net.net;
	k->netns = net ? net->ns.inum : 0;
	return 0;
}

/* A syscalls:sys_enter_* record: the common header, the call's number, its arguments. */
struct hm_sys_enter {
	__u64 common;
	__s32 nr;
	__u32 _pad;
	__u64 args[6];
};

/* read(fd, buf, count), write(fd, buf, count), recvfrom(fd, buf, ...), sendto(fd, buf, ...) */
#define HM_ENTER_BUF(call, write)                                                           \
	SEC("tracepoint/syscalls/sys_enter_" #call)                                         \
	int hm_enter_##call(struct hm_sys_enter *ctx)                                       \
	{                                                                                   \
		hm_sock_enter(ctx->nr, HM_CALL_UBUF, ctx->args[1], 0, write);               \
		return 0;                                                                   \
	}
HM_ENTER_BUF(read, false)
HM_ENTER_BUF(write, true)
HM_ENTER_BUF(recvfrom, false)
HM_ENTER_BUF(sendto, true)

/* readv(fd, iov, iovcnt), writev(fd, iov, iovcnt) */
#define HM_ENTER_IOV(call, write)                                                           \
	SEC("tracepoint/syscalls/sys_enter_" #call)                                         \
	int hm_enter_##call(struct hm_sys_enter *ctx)                                       \
	{                                                                                   \
		hm_sock_enter(ctx->nr, HM_CALL_IOVEC, ctx->args[1], ctx->args[2], write);   \
		return 0;                                                                   \
	}
HM_ENTER_IOV(readv, false)
HM_ENTER_IOV(writev, true)

/* recvmsg(fd, msg, flags), sendmsg(fd, msg, flags) */
#define HM_ENTER_MSG(call, write)                                                           \
	SEC("tracepoint/syscalls/sys_enter_" #call)                                         \
	int hm_enter_##call(struct hm_sys_enter *ctx)                                       \
	{                                                                                   \
		hm_sock_enter_msg(ctx->nr, ctx->args[1], write);                            \
		return 0;                                                                   \
	}
HM_ENTER_MSG(recvmsg, false)
HM_ENTER_MSG(sendmsg, true)

/* sendfile(out, in, offset, count), splice(...): pages, never user memory. */
#define HM_ENTER_KERNEL(call)                                                               \
	SEC("tracepoint/syscalls/sys_enter_" #call)                                         \
	int hm_enter_##call(struct hm_sys_enter *ctx)                                       \
	{                                                                                   \
		hm_sock_enter(ctx->nr, HM_CALL_KERNEL, 0, 0, true);                         \
		return 0;                                                                   \
	}
HM_ENTER_KERNEL(sendfile64)
HM_ENTER_KERNEL(splice)

/* ret bytes moved through sk by the calling task: write 0 read, 1 written. */
static __always_inline void hm_sock_event(void *sk, int ret, __u32 write)
{
	struct hm_config *cfg;
	struct hm_scratch *s = hm_sock_begin(&cfg, (__u64)sk);

	if (!s)
		return;
	if (!hm_sock_is_tcp(sk) || hm_sock_key(sk, &s->key)) {
		hm_count(s->gen, HM_MON_SOCK_IGNORED, 1);
		return;
	}
	hm_sock_io(s, cfg, (__u64)sk, hm_sock_call_take(), ret, write);
}

/* sock_recvmsg() returned: ret bytes read from sk (flags as recv(2) had them). */
SEC("tp_btf/sock_recv_length")
int hm_recv(__u64 *ctx)
{
	int ret = (int)ctx[1], flags = (int)ctx[2];

	if (ret > 0 && !(flags & HM_MSG_PEEK))
		hm_sock_event((void *)ctx[0], ret, 0);
	return 0;
}

/* sock_sendmsg() returned: ret bytes written to sk. */
SEC("tp_btf/sock_send_length")
int hm_send(__u64 *ctx)
{
	int ret = (int)ctx[1];

	if (ret > 0)
		hm_sock_event((void *)ctx[0], ret, 1);
	return 0;
}

/*
 * A TCP connection changed state.  Established: new since the load (see
 * hm_sock_seen).  This side closed it (FIN_WAIT1, LAST_ACK: close(2),
 * shutdown(2), the process's exit): nothing more will be written, and the
 * state goes.  A connection reset, or ended by its timers (CLOSE), may still
 * see the calls its process made before it knew: an answer written as the
 * reset arrives.  Its state goes when the socket does (hm_destroy).
 */
SEC("tp_btf/inet_sock_set_state")
int hm_state(__u64 *ctx)
{
	void *sk = (void *)ctx[0];
	int oldstate = (int)ctx[1], newstate = (int)ctx[2];
	__u64 skp = (__u64)sk;
	struct hm_conn_key key;
	struct hm_stats delta;
	__u8 new = HM_SK_NEW;

	if (newstate == HM_TCP_ESTABLISHED) {
		if (oldstate == HM_TCP_SYN_RECV || oldstate == HM_TCP_SYN_SENT)
			bpf_map_update_elem(&hm_sock_seen, &skp, &new, BPF_ANY);
		return 0;
	}
	if (newstate != HM_TCP_FIN_WAIT1 && newstate != HM_TCP_LAST_ACK)
		return 0;
	if (!hm_sock_key(sk, &key))
		hm_sock_end(&key, &delta);
	return 0;
}

/*
 * The socket is freed (tcp:tcp_destroy_sock): whatever state is left goes,
 * and so does what the monitor knew of the socket, before its address can
 * be reused.
 */
SEC("tp_btf/tcp_destroy_sock")
int hm_destroy(__u64 *ctx)
{
	void *sk = (void *)ctx[0];
	__u64 skp = (__u64)sk;
	struct hm_conn_key key;
	struct hm_stats delta;

	bpf_map_delete_elem(&hm_sock_seen, &skp);
	if (!hm_sock_key(sk, &key))
		hm_sock_end(&key, &delta);
	return 0;
}
