// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * sockets.c - hm-load --sockets: the socket source (kern/httpmon_sock.bpf.c)
 * on its own map set in PIN_DIR/sockets, its programs attached and their
 * links pinned there, so they stay when hm-load exits; with --clients the
 * same object once more, counting the client role, in PIN_DIR/sockets-client;
 * --detach --sockets removes both.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <linux/magic.h>
#include <sys/statfs.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include "hm_common.h"
#include "hm_pin.h"
#include "load.h"
#include "httpmon_sock.skel.h"

/* The socket sets, by role: where each one lives. */
static const char *const set_subdir[HM_ROLES] = {
	[HM_ROLE_SERVER] = HM_SOCK_SUBDIR,
	[HM_ROLE_CLIENT] = HM_SOCK_CLIENT_SUBDIR,
};

int sock_dir(const char *pin_dir, unsigned int role, char *buf, size_t len)
{
	int err = hm_pin_path(buf, len, pin_dir, set_subdir[role]);

	if (err)
		hm_err("pin directory '%s' is too long", pin_dir);
	return err;
}

/* --cgroup PATH: an open cgroup v2 directory, or a negative errno said once. */
static int open_cgroup(const char *path)
{
	struct statfs fs;
	int fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC), err;

	if (fd < 0) {
		err = -errno;
		hm_err("cannot open cgroup '%s': %s", path, strerror(-err));
		return err;
	}
	if (fstatfs(fd, &fs) || fs.f_type != CGROUP2_SUPER_MAGIC) {
		close(fd);
		hm_err("'%s' is not a cgroup v2 directory (e.g. /sys/fs/cgroup/system.slice/"
		       "nginx.service)",
		       path);
		return -EINVAL;
	}
	return fd;
}

/*
 * The scope of this run: the cgroup filter set (--cgroup) or cleared
 * (host-wide).  The array entry is written before the flag that makes the
 * programs read it.
 */
static int write_scope(struct httpmon_sock *skel, const struct load_opts *o, int cg_fd)
{
	int cfg_fd = bpf_map__fd(skel->maps.hm_config), arr = bpf_map__fd(skel->maps.hm_sock_cgrp);
	struct hm_config *cfg = calloc(1, sizeof(*cfg));
	__u32 zero = 0;
	int err = 0;

	if (!cfg)
		return -ENOMEM;
	if (cg_fd >= 0 && bpf_map_update_elem(arr, &zero, &cg_fd, BPF_ANY)) {
		err = -errno;
		hm_err("cannot write map '%s': %s", HM_MAP_SOCK_CGROUP, strerror(-err));
		goto out;
	}
	if (bpf_map_lookup_elem(cfg_fd, &zero, cfg)) {
		err = -errno;
		goto out;
	}
	if (o->cgroup)
		cfg->flags |= HM_CFG_SOCK_CGROUP;
	else
		cfg->flags &= ~HM_CFG_SOCK_CGROUP;
	if (bpf_map_update_elem(cfg_fd, &zero, cfg, BPF_ANY))
		err = -errno;
	if (err)
		hm_err("cannot write map '%s': %s", HM_MAP_CONFIG, strerror(-err));
	if (!err && cg_fd < 0)
		bpf_map_delete_elem(arr, &zero);
out:
	free(cfg);
	return err;
}

/* Attaches every program whose link is not pinned yet, and pins its link. */
static int attach_all(struct httpmon_sock *skel, const char *dir, int *attached)
{
	struct bpf_program *prog;
	char name[64], path[PATH_MAX];
	int fd, err;

	*attached = 0;
	bpf_object__for_each_program(prog, skel->obj) {
		struct bpf_link *link;

		snprintf(name, sizeof(name), HM_SOCK_LINK_PREFIX "%s", bpf_program__name(prog));
		if (hm_pin_path(path, sizeof(path), dir, name))
			return -ENAMETOOLONG;
		fd = bpf_obj_get(path);
		if (fd >= 0) {
			close(fd); /* attached by an earlier run: it counts into these maps */
			continue;
		}
		link = bpf_program__attach(prog);
		if (!link) {
			err = -errno;
			hm_err("cannot attach program '%s' (%s): %s", bpf_program__name(prog),
			       bpf_program__section_name(prog), strerror(-err));
			return err;
		}
		err = bpf_link__pin(link, path);
		bpf_link__destroy(link); /* the pin holds it */
		if (err) {
			hm_err("cannot pin link '%s': %s", path, strerror(-err));
			return err;
		}
		(*attached)++;
	}
	return 0;
}

/* Unpins every link of dir: their programs detach.  Returns how many. */
static int unpin_links(const char *dir)
{
	char path[PATH_MAX];
	struct dirent *e;
	DIR *d = opendir(dir);
	int n = 0;

	if (!d)
		return 0;
	while ((e = readdir(d))) {
		if (strncmp(e->d_name, HM_SOCK_LINK_PREFIX, strlen(HM_SOCK_LINK_PREFIX)))
			continue;
		if (hm_pin_path(path, sizeof(path), dir, e->d_name))
			continue;
		if (unlink(path))
			hm_warn("cannot unpin '%s': %s", path, strerror(errno));
		else
			n++;
	}
	closedir(d);
	return n;
}

/* Unpins the socket set's maps (the object's own list) and removes dir. */
static void unpin_sock_maps(const char *dir)
{
	DECLARE_LIBBPF_OPTS(bpf_object_open_opts, open_opts, .pin_root_path = dir);
	struct httpmon_sock *skel = httpmon_sock__open_opts(&open_opts);
	struct bpf_map *map;
	int fd = open_pinned(dir, HM_MAP_AGING);

	release_aging_timer(fd);
	if (fd >= 0)
		close(fd);
	if (skel) {
		bpf_object__for_each_map(map, skel->obj) {
			const char *path = bpf_map__pin_path(map);

			if (path && unlink(path) && errno != ENOENT)
				hm_warn("cannot unpin '%s': %s", path, strerror(errno));
		}
		httpmon_sock__destroy(skel);
	}
	if (rmdir(dir) && errno != ENOENT)
		hm_warn("cannot remove '%s': %s", dir, strerror(errno));
}

/* Loads (or updates) the set of one role in dir, scoped by cg_fd (-1: every process). */
static int load_set(const struct load_opts *o, unsigned int role, const char *dir, int cg_fd)
{
	struct httpmon_sock *skel = NULL;
	int err, lock_fd, fd, attached = 0;
	bool new_set;

	lock_fd = lock_pin_dir(dir, true);
	if (lock_fd < 0)
		return lock_fd;
	fd = open_pinned(dir, HM_MAP_CONFIG);
	new_set = fd < 0;
	if (fd >= 0)
		close(fd);

	DECLARE_LIBBPF_OPTS(bpf_object_open_opts, open_opts, .pin_root_path = dir);
	skel = httpmon_sock__open_opts(&open_opts);
	if (!skel) {
		err = -errno;
		hm_err("cannot open the socket programs' BPF object: %s", strerror(-err));
		goto out;
	}
	skel->rodata->hm_sock_role = role;
	err = httpmon_sock__load(skel);
	if (err) {
		hm_err("cannot load the socket programs or reuse the maps pinned in '%s': %s%s",
		       dir, strerror(-err),
		       err == -EINVAL ? " (maps of another layout? hm-load --detach --sockets, "
					"then load again)" :
					"");
		goto out;
	}
	err = write_config(bpf_map__fd(skel->maps.hm_config), bpf_map__fd(skel->maps.hm_route_pats),
			   o);
	if (!err)
		err = write_scope(skel, o, cg_fd);
	if (!err)
		err = attach_all(skel, dir, &attached);
	if (!err && o->group)
		err = set_pin_group(dir, o->group, o->gid);
	if (!err)
		hm_info("%s HTTP at the sockets of %s, as %s%s; maps in %s",
			attached ? "counting" : "still counting",
			o->cgroup ? o->cgroup : "every process of this host",
			role == HM_ROLE_CLIENT ? "clients" : "servers",
			attached ? "" : " (settings updated)", dir);
out:
	httpmon_sock__destroy(skel);
	if (err && new_set) {
		unpin_links(dir);
		unpin_sock_maps(dir); /* a failed first load leaves bpffs as it was */
	}
	close(lock_fd);
	return err;
}

/* Detaches and unpins the set in dir; 0, or -ENOENT when there is none. */
static int remove_set(const char *dir)
{
	int lock_fd, fd, links;

	if (access(dir, F_OK))
		return -ENOENT;
	lock_fd = lock_pin_dir(dir, false);
	if (lock_fd < 0)
		return lock_fd;
	links = unpin_links(dir);
	fd = open_pinned(dir, HM_MAP_CONFIG);
	if (fd >= 0)
		close(fd);
	if (!links && fd < 0) {
		close(lock_fd);
		return -ENOENT;
	}
	unpin_sock_maps(dir);
	close(lock_fd);
	hm_info("detached the socket programs (%d) and unpinned their maps in %s", links, dir);
	return 0;
}

int do_sockets_load(const struct load_opts *o)
{
	char dir[PATH_MAX], cdir[PATH_MAX];
	int err, cg_fd = -1, r;

	if (sock_dir(o->pin_dir, HM_ROLE_SERVER, dir, sizeof(dir)) ||
	    sock_dir(o->pin_dir, HM_ROLE_CLIENT, cdir, sizeof(cdir)))
		return -ENAMETOOLONG;
	if (o->cgroup) {
		cg_fd = open_cgroup(o->cgroup);
		if (cg_fd < 0)
			return cg_fd;
	}
	err = load_set(o, HM_ROLE_SERVER, dir, cg_fd);
	/* Each run sets the scope anew: the clients' set goes without --clients. */
	if (!err && o->clients)
		err = load_set(o, HM_ROLE_CLIENT, cdir, cg_fd);
	else if (!err && (r = remove_set(cdir)) != -ENOENT)
		err = r;
	if (cg_fd >= 0)
		close(cg_fd);
	return err;
}

/* Removes every socket set under the pin directory; how many there were, or a negative errno. */
int remove_sock_sets(const char *pin_dir)
{
	char dir[PATH_MAX];
	int found = 0, r;

	for (unsigned int role = 0; role < HM_ROLES; role++) {
		if (sock_dir(pin_dir, role, dir, sizeof(dir)))
			return -ENAMETOOLONG;
		r = remove_set(dir);
		if (!r)
			found++;
		else if (r != -ENOENT)
			return r;
	}
	return found;
}

int do_sockets_detach(const struct load_opts *o)
{
	char dir[PATH_MAX];
	int found = remove_sock_sets(o->pin_dir);

	if (found < 0)
		return found;
	if (!found) {
		if (!sock_dir(o->pin_dir, HM_ROLE_SERVER, dir, sizeof(dir)))
			hm_err("the socket source is not loaded: nothing in %s", dir);
		return -ENOENT;
	}
	/* A pin directory made for the socket sets alone goes with them (only when empty). */
	if (strcmp(o->pin_dir, HM_PIN_DIR_DEFAULT))
		rmdir(o->pin_dir);
	return 0;
}

/* For --status: is the set of role loaded, how many links, is it scoped to a cgroup. */
int sockets_status(const char *pin_dir, unsigned int role, struct sock_status *st)
{
	char dir[PATH_MAX];
	struct hm_config cfg;
	struct dirent *e;
	__u32 zero = 0;
	DIR *d;
	int fd;

	memset(st, 0, sizeof(*st));
	if (hm_pin_path(dir, sizeof(dir), pin_dir, set_subdir[role]))
		return -ENAMETOOLONG;
	snprintf(st->dir, sizeof(st->dir), "%s", dir);
	d = opendir(dir);
	if (!d)
		return 0;
	while ((e = readdir(d))) {
		if (!strncmp(e->d_name, HM_SOCK_LINK_PREFIX, strlen(HM_SOCK_LINK_PREFIX)))
			st->links++;
	}
	closedir(d);
	fd = open_pinned(dir, HM_MAP_CONFIG);
	if (fd >= 0) {
		st->maps = true;
		if (!bpf_map_lookup_elem(fd, &zero, &cfg))
			st->cgroup = !!(cfg.flags & HM_CFG_SOCK_CGROUP);
		close(fd);
	}
	return 0;
}
