// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* histview.c - latency histograms as bcc-style bar charts (hm-stat --hist). */
#include <stdint.h>
#include <string.h>
#include "histview.h"

static const struct {
	unsigned int per10k;
	const char *name;
} marks[] = {
	{ 5000, "p50" },
	{ 9000, "p90" },
	{ 9900, "p99" },
};
#define NMARKS (sizeof(marks) / sizeof(marks[0]))

static unsigned int nrows(unsigned int per_pow2)
{
	return 2 + (HM_HIST_MAX_SHIFT - HM_HIST_MIN_SHIFT) * per_pow2;
}

/* Row r's bounds in ns; hi is UINT64_MAX for the last row, which has none. */
static void row_bounds(unsigned int r, unsigned int per_pow2, __u64 *lo, __u64 *hi)
{
	unsigned int k, j;

	if (r == 0) {
		*lo = 0;
		*hi = 1ULL << HM_HIST_MIN_SHIFT;
		return;
	}
	if (r == nrows(per_pow2) - 1) {
		*lo = 1ULL << HM_HIST_MAX_SHIFT;
		*hi = UINT64_MAX;
		return;
	}
	k = HM_HIST_MIN_SHIFT + (r - 1) / per_pow2;
	j = (r - 1) % per_pow2;
	*lo = (1ULL << k) + (((__u64)j << k) / per_pow2);
	*hi = (1ULL << k) + (((__u64)(j + 1) << k) / per_pow2);
}

/* The row holding fine bucket b: HM_HIST_SUB / per_pow2 fine buckets make a row. */
static unsigned int row_of_bucket(__u32 b, unsigned int per_pow2)
{
	if (b == 0)
		return 0;
	if (b >= HM_HIST_BUCKETS - 1)
		return nrows(per_pow2) - 1;
	return 1 + (b - 1) / (HM_HIST_SUB / per_pow2);
}

static const char *fmt_bound(char *buf, size_t len, __u64 ns, double unit)
{
	if (ns == UINT64_MAX)
		snprintf(buf, len, "inf");
	else if (!ns)
		snprintf(buf, len, "0");
	else
		snprintf(buf, len, "%.3f", (double)ns / unit);
	return buf;
}

void hm_histview_print(FILE *f, const struct hm_hist *h, const struct hm_bounds *b,
		       unsigned int per_pow2)
{
	unsigned int n = nrows(per_pow2), first = n, last = 0, r, m, mark_row[NMARKS];
	int wlo = 0, whi = 0, wcount = 5, stars;
	__u64 counts[2 + (HM_HIST_MAX_SHIFT - HM_HIST_MIN_SHIFT) * HM_HIST_SUB] = { 0 };
	__u64 max = 0, lo, hi;
	char slo[32], shi[32], bar[HM_HISTVIEW_BAR + 1];
	const char *unit_name = "usecs";
	double unit = 1e3, ns;
	__u32 bucket;

	for (bucket = 0; bucket < HM_HIST_BUCKETS; bucket++)
		counts[row_of_bucket(bucket, per_pow2)] += h->buckets[bucket];
	for (r = 0; r < n; r++) {
		if (!counts[r])
			continue;
		if (first == n)
			first = r;
		last = r;
		if (counts[r] > max)
			max = counts[r];
	}
	if (first == n) {
		fprintf(f, "  no latency samples\n");
		return;
	}
	for (m = 0; m < NMARKS; m++)
		mark_row[m] = hm_hist_quantile_bucket(h, marks[m].per10k, &bucket) ?
				      row_of_bucket(bucket, per_pow2) :
				      n;

	row_bounds(last, per_pow2, &lo, &hi);
	if (lo >= 1000000) {
		unit_name = "msecs";
		unit = 1e6;
	}
	snprintf(slo, sizeof(slo), "%llu", (unsigned long long)max);
	if ((int)strlen(slo) > wcount)
		wcount = strlen(slo);
	for (r = first; r <= last; r++) {
		row_bounds(r, per_pow2, &lo, &hi);
		if ((int)strlen(fmt_bound(slo, sizeof(slo), lo, unit)) > wlo)
			wlo = strlen(slo);
		if ((int)strlen(fmt_bound(shi, sizeof(shi), hi, unit)) > whi)
			whi = strlen(shi);
	}
	if (wlo < (int)strlen(unit_name))
		wlo = strlen(unit_name);

	fprintf(f, "%*s %*s    : %-*s %s\n", wlo, unit_name, whi, "", wcount, "count",
		"distribution");
	for (r = first; r <= last; r++) {
		row_bounds(r, per_pow2, &lo, &hi);
		stars = (int)(counts[r] * HM_HISTVIEW_BAR / max);
		memset(bar, '*', stars);
		memset(bar + stars, ' ', HM_HISTVIEW_BAR - stars);
		bar[HM_HISTVIEW_BAR] = '\0';
		fprintf(f, "%*s -> %-*s : %-*llu |%s|", wlo, fmt_bound(slo, sizeof(slo), lo, unit),
			whi, fmt_bound(shi, sizeof(shi), hi, unit), wcount,
			(unsigned long long)counts[r], bar);
		for (m = 0; m < NMARKS; m++)
			if (mark_row[m] == r)
				fprintf(f, " %s", marks[m].name);
		fputc('\n', f);
	}
	fputs("  ", f);
	for (m = 0; m < NMARKS; m++)
		if (hm_hist_quantile(h, marks[m].per10k, b, &ns))
			fprintf(f, "%s%s %.3f ms", m ? ", " : "", marks[m].name, ns / 1e6);
	fputc('\n', f);
}
