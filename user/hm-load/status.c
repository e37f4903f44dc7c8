// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* status.c - hm-load --status: what is attached where, and how full each map is. */
#include <errno.h>
#include <net/if.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include "hm_common.h"
#include "hm_mapio.h"
#include "hm_pin.h"
#include "load.h"
#include "hm_json.h"
#include "tc.h"
#include "xdp.h"

#define HM_STATUS_IDS 4

struct iface_status {
	char ifname[IF_NAMESIZE];
	__u32 ifindex;
	bool present; /* an interface of this network namespace */
	bool recorded; /* hm_links has it */
	__u32 flags; /* its hm_links flags */
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

static int add_map_status(const char *path, void *arg)
{
	struct status *st = arg;
	struct bpf_map_info info = {};
	struct map_status *m;
	__u32 len = sizeof(info);
	__u64 n;
	int fd = bpf_obj_get(path);

	if (fd < 0)
		return 0;
	if (st->nmaps < (int)(sizeof(st->maps) / sizeof(st->maps[0])) &&
	    !bpf_obj_get_info_by_fd(fd, &info, &len)) {
		m = &st->maps[st->nmaps++];
		snprintf(m->name, sizeof(m->name), "%s", strrchr(path, '/') + 1);
		m->type = info.type;
		m->max_entries = info.max_entries;
		m->entries = -1;
		if (is_hash(info.type) && !hm_count_keys(fd, m->name, &n))
			m->entries = (long long)n;
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
	int fd = hm_links_open(dir, false), n = 0;

	st->elsewhere = owner_elsewhere(dir, &st->owner);
	if (fd >= 0) {
		n = hm_links_read(fd, links, HM_MAX_LINKS);
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
		printf("\n%-15s %7s  %-10s  %-10s  %-7s  %6s  %-14s  %-7s  %s\n", "IFACE",
		       "IFINDEX", "TC_INGRESS", "TC_EGRESS", "XDP", "XDP_ID", "DISPATCHER",
		       "CLSACT", "NOTE");
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
				printf("%-16s %-16s %8lld %8u  %.1f%%\n", m->name,
				       type ? type : "?", m->entries, m->max_entries,
				       m->max_entries ? 100.0 * m->entries / m->max_entries : 0.0);
		}
	}
}

static void print_sockets_text(const struct sock_status *ss)
{
	static const char *const role[HM_ROLES] = { "servers", "clients" };

	for (int r = 0; r < HM_ROLES; r++) {
		if (!ss[r].maps && !ss[r].links)
			continue;
		printf("\nsocket source, %s: %d program%s attached, %s; maps in %s\n", role[r],
		       ss[r].links, ss[r].links == 1 ? "" : "s",
		       ss[r].cgroup ? "processes of one cgroup (hm-load --cgroup)" :
				      "every process",
		       ss[r].dir);
	}
}

static void json_ids(const __u32 *ids, int n)
{
	putchar('[');
	for (int i = 0; i < n && i < HM_STATUS_IDS; i++)
		printf("%s%u", i ? ", " : "", ids[i]);
	putchar(']');
}

static void print_status_json(const char *dir, const struct status *st,
			      const struct sock_status *ss)
{
	printf("{\"pin_path\": ");
	hm_json_str(stdout, dir);
	printf(", \"pinned\": %s, \"layout_version\": ", st->nmaps ? "true" : "false");
	if (st->layout)
		printf("%u", st->layout);
	else
		printf("null");
	printf(", \"other_netns\": ");
	if (st->elsewhere)
		hm_json_str(stdout, st->owner.what);
	else
		printf("null");
	printf(",\n \"interfaces\": [");
	for (int i = 0; i < st->nifs; i++) {
		const struct iface_status *s = &st->ifs[i];

		printf("%s\n  {\"iface\": ", i ? "," : "");
		hm_json_str(stdout, s->ifname);
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
		hm_json_str(stdout, m->name);
		printf(", \"type\": ");
		hm_json_str(stdout, type ? type : "unknown");
		if (m->entries < 0)
			printf(", \"entries\": null");
		else
			printf(", \"entries\": %lld", m->entries);
		printf(", \"max_entries\": %u}", m->max_entries);
	}
	printf("%s],\n \"sockets\": ", st->nmaps ? "\n " : "");
	for (int r = 0; r < HM_ROLES; r++) {
		printf(r ? ",\n \"sockets_clients\": " : "");
		if (ss[r].maps || ss[r].links) {
			printf("{\"pin_path\": ");
			hm_json_str(stdout, ss[r].dir);
			printf(", \"programs\": %d, \"cgroup_filter\": %s}", ss[r].links,
			       ss[r].cgroup ? "true" : "false");
		} else {
			printf("null");
		}
	}
	printf("}\n");
}

int do_status(const struct load_opts *o)
{
	struct status *st = calloc(1, sizeof(*st));
	struct sock_status ss[HM_ROLES];
	bool loaded;

	if (!st)
		return -ENOMEM;
	collect_status(o->pin_dir, st);
	for (int r = 0; r < HM_ROLES; r++)
		sockets_status(o->pin_dir, r, &ss[r]);
	if (o->json) {
		print_status_json(o->pin_dir, st, ss);
	} else {
		print_status_text(o->pin_dir, st);
		print_sockets_text(ss);
	}
	loaded = st->nmaps > 0 || st->nifs > 0 || ss[0].maps || ss[0].links || ss[1].maps ||
		 ss[1].links;
	free(st);
	return loaded ? 0 : -ENOENT;
}
