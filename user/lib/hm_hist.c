// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* hm_hist.c - latency histograms: sums, deltas, percentiles, export layout. */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>
#include "hm_hist.h"

const struct hm_quantile hm_quantiles[HM_NQUANTILES] = {
	{ 5000, "p50", "P50" },
	{ 9000, "p90", "P90" },
	{ 9900, "p99", "P99" },
	{ 9990, "p99_9", "P99.9" },
};

#define HM_HIST_LAST (HM_HIST_BUCKETS - 1)

__u64 hm_hist_upper(__u32 b)
{
	if (b >= HM_HIST_LAST)
		return UINT64_MAX;
	return hm_hist_lower(b + 1);
}

__u64 hm_hist_mid(__u32 b)
{
	if (b >= HM_HIST_LAST)
		return hm_hist_lower(HM_HIST_LAST);
	return hm_hist_lower(b) + (hm_hist_upper(b) - hm_hist_lower(b)) / 2;
}

__u64 hm_hist_total(const struct hm_hist *h)
{
	__u64 n = 0;
	__u32 b;

	for (b = 0; b < HM_HIST_BUCKETS; b++)
		n += h->buckets[b];
	return n;
}

void hm_hist_add(struct hm_hist *dst, const struct hm_hist *src)
{
	__u32 b;

	dst->count += src->count;
	dst->sum_ns += src->sum_ns;
	for (b = 0; b < HM_HIST_BUCKETS; b++)
		dst->buckets[b] += src->buckets[b];
}

void hm_hist_sum_percpu(struct hm_hist *out, const struct hm_hist *percpu, int ncpus)
{
	int cpu;

	memset(out, 0, sizeof(*out));
	for (cpu = 0; cpu < ncpus; cpu++)
		hm_hist_add(out, &percpu[cpu]);
}

bool hm_hist_delta(struct hm_hist *out, const struct hm_hist *cur, const struct hm_hist *prev)
{
	__u32 b;

	if (cur->count < prev->count || cur->sum_ns < prev->sum_ns)
		goto cleared;
	for (b = 0; b < HM_HIST_BUCKETS; b++)
		if (cur->buckets[b] < prev->buckets[b])
			goto cleared;
	out->count = cur->count - prev->count;
	out->sum_ns = cur->sum_ns - prev->sum_ns;
	for (b = 0; b < HM_HIST_BUCKETS; b++)
		out->buckets[b] = cur->buckets[b] - prev->buckets[b];
	return true;
cleared:
	*out = *cur;
	return false;
}

__u64 hm_hist_rank(__u64 n, unsigned int per10k)
{
	unsigned __int128 r;

	if (!n)
		return 0;
	r = ((unsigned __int128)n * per10k + 9999) / 10000;
	if (r < 1)
		r = 1;
	if (r > n)
		r = n;
	return (__u64)r;
}

bool hm_hist_quantile_bucket(const struct hm_hist *h, unsigned int per10k, __u32 *bucket)
{
	__u64 rank = hm_hist_rank(hm_hist_total(h), per10k), seen = 0;
	__u32 b;

	if (!rank)
		return false;
	for (b = 0; b < HM_HIST_LAST; b++) {
		seen += h->buckets[b];
		if (seen >= rank)
			break;
	}
	*bucket = b;
	return true;
}

bool hm_hist_quantile(const struct hm_hist *h, unsigned int per10k, const struct hm_bounds *bounds,
		      double *ns)
{
	__u64 v;
	__u32 b;

	if (!hm_hist_quantile_bucket(h, per10k, &b))
		return false;
	if (b == HM_HIST_LAST && bounds && bounds->valid)
		v = bounds->max_ns; /* the overflow bucket has no midpoint */
	else
		v = hm_hist_mid(b);
	if (bounds && bounds->valid) {
		if (v < bounds->min_ns)
			v = bounds->min_ns;
		if (v > bounds->max_ns)
			v = bounds->max_ns;
	}
	*ns = (double)v;
	return true;
}

unsigned int hm_export_count(const struct hm_export *e)
{
	return (e->hi_shift - e->lo_shift) * e->per_pow2 + 1;
}

__u64 hm_export_bound(const struct hm_export *e, unsigned int i)
{
	unsigned int k = e->lo_shift + i / e->per_pow2, j = i % e->per_pow2;

	return (1ULL << k) + (((__u64)j << k) / e->per_pow2);
}

bool hm_export_valid(const struct hm_export *e)
{
	return e->per_pow2 && e->per_pow2 <= HM_HIST_SUB && !(HM_HIST_SUB % e->per_pow2) &&
	       e->lo_shift >= HM_HIST_MIN_SHIFT && e->lo_shift < e->hi_shift &&
	       e->hi_shift <= HM_HIST_MAX_SHIFT;
}

/* A positive number of seconds as ns; false for anything else or above 2^40 ns. */
static bool parse_seconds(const char *text, double *ns)
{
	char *end;
	double s;

	errno = 0;
	s = strtod(text, &end);
	if (errno || end == text || *end || !(s > 0) || s > 1099.5)
		return false;
	*ns = (double)(__u64)(s * 1e9 + 0.5); /* whole ns: 68.719476736 is 2^36 exactly */
	return true;
}

bool hm_export_parse_range(const char *text, struct hm_export *e)
{
	const char *colon = strchr(text, ':');
	char low[64];
	unsigned int lo = 0, hi = 0;
	double a, b;

	if (!colon || (size_t)(colon - text) >= sizeof(low))
		return false;
	memcpy(low, text, colon - text);
	low[colon - text] = '\0';
	if (!parse_seconds(low, &a) || !parse_seconds(colon + 1, &b) || a >= b)
		return false;
	while (lo < 63 && (double)(1ULL << (lo + 1)) <= a)
		lo++;
	while (hi < 63 && (double)(1ULL << hi) < b)
		hi++;
	if (lo < HM_HIST_MIN_SHIFT || hi > HM_HIST_MAX_SHIFT || lo >= hi)
		return false;
	e->lo_shift = lo;
	e->hi_shift = hi;
	return true;
}

__u64 hm_hist_count_below(const struct hm_hist *h, __u64 bound_ns)
{
	__u32 b, end = hm_hist_bucket(bound_ns);
	__u64 n = 0;

	for (b = 0; b < end; b++)
		n += h->buckets[b];
	return n;
}

const char *hm_ns_to_seconds(__u64 ns, char *buf, size_t len)
{
	char frac[16];
	int n;

	snprintf(frac, sizeof(frac), "%09llu", (unsigned long long)(ns % 1000000000ULL));
	for (n = 9; n > 0 && frac[n - 1] == '0'; n--)
		frac[n - 1] = '\0';
	snprintf(buf, len, "%llu%s%s", (unsigned long long)(ns / 1000000000ULL), n ? "." : "",
		 frac);
	return buf;
}
