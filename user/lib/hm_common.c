// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* hm_common.c - logging, exit codes and helpers shared by the hm-* tools. */
#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <bpf/libbpf.h>
#include "hm_common.h"

const char *hm_prog_name = "httpmon";
enum hm_log_level hm_log_max = HM_LOG_WARN;

void hm_vlog(enum hm_log_level lvl, const char *prefix, const char *fmt, va_list ap)
{
	char msg[1024];
	size_t n;

	if (lvl > hm_log_max)
		return;
	vsnprintf(msg, sizeof(msg), fmt, ap);
	n = strlen(msg);
	while (n > 0 && msg[n - 1] == '\n')
		msg[--n] = '\0';
	fprintf(stderr, "%s: %s%s%s\n", hm_prog_name, lvl == HM_LOG_WARN ? "warning: " : "", prefix,
		msg);
}

void hm_log(enum hm_log_level lvl, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	hm_vlog(lvl, "", fmt, ap);
	va_end(ap);
}

static bool hm_libbpf_quiet_now;

static int hm_libbpf_print(enum libbpf_print_level level, const char *fmt, va_list ap)
{
	enum hm_log_level lvl = level == LIBBPF_WARN && !hm_libbpf_quiet_now ? HM_LOG_INFO :
									       HM_LOG_DEBUG;

	hm_vlog(lvl, "", fmt, ap); /* libbpf's messages begin with "libbpf: " */
	return 0;
}

void hm_libbpf_logging(void)
{
	libbpf_set_print(hm_libbpf_print);
}

void hm_libbpf_quiet(bool quiet)
{
	hm_libbpf_quiet_now = quiet;
}

int hm_exit_code(int err)
{
	switch (err) {
	case 0:
		return HM_EXIT_OK;
	case -ENOENT:
		return HM_EXIT_NOMAPS;
	case -EPROTO:
		return HM_EXIT_LAYOUT;
	case -EACCES:
	case -EPERM:
		return HM_EXIT_PERM;
	case -ENODEV:
		return HM_EXIT_NODEV;
	case -EXDEV:
		return HM_EXIT_NETNS;
	default:
		return HM_EXIT_FAIL;
	}
}

static bool hm_addr_is_v4mapped(const struct hm_addr *a)
{
	static const __u8 prefix[12] = { [10] = 0xff, [11] = 0xff };

	return memcmp(a->a, prefix, sizeof(prefix)) == 0;
}

/*
 * inet_ntop() writes IPv4-compatible addresses (::/96, deprecated) in mixed
 * notation, which RFC 5952 reserves for v4-mapped ones.
 */
static bool hm_addr_is_v4compat(const struct hm_addr *a)
{
	static const __u8 zero[12];

	return memcmp(a->a, zero, sizeof(zero)) == 0 && (a->a[12] != 0 || a->a[13] != 0);
}

const char *hm_addr_str(const struct hm_addr *a, char *buf, size_t len)
{
	if (hm_addr_is_v4mapped(a)) {
		if (!inet_ntop(AF_INET, &a->a[12], buf, len))
			goto bad;
	} else if (hm_addr_is_v4compat(a)) {
		if (snprintf(buf, len, "::%x:%x", a->a[12] << 8 | a->a[13],
			     a->a[14] << 8 | a->a[15]) >= (int)len)
			goto bad;
	} else if (!inet_ntop(AF_INET6, a->a, buf, len)) {
		goto bad;
	}
	return buf;
bad:
	if (len > 0)
		snprintf(buf, len, "?");
	return buf;
}

static void hm_latency_add(struct hm_latency *sum, const struct hm_latency *l)
{
	if (l->count == 0)
		return;
	if (sum->count == 0 || l->min_ns < sum->min_ns)
		sum->min_ns = l->min_ns;
	if (sum->count == 0 || l->max_ns > sum->max_ns)
		sum->max_ns = l->max_ns;
	sum->count += l->count;
	sum->sum_ns += l->sum_ns;
}

void hm_stats_sum(struct hm_stats *out, const struct hm_stats *percpu, int ncpus)
{
	int cpu, c;

	memset(out, 0, sizeof(*out));
	for (cpu = 0; cpu < ncpus; cpu++) {
		const struct hm_stats *s = &percpu[cpu];

		out->requests += s->requests;
		out->responses += s->responses;
		out->unanswered += s->unanswered;
		for (c = 0; c < HM_STATUS_CLASSES; c++)
			out->status[c] += s->status[c];
		hm_latency_add(&out->lat_ok, &s->lat_ok);
		hm_latency_add(&out->lat_fail, &s->lat_fail);
		hm_latency_add(&out->lat_last, &s->lat_last);
		out->bytes_in += s->bytes_in;
		out->bytes_out += s->bytes_out;
	}
	/* Every response's latency: the classifier keeps it as its two halves. */
	hm_latency_add(&out->lat, &out->lat_ok);
	hm_latency_add(&out->lat, &out->lat_fail);
}

int hm_usage_error(const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "%s: ", hm_prog_name);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, "; see %s --help\n", hm_prog_name);
	return HM_EXIT_USAGE;
}

/* The long option arg ("--name" or "--name=value") names; NULL when none or several. */
static const struct option *hm_long_option(const char *arg, const struct option *longopts,
					   bool *ambiguous)
{
	size_t len = strcspn(arg, "=");
	const struct option *o, *found = NULL;

	*ambiguous = false;
	for (o = longopts; o && o->name; o++) {
		if (strncmp(o->name, arg, len))
			continue;
		if (strlen(o->name) == len)
			return o; /* exact */
		if (found && (found->has_arg != o->has_arg || found->val != o->val))
			*ambiguous = true;
		found = o;
	}
	return *ambiguous ? NULL : found;
}

/*
 * getopt_long() leaves optind past the argument it failed on when that was a
 * long option, or the last letter of a group of short ones; argv[optind - 1]
 * then starts with "--" only for a long option.  A short option's error is
 * told by optopt alone, which for a long option is its val (a letter too when
 * it has a short form), so the argument decides which of the two it was.
 */
int hm_getopt_error(int c, char **argv, const struct option *longopts)
{
	const char *arg = optind > 0 ? argv[optind - 1] : "";
	const struct option *o;
	bool is_long, ambiguous;
	int len;

	is_long = arg && !strncmp(arg, "--", 2) && arg[2] && (c == ':' ? optopt != 0 : true);
	if (is_long) {
		len = (int)strcspn(arg, "=");
		o = hm_long_option(arg + 2, longopts, &ambiguous);
		if (c == ':' && o && o->val == optopt)
			return hm_usage_error("option '--%s' needs a value", o->name);
		if (optopt == 0 && ambiguous)
			return hm_usage_error("option '%.*s' is ambiguous (an abbreviation of "
					      "more than one option)",
					      len, arg);
		if (optopt == 0)
			return hm_usage_error("unknown option '%.*s'", len, arg);
		if (o && o->val == optopt && o->has_arg == no_argument && arg[len] == '=')
			return hm_usage_error("option '--%s' takes no value", o->name);
	}
	if (c == ':')
		return hm_usage_error("option '-%c' needs a value", optopt);
	if (optopt > 0 && optopt < 128)
		return hm_usage_error("unknown option '-%c'", optopt);
	return hm_usage_error("unknown option '%s'", arg);
}

int hm_common_option(int opt, char **argv, const struct option *longopts, void (*usage)(FILE *f))
{
	switch (opt) {
	case 'v':
		if (hm_log_max < HM_LOG_DEBUG)
			hm_log_max++;
		return 0;
	case 'h':
		usage(stdout);
		exit(HM_EXIT_OK);
	case HM_OPT_VERSION:
		printf("%s %s (map layout %d)\n", hm_prog_name, HM_VERSION, HM_LAYOUT_VERSION);
		exit(HM_EXIT_OK);
	}
	return hm_getopt_error(opt, argv, longopts);
}

bool hm_parse_ulong(const char *s, unsigned long min, unsigned long max, unsigned long *out)
{
	unsigned long v;
	char *end;

	if (!s || !isdigit((unsigned char)s[0]))
		return false;
	errno = 0;
	v = strtoul(s, &end, 10);
	if (errno || *end != '\0' || v < min || v > max)
		return false;
	*out = v;
	return true;
}
