/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * hm_hist.h - reading httpmon's latency histograms: sums over CPUs, interval
 * deltas, percentiles and the bucket layout exported to Prometheus.
 *
 * The in-kernel layout (kern/httpmon.h, hm_hist_bucket()) is log-linear:
 * bucket 0 is [0, 1.024 us), the last bucket [2^36 ns = 68.7 s, inf), and in
 * between each power of two [2^k, 2^(k+1)) ns is cut into HM_HIST_SUB equal
 * buckets.  A percentile is the nearest-rank sample (the ceil(q * n)-th
 * smallest); its bucket is found exactly from the counts and it is reported
 * as the bucket's midpoint, clamped to the exact [min, max] when the caller
 * knows them.  Worst case, for the sample v the percentile names:
 *   - 1.024 us <= v < 68.7 s:  |reported - v| <= v / 32 (3.125%), since a
 *     bucket is at most 1/16 of its lower bound wide;
 *   - v < 1.024 us (bucket 0):  |reported - v| <= 0.512 us;
 *   - v >= 68.7 s (overflow):   reported as the exact maximum when known,
 *     else as 68.7 s, a lower bound.
 * Clamping to [min, max] never makes the error larger: v lies in [min, max].
 */
#ifndef HM_HIST_H
#define HM_HIST_H

#include <stdbool.h>
#include <stddef.h>
#include "httpmon.h"

/* The percentiles hm-stat reports, in parts per 10000. */
struct hm_quantile {
	unsigned int per10k; /* 5000 for p50, 9990 for p99.9 */
	const char *key; /* JSON and CSV name: "p50", "p99_9" */
	const char *label; /* table heading part: "P50", "P99.9" */
};
#define HM_NQUANTILES 4
extern const struct hm_quantile hm_quantiles[HM_NQUANTILES];

/* Exact bounds of the samples of a histogram, when the caller has them. */
struct hm_bounds {
	bool valid;
	__u64 min_ns, max_ns;
};

/* Exclusive upper bound of bucket b in ns; UINT64_MAX for the overflow bucket. */
__u64 hm_hist_upper(__u32 b);

/* The value reported for a sample in bucket b: its midpoint, in ns. */
__u64 hm_hist_mid(__u32 b);

/* Samples in the buckets (not h->count, which a concurrent reader may see ahead). */
__u64 hm_hist_total(const struct hm_hist *h);

void hm_hist_add(struct hm_hist *dst, const struct hm_hist *src);

/* out = the sum of ncpus per-CPU copies. */
void hm_hist_sum_percpu(struct hm_hist *out, const struct hm_hist *percpu, int ncpus);

/*
 * out = cur - prev, bucket by bucket.  When any count of cur is below prev's
 * (the histogram was cleared in between), out = cur and it returns false.
 */
bool hm_hist_delta(struct hm_hist *out, const struct hm_hist *cur, const struct hm_hist *prev);

/* Nearest rank of quantile per10k among n samples: ceil(n * q), at least 1; 0 if n == 0. */
__u64 hm_hist_rank(__u64 n, unsigned int per10k);

/* The bucket holding the nearest-rank sample of quantile per10k; false when h is empty. */
bool hm_hist_quantile_bucket(const struct hm_hist *h, unsigned int per10k, __u32 *bucket);

/*
 * The per10k quantile of h in ns, or false when h is empty.  b (may be NULL)
 * bounds the result when valid.
 */
bool hm_hist_quantile(const struct hm_hist *h, unsigned int per10k, const struct hm_bounds *b,
		      double *ns);

/*
 * Export layout for Prometheus, also the rows of hm-stat --hist: per_pow2
 * bounds per power of two of nanoseconds (1, 2, 4, 8 or 16, the divisors of
 * HM_HIST_SUB), from 2^lo_shift to 2^hi_shift ns inclusive.  Every bound is a
 * boundary of the fine buckets, so the cumulative count at each is exact;
 * +Inf follows.  hm_export_count() bounds: (hi - lo) * per_pow2 + 1.
 *
 * The default keeps the kernel's full resolution (16 per power of two) from
 * 65.536 us to 17.2 s: 289 bounds, and Prometheus' histogram_quantile()
 * interpolates within 1/16 of a power of two, as hm-stat's own percentiles do.
 */
struct hm_export {
	unsigned int per_pow2;
	unsigned int lo_shift, hi_shift; /* HM_HIST_MIN_SHIFT <= lo < hi <= HM_HIST_MAX_SHIFT */
};
#define HM_EXPORT_DEFAULT ((struct hm_export){ HM_HIST_SUB, 16, 34 })

unsigned int hm_export_count(const struct hm_export *e);
__u64 hm_export_bound(const struct hm_export *e, unsigned int i); /* ns, i < count */

/* per_pow2 divides HM_HIST_SUB and the range lies within the kernel's. */
bool hm_export_valid(const struct hm_export *e);

/*
 * "LOW:HIGH" in seconds (e.g. "0.0001:10") into e's shifts: LOW rounded down
 * and HIGH up to a power of two of nanoseconds.  False when either is not a
 * number, LOW >= HIGH, or they leave 1.024 us .. 68.7 s.
 */
bool hm_export_parse_range(const char *text, struct hm_export *e);

/* Samples below bound_ns, which must be a bucket boundary (hm_hist_lower()). */
__u64 hm_hist_count_below(const struct hm_hist *h, __u64 bound_ns);

/* ns as seconds in shortest exact decimal ("0.000001024", "68.719476736", "1"). */
const char *hm_ns_to_seconds(__u64 ns, char *buf, size_t len);

#endif /* HM_HIST_H */
