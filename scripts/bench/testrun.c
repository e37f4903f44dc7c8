// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * testrun - ns per program run of httpmon's classifier on two crafted frames,
 * next to an empty program and the cost floor (floor.bpf.c), in one run.
 *
 * The frames are one keep-alive exchange: a 66-byte request (client to
 * server, through tc ingress) and nginx's 241-byte answer to it (server to
 * client, through tc egress), both with TCP timestamps (doff 8).  Runs
 * alternate request and response on one connection, each frame with the
 * next sequence numbers, so every run of httpmon parses new bytes of a
 * connection in steady state: the request on an idle keep-alive
 * connection, the response with its request pending.  Each run is one
 * BPF_PROG_TEST_RUN (repeat 1); its duration is the kernel's own measure of
 * the program run.  The programs take turns run by run, on one CPU, after a
 * warm-up, so caches are hot for all of them alike.
 *
 * Usage: testrun [--runs N] [--json] HTTPMON.o FLOOR.o EMPTY.o
 * Prints ns per run (the median of 50 batch means) per program and frame,
 * net of the empty program, and httpmon's net cost over the floor's.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <sched.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/ip.h>
#include <linux/tcp.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#define BATCHES 50

static const char request[] = "GET /small.txt HTTP/1.1\r\nHost: 10.231.30.1\r\n"
			      "User-Agent: wrk/4\r\n\r\n";
static const char response[] = "HTTP/1.1 200 OK\r\nServer: nginx/1.22.1\r\n"
			       "Date: Fri, 04 Dec 2026 15:34:53 GMT\r\n"
			       "Content-Type: text/plain\r\nContent-Length: 3\r\n"
			       "Last-Modified: Fri, 04 Dec 2026 15:30:00 GMT\r\n"
			       "Connection: keep-alive\r\nETag: \"6931a9c8a1b-3\"\r\n"
			       "Accept-Ranges: bytes\r\n\r\nok\n";

struct frame {
	unsigned char b[1024];
	size_t len;
};

/* An Ethernet/IPv4/TCP frame with the timestamps option, as Linux sends them. */
static void build(struct frame *f, bool from_client, uint32_t seq, uint32_t ack, const char *p)
{
	struct ethhdr *eth = (struct ethhdr *)f->b;
	struct iphdr *ip = (struct iphdr *)(eth + 1);
	struct tcphdr *tcp = (struct tcphdr *)(ip + 1);
	unsigned char *opt = (unsigned char *)(tcp + 1);
	size_t plen = strlen(p);
	uint32_t cli = htonl(0x0ae71e0b), srv = htonl(0x0ae71e01);

	memset(f->b, 0, 14 + 20 + 32);
	memset(eth->h_dest, 2, 6);
	memset(eth->h_source, 4, 6);
	eth->h_proto = htons(ETH_P_IP);
	ip->version = 4;
	ip->ihl = 5;
	ip->ttl = 64;
	ip->protocol = IPPROTO_TCP;
	ip->tot_len = htons(20 + 32 + plen);
	ip->saddr = from_client ? cli : srv;
	ip->daddr = from_client ? srv : cli;
	tcp->source = htons(from_client ? 41234 : 80);
	tcp->dest = htons(from_client ? 80 : 41234);
	tcp->seq = htonl(seq);
	tcp->ack_seq = htonl(ack);
	tcp->ack = 1;
	tcp->psh = 1;
	tcp->doff = 8;
	tcp->window = htons(502);
	opt[0] = opt[1] = 1;                  /* NOP NOP */
	opt[2] = 8, opt[3] = 10;              /* timestamps */
	memcpy(f->b + 14 + 20 + 32, p, plen);
	f->len = 14 + 20 + 32 + plen;
}

struct subject {
	const char *name;
	struct bpf_object *obj;
	int prog_req, prog_resp;
	uint32_t cseq, sseq;
	double sum[2], batch[2][BATCHES];
	unsigned long n[2];
};

static int run_one(int fd, const struct frame *f, __u32 *duration)
{
	LIBBPF_OPTS(bpf_test_run_opts, opts, .data_in = f->b, .data_size_in = f->len,
		    .repeat = 1);
	int err = bpf_prog_test_run_opts(fd, &opts);

	*duration = opts.duration;
	return err;
}

static int load(struct subject *s, const char *path, const char *req, const char *resp)
{
	struct bpf_program *prog;
	struct bpf_map *map;
	int err;

	s->obj = bpf_object__open_file(path, NULL);
	if (!s->obj) {
		fprintf(stderr, "testrun: cannot open %s: %s\n", path, strerror(errno));
		return -1;
	}
	bpf_object__for_each_program(prog, s->obj) {
		const char *sec = bpf_program__section_name(prog);

		if (!strncmp(sec, "tc", 2))
			bpf_program__set_type(prog, BPF_PROG_TYPE_SCHED_CLS);
		else
			bpf_program__set_autoload(prog, false); /* only the tc programs run here */
	}
	bpf_object__for_each_map(map, s->obj)
		bpf_map__set_pin_path(map, NULL); /* private maps: never touch real pins */
	err = bpf_object__load(s->obj);
	if (err) {
		fprintf(stderr, "testrun: cannot load %s: %s\n", path, strerror(-err));
		return -1;
	}
	s->prog_req = bpf_program__fd(bpf_object__find_program_by_name(s->obj, req));
	s->prog_resp = bpf_program__fd(bpf_object__find_program_by_name(s->obj, resp));
	if (s->prog_req < 0 || s->prog_resp < 0) {
		fprintf(stderr, "testrun: %s has no program %s or %s\n", path, req, resp);
		return -1;
	}
	s->cseq = 1000;
	s->sseq = 700000;
	return 0;
}

/* One exchange through s: the request, then its response.  Durations in d[2]. */
static int exchange(struct subject *s, __u32 d[2])
{
	struct frame f;
	int err;

	build(&f, true, s->cseq, s->sseq, request);
	err = run_one(s->prog_req, &f, &d[0]);
	s->cseq += strlen(request);
	build(&f, false, s->sseq, s->cseq, response);
	err = err ?: run_one(s->prog_resp, &f, &d[1]);
	s->sseq += strlen(response);
	return err;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

static double median(double *v)
{
	qsort(v, BATCHES, sizeof(*v), cmp_double);
	return (v[BATCHES / 2 - 1] + v[BATCHES / 2]) / 2;
}

int main(int argc, char **argv)
{
	struct subject subj[3] = { { .name = "httpmon" }, { .name = "floor" }, { .name = "empty" } };
	const char *progs[3][2] = { { "hm_tc_ingress", "hm_tc_egress" },
				    { "hm_bench_floor", "hm_bench_floor" },
				    { "hm_bench_empty", "hm_bench_empty" } };
	unsigned long runs = 200000, per_batch;
	bool json = false;
	double med[3][2];
	cpu_set_t cpus;
	int argi = 1;

	for (; argi < argc && argv[argi][0] == '-'; argi++) {
		if (!strcmp(argv[argi], "--runs") && argi + 1 < argc)
			runs = strtoul(argv[++argi], NULL, 10);
		else if (!strcmp(argv[argi], "--json"))
			json = true;
		else
			goto usage;
	}
	if (argc - argi != 3 || runs < BATCHES)
		goto usage;
	libbpf_set_print(NULL);
	CPU_ZERO(&cpus);
	CPU_SET(0, &cpus);
	sched_setaffinity(0, sizeof(cpus), &cpus); /* per-CPU maps stay on one CPU */
	for (int i = 0; i < 3; i++)
		if (load(&subj[i], argv[argi + i], progs[i][0], progs[i][1]))
			return 1;

	per_batch = runs / BATCHES;
	for (unsigned long r = 0; r < runs / 10; r++) /* warm-up: state and caches */
		for (int i = 0; i < 3; i++) {
			__u32 d[2];

			if (exchange(&subj[i], d)) {
				fprintf(stderr, "testrun: test_run of %s failed: %s\n", subj[i].name,
					strerror(errno));
				return 1;
			}
		}
	for (int b = 0; b < BATCHES; b++) {
		for (int i = 0; i < 3; i++)
			subj[i].sum[0] = subj[i].sum[1] = 0;
		/* Each program runs a whole batch in turn: its code and maps stay hot. */
		for (int i = 0; i < 3; i++)
			for (unsigned long r = 0; r < per_batch; r++) {
				__u32 d[2];

				if (exchange(&subj[i], d))
					return 1;
				subj[i].sum[0] += d[0];
				subj[i].sum[1] += d[1];
			}
		for (int i = 0; i < 3; i++)
			for (int k = 0; k < 2; k++)
				subj[i].batch[k][b] = subj[i].sum[k] / per_batch;
	}
	for (int i = 0; i < 3; i++)
		for (int k = 0; k < 2; k++)
			med[i][k] = median(subj[i].batch[k]);

	if (json) {
		printf("{\"runs\": %lu, \"request_bytes\": %zu, \"response_bytes\": %zu",
		       runs, strlen(request), strlen(response));
		for (int i = 0; i < 3; i++)
			printf(", \"%s\": {\"request_ns\": %.1f, \"response_ns\": %.1f}", subj[i].name,
			       med[i][0], med[i][1]);
		printf(", \"ratio_net\": {\"request\": %.3f, \"response\": %.3f}}\n",
		       (med[0][0] - med[2][0]) / (med[1][0] - med[2][0]),
		       (med[0][1] - med[2][1]) / (med[1][1] - med[2][1]));
		return 0;
	}
	printf("test_run, %lu exchanges per program, ns per run (median of %d batch means)\n",
	       runs, BATCHES);
	printf("%-10s %12s %12s %14s %14s\n", "program", "request", "response", "request net",
	       "response net");
	for (int i = 0; i < 3; i++)
		printf("%-10s %12.1f %12.1f %14.1f %14.1f\n", subj[i].name, med[i][0], med[i][1],
		       med[i][0] - med[2][0], med[i][1] - med[2][1]);
	printf("httpmon / floor, net of the empty program: request %.2f, response %.2f\n",
	       (med[0][0] - med[2][0]) / (med[1][0] - med[2][0]),
	       (med[0][1] - med[2][1]) / (med[1][1] - med[2][1]));
	return 0;
usage:
	fprintf(stderr, "usage: testrun [--runs N] [--json] HTTPMON.o FLOOR.o EMPTY.o\n");
	return 2;
}
