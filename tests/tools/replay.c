// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* replay.c - one recorded conversation through the classifier as linear skbs (hm_replay). */
#include "harness.h"

/*
 * hm_replay OBJECT CONVERSATION CLIENT_IP SERVER_IP SERVER_PORT feeds one conversation file
 * (tests/lib/conversation.py: "C <len>\n<bytes>\n" client writes and
 * "S <len>\n<bytes>\n" server writes, '#' comments) through test_run as
 * linear skbs: client writes through tc ingress, server writes through tc
 * egress, each cut into 1448-byte segments as send_write does, then a FIN
 * from each side.  Prints the client's row, the port's row and the monitor
 * counters as one line of JSON for tests/e2e/test_linear.sh to compare with
 * the same conversation over a live veth.  Exit 1 when the file is bad or a
 * frame did not pass.
 */
static const char *const replay_mon_names[HM_MON_MAX] = {
#define REPLAY_MON_NAME(sym, name, desc) [HM_MON_##sym] = name,
	HM_MONITOR_COUNTERS(REPLAY_MON_NAME)
#undef REPLAY_MON_NAME
};

/* The rest of a row object: its counters and latency sample counts, then '}'. */
static void replay_row(const struct hm_stats *s)
{
	printf(", \"requests\": %llu, \"responses\": %llu, \"unanswered\": %llu, "
	       "\"status\": {\"1xx\": %llu, \"2xx\": %llu, \"3xx\": %llu, \"4xx\": %llu, "
	       "\"5xx\": %llu}, \"bytes_in\": %llu, \"bytes_out\": %llu, \"latency_count\": %llu, "
	       "\"latency_ok_count\": %llu, \"latency_fail_count\": %llu, "
	       "\"latency_last_count\": %llu}",
	       (unsigned long long)s->requests, (unsigned long long)s->responses,
	       (unsigned long long)s->unanswered, (unsigned long long)s->status[HM_STATUS_1XX],
	       (unsigned long long)s->status[HM_STATUS_2XX],
	       (unsigned long long)s->status[HM_STATUS_3XX],
	       (unsigned long long)s->status[HM_STATUS_4XX],
	       (unsigned long long)s->status[HM_STATUS_5XX], (unsigned long long)s->bytes_in,
	       (unsigned long long)s->bytes_out, (unsigned long long)s->lat.count,
	       (unsigned long long)s->lat_ok.count, (unsigned long long)s->lat_fail.count,
	       (unsigned long long)s->lat_last.count);
}

static int replay_main(int argc, char **argv)
{
	const char *file;
	struct hm_stats cs, ps;
	struct flow f;
	char *buf, *p, *end, *nl;
	long size;
	unsigned long port;
	int writes = 0;
	FILE *in;

	if (argc != 4 || (port = strtoul(argv[3], NULL, 10)) == 0 || port > 65535) {
		fprintf(stderr, "usage: hm_replay OBJECT CONVERSATION CLIENT_IP SERVER_IP "
				"SERVER_PORT\n");
		return 2;
	}
	file = argv[0];
	in = fopen(file, "rb");
	if (!in || fseek(in, 0, SEEK_END) || (size = ftell(in)) < 0 || fseek(in, 0, SEEK_SET) ||
	    !(buf = malloc(size + 1)) || fread(buf, 1, size, in) != (size_t)size) {
		fprintf(stderr, "hm_replay: cannot read %s: %s\n", file, strerror(errno));
		if (in)
			fclose(in);
		return 1;
	}
	fclose(in);
	buf[size] = 0;
	if (strchr(argv[1], ':'))
		flow_v6(&f, argv[1], 40019, argv[2], port);
	else
		flow_v4(&f, argv[1], 40019, argv[2], port);
	current = "replay";
	reset_maps();
	for (p = buf, end = buf + size; p < end; p = nl + 1) {
		char side, *len_end;
		unsigned long len;

		nl = memchr(p, '\n', end - p);
		if (!nl)
			nl = end;
		if (*p == '#' || p == nl)
			continue;
		side = *p;
		len = strtoul(p + 1, &len_end, 10);
		if (nl == end || (side != 'C' && side != 'S') || p[1] != ' ' || len_end != nl ||
		    len > (unsigned long)(end - nl - 1) || nl[1 + len] != '\n') {
			fprintf(stderr, "hm_replay: %s: bad record at byte %ld\n", file,
				(long)(p - buf));
			return 1;
		}
		for (unsigned long off = 0; off < len; off += 1448)
			send_seg(&f, side == 'C', 0, nl + 1 + off,
				 len - off < 1448 ? len - off : 1448);
		writes++;
		nl += 1 + len;
	}
	send_seg(&f, true, PKT_FIN, "", 0);
	send_seg(&f, false, PKT_FIN, "", 0);
	free(buf);
	client_stats(&f, &cs);
	port_stats(port, &ps);
	printf("{\"writes\": %d, \"client\": {\"ip\": \"%s\"", writes, argv[1]);
	replay_row(&cs);
	printf(", \"port\": {\"port\": %lu", port);
	replay_row(&ps);
	printf(", \"monitor\": {");
	for (int i = 0; i < HM_MON_MAX; i++)
		printf("%s\"%s\": %llu", i ? ", " : "", replay_mon_names[i],
		       (unsigned long long)monitor(i));
	printf("}}\n");
	return failures ? 1 : 0;
}

int main(int argc, char **argv)
{
	int err;

	hm_prog_name = "hm_replay";
	hm_libbpf_logging();
	if (argc < 2) {
		fprintf(stderr, "usage: hm_replay OBJECT CONVERSATION CLIENT_IP SERVER_IP "
				"SERVER_PORT\n");
		return 2;
	}
	if (harness_load(argv[1]))
		return 1;
	err = replay_main(argc - 2, argv + 2);
	harness_close();
	return err;
}
