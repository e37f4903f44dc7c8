// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* detach.c - hm-load --detach IFACE, of an interface that is gone, and --detach --all. */
#include <errno.h>
#include <net/if.h>
#include <stdio.h>
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
		hm_err("cannot detach from '%s': %s", ifname,
		       strerror(-(in_rm < 0 ? in_rm : eg_rm)));
		return in_rm < 0 ? in_rm : eg_rm;
	}
	if (recorded && (link.flags & HM_LINK_CREATED_CLSACT) && !in_left && !eg_left) {
		int err = bpf_tc_hook_destroy(&hook);

		if (err && err != -ENOENT && err != -EINVAL)
			hm_warn("cannot remove the clsact qdisc of '%s': %s", ifname,
				strerror(-err));
	}
	if (recorded)
		bpf_map_delete_elem(links_fd, &ifindex);
	if (xdp + in_rm + eg_rm)
		hm_info("detached from %s (%s)", ifname,
			xdp ? (in_rm ? "xdp and tc ingress, tc egress" : "xdp ingress, tc egress") :
			      "tc ingress+egress");
	return xdp + in_rm + eg_rm;
}

/* The pin directory's lock, once this network namespace may change the set there. */
static int lock_owned(const char *dir)
{
	int lock_fd = lock_pin_dir(dir, false), err;
	bool takeover;

	if (lock_fd < 0)
		return lock_fd;
	err = owner_check(dir, &takeover);
	if (err) {
		close(lock_fd);
		return err;
	}
	return lock_fd;
}

int do_detach(const struct load_opts *o, int ifindex)
{
	int lock_fd, links_fd, removed;
	__u32 flags = 0;

	lock_fd = lock_owned(o->pin_dir);
	if (lock_fd < 0)
		return lock_fd;
	links_fd = hm_links_open(o->pin_dir, false);
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
int do_detach_gone(const struct load_opts *o)
{
	struct hm_link links[HM_MAX_LINKS];
	int lock_fd, links_fd, n, found = 0;
	__u32 flags = 0;

	lock_fd = lock_owned(o->pin_dir);
	if (lock_fd < 0)
		return lock_fd;
	links_fd = hm_links_open(o->pin_dir, false);
	n = links_fd >= 0 ? hm_links_read(links_fd, links, HM_MAX_LINKS) : 0;
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
int do_detach_all(const struct load_opts *o)
{
	struct hm_link links[HM_MAX_LINKS];
	struct if_nameindex *ifs, *i;
	int lock_fd, links_fd, n, removed = 0, err = 0, r;
	__u32 flags = 0;
	bool unpinned;

	lock_fd = lock_owned(o->pin_dir);
	if (lock_fd < 0)
		return lock_fd;
	ifs = if_nameindex();
	if (!ifs) {
		err = -errno;
		hm_err("cannot list the interfaces: %s", strerror(-err));
		close(lock_fd);
		return err;
	}
	links_fd = hm_links_open(o->pin_dir, false);
	for (i = ifs; i->if_index; i++) {
		r = detach_iface(i->if_name, i->if_index, links_fd, &flags);
		if (r < 0)
			err = r;
		else
			removed += r;
	}
	if_freenameindex(ifs);
	if (links_fd >= 0) {
		n = hm_links_read(links_fd, links, HM_MAX_LINKS);
		for (int k = 0; k < n; k++) {
			hm_info("%s (ifindex %u) is gone or in another network namespace: "
				"forgetting it",
				links[k].ifname, links[k].ifindex);
			flags |= links[k].flags & HM_LINK_CREATED_XDP_DIR;
			bpf_map_delete_elem(links_fd, &links[k].ifindex);
		}
		close(links_fd);
	}
	if (err) {
		close(lock_fd);
		return err;
	}
	/* The socket sets live in the pin directory too: they go first, so it can go. */
	r = remove_sock_sets(o->pin_dir);
	unpinned = unpin_maps(o->pin_dir, true);
	release_libxdp_dir(flags);
	close(lock_fd);
	if (r > 0) {
		removed += r;
		if (strcmp(o->pin_dir, HM_PIN_DIR_DEFAULT))
			rmdir(o->pin_dir); /* only when empty */
	}
	if (!removed && !unpinned) {
		hm_err("httpmon is attached nowhere in this network namespace and has no maps in %s",
		       o->pin_dir);
		return -ENOENT;
	}
	return 0;
}
