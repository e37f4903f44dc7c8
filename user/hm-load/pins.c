// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * pins.c - the pinned map set: its pins and their modes, what is pinned
 * already, whether programs still use it, and unpinning it.
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <linux/magic.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include "hm_common.h"
#include "hm_mapio.h"
#include "hm_pin.h"
#include "load.h"
#include "xdp.h"
#include "httpmon.skel.h"

/*
 * Calls fn(path) for the pin of every map the object pins, taken from the
 * embedded object itself so the list can never miss a map.
 */
int for_each_pin(const char *dir, int (*fn)(const char *path, void *arg), void *arg)
{
	DECLARE_LIBBPF_OPTS(bpf_object_open_opts, open_opts, .pin_root_path = dir);
	struct httpmon *skel = httpmon__open_opts(&open_opts);
	struct bpf_map *map;
	int err = 0;

	if (!skel)
		return -errno;
	bpf_object__for_each_map(map, skel->obj) {
		const char *path = bpf_map__pin_path(map);

		if (path && (err = fn(path, arg)))
			break;
	}
	httpmon__destroy(skel);
	return err;
}

int open_pinned(const char *dir, const char *name)
{
	char path[PATH_MAX];

	if (hm_pin_path(path, sizeof(path), dir, name))
		return -ENAMETOOLONG;
	return bpf_obj_get(path);
}

/* One pin: only its group changes (pins are root's: hm-load runs as root). */
static int give_to_group(const char *path, void *arg)
{
	gid_t gid = *(const gid_t *)arg;
	int err;

	if (chown(path, -1, gid) || chmod(path, gid ? HM_PIN_MODE_GROUP : HM_PIN_MODE)) {
		err = -errno;
		hm_err("cannot set the group and mode of '%s': %s", path, strerror(-err));
		return err;
	}
	return 0;
}

/*
 * Warns when a parent of the pin directory keeps group gid out: nothing
 * below a directory without search permission can be opened.  bpffs is
 * often mounted with mode=0700 and tc creates /sys/fs/bpf/tc 0700.  Telling
 * is better than opening someone else's directory behind their back.
 */
static void check_reachable(const char *dir, const char *group, gid_t gid)
{
	char path[PATH_MAX], fix[PATH_MAX] = "";
	bool bpffs_root = false;
	struct stat st, up;
	struct statfs fs;
	size_t n = 0;

	if (!realpath(dir, path) || stat("/", &up))
		return;
	for (char *p = path + 1; (p = strchr(p, '/')); p++, up = st) {
		*p = '\0';
		if (stat(path, &st)) {
			*p = '/';
			return;
		}
		if (!(st.st_mode & S_IXOTH) && !(st.st_gid == gid && st.st_mode & S_IXGRP)) {
			n += snprintf(fix + n, sizeof(fix) - n, " %s", path);
			bpffs_root |= st.st_dev != up.st_dev && !statfs(path, &fs) &&
				      (__u32)fs.f_type == (__u32)BPF_FS_MAGIC;
		}
		*p = '/';
		if (n >= sizeof(fix))
			return;
	}
	if (n)
		hm_warn("members of group %s cannot reach %s: to let them through, run "
			"chmod o+x%s%s",
			group, dir, fix, bpffs_root ? " (or mount bpffs with -o mode=0755)" : "");
}

/*
 * Pins are created root-only (the kernel gives a pin 0600, a new pin
 * directory is made 0700).  --group GROUP hands the directory and every map
 * pin to GROUP, directory 0750 and pins 0640, so that its members can run
 * hm-stat; --group root (gid 0) makes them root-only again.  hm-load pins no
 * programs or links (libxdp pins its dispatcher in a directory of its own,
 * left alone here), so nothing that could run or detach is opened to a group.
 */
int set_pin_group(const char *dir, const char *group, gid_t gid)
{
	char path[PATH_MAX];
	int err;

	err = for_each_pin(dir, give_to_group, &gid);
	if (!err && !hm_pin_path(path, sizeof(path), dir, HM_MAP_OWNER) && !access(path, F_OK))
		err = give_to_group(path, &gid);
	if (err)
		return err;
	if (chown(dir, -1, gid) || chmod(dir, gid ? HM_DIR_MODE_GROUP : HM_DIR_MODE)) {
		err = -errno;
		hm_err("cannot set the group and mode of '%s': %s", dir, strerror(-err));
		return err;
	}
	if (gid)
		check_reachable(dir, group, gid);
	return 0;
}

bool prog_uses_map(__u32 prog_id, __u32 map_id)
{
	struct bpf_prog_info info = {};
	__u32 ids[64], len = sizeof(info);
	int fd = bpf_prog_get_fd_by_id(prog_id);
	bool uses = false;

	if (fd < 0)
		return false;
	info.nr_map_ids = 64;
	info.map_ids = (__u64)(unsigned long)ids;
	if (!bpf_obj_get_info_by_fd(fd, &info, &len))
		for (__u32 i = 0; i < info.nr_map_ids && i < 64; i++)
			uses |= ids[i] == map_id;
	close(fd);
	return uses;
}

/* True when some loaded program (attached anywhere) still uses the map with this id. */
bool map_in_use(__u32 map_id)
{
	__u32 id = 0;

	while (!bpf_prog_get_next_id(id, &id))
		if (prog_uses_map(id, map_id))
			return true;
	return false;
}

bool links_have_flag(int links_fd, __u32 flag)
{
	struct hm_link links[HM_MAX_LINKS];
	int n = hm_links_read(links_fd, links, HM_MAX_LINKS);

	for (int i = 0; i < n; i++)
		if (links[i].flags & flag)
			return true;
	return false;
}

/*
 * libxdp's directory in bpffs goes once it is empty, when hm-load created it
 * (the flag passes on to each later XDP link, so the last one removes it).
 */
void release_libxdp_dir(__u32 flags)
{
	char dir[PATH_MAX];

	if (!(flags & HM_LINK_CREATED_XDP_DIR))
		return;
	if (!rmdir(hm_libxdp_dir(dir, sizeof(dir))))
		hm_dbg("removed %s (hm-load's XDP attach had created it)", dir);
}

/*
 * The idle-connection sweep's BPF timer holds the program that armed it, and
 * through it every map of the set, so a detached or replaced program would
 * stay loaded while the sweep goes on.  Rewriting hm_aging's entry from user
 * space cancels the timer and releases that program; programs still attached
 * arm it again with their next new connection.
 */
void release_aging_timer(int fd)
{
	struct bpf_map_info info = {};
	__u32 len = sizeof(info), key = 0;
	void *zero;

	if (fd < 0 || bpf_obj_get_info_by_fd(fd, &info, &len))
		return;
	zero = calloc(1, info.value_size);
	if (zero && bpf_map_update_elem(fd, &key, zero, BPF_ANY))
		hm_dbg("cannot reset map '%s': %s", HM_MAP_AGING, strerror(errno));
	free(zero);
}

/*
 * After release_aging_timer, the sweep runs again only when a program arms
 * it; connections that never send another packet would never be aged.  So
 * hm-load runs hm_aging_kick once, which schedules the sweep at once; the
 * timer then holds that program until the next release.
 */
void kick_aging(struct httpmon *skel)
{
	LIBBPF_OPTS(bpf_test_run_opts, opts);
	int err = bpf_prog_test_run_opts(bpf_program__fd(skel->progs.hm_aging_kick), &opts);

	if (err)
		hm_warn("cannot schedule the idle-connection sweep: %s; it starts with the next "
			"new connection",
			strerror(-err));
}

static int unpin_one(const char *path, void *arg)
{
	(void)arg;
	if (unlink(path) && errno != ENOENT)
		hm_warn("cannot unpin '%s': %s", path, strerror(errno));
	return 0;
}

/*
 * Unpins the map set once no program uses it (force: in any case).
 * Detached programs are freed after an RCU grace period, so wait a little
 * for them to go.  Returns true when there was a map set to unpin.
 */
bool unpin_maps(const char *dir, bool force)
{
	int fd = open_pinned(dir, HM_MAP_CONFIG);
	__u32 id = fd >= 0 ? hm_map_id(fd) : 0;
	bool used = true;

	if (fd >= 0)
		close(fd);
	if (!id)
		return false;
	fd = open_pinned(dir, HM_MAP_AGING);
	release_aging_timer(fd);
	if (fd >= 0)
		close(fd);
	hm_xdp_close_stray_fds();
	for (int ms = 0; ms < HM_UNUSED_WAIT_MS && (used = map_in_use(id)); ms += 50)
		usleep(50 * 1000);
	if (used && !force) {
		hm_info("maps in %s stay pinned: other httpmon programs still use them", dir);
		return true;
	}
	if (used)
		hm_warn("httpmon programs outside this network namespace still use the maps in %s; "
			"they keep counting into maps no tool can open any more (run hm-load "
			"--detach --all in their namespace)",
			dir);
	for_each_pin(dir, unpin_one, NULL);
	unpin_owner(dir);
	if (strcmp(dir, HM_PIN_DIR_DEFAULT))
		rmdir(dir); /* only when empty; tc's own globals directory is left alone */
	hm_info("unpinned the maps in %s", dir);
	return true;
}
/* The layout version in a pinned hm_config (its first member in every layout); 0: none. */
static __u32 pinned_layout(int fd, const struct bpf_map_info *info)
{
	__u32 zero = 0, version = 0;
	void *val;

	if (info->type != BPF_MAP_TYPE_ARRAY || info->key_size != sizeof(zero) ||
	    info->value_size < sizeof(version))
		return 0;
	val = calloc(1, info->value_size);
	if (val && !bpf_map_lookup_elem(fd, &zero, val))
		memcpy(&version, val, sizeof(version));
	free(val);
	return version;
}

/* One pin of the object's maps: nothing there, or a map libbpf can reuse as it is. */
static int check_pin(const struct bpf_map *map, const char *dir, bool config)
{
	const char *path = bpf_map__pin_path(map);
	struct bpf_map_info info = {};
	__u32 len = sizeof(info), version;
	struct stat st;
	int fd, err = 0;

	if (!path)
		return 0;
	if (stat(path, &st)) {
		if (errno == ENOENT)
			return 0;
		err = -errno;
		hm_err("cannot look at '%s': %s", path, strerror(-err));
		return err;
	}
	if (S_ISDIR(st.st_mode)) {
		hm_err("%s is a directory, not a map pin: remove it (rmdir %s) or use another "
		       "--pin-path",
		       path, path);
		return -EPROTO;
	}
	fd = bpf_obj_get(path);
	if (fd < 0 || !hm_fd_is_map(fd) || bpf_obj_get_info_by_fd(fd, &info, &len)) {
		hm_err("%s is not a BPF map: remove it (rm %s) or use another --pin-path", path,
		       path);
		if (fd >= 0)
			close(fd);
		return -EPROTO;
	}
	version = config ? pinned_layout(fd, &info) : 0;
	if (version && version != HM_LAYOUT_VERSION) {
		hm_err("the maps in %s have layout version %u, this hm-load loads version %u: "
		       "remove them first (hm-load --detach --all --pin-path %s, or rm %s/hm_*)",
		       dir, version, HM_LAYOUT_VERSION, dir, dir);
		err = -EPROTO;
	} else if (info.type != bpf_map__type(map) || info.key_size != bpf_map__key_size(map) ||
		   info.value_size != bpf_map__value_size(map) ||
		   info.max_entries != bpf_map__max_entries(map) ||
		   info.map_flags != bpf_map__map_flags(map)) {
		hm_err("%s is not httpmon's map (type %s, key %u B, value %u B, %u entries; "
		       "httpmon's: type %s, key %u B, value %u B, %u entries): remove it (rm %s) "
		       "or use another --pin-path",
		       path, hm_map_type_str(info.type), info.key_size, info.value_size,
		       info.max_entries, hm_map_type_str(bpf_map__type(map)),
		       bpf_map__key_size(map), bpf_map__value_size(map), bpf_map__max_entries(map),
		       path);
		err = -EPROTO;
	}
	close(fd);
	return err;
}

/*
 * Before libbpf reuses the maps pinned in dir: refuses anything libbpf would
 * fail on in five lines of its own (a directory, a program, a map of
 * another type or size), and a map set of another layout version, whose
 * sizes may all match while their meaning differs (loading would stamp it
 * with this version).  -EPROTO, said in one line.
 */
int check_pins(struct httpmon *skel, const char *dir)
{
	struct bpf_map *map;
	int err;

	err = check_pin(skel->maps.hm_config, dir, true); /* the version explains most */
	bpf_object__for_each_map(map, skel->obj) {
		if (!err && map != skel->maps.hm_config)
			err = check_pin(map, dir, false);
	}
	return err;
}
