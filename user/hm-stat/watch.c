// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* watch.c - hm-stat --watch: the rates of each interval, redrawn like top. */
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <string.h>
#include <time.h>
#include <sys/stat.h>
#include <unistd.h>
#include "hm_common.h"
#include "stat.h"

static volatile sig_atomic_t stop_signal;

static void on_stop(int sig)
{
	stop_signal = sig;
}

static double mono_seconds(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

/*
 * Sleeps until the monotonic time deadline or a stop signal.  SIGINT and
 * SIGTERM are blocked except inside ppoll(), so a signal is never lost
 * between the check and the wait, and never cuts an output block in half.
 */
static void wait_until(double deadline, const sigset_t *waitmask)
{
	struct timespec ts;
	double left;

	while (!stop_signal) {
		left = deadline - mono_seconds();
		if (left <= 0)
			return;
		ts.tv_sec = (time_t)left;
		ts.tv_nsec = (long)((left - ts.tv_sec) * 1e9);
		ppoll(NULL, 0, &ts, waitmask);
	}
}

/* Seconds a reload may take to pin every map again before --watch gives up. */
#define WATCH_RELOAD_GRACE 3.0

/*
 * The pins changed or vanished under --watch.  A reload (hm-load after a
 * detach) pins the maps one by one, so while the pin directory exists it gets
 * WATCH_RELOAD_GRACE seconds to finish before the set counts as gone.  A
 * directory that is gone (hm-load --detach --all) is final at once.
 * 0: the maps are open again.
 */
static int watch_reopen(struct hm_maps *maps, const char *dir, char *err, size_t errlen)
{
	double until = mono_seconds() + WATCH_RELOAD_GRACE;
	struct stat st;
	int ret;

	for (;;) {
		hm_maps_close(maps);
		ret = hm_maps_open(dir, false, maps, err, errlen);
		if (!ret || ret != -ENOENT || mono_seconds() >= until || stop_signal)
			return ret;
		if (stat(dir, &st) && errno == ENOENT)
			return ret;
		usleep(100 * 1000);
	}
}

int watch(struct hm_maps *maps, const struct options *o)
{
	struct snapshot prev, cur, delta;
	struct sigaction sa = { .sa_handler = on_stop };
	sigset_t block, waitmask;
	bool tty = isatty(STDOUT_FILENO);
	double t_prev, t_cur, deadline;
	unsigned long shown = 0;
	char err[512];
	int ret;

	sigemptyset(&block);
	sigaddset(&block, SIGINT);
	sigaddset(&block, SIGTERM);
	sigprocmask(SIG_BLOCK, &block, &waitmask);
	sigdelset(&waitmask, SIGINT);
	sigdelset(&waitmask, SIGTERM);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);

	ret = read_snapshot(maps, o->read_source, o->dir, false, &prev);
	if (ret)
		return ret;
	t_prev = deadline = mono_seconds();
	while (!o->count || shown < o->count) {
		deadline += o->watch;
		wait_until(deadline, &waitmask);
		if (stop_signal)
			break;
		ret = hm_maps_check_pins(o->dir, maps);
		if (ret) {
			/* Detached, perhaps loaded again: new maps, new counters. */
			ret = watch_reopen(maps, o->dir, err, sizeof(err));
			if (ret == -ENOENT && !strstr(err, "incomplete")) {
				hm_err("the maps in %s were removed (monitor detached)", o->dir);
				break;
			}
			if (ret) {
				hm_err("%s", err);
				break;
			}
			hm_warn("the maps in %s were replaced (monitor reloaded): "
				"rates start again",
				o->dir);
			snapshot_free(&prev);
			ret = read_snapshot(maps, o->read_source, o->dir, false, &prev);
			if (ret)
				break;
			t_prev = deadline = mono_seconds();
			continue;
		}
		ret = read_snapshot(maps, o->read_source, o->dir, false, &cur);
		if (ret)
			break;
		t_cur = mono_seconds();
		ret = snapshot_delta(&delta, &cur, &prev, t_cur - t_prev);
		snapshot_free(&prev);
		prev = cur;
		t_prev = t_cur;
		if (ret)
			break;
		if (tty)
			fputs("\033[H\033[2J", stdout);
		else if (shown)
			fputc('\n', stdout);
		ret = print_snapshot(stdout, &delta, o);
		snapshot_free(&delta);
		if (!ret && (fflush(stdout) || ferror(stdout))) {
			hm_err("cannot write output: %s", strerror(errno));
			ret = -EIO;
		}
		if (ret)
			break;
		shown++;
	}
	snapshot_free(&prev);
	if (stop_signal)
		hm_dbg("stopped by signal %d", (int)stop_signal);
	return ret;
}
