// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * hm-load - attach the httpmon classifier to an interface and exit.
 *
 * The programs stay attached through their tc filters and the maps stay
 * pinned, so monitoring goes on with no process running.
 */
#include <errno.h>
#include <getopt.h>
#include <grp.h>
#include <limits.h>
#include <net/if.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <linux/if_ether.h>
#include <linux/netlink.h>
#include <linux/pkt_cls.h>
#include <linux/rtnetlink.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "hm_common.h"
#include "hm_pin.h"
#include "hm_route.h"
#include "httpmon.skel.h"

/* Our filters' identity on clsact: a fixed handle and priority, so a reload replaces. */
#define HM_TC_HANDLE 0x484d
#define HM_TC_PRIO 0x484d
#define HM_PROG_PREFIX "hm_tc_"

static const char usage_text[] =
	"Usage: hm-load [OPTIONS] IFACE\n"
	"       hm-load --detach [OPTIONS] IFACE\n"
	"\n"
	"Attach the httpmon HTTP/1.x monitor to IFACE (clsact ingress and egress),\n"
	"pin its maps and exit.  Monitoring goes on with no process running; read it\n"
	"with hm-stat, clear it with hm-reset.  Loading on more interfaces shares one\n"
	"set of maps.  Loading again on the same interface replaces the programs, so\n"
	"nothing is counted twice.\n"
	"\n"
	"Options:\n"
	"  -p, --ports LIST       watch only these TCP ports (comma-separated, e.g.\n"
	"                         80,8080); the filter is a pinned map and applies at\n"
	"                         once to every interface sharing the maps\n"
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
	"      --max-routes N     routes to tell apart (2-%d, default %d); later new\n"
	"                         routes are counted as _other\n"
	"      --client-prefix N  count IPv4 clients per /N network (1-32)\n"
	"      --client-prefix6 N\n"
	"                         count IPv6 clients per /N network (1-128)\n"
	"                         (0 for either: per address again)\n"
	"  -d, --detach           remove httpmon's filters from IFACE; the clsact\n"
	"                         qdisc too if hm-load created it and it is now empty;\n"
	"                         and the pinned maps once no httpmon program uses them\n"
	"  -P, --pin-path DIR     where the maps are pinned (default: $HTTPMON_PIN_PATH\n"
	"                         or " HM_PIN_DIR_DEFAULT ", where tc pins them)\n"
	"  -g, --reader-group GRP let members of group GRP read the maps (hm-stat as a\n"
	"                         non-root user): pins become root:GRP mode 0640\n"
	"  -v, --verbose          more messages (twice: libbpf's too)\n"
	"  -V, --version          print the version and the map layout version\n"
	"  -h, --help             this text\n"
	"\n"
	"Exit status:\n"
	"  0 success, 1 the kernel refused (message says why), 2 bad usage,\n"
	"  3 --detach: nothing of httpmon on IFACE, 5 permission denied (run as root),\n"
	"  6 no such interface\n"
	"\n"
	"Environment:\n"
	"  HTTPMON_PIN_PATH  pin directory when --pin-path is not given\n"
	"\n"
	"Examples:\n"
	"  hm-load br-2b4e89c112d8            monitor a docker bridge\n"
	"  hm-load --ports 8080,8888 eth0     only two services on eth0\n"
	"  hm-load --reader-group adm eth0    let group adm run hm-stat\n"
	"  hm-load --group-by query:s eth0    routes by the value of ?s=\n"
	"  hm-load --route '/api/users/{id}' --route-prefix /static eth0\n"
	"                                     operator-chosen route labels\n"
	"  hm-load --client-prefix 24 eth0    clients per /24 network\n"
	"  hm-load --detach br-2b4e89c112d8   stop monitoring it\n"
	"\n"
	"The same object also loads with iproute2 alone:\n"
	"  tc qdisc add dev IFACE clsact\n"
	"  tc filter add dev IFACE ingress bpf da obj " HM_OBJ_DIR "/httpmon.o sec tc/ingress\n"
	"  tc filter add dev IFACE egress bpf da obj " HM_OBJ_DIR "/httpmon.o sec tc/egress\n";

struct load_opts {
	const char *ifname;
	const char *pin_dir;
	const char *group;
	bool detach;
	bool set_ports;
	bool all_ports;
	bool set_group_by;    /* route_mode/depth/query below are to be written */
	bool set_patterns;    /* the pattern list below replaces the pinned one */
	bool set_max_routes;
	bool set_prefix4, set_prefix6;
	struct hm_config route_cfg; /* route_* and client_prefix* fields only */
	unsigned int npatterns;
	struct hm_route_pattern patterns[HM_MAX_PATTERNS];
	__u64 ports[HM_PORT_WORDS];
};

static int parse_ports(const char *list, struct load_opts *o)
{
	char *copy = strdup(list), *tok, *save = NULL;
	unsigned long port;
	int n = 0;

	if (!copy)
		return -ENOMEM;
	for (tok = strtok_r(copy, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
		if (!hm_parse_ulong(tok, 1, 65535, &port)) {
			free(copy);
			return hm_usage_error("invalid port '%s' in --ports (1-65535)", tok);
		}
		o->ports[port / 64] |= 1ULL << (port % 64);
		n++;
	}
	free(copy);
	if (!n)
		return hm_usage_error("--ports needs at least one port");
	o->set_ports = true;
	return 0;
}

static int mkdir_p(const char *path)
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
	if (mkdir(buf, 0755) && errno != EEXIST)
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

static int give_to_group(const char *path, void *arg)
{
	const struct group *gr = arg;

	if (chown(path, 0, gr->gr_gid) || chmod(path, 0640)) {
		hm_err("cannot set group of '%s': %s", path, strerror(errno));
		return -errno;
	}
	return 0;
}

static int set_reader_group(const char *dir, const char *group)
{
	struct group *gr = getgrnam(group);
	int err;

	if (!gr) {
		hm_err("no such group '%s'", group);
		return -ENOENT;
	}
	err = for_each_pin(dir, give_to_group, gr);
	if (err)
		return err;
	if (chown(dir, -1, gr->gr_gid) || chmod(dir, 0750)) {
		hm_err("cannot set group of '%s': %s", dir, strerror(errno));
		return -errno;
	}
	return 0;
}

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
	if (o->set_prefix4)
		cfg->client_prefix4 = o->route_cfg.client_prefix4;
	if (o->set_prefix6)
		cfg->client_prefix6 = o->route_cfg.client_prefix6;
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

static int attach_one(int ifindex, enum bpf_tc_attach_point where, int prog_fd)
{
	DECLARE_LIBBPF_OPTS(bpf_tc_hook, hook, .ifindex = ifindex, .attach_point = where);
	DECLARE_LIBBPF_OPTS(bpf_tc_opts, opts, .handle = HM_TC_HANDLE,
			    .priority = HM_TC_PRIO, .prog_fd = prog_fd,
			    .flags = BPF_TC_F_REPLACE);

	return bpf_tc_attach(&hook, &opts);
}

static int do_load(const struct load_opts *o, int ifindex)
{
	DECLARE_LIBBPF_OPTS(bpf_tc_hook, hook, .ifindex = ifindex,
			    .attach_point = BPF_TC_INGRESS | BPF_TC_EGRESS);
	DECLARE_LIBBPF_OPTS(bpf_object_open_opts, open_opts, .pin_root_path = o->pin_dir);
	struct hm_link link = { .ifindex = ifindex };
	struct httpmon *skel = NULL;
	bool created_qdisc = false;
	char err_msg[256];
	int err, links_fd;

	err = hm_bpffs_ensure(err_msg, sizeof(err_msg));
	if (err) {
		hm_err("%s", err_msg);
		return err;
	}
	err = mkdir_p(o->pin_dir);
	if (err) {
		hm_err("cannot create pin directory '%s': %s", o->pin_dir, strerror(-err));
		return err;
	}

	skel = httpmon__open_opts(&open_opts);
	if (!skel) {
		err = -errno;
		hm_err("cannot open the BPF object: %s", strerror(-err));
		return err;
	}
	/* libbpf 1.1 does not know the tc/ingress and tc/egress section names. */
	bpf_program__set_type(skel->progs.hm_tc_ingress, BPF_PROG_TYPE_SCHED_CLS);
	bpf_program__set_type(skel->progs.hm_tc_egress, BPF_PROG_TYPE_SCHED_CLS);
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

	err = bpf_tc_hook_create(&hook);
	if (err && err != -EEXIST) {
		hm_err("cannot add a clsact qdisc to '%s': %s", o->ifname, strerror(-err));
		goto out;
	}
	created_qdisc = !err;

	err = attach_one(ifindex, BPF_TC_INGRESS, bpf_program__fd(skel->progs.hm_tc_ingress));
	if (!err)
		err = attach_one(ifindex, BPF_TC_EGRESS,
				 bpf_program__fd(skel->progs.hm_tc_egress));
	if (err) {
		hm_err("cannot attach to '%s': %s", o->ifname, strerror(-err));
		goto out;
	}

	links_fd = bpf_map__fd(skel->maps.hm_links);
	struct hm_link old;
	if (!bpf_map_lookup_elem(links_fd, &ifindex, &old))
		link.flags = old.flags; /* a reload keeps what the first load created */
	if (created_qdisc)
		link.flags |= HM_LINK_CREATED_CLSACT;
	snprintf(link.ifname, sizeof(link.ifname), "%s", o->ifname);
	if (bpf_map_update_elem(links_fd, &ifindex, &link, BPF_ANY))
		hm_warn("cannot record '%s' in map '%s': %s", o->ifname, HM_MAP_LINKS,
			strerror(errno));

	if (o->group) {
		err = set_reader_group(o->pin_dir, o->group);
		if (err)
			goto out;
	}
	hm_info("attached to %s (tc ingress+egress), maps pinned in %s", o->ifname, o->pin_dir);
out:
	if (err && created_qdisc) {
		hook.attach_point = BPF_TC_INGRESS | BPF_TC_EGRESS;
		bpf_tc_hook_destroy(&hook);
	}
	httpmon__destroy(skel);
	return err;
}

/* A filter on one of IFACE's clsact hooks, as reported by an RTM_GETTFILTER dump. */
struct tc_filter {
	__u32 parent;
	__u32 handle;
	__u32 prio;
	__u32 prog_id;
};

/*
 * Lists the filters on IFACE's clsact ingress or egress hook with rtnetlink:
 * libbpf can only query a filter whose handle and priority are known, and the
 * filters added by plain tc have ones we did not choose.  Returns the number
 * of filters (all of them, ours or not) and stores up to max of them.
 */
static int tc_list_filters(int ifindex, __u32 parent, struct tc_filter *out, int max)
{
	struct {
		struct nlmsghdr nh;
		struct tcmsg tc;
	} req = {
		.nh.nlmsg_len = NLMSG_LENGTH(sizeof(struct tcmsg)),
		.nh.nlmsg_type = RTM_GETTFILTER,
		.nh.nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP,
		.nh.nlmsg_seq = (__u32)time(NULL),
		.tc.tcm_family = AF_UNSPEC,
		.tc.tcm_ifindex = ifindex,
		.tc.tcm_parent = parent,
	};
	char buf[16384];
	int fd, n = 0, err = 0;
	bool done = false;

	fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE);
	if (fd < 0)
		return -errno;
	if (send(fd, &req, req.nh.nlmsg_len, 0) < 0) {
		err = -errno;
		goto out;
	}
	while (!done) {
		ssize_t len = recv(fd, buf, sizeof(buf), 0);
		struct nlmsghdr *nh;

		if (len < 0) {
			err = -errno;
			goto out;
		}
		for (nh = (struct nlmsghdr *)buf; NLMSG_OK(nh, len); nh = NLMSG_NEXT(nh, len)) {
			struct tcmsg *tc = NLMSG_DATA(nh);
			struct rtattr *rta;
			int alen;
			__u32 prog_id = 0;

			if (nh->nlmsg_type == NLMSG_DONE) {
				done = true;
				break;
			}
			if (nh->nlmsg_type == NLMSG_ERROR) {
				struct nlmsgerr *e = NLMSG_DATA(nh);

				err = e->error;
				goto out;
			}
			if (nh->nlmsg_type != RTM_NEWTFILTER || tc->tcm_parent != parent ||
			    !tc->tcm_handle)
				continue; /* handle 0: the per-priority header, not a filter */
			alen = nh->nlmsg_len - NLMSG_LENGTH(sizeof(*tc));
			for (rta = (struct rtattr *)((char *)tc + NLMSG_ALIGN(sizeof(*tc)));
			     RTA_OK(rta, alen); rta = RTA_NEXT(rta, alen)) {
				struct rtattr *opt;
				int olen;

				if (rta->rta_type != TCA_OPTIONS)
					continue;
				olen = RTA_PAYLOAD(rta);
				for (opt = RTA_DATA(rta); RTA_OK(opt, olen); opt = RTA_NEXT(opt, olen))
					if (opt->rta_type == TCA_BPF_ID)
						prog_id = *(__u32 *)RTA_DATA(opt);
			}
			if (n < max) {
				out[n].parent = parent;
				out[n].handle = tc->tcm_handle;
				out[n].prio = TC_H_MAJ(tc->tcm_info) >> 16;
				out[n].prog_id = prog_id;
			}
			n++;
		}
	}
out:
	close(fd);
	return err ? err : n;
}

static bool prog_is_ours(__u32 prog_id)
{
	struct bpf_prog_info info = {};
	__u32 len = sizeof(info);
	int fd = bpf_prog_get_fd_by_id(prog_id);
	bool ours;

	if (fd < 0)
		return false;
	ours = !bpf_obj_get_info_by_fd(fd, &info, &len) &&
	       !strncmp(info.name, HM_PROG_PREFIX, strlen(HM_PROG_PREFIX));
	close(fd);
	return ours;
}

/* Removes every httpmon filter (ours or plain tc's) from one hook; returns how many. */
static int detach_hook(const struct load_opts *o, int ifindex, enum bpf_tc_attach_point where,
		       __u32 parent, int *remaining)
{
	DECLARE_LIBBPF_OPTS(bpf_tc_hook, hook, .ifindex = ifindex, .attach_point = where);
	struct tc_filter f[64];
	int n, removed = 0;

	n = tc_list_filters(ifindex, parent, f, 64);
	if (n < 0) {
		*remaining = 0;
		return n == -EINVAL || n == -ENOENT ? 0 : n; /* no clsact qdisc */
	}
	*remaining = n;
	for (int i = 0; i < n && i < 64; i++) {
		DECLARE_LIBBPF_OPTS(bpf_tc_opts, opts, .handle = f[i].handle,
				    .priority = f[i].prio);
		int err;

		if (!prog_is_ours(f[i].prog_id))
			continue;
		err = bpf_tc_detach(&hook, &opts);
		if (err) {
			hm_err("cannot detach from '%s': %s", o->ifname, strerror(-err));
			return err;
		}
		removed++;
		(*remaining)--;
	}
	return removed;
}

static __u32 map_id_of(int fd)
{
	struct bpf_map_info info = {};
	__u32 len = sizeof(info);

	return bpf_obj_get_info_by_fd(fd, &info, &len) ? 0 : info.id;
}

/* True when some loaded program (attached anywhere) still uses the map with this id. */
static bool map_in_use(__u32 map_id)
{
	__u32 id = 0;

	while (!bpf_prog_get_next_id(id, &id)) {
		__u32 ids[64], nr = 64, len;
		struct bpf_prog_info info = {};
		int fd = bpf_prog_get_fd_by_id(id);

		if (fd < 0)
			continue;
		info.nr_map_ids = nr;
		info.map_ids = (__u64)(unsigned long)ids;
		len = sizeof(info);
		if (!bpf_obj_get_info_by_fd(fd, &info, &len)) {
			for (__u32 i = 0; i < info.nr_map_ids && i < nr; i++) {
				if (ids[i] == map_id) {
					close(fd);
					return true;
				}
			}
		}
		close(fd);
	}
	return false;
}

static int unpin_one(const char *path, void *arg)
{
	(void)arg;
	if (unlink(path) && errno != ENOENT)
		hm_warn("cannot unpin '%s': %s", path, strerror(errno));
	return 0;
}

/*
 * Unpins the map set once no program uses it.  Detached programs are freed
 * after an RCU grace period, so wait a little for them to go.
 */
static void unpin_if_unused(const char *dir)
{
	int fd = open_pinned(dir, HM_MAP_CONFIG);
	__u32 id = fd >= 0 ? map_id_of(fd) : 0;
	bool used = true;

	if (fd >= 0)
		close(fd);
	if (!id)
		return;
	for (int tries = 0; tries < 40 && (used = map_in_use(id)); tries++)
		usleep(50 * 1000);
	if (used) {
		hm_info("maps in %s stay pinned: other httpmon programs still use them", dir);
		return;
	}
	for_each_pin(dir, unpin_one, NULL);
	if (strcmp(dir, HM_PIN_DIR_DEFAULT))
		rmdir(dir); /* only when empty; tc's own globals directory is left alone */
	hm_info("unpinned the maps in %s", dir);
}

static int do_detach(const struct load_opts *o, int ifindex)
{
	DECLARE_LIBBPF_OPTS(bpf_tc_hook, hook, .ifindex = ifindex,
			    .attach_point = BPF_TC_INGRESS | BPF_TC_EGRESS);
	struct hm_link link = {};
	int in_left, eg_left, in_rm, eg_rm, links_fd;
	char err_msg[256];
	bool created = false;

	if (hm_bpffs_ensure(err_msg, sizeof(err_msg)) == 0) {
		links_fd = open_pinned(o->pin_dir, HM_MAP_LINKS);
		if (links_fd >= 0) {
			created = !bpf_map_lookup_elem(links_fd, &ifindex, &link) &&
				  (link.flags & HM_LINK_CREATED_CLSACT);
			bpf_map_delete_elem(links_fd, &ifindex);
			close(links_fd);
		}
	}

	in_rm = detach_hook(o, ifindex, BPF_TC_INGRESS,
			    TC_H_MAKE(TC_H_CLSACT, TC_H_MIN_INGRESS), &in_left);
	if (in_rm < 0)
		return in_rm;
	eg_rm = detach_hook(o, ifindex, BPF_TC_EGRESS,
			    TC_H_MAKE(TC_H_CLSACT, TC_H_MIN_EGRESS), &eg_left);
	if (eg_rm < 0)
		return eg_rm;

	if (created && !in_left && !eg_left) {
		int err = bpf_tc_hook_destroy(&hook);

		if (err && err != -ENOENT && err != -EINVAL)
			hm_warn("cannot remove the clsact qdisc of '%s': %s", o->ifname,
				strerror(-err));
	}
	unpin_if_unused(o->pin_dir);
	if (!in_rm && !eg_rm) {
		hm_err("httpmon is not attached to '%s'", o->ifname);
		return -ENOENT;
	}
	hm_info("detached from %s", o->ifname);
	return 0;
}

int main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "ports", required_argument, NULL, 'p' },
		{ "group-by", required_argument, NULL, 'r' },
		{ "route", required_argument, NULL, 'R' },
		{ "route-prefix", required_argument, NULL, 'X' },
		{ "clear-routes", no_argument, NULL, 'C' },
		{ "max-routes", required_argument, NULL, 'M' },
		{ "client-prefix", required_argument, NULL, '4' },
		{ "client-prefix6", required_argument, NULL, '6' },
		{ "all-ports", no_argument, NULL, 'A' },
		{ "detach", no_argument, NULL, 'd' },
		{ "pin-path", required_argument, NULL, 'P' },
		{ "reader-group", required_argument, NULL, 'g' },
		{ "verbose", no_argument, NULL, 'v' },
		{ "version", no_argument, NULL, 'V' },
		{ "help", no_argument, NULL, 'h' },
		{},
	};
	static struct load_opts o;
	unsigned long num;
	char msg[256];
	int c, err, ifindex;

	hm_prog_name = "hm-load";
	hm_log_max = HM_LOG_INFO;
	opterr = 0;
	while ((c = getopt_long(argc, argv, "p:r:dP:g:vVh", longopts, NULL)) != -1) {
		switch (c) {
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
			if (!hm_parse_ulong(optarg, HM_ROUTE_FIRST, HM_MAX_ROUTES, &num))
				return hm_usage_error("invalid --max-routes '%s' (%d-%d)", optarg,
						      HM_ROUTE_FIRST, HM_MAX_ROUTES);
			o.route_cfg.max_routes = num;
			o.set_max_routes = true;
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
		case 'P':
			o.pin_dir = optarg;
			break;
		case 'g':
			o.group = optarg;
			break;
		case 'v':
			hm_log_max = hm_log_max == HM_LOG_INFO ? HM_LOG_DEBUG : HM_LOG_DEBUG + 1;
			break;
		case 'V':
			printf("hm-load %s (map layout %d)\n", HM_VERSION, HM_LAYOUT_VERSION);
			return HM_EXIT_OK;
		case 'h':
			printf(usage_text, HM_MAX_PATTERNS, HM_MAX_ROUTES, HM_MAX_ROUTES);
			return HM_EXIT_OK;
		default:
			return hm_bad_option(argv[optind - 1]);
		}
	}
	if (optind != argc - 1)
		return hm_usage_error(optind >= argc ? "missing interface name"
						     : "expected one interface name");
	if (o.set_ports && o.all_ports)
		return hm_usage_error("--ports and --all-ports exclude each other");
	if (o.detach && (o.set_ports || o.all_ports || o.group || o.set_group_by ||
			 o.set_patterns || o.set_max_routes || o.set_prefix4 || o.set_prefix6))
		return hm_usage_error("--detach takes no options but --pin-path and -v");
	o.ifname = argv[optind];
	o.pin_dir = hm_pin_dir(o.pin_dir);
	hm_libbpf_logging();

	if (geteuid() != 0) {
		hm_err("must run as root (needs CAP_BPF, CAP_NET_ADMIN and bpffs write access)");
		return HM_EXIT_PERM;
	}
	ifindex = if_nametoindex(o.ifname);
	if (!ifindex) {
		hm_err("no such interface '%s'", o.ifname);
		return HM_EXIT_NODEV;
	}
	err = o.detach ? do_detach(&o, ifindex) : do_load(&o, ifindex);
	if (o.detach && err == -ENOENT)
		return HM_EXIT_NOMAPS;
	return err ? hm_exit_code(err == -ENOENT ? -EIO : err) : HM_EXIT_OK;
}
