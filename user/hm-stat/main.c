// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* hm-stat: print the HTTP statistics in httpmon's pinned maps. */
#include <errno.h>
#include <getopt.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include "hm_common.h"
#include "stat.h"

static void usage(FILE *f)
{
	fprintf(f,
		"hm-stat - show the HTTP statistics collected by the httpmon classifier\n"
		"\n"
		"Usage: hm-stat [--by VIEW] [--sort FIELD] [--top N] [--source packet|socket]\n"
		"               [--format table|json|csv|prometheus] [--json] [--output FILE]\n"
		"               [--latency first|last] [--reset] [--buckets N]\n"
		"               [--bucket-range LOW:HIGH] [--pin-path DIR] [-v]\n"
		"       hm-stat --format prometheus --source all [--output FILE] [--reset] ...\n"
		"       hm-stat --hist [PORT | [METHOD ]ROUTE | HOST] [--by port|route|host]\n"
		"               [--buckets N] [--sort FIELD] [--top N] [--latency first|last] [--reset]\n"
		"               [--output FILE] [--source packet|socket] [--pin-path DIR]\n"
		"       hm-stat --watch SECONDS [--count N] [--by VIEW] [--sort FIELD]\n"
		"               [--top N] [--latency first|last] [--source packet|socket]\n"
		"               [--pin-path DIR]\n"
		"       hm-stat --help | --version\n"
		"\n"
		"Reads the maps that the httpmon TC classifier pins in bpffs, sums their\n"
		"per-CPU copies and prints one row per client IP, per server port, per\n"
		"server port and client, per route (method and normalised request\n"
		"target, grouped as hm-load was told), per interface, per virtual host\n"
		"(the Host header), per host and route or (socket source) per process, as a\n"
		"table, JSON, CSV or Prometheus text. Nothing is changed unless --reset is given\n"
		"(hm-reset clears the counters). Read access to the pins is enough; root is\n"
		"not needed when hm-load --group made them readable for a group of yours.\n"
		"\n"
		"Sources: the packet source (hm-load IFACE: TC and XDP programs on\n"
		"interfaces) pins its maps in the pin directory; the socket source (hm-load\n"
		"--sockets: programs on the socket calls of local processes) pins a map set\n"
		"of its own, with the same views and the process rows besides, in the\n"
		"subdirectory " HM_SOCK_SUBDIR "/ of the pin directory. hm-stat reads one of\n"
		"them (--source); the two are never added together, as both may see the\n"
		"same exchange.\n"
		"\n"
		"Options:\n"
		"  --by VIEW       rows per client (default), port, port,client, route,\n"
		"                  iface (the interface the traffic was seen on), host (the\n"
		"                  virtual host: the request's Host header), host,route or\n"
		"                  process (the socket source only: one row per process,\n"
		"                  command name, cgroup and role; with the packet source it\n"
		"                  is a command-line error)\n"
		"  --sort FIELD    order of the rows: requests (default), responses, success,\n"
		"                  4xx, 5xx, unanswered, avg, min, max, bytes_in, bytes_out\n"
		"                  (largest first), ip or port (ascending)\n"
		"  --top N         print only the first N rows of each view\n"
		"  --format FMT    table (default), json (every view and the totals as one\n"
		"                  document, schema %d), csv (a header line and the rows of\n"
		"                  the --by view) or prometheus (text exposition format:\n"
		"                  ports, clients, routes, interfaces, hosts, host/route\n"
		"                  pairs, the histograms, self-metrics)\n"
		"  --json          the same as --format json\n"
		"  --output FILE   write to FILE atomically (a temporary file in the same\n"
		"                  directory, synced, then renamed over FILE; mode 0644), so\n"
		"                  a reader such as node_exporter never sees half a file\n"
		"  --latency FAM   latency the table, CSV columns and --watch show: first\n"
		"                  (default: first request byte to first response byte) or\n"
		"                  last (to the last response byte, for responses whose end\n"
		"                  is known); JSON and Prometheus always have both\n"
		"  --reset         read and clear in one step, for exact per-interval counts\n"
		"                  from cron: the output holds the interval that ends. The\n"
		"                  classifier writes one of two generations of its maps; the\n"
		"                  reset switches it to the other, waits until no program run\n"
		"                  can still write the old one, reads that and clears it, so\n"
		"                  intervals add up to every request exactly once and one\n"
		"                  output agrees with itself across views. Route labels are\n"
		"                  kept (hm-reset --routes forgets them). Needs write access\n"
		"                  to the pins (root)\n"
		"  --watch SECONDS refresh every SECONDS (1-%d) with the rates of the last\n"
		"                  interval, like top: requests, errors and bytes per second,\n"
		"                  the interval's latency average and percentiles. On a\n"
		"                  terminal the screen is redrawn, otherwise one block is\n"
		"                  printed per interval. Ctrl-C ends it (exit status 0)\n"
		"  --count N       with --watch: stop after N intervals\n"
		"  --hist [WHICH]  the latency distribution as a bar chart from the kernel's\n"
		"                  histogram: one row per 1/N of a power of two (--buckets,\n"
		"                  default 4) with its count and a bar; the rows holding p50,\n"
		"                  p90 and p99 are marked. Without WHICH: every response, or\n"
		"                  with --by port, route or host one chart per port, route or\n"
		"                  host that has a histogram (in --sort order; --top N of\n"
		"                  them). WHICH picks one chart: a port number, a route as\n"
		"                  --by route prints it, \"GET /api/users/{id}\" (one method)\n"
		"                  or \"/api/users/{id}\" (every method), or with --by host a\n"
		"                  host (\"example.com\", \"_none\")\n"
		"  --buckets N     rows per power of two of --hist, or le bounds per power of\n"
		"                  two of --format prometheus: 1, 2, 4, 8 or 16 (the kernel's\n"
		"                  own resolution). Default: 4 for --hist, 16 for Prometheus\n"
		"  --bucket-range LOW:HIGH\n"
		"                  --format prometheus: le bounds from LOW to HIGH seconds,\n"
		"                  LOW rounded down and HIGH up to a power of two of\n"
		"                  nanoseconds (default 0.0001:10: 65.536 us to 17.18 s).\n"
		"                  A histogram has N x (powers of two in the range) + 1 le\n"
		"                  bounds, +Inf, _sum and _count: 292 series by default,\n"
		"                  22 with --buckets 1. Use the same settings on every\n"
		"                  machine whose histograms Prometheus adds up\n"
		"  --source SRC    the map set to read: packet (the pin directory) or socket\n"
		"                  (its subdirectory " HM_SOCK_SUBDIR "/). Default: packet, or\n"
		"                  socket when only the socket source is loaded or when the\n"
		"                  pin directory is a socket set itself. all: both sets in\n"
		"                  one exposition, each series labelled with its source\n"
		"                  (--format prometheus only, for node_exporter's textfile\n"
		"                  collector; a source that is not loaded is left out);\n"
		"                  --reset then resets both. Each output names its source:\n"
		"                  JSON a top-level and a per-row \"source\", CSV a last\n"
		"                  column source, Prometheus a label source on every series\n"
		"                  but httpmon_info; the socket table's first line is\n"
		"                  \"source: socket (DIR)\" (the packet table has none)\n"
		"  --pin-path DIR  read the maps pinned in DIR instead of $HTTPMON_PIN_PATH\n"
		"                  or, when that is unset, " HM_PIN_DIR_DEFAULT "\n"
		"  -v, --verbose   list every monitor counter with its meaning; twice: also\n"
		"                  debug messages\n"
		"  -h, --help      show this help\n"
		"  --version       show the version and the map layout it reads\n"
		"\n"
		"Columns:\n"
		"  IFACE, IFINDEX  --by iface: the interface's name (as hm-load recorded it,\n"
		"                  else in this network namespace; \"?\": unknown) and index\n"
		"  IP, PORT        client address, server port. The row \"other\" holds the\n"
		"                  traffic of keys that did not fit in a full map, so totals\n"
		"                  stay exact; it is listed last and not cut by --top\n"
		"  METHOD, ROUTE   the request method and route label (bytes other than\n"
		"                  printable ASCII as %%XX; the table cuts long ones with\n"
		"                  ...). _other: new routes beyond the route limit (listed\n"
		"                  last); _unknown: responses whose request was not seen\n"
		"  PID, COMM, ROLE, CGROUP_ID, CGROUP\n"
		"                  --by process: the process (thread group id) that made a\n"
		"                  connection's first read or write, its command name, its\n"
		"                  role (server: the socket source counts the server's side),\n"
		"                  its cgroup v2 id and that cgroup's path under the cgroup2\n"
		"                  mount (\"/\" the root; \"-\": the cgroup is gone). _other:\n"
		"                  processes beyond the process limit (procs_full). JSON:\n"
		"                  \"processes\" rows with pid, comm, role, cgroup_id, cgroup\n"
		"                  (null when unknown); Prometheus: httpmon_process_* series\n"
		"                  labelled comm, cgroup and role, the pids that share them\n"
		"                  (the workers of one server) summed\n"
		"  HOST            the request's Host header, lower-cased, without the port.\n"
		"                  _none: requests without one (HTTP/1.0); _unknown:\n"
		"                  responses whose request's headers were not seen; _other:\n"
		"                  hosts beyond the host map's bound (hosts_full counts\n"
		"                  them; --by host,route: pairs beyond the pair map's,\n"
		"                  host_routes_full)\n"
		"  REQS            request lines seen\n"
		"  RESPS           final responses (1xx interim responses are not counted)\n"
		"  SUCC%%           responses with a status below 500, percent of RESPS\n"
		"  2XX 3XX 4XX 5XX responses by status class\n"
		"  UNANS           requests whose connection ended without a response\n"
		"  AVG_MS MIN_MS MAX_MS\n"
		"                  latency from the first request byte to the first response\n"
		"                  byte as seen on the interface (with --latency last: to the\n"
		"                  last response byte), in milliseconds (\"-\": no sample)\n"
		"  P50_MS P90_MS P99_MS P99.9_MS\n"
		"                  --by port, route and host: latency percentiles from the\n"
		"                  row's histogram (\"-\": none; ports beyond the first %d,\n"
		"                  routes beyond %d and hosts beyond %d have none of their\n"
		"                  own). A percentile is the\n"
		"                  nearest-rank sample's histogram bucket, reported as the\n"
		"                  bucket's midpoint clamped to MIN..MAX: within 1/32 (3.2%%)\n"
		"                  of that sample from 1.024 us to 68.7 s, within 0.512 us\n"
		"                  below 1.024 us; above 68.7 s it is the maximum\n"
		"  BYTES_IN        HTTP payload bytes from client to server\n"
		"  BYTES_OUT       HTTP payload bytes from server to client\n"
		"  The total row sums every row, also those cut by --top; by port and by\n"
		"  route (and host) its percentiles are those of every response. The monitor section\n"
		"  lists the classifier's self-metrics that are not zero, and conns_live,\n"
		"  the connections whose HTTP state it holds now.\n"
		"  --watch shows per second over the interval: REQ/S, RESP/S, ERR/S (5xx\n"
		"  responses), 4XX/S, UNANS/S, IN_B/S, OUT_B/S; SUCC%% and AVG_MS and (by\n"
		"  port, route and host) the percentiles of the interval's responses.\n"
		"  --hist charts show the row's bounds in usecs or msecs (\"0\" for the\n"
		"  kernel's first bucket, below 1.024 us; \"inf\" above 68.7 s), its exact\n"
		"  count, a bar and the percentiles it holds; the line under a chart gives\n"
		"  p50, p90 and p99 as the table does.\n"
		"  CSV has the columns of the JSON rows, named as in the README: the keys\n"
		"  (ip, port, host, method, route; pid, comm, role, cgroup_id, cgroup),\n"
		"  requests ... latency_p99_9_us ... bytes_out, then source; an empty cell\n"
		"  means null.\n"
		"\n"
		"Exit status:\n"
		"  %d  success, also when no traffic was seen yet\n"
		"  %d  reading or clearing the maps, or writing the output, failed\n"
		"  %d  bad command line, also --by process with the packet source and\n"
		"     --source all with another format than prometheus\n"
		"  %d  no httpmon maps in the pin directory (monitor not loaded), or none of\n"
		"     the source --source names (for socket: run hm-load --sockets), or with\n"
		"     --watch: the maps were removed (monitor detached) meanwhile\n"
		"  %d  the maps have another layout version (use tools of the same release),\n"
		"     or what is pinned under an httpmon map name is not httpmon's map (a\n"
		"     directory, a map of another type or size)\n"
		"  %d  permission denied on the pins: not root and not in the group that\n"
		"     hm-load --group named, or --reset without write access (root's)\n"
		"\n"
		"Environment:\n"
		"  HTTPMON_PIN_PATH  pin directory when --pin-path is not given\n"
		"\n"
		"Examples:\n"
		"  hm-stat                    per-client table\n"
		"  hm-stat --by port          per-port table with latency percentiles\n"
		"  hm-stat --by port,client --sort 5xx --top 10\n"
		"                             the ten port/client pairs with most 5xx\n"
		"  hm-stat --json | jq .      everything as JSON\n"
		"  hm-stat --by port --format csv --output /var/lib/httpmon/ports.csv\n"
		"  hm-stat --watch 2 --by port\n"
		"                             live rates per port, every two seconds\n"
		"  hm-stat --hist --by port   the latency distribution of each port\n"
		"  hm-stat --by host,route --sort 5xx --top 20\n"
		"                             the host/route pairs with most 5xx\n"
		"  hm-stat --source socket --by process --sort 5xx\n"
		"                             per process, from the socket source\n"
		"  hm-stat --format prometheus --source all --output $D/httpmon.prom\n"
		"                             both sources in one file for node_exporter\n"
		"  hm-stat --hist 'GET /api/users/{id}' --buckets 16\n"
		"                             one route's, at the kernel's resolution\n"
		"  */5 * * * * root hm-stat --top 50 >>/var/log/httpmon.log 2>&1\n"
		"                             crontab line: a table every five minutes\n"
		"  D=/var/lib/prometheus/node-exporter\n"
		"  * * * * * root hm-stat --format prometheus --output $D/httpmon.prom\n"
		"                             crontab lines: Prometheus text every minute\n"
		"                             for node_exporter's textfile collector; Debian's\n"
		"                             prometheus-node-exporter reads that directory\n"
		"                             (elsewhere: --collector.textfile.directory=$D)\n"
		"  0 * * * * root hm-stat --reset --json --output /var/lib/httpmon/hour.json\n"
		"                             crontab line: exact hourly counts\n",
		HM_JSON_SCHEMA, WATCH_MAX_SECONDS, HM_HIST_PORTS, HM_HIST_ROUTES, HM_HIST_HOSTS,
		HM_EXIT_OK, HM_EXIT_FAIL, HM_EXIT_USAGE, HM_EXIT_NOMAPS, HM_EXIT_LAYOUT,
		HM_EXIT_PERM);
}

int print_snapshot(FILE *f, struct snapshot *snap, const struct options *o)
{
	sort_tables(snap, o);
	switch (o->format) {
	case FMT_JSON:
		print_json(f, snap, o);
		return 0;
	case FMT_CSV:
		print_csv(f, snap, o);
		return 0;
	case FMT_PROMETHEUS:
		return print_prometheus(f, snap, 1, o);
	default:
		/* The packet table stays as it always was; the socket one says so. */
		if (snap->source == SOURCE_SOCKET)
			fprintf(f, "source: %s (%s)\n", source_names[snap->source], snap->dir);
		return o->hist ? print_hist_charts(f, snap, o) : print_table(f, snap, o);
	}
}

/* The options --hist, --buckets and --bucket-range go with, once all are parsed. */
static int check_hist_args(struct options *o, bool buckets_set, bool range_set)
{
	enum view_id v;

	if (buckets_set && !o->hist && o->format != FMT_PROMETHEUS)
		return hm_usage_error("--buckets shapes --format prometheus and --hist");
	if (range_set && o->format != FMT_PROMETHEUS)
		return hm_usage_error("--bucket-range shapes --format prometheus");
	if (!buckets_set)
		o->hist_rows = HIST_ROWS_DEFAULT;
	if (!o->hist)
		return 0;
	if (o->watch || o->format != FMT_TABLE)
		return hm_usage_error("--hist prints charts; it takes no %s",
				      o->watch ? "--watch" : "--format");
	if (!o->hist_key) {
		if (o->view_set && !views[o->view].hist)
			return hm_usage_error("--hist: only ports, routes and hosts have "
					      "histograms (--by port, --by route, --by host, "
					      "or no --by for every response)");
		return 0;
	}
	if (!*o->hist_key)
		return hm_usage_error("--hist= needs a port, a route or a host");
	/* --by host --hist NAME: the chart of the row titled NAME */
	if (o->view_set && views[o->view].hist_by_name)
		return 0;
	v = strspn(o->hist_key, "0123456789") == strlen(o->hist_key) ? VIEW_PORT : VIEW_ROUTE;
	if (v == VIEW_PORT && !hm_parse_ulong(o->hist_key, 1, 65535, &(unsigned long){ 0 }))
		return hm_usage_error("bad --hist port '%s' (1 to 65535)", o->hist_key);
	if (o->view_set && o->view != v)
		return hm_usage_error("--hist %s names a %s; it takes no --by %s", o->hist_key,
				      v == VIEW_PORT ? "port" : "route", views[o->view].name);
	o->view = v;
	return 0;
}

static int proc_rows_error(void)
{
	return hm_usage_error("--by process: process rows come from the socket source "
			      "(--source socket); the packet source has none");
}

/* "unknown --by view 'x' (client, port, ...)": the names from the view table. */
static int unknown_view(const char *name)
{
	char list[256];
	size_t n = 0;

	for (int i = 0; i < VIEWS && n < sizeof(list); i++)
		n += snprintf(list + n, sizeof(list) - n, "%s%s", i ? ", " : "", views[i].name);
	return hm_usage_error("unknown --by view '%s' (%s)", name, list);
}

static int parse_args(int argc, char **argv, struct options *o)
{
	enum {
		OPT_BY = 256,
		OPT_JSON,
		OPT_SORT,
		OPT_TOP,
		OPT_PIN,
		OPT_FORMAT,
		OPT_OUTPUT,
		OPT_LATENCY,
		OPT_RESET,
		OPT_WATCH,
		OPT_COUNT,
		OPT_HIST,
		OPT_BUCKETS,
		OPT_BUCKET_RANGE,
		OPT_SOURCE,
	};
	static const struct option longopts[] = {
		{ "by", required_argument, NULL, OPT_BY },
		{ "json", no_argument, NULL, OPT_JSON },
		{ "format", required_argument, NULL, OPT_FORMAT },
		{ "output", required_argument, NULL, OPT_OUTPUT },
		{ "latency", required_argument, NULL, OPT_LATENCY },
		{ "reset", no_argument, NULL, OPT_RESET },
		{ "watch", required_argument, NULL, OPT_WATCH },
		{ "count", required_argument, NULL, OPT_COUNT },
		{ "hist", optional_argument, NULL, OPT_HIST },
		{ "buckets", required_argument, NULL, OPT_BUCKETS },
		{ "bucket-range", required_argument, NULL, OPT_BUCKET_RANGE },
		{ "sort", required_argument, NULL, OPT_SORT },
		{ "top", required_argument, NULL, OPT_TOP },
		{ "pin-path", required_argument, NULL, OPT_PIN },
		{ "source", required_argument, NULL, OPT_SOURCE },
		HM_COMMON_LONGOPTS,
		{ 0 },
	};
	bool json = false, format_set = false, count_set = false;
	bool buckets_set = false, range_set = false;
	unsigned long n;
	int opt, i, ret;

	opterr = 0;
	while ((opt = getopt_long(argc, argv, ":vh", longopts, NULL)) != -1) {
		switch (opt) {
		case OPT_BY:
			for (i = 0; i < VIEWS; i++)
				if (!strcmp(optarg, views[i].name) ||
				    (views[i].alias && !strcmp(optarg, views[i].alias)))
					break;
			if (i == VIEWS)
				return unknown_view(optarg);
			o->view = i;
			o->view_set = true;
			break;
		case OPT_HIST:
			o->hist = true;
			/* "--hist 8080" as well as "--hist=8080": hm-stat has no operands */
			if (!optarg && optind < argc && argv[optind][0] != '-')
				optarg = argv[optind++];
			o->hist_key = optarg;
			break;
		case OPT_BUCKETS:
			if (!hm_parse_ulong(optarg, 1, HM_HIST_SUB, &n) || HM_HIST_SUB % n)
				return hm_usage_error("bad --buckets '%s' (rows or bounds per "
						      "power of two: 1, 2, 4, 8 or 16)",
						      optarg);
			o->export.per_pow2 = o->hist_rows = n;
			buckets_set = true;
			break;
		case OPT_BUCKET_RANGE:
			if (!hm_export_parse_range(optarg, &o->export))
				return hm_usage_error("bad --bucket-range '%s' (LOW:HIGH in "
						      "seconds, LOW < HIGH, within 0.000001024 "
						      "and 68.719476736)",
						      optarg);
			range_set = true;
			break;
		case OPT_SORT:
			for (i = 0; i < SORT_FIELDS; i++)
				if (!strcmp(optarg, sort_names[i]))
					break;
			if (i == SORT_FIELDS)
				return hm_usage_error("unknown --sort field '%s'", optarg);
			o->sort = i;
			break;
		case OPT_TOP:
			if (!hm_parse_ulong(optarg, 1, 100000000, &n))
				return hm_usage_error("bad --top count '%s' "
						      "(a whole number from 1)",
						      optarg);
			o->top = n;
			break;
		case OPT_JSON:
			json = true;
			break;
		case OPT_FORMAT:
			for (i = 0; i < FORMATS; i++)
				if (!strcmp(optarg, format_names[i]))
					break;
			if (i == FORMATS)
				return hm_usage_error("unknown --format '%s' (table, "
						      "json, csv, prometheus)",
						      optarg);
			o->format = i;
			format_set = true;
			break;
		case OPT_OUTPUT:
			if (!*optarg)
				return hm_usage_error("--output needs a file name");
			o->output = optarg;
			break;
		case OPT_LATENCY:
			if (!strcmp(optarg, "first"))
				o->family = HM_LAT_FIRST;
			else if (!strcmp(optarg, "last"))
				o->family = HM_LAT_LAST;
			else
				return hm_usage_error("unknown --latency '%s' "
						      "(first, last)",
						      optarg);
			break;
		case OPT_RESET:
			o->reset = true;
			break;
		case OPT_WATCH:
			if (!hm_parse_ulong(optarg, 1, WATCH_MAX_SECONDS, &n))
				return hm_usage_error("bad --watch interval '%s' "
						      "(whole seconds, 1 to %d)",
						      optarg, WATCH_MAX_SECONDS);
			o->watch = n;
			break;
		case OPT_COUNT:
			if (!hm_parse_ulong(optarg, 1, 100000000, &n))
				return hm_usage_error("bad --count '%s' "
						      "(a whole number from 1)",
						      optarg);
			o->count = n;
			count_set = true;
			break;
		case OPT_PIN:
			o->pin_dir = optarg;
			break;
		case OPT_SOURCE:
			for (i = 0; i < SOURCES; i++)
				if (!strcmp(optarg, source_names[i]))
					break;
			if (i == SOURCES)
				return hm_usage_error("unknown --source '%s' (packet, socket, all)",
						      optarg);
			o->source = i;
			o->source_set = true;
			break;
		default:
			ret = hm_common_option(opt, argv, longopts, usage);
			if (ret)
				return ret;
			break;
		}
	}
	if (optind < argc)
		return hm_usage_error("unexpected argument '%s'", argv[optind]);
	if (json) {
		if (format_set && o->format != FMT_JSON)
			return hm_usage_error("--json and --format %s contradict",
					      format_names[o->format]);
		o->format = FMT_JSON;
	}
	if (count_set && !o->watch)
		return hm_usage_error("--count needs --watch");
	if (o->watch && o->format != FMT_TABLE)
		return hm_usage_error("--watch shows a table; it takes no --format %s",
				      format_names[o->format]);
	if (o->watch && o->reset)
		return hm_usage_error("--watch and --reset do not go together "
				      "(--watch computes rates without clearing)");
	if (o->watch && o->output)
		return hm_usage_error("--watch writes to the terminal; it takes "
				      "no --output");
	if (o->source == SOURCE_ALL && o->format != FMT_PROMETHEUS)
		return hm_usage_error(
			"--source all puts both sources in one Prometheus exposition; "
			"it takes --format prometheus");
	if (o->view_set && views[o->view].sock_only && o->source == SOURCE_PACKET && o->source_set)
		return proc_rows_error();
	ret = check_hist_args(o, buckets_set, range_set);
	if (ret)
		return ret;
	o->pin_dir = hm_pin_dir(o->pin_dir);
	if (hm_pin_is_sock(o->pin_dir) && !o->source_set) {
		/* The pin directory named is a socket set itself. */
		o->source = SOURCE_SOCKET;
		o->source_set = true;
		snprintf(o->sock_dir, sizeof(o->sock_dir), "%s", o->pin_dir);
	} else if (hm_sock_dir(o->sock_dir, sizeof(o->sock_dir), o->pin_dir)) {
		return hm_usage_error("--pin-path: name too long");
	}
	return 0;
}

/* A map set of one source, opened. */
struct set {
	enum source source;
	const char *dir;
	struct hm_maps maps;
};

/* Is there a map set in dir at all (its hm_config pin), complete or not? */
static bool set_exists(const char *dir)
{
	char path[4096];
	struct stat st;

	return !hm_pin_path(path, sizeof(path), dir, HM_MAP_CONFIG) &&
	       (!stat(path, &st) || errno != ENOENT);
}

static int open_set(struct set *set, enum source source, const struct options *o, char *err,
		    size_t errlen)
{
	set->source = source;
	set->dir = source == SOURCE_SOCKET ? o->sock_dir : o->pin_dir;
	return hm_maps_open(set->dir, o->reset, &set->maps, err, errlen);
}

/*
 * Opens the map sets --source asks for: one, or with all, each that exists.
 * Without --source: the packet set, or the socket set when only that exists.
 * Returns how many are open, or a negative errno said once.
 */
static int open_sets(struct set *sets, const struct options *o)
{
	char err[512];
	int ret, n = 0;

	if (o->source == SOURCE_ALL) {
		for (int s = SOURCE_PACKET; s <= SOURCE_SOCKET; s++) {
			ret = open_set(&sets[n], s, o, err, sizeof(err));
			if (!ret)
				n++;
			else if (ret != -ENOENT || set_exists(sets[n].dir))
				goto fail;
		}
		if (n)
			return n;
		hm_err("no httpmon maps in %s or %s (is the monitor loaded? run: hm-load IFACE, "
		       "or hm-load --sockets)",
		       o->pin_dir, o->sock_dir);
		return -ENOENT;
	}
	if (o->source_set) {
		ret = open_set(&sets[0], o->source, o, err, sizeof(err));
	} else {
		ret = open_set(&sets[0], SOURCE_PACKET, o, err, sizeof(err));
		if (ret == -ENOENT && !set_exists(o->pin_dir) && set_exists(o->sock_dir))
			ret = open_set(&sets[0], SOURCE_SOCKET, o, err, sizeof(err));
	}
	if (!ret)
		return 1;
fail:
	while (n--)
		hm_maps_close(&sets[n].maps);
	hm_err("%s", err);
	return ret;
}

static void close_sets(struct set *sets, int n)
{
	while (n--)
		hm_maps_close(&sets[n].maps);
}

/* Reads (and with --reset clears) each set, and prints them as one output. */
static int read_and_print(FILE *f, struct set *sets, int n, const struct options *o)
{
	struct snapshot snaps[2];
	int ret = 0, i, nread = 0;

	for (i = 0; i < n && !ret; i++) {
		ret = read_snapshot(&sets[i].maps, sets[i].source, sets[i].dir, o->reset,
				    &snaps[i]);
		nread += !ret;
	}
	if (!ret && o->format == FMT_PROMETHEUS) {
		for (i = 0; i < n; i++)
			sort_tables(&snaps[i], o);
		ret = print_prometheus(f, snaps, n, o);
	} else if (!ret) {
		ret = print_snapshot(f, &snaps[0], o);
	}
	for (i = 0; i < nread; i++)
		snapshot_free(&snaps[i]);
	return ret;
}

int main(int argc, char **argv)
{
	struct options o = { .view = VIEW_CLIENT,
			     .sort = SORT_REQUESTS,
			     .family = HM_LAT_FIRST,
			     .export = HM_EXPORT_DEFAULT };
	struct set sets[2];
	struct output out;
	int ret, n;

	hm_prog_name = "hm-stat";
	ret = parse_args(argc, argv, &o);
	if (ret)
		return ret;
	set_iface_names(o.pin_dir);
	hm_libbpf_logging();

	n = open_sets(sets, &o);
	if (n < 0)
		return hm_exit_code(n);
	if (o.view_set && views[o.view].sock_only && o.source != SOURCE_ALL &&
	    sets[0].source != SOURCE_SOCKET) {
		close_sets(sets, n);
		return proc_rows_error();
	}
	o.read_source = sets[0].source;
	o.dir = sets[0].dir;
	if (o.watch) {
		ret = watch(&sets[0].maps, &o);
		close_sets(sets, n);
		return ret ? hm_exit_code(ret) : HM_EXIT_OK;
	}
	/* The output file first: a bad --output must not cost a --reset its data. */
	if (output_open(&out, o.output)) {
		close_sets(sets, n);
		return HM_EXIT_FAIL;
	}
	ret = read_and_print(out.f, sets, n, &o);
	close_sets(sets, n);
	if (output_close(&out, !ret))
		return HM_EXIT_FAIL;
	return ret ? hm_exit_code(ret) : HM_EXIT_OK;
}
