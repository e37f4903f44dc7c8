// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* xdp.c - httpmon's XDP ingress program on an interface, through libxdp. */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <linux/ethtool.h>
#include <linux/genetlink.h>
#include <linux/netlink.h>
#include <linux/sockios.h>
#include <net/if.h>
#include <sys/ioctl.h>
#include <sys/socket.h>

#include "hm_common.h"
#include "xdp.h"

/* The netdev generic netlink family (linux/netdev.h, newer than these headers). */
#define HM_NETDEV_FAMILY "netdev"
#define HM_NETDEV_CMD_DEV_GET 1
#define HM_NETDEV_A_DEV_IFINDEX 1
#define HM_NETDEV_A_DEV_XDP_FEATURES 3
#define HM_NETDEV_XDP_ACT_BASIC (1ULL << 0) /* XDP_PASS/DROP/ABORTED in the driver */

static bool libxdp_quiet;

static int hm_libxdp_print(enum libxdp_print_level level, const char *fmt, va_list ap)
{
	hm_vlog(level == LIBXDP_WARN && !libxdp_quiet ? HM_LOG_INFO : HM_LOG_DEBUG, "libxdp: ", fmt,
		ap);
	return 0;
}

void hm_libxdp_logging(void)
{
	libxdp_set_print(hm_libxdp_print);
}

const char *hm_xdp_mode_str(enum xdp_attach_mode mode)
{
	switch (mode) {
	case XDP_MODE_NATIVE:
		return "native";
	case XDP_MODE_SKB:
		return "generic";
	case XDP_MODE_HW:
		return "offload";
	default:
		return "-";
	}
}

static bool is_ours(const struct xdp_program *p)
{
	const char *name = xdp_program__name(p);

	return name && !strcmp(name, HM_XDP_PROG_NAME);
}

/* The interface's XDP programs, or NULL (errno-style code in *err, 0 when there are none). */
static struct xdp_multiprog *get_multiprog(int ifindex, int *err)
{
	struct xdp_multiprog *mp = xdp_multiprog__get_from_ifindex(ifindex);

	*err = libxdp_get_error(mp);
	if (*err || !mp) {
		if (*err == -ENOENT)
			*err = 0;
		return NULL;
	}
	return mp;
}

/* Our program in mp: the main one when attached alone, else a dispatcher entry. */
static struct xdp_program *find_in(struct xdp_multiprog *mp)
{
	struct xdp_program *p;

	if (xdp_multiprog__is_legacy(mp)) {
		p = xdp_multiprog__main_prog(mp);
		return p && is_ours(p) ? p : NULL;
	}
	for (p = xdp_multiprog__next_prog(NULL, mp); p; p = xdp_multiprog__next_prog(p, mp))
		if (is_ours(p))
			return p;
	return NULL;
}

int hm_xdp_find(int ifindex, struct hm_xdp_state *st)
{
	struct xdp_multiprog *mp;
	struct xdp_program *p, *main;
	int err;

	memset(st, 0, sizeof(*st));
	mp = get_multiprog(ifindex, &err);
	if (!mp)
		return err;
	main = xdp_multiprog__main_prog(mp);
	if (main) {
		st->mode = xdp_multiprog__attach_mode(mp);
		st->dispatcher = !xdp_multiprog__is_legacy(mp);
		st->main_id = xdp_program__id(main);
		snprintf(st->main_name, sizeof(st->main_name), "%s", xdp_program__name(main));
		st->nprogs = st->dispatcher ? xdp_multiprog__program_count(mp) : 1;
	}
	p = find_in(mp);
	if (p)
		st->prog_id = xdp_program__id(p);
	xdp_multiprog__close(mp);
	return p ? 1 : 0;
}

int hm_xdp_attach(struct bpf_object *obj, int ifindex, enum xdp_attach_mode mode, __u32 *prog_id)
{
	struct xdp_program *prog = xdp_program__from_bpf_obj(obj, HM_XDP_SECTION);
	int err = libxdp_get_error(prog);

	if (err)
		return err;
	hm_libbpf_quiet(true);
	libxdp_quiet = true;
	err = xdp_program__set_run_prio(prog, HM_XDP_RUN_PRIO);
	if (!err)
		err = xdp_program__attach(prog, ifindex, mode, 0);
	libxdp_quiet = false;
	hm_libbpf_quiet(false);
	if (!err)
		*prog_id = xdp_program__id(prog);
	xdp_program__close(prog); /* the object stays the caller's */
	return err;
}

int hm_xdp_detach(int ifindex)
{
	struct xdp_multiprog *mp;
	struct xdp_program *p;
	int err;

	mp = get_multiprog(ifindex, &err);
	if (!mp)
		return err;
	p = find_in(mp);
	if (!p)
		err = 0;
	else if (xdp_multiprog__is_legacy(mp))
		err = xdp_multiprog__detach(mp);
	else
		err = xdp_program__detach(p, ifindex, xdp_multiprog__attach_mode(mp), 0);
	xdp_multiprog__close(mp);
	return err ? err : p != NULL;
}

void hm_xdp_close_stray_fds(void)
{
	DIR *d = opendir("/proc/self/fd");
	struct dirent *e;
	char link[64], target[64];

	if (!d)
		return;
	while ((e = readdir(d))) {
		int fd = atoi(e->d_name);
		ssize_t n;

		if (fd <= 2 || fd == dirfd(d))
			continue;
		snprintf(link, sizeof(link), "/proc/self/fd/%d", fd);
		n = readlink(link, target, sizeof(target) - 1);
		if (n < 0)
			continue;
		target[n] = '\0';
		if (!strcmp(target, "anon_inode:bpf-prog"))
			close(fd);
	}
	closedir(d);
}

struct genl_msg {
	struct nlmsghdr nh;
	struct genlmsghdr g;
	char attrs[64];
};

static void genl_put(struct genl_msg *m, __u16 type, const void *data, __u16 len)
{
	struct nlattr *a = (struct nlattr *)((char *)m + NLMSG_ALIGN(m->nh.nlmsg_len));

	a->nla_type = type;
	a->nla_len = NLA_HDRLEN + len;
	memcpy((char *)a + NLA_HDRLEN, data, len);
	m->nh.nlmsg_len = NLMSG_ALIGN(m->nh.nlmsg_len) + NLA_ALIGN(a->nla_len);
}

/* Sends m and finds attribute type in the answer: its payload length, or a negative errno. */
static int genl_ask(int fd, struct genl_msg *m, __u16 type, void *out, size_t len)
{
	char buf[8192];
	struct nlmsghdr *nh = (struct nlmsghdr *)buf;
	ssize_t n;

	if (send(fd, m, m->nh.nlmsg_len, 0) < 0)
		return -errno;
	n = recv(fd, buf, sizeof(buf), 0);
	if (n < 0)
		return -errno;
	if (!NLMSG_OK(nh, n))
		return -EPROTO;
	if (nh->nlmsg_type == NLMSG_ERROR)
		return ((struct nlmsgerr *)NLMSG_DATA(nh))->error ?: -ENOENT;
	for (int off = NLMSG_LENGTH(GENL_HDRLEN); off + NLA_HDRLEN <= (int)nh->nlmsg_len;) {
		struct nlattr *a = (struct nlattr *)(buf + off);
		int plen = a->nla_len - NLA_HDRLEN;

		if (a->nla_len < NLA_HDRLEN || off + a->nla_len > (int)nh->nlmsg_len)
			break;
		if ((a->nla_type & NLA_TYPE_MASK) == type) {
			memcpy(out, (char *)a + NLA_HDRLEN,
			       (size_t)plen < len ? (size_t)plen : len);
			return plen;
		}
		off += NLA_ALIGN(a->nla_len);
	}
	return -ENOENT;
}

int hm_xdp_native_supported(int ifindex)
{
	struct genl_msg m = {
		.nh.nlmsg_len = NLMSG_LENGTH(GENL_HDRLEN),
		.nh.nlmsg_type = GENL_ID_CTRL,
		.nh.nlmsg_flags = NLM_F_REQUEST,
		.g.cmd = CTRL_CMD_GETFAMILY,
		.g.version = 1,
	};
	__u32 index = ifindex;
	__u64 features = 0;
	__u16 family = 0;
	int fd, err;

	fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_GENERIC);
	if (fd < 0)
		return -errno;
	genl_put(&m, CTRL_ATTR_FAMILY_NAME, HM_NETDEV_FAMILY, sizeof(HM_NETDEV_FAMILY));
	err = genl_ask(fd, &m, CTRL_ATTR_FAMILY_ID, &family, sizeof(family));
	if (err >= 0) {
		memset(&m, 0, sizeof(m));
		m.nh.nlmsg_len = NLMSG_LENGTH(GENL_HDRLEN);
		m.nh.nlmsg_type = family;
		m.nh.nlmsg_flags = NLM_F_REQUEST;
		m.g.cmd = HM_NETDEV_CMD_DEV_GET;
		m.g.version = 1;
		genl_put(&m, HM_NETDEV_A_DEV_IFINDEX, &index, sizeof(index));
		err = genl_ask(fd, &m, HM_NETDEV_A_DEV_XDP_FEATURES, &features, sizeof(features));
	}
	close(fd);
	return err < 0 ? err : !!(features & HM_NETDEV_XDP_ACT_BASIC);
}

const char *hm_libxdp_dir(char *buf, size_t len)
{
	const char *root = getenv(XDP_BPFFS_ENVVAR);

	snprintf(buf, len, "%s/xdp", root && *root ? root : "/sys/fs/bpf");
	return buf;
}

bool hm_iface_is_veth(const char *ifname)
{
	struct ethtool_drvinfo info = { .cmd = ETHTOOL_GDRVINFO };
	struct ifreq ifr = {};
	int fd, err;

	fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return false;
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", ifname);
	ifr.ifr_data = (void *)&info;
	err = ioctl(fd, SIOCETHTOOL, &ifr);
	close(fd);
	return !err && !strcmp(info.driver, "veth");
}
