// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * lock.c - the lock on the pin directory: every hm-load run that changes the
 * map set, and every reset, holds an exclusive flock on it, so they take turns.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <sys/file.h>
#include <sys/stat.h>
#include "hm_common.h"
#include "hm_mapio.h"
#include "hm_pin.h"
#include "load.h"

/* Creates path and its missing parents; the parents searchable by all, path itself leaf_mode. */
static int mkdir_p(const char *path, mode_t leaf_mode)
{
	char buf[PATH_MAX];
	size_t len = strlen(path);

	if (len >= sizeof(buf))
		return -ENAMETOOLONG;
	memcpy(buf, path, len + 1);
	for (char *p = buf + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdir(buf, 0755) && errno != EEXIST)
			return -errno;
		*p = '/';
	}
	if (mkdir(buf, leaf_mode) && errno != EEXIST)
		return -errno;
	return 0;
}

static int lock_wait(int fd, const char *path)
{
	bool told = false;

	for (int waited_ms = 0;; waited_ms += 50) {
		int err;

		if (!flock(fd, LOCK_EX | LOCK_NB))
			return 0;
		err = -errno;
		if (err != -EWOULDBLOCK && err != -EINTR) {
			hm_err("cannot lock '%s': %s", path, strerror(-err));
			return err;
		}
		if (waited_ms >= HM_LOCK_WAIT_S * 1000) {
			hm_err("another hm-load has held the lock on '%s' for %d s; giving up",
			       path, HM_LOCK_WAIT_S);
			return -EBUSY;
		}
		if (!told)
			hm_info("waiting for another hm-load to finish (lock on %s)", path);
		told = true;
		usleep(50 * 1000);
	}
}

/* True while fd is still the directory path names (it was not removed meanwhile). */
static bool still_there(int fd, const char *path)
{
	struct stat a, b;

	return !fstat(fd, &a) && a.st_nlink > 0 && !stat(path, &b) && a.st_dev == b.st_dev &&
	       a.st_ino == b.st_ino;
}

/* Opens the nearest existing parent directory of path; its name goes to buf. */
static int open_parent(const char *path, char *buf, size_t len)
{
	if (snprintf(buf, len, "%s", path) >= (int)len)
		return -ENAMETOOLONG;
	for (;;) {
		char *slash = strrchr(buf, '/');
		int fd;

		if (!slash)
			snprintf(buf, len, ".");
		else if (slash == buf)
			buf[1] = '\0';
		else
			*slash = '\0';
		fd = open(buf, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		if (fd >= 0 || errno != ENOENT || !slash || slash == buf)
			return fd >= 0 ? fd : -errno;
	}
}

/*
 * Takes the exclusive lock of the pin directory, creating the directory
 * when create is set.  While the directory does not exist the lock is on its
 * nearest existing parent, held until the directory exists and is locked,
 * so a run that finds the directory and one that creates it still take
 * turns.  A directory removed while we waited (the last --detach) is
 * noticed and the lock taken again.  Returns the fd holding the lock (close
 * it to unlock).
 */
int lock_pin_dir(const char *dir, bool create)
{
	char parent[PATH_MAX];
	int fd, pfd, err;

	for (int tries = 0; tries < 20; tries++) {
		fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		if (fd >= 0) {
			err = lock_wait(fd, dir);
			if (!err && still_there(fd, dir))
				return fd;
			close(fd);
			if (err)
				return err;
			continue;
		}
		if (errno != ENOENT) {
			err = -errno;
			hm_err("cannot open pin directory '%s': %s", dir, strerror(-err));
			return err;
		}
		pfd = open_parent(dir, parent, sizeof(parent));
		if (pfd < 0) {
			hm_err("cannot open a parent of pin directory '%s': %s", dir,
			       strerror(-pfd));
			return pfd;
		}
		err = lock_wait(pfd, parent);
		if (err) {
			close(pfd);
			return err;
		}
		if (!access(dir, F_OK)) {
			close(pfd);
			continue; /* created meanwhile: lock it instead */
		}
		if (!create)
			return pfd; /* nothing to create: the parent's lock serves */
		err = mkdir_p(dir, HM_DIR_MODE);
		if (!err) {
			fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
			err = fd < 0 ? -errno : 0;
		}
		if (err) {
			hm_err("cannot create pin directory '%s': %s", dir, strerror(-err));
			close(pfd);
			return err;
		}
		err = lock_wait(fd, dir);
		close(pfd);
		if (err) {
			close(fd);
			return err;
		}
		return fd;
	}
	hm_err("pin directory '%s' keeps appearing and disappearing; try again", dir);
	return -EBUSY;
}
