// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * hm-load - attach the httpmon classifier to an interface and exit; detach
 * it; say what is attached where.
 *
 * Ingress is counted by a tc filter on clsact ingress or, with --xdp, by an
 * XDP program in libxdp's dispatcher; egress always by a tc filter.  They
 * stay attached through the filters and the dispatcher's pins, the maps stay
 * pinned, so monitoring goes on with no process running.  Every run that
 * changes the pin directory holds an exclusive flock on it (lock_pin_dir()),
 * so concurrent runs take turns.
 */
#include <errno.h>
#include <getopt.h>
#include <grp.h>
#include <net/if.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <linux/magic.h>
#include <sys/stat.h>
#include <sys/statfs.h>

#include "hm_common.h"
#include "hm_pin.h"
#include "hm_route.h"
#include "load.h"
#include "xdp.h"

static const char usage_fmt[] =
	"Usage: hm-load [OPTIONS] [--xdp[=MODE]] IFACE\n"
	"       hm-load --sockets [--clients] [--cgroup PATH] [OPTIONS]\n"
	"       hm-load --detach [--pin-path DIR] IFACE | --detach --all\n"
	"       hm-load --detach --sockets [--pin-path DIR]\n"
	"       hm-load --status [--json] [--pin-path DIR]\n"
	"\n"
	"Attach the httpmon HTTP/1.x monitor to IFACE (clsact ingress and egress,\n"
	"or XDP ingress and clsact egress), pin its maps and exit.  Monitoring goes\n"
	"on with no process running; read it with hm-stat, clear it with hm-reset.\n"
	"Loading on more interfaces shares one set of maps (hm-stat --by iface\n"
	"splits it); hm-load warns when they overlap (a bridge and one of its\n"
	"ports).  A map set serves one network namespace, the one that loaded it\n"
	"first: interface indexes are per namespace.  Loading again on the same\n"
	"interface replaces the programs, so nothing is counted twice.  Runs that\n"
	"change one pin directory take turns (a lock on the directory).\n"
	"\n"
	"With --sockets, httpmon counts HTTP where processes read and write it\n"
	"instead: tracepoints on the kernel's socket send and receive, which read\n"
	"the calls' buffers (no interface to choose; loopback and\n"
	"every network namespace of the host included), on a map set of its own\n"
	"in DIR/" HM_SOCK_SUBDIR " with the programs' links pinned there.  It counts the\n"
	"server's side of each exchange, per process and cgroup as well as per\n"
	"client, port, route and host (hm-stat reads either source), and its\n"
	"latency is the server's own time: from the read that returned a\n"
	"request's first byte to the write that moved its response's first byte.\n"
	"The\n"
	"settings options below apply to the map set of the run (the packet set,\n"
	"or with --sockets the socket set).\n"
	"\n"
	"Options:\n"
	"      --sockets          load the socket source (see above); again: update\n"
	"                         its settings and scope\n"
	"      --clients          with --sockets: count the clients' side too, in a\n"
	"                         set of its own (DIR/" HM_SOCK_CLIENT_SUBDIR "): the requests\n"
	"                         processes send, per process, server port and\n"
	"                         route, timed from the write of a request to the\n"
	"                         read of its response.  Each --sockets run sets\n"
	"                         it anew\n"
	"      --cgroup PATH      with --sockets: count only the processes in the\n"
	"                         cgroup v2 directory PATH and below it (a container's\n"
	"                         or a systemd service's); without it: every process.\n"
	"                         Each --sockets run sets the scope anew\n"
	"      --xdp[=MODE]       count ingress with an XDP program instead of tc\n"
	"                         ingress, attached through libxdp's dispatcher so\n"
	"                         other XDP programs keep running (xdp-loader status\n"
	"                         lists it); egress stays on tc.  MODE is native (the\n"
	"                         default; generic when the driver has no XDP) or\n"
	"                         generic.  For a physical NIC's ingress: on a veth,\n"
	"                         XDP turns off GRO and costs bulk throughput\n"
	"  -p, --ports LIST       watch only these TCP ports: a comma-separated list\n"
	"                         of ports (1-65535) and ranges A-B, e.g.\n"
	"                         80,8080-8089; the filter is a pinned map and applies\n"
	"                         at once to every interface sharing the maps\n"
	"      --all-ports        watch every TCP port (clears a --ports filter)\n"
	"                         (without either option the filter is left as is;\n"
	"                         a new map set watches every port)\n"
	"  -r, --group-by SPEC    how requests are grouped into routes (live):\n"
	"                         path[:DEPTH]  the first DEPTH path segments (default\n"
	"                                       2), ids (digits, UUIDs, long hex) as {id}\n"
	"                         query:NAME    the value of query parameter NAME, or\n"
	"                                       _unspecified when it is absent\n"
	"                         none          one route per method (_all)\n"
	"      --route PATTERN    a route of your own, matched before --group-by, e.g.\n"
	"                         '/api/users/{id}' or 'POST /api/orders'; {NAME}\n"
	"                         matches one segment; repeatable (at most %d with\n"
	"                         --route-prefix); replaces the patterns loaded before\n"
	"      --route-prefix P   a route for every path that starts with P (e.g.\n"
	"                         /static); repeatable\n"
	"      --clear-routes     remove all --route/--route-prefix patterns\n"
	"      --max-routes N     routes to name (1-%d, default %d), besides _other\n"
	"                         and _unknown; later new routes count as _other\n"
	"      --idle-timeout SECONDS\n"
	"                         free the state of a connection that carried no\n"
	"                         packet for SECONDS (1-%d; 0: the default, %d) and\n"
	"                         count its pending requests as unanswered (live)\n"
	"      --no-hosts         do not read Host headers: no rows per host or per\n"
	"                         host and route, and the cost of them saved (live)\n"
	"      --hosts            read them again (the default)\n"
	"      --client-prefix N  count IPv4 clients per /N network (1-32)\n"
	"      --client-prefix6 N\n"
	"                         count IPv6 clients per /N network (1-128)\n"
	"                         (0 for either: per address again)\n"
	"  -d, --detach           remove httpmon's filters and XDP program from IFACE\n"
	"                         (other programs keep running); the clsact qdisc too\n"
	"                         if hm-load created it and it is now empty; and the\n"
	"                         pinned maps once no httpmon program uses them\n"
	"      --sockets          with --detach, instead of IFACE: detach the socket\n"
	"                         source's programs and unpin its maps\n"
	"      --all              with --detach, instead of IFACE: every interface of\n"
	"                         this network namespace, then unpin the maps (the\n"
	"                         socket source's too) and remove what hm-load\n"
	"                         created in bpffs\n"
	"      --status           what is attached where (tc, XDP mode, program ids),\n"
	"                         the pin directory and how full each map is\n"
	"      --json             --status as JSON\n"
	"  -P, --pin-path DIR     where the maps are pinned (default: $HTTPMON_PIN_PATH\n"
	"                         or " HM_PIN_DIR_DEFAULT ", where tc pins them)\n"
	"  -g, --group GROUP      let the members of GROUP (a name or a numeric gid)\n"
	"                         read the maps, to run hm-stat without root: the pin\n"
	"                         directory becomes root:GROUP mode 0750, the map pins\n"
	"                         root:GROUP 0640.  Without it a new map set is root's\n"
	"                         alone (0700 and 0600) and a later load leaves the\n"
	"                         modes as they are; --group root makes them root's\n"
	"                         alone again.  Warns when a parent directory keeps\n"
	"                         the group out (--reader-group is its older name)\n"
	"  -v, --verbose          more messages (twice: libbpf's and libxdp's too)\n"
	"  -V, --version          print the version and the map layout version\n"
	"  -h, --help             this text\n"
	"\n"
	"Exit status:\n"
	"  0  success; --detach IFACE also when IFACE is gone but hm-load recorded it\n"
	"     (deleted, and httpmon's programs with it): the record is dropped\n"
	"  1  the kernel refused (the message says why), or another hm-load held the\n"
	"     lock on the pin directory for 60 seconds\n"
	"  2  bad command line, no such group for --group, or --cgroup is not a\n"
	"     cgroup v2 directory\n"
	"  3  --detach: nothing of httpmon on IFACE (--all: anywhere; --sockets:\n"
	"     the socket source is not loaded); --status: nothing loaded\n"
	"  4  the pin directory holds maps of another layout version (nothing is\n"
	"     loaded on them: hm-load --detach --all removes them), or something\n"
	"     that is not httpmon's map under an httpmon map name (a directory, a\n"
	"     map of another type or size)\n"
	"  5  permission denied: not run as root (hm-load needs CAP_BPF and\n"
	"     CAP_NET_ADMIN)\n"
	"  6  no such interface in this network namespace\n"
	"  7  the maps in the pin directory serve another network namespace, which\n"
	"     still exists: run hm-load there, or use another --pin-path\n"
	"\n"
	"Environment:\n"
	"  HTTPMON_PIN_PATH  pin directory when --pin-path is not given\n"
	"  LIBXDP_BPFFS      where libxdp keeps its dispatcher pins (default\n"
	"                    /sys/fs/bpf; they go in its xdp/ directory)\n"
	"\n"
	"Examples:\n"
	"  hm-load br-2b4e89c112d8            monitor a docker bridge\n"
	"  hm-load --xdp eth0                 a physical NIC: ingress through XDP\n"
	"  hm-load br-one && hm-load br-two   two bridges, one set of maps\n"
	"  hm-load --ports 8080,8888 eth0     only two services on eth0\n"
	"  hm-load --ports 8000-8099 eth0     a range of ports\n"
	"  hm-load --group adm eth0           let group adm run hm-stat\n"
	"  hm-load --group-by query:s eth0    routes by the value of ?s=\n"
	"  hm-load --route '/api/users/{id}' --route-prefix /static eth0\n"
	"                                     operator-chosen route labels\n"
	"  hm-load --client-prefix 24 eth0    clients per /24 network\n"
	"  hm-load --sockets                  every process's HTTP, at its sockets\n"
	"  hm-load --sockets --clients        and what they ask of other servers\n"
	"  hm-load --sockets --cgroup /sys/fs/cgroup/system.slice/nginx.service\n"
	"                                     one service's (or container's)\n"
	"  hm-load --detach --sockets         stop counting at the sockets\n"
	"  hm-load --status                   what is attached where\n"
	"  hm-load --detach br-2b4e89c112d8   stop monitoring it\n"
	"  hm-load --detach --all             remove httpmon everywhere\n"
	"\n"
	"The same object also loads with iproute2 alone:\n"
	"  tc qdisc add dev IFACE clsact\n"
	"  tc filter add dev IFACE ingress bpf da obj " HM_OBJ_DIR "/httpmon.o sec tc/ingress\n"
	"  tc filter add dev IFACE egress bpf da obj " HM_OBJ_DIR "/httpmon.o sec tc/egress\n";

/* One element of --ports: a port or a range A-B, 1-65535; false on anything else. */
static bool parse_port_range(const char *elem, size_t len, unsigned long *lo, unsigned long *hi)
{
	char buf[16];
	char *dash;

	if (len >= sizeof(buf))
		return false;
	memcpy(buf, elem, len);
	buf[len] = '\0';
	dash = strchr(buf, '-');
	if (dash)
		*dash = '\0';
	if (!hm_parse_ulong(buf, 1, 65535, lo))
		return false;
	if (!dash) {
		*hi = *lo;
		return true;
	}
	return hm_parse_ulong(dash + 1, 1, 65535, hi) && *hi >= *lo;
}

/*
 * --ports LIST: comma-separated ports and ranges (80,8080-8090).  Every
 * element must be one, so "80," or "1,,2" are errors rather than a filter
 * narrower than asked for.
 */
static int parse_ports(const char *list, struct load_opts *o)
{
	const char *elem = list;
	unsigned long lo, hi;
	size_t len;

	if (!*list)
		return hm_usage_error("--ports needs at least one port");
	for (;;) {
		len = strcspn(elem, ",");
		if (!len)
			return hm_usage_error("empty element in --ports '%s' (ports 1-65535 or "
					      "ranges A-B, comma-separated)",
					      list);
		if (!parse_port_range(elem, len, &lo, &hi))
			return hm_usage_error("invalid element '%.*s' in --ports '%s' (ports "
					      "1-65535 or ranges A-B with A <= B, "
					      "comma-separated)",
					      (int)len, elem, list);
		for (unsigned long port = lo; port <= hi; port++)
			o->ports[port / 64] |= 1ULL << (port % 64);
		if (!elem[len])
			break;
		elem += len + 1;
	}
	o->set_ports = true;
	return 0;
}

/* A group name or a numeric gid; a name that is not in the group database is a usage error. */
static int parse_group(const char *arg, gid_t *gid)
{
	struct group *gr;
	unsigned long num;

	if (hm_parse_ulong(arg, 0, (gid_t)-2, &num)) {
		*gid = num;
		return 0;
	}
	gr = getgrnam(arg);
	if (!gr)
		return hm_usage_error("no such group '%s' in --group (a group name or a "
				      "numeric gid)",
				      arg);
	*gid = gr->gr_gid;
	return 0;
}

static void usage(FILE *f)
{
	fprintf(f, usage_fmt, HM_MAX_PATTERNS, HM_MAX_ROUTES - HM_ROUTE_FIRST,
		HM_MAX_ROUTES - HM_ROUTE_FIRST, HM_IDLE_TIMEOUT_MAX, HM_IDLE_TIMEOUT_DEFAULT);
}

/*
 * hm-load's options, one row each: the getopt tables are made from it, and
 * the modes row says in which modes the option may be given.  An option
 * that changes the map set's settings goes with attaching only.
 */
enum opt_id {
	OPT_XDP = 256,
	OPT_PORTS,
	OPT_ALL_PORTS,
	OPT_GROUP_BY,
	OPT_ROUTE,
	OPT_ROUTE_PREFIX,
	OPT_CLEAR_ROUTES,
	OPT_MAX_ROUTES,
	OPT_IDLE,
	OPT_HOSTS,
	OPT_NO_HOSTS,
	OPT_PREFIX4,
	OPT_PREFIX6,
	OPT_GROUP,
	OPT_DETACH,
	OPT_ALL,
	OPT_STATUS,
	OPT_JSON,
	OPT_PIN,
	OPT_SOCKETS,
	OPT_CGROUP,
	OPT_CLIENTS,
};

#define M(mode) (1U << (mode))
#define ANY_MODE                                                                                   \
	(M(MODE_ATTACH) | M(MODE_DETACH) | M(MODE_DETACH_ALL) | M(MODE_STATUS) | M(MODE_SOCKETS) | \
	 M(MODE_DETACH_SOCKETS))
/* Settings of a map set: the packet set's (IFACE) or the socket set's (--sockets). */
#define SET_MODES (M(MODE_ATTACH) | M(MODE_SOCKETS))

static const struct load_option {
	const char *name;
	int has_arg;
	char letter; /* short form, 0: none */
	enum opt_id id;
	unsigned int modes; /* the modes it goes with */
	const char *goes_with; /* its own complaint in another mode; NULL: the mode's */
} load_options[] = {
	{ "xdp", optional_argument, 0, OPT_XDP, M(MODE_ATTACH), NULL },
	{ "ports", required_argument, 'p', OPT_PORTS, SET_MODES, NULL },
	{ "group-by", required_argument, 'r', OPT_GROUP_BY, SET_MODES, NULL },
	{ "route", required_argument, 0, OPT_ROUTE, SET_MODES, NULL },
	{ "route-prefix", required_argument, 0, OPT_ROUTE_PREFIX, SET_MODES, NULL },
	{ "clear-routes", no_argument, 0, OPT_CLEAR_ROUTES, SET_MODES, NULL },
	{ "max-routes", required_argument, 0, OPT_MAX_ROUTES, SET_MODES, NULL },
	{ "idle-timeout", required_argument, 0, OPT_IDLE, SET_MODES, NULL },
	{ "hosts", no_argument, 0, OPT_HOSTS, SET_MODES, NULL },
	{ "no-hosts", no_argument, 0, OPT_NO_HOSTS, SET_MODES, NULL },
	{ "client-prefix", required_argument, 0, OPT_PREFIX4, SET_MODES, NULL },
	{ "client-prefix6", required_argument, 0, OPT_PREFIX6, SET_MODES, NULL },
	{ "all-ports", no_argument, 0, OPT_ALL_PORTS, SET_MODES, NULL },
	{ "status", no_argument, 0, OPT_STATUS, M(MODE_STATUS), NULL },
	{ "json", no_argument, 0, OPT_JSON, M(MODE_STATUS), "--json goes with --status" },
	{ "detach", no_argument, 'd', OPT_DETACH,
	  M(MODE_DETACH) | M(MODE_DETACH_ALL) | M(MODE_DETACH_SOCKETS), NULL },
	{ "sockets", no_argument, 0, OPT_SOCKETS, M(MODE_SOCKETS) | M(MODE_DETACH_SOCKETS), NULL },
	{ "cgroup", required_argument, 0, OPT_CGROUP, M(MODE_SOCKETS),
	  "--cgroup goes with --sockets" },
	{ "clients", no_argument, 0, OPT_CLIENTS, M(MODE_SOCKETS),
	  "--clients goes with --sockets" },
	{ "all", no_argument, 0, OPT_ALL, M(MODE_DETACH_ALL), "--all goes with --detach" },
	{ "pin-path", required_argument, 'P', OPT_PIN, ANY_MODE, NULL },
	{ "group", required_argument, 'g', OPT_GROUP, SET_MODES, NULL },
	{ "reader-group", required_argument, 0, OPT_GROUP, SET_MODES,
	  NULL }, /* --group's first name */
};
#define NOPTIONS (sizeof(load_options) / sizeof(load_options[0]))

/* What the other options may be given with, said when one is not. */
static const char *const mode_complaint[MODES] = {
	[MODE_DETACH] = "--detach takes no options but --all, --pin-path and -v",
	[MODE_DETACH_ALL] = "--detach takes no options but --all, --pin-path and -v",
	[MODE_STATUS] = "--status takes no options but --json, --pin-path and -v",
	[MODE_SOCKETS] =
		"--sockets takes the settings options, --cgroup, --clients, --pin-path and "
		"--group, not --xdp",
	[MODE_DETACH_SOCKETS] = "--detach --sockets takes no options but --pin-path and -v",
};

/* getopt's tables from load_options: long options, and the short ones ':' first. */
static void make_getopt(struct option *longopts, char *shortopts)
{
	size_t i, n = 0;

	shortopts[n++] = ':';
	for (i = 0; i < NOPTIONS; i++) {
		const struct load_option *o = &load_options[i];

		longopts[i] = (struct option){ o->name, o->has_arg, NULL,
					       o->letter ? o->letter : (int)o->id };
		if (o->letter) {
			shortopts[n++] = o->letter;
			if (o->has_arg == required_argument)
				shortopts[n++] = ':';
		}
	}
	longopts[i] = (struct option){ "verbose", no_argument, NULL, 'v' };
	longopts[i + 1] = (struct option){ "version", no_argument, NULL, 'V' };
	longopts[i + 2] = (struct option){ "help", no_argument, NULL, 'h' };
	longopts[i + 3] = (struct option){ 0 };
	memcpy(shortopts + n, "vVh", 4);
}

static const struct load_option *option_of(int c)
{
	for (size_t i = 0; i < NOPTIONS; i++)
		if (c == load_options[i].letter || c == (int)load_options[i].id)
			return &load_options[i];
	return NULL;
}

/* One option's value into o; a usage error's exit code, or 0. */
static int take_option(enum opt_id id, const char *arg, struct load_opts *o)
{
	unsigned long num;
	char msg[256];

	switch (id) {
	case OPT_XDP:
		if (!arg || !strcmp(arg, "native"))
			o->xdp_mode = XDP_MODE_NATIVE;
		else if (!strcmp(arg, "generic") || !strcmp(arg, "skb"))
			o->xdp_mode = XDP_MODE_SKB;
		else
			return hm_usage_error("invalid --xdp mode '%s' (native or generic)", arg);
		break;
	case OPT_PORTS:
		return parse_ports(arg, o) ? HM_EXIT_USAGE : 0;
	case OPT_ALL_PORTS:
		o->all_ports = true;
		break;
	case OPT_GROUP_BY:
		if (hm_route_group_parse(arg, &o->route_cfg, msg, sizeof(msg)))
			return hm_usage_error("%s", msg);
		o->set_group_by = true;
		break;
	case OPT_ROUTE:
	case OPT_ROUTE_PREFIX:
		if (o->npatterns >= HM_MAX_PATTERNS)
			return hm_usage_error("at most %d --route/--route-prefix patterns",
					      HM_MAX_PATTERNS);
		if (hm_route_pattern_parse(arg, id == OPT_ROUTE_PREFIX, &o->patterns[o->npatterns],
					   msg, sizeof(msg)))
			return hm_usage_error("%s", msg);
		o->npatterns++;
		o->set_patterns = true;
		break;
	case OPT_CLEAR_ROUTES:
		o->set_patterns = true;
		break;
	case OPT_MAX_ROUTES:
		if (!hm_parse_ulong(arg, 1, HM_MAX_ROUTES - HM_ROUTE_FIRST, &num))
			return hm_usage_error("invalid --max-routes '%s' (1-%d)", arg,
					      HM_MAX_ROUTES - HM_ROUTE_FIRST);
		o->route_cfg.max_routes = num;
		o->set_max_routes = true;
		break;
	case OPT_IDLE:
		if (!hm_parse_ulong(arg, 0, HM_IDLE_TIMEOUT_MAX, &num))
			return hm_usage_error("invalid --idle-timeout '%s' (0-%d seconds)", arg,
					      HM_IDLE_TIMEOUT_MAX);
		o->route_cfg.idle_timeout = num;
		o->set_idle_timeout = true;
		break;
	case OPT_HOSTS:
	case OPT_NO_HOSTS:
		if (o->hosts != HOSTS_AS_IS && o->hosts != (id == OPT_HOSTS ? HOSTS_ON : HOSTS_OFF))
			return hm_usage_error("--hosts and --no-hosts contradict each other");
		o->hosts = id == OPT_HOSTS ? HOSTS_ON : HOSTS_OFF;
		break;
	case OPT_PREFIX4:
		if (!hm_parse_ulong(arg, 0, 32, &num))
			return hm_usage_error("invalid --client-prefix '%s' (0-32)", arg);
		o->route_cfg.client_prefix4 = num == 32 ? 0 : num;
		o->set_prefix4 = true;
		break;
	case OPT_PREFIX6:
		if (!hm_parse_ulong(arg, 0, 128, &num))
			return hm_usage_error("invalid --client-prefix6 '%s' (0-128)", arg);
		o->route_cfg.client_prefix6 = num == 128 ? 0 : num;
		o->set_prefix6 = true;
		break;
	case OPT_GROUP:
		if (parse_group(arg, &o->gid))
			return HM_EXIT_USAGE;
		o->group = arg;
		break;
	case OPT_PIN:
		o->pin_dir = arg;
		break;
	case OPT_CGROUP: {
		struct statfs fs;
		struct stat st;

		if (statfs(arg, &fs) || stat(arg, &st))
			return hm_usage_error("cannot use --cgroup '%s': %s", arg, strerror(errno));
		if (fs.f_type != CGROUP2_SUPER_MAGIC || !S_ISDIR(st.st_mode))
			return hm_usage_error("--cgroup '%s' is not a cgroup v2 directory (e.g. "
					      "/sys/fs/cgroup/system.slice/nginx.service)",
					      arg);
		o->cgroup = arg;
		break;
	}
	case OPT_JSON:
		o->json = true;
		break;
	case OPT_DETACH:
	case OPT_ALL:
	case OPT_STATUS:
	case OPT_SOCKETS:
		break; /* they make the mode */
	case OPT_CLIENTS:
		o->clients = true;
		break;
	}
	return 0;
}

/*
 * The mode the options ask for, and the conflict matrix: every option given
 * must go with it.  --status is checked first, then options with a
 * complaint of their own, then the rest.
 */
static int decide_mode(const bool *given, struct load_opts *o)
{
	bool detach = given[OPT_DETACH - OPT_XDP], all = given[OPT_ALL - OPT_XDP],
	     sockets = given[OPT_SOCKETS - OPT_XDP];

	if (given[OPT_STATUS - OPT_XDP])
		o->mode = MODE_STATUS;
	else if (detach && sockets && !all)
		o->mode = MODE_DETACH_SOCKETS;
	else if (detach)
		o->mode = all ? MODE_DETACH_ALL : MODE_DETACH;
	else if (sockets)
		o->mode = MODE_SOCKETS;
	else
		o->mode = MODE_ATTACH;
	for (int pass = 0; pass < 3; pass++) {
		for (size_t i = 0; i < NOPTIONS; i++) {
			const struct load_option *lo = &load_options[i];

			if (!given[lo->id - OPT_XDP] || (lo->modes & M(o->mode)))
				continue;
			if (pass == 0 && o->mode == MODE_STATUS)
				return hm_usage_error("%s", mode_complaint[MODE_STATUS]);
			if (pass == 1 && lo->goes_with)
				return hm_usage_error("%s", lo->goes_with);
			if (pass == 2)
				return hm_usage_error("%s", mode_complaint[o->mode]);
		}
	}
	if (o->set_ports && o->all_ports)
		return hm_usage_error("--ports and --all-ports exclude each other");
	return 0;
}

static int parse_args(int argc, char **argv, struct load_opts *o)
{
	struct option longopts[NOPTIONS + 4];
	char shortopts[2 * NOPTIONS + 8];
	bool given[OPT_CLIENTS - OPT_XDP + 1] = { 0 };
	const struct load_option *lo;
	int c, err;

	make_getopt(longopts, shortopts);
	opterr = 0;
	while ((c = getopt_long(argc, argv, shortopts, longopts, NULL)) != -1) {
		lo = option_of(c);
		if (!lo) {
			if (c == 'V')
				c = HM_OPT_VERSION;
			err = hm_common_option(c, argv, longopts, usage);
			if (err)
				return err;
			continue;
		}
		given[lo->id - OPT_XDP] = true;
		err = take_option(lo->id, optarg, o);
		if (err)
			return err;
	}
	err = decide_mode(given, o);
	if (err)
		return err;
	if (o->mode != MODE_ATTACH && o->mode != MODE_DETACH) {
		static const char *const what[MODES] = {
			[MODE_STATUS] = "--status",
			[MODE_DETACH_ALL] = "--detach --all",
			[MODE_SOCKETS] = "--sockets",
			[MODE_DETACH_SOCKETS] = "--detach --sockets",
		};

		if (optind != argc)
			return hm_usage_error("%s takes no interface name", what[o->mode]);
	} else if (optind != argc - 1) {
		return hm_usage_error(optind >= argc ? "missing interface name" :
						       "expected one interface name");
	}
	o->ifname = optind < argc ? argv[optind] : NULL;
	o->pin_dir = hm_pin_dir(o->pin_dir);
	return 0;
}

int main(int argc, char **argv)
{
	static struct load_opts o;
	char msg[256];
	int err, ifindex = 0;

	hm_prog_name = "hm-load";
	hm_log_max = HM_LOG_INFO;
	err = parse_args(argc, argv, &o);
	if (err)
		return err;
	hm_libbpf_logging();
	hm_libxdp_logging();

	if (geteuid() != 0) {
		hm_err("must run as root (needs CAP_BPF, CAP_NET_ADMIN and bpffs write access)");
		return HM_EXIT_PERM;
	}
	if (o.ifname) {
		ifindex = if_nametoindex(o.ifname);
		if (!ifindex && o.mode == MODE_ATTACH) {
			hm_err("no such interface '%s' in this network namespace (ip link lists "
			       "them)",
			       o.ifname);
			return HM_EXIT_NODEV;
		}
	}
	err = hm_bpffs_ensure(msg, sizeof(msg));
	if (err) {
		hm_err("%s", msg);
		return hm_exit_code(err);
	}
	switch (o.mode) {
	case MODE_STATUS:
		err = do_status(&o);
		break;
	case MODE_DETACH_ALL:
		err = do_detach_all(&o);
		break;
	case MODE_DETACH:
		err = ifindex ? do_detach(&o, ifindex) : do_detach_gone(&o);
		break;
	case MODE_SOCKETS:
		err = do_sockets_load(&o);
		break;
	case MODE_DETACH_SOCKETS:
		err = do_sockets_detach(&o);
		break;
	default:
		err = do_load(&o, ifindex);
		break;
	}
	if (o.mode != MODE_ATTACH && o.mode != MODE_SOCKETS && err == -ENOENT)
		return HM_EXIT_NOMAPS;
	return err ? hm_exit_code(err == -ENOENT ? -EIO : err) : HM_EXIT_OK;
}
