// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * httpmon_sock.bpf.c - the socket source: HTTP/1.x as the processes of this
 * host read and write it, measured in the kernel by the packet path's parse
 * core.  hm_sock.h says how; this file holds what only the kernel has: the
 * hooks, and the kernel types they read (CO-RE): the socket, the task's
 * registers.
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

/*
 * The calling task's registers as the system call left them: its number
 * and arguments.  x86-64 only (the numbers below are its own); elsewhere a
 * call's bytes are counted, not read.
 */
struct pt_regs___hm {
	unsigned long orig_ax;
	unsigned long di;
	unsigned long si;
	unsigned long dx;
} __attribute__((preserve_access_index));

/* From a task's fd to the socket behind it (hm_splice_exit). */
struct inode___hm {
	unsigned short i_mode;
} __attribute__((preserve_access_index));

struct file___hm {
	struct inode___hm *f_inode;
	void *private_data;
} __attribute__((preserve_access_index));

struct fdtable___hm {
	unsigned int max_fds;
	struct file___hm **fd;
} __attribute__((preserve_access_index));

struct files_struct___hm {
	struct fdtable___hm *fdt;
} __attribute__((preserve_access_index));

struct task_struct___hm {
	struct files_struct___hm *files;
} __attribute__((preserve_access_index));

struct socket___hm {
	struct sock___hm *sk;
} __attribute__((preserve_access_index));

/* A kernel address, typed for reading only: loads of it are checked like a probe read. */
extern void *bpf_rdonly_cast(const void *obj, __u32 btf_id) __ksym;

#define HM_NR_READ 0
#define HM_NR_WRITE 1
#define HM_NR_READV 19
#define HM_NR_WRITEV 20
#define HM_NR_SENDFILE 40
#define HM_NR_SENDTO 44
#define HM_NR_RECVFROM 45
#define HM_NR_SENDMSG 46
#define HM_NR_RECVMSG 47
#define HM_NR_SPLICE 275

#define HM_S_IFMT 0170000
#define HM_S_IFSOCK 0140000

/*
 * Where the bytes of the system call the task is in are, read from its
 * registers at the socket event itself: no program runs on a system call
 * that moves no socket byte.  NULL when the call is none of those known
 * (io_uring, sendmmsg, the kernel's own sockets): the bytes are counted,
 * not read.  The buffer is the call's first argument after the fd; a
 * socket event reports the whole of a read or write (sendfile and splice
 * hand a socket many pieces of pages, never user memory).
 */
static __always_inline struct hm_sock_call *hm_sock_call_of(struct hm_sock_call *call)
{
#ifdef __TARGET_ARCH_x86
	struct pt_regs___hm *regs = (void *)bpf_task_pt_regs(bpf_get_current_task_btf());
	struct hm_user_msghdr m;

	if (!regs)
		return NULL;
	__builtin_memset(call, 0, sizeof(*call));
	switch (regs->orig_ax) {
	case HM_NR_READ:
	case HM_NR_WRITE:
	case HM_NR_RECVFROM:
	case HM_NR_SENDTO:
		call->type = HM_CALL_UBUF;
		call->base = regs->si;
		return call;
	case HM_NR_READV:
	case HM_NR_WRITEV:
		call->type = HM_CALL_IOVEC;
		call->base = regs->si;
		call->nr_segs = regs->dx;
		return call;
	case HM_NR_RECVMSG:
	case HM_NR_SENDMSG:
		/* The iovec array is named by the user's struct msghdr. */
		if (bpf_probe_read_user(&m, sizeof(m), (const void *)regs->si))
			return NULL;
		call->type = HM_CALL_IOVEC;
		call->base = m.iov;
		call->nr_segs = m.iovlen;
		return call;
	case HM_NR_SENDFILE:
	case HM_NR_SPLICE:
		call->type = HM_CALL_KERNEL;
		return call;
	}
#endif
	return NULL;
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

/*
 * ret bytes moved through sk by the calling task: write 0 read, 1 written.
 * arm: as hm_sock_io() has it.
 */
static __always_inline void hm_sock_event(void *sk, int ret, __u32 write, bool arm)
{
	struct hm_sock_call call;
	struct hm_config *cfg;
	struct hm_scratch *s = hm_sock_begin(&cfg, (__u64)sk);

	if (!s)
		return;
	if (!hm_sock_is_tcp(sk) || hm_sock_key(sk, &s->key)) {
		hm_count(s->gen, HM_MON_SOCK_IGNORED, 1);
		return;
	}
	hm_sock_io(s, cfg, (__u64)sk, hm_sock_call_of(&call), ret, write, arm);
}

/* sock_recvmsg() returned: ret bytes read from sk (flags as recv(2) had them). */
SEC("tp_btf/sock_recv_length")
int hm_recv(__u64 *ctx)
{
	int ret = (int)ctx[1], flags = (int)ctx[2];

	if (ret > 0 && !(flags & HM_MSG_PEEK))
		hm_sock_event((void *)ctx[0], ret, 0, true);
	return 0;
}

/* sock_sendmsg() returned: ret bytes written to sk. */
SEC("tp_btf/sock_send_length")
int hm_send(__u64 *ctx)
{
	int ret = (int)ctx[1];

	if (ret > 0)
		hm_sock_event((void *)ctx[0], ret, 1, true);
	return 0;
}

/*
 * splice(2) from a socket into a pipe (tcp_splice_read) never passes
 * sock_recvmsg(), so no sock_recv_length event tells of its bytes: a
 * server that takes request bodies this way would leave the stream's
 * offsets behind and read the next request as body.  Its exit says how
 * many bytes the call moved; its first argument, still in the registers
 * the call saved, is the fd they came from.  Bytes moved into a socket
 * pass sock_sendmsg() and its event as usual.  Only this system call runs
 * the program, so reading the task's fd table costs nothing elsewhere.
 */
struct hm_sys_exit {
	__u64 common;
	__s64 nr;
	__s64 ret;
};

SEC("tracepoint/syscalls/sys_exit_splice")
int hm_splice_exit(struct hm_sys_exit *ctx)
{
#ifdef __TARGET_ARCH_x86
	struct task_struct *task = bpf_get_current_task_btf();
	struct pt_regs___hm *regs = (void *)bpf_task_pt_regs(task);
	struct fdtable___hm *fdt;
	struct file___hm *file;
	struct file___hm **fds;
	struct socket___hm *sock;
	__u64 fd;
	void *sk;

	if (ctx->ret <= 0 || !regs)
		return 0;
	fd = regs->di;
	fdt = BPF_CORE_READ((struct task_struct___hm *)task, files, fdt);
	if (!fdt || fd >= BPF_CORE_READ(fdt, max_fds))
		return 0;
	fds = BPF_CORE_READ(fdt, fd);
	if (bpf_probe_read_kernel(&file, sizeof(file), &fds[fd]) || !file)
		return 0;
	if ((BPF_CORE_READ(file, f_inode, i_mode) & HM_S_IFMT) != HM_S_IFSOCK)
		return 0;
	sock = BPF_CORE_READ(file, private_data);
	sk = sock ? BPF_CORE_READ(sock, sk) : NULL;
	if (!sk)
		return 0;
	/* Typed, so hm_sock_event() reads its fields as it does a tp_btf argument's. */
	hm_sock_event(bpf_rdonly_cast(sk, bpf_core_type_id_kernel(struct sock___hm)), ctx->ret, 0,
		      false);
#endif
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
