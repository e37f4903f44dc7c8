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

unsigned int hm_row_capacity(unsigned int kind)
{
	switch (kind) {
	case HM_ROW_CLIENT:
		return HM_MAX_CLIENTS;
	case HM_ROW_PORT:
		return HM_MAX_PORTS;
	case HM_ROW_PORT_CLIENT:
		return HM_MAX_PORT_CLIENTS;
	case HM_ROW_IFACE:
		return HM_MAX_IFACES;
	}
	return 0;
}

int hm_row_array(const struct hm_maps *maps, unsigned int kind)
{
	switch (kind) {
	case HM_ROW_CLIENT:
		return maps->clients;
	case HM_ROW_PORT:
		return maps->ports;
	case HM_ROW_PORT_CLIENT:
		return maps->port_clients;
	case HM_ROW_IFACE:
		return maps->ifaces;
	}
	return -1;
}

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

/* Zeroes the rows of generation gen that hm_row_ids names, deletes those names. */
static int hm_clear_rows(const struct hm_maps *maps, unsigned int gen, int ncpus)
{
	static const char *const names[HM_ROW_KINDS] = {
		HM_MAP_CLIENTS,
		HM_MAP_PORTS,
		HM_MAP_PORT_CLIENTS,
		HM_MAP_IFACES,
	};
	size_t vsize = hm_percpu_size(sizeof(struct hm_stats), ncpus);
	struct hm_row_key key, next, *doomed = NULL;
	struct hm_row_val val;
	size_t n = 0, cap = 0, i;
	void *zero = calloc(1, vsize), *prev = NULL;
	__u32 idx;
	int err = 0;

	if (!zero)
		return -ENOMEM;
	/* First the names of this generation, then their rows and the names. */
	while (!bpf_map_get_next_key(maps->row_ids, prev, &next)) {
		key = next;
		prev = &key;
		if (key.gen != gen || key.kind >= HM_ROW_KINDS)
			continue;
		if (n == cap) {
			struct hm_row_key *p;

			cap = cap ? cap * 2 : 256;
			p = realloc(doomed, cap * sizeof(*p));
			if (!p) {
				err = -ENOMEM;
				goto out;
			}
			doomed = p;
		}
		doomed[n++] = key;
	}
	for (i = 0; i < n && !err; i++) {
		if (bpf_map_lookup_elem(maps->row_ids, &doomed[i], &val))
			continue;
		idx = gen * hm_row_capacity(doomed[i].kind) + val.id;
		if (bpf_map_update_elem(hm_row_array(maps, doomed[i].kind), &idx, zero, BPF_EXIST))
			err = -errno;
		else if (bpf_map_delete_elem(maps->row_ids, &doomed[i]) && errno != ENOENT)
			err = -errno;
	}
	/* The overflow rows. */
	for (unsigned int kind = 0; kind < HM_ROW_KINDS && !err; kind++) {
		idx = gen * hm_row_capacity(kind);
		if (bpf_map_update_elem(hm_row_array(maps, kind), &idx, zero, BPF_EXIST)) {
			err = -errno;
			hm_err("cannot zero map %s: %s", names[kind], strerror(-err));
			goto out;
		}
	}
	if (err)
		hm_err("cannot clear map %s: %s", HM_MAP_ROW_IDS, strerror(-err));
out:
	free(doomed);
	free(zero);
	return err;
}

/* The generation's row id counters: ids are handed out from 1 again, the names are gone. */
static int hm_clear_seq(const struct hm_maps *maps, unsigned int gen)
{
	__u32 slot, zero = 0;
	int err = 0;

	for (unsigned int kind = 0; kind < HM_ROW_KINDS && !err; kind++) {
		slot = HM_SEQ_ROW(gen, kind);
		if (bpf_map_update_elem(maps->seq, &slot, &zero, BPF_EXIST)) {
			err = -errno;
			hm_err("cannot zero map %s: %s", HM_MAP_SEQ, strerror(-err));
		}
	}
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
	err = hm_clear_rows(maps, gen, ncpus); /* HM_GEN_NAMES and HM_GEN_ROWS */
	if (!err)
		err = hm_clear_seq(maps, gen);
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
