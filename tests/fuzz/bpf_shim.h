/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * bpf_shim.h - just enough of the BPF environment to compile httpmon's kernel
 * sources as ordinary userspace C: the map-definition macros, the helpers
 * the datapath calls, and maps backed by plain memory.  Used by the fuzzer,
 * where AddressSanitizer and UBSan watch every access the verifier would.
 *
 * A map is found by its address: shim_map_register() records each map
 * definition's geometry, taken from its BTF-style members at compile time.
 */
#ifndef HM_BPF_SHIM_H
#define HM_BPF_SHIM_H

#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <linux/bpf.h>
#include <linux/types.h>
#include <bpf/bpf_endian.h>

#define SEC(name)
#define __uint(name, val) int(*name)[val]
#define __type(name, val) typeof(val) *name
#undef __always_inline
#define __always_inline inline __attribute__((always_inline))
#define __noinline __attribute__((noinline))
#define LIBBPF_PIN_BY_NAME 1
#ifndef offsetof
#define offsetof(t, m) __builtin_offsetof(t, m)
#endif

struct shim_map {
	const void *def; /* the map definition's address: its identity */
	unsigned int type, key_size, value_size, max_entries, count;
	unsigned char *keys, *values;
	bool *used;
	/* Array entries handed out since the last reset (the row arrays are large). */
	unsigned int *touched, ntouched;
};

#define SHIM_MAX_MAPS 32
#define SHIM_HASH_CAP 64 /* entries of every hash map, whatever its definition says */
extern struct shim_map shim_maps[SHIM_MAX_MAPS];
extern int shim_nmaps;
extern uint64_t shim_clock_ns;

#define shim_map_register(m)                                                                      \
	shim_map_add(&(m), sizeof(*(m).type) / sizeof(int), sizeof(*(m).key), sizeof(*(m).value), \
		     sizeof(*(m).max_entries) / sizeof(int))

void shim_map_add(const void *def, unsigned int type, unsigned int key_size,
		  unsigned int value_size, unsigned int max_entries);
void shim_maps_reset(void);
struct shim_map *shim_map_of(const void *def);

void *bpf_map_lookup_elem(void *map, const void *key);
long bpf_map_update_elem(void *map, const void *key, const void *value, __u64 flags);
long bpf_map_delete_elem(void *map, const void *key);

static inline __u64 bpf_ktime_get_ns(void)
{
	return shim_clock_ns;
}

static inline __u64 bpf_ktime_get_coarse_ns(void)
{
	return shim_clock_ns;
}

/*
 * Packets: the harness's context is a struct shim_ctx, whose first member
 * is the struct __sk_buff the TC path reads its length from.
 */
struct shim_ctx {
	struct __sk_buff skb;
	const __u8 *data;
};

static inline long bpf_skb_load_bytes(const void *ctx, __u32 off, void *to, __u32 len)
{
	const struct shim_ctx *c = ctx;

	if ((__u64)off + len > c->skb.len)
		return -EFAULT;
	memcpy(to, c->data + off, len);
	return 0;
}

/* The calling task: one process in the root cgroup, inside any --cgroup scope. */
static inline __u64 bpf_get_current_pid_tgid(void)
{
	return (__u64)4242 << 32 | 4242;
}

static inline long bpf_get_current_comm(void *buf, __u32 size)
{
	strncpy(buf, "fuzz", size);
	return 0;
}

static inline __u64 bpf_get_current_cgroup_id(void)
{
	return 1;
}

static inline long bpf_current_task_under_cgroup(void *map, __u32 index)
{
	(void)map;
	(void)index;
	return 1;
}

/* A process's buffer is the harness's own memory. */
static inline long bpf_probe_read_user(void *to, __u32 len, const void *src)
{
	memcpy(to, src, len);
	return 0;
}

/* The XDP path is compiled but never taken: the harness runs the TC one. */
static inline long bpf_xdp_load_bytes(void *ctx, __u32 off, void *to, __u32 len)
{
	return bpf_skb_load_bytes(ctx, off, to, len);
}

static inline __u32 bpf_xdp_get_buff_len(void *ctx)
{
	return ((struct shim_ctx *)ctx)->skb.len;
}

static inline long bpf_loop(__u32 nr_loops, void *callback_fn, void *callback_ctx, __u64 flags)
{
	long (*cb)(__u32, void *) = (long (*)(__u32, void *))callback_fn;
	__u32 i;

	(void)flags;
	for (i = 0; i < nr_loops; i++)
		if (cb(i, callback_ctx))
			return i + 1;
	return i;
}

/*
 * bpf_for_each_map_elem over a hash map (the only kind the datapath walks);
 * the callback may delete the element it is given.
 */
long bpf_for_each_map_elem(void *map, void *callback_fn, void *callback_ctx, __u64 flags);

/*
 * One BPF timer, fired by the harness (shim_timer_fire) instead of a clock:
 * it runs the callback once if the timer was started, as the kernel would
 * after the delay has passed.
 */
long bpf_timer_init(struct bpf_timer *timer, void *map, __u64 flags);
long bpf_timer_set_callback(struct bpf_timer *timer, void *callback_fn);
long bpf_timer_start(struct bpf_timer *timer, __u64 nsecs, __u64 flags);
void shim_timer_fire(void);

#endif /* HM_BPF_SHIM_H */
