// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * netns.c - the network namespace a map set serves.  hm_links and hm_ifaces
 * are keyed by interface index, which is per network namespace, so one map
 * set serves one namespace.  hm-load records which in a map of its own,
 * hm_owner, and refuses to change the set from another namespace while that
 * one exists.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <bpf/bpf.h>
#include "hm_common.h"
#include "hm_mapio.h"
#include "hm_pin.h"
#include "load.h"

#ifndef SO_NETNS_COOKIE
#define SO_NETNS_COOKIE 71
#endif

/* The cookie of the calling thread's network namespace, 0 when the kernel has none. */
static __u64 netns_cookie(void)
{
	__u64 cookie = 0;
	socklen_t len = sizeof(cookie);
	int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);

	if (fd < 0)
		return 0;
	if (getsockopt(fd, SOL_SOCKET, SO_NETNS_COOKIE, &cookie, &len))
		cookie = 0;
	close(fd);
	return cookie;
}

int this_netns(struct hm_owner *o)
{
	struct stat st;

	memset(o, 0, sizeof(*o));
	if (stat("/proc/self/ns/net", &st))
		return -errno;
	o->netns_dev = st.st_dev;
	o->netns_ino = st.st_ino;
	o->netns_cookie = netns_cookie();
	return 0;
}

static bool same_netns(const struct hm_owner *a, const struct hm_owner *b)
{
	if (a->netns_cookie && b->netns_cookie)
		return a->netns_cookie == b->netns_cookie;
	return a->netns_dev == b->netns_dev && a->netns_ino == b->netns_ino;
}

/*
 * Is the namespace file at path the one o records?  The inode must match;
 * an inode number is reused once its namespace is gone, so where both
 * cookies are known, the one of path (entered for a moment) must too.
 */
static bool netns_is(const char *path, const struct hm_owner *o)
{
	struct stat st;
	int self, fd;
	__u64 cookie = 0;

	if (stat(path, &st) || st.st_dev != o->netns_dev || st.st_ino != o->netns_ino)
		return false;
	if (!o->netns_cookie)
		return true;
	self = open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (self >= 0 && fd >= 0 && !setns(fd, CLONE_NEWNET)) {
		cookie = netns_cookie();
		if (setns(self, CLONE_NEWNET)) {
			/* Going on would attach to another namespace's interfaces. */
			hm_err("cannot return to this network namespace: %s", strerror(errno));
			exit(HM_EXIT_FAIL);
		}
	}
	if (fd >= 0)
		close(fd);
	if (self >= 0)
		close(self);
	return !cookie || cookie == o->netns_cookie;
}

/* A bind mount of the namespace (ip netns names its mounts in /run/netns). */
static bool find_netns_mount(const struct hm_owner *o, struct netns_place *p)
{
	char line[3 * PATH_MAX], root[64], mnt[PATH_MAX], want[64];
	bool found = false;
	FILE *f = fopen("/proc/self/mountinfo", "re");

	if (!f)
		return false;
	snprintf(want, sizeof(want), "net:[%llu]", (unsigned long long)o->netns_ino);
	while (!found && fgets(line, sizeof(line), f)) {
		/* ID PARENT MAJ:MIN ROOT MOUNTPOINT ...; nsfs mounts have ROOT net:[INODE] */
		if (sscanf(line, "%*s %*s %*s %63s %4095s", root, mnt) != 2 || strcmp(root, want) ||
		    !netns_is(mnt, o))
			continue;
		found = true;
		snprintf(p->path, sizeof(p->path), "%s", mnt);
		if (!strncmp(mnt, "/run/netns/", 11) && !strchr(mnt + 11, '/'))
			snprintf(p->what, sizeof(p->what), "ip netns %s", mnt + 11);
		else
			snprintf(p->what, sizeof(p->what), "the one mounted on %s", mnt);
	}
	fclose(f);
	return found;
}

/* A process in the namespace. */
static bool find_netns_process(const struct hm_owner *o, struct netns_place *p)
{
	struct dirent *e;
	char path[sizeof(e->d_name) + 16], comm[64] = "", *nl;
	bool found = false;
	DIR *d = opendir("/proc");
	FILE *f;

	if (!d)
		return false;
	while (!found && (e = readdir(d))) {
		if (e->d_name[0] < '1' || e->d_name[0] > '9')
			continue;
		snprintf(path, sizeof(path), "/proc/%s/ns/net", e->d_name);
		if (!netns_is(path, o))
			continue;
		found = true;
		snprintf(p->path, sizeof(p->path), "%s", path);
		snprintf(path, sizeof(path), "/proc/%s/comm", e->d_name);
		f = fopen(path, "re");
		if (f) {
			if (!fgets(comm, sizeof(comm), f))
				comm[0] = '\0';
			fclose(f);
		}
		nl = strchr(comm, '\n');
		if (nl)
			*nl = '\0';
		snprintf(p->what, sizeof(p->what), "the one of process %s (%s)", e->d_name, comm);
	}
	closedir(d);
	return found;
}

/*
 * Reads hm_owner in dir: 0 and *rec when there is a record, -ENOENT when
 * none, -EPROTO (said) when the pin is not hm-load's record.
 */
static int owner_read(const char *dir, struct hm_owner *rec)
{
	struct bpf_map_info info = {};
	__u32 len = sizeof(info), zero = 0;
	char path[PATH_MAX];
	int fd, err = 0;

	if (hm_pin_path(path, sizeof(path), dir, HM_MAP_OWNER))
		return -ENAMETOOLONG;
	fd = bpf_obj_get(path);
	if (fd < 0)
		return errno == ENOENT ? -ENOENT : -errno;
	if (!hm_fd_is_map(fd) || bpf_obj_get_info_by_fd(fd, &info, &len) ||
	    info.type != BPF_MAP_TYPE_ARRAY || info.key_size != sizeof(zero) ||
	    info.value_size != sizeof(*rec) || info.max_entries != 1) {
		hm_err("%s is not hm-load's record of the network namespace the maps serve: "
		       "remove it (rm %s) or use another --pin-path",
		       path, path);
		err = -EPROTO;
	} else if (bpf_map_lookup_elem(fd, &zero, rec)) {
		err = -errno;
		hm_err("cannot read '%s': %s", path, strerror(-err));
	}
	close(fd);
	return err;
}

/* Records this namespace in dir's hm_owner, creating and pinning it when missing. */
int owner_write(const char *dir, const struct hm_owner *me)
{
	char path[PATH_MAX];
	__u32 zero = 0;
	int fd, err = 0;

	if (hm_pin_path(path, sizeof(path), dir, HM_MAP_OWNER))
		return -ENAMETOOLONG;
	fd = bpf_obj_get(path);
	if (fd < 0) {
		fd = bpf_map_create(BPF_MAP_TYPE_ARRAY, HM_MAP_OWNER, sizeof(zero), sizeof(*me), 1,
				    NULL);
		if (fd < 0 || bpf_map_update_elem(fd, &zero, me, BPF_ANY) || bpf_obj_pin(fd, path))
			err = -errno;
	} else if (bpf_map_update_elem(fd, &zero, me, BPF_ANY)) {
		err = -errno;
	}
	if (fd >= 0)
		close(fd);
	if (err)
		hm_err("cannot record the network namespace in '%s': %s", path, strerror(-err));
	return err;
}

void unpin_owner(const char *dir)
{
	char path[PATH_MAX];

	if (!hm_pin_path(path, sizeof(path), dir, HM_MAP_OWNER) && unlink(path) && errno != ENOENT)
		hm_warn("cannot unpin '%s': %s", path, strerror(errno));
}

/*
 * May this network namespace change the map set in dir?  Yes when hm_owner
 * names it or nothing; yes, after a warning, when the namespace it names is
 * gone (nothing holds it: no process, no mount) - its interface records go
 * too, they named that namespace's interfaces.  Otherwise -EXDEV, said in
 * one line naming the other namespace and how to enter it.  *takeover tells
 * the caller to write hm_owner.
 */
int owner_check(const char *dir, bool *takeover)
{
	struct hm_owner me, rec;
	struct netns_place where = {};
	int err, links_fd;
	__u32 key;

	*takeover = false;
	err = this_netns(&me);
	if (err) {
		/* Without /proc there is nothing to compare: the set is used as it is. */
		hm_warn("cannot identify this network namespace (/proc/self/ns/net): %s; the "
			"namespace the maps in %s serve is not checked",
			strerror(-err), dir);
		return 0;
	}
	err = owner_read(dir, &rec);
	if (err == -ENOENT) {
		*takeover = true;
		return 0;
	}
	if (err)
		return err;
	if (same_netns(&me, &rec))
		return 0;
	if (find_netns_mount(&rec, &where) || find_netns_process(&rec, &where)) {
		hm_err("the maps in %s serve another network namespace (%s), and interface "
		       "indexes are per namespace: run hm-load there (nsenter --net=%s hm-load "
		       "...) or give this namespace a pin directory of its own (--pin-path)",
		       dir, where.what, where.path);
		return -EXDEV;
	}
	hm_warn("the network namespace the maps in %s served is gone: this one takes them over "
		"and forgets the interfaces recorded there",
		dir);
	links_fd = hm_links_open(dir, false);
	while (links_fd >= 0 && !bpf_map_get_next_key(links_fd, NULL, &key))
		if (bpf_map_delete_elem(links_fd, &key))
			break;
	if (links_fd >= 0)
		close(links_fd);
	*takeover = true;
	return 0;
}

/* For --status: where the namespace the maps serve is, when it is not this one. */
bool owner_elsewhere(const char *dir, struct netns_place *where)
{
	struct hm_owner me, rec;

	if (this_netns(&me) || owner_read(dir, &rec) || same_netns(&me, &rec))
		return false;
	if (!find_netns_mount(&rec, where) && !find_netns_process(&rec, where))
		snprintf(where->what, sizeof(where->what), "net:[%llu], gone",
			 (unsigned long long)rec.netns_ino);
	return true;
}
