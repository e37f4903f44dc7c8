/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/* hm_common.h - logging, exit codes and helpers shared by the hm-* tools. */
#ifndef HM_COMMON_H
#define HM_COMMON_H

#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include "httpmon.h"

/* Exit codes, documented in every tool's --help and the README. */
enum hm_exit {
	HM_EXIT_OK = 0,
	HM_EXIT_FAIL = 1, /* operation failed (kernel refused, I/O error) */
	HM_EXIT_USAGE = 2, /* bad command line */
	HM_EXIT_NOMAPS = 3, /* no httpmon maps pinned where we looked */
	HM_EXIT_LAYOUT = 4, /* maps of another layout version */
	HM_EXIT_PERM = 5, /* permission denied (not root / pins not readable) */
	HM_EXIT_NODEV = 6, /* interface does not exist */
	HM_EXIT_NETNS = 7, /* the maps serve another network namespace (hm-load) */
};

enum hm_log_level { HM_LOG_ERR, HM_LOG_WARN, HM_LOG_INFO, HM_LOG_DEBUG };

extern const char *hm_prog_name;
extern enum hm_log_level hm_log_max;

void hm_log(enum hm_log_level lvl, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* hm_log() for a library's print callback: "PROG: PREFIXmessage". */
void hm_vlog(enum hm_log_level lvl, const char *prefix, const char *fmt, va_list ap);
#define hm_err(...) hm_log(HM_LOG_ERR, __VA_ARGS__)
#define hm_warn(...) hm_log(HM_LOG_WARN, __VA_ARGS__)
#define hm_info(...) hm_log(HM_LOG_INFO, __VA_ARGS__)
#define hm_dbg(...) hm_log(HM_LOG_DEBUG, __VA_ARGS__)

/* Routes libbpf's own messages through hm_log (warnings only unless -v). */
void hm_libbpf_logging(void);
/* While quiet, libbpf's warnings are debug messages too (for calls whose failure is expected). */
void hm_libbpf_quiet(bool quiet);

/* Maps a negative errno from hm_maps_open() and friends to an exit code. */
int hm_exit_code(int err);

/* Formats a 16-byte address: dotted quad for v4-mapped, RFC 5952 otherwise. */
const char *hm_addr_str(const struct hm_addr *a, char *buf, size_t len);

/*
 * Sums the per-CPU copies of one aggregate value (min/max combine correctly),
 * and fills lat from lat_ok and lat_fail (the classifier leaves it zero).
 */
void hm_stats_sum(struct hm_stats *out, const struct hm_stats *percpu, int ncpus);

struct option;

/*
 * The options every tool has: -v/--verbose (more messages; twice: debug
 * messages too), -h/--help and --version.  hm_common_option() handles opt
 * when it is one of them, or getopt_long()'s ':' and '?': -h prints usage to
 * stdout and --version the version, both exiting with 0.  It returns 0 for
 * -v, the usage error's exit code for ':' and '?', and -1 for any other opt.
 */
#define HM_OPT_VERSION 0x7f00
#define HM_COMMON_LONGOPTS                                                         \
	{ "verbose", no_argument, NULL, 'v' }, { "help", no_argument, NULL, 'h' }, \
	{                                                                          \
		"version", no_argument, NULL, HM_OPT_VERSION                       \
	}
int hm_common_option(int opt, char **argv, const struct option *longopts, void (*usage)(FILE *f));

/*
 * Command-line errors: print "PROG: <message>; see PROG --help" to stderr and
 * return HM_EXIT_USAGE.  hm_getopt_error() words getopt_long()'s ':' (a
 * missing value) and '?' (an unknown option, or a value given to an option
 * that takes none): call it with what getopt_long() returned, after running
 * it with opterr = 0 and an optstring that starts with ':'.
 */
int hm_usage_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
int hm_getopt_error(int c, char **argv, const struct option *longopts);

/* Parses an unsigned decimal within [min, max]; false on any junk. */
bool hm_parse_ulong(const char *s, unsigned long min, unsigned long max, unsigned long *out);

#endif /* HM_COMMON_H */
