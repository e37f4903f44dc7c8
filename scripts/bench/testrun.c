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
 * the program run.  After a warm-up the programs take turns batch by batch,
 * on one CPU, so caches are hot for all of them alike.
 *
 * scripts/bench.sh runs it before its live rounds; `make bench-testrun`
 * runs it alone.  See usage() for the options and the output.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <getopt.h>
#include <sched.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/ip.h>
#include <linux/pkt_cls.h>
#include <linux/tcp.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#define BATCHES 50
#define RUNS_DEFAULT 200000UL
#define RUNS_MAX 100000000UL

enum { EXIT_OK = 0, EXIT_FAIL = 1, EXIT_USAGE = 2 };

/* The addresses of scripts/bench.sh's default lab: wrk's Host header is the server's. */
#define SERVER_ADDR 0x0ae7f001 /* 10.231.240.1 */
#define CLIENT_ADDR 0x0ae7f002 /* 10.231.240.2 */

static const char request[] = "GET /small.txt HTTP/1.1\r\nHost: 10.231.240.1\r\n"
			      "User-Agent: wrk/4\r\n\r\n";
static const char response[] = "HTTP/1.1 200 OK\r\nServer: nginx/1.22.1\r\n"
			       "Date: Fri, 04 Dec 2026 15:34:53 GMT\r\n"
			       "Content-Type: text/plain\r\nContent-Length: 3\r\n"
			       "Last-Modified: Fri, 04 Dec 2026 15:30:00 GMT\r\n"
			       "Connection: keep-alive\r\nETag: \"6931a9c8a1b-3\"\r\n"
			       "Accept-Ranges: bytes\r\n\r\nok\n";

static void usage(FILE *f)
{
	fprintf(f,
"testrun - ns per BPF program run of httpmon next to an empty program and a\n"
"          cost floor, on crafted frames through BPF_PROG_TEST_RUN\n"
"\n"
"Usage: testrun [--runs N] [--cpu N] [--json] [-v] HTTPMON.o FLOOR.o EMPTY.o\n"
"       testrun --help\n"
"\n"
"Loads three objects with private maps (no pin is read or written):\n"
"  HTTPMON.o  httpmon's classifier (build/httpmon.o): hm_tc_ingress and\n"
"             hm_tc_egress\n"
"  FLOOR.o    the cost floor (scripts/bench/floor.bpf.c): hm_bench_floor, the\n"
"             essential work of an exact monitor (one copy, L2-L4, an LRU\n"
"             connection lookup, a word-at-a-time LF scan, three per-CPU\n"
"             rows, a histogram bucket)\n"
"  EMPTY.o    an empty TC program (scripts/bench/empty.bpf.c): hm_bench_empty,\n"
"             the cost of a program run as such\n"
"Each program sees one keep-alive exchange after another on one connection:\n"
"a %zu-byte HTTP request through tc ingress, then nginx's %zu-byte response\n"
"through tc egress (Ethernet, IPv4, TCP with timestamps), each frame with\n"
"the next sequence numbers, so httpmon parses new bytes in steady state on\n"
"every run. After a warm-up of N/10 exchanges, the programs take turns in\n"
"%d batches of N/%d exchanges each, one run per BPF_PROG_TEST_RUN, pinned\n"
"to one CPU. Every run must return TC_ACT_UNSPEC (a monitor never changes a\n"
"verdict).\n"
"\n"
"Output, per program and frame: ns per run (the median of the batch means,\n"
"the kernel's own duration of each run), the same net of the empty\n"
"program, and httpmon's net cost over the floor's net cost (1.00: httpmon\n"
"costs what the essential work costs).\n"
"\n"
"Options:\n"
"  --runs N   exchanges per program, %d to %lu (default %lu)\n"
"  --cpu N    the CPU to run on (default: the one testrun starts on)\n"
"  --json     one JSON object instead of the table: runs, batches, cpu,\n"
"             request_bytes, response_bytes, bpf_stats_enabled (1: every run\n"
"             also paid for run-time statistics); per program (httpmon,\n"
"             floor, empty) request_ns, response_ns, request_net_ns,\n"
"             response_net_ns; ratio_net {request, response}: httpmon / floor\n"
"             net of the empty program (null when the floor's net cost is\n"
"             not positive)\n"
"  -v, --verbose  show libbpf's messages (the verifier's log when a load fails)\n"
"  -h, --help show this help\n"
"\n"
"Exit status:\n"
"  %d  measured\n"
"  %d  an object cannot be opened or loaded, lacks its programs, or a run\n"
"     failed or returned another verdict\n"
"  %d  bad command line\n"
"\n"
"Needs root (or CAP_BPF and CAP_NET_ADMIN).\n"
"\n"
"Examples:\n"
"  make bench-testrun\n"
"  build/testrun --runs 100000 build/httpmon.o build/bench_floor.o \\\n"
"      build/bench_empty.o\n",
		strlen(request), strlen(response), BATCHES, BATCHES, BATCHES, RUNS_MAX,
		RUNS_DEFAULT, EXIT_OK, EXIT_FAIL, EXIT_USAGE);
}

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
	uint32_t cli = htonl(CLIENT_ADDR), srv = htonl(SERVER_ADDR);

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
	const char *path;
	struct bpf_object *obj;
	int prog_req, prog_resp;
	uint32_t cseq, sseq;
	double sum[2], batch[2][BATCHES];
};

/* One run of fd on f: its duration in *duration; 0, or -1 with a message. */
static int run_one(const struct subject *s, int fd, const struct frame *f, __u32 *duration)
{
	LIBBPF_OPTS(bpf_test_run_opts, opts, .data_in = f->b, .data_size_in = f->len,
		    .repeat = 1);
	int err = bpf_prog_test_run_opts(fd, &opts);

	if (err) {
		fprintf(stderr, "testrun: test_run of %s (%s) failed: %s\n", s->name, s->path,
			strerror(errno));
		return -1;
	}
	if ((int)opts.retval != TC_ACT_UNSPEC) {
		fprintf(stderr, "testrun: %s (%s) returned %d, not TC_ACT_UNSPEC (%d)\n", s->name,
			s->path, (int)opts.retval, TC_ACT_UNSPEC);
		return -1;
	}
	*duration = opts.duration;
	return 0;
}

static int load(struct subject *s, const char *req, const char *resp)
{
	struct bpf_program *prog, *p_req, *p_resp;
	struct bpf_map *map;
	int err;

	s->obj = bpf_object__open_file(s->path, NULL);
	if (!s->obj) {
		fprintf(stderr, "testrun: cannot open %s: %s\n", s->path, strerror(errno));
		return -1;
	}
	p_req = bpf_object__find_program_by_name(s->obj, req);
	p_resp = bpf_object__find_program_by_name(s->obj, resp);
	if (!p_req || !p_resp) {
		fprintf(stderr, "testrun: %s has no program %s: is it the %s object?\n", s->path,
			!p_req ? req : resp, s->name);
		return -1;
	}
	/* Only the measured programs load: libbpf 1.1 does not know tc/ingress sections. */
	bpf_object__for_each_program(prog, s->obj) {
		if (prog == p_req || prog == p_resp)
			bpf_program__set_type(prog, BPF_PROG_TYPE_SCHED_CLS);
		else
			bpf_program__set_autoload(prog, false);
	}
	bpf_object__for_each_map(map, s->obj)
		bpf_map__set_pin_path(map, NULL); /* private maps: never touch real pins */
	err = bpf_object__load(s->obj);
	if (err) {
		fprintf(stderr, "testrun: cannot load %s: %s%s\n", s->path, strerror(-err),
			err == -EPERM ? " (needs root)" : " (-v shows the verifier's log)");
		return -1;
	}
	s->prog_req = bpf_program__fd(p_req);
	s->prog_resp = bpf_program__fd(p_resp);
	s->cseq = 1000;
	s->sseq = 700000;
	return 0;
}

/* One exchange through s: the request, then its response.  Durations in d[2]. */
static int exchange(struct subject *s, __u32 d[2])
{
	struct frame f;

	build(&f, true, s->cseq, s->sseq, request);
	if (run_one(s, s->prog_req, &f, &d[0]))
		return -1;
	s->cseq += strlen(request);
	build(&f, false, s->sseq, s->cseq, response);
	if (run_one(s, s->prog_resp, &f, &d[1]))
		return -1;
	s->sseq += strlen(response);
	return 0;
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

/* httpmon's net cost over the floor's; false when the floor's is not positive. */
static bool ratio(double hm, double fl, double empty, double *r)
{
	if (fl - empty <= 0)
		return false;
	*r = (hm - empty) / (fl - empty);
	return true;
}

/* kernel.bpf_stats_enabled: 1 when every run also pays for the statistics, -1 unknown. */
static int bpf_stats_enabled(void)
{
	FILE *f = fopen("/proc/sys/kernel/bpf_stats_enabled", "r");
	int v = -1;

	if (f) {
		if (fscanf(f, "%d", &v) != 1)
			v = -1;
		fclose(f);
	}
	return v;
}

static bool parse_ulong(const char *s, unsigned long lo, unsigned long hi, unsigned long *v)
{
	char *end;

	if (!s || *s < '0' || *s > '9')
		return false;
	errno = 0;
	*v = strtoul(s, &end, 10);
	return !errno && !*end && *v >= lo && *v <= hi;
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "runs", required_argument, NULL, 'r' },
		{ "cpu", required_argument, NULL, 'c' },
		{ "json", no_argument, NULL, 'j' },
		{ "verbose", no_argument, NULL, 'v' },
		{ "help", no_argument, NULL, 'h' },
		{}
	};
	struct subject subj[3] = { { .name = "httpmon" }, { .name = "floor" }, { .name = "empty" } };
	const char *progs[3][2] = { { "hm_tc_ingress", "hm_tc_egress" },
				    { "hm_bench_floor", "hm_bench_floor" },
				    { "hm_bench_empty", "hm_bench_empty" } };
	unsigned long runs = RUNS_DEFAULT, per_batch, cpu;
	bool json = false, verbose = false, r_ok[2];
	double med[3][2], r[2];
	cpu_set_t cpus;
	int c, ret = EXIT_FAIL;

	c = sched_getcpu();
	cpu = c < 0 ? 0 : c;
	while ((c = getopt_long(argc, argv, ":vh", opts, NULL)) != -1) {
		switch (c) {
		case 'r':
			if (!parse_ulong(optarg, BATCHES, RUNS_MAX, &runs)) {
				fprintf(stderr, "testrun: --runs takes a number from %d to %lu, not '%s'\n",
					BATCHES, RUNS_MAX, optarg);
				return EXIT_USAGE;
			}
			break;
		case 'c':
			if (!parse_ulong(optarg, 0, CPU_SETSIZE - 1, &cpu)) {
				fprintf(stderr, "testrun: --cpu takes a CPU number, not '%s'\n", optarg);
				return EXIT_USAGE;
			}
			break;
		case 'j':
			json = true;
			break;
		case 'v':
			verbose = true;
			break;
		case 'h':
			usage(stdout);
			return EXIT_OK;
		case ':':
			fprintf(stderr, "testrun: option '%s' needs a value (try 'testrun --help')\n",
				argv[optind - 1]);
			return EXIT_USAGE;
		default:
			fprintf(stderr, "testrun: unknown option '%s' (try 'testrun --help')\n",
				argv[optind - 1]);
			return EXIT_USAGE;
		}
	}
	if (argc - optind != 3) {
		fprintf(stderr, "testrun: needs three objects, HTTPMON.o FLOOR.o EMPTY.o "
			"(try 'testrun --help')\n");
		return EXIT_USAGE;
	}
	if (!verbose)
		libbpf_set_print(NULL);
	/* Per-CPU maps and caches stay on one CPU for the whole run. */
	CPU_ZERO(&cpus);
	CPU_SET(cpu, &cpus);
	if (sched_setaffinity(0, sizeof(cpus), &cpus)) {
		fprintf(stderr, "testrun: cannot run on CPU %lu: %s\n", cpu, strerror(errno));
		return EXIT_FAIL;
	}
	for (int i = 0; i < 3; i++) {
		subj[i].path = argv[optind + i];
		if (load(&subj[i], progs[i][0], progs[i][1]))
			goto out;
	}

	per_batch = runs / BATCHES;
	for (unsigned long n = 0; n < runs / 10; n++) /* warm-up: state and caches */
		for (int i = 0; i < 3; i++) {
			__u32 d[2];

			if (exchange(&subj[i], d))
				goto out;
		}
	for (int b = 0; b < BATCHES; b++) {
		/* Each program runs a whole batch in turn: its code and maps stay hot. */
		for (int i = 0; i < 3; i++) {
			subj[i].sum[0] = subj[i].sum[1] = 0;
			for (unsigned long n = 0; n < per_batch; n++) {
				__u32 d[2];

				if (exchange(&subj[i], d))
					goto out;
				subj[i].sum[0] += d[0];
				subj[i].sum[1] += d[1];
			}
			for (int k = 0; k < 2; k++)
				subj[i].batch[k][b] = subj[i].sum[k] / per_batch;
		}
	}
	for (int i = 0; i < 3; i++)
		for (int k = 0; k < 2; k++)
			med[i][k] = median(subj[i].batch[k]);
	for (int k = 0; k < 2; k++)
		r_ok[k] = ratio(med[0][k], med[1][k], med[2][k], &r[k]);

	if (json) {
		printf("{\"runs\": %lu, \"batches\": %d, \"cpu\": %lu, \"request_bytes\": %zu, "
		       "\"response_bytes\": %zu, \"bpf_stats_enabled\": %d", per_batch * BATCHES,
		       BATCHES, cpu, strlen(request), strlen(response), bpf_stats_enabled());
		for (int i = 0; i < 3; i++)
			printf(", \"%s\": {\"request_ns\": %.1f, \"response_ns\": %.1f, "
			       "\"request_net_ns\": %.1f, \"response_net_ns\": %.1f}", subj[i].name,
			       med[i][0], med[i][1], med[i][0] - med[2][0], med[i][1] - med[2][1]);
		printf(", \"ratio_net\": {");
		for (int k = 0; k < 2; k++) {
			printf("%s\"%s\": ", k ? ", " : "", k ? "response" : "request");
			if (r_ok[k])
				printf("%.3f", r[k]);
			else
				printf("null");
		}
		printf("}}\n");
	} else {
		printf("test_run on CPU %lu, %lu exchanges per program, ns per run (median of %d "
		       "batch means)\n", cpu, per_batch * BATCHES, BATCHES);
		if (bpf_stats_enabled() == 1)
			printf("kernel.bpf_stats_enabled is 1: every run also paid for the statistics\n");
		printf("%-10s %12s %12s %14s %14s\n", "PROGRAM", "REQUEST", "RESPONSE",
		       "REQUEST_NET", "RESPONSE_NET");
		for (int i = 0; i < 3; i++)
			printf("%-10s %12.1f %12.1f %14.1f %14.1f\n", subj[i].name, med[i][0],
			       med[i][1], med[i][0] - med[2][0], med[i][1] - med[2][1]);
		printf("httpmon / floor, net of the empty program:");
		for (int k = 0; k < 2; k++) {
			printf("%s %s ", k ? "," : "", k ? "response" : "request");
			if (r_ok[k])
				printf("%.2f", r[k]);
			else
				printf("- (the floor's net cost is not positive)");
		}
		printf("\n");
	}
	ret = EXIT_OK;
out:
	for (int i = 0; i < 3; i++)
		bpf_object__close(subj[i].obj);
	return ret;
}
