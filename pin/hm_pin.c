// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* hm_pin.c - where httpmon's maps live in bpffs, and opening them safely. */
#include <errno.h>
#include <grp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <linux/magic.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include "hm_pin.h"

#define HM_MAP_FIELDS(field, map_name, map_role, map_type, key, value, entries, policy, slice) \
	.name = map_name, .role = map_role, .type = map_type, .key_size = key,                 \
	.value_size = value, .max_entries = entries, .reset = policy, .gen_slice = slice,      \
	.fd_offset = offsetof(struct hm_maps, field)
#define HM_MAP(...)                        \
	{                                  \
		HM_MAP_FIELDS(__VA_ARGS__) \
	}
/* A map of the socket set only: optional in the packet set, required in the socket set. */
#define HM_MAP_SOCK(...)                                                   \
	{                                                                  \
		HM_MAP_FIELDS(__VA_ARGS__), .optional = true, .sock = true \
	}
#define HM_STATS_FIELDS(field, map_name, map_role, per_gen, policy)          \
	field, map_name, map_role, BPF_MAP_TYPE_PERCPU_ARRAY, sizeof(__u32), \
		sizeof(struct hm_stats), (HM_GENS * (per_gen)), policy, per_gen
#define HM_STATS_ARRAY(...) HM_MAP(HM_STATS_FIELDS(__VA_ARGS__))

const struct hm_map_desc hm_map_descs[] = {
	/* Written by hm-load (and a reset's epoch); the program only stamps the version. */
	HM_MAP(config, HM_MAP_CONFIG, "settings, layout version, epoch", BPF_MAP_TYPE_ARRAY,
	       sizeof(__u32), sizeof(struct hm_config), 1, HM_EPOCH, 0),
	/* Connection state: readers only count its entries. */
	HM_MAP(conns, HM_MAP_CONNS, "connection state", BPF_MAP_TYPE_LRU_HASH, 0, 0, 0, HM_KEEP, 0),
	HM_MAP(row_ids, HM_MAP_ROW_IDS, "row names per generation", BPF_MAP_TYPE_HASH,
	       sizeof(struct hm_row_key), sizeof(struct hm_row_val), 0, HM_GEN_NAMES, 0),
	HM_STATS_ARRAY(clients, HM_MAP_CLIENTS, "rows per client", HM_MAX_CLIENTS, HM_GEN_ROWS),
	HM_STATS_ARRAY(ports, HM_MAP_PORTS, "rows per server port", HM_MAX_PORTS, HM_GEN_ROWS),
	HM_STATS_ARRAY(port_clients, HM_MAP_PORT_CLIENTS, "rows per port and client",
		       HM_MAX_PORT_CLIENTS, HM_GEN_ROWS),
	HM_STATS_ARRAY(ifaces, HM_MAP_IFACES, "rows per interface", HM_MAX_IFACES, HM_GEN_ROWS),
	HM_MAP(monitor, HM_MAP_MONITOR, "self-metrics", BPF_MAP_TYPE_PERCPU_ARRAY, sizeof(__u32),
	       sizeof(__u64), (HM_GENS * HM_MON_MAX), HM_GEN_SLICE, HM_MON_MAX),
	HM_MAP(hist, HM_MAP_HIST, "latency histograms", BPF_MAP_TYPE_PERCPU_ARRAY, sizeof(__u32),
	       sizeof(struct hm_hist), (HM_GENS * HM_HIST_SLOTS * HM_LAT_FAMILIES), HM_GEN_SLICE,
	       (HM_HIST_SLOTS * HM_LAT_FAMILIES)),
	HM_STATS_ARRAY(routes, HM_MAP_ROUTES, "rows per route", HM_MAX_ROUTES, HM_GEN_SLICE),
	/* Route names outlive intervals, so an id never names another route mid-request. */
	HM_MAP(route_ids, HM_MAP_ROUTE_IDS, "route names", BPF_MAP_TYPE_HASH,
	       sizeof(struct hm_route_key), sizeof(struct hm_route_val), 0, HM_NAMES, 0),
	/* Host names, and (host, route) pairs, live as long as the route names they go with. */
	HM_STATS_ARRAY(hosts, HM_MAP_HOSTS, "rows per host", HM_MAX_HOSTS, HM_GEN_SLICE),
	HM_MAP(host_ids, HM_MAP_HOST_IDS, "host names", BPF_MAP_TYPE_HASH,
	       sizeof(struct hm_host_key), sizeof(struct hm_route_val), 0, HM_NAMES, 0),
	HM_STATS_ARRAY(host_routes, HM_MAP_HOST_ROUTES, "rows per host and route",
		       HM_MAX_HOST_ROUTES, HM_GEN_SLICE),
	HM_MAP(hr_ids, HM_MAP_HOST_ROUTE_IDS, "host and route pairs", BPF_MAP_TYPE_HASH,
	       sizeof(struct hm_host_route_key), sizeof(struct hm_route_val), 0, HM_NAMES, 0),
	HM_MAP(seq, HM_MAP_SEQ, "ids handed out", BPF_MAP_TYPE_ARRAY, sizeof(__u32), sizeof(__u32),
	       HM_SEQ_SLOTS, HM_GEN_SEQ, 0),
	/* Method names stay as long as the map set. */
	HM_MAP(method_ids, HM_MAP_METHOD_IDS, "extension method names", BPF_MAP_TYPE_HASH,
	       sizeof(struct hm_method_key), sizeof(struct hm_route_val), 0, HM_KEEP, 0),
	/* Pinned by hm-load and plain tc, not by every test's map set. */
	{ .name = HM_MAP_LINKS,
	  .role = "hm-load's interface records",
	  .type = BPF_MAP_TYPE_HASH,
	  .key_size = sizeof(__u32),
	  .value_size = sizeof(struct hm_link),
	  .reset = HM_KEEP,
	  .optional = true,
	  .fd_offset = offsetof(struct hm_maps, links) },
	/* The socket set's process rows and its cgroup filter; the packet set has none. */
	HM_MAP_SOCK(proc_ids, HM_MAP_PROC_IDS, "process row names per generation",
		    BPF_MAP_TYPE_HASH, sizeof(struct hm_proc_key), sizeof(struct hm_route_val), 0,
		    HM_GEN_NAMES, 0),
	HM_MAP_SOCK(HM_STATS_FIELDS(procs, HM_MAP_PROCS, "rows per process", HM_MAX_PROCS,
				    HM_GEN_ROWS)),
	HM_MAP_SOCK(sock_cgrp, HM_MAP_SOCK_CGROUP, "the socket source's cgroup filter",
		    BPF_MAP_TYPE_CGROUP_ARRAY, sizeof(__u32), sizeof(__u32), 1, HM_KEEP, 0),
};
const size_t hm_map_descs_len = sizeof(hm_map_descs) / sizeof(hm_map_descs[0]);

int *hm_maps_fd(struct hm_maps *maps, const struct hm_map_desc *desc)
{
	return (int *)((char *)maps + desc->fd_offset);
}

const char *hm_pin_dir(const char *explicit_dir)
{
	const char *env;

	if (explicit_dir && *explicit_dir)
		return explicit_dir;
	env = getenv("HTTPMON_PIN_PATH");
	if (env && *env)
		return env;
	return HM_PIN_DIR_DEFAULT;
}

int hm_pin_path(char *buf, size_t len, const char *dir, const char *name)
{
	int n = snprintf(buf, len, "%s/%s", dir, name);

	if (n < 0 || (size_t)n >= len)
		return -ENAMETOOLONG;
	return 0;
}

int hm_sock_dir(char *buf, size_t len, const char *dir)
{
	return hm_pin_path(buf, len, dir, HM_SOCK_SUBDIR);
}

bool hm_pin_is_sock(const char *dir)
{
	size_t n = strlen(dir), sub = strlen(HM_SOCK_SUBDIR);

	while (n > 1 && dir[n - 1] == '/')
		n--;
	return n > sub && dir[n - sub - 1] == '/' && !strncmp(dir + n - sub, HM_SOCK_SUBDIR, sub);
}

int hm_bpffs_ensure(char *err, size_t errlen)
{
	struct statfs st;
	int ret;

	if (statfs(HM_BPFFS_ROOT, &st) == 0 && (__u32)st.f_type == (__u32)BPF_FS_MAGIC)
		return 0;
	if (errno == ENOENT)
		mkdir(HM_BPFFS_ROOT, 0755);
	if (mount("bpf", HM_BPFFS_ROOT, "bpf", 0, NULL) == 0)
		return 0;
	ret = -errno;
	snprintf(err, errlen,
		 "bpffs is not mounted on %s and mounting it failed: %s "
		 "(as root, run: mount -t bpf bpf %s)",
		 HM_BPFFS_ROOT, strerror(-ret), HM_BPFFS_ROOT);
	return ret;
}

static void hm_maps_init(struct hm_maps *maps)
{
	size_t i;

	for (i = 0; i < hm_map_descs_len; i++)
		*hm_maps_fd(maps, &hm_map_descs[i]) = -1;
}

void hm_maps_close(struct hm_maps *maps)
{
	size_t i;
	int *fd;

	for (i = 0; i < hm_map_descs_len; i++) {
		fd = hm_maps_fd(maps, &hm_map_descs[i]);
		if (*fd >= 0)
			close(*fd);
		*fd = -1;
	}
}

/* The group that hm-load --group gave the pin directory, when it did. */
static const char *hm_reader_group(const char *dir, char *buf, size_t len)
{
	struct group *gr;
	struct stat st;

	if (stat(dir, &st) || !st.st_gid ||
	    (st.st_mode & (S_IRGRP | S_IXGRP)) != (S_IRGRP | S_IXGRP))
		return NULL;
	gr = getgrgid(st.st_gid);
	if (gr)
		snprintf(buf, len, "%s", gr->gr_name);
	else
		snprintf(buf, len, "%u", (unsigned int)st.st_gid);
	return buf;
}

/*
 * want_write: the caller means to change the maps (a reset), whatever this
 * one pin was opened for; a group hm-load --group names can only read, so
 * it is no advice then.
 */
static void hm_perm_msg(char *err, size_t errlen, const char *pin, const char *dir, int ret,
			bool write, bool want_write)
{
	char group[64];

	if (ret == -EPERM)
		snprintf(err, errlen,
			 "cannot open %s: %s (run as root; this kernel may "
			 "allow bpf() to root only: kernel.unprivileged_bpf_disabled)",
			 pin, strerror(-ret));
	else if (want_write)
		snprintf(err, errlen,
			 "cannot open %s%s: %s (clearing the counters needs "
			 "root, or write access to the pins)",
			 pin, write ? " for writing" : "", strerror(-ret));
	else if (hm_reader_group(dir, group, sizeof(group)))
		snprintf(err, errlen,
			 "cannot read %s: %s (run as root, or as a member of "
			 "group %s, which may read them)",
			 pin, strerror(-ret), group);
	else
		snprintf(err, errlen,
			 "cannot read %s: %s (run as root, or give your group "
			 "read access: hm-load --group GROUP)",
			 pin, strerror(-ret));
}

static void hm_nomaps_msg(char *err, size_t errlen, const char *dir)
{
	size_t root = strlen(HM_BPFFS_ROOT);
	struct statfs st;

	if (!strncmp(dir, HM_BPFFS_ROOT, root) && dir[root] == '/' &&
	    (statfs(HM_BPFFS_ROOT, &st) || (__u32)st.f_type != (__u32)BPF_FS_MAGIC))
		snprintf(err, errlen,
			 "no httpmon maps in %s: bpffs is not mounted on %s, "
			 "so nothing is loaded (run: hm-load IFACE, which "
			 "mounts it)",
			 dir, HM_BPFFS_ROOT);
	else if (hm_pin_is_sock(dir))
		snprintf(err, errlen,
			 "no socket-source maps in %s (is the socket source loaded? "
			 "run: hm-load --sockets)",
			 dir);
	else
		snprintf(err, errlen,
			 "no httpmon maps in %s (is the monitor loaded? run: "
			 "hm-load IFACE)",
			 dir);
}

bool hm_fd_is_map(int fd)
{
	char link[64], target[64];
	ssize_t n;

	snprintf(link, sizeof(link), "/proc/self/fd/%d", fd);
	n = readlink(link, target, sizeof(target) - 1);
	if (n < 0)
		return true; /* no /proc: let the info query decide */
	target[n] = '\0';
	return strcmp(target, "anon_inode:bpf-map") == 0;
}

/*
 * Something other than a pinned object where a map pin belongs: bpf() says
 * EACCES or EPERM for a directory, even to root, and EPERM outside bpffs.
 */
static bool hm_not_a_pin(const char *path, char *err, size_t errlen)
{
	struct statfs fs;
	struct stat st;

	if (stat(path, &st))
		return false;
	if (S_ISDIR(st.st_mode)) {
		snprintf(err, errlen,
			 "%s is a directory, not a map pin: remove it (rmdir %s) "
			 "or use another pin directory",
			 path, path);
		return true;
	}
	if (!statfs(path, &fs) && (__u32)fs.f_type != (__u32)BPF_FS_MAGIC) {
		snprintf(err, errlen,
			 "%s is not in a bpffs mount, so it is no map pin: use a pin "
			 "directory in a bpffs mount (such as %s)",
			 path, HM_BPFFS_ROOT);
		return true;
	}
	return false;
}

static int hm_open_pin(const char *dir, const struct hm_map_desc *d, bool want_write, int *fdp,
		       char *err, size_t errlen)
{
	LIBBPF_OPTS(bpf_obj_get_opts, opts, .file_flags = BPF_F_RDONLY);
	bool write = want_write && d->reset != HM_KEEP;
	char path[4096];
	int fd, ret;

	if (write)
		opts.file_flags = 0;

	ret = hm_pin_path(path, sizeof(path), dir, d->name);
	if (ret) {
		snprintf(err, errlen, "pin directory name too long: %s", dir);
		return ret;
	}
	fd = bpf_obj_get_opts(path, &opts);
	if (fd < 0) {
		ret = -errno;
		if (ret == -ENOENT)
			return ret;
		if (hm_not_a_pin(path, err, errlen))
			return -EPROTO;
		if (ret == -EACCES || ret == -EPERM)
			hm_perm_msg(err, errlen, path, dir, ret, write, want_write);
		else
			snprintf(err, errlen, "cannot open %s: %s", path, strerror(-ret));
		return ret;
	}
	*fdp = fd;
	if (!hm_fd_is_map(fd)) {
		snprintf(err, errlen, "%s is not a BPF map", path);
		return -EPROTO;
	}
	return 0;
}

static const char *hm_map_type_str(unsigned int type)
{
	const char *s = libbpf_bpf_map_type_str(type);

	return s ? s : "unknown";
}

static int hm_check_map(int fd, const struct hm_map_desc *d, const char *dir, char *err,
			size_t errlen)
{
	struct bpf_map_info info = {};
	__u32 len = sizeof(info);
	int ret;

	ret = bpf_obj_get_info_by_fd(fd, &info, &len);
	if (ret) {
		ret = -errno;
		snprintf(err, errlen, "map %s in %s: cannot query it: %s", d->name, dir,
			 strerror(-ret));
		return ret;
	}
	if (info.type != d->type) {
		snprintf(err, errlen,
			 "map %s in %s is of type %s, expected %s: not an "
			 "httpmon map set of this release (remove it, if it is "
			 "not httpmon's)",
			 d->name, dir, hm_map_type_str(info.type), hm_map_type_str(d->type));
		return -EPROTO;
	}
	if (d->key_size && info.key_size != d->key_size) {
		snprintf(err, errlen,
			 "map %s in %s has key size %u, this %s expects %u: "
			 "use tools of the same release (or remove it, if it "
			 "is not httpmon's)",
			 d->name, dir, info.key_size, program_invocation_short_name, d->key_size);
		return -EPROTO;
	}
	if (d->value_size && info.value_size != d->value_size) {
		snprintf(err, errlen,
			 "map %s in %s has value size %u, this %s expects %u: "
			 "use tools of the same release (or remove it, if it "
			 "is not httpmon's)",
			 d->name, dir, info.value_size, program_invocation_short_name,
			 d->value_size);
		return -EPROTO;
	}
	if (d->max_entries && info.max_entries != d->max_entries) {
		snprintf(err, errlen,
			 "map %s in %s has %u entries, this %s expects %u: "
			 "use tools of the same release (or remove it, if it "
			 "is not httpmon's)",
			 d->name, dir, info.max_entries, program_invocation_short_name,
			 d->max_entries);
		return -EPROTO;
	}
	return 0;
}

static int hm_check_layout_version(int config_fd, const char *dir, char *err, size_t errlen)
{
	struct hm_config *cfg;
	__u32 key = 0, version;
	int ret;

	cfg = calloc(1, sizeof(*cfg));
	if (!cfg) {
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	ret = bpf_map_lookup_elem(config_fd, &key, cfg);
	version = cfg->layout_version;
	free(cfg);
	if (ret) {
		ret = -errno;
		snprintf(err, errlen, "map %s in %s: cannot read entry 0: %s", HM_MAP_CONFIG, dir,
			 strerror(-ret));
		return ret;
	}
	if (version != 0 && version != HM_LAYOUT_VERSION) {
		snprintf(err, errlen,
			 "maps in %s have layout version %u, this %s reads "
			 "version %u: use tools of the same release",
			 dir, version, program_invocation_short_name, HM_LAYOUT_VERSION);
		return -EPROTO;
	}
	return 0;
}

static void hm_missing_msg(char *err, size_t errlen, const char *dir, const bool *missing)
{
	size_t i, n;

	n = snprintf(err, errlen, "incomplete httpmon map set in %s: missing", dir);
	for (i = 0; i < hm_map_descs_len && n < errlen; i++)
		if (missing[i])
			n += snprintf(err + n, errlen - n, " %s", hm_map_descs[i].name);
	if (n < errlen)
		snprintf(err + n, errlen - n, " (reload the monitor: hm-load %s)",
			 hm_pin_is_sock(dir) ? "--sockets" : "IFACE");
}

static bool hm_required(const struct hm_map_desc *d, bool sock_set)
{
	return !d->optional || (d->sock && sock_set);
}

static size_t hm_nrequired(bool sock_set)
{
	size_t i, n = 0;

	for (i = 0; i < hm_map_descs_len; i++)
		n += hm_required(&hm_map_descs[i], sock_set);
	return n;
}

int hm_maps_open(const char *dir, bool write, struct hm_maps *maps, char *err, size_t errlen)
{
	bool missing[sizeof(hm_map_descs) / sizeof(hm_map_descs[0])] = {};
	bool sock_set = hm_pin_is_sock(dir);
	size_t i, nmissing = 0;
	struct stat st;
	int ret;

	hm_maps_init(maps);
	if (stat(dir, &st)) {
		ret = -errno;
		if ((ret == -EACCES || ret == -EPERM) && write) {
			snprintf(err, errlen,
				 "cannot access %s: %s (clearing the counters needs "
				 "root, or write access to the pins)",
				 dir, strerror(-ret));
			return ret;
		}
		if (ret == -EACCES || ret == -EPERM) {
			snprintf(err, errlen,
				 "cannot access %s: %s (run as root, or make it "
				 "and its parents searchable for you)",
				 dir, strerror(-ret));
			return ret;
		}
		hm_nomaps_msg(err, errlen, dir);
		return -ENOENT;
	}
	if (!S_ISDIR(st.st_mode)) {
		hm_nomaps_msg(err, errlen, dir);
		return -ENOENT;
	}

	for (i = 0; i < hm_map_descs_len; i++) {
		ret = hm_open_pin(dir, &hm_map_descs[i], write, hm_maps_fd(maps, &hm_map_descs[i]),
				  err, errlen);
		if (ret == -ENOENT && !hm_required(&hm_map_descs[i], sock_set)) {
			continue;
		} else if (ret == -ENOENT) {
			missing[i] = true;
			nmissing++;
		} else if (ret) {
			goto fail;
		}
	}
	if (nmissing) {
		if (nmissing == hm_nrequired(sock_set))
			hm_nomaps_msg(err, errlen, dir);
		else
			hm_missing_msg(err, errlen, dir, missing);
		ret = -ENOENT;
		goto fail;
	}

	/* The version explains a mismatch best, so it is checked first. */
	for (i = 0; i < hm_map_descs_len; i++) {
		if (hm_maps_fd(maps, &hm_map_descs[i]) != &maps->config)
			continue;
		ret = hm_check_map(maps->config, &hm_map_descs[i], dir, err, errlen);
		if (!ret)
			ret = hm_check_layout_version(maps->config, dir, err, errlen);
		if (ret)
			goto fail;
	}
	for (i = 0; i < hm_map_descs_len; i++) {
		if (hm_maps_fd(maps, &hm_map_descs[i]) == &maps->config ||
		    *hm_maps_fd(maps, &hm_map_descs[i]) < 0)
			continue;
		ret = hm_check_map(*hm_maps_fd(maps, &hm_map_descs[i]), &hm_map_descs[i], dir, err,
				   errlen);
		if (ret)
			goto fail;
	}
	return 0;

fail:
	hm_maps_close(maps);
	return ret;
}

static __u32 hm_map_id(int fd)
{
	struct bpf_map_info info = {};
	__u32 len = sizeof(info);

	return bpf_obj_get_info_by_fd(fd, &info, &len) ? 0 : info.id;
}

int hm_maps_check_pins(const char *dir, const struct hm_maps *maps)
{
	LIBBPF_OPTS(bpf_obj_get_opts, opts, .file_flags = BPF_F_RDONLY);
	char path[4096];
	__u32 pinned;
	size_t i;
	int fd, ret;

	for (i = 0; i < hm_map_descs_len; i++) {
		const struct hm_map_desc *d = &hm_map_descs[i];
		int open_fd = *hm_maps_fd((struct hm_maps *)maps, d);

		if (open_fd < 0)
			continue;
		ret = hm_pin_path(path, sizeof(path), dir, d->name);
		if (ret)
			return ret;
		fd = bpf_obj_get_opts(path, &opts);
		if (fd < 0)
			return errno == ENOENT ? -ENOENT : -errno;
		pinned = hm_map_id(fd);
		close(fd);
		if (!pinned || pinned != hm_map_id(open_fd))
			return -ESTALE;
	}
	return 0;
}
