// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * fuzz_sock - libFuzzer harness for the socket source's entry into the parse
 * core (kern/hm_sock.h: hm_sock_io, hm_sock_end), compiled as userspace C
 * over bpf_shim.h like fuzz_datapath.
 *
 * An input is what one socket read and wrote: a first byte whose bit 0
 * chooses the role counted (hm_sock_role: the socket is the server's, or
 * the client's), then records of
 *   [flags:1][len:2, little endian][payload:len]
 * flags bit 0: the server's bytes (written by a server socket, read by a
 * client socket), else the client's;
 * bit 1: the connection ends after this call (close or exit); bit 2: the
 * bytes are not in user memory (sendfile, or a call the monitor could not
 * place); bits 3-4: the buffer kind: a plain buffer, an iovec array cut at
 * offsets taken from the payload itself, an iovec array of one-byte
 * entries (capped at 2048, past the 1,024 a call follows), or an iovec with
 * empty entries between the pieces.  Each buffer is a heap copy of exactly
 * its bytes, so AddressSanitizer sees any read past what the call moved.
 * After each input the harness checks the invariants of fuzz_checks.h, ends
 * the connection, and checks that every request ended as a response or as
 * unanswered and that no state is left.
 */
#define HM_PROC_ROWS 1

#include <stdio.h>

#include "bpf_shim.h"
#include "hm_sock.h"
#include "fuzz_checks.h"

#define IOV_MAX_FUZZ 2048

static void register_maps(void)
{
	register_common_maps();
	shim_map_register(hm_proc_ids);
	shim_map_register(hm_procs);
	shim_map_register(hm_sock_seen);
}

/* The socket: 10.9.0.1:8080 and 10.9.0.2:40000, local endpoint first. */
static void server_key(struct hm_conn_key *k)
{
	memset(k, 0, sizeof(*k));
	k->addr[0].a[10] = k->addr[0].a[11] = 0xff;
	k->addr[1].a[10] = k->addr[1].a[11] = 0xff;
	k->addr[0].a[12] = k->addr[1].a[12] = 10;
	k->addr[0].a[13] = k->addr[1].a[13] = 9;
	k->addr[0].a[15] = 1;
	k->addr[1].a[15] = 2;
	k->port[0] = 8080;
	k->port[1] = 40000;
}

/* The iovec array of a call over buf[0, len), cut as flags say; returns its entries. */
static unsigned int cut(struct hm_iovec *iov, const __u8 *buf, size_t len, int kind)
{
	unsigned int n = 0;
	size_t off = 0, step;

	while (off < len && n < IOV_MAX_FUZZ) {
		if (kind == 2)
			step = 1;
		else
			step = 1 + buf[off] % 97; /* the bytes choose where the pieces end */
		if (step > len - off)
			step = len - off;
		iov[n].base = (__u64)(uintptr_t)(buf + off);
		iov[n].len = step;
		n++;
		if (kind == 3 && n < IOV_MAX_FUZZ) {
			iov[n].base = 0; /* an empty entry: never read */
			iov[n].len = 0;
			n++;
		}
		off += step;
	}
	return n;
}

static void one_call(int flags, const __u8 *data, size_t len)
{
	static struct hm_iovec iov[IOV_MAX_FUZZ];
	struct hm_sock_call call = {};
	struct hm_config *cfg;
	struct hm_scratch *s;
	__u8 *buf = NULL;
	int kind = (flags >> 3) & 3;

	if (!len)
		return;
	shim_clock_ns += 1000 + len;
	s = hm_sock_begin(&cfg, 1);
	if (!s)
		return;
	server_key(&s->key);
	if (!(flags & 4)) {
		buf = malloc(len);
		memcpy(buf, data, len);
	}
	if (flags & 4) {
		call.type = HM_CALL_KERNEL;
	} else if (kind == 0) {
		call.type = HM_CALL_UBUF;
		call.base = (__u64)(uintptr_t)buf;
	} else {
		call.type = HM_CALL_IOVEC;
		call.base = (__u64)(uintptr_t)iov;
		call.nr_segs = cut(iov, buf, len, kind);
	}
	/* The socket writes its own side's bytes: the server's, or as a client the client's. */
	hm_sock_io(s, cfg, 1, &call, len, (flags & 1) ^ hm_sock_role, true);
	free(buf);
}

static void end_conn(void)
{
	struct hm_conn_key key;
	struct hm_stats delta;

	server_key(&key);
	hm_sock_end(&key, &delta);
}

int LLVMFuzzerTestOneInput(const __u8 *data, size_t size)
{
	static bool ready;
	size_t pos = 0;

	if (!ready) {
		register_maps();
		ready = true;
	}
	shim_maps_reset();
	if (!size)
		return 0;
	hm_sock_role = data[0] & 1 ? HM_ROLE_CLIENT : HM_ROLE_SERVER;
	pos = 1;
	while (pos + 3 <= size) {
		int flags = data[pos];
		size_t len = data[pos + 1] | (data[pos + 2] << 8);

		pos += 3;
		if (len > size - pos)
			len = size - pos;
		one_call(flags, data + pos, len);
		if (flags & 2)
			end_conn();
		pos += len;
	}
	check_invariants();
	end_conn();
	assert(shim_map_of(&hm_conns)->count == 0);
	check_invariants();
	/* With no state left, every request ended as a response or as unanswered. */
	assert(sum_requests(&hm_procs, HM_MAX_PROCS) ==
	       sum_responses(&hm_procs, HM_MAX_PROCS) + sum_unanswered(&hm_procs, HM_MAX_PROCS));
	return 0;
}
