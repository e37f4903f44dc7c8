// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* tc.c - httpmon's filters on an interface's clsact hooks. */
#include <errno.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <linux/if_link.h>
#include <linux/netlink.h>
#include <linux/pkt_cls.h>
#include <linux/rtnetlink.h>
#include <sys/socket.h>
#include <bpf/bpf.h>

#include "tc.h"

static __u32 hook_parent(enum bpf_tc_attach_point where)
{
	return TC_H_MAKE(TC_H_CLSACT, where == BPF_TC_INGRESS ? TC_H_MIN_INGRESS : TC_H_MIN_EGRESS);
}

bool hm_prog_named(__u32 prog_id, const char *name, bool prefix)
{
	struct bpf_prog_info info = {};
	__u32 len = sizeof(info);
	int fd = bpf_prog_get_fd_by_id(prog_id);
	bool match;

	if (fd < 0)
		return false;
	match = !bpf_obj_get_info_by_fd(fd, &info, &len) &&
		(prefix ? !strncmp(info.name, name, strlen(name)) : !strcmp(info.name, name));
	close(fd);
	return match;
}

/* The BPF program id in a filter's TCA_OPTIONS, 0 when it has none. */
static __u32 filter_prog_id(struct nlmsghdr *nh, struct tcmsg *tc)
{
	int alen = nh->nlmsg_len - NLMSG_LENGTH(sizeof(*tc));
	struct rtattr *rta;

	for (rta = (struct rtattr *)((char *)tc + NLMSG_ALIGN(sizeof(*tc))); RTA_OK(rta, alen);
	     rta = RTA_NEXT(rta, alen)) {
		struct rtattr *opt;
		int olen;

		if (rta->rta_type != TCA_OPTIONS)
			continue;
		olen = RTA_PAYLOAD(rta);
		for (opt = RTA_DATA(rta); RTA_OK(opt, olen); opt = RTA_NEXT(opt, olen))
			if (opt->rta_type == TCA_BPF_ID)
				return *(__u32 *)RTA_DATA(opt);
	}
	return 0;
}

/*
 * An RTM_GETTFILTER dump over rtnetlink: libbpf can only query a filter
 * whose handle and priority are known, and plain tc's filters have ones we
 * did not choose.
 */
int hm_tc_list(int ifindex, enum bpf_tc_attach_point where, struct hm_tc_filter *out, int max)
{
	__u32 parent = hook_parent(where);
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

			if (nh->nlmsg_type == NLMSG_DONE) {
				done = true;
				break;
			}
			if (nh->nlmsg_type == NLMSG_ERROR) {
				err = ((struct nlmsgerr *)NLMSG_DATA(nh))->error;
				goto out;
			}
			if (nh->nlmsg_type != RTM_NEWTFILTER || tc->tcm_parent != parent ||
			    !tc->tcm_handle)
				continue; /* handle 0: the per-priority header, not a filter */
			if (n < max) {
				out[n].handle = tc->tcm_handle;
				out[n].prio = TC_H_MAJ(tc->tcm_info) >> 16;
				out[n].prog_id = filter_prog_id(nh, tc);
				out[n].ours =
					out[n].prog_id &&
					hm_prog_named(out[n].prog_id, HM_TC_PROG_PREFIX, true);
			}
			n++;
		}
	}
out:
	close(fd);
	if (err == -EINVAL || err == -ENOENT)
		return 0; /* no clsact qdisc: no filters */
	return err ? err : n;
}

int hm_tc_our_ids(int ifindex, enum bpf_tc_attach_point where, __u32 *ids, int max)
{
	struct hm_tc_filter f[HM_TC_MAX_FILTERS];
	int n = hm_tc_list(ifindex, where, f, HM_TC_MAX_FILTERS), found = 0;

	if (n < 0)
		return n;
	for (int i = 0; i < n && i < HM_TC_MAX_FILTERS; i++) {
		if (!f[i].ours)
			continue;
		if (found < max)
			ids[found] = f[i].prog_id;
		found++;
	}
	return found;
}

static int detach_filter(int ifindex, enum bpf_tc_attach_point where, const struct hm_tc_filter *f)
{
	DECLARE_LIBBPF_OPTS(bpf_tc_hook, hook, .ifindex = ifindex, .attach_point = where);
	DECLARE_LIBBPF_OPTS(bpf_tc_opts, opts, .handle = f->handle, .priority = f->prio);

	return bpf_tc_detach(&hook, &opts);
}

int hm_tc_attach(int ifindex, enum bpf_tc_attach_point where, int prog_fd)
{
	DECLARE_LIBBPF_OPTS(bpf_tc_hook, hook, .ifindex = ifindex, .attach_point = where);
	DECLARE_LIBBPF_OPTS(bpf_tc_opts, opts, .handle = HM_TC_HANDLE, .priority = HM_TC_PRIO,
			    .prog_fd = prog_fd, .flags = BPF_TC_F_REPLACE);
	struct hm_tc_filter f[HM_TC_MAX_FILTERS];
	int n = hm_tc_list(ifindex, where, f, HM_TC_MAX_FILTERS), err;

	if (n < 0)
		return n;
	for (int i = 0; i < n && i < HM_TC_MAX_FILTERS; i++) {
		if (!f[i].ours || (f[i].handle == HM_TC_HANDLE && f[i].prio == HM_TC_PRIO))
			continue;
		err = detach_filter(ifindex, where, &f[i]);
		if (err)
			return err;
	}
	return bpf_tc_attach(&hook, &opts);
}

int hm_tc_detach(int ifindex, enum bpf_tc_attach_point where, int *left)
{
	struct hm_tc_filter f[HM_TC_MAX_FILTERS];
	int n = hm_tc_list(ifindex, where, f, HM_TC_MAX_FILTERS), removed = 0, err;

	*left = n > 0 ? n : 0;
	if (n < 0)
		return n;
	for (int i = 0; i < n && i < HM_TC_MAX_FILTERS; i++) {
		if (!f[i].ours)
			continue;
		err = detach_filter(ifindex, where, &f[i]);
		if (err)
			return err;
		removed++;
		(*left)--;
	}
	return removed;
}

/* IFLA_MASTER and IFLA_LINKINFO's IFLA_INFO_KIND of one RTM_NEWLINK message. */
static void link_attrs(struct nlmsghdr *nh, int *master, bool *is_bridge)
{
	struct ifinfomsg *ifi = NLMSG_DATA(nh);
	int alen = nh->nlmsg_len - NLMSG_LENGTH(sizeof(*ifi));
	struct rtattr *rta;

	for (rta = IFLA_RTA(ifi); RTA_OK(rta, alen); rta = RTA_NEXT(rta, alen)) {
		struct rtattr *info;
		int ilen;

		if (rta->rta_type == IFLA_MASTER && RTA_PAYLOAD(rta) >= sizeof(__u32))
			*master = *(__u32 *)RTA_DATA(rta);
		if (rta->rta_type != IFLA_LINKINFO)
			continue;
		ilen = RTA_PAYLOAD(rta);
		for (info = RTA_DATA(rta); RTA_OK(info, ilen); info = RTA_NEXT(info, ilen))
			if (info->rta_type == IFLA_INFO_KIND)
				*is_bridge = !strncmp(RTA_DATA(info), "bridge", RTA_PAYLOAD(info));
	}
}

/* Over rtnetlink, not sysfs: /sys shows the namespace it was mounted in, not ours. */
int hm_iface_master(int ifindex, int *master, bool *is_bridge)
{
	struct {
		struct nlmsghdr nh;
		struct ifinfomsg ifi;
	} req = {
		.nh.nlmsg_len = NLMSG_LENGTH(sizeof(struct ifinfomsg)),
		.nh.nlmsg_type = RTM_GETLINK,
		.nh.nlmsg_flags = NLM_F_REQUEST,
		.nh.nlmsg_seq = (__u32)time(NULL),
		.ifi.ifi_family = AF_UNSPEC,
		.ifi.ifi_index = ifindex,
	};
	char buf[16384];
	struct nlmsghdr *nh;
	ssize_t len;
	int fd, err = -ENOENT;

	*master = 0;
	*is_bridge = false;
	fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE);
	if (fd < 0)
		return -errno;
	if (send(fd, &req, req.nh.nlmsg_len, 0) < 0) {
		err = -errno;
		goto out;
	}
	len = recv(fd, buf, sizeof(buf), 0);
	if (len < 0) {
		err = -errno;
		goto out;
	}
	for (nh = (struct nlmsghdr *)buf; NLMSG_OK(nh, len); nh = NLMSG_NEXT(nh, len)) {
		if (nh->nlmsg_type == NLMSG_ERROR) {
			err = ((struct nlmsgerr *)NLMSG_DATA(nh))->error;
			break;
		}
		if (nh->nlmsg_type == RTM_NEWLINK) {
			link_attrs(nh, master, is_bridge);
			err = 0;
			break;
		}
	}
out:
	close(fd);
	return err;
}
