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
	const char *key;     /* JSON and CSV name: "p50", "p99_9" */
	const char *label;   /* table heading part: "P50", "P99.9" */
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

/*
 * The per10k quantile of h in ns, or false when h is empty.  b (may be NULL)
 * bounds the result when valid.
 */
bool hm_hist_quantile(const struct hm_hist *h, unsigned int per10k,
		      const struct hm_bounds *b, double *ns);

/*
 * Export layout for Prometheus: HM_EXPORT_BOUNDS upper bounds, the powers
 * of two from 2^HM_HIST_MIN_SHIFT to 2^HM_HIST_MAX_SHIFT ns (1.024 us to
 * 68.7 s), each a boundary of the fine buckets, so the cumulative count of
 * each is exact; +Inf follows.
 */
#define HM_EXPORT_BOUNDS (HM_HIST_MAX_SHIFT - HM_HIST_MIN_SHIFT + 1)
__u64 hm_export_bound(unsigned int i); /* ns */

/* Samples below bound_ns, which must be a bucket boundary (hm_hist_lower()). */
__u64 hm_hist_count_below(const struct hm_hist *h, __u64 bound_ns);

/* ns as seconds in shortest exact decimal ("0.000001024", "68.719476736", "1"). */
const char *hm_ns_to_seconds(__u64 ns, char *buf, size_t len);

#endif /* HM_HIST_H */
