// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* harness.c - loading the classifier with private maps, feeding it frames, reading its maps. */
#include "harness.h"

struct bpf_object *obj;
int prog_in, prog_eg, prog_xdp;
bool via_xdp; /* client-to-server frames go through the XDP program */
int fd_monitor, fd_conns, fd_config, fd_routes, fd_route_ids, fd_route_pats, fd_aging;
int fd_hist, fd_method_ids, fd_row_ids, prog_kick;
struct hm_maps maps; /* the same fds, for the pin library's interval functions */
int ncpus, failures, checks;
const char *current;

void check(bool cond, const char *what, const char *fmt, ...)
{
	va_list ap;

	checks++;
	if (cond) {
		printf("ok - %s: %s\n", current, what);
		return;
	}
	if (!strncmp(current, "route", 5))
		route_dump();
	failures++;
	printf("not ok - %s: %s: ", current, what);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	printf("\n");
}

uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000000000ULL + ts.tv_nsec;
}

void clear_hash(int fd)
{
	struct bpf_map_info info = {};
	__u32 len = sizeof(info);
	char key[64], next[64];
	size_t key_size;

	bpf_obj_get_info_by_fd(fd, &info, &len);
	key_size = info.key_size;

	while (bpf_map_get_next_key(fd, NULL, next) == 0) {
		memcpy(key, next, key_size);
		if (bpf_map_delete_elem(fd, key))
			break;
	}
}

/* Rewriting the sweep's entry cancels its timer: the next new connection arms a fresh one. */
void reset_aging(void)
{
	static char zero_value[4096];
	__u32 zero = 0;

	bpf_map_update_elem(fd_aging, &zero, zero_value, BPF_ANY);
}

/* Everything back to a fresh map set: both generations, routes, methods, connections. */
void reset_maps(void)
{
	struct hm_config cfg = {};
	__u32 zero = 0;

	hm_gen_clear(&maps, 0);
	hm_gen_clear(&maps, 1);
	clear_hash(fd_conns);
	clear_hash(fd_route_ids);
	clear_hash(fd_method_ids);
	clear_hash(maps.host_ids);
	clear_hash(maps.hr_ids);
	for (__u32 slot = 0; slot < HM_SEQ_SLOTS; slot++)
		bpf_map_update_elem(maps.seq, &slot, &zero, BPF_ANY);
	bpf_map_update_elem(fd_config, &zero, &cfg, BPF_ANY);
	reset_aging();
}

/* Runs one frame through the ingress (or egress) program; the verdict must never change. */
void run(bool egress, const uint8_t *frame, size_t len)
{
	LIBBPF_OPTS(bpf_test_run_opts, opts, .data_in = frame, .data_size_in = len, .repeat = 1);
	bool xdp = via_xdp && !egress;
	int err = bpf_prog_test_run_opts(xdp ? prog_xdp : egress ? prog_eg : prog_in, &opts);
	int want = xdp ? XDP_PASS : TC_ACT_UNSPEC;

	if (err || (int)opts.retval != want) {
		failures++;
		printf("not ok - %s: test_run err=%d retval=%d (must be %s)\n", current, err,
		       (int)opts.retval, xdp ? "XDP_PASS" : "TC_ACT_UNSPEC");
	}
}

/* Sends one segment of payload from the client (ingress) or the server (egress). */
void send_seg(struct flow *f, bool from_client, int flags, const char *payload, size_t len)
{
	uint8_t frame[PKT_MAX];
	size_t n = pkt_build(frame, f, from_client, flags, payload, len);

	run(!from_client, frame, n);
}

void send_str(struct flow *f, bool from_client, const char *s)
{
	send_seg(f, from_client, 0, s, strlen(s));
}

void client_key(const struct flow *f, struct hm_client_key *k)
{
	memset(k, 0, sizeof(*k));
	if (f->v6) {
		memcpy(k->ip.a, f->cli, 16);
	} else {
		k->ip.a[10] = k->ip.a[11] = 0xff;
		memcpy(&k->ip.a[12], f->cli, 4);
	}
}

/* Adds entry idx of a per-CPU stats array to out. */
void add_stats(int fd, __u32 idx, struct hm_stats *out)
{
	struct hm_stats *percpu = calloc(ncpus, sizeof(*percpu)), sum, pair[2];

	if (!bpf_map_lookup_elem(fd, &idx, percpu)) {
		hm_stats_sum(&sum, percpu, ncpus);
		pair[0] = *out;
		pair[1] = sum;
		hm_stats_sum(out, pair, 2);
	}
	free(percpu);
}

/* The row of key (kind and key fields set), both generations summed; false: no row. */
bool row_stats(struct hm_row_key key, struct hm_stats *out)
{
	struct hm_row_val val;
	bool found = false;

	memset(out, 0, sizeof(*out));
	for (key.gen = 0; key.gen < HM_GENS; key.gen++) {
		if (bpf_map_lookup_elem(fd_row_ids, &key, &val))
			continue;
		add_stats(hm_row_array(&maps, key.kind),
			  key.gen * hm_row_capacity(key.kind) + val.id, out);
		found = true;
	}
	return found;
}

bool client_stats(const struct flow *f, struct hm_stats *out)
{
	struct hm_client_key k;
	struct hm_row_key key = { .kind = HM_ROW_CLIENT };

	client_key(f, &k);
	key.addr = k.ip;
	return row_stats(key, out);
}

bool port_stats(uint16_t port, struct hm_stats *out)
{
	struct hm_row_key key = { .kind = HM_ROW_PORT, .port = port };

	return row_stats(key, out);
}

__u64 monitor(enum hm_monitor_counter c)
{
	__u64 *v = calloc(ncpus, sizeof(__u64)), sum = 0;
	__u32 key = c;

	for (int gen = 0; gen < HM_GENS; gen++) {
		key = gen * HM_MON_MAX + c;
		if (!bpf_map_lookup_elem(fd_monitor, &key, v))
			for (int i = 0; i < ncpus; i++)
				sum += v[i];
	}
	free(v);
	return sum;
}

__u64 live_conns(void)
{
	char key[64], next[64];
	__u64 n = 0;
	void *prev = NULL;

	while (bpf_map_get_next_key(fd_conns, prev, next) == 0) {
		memcpy(key, next, sizeof(key));
		prev = key;
		n++;
	}
	return n;
}

/* One write of len bytes, cut into MSS-sized segments as TCP would (test_run takes < 4 KiB). */
void send_write(struct flow *f, bool from_client, const char *buf)
{
	size_t len = strlen(buf);

	for (size_t off = 0; off < len; off += 1448)
		send_seg(f, from_client, 0, buf + off, len - off < 1448 ? len - off : 1448);
}

/* The stats of route (method, label), found through hm_route_ids as hm-stat does. */
/* A route id's row, both generations summed. */
bool route_id_stats(__u32 id, struct hm_stats *out)
{
	memset(out, 0, sizeof(*out));
	for (int gen = 0; gen < HM_GENS; gen++)
		add_stats(fd_routes, gen * HM_MAX_ROUTES + id, out);
	return true;
}

bool route_stats(unsigned int method, const char *label, struct hm_stats *out)
{
	struct hm_route_key key = { .method = method };
	struct hm_route_val val;

	memset(out, 0, sizeof(*out));
	memcpy(key.label, label, strnlen(label, sizeof(key.label)));
	if (bpf_map_lookup_elem(fd_route_ids, &key, &val))
		return false;
	return route_id_stats(val.id, out);
}

/* For failure messages: every route label the program created. */
void route_dump(void)
{
	struct hm_route_key key, next;
	struct hm_route_val val;
	void *prev = NULL;

	while (bpf_map_get_next_key(fd_route_ids, prev, &next) == 0) {
		key = next;
		prev = &key;
		bpf_map_lookup_elem(fd_route_ids, &key, &val);
		printf("#   route %u: %s %.*s\n", val.id, hm_method_name(key.method), HM_ROUTE_LEN,
		       key.label);
	}
}

void set_config(const char *group_by, const char **patterns, const char **prefixes,
		unsigned int max_routes, unsigned int prefix4)
{
	struct hm_config cfg = {};
	char err[256];
	__u32 zero = 0, n = 0;

	if (group_by && hm_route_group_parse(group_by, &cfg, err, sizeof(err)))
		printf("not ok - %s: bad grouping in the test: %s\n", current, err);
	for (int pass = 0; pass < 2; pass++) {
		const char **list = pass ? prefixes : patterns;

		for (; list && *list; list++, n++) {
			struct hm_route_pattern pat;

			hm_route_pattern_parse(*list, pass == 1, &pat, err, sizeof(err));
			bpf_map_update_elem(fd_route_pats, &n, &pat, BPF_ANY);
		}
	}
	cfg.npatterns = n;
	cfg.max_routes = max_routes;
	cfg.client_prefix4 = prefix4;
	bpf_map_update_elem(fd_config, &zero, &cfg, BPF_ANY);
}

/* One request/response exchange on a new connection; returns request bytes. */
size_t exchange(const char *cli, uint16_t cport, const char *req, const char *resp)
{
	struct flow f;

	flow_v4(&f, cli, cport, "10.0.0.1", 8080);
	send_str(&f, true, req);
	send_str(&f, false, resp);
	return strlen(req);
}

int map_fd(const char *name)
{
	struct bpf_map *m = bpf_object__find_map_by_name(obj, name);

	return m ? bpf_map__fd(m) : -1;
}

int harness_load(const char *path)
{
	struct bpf_program *prog;
	struct bpf_map *map;
	int err;

	obj = bpf_object__open_file(path, NULL);
	if (!obj) {
		printf("not ok - open %s: %s\n", path, strerror(errno));
		return 1;
	}
	/* libbpf 1.1 does not know the tc/ingress and tc/egress section names. */
	bpf_object__for_each_program(prog, obj)
		if (!strncmp(bpf_program__name(prog), "hm_tc_", 6))
			bpf_program__set_type(prog, BPF_PROG_TYPE_SCHED_CLS);
	bpf_object__for_each_map(map, obj)
		bpf_map__set_pin_path(map, NULL); /* private maps: never touch real pins */
	err = bpf_object__load(obj);
	if (err) {
		printf("not ok - load %s: %s\n", path, strerror(-err));
		return 1;
	}
	prog_in = bpf_program__fd(bpf_object__find_program_by_name(obj, "hm_tc_ingress"));
	prog_eg = bpf_program__fd(bpf_object__find_program_by_name(obj, "hm_tc_egress"));
	prog_xdp = bpf_program__fd(bpf_object__find_program_by_name(obj, "hm_xdp_ingress"));
	fd_monitor = map_fd(HM_MAP_MONITOR);
	fd_conns = map_fd(HM_MAP_CONNS);
	fd_config = map_fd(HM_MAP_CONFIG);
	fd_routes = map_fd(HM_MAP_ROUTES);
	fd_route_ids = map_fd(HM_MAP_ROUTE_IDS);
	fd_route_pats = map_fd(HM_MAP_ROUTE_PATTERNS);
	fd_aging = map_fd(HM_MAP_AGING);
	fd_hist = map_fd(HM_MAP_HIST);
	fd_method_ids = map_fd(HM_MAP_METHOD_IDS);
	fd_row_ids = map_fd(HM_MAP_ROW_IDS);
	prog_kick = bpf_program__fd(bpf_object__find_program_by_name(obj, "hm_aging_kick"));
	for (size_t i = 0; i < hm_map_descs_len; i++)
		*hm_maps_fd(&maps, &hm_map_descs[i]) = map_fd(hm_map_descs[i].name);
	ncpus = libbpf_num_possible_cpus();
	return 0;
}

void harness_close(void)
{
	bpf_object__close(obj);
}
