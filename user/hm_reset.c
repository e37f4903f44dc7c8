// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* hm-reset: zero the HTTP statistics in httpmon's pinned maps. */
#include <errno.h>
#include <getopt.h>
#include <stdbool.h>
#include <unistd.h>
#include <stdlib.h>
#include <string.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
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
"latency histogram and every monitor counter starts again from zero. It is hm-stat --reset\n"
"without the output: the classifier writes one of two generations of its\n"
"maps; the reset switches it to the other, waits until no program run can\n"
"still write the old one, and clears that. Nothing counted after the\n"
"switch is lost, and no reader ever sees half an interval. Connection state\n"
"is kept: requests in flight get their responses and latency counted in the\n"
"new interval. Route labels and host names are kept, so an id never changes\n"
"its name under a request being counted; --routes forgets them too. The\n"
"classifier stays\n"
"attached. Needs write access to the pins (normally root).\n"
"\n"
"Options:\n"
"  --routes        also forget the route labels and host names seen so far,\n"
"                  so the route and host limits count afresh (after hm-load\n"
"                  changed the grouping). Responses to requests in flight\n"
"                  then count under _unknown\n"
"  --pin-path DIR  reset the maps pinned in DIR instead of $HTTPMON_PIN_PATH\n"
"                  or, when that is unset, " HM_PIN_DIR_DEFAULT "\n"
"  -v, --verbose   report what was cleared; twice: also debug messages\n"
"  -h, --help      show this help\n"
"  --version       show the version and the map layout it handles\n"
"\n"
"Exit status:\n"
"  %d  success\n"
"  %d  clearing a map failed\n"
"  %d  bad command line\n"
"  %d  no httpmon maps in the pin directory (monitor not loaded)\n"
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
		HM_EXIT_OK, HM_EXIT_FAIL, HM_EXIT_USAGE, HM_EXIT_NOMAPS,
		HM_EXIT_LAYOUT, HM_EXIT_PERM);
}

/* Deletes every key of an id map; -errno on failure. */
static int empty_ids(int fd, void *key)
{
	while (!bpf_map_get_next_key(fd, NULL, key))
		if (bpf_map_delete_elem(fd, key) && errno != ENOENT)
			return -errno;
	return 0;
}

/*
 * --routes: the route labels are forgotten, and with them the host names and
 * the (host, route) pairs, whose ids name routes (the id maps emptied, their
 * counters back to 0), under a new route_epoch, so the classifier no longer
 * trusts the ids it keeps for requests in flight.  The ids are emptied again
 * after the counters are reset: a name the classifier gave an id in between
 * got it from the old count, which the new count would hand out again.
 */
static int forget_routes(const struct hm_maps *maps)
{
	static const __u32 slots[] = { HM_SEQ_ROUTES, HM_SEQ_HOSTS, HM_SEQ_HOST_ROUTES };
	struct hm_route_key rkey;
	struct hm_host_key hkey;
	struct hm_host_route_key hrkey;
	struct hm_config *cfg = calloc(1, sizeof(*cfg));
	__u32 zero = 0;
	int ret = 0, pass;

	if (!cfg)
		return -ENOMEM;
	if (bpf_map_lookup_elem(maps->config, &zero, cfg)) {
		ret = -errno;
		goto out;
	}
	cfg->route_epoch++;
	if (bpf_map_update_elem(maps->config, &zero, cfg, BPF_EXIST)) {
		ret = -errno;
		goto out;
	}
	for (pass = 0; pass < 2 && !ret; pass++) {
		ret = empty_ids(maps->route_ids, &rkey);
		if (!ret)
			ret = empty_ids(maps->host_ids, &hkey);
		if (!ret)
			ret = empty_ids(maps->hr_ids, &hrkey);
		for (size_t i = 0; !ret && !pass && i < sizeof(slots) / sizeof(slots[0]); i++)
			if (bpf_map_update_elem(maps->seq, &slots[i], &zero, BPF_EXIST))
				ret = -errno;
	}
out:
	if (ret)
		hm_err("cannot forget the route labels and host names: %s", strerror(-ret));
	free(cfg);
	return ret;
}

/* Retires the interval so far and clears it: hm-stat --reset without the output. */
static int reset(const struct hm_maps *maps, const char *dir, bool routes)
{
	int lock, gen, ret;

	lock = hm_pin_lock(dir);
	if (lock < 0)
		return lock;
	/* What an interrupted reset left behind, then the interval so far. */
	gen = hm_gen_live(maps);
	ret = gen < 0 ? gen : hm_gen_clear(maps, gen ^ 1);
	if (!ret)
		ret = gen = hm_gen_retire(maps);
	if (ret >= 0)
		ret = hm_gen_clear(maps, gen);
	if (!ret && routes)
		ret = forget_routes(maps);
	close(lock);
	if (ret == -ENOMEM)
		hm_err("out of memory");
	return ret;
}

static int parse_args(int argc, char **argv, const char **pin_dir, bool *routes)
{
	enum { OPT_PIN = 256, OPT_VERSION, OPT_ROUTES };
	static const struct option longopts[] = {
		{ "pin-path", required_argument, NULL, OPT_PIN },
		{ "routes", no_argument, NULL, OPT_ROUTES },
		{ "verbose", no_argument, NULL, 'v' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, OPT_VERSION },
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
		case 'v':
			if (hm_log_max < HM_LOG_DEBUG)
				hm_log_max++;
			break;
		case 'h':
			usage(stdout);
			exit(HM_EXIT_OK);
		case OPT_VERSION:
			printf("hm-reset %s (map layout %d)\n", HM_VERSION,
			       HM_LAYOUT_VERSION);
			exit(HM_EXIT_OK);
		case ':':
		default:
			return hm_getopt_error(opt, argv, longopts);
		}
	}
	if (optind < argc)
		return hm_usage_error("unexpected argument '%s'", argv[optind]);
	*pin_dir = hm_pin_dir(*pin_dir);
	return 0;
}

int main(int argc, char **argv)
{
	const char *pin_dir = NULL;
	struct hm_maps maps;
	bool routes = false;
	char err[512];
	int ret;

	hm_prog_name = "hm-reset";
	ret = parse_args(argc, argv, &pin_dir, &routes);
	if (ret)
		return ret;
	hm_libbpf_logging();

	ret = hm_maps_open(pin_dir, true, &maps, err, sizeof(err));
	if (ret) {
		hm_err("%s", err);
		return hm_exit_code(ret);
	}
	ret = reset(&maps, pin_dir, routes);
	hm_maps_close(&maps);
	if (ret)
		return hm_exit_code(ret);
	hm_info("counters in %s reset", pin_dir);
	return HM_EXIT_OK;
}
