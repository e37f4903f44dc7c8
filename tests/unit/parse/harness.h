/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * harness.h - the shared harness of the BPF unit tests (test_parse, one file
 * per feature in tests/unit/parse/) and of the replay tool (tests/tools/replay.c).
 *
 * harness_load() loads build/httpmon.o with private maps (never the real
 * pins); the helpers feed it crafted frames (pkt.h) through
 * bpf_prog_test_run_opts() and read back what it wrote to its maps.  check()
 * and CHECK_EQ() print "ok - CASE: what" / "not ok - CASE: what: why" and
 * count failures; current names the case that runs.
 */
#ifndef HM_TEST_HARNESS_H
#define HM_TEST_HARNESS_H

#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <linux/bpf.h>
#include <linux/pkt_cls.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "httpmon.h"
#include "hm_common.h"
#include "hm_pin.h"
#include "hm_route.h"
#include "pkt.h"

extern struct bpf_object *obj;
extern int prog_in, prog_eg, prog_xdp;
extern bool via_xdp; /* client-to-server frames go through the XDP program */
extern int fd_monitor, fd_conns, fd_config, fd_routes, fd_route_ids, fd_route_pats, fd_aging;
extern int fd_hist, fd_method_ids, fd_row_ids, prog_kick;
extern struct hm_maps maps; /* the same fds, for the pin library's interval functions */
extern int ncpus, failures, checks;
extern const char *current;

/* A client row's address, as client_key() fills it from a flow. */
struct hm_client_key {
	struct hm_addr ip;
};

/* Loads the object at path and finds its programs and maps; 0 or 1 (said as "not ok"). */
int harness_load(const char *path);
void harness_close(void);

void check(bool cond, const char *what, const char *fmt, ...);
uint64_t now_ns(void);
void clear_hash(int fd);
void reset_aging(void);
void reset_maps(void);
void run(bool egress, const uint8_t *frame, size_t len);
void send_seg(struct flow *f, bool from_client, int flags, const char *payload, size_t len);
void send_str(struct flow *f, bool from_client, const char *s);
void client_key(const struct flow *f, struct hm_client_key *k);
void add_stats(int fd, __u32 idx, struct hm_stats *out);
bool row_stats(struct hm_row_key key, struct hm_stats *out);
bool client_stats(const struct flow *f, struct hm_stats *out);
bool port_stats(uint16_t port, struct hm_stats *out);
__u64 monitor(enum hm_monitor_counter c);
__u64 live_conns(void);
void send_write(struct flow *f, bool from_client, const char *buf);
bool route_id_stats(__u32 id, struct hm_stats *out);
bool route_stats(unsigned int method, const char *label, struct hm_stats *out);
void route_dump(void);
void set_config(const char *group_by, const char **patterns, const char **prefixes,
		unsigned int max_routes, unsigned int prefix4);
size_t exchange(const char *cli, uint16_t cport, const char *req, const char *resp);
int map_fd(const char *name);

/* A check that got equals want, both printed when not. */
#define CHECK_EQ(what, got, want)                                            \
	check((unsigned long long)(got) == (unsigned long long)(want), what, \
	      "got %llu, want %llu", (unsigned long long)(got), (unsigned long long)(want))
#define REQ_A "GET /a HTTP/1.1\r\nHost: t\r\nUser-Agent: unit\r\n\r\n"
#define RESP_OK "HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Type: text/plain\r\n\r\nhello"
#define RESP_500 "HTTP/1.1 500 Internal Server Error\r\ncontent-length: 3\r\n\r\nerr"
#define REQ_B "GET /b HTTP/1.1\r\nHost: t\r\n\r\n"
#define REQ_C "GET /c HTTP/1.1\r\nHost: t\r\n\r\n"

/* The cases, by feature file. */
void test_request_response(void);
void test_status_classes(void);
void test_pipelined(void);
void test_pipeline_overflow(void);
void test_pipeline_bursts(void);
void test_response_in_pieces(void);
void test_map_pressure(void);
void test_ipv6_ext(void);
void test_vlan(void);
void test_split_request_line(void);
void test_start_decided_at_segment_end(void);
void test_retransmission(void);
void test_fin_pending(void);
void test_non_http(void);
void test_body_is_not_a_message(void);
void test_head_and_interim(void);
void test_orphan_and_mid_stream(void);
void test_port_filter(void);
void test_padding_and_bad_length(void);
void test_route_path(void);
void test_route_query(void);
void test_route_patterns(void);
void test_route_split_and_pipelined(void);
void test_route_unknown_other(void);
void test_client_prefix(void);
void test_gap_response(void);
void test_out_of_order(void);
void test_upstream_loss(void);
void test_gap_request_pipelined(void);
void test_early_response(void);
void test_idle_aging(void);
void test_two_cpus(void);
void test_malformed_status(void);
void test_lengths(void);
void test_long_lines(void);
void test_methods(void);
void test_method_table_bound(void);
void test_tunnels(void);
void test_route_cache(void);
void test_hosts(void);
void test_host_edges(void);
void test_hosts_full(void);
void test_no_hosts(void);
void test_interim_route_bytes(void);
void test_repeat_sightings(void);
void test_aging_kick(void);
void test_fast_open(void);
void test_packet_shapes(void);
void test_fragments(void);
void test_ipv6_ext_counts(void);
void test_gso(void);

#endif /* HM_TEST_HARNESS_H */
