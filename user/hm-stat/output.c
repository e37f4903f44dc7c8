// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* output.c - --output FILE: a temporary file next to it, renamed over it when complete. */
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>
#include "hm_common.h"
#include "stat.h"

int output_open(struct output *out, const char *path)
{
	char *copy, *dir, *base;
	int fd, ret;

	memset(out, 0, sizeof(*out));
	if (!path) {
		out->f = stdout;
		return 0;
	}
	out->path = path;
	copy = strdup(path);
	base = strdup(path);
	if (!copy || !base) {
		free(copy);
		free(base);
		hm_err("out of memory");
		return -ENOMEM;
	}
	dir = dirname(copy);
	/* A dot name: a collector that reads *.prom never picks it up. */
	if (asprintf(&out->tmp, "%s/.%s.XXXXXX", dir, basename(base)) < 0)
		out->tmp = NULL;
	free(copy);
	free(base);
	if (!out->tmp) {
		hm_err("out of memory");
		return -ENOMEM;
	}
	fd = mkstemp(out->tmp);
	if (fd < 0) {
		ret = -errno;
		hm_err("cannot create a temporary file for %s: %s", path, strerror(-ret));
		goto fail;
	}
	if (fchmod(fd, 0644)) {
		ret = -errno;
		hm_err("cannot set the mode of %s: %s", out->tmp, strerror(-ret));
		close(fd);
		unlink(out->tmp);
		goto fail;
	}
	out->f = fdopen(fd, "w");
	if (!out->f) {
		ret = -errno;
		hm_err("cannot write %s: %s", out->tmp, strerror(-ret));
		close(fd);
		unlink(out->tmp);
		goto fail;
	}
	return 0;
fail:
	free(out->tmp);
	out->tmp = NULL;
	return ret;
}

/* Completes the output (ok) or throws the temporary file away. */
int output_close(struct output *out, bool ok)
{
	int ret = 0, dfd;
	char *copy;

	if (!out->tmp) {
		if (ok && (fflush(stdout) || ferror(stdout))) {
			hm_err("cannot write output: %s", strerror(errno));
			return -EIO;
		}
		return 0;
	}
	if (ok && (fflush(out->f) || ferror(out->f) || fsync(fileno(out->f)))) {
		ret = -errno ? -errno : -EIO;
		hm_err("cannot write %s: %s", out->tmp, strerror(-ret));
	}
	if (fclose(out->f) && ok && !ret) {
		ret = -errno;
		hm_err("cannot write %s: %s", out->tmp, strerror(-ret));
	}
	if (ok && !ret && rename(out->tmp, out->path)) {
		ret = -errno;
		hm_err("cannot rename %s to %s: %s", out->tmp, out->path, strerror(-ret));
	}
	if (!ok || ret) {
		unlink(out->tmp);
	} else {
		/* The rename itself survives a crash once the directory is synced. */
		copy = strdup(out->path);
		dfd = copy ? open(dirname(copy), O_RDONLY | O_DIRECTORY) : -1;
		if (dfd >= 0) {
			fsync(dfd);
			close(dfd);
		}
		free(copy);
	}
	free(out->tmp);
	out->tmp = NULL;
	return ret;
}
