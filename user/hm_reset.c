// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* hm-reset: zero the HTTP statistics in httpmon's pinned maps. */
#include <errno.h>
#include <getopt.h>
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
"Usage: hm-reset [--pin-path DIR] [-v]\n"
"       hm-reset --help | --version\n"
"\n"
"Removes every row of the per-client, per-port, per-port-and-client and\n"
"per-interface maps and the per-port and per-route latency histograms,\n"
"forgets the route labels seen so far (so the route limit counts afresh),\n"
"and zeroes the route rows, the overflow rows, the total latency histograms\n"
"and the monitor counters, on every CPU. Rows are removed rather than\n"
"zeroed, so readers show no rows until traffic comes again. Connection state\n"
"is kept: requests in flight when the counters are reset get their\n"
"responses and latency counted afterwards. The classifier stays attached.\n"
"Needs write access to the pins (normally root).\n"
"\n"
"Options:\n"
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
"  hm-stat && hm-reset        print the counters, then clear them (requests\n"
"                             counted in between are lost: hm-stat --reset\n"
"                             reads and clears in one step)\n"
"  0 * * * * root hm-stat >>/var/log/httpmon.log && hm-reset\n"
"                             crontab line: hourly figures\n",
		HM_EXIT_OK, HM_EXIT_FAIL, HM_EXIT_USAGE, HM_EXIT_NOMAPS,
		HM_EXIT_LAYOUT, HM_EXIT_PERM);
}

static int map_info(int fd, struct bpf_map_info *info)
{
	__u32 len = sizeof(*info);

	memset(info, 0, sizeof(*info));
	if (bpf_obj_get_info_by_fd(fd, info, &len))
		return -errno;
	return 0;
}

/* Deleting the first key until none is left survives concurrent inserts. */
static int clear_hash(int fd, const char *name)
{
	struct bpf_map_info info;
	__u64 removed = 0, limit;
	void *key;
	int ret;

	ret = map_info(fd, &info);
	if (ret)
		goto out;
	key = calloc(1, info.key_size);
	if (!key)
		return -ENOMEM;
	limit = 2ULL * info.max_entries;
	while (removed < limit && bpf_map_get_next_key(fd, NULL, key) == 0) {
		if (bpf_map_delete_elem(fd, key) && errno != ENOENT) {
			ret = -errno;
			break;
		}
		removed++;
	}
	if (!ret && removed < limit && errno != ENOENT)
		ret = -errno;
	free(key);
	if (!ret)
		hm_info("%s: %llu rows removed", name,
			(unsigned long long)removed);
out:
	if (ret)
		hm_err("cannot clear map %s: %s", name, strerror(-ret));
	return ret;
}

static int zero_percpu_array(int fd, const char *name, int ncpus)
{
	struct bpf_map_info info;
	__u32 key;
	void *zero;
	int ret;

	ret = map_info(fd, &info);
	if (ret)
		goto out;
	zero = calloc(ncpus, (info.value_size + 7) & ~7U);
	if (!zero)
		return -ENOMEM;
	for (key = 0; key < info.max_entries; key++) {
		if (bpf_map_update_elem(fd, &key, zero, BPF_EXIST)) {
			ret = -errno;
			break;
		}
	}
	free(zero);
	if (!ret)
		hm_info("%s: %u entries zeroed", name, info.max_entries);
out:
	if (ret)
		hm_err("cannot zero map %s: %s", name, strerror(-ret));
	return ret;
}

/*
 * Routes: the labels are forgotten (hm_route_ids emptied, hm_route_seq back
 * to 0) before their rows are zeroed.  The ids are emptied again after the
 * counter is reset: a label the classifier named in between got an id from
 * the old count, which the new count would hand out again.
 */
static int clear_routes(struct hm_maps *maps, int ncpus)
{
	__u32 key = 0, zero = 0;
	int ret;

	ret = clear_hash(maps->route_ids, HM_MAP_ROUTE_IDS);
	if (!ret && bpf_map_update_elem(maps->route_seq, &key, &zero, BPF_EXIST)) {
		ret = -errno;
		hm_err("cannot zero map %s: %s", HM_MAP_ROUTE_SEQ, strerror(-ret));
	}
	if (!ret)
		ret = clear_hash(maps->route_ids, HM_MAP_ROUTE_IDS);
	if (!ret)
		ret = zero_percpu_array(maps->routes, HM_MAP_ROUTES, ncpus);
	if (!ret)
		ret = clear_hash(maps->hist_routes, HM_MAP_HIST_ROUTES);
	return ret;
}

static int reset(struct hm_maps *maps)
{
	int ncpus, ret;

	ncpus = libbpf_num_possible_cpus();
	if (ncpus <= 0) {
		hm_err("cannot count the possible CPUs: %s", strerror(-ncpus));
		return ncpus ? ncpus : -EINVAL;
	}
	ret = clear_hash(maps->clients, HM_MAP_CLIENTS);
	if (!ret)
		ret = clear_hash(maps->ports, HM_MAP_PORTS);
	if (!ret)
		ret = clear_hash(maps->port_clients, HM_MAP_PORT_CLIENTS);
	if (!ret)
		ret = zero_percpu_array(maps->overflow, HM_MAP_OVERFLOW, ncpus);
	if (!ret)
		ret = clear_hash(maps->ifaces, HM_MAP_IFACES);
	if (!ret)
		ret = clear_routes(maps, ncpus);
	if (!ret)
		ret = clear_hash(maps->hist_ports, HM_MAP_HIST_PORTS);
	if (!ret)
		ret = zero_percpu_array(maps->hist, HM_MAP_HIST, ncpus);
	if (!ret)
		ret = zero_percpu_array(maps->monitor, HM_MAP_MONITOR, ncpus);
	if (ret == -ENOMEM)
		hm_err("out of memory");
	return ret;
}

static int parse_args(int argc, char **argv, const char **pin_dir)
{
	enum { OPT_PIN = 256, OPT_VERSION };
	static const struct option longopts[] = {
		{ "pin-path", required_argument, NULL, OPT_PIN },
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
	char err[512];
	int ret;

	hm_prog_name = "hm-reset";
	ret = parse_args(argc, argv, &pin_dir);
	if (ret)
		return ret;
	hm_libbpf_logging();

	ret = hm_maps_open(pin_dir, true, &maps, err, sizeof(err));
	if (ret) {
		hm_err("%s", err);
		return hm_exit_code(ret);
	}
	ret = reset(&maps);
	hm_maps_close(&maps);
	if (ret)
		return hm_exit_code(ret);
	hm_info("counters in %s reset", pin_dir);
	return HM_EXIT_OK;
}
