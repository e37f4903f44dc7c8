// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* bpf_shim.c - maps backed by plain memory for the userspace build of the datapath. */
#include <stdio.h>
#include "bpf_shim.h"

struct shim_map shim_maps[SHIM_MAX_MAPS];
int shim_nmaps;
uint64_t shim_clock_ns;

static struct {
	struct bpf_timer *timer;
	void *map, *callback;
	bool initialised, started;
} shim_timer;

void shim_map_add(const void *def, unsigned int type, unsigned int key_size,
		  unsigned int value_size, unsigned int max_entries)
{
	struct shim_map *m = &shim_maps[shim_nmaps++];

	/* Small hash maps: lookups stay cheap, and full maps are reached often. */
	if (type != BPF_MAP_TYPE_ARRAY && type != BPF_MAP_TYPE_PERCPU_ARRAY &&
	    max_entries > SHIM_HASH_CAP)
		max_entries = SHIM_HASH_CAP;
	m->def = def;
	m->type = type;
	m->key_size = key_size;
	m->value_size = value_size;
	m->max_entries = max_entries;
	m->keys = calloc(max_entries, key_size);
	m->values = calloc(max_entries, value_size);
	m->used = calloc(max_entries, sizeof(bool));
	m->touched = calloc(max_entries, sizeof(*m->touched));
	if (!m->keys || !m->values || !m->used || !m->touched)
		abort();
}

void shim_maps_reset(void)
{
	/* The maps' memory is cleared: so is the timer that lived in it. */
	memset(&shim_timer, 0, sizeof(shim_timer));
	for (int i = 0; i < shim_nmaps; i++) {
		struct shim_map *m = &shim_maps[i];

		if (m->type == BPF_MAP_TYPE_ARRAY || m->type == BPF_MAP_TYPE_PERCPU_ARRAY) {
			/* Only what was touched: the row arrays are megabytes. */
			for (unsigned int j = 0; j < m->ntouched; j++) {
				unsigned int k = m->touched[j];

				memset(m->values + (size_t)k * m->value_size, 0, m->value_size);
				m->used[k] = false;
			}
			m->ntouched = 0;
		} else {
			memset(m->used, 0, m->max_entries * sizeof(bool));
		}
		m->count = 0;
	}
}

struct shim_map *shim_map_of(const void *def)
{
	for (int i = 0; i < shim_nmaps; i++)
		if (shim_maps[i].def == def)
			return &shim_maps[i];
	fprintf(stderr, "bpf_shim: unregistered map %p\n", def);
	abort();
}

static bool is_array(const struct shim_map *m)
{
	return m->type == BPF_MAP_TYPE_ARRAY || m->type == BPF_MAP_TYPE_PERCPU_ARRAY;
}

/* An array entry whose value may be written: zeroed at the next reset. */
static void touch(struct shim_map *m, long i)
{
	if (m->used[i])
		return;
	m->used[i] = true;
	m->touched[m->ntouched++] = i;
}

static long find(struct shim_map *m, const void *key)
{
	if (is_array(m)) {
		__u32 idx;

		memcpy(&idx, key, sizeof(idx));
		return idx < m->max_entries ? (long)idx : -1;
	}
	for (unsigned int i = 0; i < m->max_entries; i++)
		if (m->used[i] && !memcmp(m->keys + (size_t)i * m->key_size, key, m->key_size))
			return i;
	return -1;
}

void *bpf_map_lookup_elem(void *map, const void *key)
{
	struct shim_map *m = shim_map_of(map);
	long i = find(m, key);

	if (i < 0)
		return NULL;
	if (is_array(m))
		touch(m, i);
	/* A copy the caller may keep a pointer to, as with a real map value. */
	return m->values + (size_t)i * m->value_size;
}

long bpf_map_update_elem(void *map, const void *key, const void *value, __u64 flags)
{
	struct shim_map *m = shim_map_of(map);
	long i = find(m, key);

	if (is_array(m)) {
		if (i < 0)
			return -E2BIG;
		if (flags == BPF_NOEXIST)
			return -EEXIST;
		touch(m, i);
	} else if (i >= 0) {
		if (flags == BPF_NOEXIST)
			return -EEXIST;
	} else {
		if (flags == BPF_EXIST)
			return -ENOENT;
		for (unsigned int j = 0; j < m->max_entries && i < 0; j++)
			if (!m->used[j])
				i = j;
		if (i < 0 && m->type == BPF_MAP_TYPE_LRU_HASH)
			i = shim_clock_ns % m->max_entries; /* evict something */
		if (i < 0)
			return -E2BIG;
		if (!m->used[i])
			m->count++;
		m->used[i] = true;
		memcpy(m->keys + (size_t)i * m->key_size, key, m->key_size);
	}
	memcpy(m->values + (size_t)i * m->value_size, value, m->value_size);
	return 0;
}

long bpf_map_delete_elem(void *map, const void *key)
{
	struct shim_map *m = shim_map_of(map);
	long i = find(m, key);

	if (is_array(m))
		return -EINVAL;
	if (i < 0)
		return -ENOENT;
	m->used[i] = false;
	m->count--;
	return 0;
}

long bpf_for_each_map_elem(void *map, void *callback_fn, void *callback_ctx, __u64 flags)
{
	long (*cb)(void *, void *, void *, void *) =
		(long (*)(void *, void *, void *, void *))callback_fn;
	struct shim_map *m = shim_map_of(map);
	long n = 0;

	(void)flags;
	if (is_array(m))
		abort(); /* not used by the datapath */
	for (unsigned int i = 0; i < m->max_entries; i++) {
		if (!m->used[i])
			continue;
		n++;
		if (cb(map, m->keys + (size_t)i * m->key_size,
		       m->values + (size_t)i * m->value_size, callback_ctx))
			break;
	}
	return n;
}

long bpf_timer_init(struct bpf_timer *timer, void *map, __u64 flags)
{
	(void)flags;
	if (shim_timer.initialised && shim_timer.timer == timer)
		return -EBUSY;
	shim_timer.timer = timer;
	shim_timer.map = map;
	shim_timer.initialised = true;
	shim_timer.started = false;
	return 0;
}

long bpf_timer_set_callback(struct bpf_timer *timer, void *callback_fn)
{
	if (!shim_timer.initialised || shim_timer.timer != timer)
		return -EINVAL;
	shim_timer.callback = callback_fn;
	return 0;
}

long bpf_timer_start(struct bpf_timer *timer, __u64 nsecs, __u64 flags)
{
	(void)nsecs;
	(void)flags;
	if (!shim_timer.initialised || shim_timer.timer != timer || !shim_timer.callback)
		return -EINVAL;
	shim_timer.started = true;
	return 0;
}

void shim_timer_fire(void)
{
	int (*cb)(void *, __u32 *, void *);
	__u32 zero = 0;

	if (!shim_timer.started)
		return;
	shim_timer.started = false;
	cb = (int (*)(void *, __u32 *, void *))shim_timer.callback;
	cb(shim_timer.map, &zero, shim_timer.timer);
}
