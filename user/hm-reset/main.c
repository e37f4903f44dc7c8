// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* hm-reset: zero the HTTP statistics in httpmon's pinned maps. */
#include <errno.h>
#include <getopt.h>
#include <stdbool.h>
#include <unistd.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include "hm_common.h"
#include "hm_pin.h"

static void usage(FILE *f)
{
	fprintf(f,
		"hm-reset - zero the HTTP statistics collected by the httpmon classifier\n"
		"\n"
		"Usage: hm-reset [--routes] [--pin-path DIR] [-v]\n"
		"       hm-reset --help | --version\n"
		"\n"
		"Starts a new interval and discards the one that ends: every row (client,\n"
		"port, port and client, interface, route, host, host and route), every\n"
		"latency histogram and every monitor counter starts again from zero. It is\n"
		"hm-stat --reset without the output: the classifier writes one of two\n"
		"generations of its maps; the reset switches it to the other, waits until\n"
		"no program run can still write the old one, and clears that. Nothing\n"
		"counted after the switch is lost, and no reader ever sees half an\n"
		"interval. Connection state is kept: requests in flight get their responses\n"
		"and latency counted in the new interval. Route labels and host names are\n"
		"kept, so an id never changes its name under a request being counted;\n"
		"--routes forgets them too. The classifier stays attached. Needs write\n"
		"access to the pins (normally root).\n"
		"\n"
		"When the socket source is loaded (hm-load --sockets), its map set in the\n"
		"subdirectory " HM_SOCK_SUBDIR "/ of the pin directory is reset too, after the\n"
		"packet set, each under its own lock and with its own generations; its\n"
		"process rows are cleared with their names. A pin directory that holds only\n"
		"the socket set is reset without complaint.\n"
		"\n"
		"Options:\n"
		"  --routes        also forget the route labels and host names seen so far,\n"
		"                  so the route and host limits count afresh (after hm-load\n"
		"                  changed the grouping). Responses to requests in flight\n"
		"                  then count under _unknown\n"
		"  --pin-path DIR  reset the maps pinned in DIR, and in DIR/" HM_SOCK_SUBDIR "\n"
		"                  when there, instead of $HTTPMON_PIN_PATH or, when that\n"
		"                  is unset, " HM_PIN_DIR_DEFAULT "\n"
		"  -v, --verbose   report what was cleared; twice: also debug messages\n"
		"  -h, --help      show this help\n"
		"  --version       show the version and the map layout it handles\n"
		"\n"
		"Exit status:\n"
		"  %d  success\n"
		"  %d  clearing a map failed\n"
		"  %d  bad command line\n"
		"  %d  no httpmon maps in the pin directory, neither the packet source's\n"
		"     nor the socket source's (monitor not loaded)\n"
		"  %d  the maps have another layout version (use tools of the same release),\n"
		"     or what is pinned under an httpmon map name is not httpmon's map\n"
		"  %d  permission denied on the pins: clearing needs root (or write access\n"
		"     to the pins; a group that hm-load --group named may only read them)\n"
		"\n"
		"Environment:\n"
		"  HTTPMON_PIN_PATH  pin directory when --pin-path is not given\n"
		"\n"
		"Examples:\n"
		"  hm-reset                   start counting afresh\n"
		"  hm-stat --reset            print the interval that ends, then start anew\n"
		"                             (the same mechanism, with the output)\n"
		"  0 * * * * root hm-stat >>/var/log/httpmon.log && hm-reset\n"
		"                             crontab line: hourly figures\n",
		HM_EXIT_OK, HM_EXIT_FAIL, HM_EXIT_USAGE, HM_EXIT_NOMAPS, HM_EXIT_LAYOUT,
		HM_EXIT_PERM);
}

static int parse_args(int argc, char **argv, const char **pin_dir, bool *routes)
{
	enum { OPT_PIN = 256, OPT_ROUTES };
	static const struct option longopts[] = {
		{ "pin-path", required_argument, NULL, OPT_PIN },
		{ "routes", no_argument, NULL, OPT_ROUTES },
		HM_COMMON_LONGOPTS,
		{ 0 },
	};
	int opt;

	opterr = 0;
	while ((opt = getopt_long(argc, argv, ":vh", longopts, NULL)) != -1) {
		switch (opt) {
		case OPT_PIN:
			*pin_dir = optarg;
			break;
		case OPT_ROUTES:
			*routes = true;
			break;
		default:
			opt = hm_common_option(opt, argv, longopts, usage);
			if (opt)
				return opt;
			break;
		}
	}
	if (optind < argc)
		return hm_usage_error("unexpected argument '%s'", argv[optind]);
	*pin_dir = hm_pin_dir(*pin_dir);
	return 0;
}

/* Is there a map set in dir at all (its hm_config pin), complete or not? */
static bool set_exists(const char *dir)
{
	char path[4096];
	struct stat st;

	return !hm_pin_path(path, sizeof(path), dir, HM_MAP_CONFIG) &&
	       (!stat(path, &st) || errno != ENOENT);
}

/*
 * Resets the map set in dir.  1 when there is none and missing_ok (the
 * socket set, which is there only when hm-load --sockets made it), else 0
 * or a negative errno said once.
 */
static int reset_set(const char *dir, bool routes, bool missing_ok)
{
	struct hm_maps maps;
	char err[512];
	int ret;

	ret = hm_maps_open(dir, true, &maps, err, sizeof(err));
	if (ret == -ENOENT && missing_ok && !set_exists(dir))
		return 1;
	if (ret) {
		hm_err("%s", err);
		return ret;
	}
	ret = hm_reset(&maps, dir, routes ? HM_RESET_NAMES : 0, NULL, NULL);
	hm_maps_close(&maps);
	if (ret == -ENOMEM)
		hm_err("out of memory");
	if (!ret)
		hm_info("counters in %s reset", dir);
	return ret;
}

int main(int argc, char **argv)
{
	const char *pin_dir = NULL;
	char sock_dir[4096];
	bool routes = false;
	int ret, sock;

	hm_prog_name = "hm-reset";
	ret = parse_args(argc, argv, &pin_dir, &routes);
	if (ret)
		return ret;
	hm_libbpf_logging();
	if (hm_sock_dir(sock_dir, sizeof(sock_dir), pin_dir))
		return hm_usage_error("--pin-path: name too long");

	/* The packet set, then the socket set: each under its own lock and generations. */
	ret = reset_set(pin_dir, routes, set_exists(sock_dir));
	if (ret < 0)
		return hm_exit_code(ret);
	sock = reset_set(sock_dir, routes, true);
	return sock < 0 ? hm_exit_code(sock) : HM_EXIT_OK;
}
