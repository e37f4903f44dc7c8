// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * hm_gen.c - intervals: retiring a generation of the aggregates and
 * clearing it (httpmon.h, "Generations").  hm-stat --reset and hm-reset
 * share it.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <linux/membarrier.h>
#include <sys/file.h>
#include <sys/syscall.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include "hm_common.h"
#include "hm_mapio.h"
#include "hm_pin.h"

#define HM_LOCK_WAIT_MS 60000
/* Without membarrier(): longer than any program run, may_goto loops included. */
#define HM_GRACE_FALLBACK_MS 200

int hm_pin_lock(const char *dir)
{
	int fd, err, waited = 0;

	fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0) {
		err = -errno;
		hm_err("cannot open %s: %s", dir, strerror(-err));
		return err;
	}
	while (flock(fd, LOCK_EX | LOCK_NB)) {
		err = -errno;
		if ((err != -EWOULDBLOCK && err != -EINTR) || waited >= HM_LOCK_WAIT_MS) {
			if (err == -EWOULDBLOCK)
				hm_err("%s is still locked after %d s by another hm-load, "
				       "hm-stat --reset or hm-reset",
				       dir, HM_LOCK_WAIT_MS / 1000);
			else
				hm_err("cannot lock %s: %s", dir, strerror(-err));
			close(fd);
			return err;
		}
		usleep(50 * 1000);
		waited += 50;
	}
	return fd;
}

/* The row classes (hm_pin.h): their arrays, capacities and id counters. */
static const struct {
	size_t rows_fd; /* offsetof(struct hm_maps, ...) */
	const char *rows_map;
	unsigned int capacity;
} row_classes[HM_ROW_CLASSES] = {
	[HM_ROW_CLIENT] = { offsetof(struct hm_maps, clients), HM_MAP_CLIENTS, HM_MAX_CLIENTS },
	[HM_ROW_PORT] = { offsetof(struct hm_maps, ports), HM_MAP_PORTS, HM_MAX_PORTS },
	[HM_ROW_PORT_CLIENT] = { offsetof(struct hm_maps, port_clients), HM_MAP_PORT_CLIENTS,
				 HM_MAX_PORT_CLIENTS },
	[HM_ROW_IFACE] = { offsetof(struct hm_maps, ifaces), HM_MAP_IFACES, HM_MAX_IFACES },
	[HM_ROW_PROC] = { offsetof(struct hm_maps, procs), HM_MAP_PROCS, HM_MAX_PROCS },
};

unsigned int hm_row_capacity(unsigned int kind)
{
	return kind < HM_ROW_CLASSES ? row_classes[kind].capacity : 0;
}

int hm_row_array(const struct hm_maps *maps, unsigned int kind)
{
	if (kind >= HM_ROW_CLASSES)
		return -1;
	return *(const int *)((const char *)maps + row_classes[kind].rows_fd);
}

const char *hm_row_array_name(unsigned int kind)
{
	return kind < HM_ROW_CLASSES ? row_classes[kind].rows_map : "?";
}

__u32 hm_row_seq_slot(unsigned int kind, unsigned int gen)
{
	return kind == HM_ROW_PROC ? HM_SEQ_PROCS(gen) : HM_SEQ_ROW(gen, kind);
}

/*
 * The names maps: each maps a key holding its generation to a row id.
 * row() gives a key's row class and generation, false when it names no row.
 */
static bool row_key_row(const void *k, unsigned int *kind, unsigned int *gen)
{
	const struct hm_row_key *key = k;

	*kind = key->kind;
	*gen = key->gen;
	return key->kind < HM_ROW_KINDS;
}

static bool proc_key_row(const void *k, unsigned int *kind, unsigned int *gen)
{
	const struct hm_proc_key *key = k;

	*kind = HM_ROW_PROC;
	*gen = key->gen;
	return true;
}

static const struct {
	size_t names_fd; /* offsetof(struct hm_maps, ...) */
	const char *names_map;
	size_t key_size;
	bool (*row)(const void *key, unsigned int *kind, unsigned int *gen);
} row_names[] = {
	{ offsetof(struct hm_maps, row_ids), HM_MAP_ROW_IDS, sizeof(struct hm_row_key),
	  row_key_row },
	{ offsetof(struct hm_maps, proc_ids), HM_MAP_PROC_IDS, sizeof(struct hm_proc_key),
	  proc_key_row },
};

/*
 * Waits until every program run that started before now has ended: an RCU
 * grace period, which membarrier(MEMBARRIER_CMD_GLOBAL) waits for.  TC, XDP
 * and timer programs run inside RCU read-side sections.
 */
static void hm_grace_period(void)
{
	struct timespec ts = { 0, HM_GRACE_FALLBACK_MS * 1000000L };

	if (syscall(__NR_membarrier, MEMBARRIER_CMD_GLOBAL, 0, 0) == 0)
		return;
	hm_dbg("membarrier: %s; waiting %d ms instead", strerror(errno), HM_GRACE_FALLBACK_MS);
	nanosleep(&ts, NULL);
}

int hm_gen_live(const struct hm_maps *maps)
{
	struct hm_config *cfg = calloc(1, sizeof(*cfg));
	__u32 key = 0;
	int ret;

	if (!cfg)
		return -ENOMEM;
	ret = bpf_map_lookup_elem(maps->config, &key, cfg) ? -errno : (int)(cfg->epoch & 1);
	if (ret < 0)
		hm_err("cannot read map %s: %s", HM_MAP_CONFIG, strerror(-ret));
	free(cfg);
	return ret;
}

int hm_gen_retire(const struct hm_maps *maps)
{
	struct hm_config *cfg = calloc(1, sizeof(*cfg));
	__u32 key = 0;
	int err = 0, gen;

	if (!cfg)
		return -ENOMEM;
	if (bpf_map_lookup_elem(maps->config, &key, cfg)) {
		err = -errno;
		hm_err("cannot read map %s: %s", HM_MAP_CONFIG, strerror(-err));
		goto out;
	}
	gen = cfg->epoch & 1;
	cfg->epoch++;
	if (bpf_map_update_elem(maps->config, &key, cfg, BPF_EXIST)) {
		err = -errno;
		hm_err("cannot write map %s: %s", HM_MAP_CONFIG, strerror(-err));
		goto out;
	}
	hm_grace_period();
	err = gen;
out:
	free(cfg);
	return err;
}

/* Zeroes entries [first, first + count) of a per-CPU array, in batches. */
static int hm_zero_range(int fd, const char *name, __u32 first, __u32 count, size_t value_size,
			 int ncpus)
{
	const __u32 chunk = 256;
	size_t vsize = hm_percpu_size(value_size, ncpus);
	__u32 *keys = calloc(chunk, sizeof(*keys)), n, i;
	void *zero = calloc(chunk, vsize);
	int err = 0;

	if (!keys || !zero) {
		err = -ENOMEM;
		goto out;
	}
	while (count && !err) {
		n = count < chunk ? count : chunk;
		for (i = 0; i < n; i++)
			keys[i] = first + i;
		if (bpf_map_update_batch(fd, keys, zero, &n, NULL)) {
			/* Kernels without batch operations on arrays: one at a time. */
			for (i = 0; i < n && !err; i++)
				if (bpf_map_update_elem(fd, &keys[i], zero, BPF_EXIST))
					err = -errno;
		}
		first += n;
		count -= n;
	}
out:
	if (err)
		hm_err("cannot zero map %s: %s", name, strerror(-err));
	free(keys);
	free(zero);
	return err;
}

/*
 * Zeroes the rows of generation gen that names map n names and deletes those
 * names: first the names of this generation, then their rows and the names.
 */
static int hm_clear_named_rows(const struct hm_maps *maps, size_t n, unsigned int gen, void *zero)
{
	int fd = *(const int *)((const char *)maps + row_names[n].names_fd);
	size_t ksize = row_names[n].key_size, count = 0, cap = 0, i;
	unsigned char *doomed = NULL, *key, *next = NULL, *prev = NULL;
	unsigned int kind, kgen;
	struct hm_row_val val;
	__u32 idx;
	int err = 0;

	if (fd < 0)
		return 0;
	key = calloc(2, ksize);
	if (!key)
		return -ENOMEM;
	next = key + ksize;
	while (!bpf_map_get_next_key(fd, prev, next)) {
		memcpy(key, next, ksize);
		prev = key;
		if (!row_names[n].row(key, &kind, &kgen) || kgen != gen ||
		    hm_row_array(maps, kind) < 0)
			continue;
		if (count == cap) {
			unsigned char *p;

			cap = cap ? cap * 2 : 256;
			p = realloc(doomed, cap * ksize);
			if (!p) {
				err = -ENOMEM;
				goto out;
			}
			doomed = p;
		}
		memcpy(doomed + count++ * ksize, key, ksize);
	}
	for (i = 0; i < count && !err; i++) {
		void *k = doomed + i * ksize;

		if (bpf_map_lookup_elem(fd, k, &val))
			continue;
		row_names[n].row(k, &kind, &kgen);
		idx = gen * hm_row_capacity(kind) + val.id;
		if (val.id < hm_row_capacity(kind) &&
		    bpf_map_update_elem(hm_row_array(maps, kind), &idx, zero, BPF_EXIST))
			err = -errno;
		else if (bpf_map_delete_elem(fd, k) && errno != ENOENT)
			err = -errno;
	}
	if (err)
		hm_err("cannot clear map %s: %s", row_names[n].names_map, strerror(-err));
out:
	free(doomed);
	free(key);
	return err;
}

/*
 * Clears generation gen of every row class the set has: the named rows and
 * their names, the overflow rows, and the id counters, so ids are handed out
 * from 1 again.
 */
static int hm_clear_rows(const struct hm_maps *maps, unsigned int gen, int ncpus)
{
	void *zero = calloc(1, hm_percpu_size(sizeof(struct hm_stats), ncpus));
	__u32 idx, slot, none = 0;
	int err = 0;

	if (!zero)
		return -ENOMEM;
	for (size_t n = 0; n < sizeof(row_names) / sizeof(row_names[0]) && !err; n++)
		err = hm_clear_named_rows(maps, n, gen, zero);
	for (unsigned int kind = 0; kind < HM_ROW_CLASSES && !err; kind++) {
		if (hm_row_array(maps, kind) < 0)
			continue;
		idx = gen * hm_row_capacity(kind);
		if (bpf_map_update_elem(hm_row_array(maps, kind), &idx, zero, BPF_EXIST)) {
			err = -errno;
			hm_err("cannot zero map %s: %s", hm_row_array_name(kind), strerror(-err));
			break;
		}
		slot = hm_row_seq_slot(kind, gen);
		if (bpf_map_update_elem(maps->seq, &slot, &none, BPF_EXIST)) {
			err = -errno;
			hm_err("cannot zero map %s: %s", HM_MAP_SEQ, strerror(-err));
		}
	}
	free(zero);
	return err;
}

/* Clears generation gen of every map as its reset policy says (hm_map_descs). */
int hm_gen_clear(const struct hm_maps *maps, unsigned int gen)
{
	int ncpus = libbpf_num_possible_cpus(), err;
	const struct hm_map_desc *d;

	if (ncpus <= 0) {
		hm_err("cannot count the possible CPUs: %s", strerror(-ncpus));
		return ncpus ? ncpus : -EINVAL;
	}
	gen &= 1;
	err = hm_clear_rows(maps, gen, ncpus); /* HM_GEN_NAMES, HM_GEN_ROWS and HM_GEN_SEQ */
	for (size_t i = 0; i < hm_map_descs_len && !err; i++) {
		d = &hm_map_descs[i];
		if (d->reset == HM_GEN_SLICE)
			err = hm_zero_range(*hm_maps_fd((struct hm_maps *)maps, d), d->name,
					    gen * d->gen_slice, d->gen_slice, d->value_size, ncpus);
	}
	return err;
}

/* Deletes every key of a hash map; keys added meanwhile go too. */
static int hm_empty_hash(int fd)
{
	struct bpf_map_info info;
	void *key;
	int ret = hm_map_info(fd, &info);

	if (ret)
		return ret;
	key = calloc(1, info.key_size ? info.key_size : 1);
	if (!key)
		return -ENOMEM;
	while (!ret && !bpf_map_get_next_key(fd, NULL, key))
		if (bpf_map_delete_elem(fd, key) && errno != ENOENT)
			ret = -errno;
	free(key);
	return ret;
}

/*
 * Names that outlive intervals (HM_NAMES: route labels, host names and the
 * (host, route) pairs, whose ids name routes) are forgotten, and their id
 * counters restart, under a new route_epoch, so the classifier no longer
 * trusts the ids it keeps for requests in flight.  The names are
 * emptied again after the counters restart: a name the classifier took in
 * between got an id from the old count, which the new count would hand out
 * again.
 */
static int hm_forget_names(const struct hm_maps *maps)
{
	static const __u32 name_seqs[] = { HM_SEQ_ROUTES, HM_SEQ_HOSTS, HM_SEQ_HOST_ROUTES };
	struct hm_config *cfg = calloc(1, sizeof(*cfg));
	__u32 zero = 0;
	int ret = 0, pass;

	if (!cfg)
		return -ENOMEM;
	if (bpf_map_lookup_elem(maps->config, &zero, cfg)) {
		ret = -errno;
		goto out;
	}
	cfg->route_epoch++;
	if (bpf_map_update_elem(maps->config, &zero, cfg, BPF_EXIST)) {
		ret = -errno;
		goto out;
	}
	for (pass = 0; pass < 2 && !ret; pass++) {
		for (size_t i = 0; i < hm_map_descs_len && !ret; i++)
			if (hm_map_descs[i].reset == HM_NAMES)
				ret = hm_empty_hash(
					*hm_maps_fd((struct hm_maps *)maps, &hm_map_descs[i]));
		for (size_t i = 0; !pass && !ret && i < sizeof(name_seqs) / sizeof(name_seqs[0]);
		     i++)
			if (bpf_map_update_elem(maps->seq, &name_seqs[i], &zero, BPF_EXIST))
				ret = -errno;
	}
out:
	if (ret)
		hm_err("cannot forget the route labels and host names: %s", strerror(-ret));
	free(cfg);
	return ret;
}

int hm_reset(const struct hm_maps *maps, const char *dir, unsigned int flags,
	     int (*read)(unsigned int gen, void *ctx), void *ctx)
{
	int lock, gen, ret;

	lock = hm_pin_lock(dir);
	if (lock < 0)
		return lock;
	/* What an interrupted reset left behind, then the interval so far. */
	gen = hm_gen_live(maps);
	ret = gen < 0 ? gen : 0;
	if (!ret && read)
		ret = read(gen ^ 1, ctx);
	if (!ret)
		ret = hm_gen_clear(maps, gen ^ 1);
	if (!ret)
		ret = gen = hm_gen_retire(maps);
	if (ret >= 0 && read)
		ret = read(gen, ctx);
	if (ret >= 0)
		ret = hm_gen_clear(maps, gen);
	if (!ret && (flags & HM_RESET_NAMES))
		ret = hm_forget_names(maps);
	close(lock);
	return ret;
}
