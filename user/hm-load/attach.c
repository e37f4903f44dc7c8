// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * attach.c - hm-load IFACE: load the object on the pinned maps (or pin new
 * ones), write the settings, attach ingress (tc or XDP) and egress (tc).
 */
#include <errno.h>
#include <limits.h>
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
#include "tc.h"
#include "xdp.h"
#include "httpmon.skel.h"

/*
 * hm_config and hm_route_pats are the maps only hm-load writes, but they are
 * not frozen (BPF_MAP_FREEZE): every later hm-load rewrites them in place,
 * which is how --ports, --group-by and --route apply at once to every program
 * sharing the maps, also to programs in other network namespaces and those
 * plain tc loaded.  New maps in their place would need every such program
 * loaded again, and a freeze cannot be undone.  The pins' modes keep writers
 * out instead: root only.
 */
int write_config(int fd, int pats_fd, const struct load_opts *o)
{
	struct hm_config *cfg = calloc(1, sizeof(*cfg));
	__u32 zero = 0;
	int err = 0;

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
	if (o->hosts == HOSTS_OFF)
		cfg->flags |= HM_CFG_NO_HOSTS;
	else if (o->hosts == HOSTS_ON)
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
		int pfd = pats_fd;

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
struct httpmon *open_object(const char *dir)
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
/*
 * A bridge and one of its ports both monitored by one map set: a packet
 * switched through the bridge crosses both.  Warns once per such pair with
 * the interface just loaded.
 */
static void warn_overlap(const char *ifname, int ifindex, int links_fd)
{
	struct hm_link links[HM_MAX_LINKS];
	int n = hm_links_read(links_fd, links, HM_MAX_LINKS), master, other_master;
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

/* A driver without native XDP: generic mode, said once. */
static enum xdp_attach_mode native_to_generic(const char *ifname)
{
	hm_warn("the driver of '%s' has no native XDP: attaching in generic mode, which runs once "
		"the kernel has built the packet's skb and costs more per packet",
		ifname);
	return XDP_MODE_SKB;
}

/* Native mode falls back to generic, with one warning, when the driver has no XDP. */
static int xdp_attach(const struct load_opts *o, int ifindex, enum xdp_attach_mode *mode,
		      __u32 *prog_id)
{
	int err = xdp_attach_once(o, ifindex, *mode, prog_id);

	if (err == -EOPNOTSUPP && *mode == XDP_MODE_NATIVE) {
		*mode = native_to_generic(o->ifname);
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
		hm_info("'%s' runs its XDP programs in generic mode: joining them there",
			o->ifname);
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
	if (mode == XDP_MODE_NATIVE && hm_xdp_native_supported(ifindex) == 0)
		mode = native_to_generic(o->ifname);
	err = xdp_check_others(o, &st, &mode);
	if (err)
		return err;
	keep = found && st.mode == mode &&
	       prog_uses_map(st.prog_id, hm_map_id(bpf_map__fd(skel->maps.hm_config)));

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
			hm_info("replacing httpmon's XDP program on %s (%s mode, id %u)", o->ifname,
				hm_xdp_mode_str(st.mode), st.prog_id);
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

int do_load(const struct load_opts *o, int ifindex)
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
		       err == -EINVAL ?
			       " (maps of another layout? hm-load --detach, then load again)" :
			       "");
		goto out;
	}
	err = write_config(bpf_map__fd(skel->maps.hm_config), bpf_map__fd(skel->maps.hm_route_pats),
			   o);
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
