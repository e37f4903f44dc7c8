/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * load.h - hm-load's parts: main.c (options, the mode and what goes with
 * it), lock.c (the pin directory's lock), pins.c (the pinned set), netns.c
 * (the namespace it serves), attach.c, detach.c, status.c; tc.c and xdp.c
 * attach to the hooks.  Functions return 0 or a negative errno, said once.
 */
#ifndef HM_LOAD_H
#define HM_LOAD_H

#include <limits.h>
#include <stdbool.h>
#include <sys/types.h>
#include <xdp/libxdp.h>
#include "httpmon.h"

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

/* What hm-load is asked to do: one mode per run (main.c decides it from the options). */
enum load_mode {
	MODE_ATTACH, /* hm-load IFACE: load, or load again with new settings */
	MODE_DETACH, /* --detach IFACE */
	MODE_DETACH_ALL, /* --detach --all */
	MODE_STATUS, /* --status [--json] */
	MODE_SOCKETS, /* --sockets: the socket source */
	MODE_DETACH_SOCKETS, /* --detach --sockets */
	MODES,
};

struct load_opts {
	enum load_mode mode;
	const char *ifname;
	const char *pin_dir;
	const char *group; /* --group as given, NULL: pins keep their group and mode */
	const char *cgroup; /* --sockets --cgroup PATH; NULL: every process */
	bool clients; /* --sockets --clients: the client role's set too */
	gid_t gid;
	enum xdp_attach_mode xdp_mode; /* XDP_MODE_UNSPEC: tc ingress */
	bool json; /* --status --json */
	bool set_ports;
	bool all_ports;
	bool set_group_by; /* route_mode/depth/query below are to be written */
	bool set_patterns; /* the pattern list below replaces the pinned one */
	bool set_max_routes;
	bool set_prefix4, set_prefix6;
	bool set_idle_timeout;
	enum { HOSTS_AS_IS, HOSTS_ON, HOSTS_OFF } hosts; /* --hosts, --no-hosts */
	struct hm_config route_cfg; /* route_* and client_prefix* fields only */
	unsigned int npatterns;
	struct hm_route_pattern patterns[HM_MAX_PATTERNS];
	__u64 ports[HM_PORT_WORDS];
};

struct hm_owner {
	__u64 netns_dev; /* st_dev and st_ino of /proc/self/ns/net */
	__u64 netns_ino;
	__u64 netns_cookie; /* SO_NETNS_COOKIE: never reused within a boot; 0 unknown */
};

/* Where the owning namespace can be reached, for messages: "ip netns NAME" and how to enter it. */
struct netns_place {
	char what[PATH_MAX + 64]; /* e.g. "ip netns hmA", "the one of process 12 (nginx)" */
	char path[PATH_MAX]; /* e.g. /run/netns/hmA, for nsenter --net= */
};

struct httpmon;
struct bpf_map;

/* lock.c */
int lock_pin_dir(const char *dir, bool create);

/* netns.c */
int this_netns(struct hm_owner *o);
int owner_check(const char *dir, bool *takeover);
int owner_write(const char *dir, const struct hm_owner *me);
void unpin_owner(const char *dir);
bool owner_elsewhere(const char *dir, struct netns_place *where);

/* pins.c */
int for_each_pin(const char *dir, int (*fn)(const char *path, void *arg), void *arg);
int open_pinned(const char *dir, const char *name);
int set_pin_group(const char *dir, const char *group, gid_t gid);
bool prog_uses_map(__u32 prog_id, __u32 map_id);
bool map_in_use(__u32 map_id);
bool links_have_flag(int links_fd, __u32 flag);
void release_libxdp_dir(__u32 flags);
void release_aging_timer(int fd);
void kick_aging(struct httpmon *skel);
bool unpin_maps(const char *dir, bool force);
int check_pins(struct httpmon *skel, const char *dir);

/* sockets.c: the socket source, a set per role in PIN_DIR/HM_SOCK_SUBDIR and HM_SOCK_CLIENT_SUBDIR */
struct sock_status {
	char dir[PATH_MAX];
	bool maps; /* its map set is pinned */
	bool cgroup; /* scoped to hm-load --cgroup's cgroup */
	int links; /* program links pinned */
};
int sock_dir(const char *pin_dir, unsigned int role, char *buf, size_t len);
int do_sockets_load(const struct load_opts *o);
int do_sockets_detach(const struct load_opts *o);
int remove_sock_sets(const char *pin_dir);
int sockets_status(const char *pin_dir, unsigned int role, struct sock_status *st);

/* attach.c */
int write_config(int config_fd, int patterns_fd, const struct load_opts *o);
struct httpmon *open_object(const char *dir);
int do_load(const struct load_opts *o, int ifindex);

/* detach.c */
int do_detach(const struct load_opts *o, int ifindex);
int do_detach_gone(const struct load_opts *o);
int do_detach_all(const struct load_opts *o);

/* status.c */
int do_status(const struct load_opts *o);

#endif /* HM_LOAD_H */
