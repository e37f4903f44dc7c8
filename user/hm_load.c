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
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <grp.h>
#include <limits.h>
#include <net/if.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/file.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <linux/magic.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "hm_common.h"
#include "hm_pin.h"
#include "hm_route.h"
#include "hm_tc.h"
#include "hm_xdp.h"
#include "httpmon.skel.h"

/* Either XDP mode: ingress is counted by XDP, not by the tc ingress filter. */
#define HM_LINK_XDP (HM_LINK_XDP_NATIVE | HM_LINK_XDP_SKB)

/* How long a run waits for another one's lock on the pin directory. */
#define HM_LOCK_WAIT_S 60
/* How long detach waits for detached programs to be freed before unpinning. */
#define HM_UNUSED_WAIT_MS 2000
/* Modes of the pin directory and the map pins: root only, or readable by --group. */
#define HM_DIR_MODE 0700
#define HM_DIR_MODE_GROUP 0750
#define HM_PIN_MODE 0600
#define HM_PIN_MODE_GROUP 0640
/*
 * The network namespace a map set serves (struct hm_owner below): a map
 * hm-load creates and pins next to the object's, which no program uses.
 */
#define HM_MAP_OWNER "hm_owner"

static const char usage_text[] =
	"Usage: hm-load [OPTIONS] [--xdp[=MODE]] IFACE\n"
	"       hm-load --detach [--pin-path DIR] IFACE | --detach --all\n"
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
	"Options:\n"
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
	"      --all              with --detach, instead of IFACE: every interface of\n"
	"                         this network namespace, then unpin the maps and\n"
	"                         remove what hm-load created in bpffs\n"
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
	"  2  bad command line, or no such group for --group\n"
	"  3  --detach: nothing of httpmon on IFACE (--all: anywhere); --status:\n"
	"     nothing loaded\n"
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
	"  hm-load --status                   what is attached where\n"
	"  hm-load --detach br-2b4e89c112d8   stop monitoring it\n"
	"  hm-load --detach --all             remove httpmon everywhere\n"
	"\n"
	"The same object also loads with iproute2 alone:\n"
	"  tc qdisc add dev IFACE clsact\n"
	"  tc filter add dev IFACE ingress bpf da obj " HM_OBJ_DIR "/httpmon.o sec tc/ingress\n"
	"  tc filter add dev IFACE egress bpf da obj " HM_OBJ_DIR "/httpmon.o sec tc/egress\n";

struct load_opts {
	const char *ifname;
	const char *pin_dir;
	const char *group; /* --group as given, NULL: pins keep their group and mode */
	gid_t gid;
	enum xdp_attach_mode xdp_mode; /* XDP_MODE_UNSPEC: tc ingress */
	bool detach;
	bool all;
	bool status;
	bool json;
	bool set_ports;
	bool all_ports;
	bool set_group_by;    /* route_mode/depth/query below are to be written */
	bool set_patterns;    /* the pattern list below replaces the pinned one */
	bool set_max_routes;
	bool set_prefix4, set_prefix6;
	bool set_idle_timeout;
	int hosts; /* 1: --hosts, 0: --no-hosts, -1: as it is */
	struct hm_config route_cfg; /* route_* and client_prefix* fields only */
	unsigned int npatterns;
	struct hm_route_pattern patterns[HM_MAX_PATTERNS];
	__u64 ports[HM_PORT_WORDS];
};

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
					      "ranges A-B, comma-separated)", list);
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

/*
 * Calls fn(path) for the pin of every map the object pins, taken from the
 * embedded object itself so the list can never miss a map.
 */
static int for_each_pin(const char *dir, int (*fn)(const char *path, void *arg), void *arg)
{
	DECLARE_LIBBPF_OPTS(bpf_object_open_opts, open_opts, .pin_root_path = dir);
	struct httpmon *skel = httpmon__open_opts(&open_opts);
	struct bpf_map *map;
	int err = 0;

	if (!skel)
		return -errno;
	bpf_object__for_each_map(map, skel->obj) {
		const char *path = bpf_map__pin_path(map);

		if (path && (err = fn(path, arg)))
			break;
	}
	httpmon__destroy(skel);
	return err;
}

static int open_pinned(const char *dir, const char *name)
{
	char path[PATH_MAX];

	if (hm_pin_path(path, sizeof(path), dir, name))
		return -ENAMETOOLONG;
	return bpf_obj_get(path);
}

/*
 * hm_links, when it holds hm_link values: another release's or a foreign map
 * under that name is left alone (its values would not fit ours).
 */
static int open_links(const char *dir)
{
	struct bpf_map_info info = {};
	__u32 len = sizeof(info);
	int fd = open_pinned(dir, HM_MAP_LINKS);

	if (fd >= 0 && (!hm_fd_is_map(fd) || bpf_obj_get_info_by_fd(fd, &info, &len) ||
			info.type != BPF_MAP_TYPE_HASH || info.key_size != sizeof(__u32) ||
			info.value_size != sizeof(struct hm_link))) {
		hm_dbg("%s/%s is not a map of hm_link records: not read", dir, HM_MAP_LINKS);
		close(fd);
		fd = -1;
	}
	return fd;
}

/* -- pin permissions -------------------------------------------------------- */

/* One pin: only its group changes (pins are root's: hm-load runs as root). */
static int give_to_group(const char *path, void *arg)
{
	gid_t gid = *(const gid_t *)arg;
	int err;

	if (chown(path, -1, gid) || chmod(path, gid ? HM_PIN_MODE_GROUP : HM_PIN_MODE)) {
		err = -errno;
		hm_err("cannot set the group and mode of '%s': %s", path, strerror(-err));
		return err;
	}
	return 0;
}

/*
 * Warns when a parent of the pin directory keeps group gid out: nothing
 * below a directory without search permission can be opened.  bpffs is
 * often mounted with mode=0700 and tc creates /sys/fs/bpf/tc 0700.  Telling
 * is better than opening someone else's directory behind their back.
 */
static void check_reachable(const char *dir, const char *group, gid_t gid)
{
	char path[PATH_MAX], fix[PATH_MAX] = "";
	bool bpffs_root = false;
	struct stat st, up;
	struct statfs fs;
	size_t n = 0;

	if (!realpath(dir, path) || stat("/", &up))
		return;
	for (char *p = path + 1; (p = strchr(p, '/')); p++, up = st) {
		*p = '\0';
		if (stat(path, &st)) {
			*p = '/';
			return;
		}
		if (!(st.st_mode & S_IXOTH) && !(st.st_gid == gid && st.st_mode & S_IXGRP)) {
			n += snprintf(fix + n, sizeof(fix) - n, " %s", path);
			bpffs_root |= st.st_dev != up.st_dev && !statfs(path, &fs) &&
				      (__u32)fs.f_type == (__u32)BPF_FS_MAGIC;
		}
		*p = '/';
		if (n >= sizeof(fix))
			return;
	}
	if (n)
		hm_warn("members of group %s cannot reach %s: to let them through, run "
			"chmod o+x%s%s",
			group, dir, fix, bpffs_root ? " (or mount bpffs with -o mode=0755)" : "");
}

/*
 * Pins are created root-only (the kernel gives a pin 0600, a new pin
 * directory is made 0700).  --group GROUP hands the directory and every map
 * pin to GROUP, directory 0750 and pins 0640, so that its members can run
 * hm-stat; --group root (gid 0) makes them root-only again.  hm-load pins no
 * programs or links (libxdp pins its dispatcher in a directory of its own,
 * left alone here), so nothing that could run or detach is opened to a group.
 */
static int set_pin_group(const char *dir, const char *group, gid_t gid)
{
	char path[PATH_MAX];
	int err;

	err = for_each_pin(dir, give_to_group, &gid);
	if (!err && !hm_pin_path(path, sizeof(path), dir, HM_MAP_OWNER) && !access(path, F_OK))
		err = give_to_group(path, &gid);
	if (err)
		return err;
	if (chown(dir, -1, gid) || chmod(dir, gid ? HM_DIR_MODE_GROUP : HM_DIR_MODE)) {
		err = -errno;
		hm_err("cannot set the group and mode of '%s': %s", dir, strerror(-err));
		return err;
	}
	if (gid)
		check_reachable(dir, group, gid);
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

/*
 * hm_config and hm_route_pats are the maps only hm-load writes, but they are
 * not frozen (BPF_MAP_FREEZE): every later hm-load rewrites them in place,
 * which is how --ports, --group-by and --route apply at once to every program
 * sharing the maps, also to programs in other network namespaces and those
 * plain tc loaded.  New maps in their place would need every such program
 * loaded again, and a freeze cannot be undone.  The pins' modes keep writers
 * out instead: root only.
 */
static int write_config(struct httpmon *skel, const struct load_opts *o)
{
	struct hm_config *cfg = calloc(1, sizeof(*cfg));
	__u32 zero = 0;
	int fd = bpf_map__fd(skel->maps.hm_config), err = 0;

	if (!cfg)
		return -ENOMEM;
	if (bpf_map_lookup_elem(fd, &zero, cfg)) {
		err = -errno;
		goto out;
	}
	cfg->layout_version = HM_LAYOUT_VERSION;
	if (o->set_ports) {
		memcpy(cfg->ports, o->ports, sizeof(cfg->ports));
		cfg->flags |= HM_CFG_PORT_FILTER;
	} else if (o->all_ports) {
		memset(cfg->ports, 0, sizeof(cfg->ports));
		cfg->flags &= ~HM_CFG_PORT_FILTER;
	}
	if (o->set_group_by) {
		cfg->route_mode = o->route_cfg.route_mode;
		cfg->route_depth = o->route_cfg.route_depth;
		cfg->query_len = o->route_cfg.query_len;
		memcpy(cfg->query_name, o->route_cfg.query_name, sizeof(cfg->query_name));
	}
	if (o->set_max_routes)
		cfg->max_routes = o->route_cfg.max_routes;
	if (o->hosts == 0)
		cfg->flags |= HM_CFG_NO_HOSTS;
	else if (o->hosts == 1)
		cfg->flags &= ~HM_CFG_NO_HOSTS;
	if (o->set_idle_timeout)
		cfg->idle_timeout = o->route_cfg.idle_timeout;
	if (o->set_prefix4)
		cfg->client_prefix4 = o->route_cfg.client_prefix4;
	if (o->set_prefix6)
		cfg->client_prefix6 = o->route_cfg.client_prefix6;
	/* Targets a connection remembers map to routes of the old grouping. */
	if (o->set_group_by || o->set_patterns)
		cfg->route_gen++;
	if (o->set_patterns) {
		int pfd = bpf_map__fd(skel->maps.hm_route_pats);

		/* Patterns first, then the count that makes the program read them. */
		for (__u32 i = 0; i < o->npatterns; i++) {
			if (bpf_map_update_elem(pfd, &i, &o->patterns[i], BPF_ANY)) {
				err = -errno;
				goto out;
			}
		}
		cfg->npatterns = o->npatterns;
	}
	if (bpf_map_update_elem(fd, &zero, cfg, BPF_ANY))
		err = -errno;
out:
	if (err)
		hm_err("cannot write map '%s': %s", HM_MAP_CONFIG, strerror(-err));
	free(cfg);
	return err;
}

/* The embedded object, opened (not loaded) with its maps to be reused from or pinned in dir. */
static struct httpmon *open_object(const char *dir)
{
	DECLARE_LIBBPF_OPTS(bpf_object_open_opts, open_opts, .pin_root_path = dir);
	struct httpmon *skel = httpmon__open_opts(&open_opts);

	if (!skel)
		return NULL;
	/* libbpf 1.1 does not know the tc/ingress and tc/egress section names. */
	bpf_program__set_type(skel->progs.hm_tc_ingress, BPF_PROG_TYPE_SCHED_CLS);
	bpf_program__set_type(skel->progs.hm_tc_egress, BPF_PROG_TYPE_SCHED_CLS);
	return skel;
}

/* -- the lock on the pin directory ----------------------------------------- */

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
			hm_err("another hm-load has held the lock on '%s' for %d s; giving up", path,
			       HM_LOCK_WAIT_S);
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
static int lock_pin_dir(const char *dir, bool create)
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
			hm_err("cannot open a parent of pin directory '%s': %s", dir, strerror(-pfd));
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

/* -- the network namespace a map set serves -------------------------------- */

/*
 * hm_links and hm_ifaces are keyed by interface index, which is per network
 * namespace, so one map set serves one namespace.  hm-load records which in
 * a map of its own, hm_owner, and refuses to change the set from another
 * namespace while that one exists.
 */
#ifndef SO_NETNS_COOKIE
#define SO_NETNS_COOKIE 71
#endif

struct hm_owner {
	__u64 netns_dev;    /* st_dev and st_ino of /proc/self/ns/net */
	__u64 netns_ino;
	__u64 netns_cookie; /* SO_NETNS_COOKIE: never reused within a boot; 0 unknown */
};

/* Where the owning namespace can be reached, for messages: "ip netns NAME" and how to enter it. */
struct netns_place {
	char what[PATH_MAX + 64]; /* e.g. "ip netns hmA", "the one of process 12 (nginx)" */
	char path[PATH_MAX];      /* e.g. /run/netns/hmA, for nsenter --net= */
};

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

static int this_netns(struct hm_owner *o)
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
static int owner_write(const char *dir, const struct hm_owner *me)
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

static void unpin_owner(const char *dir)
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
static int owner_check(const char *dir, bool *takeover)
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
		"and forgets the interfaces recorded there", dir);
	links_fd = open_links(dir);
	while (links_fd >= 0 && !bpf_map_get_next_key(links_fd, NULL, &key))
		if (bpf_map_delete_elem(links_fd, &key))
			break;
	if (links_fd >= 0)
		close(links_fd);
	*takeover = true;
	return 0;
}

/* For --status: where the namespace the maps serve is, when it is not this one. */
static bool owner_elsewhere(const char *dir, struct netns_place *where)
{
	struct hm_owner me, rec;

	if (this_netns(&me) || owner_read(dir, &rec) || same_netns(&me, &rec))
		return false;
	if (!find_netns_mount(&rec, where) && !find_netns_process(&rec, where))
		snprintf(where->what, sizeof(where->what), "net:[%llu], gone",
			 (unsigned long long)rec.netns_ino);
	return true;
}

/* -- programs and maps ------------------------------------------------------ */

static __u32 map_id_of(int fd)
{
	struct bpf_map_info info = {};
	__u32 len = sizeof(info);

	return bpf_obj_get_info_by_fd(fd, &info, &len) ? 0 : info.id;
}

static bool prog_uses_map(__u32 prog_id, __u32 map_id)
{
	struct bpf_prog_info info = {};
	__u32 ids[64], len = sizeof(info);
	int fd = bpf_prog_get_fd_by_id(prog_id);
	bool uses = false;

	if (fd < 0)
		return false;
	info.nr_map_ids = 64;
	info.map_ids = (__u64)(unsigned long)ids;
	if (!bpf_obj_get_info_by_fd(fd, &info, &len))
		for (__u32 i = 0; i < info.nr_map_ids && i < 64; i++)
			uses |= ids[i] == map_id;
	close(fd);
	return uses;
}

/* True when some loaded program (attached anywhere) still uses the map with this id. */
static bool map_in_use(__u32 map_id)
{
	__u32 id = 0;

	while (!bpf_prog_get_next_id(id, &id))
		if (prog_uses_map(id, map_id))
			return true;
	return false;
}

/* The hm_links entries: returns how many, stores up to max. */
static int links_read(int links_fd, struct hm_link *out, int max)
{
	__u32 key, next;
	int n = 0;
	bool first = true;

	while (!bpf_map_get_next_key(links_fd, first ? NULL : &key, &next)) {
		first = false;
		key = next;
		if (n < max && !bpf_map_lookup_elem(links_fd, &key, &out[n]))
			n++;
	}
	return n;
}

static bool links_have_flag(int links_fd, __u32 flag)
{
	struct hm_link links[HM_MAX_LINKS];
	int n = links_read(links_fd, links, HM_MAX_LINKS);

	for (int i = 0; i < n; i++)
		if (links[i].flags & flag)
			return true;
	return false;
}

/*
 * libxdp's directory in bpffs goes once it is empty, when hm-load created it
 * (the flag passes on to each later XDP link, so the last one removes it).
 */
static void release_libxdp_dir(__u32 flags)
{
	char dir[PATH_MAX];

	if (!(flags & HM_LINK_CREATED_XDP_DIR))
		return;
	if (!rmdir(hm_libxdp_dir(dir, sizeof(dir))))
		hm_dbg("removed %s (hm-load's XDP attach had created it)", dir);
}

/*
 * The idle-connection sweep's BPF timer holds the program that armed it, and
 * through it every map of the set, so a detached or replaced program would
 * stay loaded while the sweep goes on.  Rewriting hm_aging's entry from user
 * space cancels the timer and releases that program; programs still attached
 * arm it again with their next new connection.
 */
static void release_aging_timer(int fd)
{
	struct bpf_map_info info = {};
	__u32 len = sizeof(info), key = 0;
	void *zero;

	if (fd < 0 || bpf_obj_get_info_by_fd(fd, &info, &len))
		return;
	zero = calloc(1, info.value_size);
	if (zero && bpf_map_update_elem(fd, &key, zero, BPF_ANY))
		hm_dbg("cannot reset map '%s': %s", HM_MAP_AGING, strerror(errno));
	free(zero);
}

/*
 * After release_aging_timer, the sweep runs again only when a program arms
 * it; connections that never send another packet would never be aged.  So
 * hm-load runs hm_aging_kick once, which schedules the sweep at once; the
 * timer then holds that program until the next release.
 */
static void kick_aging(struct httpmon *skel)
{
	LIBBPF_OPTS(bpf_test_run_opts, opts);
	int err = bpf_prog_test_run_opts(bpf_program__fd(skel->progs.hm_aging_kick), &opts);

	if (err)
		hm_warn("cannot schedule the idle-connection sweep: %s; it starts with the next "
			"new connection",
			strerror(-err));
}

static int unpin_one(const char *path, void *arg)
{
	(void)arg;
	if (unlink(path) && errno != ENOENT)
		hm_warn("cannot unpin '%s': %s", path, strerror(errno));
	return 0;
}

/*
 * Unpins the map set once no program uses it (force: in any case).
 * Detached programs are freed after an RCU grace period, so wait a little
 * for them to go.  Returns true when there was a map set to unpin.
 */
static bool unpin_maps(const char *dir, bool force)
{
	int fd = open_pinned(dir, HM_MAP_CONFIG);
	__u32 id = fd >= 0 ? map_id_of(fd) : 0;
	bool used = true;

	if (fd >= 0)
		close(fd);
	if (!id)
		return false;
	fd = open_pinned(dir, HM_MAP_AGING);
	release_aging_timer(fd);
	if (fd >= 0)
		close(fd);
	hm_xdp_close_stray_fds();
	for (int ms = 0; ms < HM_UNUSED_WAIT_MS && (used = map_in_use(id)); ms += 50)
		usleep(50 * 1000);
	if (used && !force) {
		hm_info("maps in %s stay pinned: other httpmon programs still use them", dir);
		return true;
	}
	if (used)
		hm_warn("httpmon programs outside this network namespace still use the maps in %s; "
			"they keep counting into maps no tool can open any more (run hm-load "
			"--detach --all in their namespace)", dir);
	for_each_pin(dir, unpin_one, NULL);
	unpin_owner(dir);
	if (strcmp(dir, HM_PIN_DIR_DEFAULT))
		rmdir(dir); /* only when empty; tc's own globals directory is left alone */
	hm_info("unpinned the maps in %s", dir);
	return true;
}

/* -- what is pinned already -------------------------------------------------- */

static const char *map_type_str(__u32 type)
{
	const char *s = libbpf_bpf_map_type_str(type);

	return s ? s : "unknown";
}

/* The layout version in a pinned hm_config (its first member in every layout); 0: none. */
static __u32 pinned_layout(int fd, const struct bpf_map_info *info)
{
	__u32 zero = 0, version = 0;
	void *val;

	if (info->type != BPF_MAP_TYPE_ARRAY || info->key_size != sizeof(zero) ||
	    info->value_size < sizeof(version))
		return 0;
	val = calloc(1, info->value_size);
	if (val && !bpf_map_lookup_elem(fd, &zero, val))
		memcpy(&version, val, sizeof(version));
	free(val);
	return version;
}

/* One pin of the object's maps: nothing there, or a map libbpf can reuse as it is. */
static int check_pin(const struct bpf_map *map, const char *dir, bool config)
{
	const char *path = bpf_map__pin_path(map);
	struct bpf_map_info info = {};
	__u32 len = sizeof(info), version;
	struct stat st;
	int fd, err = 0;

	if (!path)
		return 0;
	if (stat(path, &st)) {
		if (errno == ENOENT)
			return 0;
		err = -errno;
		hm_err("cannot look at '%s': %s", path, strerror(-err));
		return err;
	}
	if (S_ISDIR(st.st_mode)) {
		hm_err("%s is a directory, not a map pin: remove it (rmdir %s) or use another "
		       "--pin-path",
		       path, path);
		return -EPROTO;
	}
	fd = bpf_obj_get(path);
	if (fd < 0 || !hm_fd_is_map(fd) || bpf_obj_get_info_by_fd(fd, &info, &len)) {
		hm_err("%s is not a BPF map: remove it (rm %s) or use another --pin-path", path,
		       path);
		if (fd >= 0)
			close(fd);
		return -EPROTO;
	}
	version = config ? pinned_layout(fd, &info) : 0;
	if (version && version != HM_LAYOUT_VERSION) {
		hm_err("the maps in %s have layout version %u, this hm-load loads version %u: "
		       "remove them first (hm-load --detach --all --pin-path %s, or rm %s/hm_*)",
		       dir, version, HM_LAYOUT_VERSION, dir, dir);
		err = -EPROTO;
	} else if (info.type != bpf_map__type(map) || info.key_size != bpf_map__key_size(map) ||
		   info.value_size != bpf_map__value_size(map) ||
		   info.max_entries != bpf_map__max_entries(map) ||
		   info.map_flags != bpf_map__map_flags(map)) {
		hm_err("%s is not httpmon's map (type %s, key %u B, value %u B, %u entries; "
		       "httpmon's: type %s, key %u B, value %u B, %u entries): remove it (rm %s) "
		       "or use another --pin-path",
		       path, map_type_str(info.type), info.key_size, info.value_size,
		       info.max_entries, map_type_str(bpf_map__type(map)), bpf_map__key_size(map),
		       bpf_map__value_size(map), bpf_map__max_entries(map), path);
		err = -EPROTO;
	}
	close(fd);
	return err;
}

/*
 * Before libbpf reuses the maps pinned in dir: refuses anything libbpf would
 * fail on in five lines of its own (a directory, a program, a map of
 * another type or size), and a map set of another layout version, whose
 * sizes may all match while their meaning differs (loading would stamp it
 * with this version).  -EPROTO, said in one line.
 */
static int check_pins(struct httpmon *skel, const char *dir)
{
	struct bpf_map *map;
	int err;

	err = check_pin(skel->maps.hm_config, dir, true); /* the version explains most */
	bpf_object__for_each_map(map, skel->obj) {
		if (!err && map != skel->maps.hm_config)
			err = check_pin(map, dir, false);
	}
	return err;
}

/*
 * A bridge and one of its ports both monitored by one map set: a packet
 * switched through the bridge crosses both.  Warns once per such pair with
 * the interface just loaded.
 */
static void warn_overlap(const char *ifname, int ifindex, int links_fd)
{
	struct hm_link links[HM_MAX_LINKS];
	int n = links_read(links_fd, links, HM_MAX_LINKS), master, other_master;
	bool bridge, other_bridge;

	if (hm_iface_master(ifindex, &master, &bridge))
		return;
	for (int k = 0; k < n; k++) {
		const char *other = links[k].ifname;

		if (links[k].ifindex == (__u32)ifindex ||
		    hm_iface_master(links[k].ifindex, &other_master, &other_bridge))
			continue;
		if (other_bridge && master == (int)links[k].ifindex)
			hm_warn("'%s' is a port of bridge '%s', which is monitored too: each "
				"connection is counted once, on the first monitored interface it "
				"crosses (README: Overlapping interfaces)",
				ifname, other);
		else if (bridge && other_master == ifindex)
			hm_warn("'%s' is a bridge, and its port '%s' is monitored too: each "
				"connection is counted once, on the first monitored interface it "
				"crosses (README: Overlapping interfaces)",
				ifname, other);
	}
}

/* -- load ------------------------------------------------------------------- */

/* One attempt: our XDP program from a second instance of the object, maps shared by pin. */
static int xdp_attach_once(const struct load_opts *o, int ifindex, enum xdp_attach_mode mode,
			   __u32 *prog_id)
{
	struct httpmon *skel = open_object(o->pin_dir);
	int err;

	if (!skel)
		return -errno;
	bpf_program__set_autoload(skel->progs.hm_tc_ingress, false);
	bpf_program__set_autoload(skel->progs.hm_tc_egress, false);
	err = hm_xdp_attach(skel->obj, ifindex, mode, prog_id);
	httpmon__destroy(skel);
	return err;
}

/* Native mode falls back to generic, with one warning, when the driver has no XDP. */
static int xdp_attach(const struct load_opts *o, int ifindex, enum xdp_attach_mode *mode,
		      __u32 *prog_id)
{
	int err = xdp_attach_once(o, ifindex, *mode, prog_id);

	if (err == -EOPNOTSUPP && *mode == XDP_MODE_NATIVE) {
		hm_warn("the driver of '%s' has no native XDP: attaching in generic mode, which "
			"runs once the kernel has built the packet's skb and costs more per packet",
			o->ifname);
		*mode = XDP_MODE_SKB;
		err = xdp_attach_once(o, ifindex, *mode, prog_id);
	}
	if (err)
		hm_err("cannot attach the XDP program to '%s' in %s mode: %s (hm-load -v shows "
		       "libbpf's and libxdp's messages)",
		       o->ifname, hm_xdp_mode_str(*mode), strerror(-err));
	return err;
}

/*
 * XDP programs of others decide the mode (the kernel runs one mode per
 * interface) and whether ours can join at all (not next to a program
 * attached without libxdp's dispatcher).  Returns 0 with *mode possibly
 * changed, or -EBUSY with the reason told.
 */
static int xdp_check_others(const struct load_opts *o, const struct hm_xdp_state *st,
			    enum xdp_attach_mode *mode)
{
	int others = st->mode == XDP_MODE_UNSPEC ? 0 : st->nprogs - (st->prog_id != 0);

	if (!others)
		return 0;
	if (!st->dispatcher) {
		hm_err("'%s' already runs XDP program '%s' (id %u) attached without libxdp's "
		       "dispatcher, so no other program can join it: detach it, or load it with "
		       "xdp-loader",
		       o->ifname, st->main_name, st->main_id);
		return -EBUSY;
	}
	if (st->mode == *mode)
		return 0;
	if (*mode == XDP_MODE_NATIVE && st->mode == XDP_MODE_SKB) {
		hm_info("'%s' runs its XDP programs in generic mode: joining them there", o->ifname);
		*mode = XDP_MODE_SKB;
		return 0;
	}
	hm_err("'%s' runs its XDP programs in %s mode, and an interface has one mode: "
	       "use --xdp=%s",
	       o->ifname, hm_xdp_mode_str(st->mode), hm_xdp_mode_str(st->mode));
	return -EBUSY;
}

/* Ingress on tc: our XDP program goes first, so for a moment nothing counts rather than both. */
static int load_tc(const struct load_opts *o, int ifindex, struct httpmon *skel, __u32 *flags)
{
	int err = hm_xdp_detach(ifindex);

	if (err < 0) {
		hm_err("cannot remove httpmon's XDP program from '%s': %s", o->ifname,
		       strerror(-err));
		return err;
	}
	if (err > 0) {
		hm_info("removed httpmon's XDP program from %s: tc ingress counts from now on",
			o->ifname);
		release_libxdp_dir(*flags);
		*flags &= ~HM_LINK_CREATED_XDP_DIR;
	}
	err = hm_tc_attach(ifindex, BPF_TC_INGRESS, bpf_program__fd(skel->progs.hm_tc_ingress));
	if (!err)
		err = hm_tc_attach(ifindex, BPF_TC_EGRESS,
				   bpf_program__fd(skel->progs.hm_tc_egress));
	if (err) {
		hm_err("cannot attach to '%s': %s", o->ifname, strerror(-err));
		return err;
	}
	*flags &= ~HM_LINK_XDP;
	hm_info("attached to %s (tc ingress+egress), maps pinned in %s", o->ifname, o->pin_dir);
	return 0;
}

/*
 * Ingress on XDP, egress on tc.  Our XDP program already there in the same
 * mode on the same maps is kept (rebuilding the dispatcher around a new one
 * would run both for a moment); otherwise it is removed before the new one
 * goes on, and so is a tc ingress filter of ours.
 */
static int load_xdp(const struct load_opts *o, int ifindex, struct httpmon *skel, int links_fd,
		    __u32 *flags)
{
	enum xdp_attach_mode mode = o->xdp_mode;
	int fd_in = bpf_program__fd(skel->progs.hm_tc_ingress), tc_removed, left, found, err;
	struct hm_xdp_state st;
	char dir[PATH_MAX];
	__u32 prog_id = 0;
	bool keep, dir_existed;

	if (hm_iface_is_veth(o->ifname))
		hm_warn("'%s' is a veth: XDP on a veth turns off its GRO path, which was measured "
			"to cut bulk receive throughput by about 85%%; tc ingress (hm-load "
			"without --xdp) is the right choice there, XDP is for a physical NIC",
			o->ifname);
	found = hm_xdp_find(ifindex, &st);
	if (found < 0) {
		hm_err("cannot list the XDP programs of '%s': %s", o->ifname, strerror(-found));
		return found;
	}
	if (mode == XDP_MODE_NATIVE && hm_xdp_native_supported(ifindex) == 0) {
		hm_warn("the driver of '%s' has no native XDP: attaching in generic mode, which "
			"runs once the kernel has built the packet's skb and costs more per packet",
			o->ifname);
		mode = XDP_MODE_SKB;
	}
	err = xdp_check_others(o, &st, &mode);
	if (err)
		return err;
	keep = found && st.mode == mode &&
	       prog_uses_map(st.prog_id, map_id_of(bpf_map__fd(skel->maps.hm_config)));

	tc_removed = hm_tc_detach(ifindex, BPF_TC_INGRESS, &left);
	if (tc_removed < 0) {
		hm_err("cannot remove httpmon's tc ingress filter from '%s': %s", o->ifname,
		       strerror(-tc_removed));
		return tc_removed;
	}
	if (keep) {
		prog_id = st.prog_id;
		hm_info("httpmon's XDP program already runs on %s (%s mode, id %u): kept",
			o->ifname, hm_xdp_mode_str(mode), prog_id);
	} else {
		if (found) {
			err = hm_xdp_detach(ifindex);
			if (err < 0) {
				hm_err("cannot replace httpmon's XDP program on '%s': %s",
				       o->ifname, strerror(-err));
				goto restore;
			}
			hm_info("replacing httpmon's XDP program on %s (%s mode, id %u)",
				o->ifname, hm_xdp_mode_str(st.mode), st.prog_id);
		}
		dir_existed = !access(hm_libxdp_dir(dir, sizeof(dir)), F_OK);
		err = xdp_attach(o, ifindex, &mode, &prog_id);
		if (err)
			goto restore;
		if ((!dir_existed && !access(dir, F_OK)) ||
		    links_have_flag(links_fd, HM_LINK_CREATED_XDP_DIR))
			*flags |= HM_LINK_CREATED_XDP_DIR;
		if (hm_xdp_find(ifindex, &st) > 0 && !st.dispatcher)
			hm_warn("libxdp's dispatcher does not run on this kernel (it needs freplace "
				"programs, BPF_PROG_TYPE_EXT): httpmon's XDP program is attached "
				"to %s alone, and no other XDP program can join it there",
				o->ifname);
	}
	if (tc_removed)
		hm_info("removed httpmon's tc ingress filter from %s: XDP counts ingress now",
			o->ifname);

	err = hm_tc_attach(ifindex, BPF_TC_EGRESS, bpf_program__fd(skel->progs.hm_tc_egress));
	if (err) {
		hm_err("cannot attach to '%s' (tc egress): %s", o->ifname, strerror(-err));
		if (!keep)
			hm_xdp_detach(ifindex);
		goto restore;
	}
	*flags = (*flags & ~HM_LINK_XDP) |
		 (mode == XDP_MODE_NATIVE ? HM_LINK_XDP_NATIVE : HM_LINK_XDP_SKB);
	hm_info("attached to %s (xdp %s ingress, program id %u; tc egress), maps pinned in %s",
		o->ifname, hm_xdp_mode_str(mode), prog_id, o->pin_dir);
	return 0;

restore:
	if (tc_removed > 0 && !hm_tc_attach(ifindex, BPF_TC_INGRESS, fd_in))
		hm_info("httpmon's tc ingress filter on %s is back", o->ifname);
	return err;
}

static int do_load(const struct load_opts *o, int ifindex)
{
	DECLARE_LIBBPF_OPTS(bpf_tc_hook, hook, .ifindex = ifindex,
			    .attach_point = BPF_TC_INGRESS | BPF_TC_EGRESS);
	struct hm_link link = { .ifindex = ifindex }, old;
	struct httpmon *skel = NULL;
	bool created_qdisc = false, new_maps, takeover;
	struct hm_owner me;
	int err, links_fd, lock_fd, fd;

	lock_fd = lock_pin_dir(o->pin_dir, true);
	if (lock_fd < 0)
		return lock_fd;
	fd = open_pinned(o->pin_dir, HM_MAP_CONFIG);
	new_maps = fd < 0;
	if (fd >= 0)
		close(fd);
	skel = open_object(o->pin_dir);
	if (!skel) {
		err = -errno;
		hm_err("cannot open the BPF object: %s", strerror(-err));
		goto out;
	}
	err = check_pins(skel, o->pin_dir);
	if (!err)
		err = owner_check(o->pin_dir, &takeover);
	if (err) {
		new_maps = false; /* what is there is not ours to unpin */
		goto out;
	}
	bpf_program__set_autoload(skel->progs.hm_xdp_ingress, false);
	err = httpmon__load(skel);
	if (err) {
		hm_err("cannot load the BPF programs or reuse the maps pinned in '%s': %s%s",
		       o->pin_dir, strerror(-err),
		       err == -EINVAL ? " (maps of another layout? hm-load --detach, then load again)"
				      : "");
		goto out;
	}
	err = write_config(skel, o);
	if (err)
		goto out;

	links_fd = bpf_map__fd(skel->maps.hm_links);
	if (!bpf_map_lookup_elem(links_fd, &ifindex, &old))
		link.flags = old.flags; /* a reload keeps what the first load created */

	hm_libbpf_quiet(true); /* libbpf tells of an existing qdisc as a warning */
	err = bpf_tc_hook_create(&hook);
	hm_libbpf_quiet(false);
	if (err && err != -EEXIST) {
		hm_err("cannot add a clsact qdisc to '%s': %s", o->ifname, strerror(-err));
		goto out;
	}
	created_qdisc = !err;

	if (o->xdp_mode != XDP_MODE_UNSPEC)
		err = load_xdp(o, ifindex, skel, links_fd, &link.flags);
	else
		err = load_tc(o, ifindex, skel, &link.flags);
	if (err)
		goto out;

	if (created_qdisc)
		link.flags |= HM_LINK_CREATED_CLSACT;
	snprintf(link.ifname, sizeof(link.ifname), "%s", o->ifname);
	if (bpf_map_update_elem(links_fd, &ifindex, &link, BPF_ANY))
		hm_warn("cannot record '%s' in map '%s': %s", o->ifname, HM_MAP_LINKS,
			strerror(errno));
	release_aging_timer(bpf_map__fd(skel->maps.hm_aging)); /* the replaced programs' */
	kick_aging(skel);
	warn_overlap(o->ifname, ifindex, links_fd);
	if (takeover && !this_netns(&me))
		err = owner_write(o->pin_dir, &me);
	if (!err && o->group)
		err = set_pin_group(o->pin_dir, o->group, o->gid);
out:
	if (err && created_qdisc) {
		hook.attach_point = BPF_TC_INGRESS | BPF_TC_EGRESS;
		bpf_tc_hook_destroy(&hook);
	}
	httpmon__destroy(skel);
	if (err && new_maps)
		unpin_maps(o->pin_dir, false); /* a failed first load leaves bpffs as it was */
	close(lock_fd);
	return err;
}

/* -- detach ----------------------------------------------------------------- */

/*
 * Removes httpmon's XDP program and tc filters from one interface, the
 * clsact qdisc when hm-load created it and nothing else is on it, and the
 * interface's hm_links entry.  Returns how many programs it removed; the
 * entry's flags are ORed into *flags.
 */
static int detach_iface(const char *ifname, int ifindex, int links_fd, __u32 *flags)
{
	DECLARE_LIBBPF_OPTS(bpf_tc_hook, hook, .ifindex = ifindex,
			    .attach_point = BPF_TC_INGRESS | BPF_TC_EGRESS);
	struct hm_link link = {};
	int xdp, in_rm, eg_rm, in_left, eg_left;
	bool recorded = false;

	if (links_fd >= 0 && !bpf_map_lookup_elem(links_fd, &ifindex, &link) &&
	    !strncmp(link.ifname, ifname, sizeof(link.ifname))) {
		recorded = true;
		*flags |= link.flags;
	}
	xdp = hm_xdp_detach(ifindex);
	if (xdp < 0) {
		hm_err("cannot remove httpmon's XDP program from '%s': %s", ifname, strerror(-xdp));
		return xdp;
	}
	in_rm = hm_tc_detach(ifindex, BPF_TC_INGRESS, &in_left);
	eg_rm = in_rm < 0 ? 0 : hm_tc_detach(ifindex, BPF_TC_EGRESS, &eg_left);
	if (in_rm < 0 || eg_rm < 0) {
		hm_err("cannot detach from '%s': %s", ifname, strerror(-(in_rm < 0 ? in_rm : eg_rm)));
		return in_rm < 0 ? in_rm : eg_rm;
	}
	if (recorded && (link.flags & HM_LINK_CREATED_CLSACT) && !in_left && !eg_left) {
		int err = bpf_tc_hook_destroy(&hook);

		if (err && err != -ENOENT && err != -EINVAL)
			hm_warn("cannot remove the clsact qdisc of '%s': %s", ifname, strerror(-err));
	}
	if (recorded)
		bpf_map_delete_elem(links_fd, &ifindex);
	if (xdp + in_rm + eg_rm)
		hm_info("detached from %s (%s)", ifname,
			xdp ? (in_rm ? "xdp and tc ingress, tc egress" : "xdp ingress, tc egress")
			    : "tc ingress+egress");
	return xdp + in_rm + eg_rm;
}

static int do_detach(const struct load_opts *o, int ifindex)
{
	int lock_fd, links_fd, removed;
	bool takeover;
	__u32 flags = 0;

	lock_fd = lock_pin_dir(o->pin_dir, false);
	if (lock_fd < 0)
		return lock_fd;
	removed = owner_check(o->pin_dir, &takeover);
	if (removed) {
		close(lock_fd);
		return removed;
	}
	links_fd = open_links(o->pin_dir);
	removed = detach_iface(o->ifname, ifindex, links_fd, &flags);
	if (links_fd >= 0)
		close(links_fd);
	if (removed > 0)
		release_libxdp_dir(flags);
	if (removed >= 0)
		unpin_maps(o->pin_dir, false);
	close(lock_fd);
	if (removed == 0) {
		hm_err("httpmon is not attached to '%s'", o->ifname);
		return -ENOENT;
	}
	return removed < 0 ? removed : 0;
}

/*
 * --detach of an interface this network namespace does not have.  When
 * hm_links records it, it was deleted (its filters and XDP program went with
 * it) or moved to another namespace: the record goes, and the maps too when
 * no program uses them any more.  Otherwise the name is wrong.
 */
static int do_detach_gone(const struct load_opts *o)
{
	struct hm_link links[HM_MAX_LINKS];
	int lock_fd, links_fd, n, found = 0, err;
	bool takeover;
	__u32 flags = 0;

	lock_fd = lock_pin_dir(o->pin_dir, false);
	if (lock_fd < 0)
		return lock_fd;
	err = owner_check(o->pin_dir, &takeover);
	if (err) {
		close(lock_fd);
		return err;
	}
	links_fd = open_links(o->pin_dir);
	n = links_fd >= 0 ? links_read(links_fd, links, HM_MAX_LINKS) : 0;
	for (int k = 0; k < n; k++) {
		if (strncmp(links[k].ifname, o->ifname, sizeof(links[k].ifname)))
			continue;
		hm_info("%s (ifindex %u) is not in this network namespace any more: deleted, and "
			"httpmon's programs with it, or moved; forgetting it",
			o->ifname, links[k].ifindex);
		flags |= links[k].flags;
		bpf_map_delete_elem(links_fd, &links[k].ifindex);
		found++;
	}
	if (links_fd >= 0)
		close(links_fd);
	if (found) {
		release_libxdp_dir(flags);
		unpin_maps(o->pin_dir, false);
	} else {
		hm_err("no such interface '%s' in this network namespace (ip link lists them)",
		       o->ifname);
	}
	close(lock_fd);
	return found ? 0 : -ENODEV;
}

/*
 * Every interface of this network namespace, whether hm_links names it or
 * not (plain tc's filters, an earlier pin directory), then the pins, also
 * when programs elsewhere still use them.
 */
static int do_detach_all(const struct load_opts *o)
{
	struct hm_link links[HM_MAX_LINKS];
	struct if_nameindex *ifs, *i;
	int lock_fd, links_fd, n, removed = 0, err = 0, r;
	__u32 flags = 0;
	bool unpinned, takeover;

	lock_fd = lock_pin_dir(o->pin_dir, false);
	if (lock_fd < 0)
		return lock_fd;
	err = owner_check(o->pin_dir, &takeover);
	if (err) {
		close(lock_fd);
		return err;
	}
	ifs = if_nameindex();
	if (!ifs) {
		err = -errno;
		hm_err("cannot list the interfaces: %s", strerror(-err));
		close(lock_fd);
		return err;
	}
	links_fd = open_links(o->pin_dir);
	for (i = ifs; i->if_index; i++) {
		r = detach_iface(i->if_name, i->if_index, links_fd, &flags);
		if (r < 0)
			err = r;
		else
			removed += r;
	}
	if_freenameindex(ifs);
	if (links_fd >= 0) {
		n = links_read(links_fd, links, HM_MAX_LINKS);
		for (int k = 0; k < n; k++) {
			hm_info("%s (ifindex %u) is gone or in another network namespace: "
				"forgetting it", links[k].ifname, links[k].ifindex);
			flags |= links[k].flags & HM_LINK_CREATED_XDP_DIR;
			bpf_map_delete_elem(links_fd, &links[k].ifindex);
		}
		close(links_fd);
	}
	if (err) {
		close(lock_fd);
		return err;
	}
	unpinned = unpin_maps(o->pin_dir, true);
	release_libxdp_dir(flags);
	close(lock_fd);
	if (!removed && !unpinned) {
		hm_err("httpmon is attached nowhere in this network namespace and has no maps in %s",
		       o->pin_dir);
		return -ENOENT;
	}
	return 0;
}

/* -- status ----------------------------------------------------------------- */

#define HM_STATUS_IDS 4

struct iface_status {
	char ifname[IF_NAMESIZE];
	__u32 ifindex;
	bool present;  /* an interface of this network namespace */
	bool recorded; /* hm_links has it */
	__u32 flags;   /* its hm_links flags */
	int n_in, n_eg;
	__u32 tc_in[HM_STATUS_IDS], tc_eg[HM_STATUS_IDS];
	bool xdp;
	struct hm_xdp_state x;
};

struct map_status {
	char name[BPF_OBJ_NAME_LEN];
	__u32 type, max_entries;
	long long entries; /* -1: an array (always full) */
};

struct status {
	struct iface_status ifs[HM_MAX_LINKS];
	int nifs;
	bool elsewhere; /* the maps serve another network namespace */
	struct netns_place owner;
	struct map_status maps[32];
	int nmaps;
	__u32 layout; /* the version in hm_config, 0 when unknown */
};

static void query_iface(struct iface_status *s)
{
	s->n_in = hm_tc_our_ids(s->ifindex, BPF_TC_INGRESS, s->tc_in, HM_STATUS_IDS);
	s->n_eg = hm_tc_our_ids(s->ifindex, BPF_TC_EGRESS, s->tc_eg, HM_STATUS_IDS);
	s->n_in = s->n_in < 0 ? 0 : s->n_in;
	s->n_eg = s->n_eg < 0 ? 0 : s->n_eg;
	s->xdp = hm_xdp_find(s->ifindex, &s->x) > 0;
}

static bool is_hash(__u32 type)
{
	return type == BPF_MAP_TYPE_HASH || type == BPF_MAP_TYPE_PERCPU_HASH ||
	       type == BPF_MAP_TYPE_LRU_HASH || type == BPF_MAP_TYPE_LRU_PERCPU_HASH;
}

static long long count_keys(int fd, __u32 key_size)
{
	char *key = malloc(key_size), *next = malloc(key_size);
	long long n = 0;

	if (!key || !next) {
		free(key);
		free(next);
		return -1;
	}
	while (!bpf_map_get_next_key(fd, n ? key : NULL, next)) {
		memcpy(key, next, key_size);
		n++;
	}
	free(key);
	free(next);
	return n;
}

static int add_map_status(const char *path, void *arg)
{
	struct status *st = arg;
	struct bpf_map_info info = {};
	struct map_status *m;
	__u32 len = sizeof(info);
	int fd = bpf_obj_get(path);

	if (fd < 0)
		return 0;
	if (st->nmaps < (int)(sizeof(st->maps) / sizeof(st->maps[0])) &&
	    !bpf_obj_get_info_by_fd(fd, &info, &len)) {
		m = &st->maps[st->nmaps++];
		snprintf(m->name, sizeof(m->name), "%s", strrchr(path, '/') + 1);
		m->type = info.type;
		m->max_entries = info.max_entries;
		m->entries = is_hash(info.type) ? count_keys(fd, info.key_size) : -1;
		if (!strcmp(m->name, HM_MAP_CONFIG) && info.value_size >= sizeof(__u32)) {
			void *val = calloc(1, info.value_size);
			__u32 zero = 0;

			if (val && !bpf_map_lookup_elem(fd, &zero, val))
				st->layout = *(__u32 *)val;
			free(val);
		}
	}
	close(fd);
	return 0;
}

static struct iface_status *find_row(struct status *st, __u32 ifindex, const char *ifname)
{
	for (int i = 0; i < st->nifs; i++)
		if (st->ifs[i].ifindex == ifindex && !strcmp(st->ifs[i].ifname, ifname))
			return &st->ifs[i];
	return NULL;
}

static void collect_status(const char *dir, struct status *st)
{
	struct hm_link links[HM_MAX_LINKS];
	struct if_nameindex *ifs, *i;
	int fd = open_links(dir), n = 0;

	st->elsewhere = owner_elsewhere(dir, &st->owner);
	if (fd >= 0) {
		n = links_read(fd, links, HM_MAX_LINKS);
		close(fd);
	}
	for (int k = 0; k < n && st->nifs < HM_MAX_LINKS; k++) {
		struct iface_status *s = &st->ifs[st->nifs++];

		memcpy(s->ifname, links[k].ifname, sizeof(s->ifname) - 1);
		s->ifindex = links[k].ifindex;
		s->recorded = true;
		s->flags = links[k].flags;
	}
	/* This namespace's interfaces are not the ones recorded elsewhere. */
	ifs = st->elsewhere ? NULL : if_nameindex();
	for (i = ifs; i && i->if_index; i++) {
		struct iface_status probe = { .ifindex = i->if_index, .present = true }, *s;

		snprintf(probe.ifname, sizeof(probe.ifname), "%s", i->if_name);
		query_iface(&probe);
		s = find_row(st, i->if_index, i->if_name);
		if (s) {
			probe.recorded = true;
			probe.flags = s->flags;
			*s = probe;
		} else if ((probe.n_in || probe.n_eg || probe.xdp) && st->nifs < HM_MAX_LINKS) {
			st->ifs[st->nifs++] = probe;
		}
	}
	if (ifs)
		if_freenameindex(ifs);
	for_each_pin(dir, add_map_status, st);
}

static const char *ids_str(const __u32 *ids, int n, char *buf, size_t len)
{
	size_t off = 0;

	if (!n)
		return "-";
	buf[0] = '\0';
	for (int i = 0; i < n && i < HM_STATUS_IDS && off < len; i++)
		off += snprintf(buf + off, len - off, "%s%u", i ? "," : "", ids[i]);
	return buf;
}

static const char *iface_note(const struct iface_status *s)
{
	if (!s->present)
		return "gone, or in another network namespace";
	if (s->xdp && s->n_in)
		return "xdp and tc ingress both count: load again";
	if (!s->recorded)
		return "not loaded by hm-load with this pin directory";
	if (!s->xdp && !s->n_in && !s->n_eg)
		return "nothing attached any more";
	return "";
}

static void print_status_text(const char *dir, const struct status *st)
{
	char in[64], eg[64], disp[32], xid[16];

	if (st->nmaps)
		printf("httpmon maps in %s (map layout %u)\n", dir, st->layout);
	else
		printf("no httpmon maps in %s\n", dir);
	if (st->elsewhere)
		printf("they serve another network namespace (%s): its interfaces are listed as "
		       "hm-load recorded them there\n",
		       st->owner.what);
	if (st->nifs) {
		printf("\n%-15s %7s  %-10s  %-10s  %-7s  %6s  %-14s  %-7s  %s\n", "IFACE", "IFINDEX",
		       "TC_INGRESS", "TC_EGRESS", "XDP", "XDP_ID", "DISPATCHER", "CLSACT", "NOTE");
		for (int i = 0; i < st->nifs; i++) {
			const struct iface_status *s = &st->ifs[i];

			snprintf(xid, sizeof(xid), "%u", s->x.prog_id);
			if (s->x.dispatcher)
				snprintf(disp, sizeof(disp), "%u (%d prog%s)", s->x.main_id,
					 s->x.nprogs, s->x.nprogs == 1 ? "" : "s");
			else
				snprintf(disp, sizeof(disp), "%s", s->xdp ? "none" : "-");
			printf("%-15s %7u  %-10s  %-10s  %-7s  %6s  %-14s  %-7s  %s\n", s->ifname,
			       s->ifindex, ids_str(s->tc_in, s->n_in, in, sizeof(in)),
			       ids_str(s->tc_eg, s->n_eg, eg, sizeof(eg)),
			       s->xdp ? hm_xdp_mode_str(s->x.mode) : "-", s->xdp ? xid : "-", disp,
			       s->flags & HM_LINK_CREATED_CLSACT ? "hm-load" : "-", iface_note(s));
		}
	}
	if (st->nmaps) {
		printf("\n%-16s %-16s %8s %8s  %s\n", "MAP", "TYPE", "ENTRIES", "MAX", "FILL");
		for (int i = 0; i < st->nmaps; i++) {
			const struct map_status *m = &st->maps[i];
			const char *type = libbpf_bpf_map_type_str(m->type);

			if (m->entries < 0)
				printf("%-16s %-16s %8s %8u  %s\n", m->name, type ? type : "?", "-",
				       m->max_entries, "array");
			else
				printf("%-16s %-16s %8lld %8u  %.1f%%\n", m->name, type ? type : "?",
				       m->entries, m->max_entries,
				       m->max_entries ? 100.0 * m->entries / m->max_entries : 0.0);
		}
	}
}

static void json_str(const char *s)
{
	putchar('"');
	for (; *s; s++) {
		if (*s == '"' || *s == '\\')
			printf("\\%c", *s);
		else if ((unsigned char)*s < 0x20)
			printf("\\u%04x", *s);
		else
			putchar(*s);
	}
	putchar('"');
}

static void json_ids(const __u32 *ids, int n)
{
	putchar('[');
	for (int i = 0; i < n && i < HM_STATUS_IDS; i++)
		printf("%s%u", i ? ", " : "", ids[i]);
	putchar(']');
}

static void print_status_json(const char *dir, const struct status *st)
{
	printf("{\"pin_path\": ");
	json_str(dir);
	printf(", \"pinned\": %s, \"layout_version\": ", st->nmaps ? "true" : "false");
	if (st->layout)
		printf("%u", st->layout);
	else
		printf("null");
	printf(", \"other_netns\": ");
	if (st->elsewhere)
		json_str(st->owner.what);
	else
		printf("null");
	printf(",\n \"interfaces\": [");
	for (int i = 0; i < st->nifs; i++) {
		const struct iface_status *s = &st->ifs[i];

		printf("%s\n  {\"iface\": ", i ? "," : "");
		json_str(s->ifname);
		printf(", \"ifindex\": %u, \"present\": %s, \"recorded\": %s, \"tc_ingress\": ",
		       s->ifindex, s->present ? "true" : "false", s->recorded ? "true" : "false");
		json_ids(s->tc_in, s->n_in);
		printf(", \"tc_egress\": ");
		json_ids(s->tc_eg, s->n_eg);
		printf(", \"xdp\": ");
		if (s->xdp)
			printf("{\"mode\": \"%s\", \"prog_id\": %u, \"dispatcher_id\": %u, "
			       "\"programs\": %d}",
			       hm_xdp_mode_str(s->x.mode), s->x.prog_id,
			       s->x.dispatcher ? s->x.main_id : 0, s->x.nprogs);
		else
			printf("null");
		printf(", \"created_clsact\": %s}",
		       s->flags & HM_LINK_CREATED_CLSACT ? "true" : "false");
	}
	printf("%s],\n \"maps\": [", st->nifs ? "\n " : "");
	for (int i = 0; i < st->nmaps; i++) {
		const struct map_status *m = &st->maps[i];
		const char *type = libbpf_bpf_map_type_str(m->type);

		printf("%s\n  {\"name\": ", i ? "," : "");
		json_str(m->name);
		printf(", \"type\": ");
		json_str(type ? type : "unknown");
		if (m->entries < 0)
			printf(", \"entries\": null");
		else
			printf(", \"entries\": %lld", m->entries);
		printf(", \"max_entries\": %u}", m->max_entries);
	}
	printf("%s]}\n", st->nmaps ? "\n " : "");
}

static int do_status(const struct load_opts *o)
{
	struct status *st = calloc(1, sizeof(*st));
	bool loaded;

	if (!st)
		return -ENOMEM;
	collect_status(o->pin_dir, st);
	if (o->json)
		print_status_json(o->pin_dir, st);
	else
		print_status_text(o->pin_dir, st);
	loaded = st->nmaps > 0 || st->nifs > 0;
	free(st);
	return loaded ? 0 : -ENOENT;
}

int main(int argc, char **argv)
{
	enum { OPT_XDP = 256, OPT_ALL, OPT_STATUS, OPT_JSON, OPT_IDLE, OPT_HOSTS, OPT_NO_HOSTS };
	static const struct option longopts[] = {
		{ "xdp", optional_argument, NULL, OPT_XDP },
		{ "ports", required_argument, NULL, 'p' },
		{ "group-by", required_argument, NULL, 'r' },
		{ "route", required_argument, NULL, 'R' },
		{ "route-prefix", required_argument, NULL, 'X' },
		{ "clear-routes", no_argument, NULL, 'C' },
		{ "max-routes", required_argument, NULL, 'M' },
		{ "idle-timeout", required_argument, NULL, OPT_IDLE },
		{ "hosts", no_argument, NULL, OPT_HOSTS },
		{ "no-hosts", no_argument, NULL, OPT_NO_HOSTS },
		{ "client-prefix", required_argument, NULL, '4' },
		{ "client-prefix6", required_argument, NULL, '6' },
		{ "all-ports", no_argument, NULL, 'A' },
		{ "detach", no_argument, NULL, 'd' },
		{ "all", no_argument, NULL, OPT_ALL },
		{ "status", no_argument, NULL, OPT_STATUS },
		{ "json", no_argument, NULL, OPT_JSON },
		{ "pin-path", required_argument, NULL, 'P' },
		{ "group", required_argument, NULL, 'g' },
		{ "reader-group", required_argument, NULL, 'g' }, /* --group's first name */
		{ "verbose", no_argument, NULL, 'v' },
		{ "version", no_argument, NULL, 'V' },
		{ "help", no_argument, NULL, 'h' },
		{},
	};
	static struct load_opts o;
	unsigned long num;
	char msg[256];
	int c, err, ifindex = 0;
	bool settings;

	hm_prog_name = "hm-load";
	hm_log_max = HM_LOG_INFO;
	o.hosts = -1;
	opterr = 0;
	while ((c = getopt_long(argc, argv, ":p:r:dP:g:vVh", longopts, NULL)) != -1) {
		switch (c) {
		case OPT_XDP:
			if (!optarg || !strcmp(optarg, "native"))
				o.xdp_mode = XDP_MODE_NATIVE;
			else if (!strcmp(optarg, "generic") || !strcmp(optarg, "skb"))
				o.xdp_mode = XDP_MODE_SKB;
			else
				return hm_usage_error("invalid --xdp mode '%s' (native or generic)",
						      optarg);
			break;
		case 'p':
			err = parse_ports(optarg, &o);
			if (err)
				return HM_EXIT_USAGE;
			break;
		case 'A':
			o.all_ports = true;
			break;
		case 'r':
			if (hm_route_group_parse(optarg, &o.route_cfg, msg, sizeof(msg)))
				return hm_usage_error("%s", msg);
			o.set_group_by = true;
			break;
		case 'R':
		case 'X':
			if (o.npatterns >= HM_MAX_PATTERNS)
				return hm_usage_error("at most %d --route/--route-prefix patterns",
						      HM_MAX_PATTERNS);
			if (hm_route_pattern_parse(optarg, c == 'X', &o.patterns[o.npatterns], msg,
						   sizeof(msg)))
				return hm_usage_error("%s", msg);
			o.npatterns++;
			o.set_patterns = true;
			break;
		case 'C':
			o.set_patterns = true;
			break;
		case 'M':
			if (!hm_parse_ulong(optarg, 1, HM_MAX_ROUTES - HM_ROUTE_FIRST, &num))
				return hm_usage_error("invalid --max-routes '%s' (1-%d)", optarg,
						      HM_MAX_ROUTES - HM_ROUTE_FIRST);
			o.route_cfg.max_routes = num;
			o.set_max_routes = true;
			break;
		case OPT_HOSTS:
		case OPT_NO_HOSTS:
			if (o.hosts >= 0 && o.hosts != (c == OPT_HOSTS))
				return hm_usage_error("--hosts and --no-hosts contradict each other");
			o.hosts = c == OPT_HOSTS;
			break;
		case OPT_IDLE:
			if (!hm_parse_ulong(optarg, 0, HM_IDLE_TIMEOUT_MAX, &num))
				return hm_usage_error("invalid --idle-timeout '%s' (0-%d seconds)",
						      optarg, HM_IDLE_TIMEOUT_MAX);
			o.route_cfg.idle_timeout = num;
			o.set_idle_timeout = true;
			break;
		case '4':
			if (!hm_parse_ulong(optarg, 0, 32, &num))
				return hm_usage_error("invalid --client-prefix '%s' (0-32)", optarg);
			o.route_cfg.client_prefix4 = num == 32 ? 0 : num;
			o.set_prefix4 = true;
			break;
		case '6':
			if (!hm_parse_ulong(optarg, 0, 128, &num))
				return hm_usage_error("invalid --client-prefix6 '%s' (0-128)", optarg);
			o.route_cfg.client_prefix6 = num == 128 ? 0 : num;
			o.set_prefix6 = true;
			break;
		case 'd':
			o.detach = true;
			break;
		case OPT_ALL:
			o.all = true;
			break;
		case OPT_STATUS:
			o.status = true;
			break;
		case OPT_JSON:
			o.json = true;
			break;
		case 'P':
			o.pin_dir = optarg;
			break;
		case 'g':
			if (parse_group(optarg, &o.gid))
				return HM_EXIT_USAGE;
			o.group = optarg;
			break;
		case 'v':
			hm_log_max = hm_log_max == HM_LOG_INFO ? HM_LOG_DEBUG : HM_LOG_DEBUG + 1;
			break;
		case 'V':
			printf("hm-load %s (map layout %d)\n", HM_VERSION, HM_LAYOUT_VERSION);
			return HM_EXIT_OK;
		case 'h':
			printf(usage_text, HM_MAX_PATTERNS, HM_MAX_ROUTES - HM_ROUTE_FIRST,
			       HM_MAX_ROUTES - HM_ROUTE_FIRST,
			       HM_IDLE_TIMEOUT_MAX, HM_IDLE_TIMEOUT_DEFAULT);
			return HM_EXIT_OK;
		case ':':
		default:
			return hm_getopt_error(c, argv, longopts);
		}
	}
	settings = o.set_ports || o.all_ports || o.group || o.set_group_by || o.set_patterns ||
		   o.set_max_routes || o.set_prefix4 || o.set_prefix6 || o.set_idle_timeout ||
		   o.hosts >= 0 ||
		   o.xdp_mode != XDP_MODE_UNSPEC;
	if (o.status && (o.detach || o.all || settings))
		return hm_usage_error("--status takes no options but --json, --pin-path and -v");
	if (o.json && !o.status)
		return hm_usage_error("--json goes with --status");
	if (o.all && !o.detach)
		return hm_usage_error("--all goes with --detach");
	if (o.detach && settings)
		return hm_usage_error("--detach takes no options but --all, --pin-path and -v");
	if (o.status || o.all) {
		if (optind != argc)
			return hm_usage_error("%s takes no interface name",
					      o.status ? "--status" : "--detach --all");
	} else if (optind != argc - 1) {
		return hm_usage_error(optind >= argc ? "missing interface name"
						     : "expected one interface name");
	}
	if (o.set_ports && o.all_ports)
		return hm_usage_error("--ports and --all-ports exclude each other");
	o.ifname = optind < argc ? argv[optind] : NULL;
	o.pin_dir = hm_pin_dir(o.pin_dir);
	hm_libbpf_logging();
	hm_libxdp_logging();

	if (geteuid() != 0) {
		hm_err("must run as root (needs CAP_BPF, CAP_NET_ADMIN and bpffs write access)");
		return HM_EXIT_PERM;
	}
	if (o.ifname) {
		ifindex = if_nametoindex(o.ifname);
		if (!ifindex && !o.detach) {
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
	if (o.status)
		err = do_status(&o);
	else if (o.all)
		err = do_detach_all(&o);
	else if (o.detach && !ifindex)
		err = do_detach_gone(&o);
	else if (o.detach)
		err = do_detach(&o, ifindex);
	else
		err = do_load(&o, ifindex);
	if ((o.detach || o.status) && err == -ENOENT)
		return HM_EXIT_NOMAPS;
	return err ? hm_exit_code(err == -ENOENT ? -EIO : err) : HM_EXIT_OK;
}
