// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * cgroup.c - the path of a cgroup v2 id.  The id is the inode number of the
 * cgroup's directory under the cgroup2 mount, so the directories of that
 * mount are walked once per run (bounded) and looked up by inode.
 */
#include <errno.h>
#include <ftw.h>
#include <stdlib.h>
#include <string.h>
#include "hm_common.h"
#include "stat.h"

#define CGROUP_WALK_MAX 100000 /* directories looked at, at most */
#define CGROUP_WALK_FDS 32

struct cgroup_dir {
	__u64 ino;
	char *path; /* relative to the mount: "/" or "/system.slice/nginx.service" */
};

static struct {
	bool walked;
	char mount[4096];
	size_t mount_len;
	struct cgroup_dir *v;
	size_t n, cap;
} cg;

/* Undoes mountinfo's octal escapes (\040 for a space) in place. */
static void unescape_octal(char *s)
{
	char *out = s;

	for (; *s; s++) {
		if (s[0] == '\\' && s[1] >= '0' && s[1] <= '3' && s[2] >= '0' && s[2] <= '7' &&
		    s[3] >= '0' && s[3] <= '7') {
			*out++ = (char)((s[1] - '0') << 6 | (s[2] - '0') << 3 | (s[3] - '0'));
			s += 3;
		} else {
			*out++ = *s;
		}
	}
	*out = '\0';
}

/*
 * The mount point of a cgroup2 mount in /proc/self/mountinfo: the first that
 * shows the hierarchy from its root, else the first.
 */
static bool find_cgroup2_mount(char *buf, size_t len)
{
	FILE *f = fopen("/proc/self/mountinfo", "re");
	char *line = NULL, *sep, *fields[5], *save = NULL;
	bool found = false, whole = false;
	size_t cap = 0;
	int i;

	if (!f) {
		hm_dbg("cannot read /proc/self/mountinfo: %s", strerror(errno));
		return false;
	}
	while (!whole && getline(&line, &cap, f) > 0) {
		sep = strstr(line, " - ");
		if (!sep || strncmp(sep + 3, "cgroup2 ", 8))
			continue;
		*sep = '\0';
		/* id, parent id, major:minor, root, mount point */
		fields[0] = strtok_r(line, " ", &save);
		for (i = 1; i < 5 && fields[i - 1]; i++)
			fields[i] = strtok_r(NULL, " ", &save);
		if (i < 5 || !fields[4] || (found && strcmp(fields[3], "/")))
			continue;
		unescape_octal(fields[4]);
		if (snprintf(buf, len, "%s", fields[4]) >= (int)len)
			continue;
		found = true;
		whole = !strcmp(fields[3], "/");
	}
	free(line);
	fclose(f);
	return found;
}

static int add_dir(const char *path, const struct stat *st, int type, struct FTW *ftw)
{
	struct cgroup_dir *p;
	const char *rel;

	(void)ftw;
	if (type != FTW_D)
		return 0;
	if (cg.n == cg.cap) {
		size_t cap = cg.cap ? cg.cap * 2 : 256;

		p = realloc(cg.v, cap * sizeof(*p));
		if (!p)
			return -ENOMEM;
		cg.v = p;
		cg.cap = cap;
	}
	rel = path + cg.mount_len;
	cg.v[cg.n].ino = st->st_ino;
	cg.v[cg.n].path = strdup(*rel ? rel : "/");
	if (!cg.v[cg.n].path)
		return -ENOMEM;
	cg.n++;
	return cg.n >= CGROUP_WALK_MAX;
}

static int cmp_dir(const void *pa, const void *pb)
{
	const struct cgroup_dir *a = pa, *b = pb;

	return a->ino < b->ino ? -1 : a->ino > b->ino;
}

static void walk_cgroups(void)
{
	int ret;

	cg.walked = true;
	if (!find_cgroup2_mount(cg.mount, sizeof(cg.mount))) {
		hm_dbg("no cgroup2 mount: cgroup paths are not known");
		return;
	}
	cg.mount_len = strlen(cg.mount);
	while (cg.mount_len > 1 && cg.mount[cg.mount_len - 1] == '/')
		cg.mount[--cg.mount_len] = '\0';
	if (cg.mount_len == 1)
		cg.mount_len = 0; /* cgroup2 on "/": paths are the mount's own */
	ret = nftw(cg.mount, add_dir, CGROUP_WALK_FDS, FTW_PHYS | FTW_MOUNT);
	if (ret < 0)
		hm_dbg("walking %s: %s", cg.mount, strerror(errno));
	else if (ret > 0)
		hm_dbg("walking %s: stopped after %d directories", cg.mount, CGROUP_WALK_MAX);
	sort_array(cg.v, cg.n, sizeof(*cg.v), cmp_dir);
}

const char *cgroup_path(__u64 id)
{
	struct cgroup_dir k = { .ino = id }, *p;

	if (!cg.walked)
		walk_cgroups();
	if (!cg.n)
		return NULL;
	p = bsearch(&k, cg.v, cg.n, sizeof(k), cmp_dir);
	return p ? p->path : NULL;
}
