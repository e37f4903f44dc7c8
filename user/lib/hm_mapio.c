// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* hm_mapio.c - map info, hash walks, per-CPU reads and hm_links. */
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <bpf/libbpf.h>
#include "hm_common.h"
#include "hm_mapio.h"
#include "hm_pin.h"

size_t hm_percpu_size(size_t value_size, int ncpus)
{
	return ((value_size + 7) & ~(size_t)7) * ncpus;
}

int hm_map_info(int fd, struct bpf_map_info *info)
{
	__u32 len = sizeof(*info);

	memset(info, 0, sizeof(*info));
	if (bpf_obj_get_info_by_fd(fd, info, &len))
		return -errno;
	return 0;
}

__u32 hm_map_id(int fd)
{
	struct bpf_map_info info;

	return hm_map_info(fd, &info) ? 0 : info.id;
}

const char *hm_map_type_str(unsigned int type)
{
	const char *s = libbpf_bpf_map_type_str(type);

	return s ? s : "unknown";
}

int hm_walk_hash(int fd, const char *name, size_t value_size, hm_entry_fn fn, void *ctx)
{
	struct bpf_map_info info;
	void *key = NULL, *next, *prev = NULL, *value = NULL;
	__u64 steps = 0;
	int ret;

	ret = hm_map_info(fd, &info);
	if (ret)
		goto out;
	key = calloc(2, info.key_size ? info.key_size : 1);
	value = calloc(1, value_size);
	if (!key || !value) {
		ret = -ENOMEM;
		goto out;
	}
	next = (char *)key + info.key_size;
	while (steps++ < 4ULL * info.max_entries + 16) {
		if (bpf_map_get_next_key(fd, prev, next)) {
			if (errno != ENOENT)
				ret = -errno;
			break;
		}
		memcpy(key, next, info.key_size);
		prev = key;
		if (bpf_map_lookup_elem(fd, key, value)) {
			if (errno == ENOENT)
				continue;
			ret = -errno;
			break;
		}
		ret = fn(key, value, ctx);
		if (ret)
			break;
	}
out:
	free(key);
	free(value);
	if (ret && ret != -ENOMEM)
		hm_err("cannot read map %s: %s", name, strerror(-ret));
	return ret;
}

int hm_count_keys(int fd, const char *name, __u64 *count)
{
	struct bpf_map_info info;
	void *key, *next, *prev = NULL;
	int ret;

	*count = 0;
	ret = hm_map_info(fd, &info);
	if (ret)
		goto out;
	key = calloc(2, info.key_size ? info.key_size : 1);
	if (!key)
		return -ENOMEM;
	next = (char *)key + info.key_size;
	while (*count < info.max_entries && bpf_map_get_next_key(fd, prev, next) == 0) {
		memcpy(key, next, info.key_size);
		prev = key;
		(*count)++;
	}
	if (*count < info.max_entries && errno != ENOENT)
		ret = -errno;
	free(key);
out:
	if (ret)
		hm_err("cannot read map %s: %s", name, strerror(-ret));
	return ret;
}

int hm_read_percpu(int fd, const char *name, __u32 key, void *values)
{
	if (!bpf_map_lookup_elem(fd, &key, values))
		return 0;
	hm_err("cannot read map %s: %s", name, strerror(errno));
	return -errno;
}

int hm_links_open(const char *dir, bool rdonly)
{
	LIBBPF_OPTS(bpf_obj_get_opts, opts, .file_flags = rdonly ? BPF_F_RDONLY : 0);
	struct bpf_map_info info;
	char path[PATH_MAX];
	int fd;

	if (hm_pin_path(path, sizeof(path), dir, HM_MAP_LINKS))
		return -ENAMETOOLONG;
	fd = bpf_obj_get_opts(path, &opts);
	if (fd < 0)
		return -errno;
	if (!hm_fd_is_map(fd) || hm_map_info(fd, &info) || info.type != BPF_MAP_TYPE_HASH ||
	    info.key_size != sizeof(__u32) || info.value_size != sizeof(struct hm_link)) {
		hm_dbg("%s is not a map of hm_link records: not read", path);
		close(fd);
		return -ENOENT;
	}
	return fd;
}

int hm_links_read(int links_fd, struct hm_link *out, int max)
{
	__u32 key, next;
	int n = 0;
	bool first = true;

	while (!bpf_map_get_next_key(links_fd, first ? NULL : &key, &next)) {
		first = false;
		key = next;
		if (n < max && !bpf_map_lookup_elem(links_fd, &key, &out[n]))
			n++;
	}
	return n;
}
