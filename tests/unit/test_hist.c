// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * test_hist - unit tests of the latency histogram layout (kern/httpmon.h:
 * hm_hist_bucket(), hm_hist_lower()) and of the reader's percentile and
 * export math (user/hm_hist.c), and the bar charts of hm-stat --hist
 * (user/hm_histview.c).
 *
 * Percentiles are checked against the exact nearest-rank quantiles of the
 * sorted samples, within the documented bound: |reported - v| <= v / 32 for
 * 1.024 us <= v < 68.7 s, <= 512 ns below, and the maximum (with bounds) or
 * 68.7 s (without) in the overflow bucket.
 *
 * Prints "ok - NAME" / "not ok - NAME" per check; exits 0 when all passed.
 */
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "hm_hist.h"
#include "histview.h"

#define LAST (HM_HIST_BUCKETS - 1)
#define NS_MIN (1ULL << HM_HIST_MIN_SHIFT)
#define NS_MAX (1ULL << HM_HIST_MAX_SHIFT)

static int failures;

static void check(int cond, const char *name, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void check(int cond, const char *name, const char *fmt, ...)
{
	va_list ap;

	if (cond) {
		printf("ok - %s\n", name);
		return;
	}
	failures++;
	printf("not ok - %s\n#   ", name);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	printf("\n");
}

/* xorshift64*: deterministic, so a failure reproduces. */
static __u64 rng_state = 0x9e3779b97f4a7c15ULL;

static __u64 rnd(void)
{
	rng_state ^= rng_state >> 12;
	rng_state ^= rng_state << 25;
	rng_state ^= rng_state >> 27;
	return rng_state * 0x2545f4914f6cdd1dULL;
}

static double rnd_unit(void)
{
	return (double)(rnd() >> 11) / (double)(1ULL << 53);
}

static void hist_put(struct hm_hist *h, __u64 ns)
{
	h->count++;
	h->sum_ns += ns;
	h->buckets[hm_hist_bucket(ns)]++;
}

static int cmp_u64(const void *a, const void *b)
{
	__u64 x = *(const __u64 *)a, y = *(const __u64 *)b;

	return x < y ? -1 : x > y;
}

/* -- layout ------------------------------------------------------------------ */

static void test_boundaries(void)
{
	__u32 bad = 0, k, b;
	char detail[256] = "";

	check(HM_HIST_BUCKETS == 2 + (HM_HIST_MAX_SHIFT - HM_HIST_MIN_SHIFT) * HM_HIST_SUB,
	      "layout: bucket count is 2 + powers of two * sub-buckets", "%d", HM_HIST_BUCKETS);
	check(hm_hist_bucket(0) == 0 && hm_hist_bucket(1) == 0 && hm_hist_bucket(NS_MIN - 1) == 0,
	      "layout: 0, 1 and 1023 ns are in bucket 0", "%u %u", hm_hist_bucket(0),
	      hm_hist_bucket(NS_MIN - 1));
	check(hm_hist_bucket(NS_MIN) == 1 && hm_hist_lower(1) == NS_MIN,
	      "layout: 1024 ns opens bucket 1", "%u", hm_hist_bucket(NS_MIN));
	check(hm_hist_bucket(NS_MAX - 1) == LAST - 1 && hm_hist_bucket(NS_MAX) == LAST &&
		      hm_hist_bucket(UINT64_MAX) == LAST && hm_hist_upper(LAST) == UINT64_MAX,
	      "layout: 2^36-1 ns is the last finite bucket, 2^36 ns and above overflow", "%u %u",
	      hm_hist_bucket(NS_MAX - 1), hm_hist_bucket(NS_MAX));

	/* At every power of two, 2^k - 1 ends one bucket and 2^k starts the next. */
	for (k = HM_HIST_MIN_SHIFT; k <= HM_HIST_MAX_SHIFT; k++) {
		__u64 p = 1ULL << k;
		__u32 lo = hm_hist_bucket(p - 1), hi = hm_hist_bucket(p);

		if (hi != lo + 1 || hm_hist_lower(hi) != p || hm_hist_upper(lo) != p) {
			bad++;
			snprintf(detail, sizeof(detail), "k=%u: bucket(2^k-1)=%u bucket(2^k)=%u", k,
				 lo, hi);
		}
	}
	check(!bad, "layout: 2^k - 1 and 2^k fall in adjacent buckets for k = 10..36", "%s",
	      detail);

	/* Buckets tile [0, inf): each starts where the previous ended. */
	for (bad = 0, b = 0; b < LAST; b++) {
		__u64 lo = hm_hist_lower(b), up = hm_hist_upper(b);

		if (up <= lo || hm_hist_lower(b + 1) != up || hm_hist_bucket(lo) != b ||
		    hm_hist_bucket(up - 1) != b || hm_hist_bucket(up) != b + 1) {
			bad++;
			snprintf(detail, sizeof(detail), "bucket %u: [%llu, %llu)", b,
				 (unsigned long long)lo, (unsigned long long)up);
		}
	}
	check(!bad, "layout: every bucket holds exactly [lower, upper) and they tile", "%s",
	      detail);

	/* Width at most 1/16 of the lower bound: the 1/32 bound of the midpoint. */
	for (bad = 0, b = 1; b < LAST; b++) {
		__u64 lo = hm_hist_lower(b), w = hm_hist_upper(b) - lo;

		if (w * HM_HIST_SUB > lo || hm_hist_mid(b) - lo != w / 2)
			bad++;
	}
	check(!bad, "layout: finite buckets above 0 are at most 1/16 of their lower bound wide",
	      "%u buckets too wide", bad);

	/* Every sample value lands in a bucket whose bounds hold it (sampled). */
	for (bad = 0, k = 0; k < 200000; k++) {
		__u64 v = rnd() >> (rnd() % 64);

		b = hm_hist_bucket(v);
		if (b > LAST || v < hm_hist_lower(b) || (b < LAST && v >= hm_hist_upper(b)))
			bad++;
	}
	check(!bad, "layout: 200000 random values lie inside their bucket", "%u outside", bad);
}

/* -- percentiles ----------------------------------------------------------------- */

static void test_rank(void)
{
	check(hm_hist_rank(0, 5000) == 0 && hm_hist_rank(1, 5000) == 1 &&
		      hm_hist_rank(1, 9990) == 1,
	      "rank: empty has none, one sample is every percentile", "-");
	check(hm_hist_rank(10, 5000) == 5 && hm_hist_rank(11, 5000) == 6 &&
		      hm_hist_rank(10, 9900) == 10 && hm_hist_rank(1000, 9990) == 999 &&
		      hm_hist_rank(1001, 9990) == 1000 && hm_hist_rank(100, 9000) == 90,
	      "rank: nearest rank ceil(n * q)", "%llu %llu %llu",
	      (unsigned long long)hm_hist_rank(10, 5000),
	      (unsigned long long)hm_hist_rank(1000, 9990),
	      (unsigned long long)hm_hist_rank(1001, 9990));
	check(hm_hist_rank(UINT64_MAX, 5000) == 1ULL << 63 &&
		      hm_hist_rank(UINT64_MAX, 10000) == UINT64_MAX,
	      "rank: no overflow at 2^64 - 1 samples", "%llu",
	      (unsigned long long)hm_hist_rank(UINT64_MAX, 5000));
}

static void test_empty(void)
{
	static struct hm_hist h;
	struct hm_bounds bounds = { true, 5, 10 };
	struct hm_export e = HM_EXPORT_DEFAULT;
	double v = -1;
	unsigned int i, bad = 0;

	check(!hm_hist_quantile(&h, 5000, NULL, &v) && !hm_hist_quantile(&h, 9990, &bounds, &v) &&
		      v == -1,
	      "empty histogram: no percentile", "%f", v);
	for (i = 0; i < hm_export_count(&e); i++)
		bad += hm_hist_count_below(&h, hm_export_bound(&e, i)) != 0;
	check(!bad && hm_hist_total(&h) == 0, "empty histogram: every cumulative count is 0", "-");
}

/* Allowed distance between a reported percentile and the true sample v. */
static int within_bound(double got, __u64 v, const struct hm_bounds *b)
{
	double err = got > v ? got - v : v - got;

	if (v < NS_MIN)
		return err <= NS_MIN / 2;
	if (v >= NS_MAX)
		return b && b->valid ? got == b->max_ns : got == NS_MAX;
	return err <= v / 32.0;
}

/* Fills h with the n samples s (also sorted) and checks every tested percentile. */
static void check_samples(const char *name, __u64 *s, size_t n)
{
	static const unsigned int extra[] = { 1, 100, 2500, 7500, 9500, 9999, 10000 };
	static struct hm_hist h;
	struct hm_bounds b;
	char detail[256] = "", full[160];
	unsigned int qs[HM_NQUANTILES + 7], nq = 0, i, bad = 0, with;
	double got, worst = 0;
	size_t j;

	memset(&h, 0, sizeof(h));
	for (j = 0; j < n; j++)
		hist_put(&h, s[j]);
	qsort(s, n, sizeof(*s), cmp_u64);
	b = (struct hm_bounds){ true, s[0], s[n - 1] };
	for (i = 0; i < HM_NQUANTILES; i++)
		qs[nq++] = hm_quantiles[i].per10k;
	for (i = 0; i < sizeof(extra) / sizeof(extra[0]); i++)
		qs[nq++] = extra[i];
	for (with = 0; with < 2; with++) {
		for (i = 0; i < nq; i++) {
			__u64 v = s[hm_hist_rank(n, qs[i]) - 1];

			if (!hm_hist_quantile(&h, qs[i], with ? &b : NULL, &got) ||
			    !within_bound(got, v, with ? &b : NULL) ||
			    (with && (got < b.min_ns || got > b.max_ns))) {
				bad++;
				snprintf(detail, sizeof(detail),
					 "q=%u/10000 %s bounds: exact %llu ns, reported %.0f ns",
					 qs[i], with ? "with" : "without", (unsigned long long)v,
					 got);
			} else if (v >= NS_MIN && v < NS_MAX) {
				double rel = (got > v ? got - v : v - got) / v;

				if (rel > worst)
					worst = rel;
			}
		}
	}
	snprintf(full, sizeof(full), "percentiles: %s within the documented error (worst %.2f%%)",
		 name, worst * 100);
	check(!bad, full, "%s", detail);
}

static void test_percentiles(void)
{
	static __u64 s[100000];
	size_t n, i;

	/* Log-uniform over the whole finite range: every power of two. */
	for (n = 100000, i = 0; i < n; i++) {
		double e = HM_HIST_MIN_SHIFT + rnd_unit() * (HM_HIST_MAX_SHIFT - HM_HIST_MIN_SHIFT);
		__u64 lo = 1ULL << (unsigned int)e;

		s[i] = lo + rnd() % lo;
	}
	check_samples("log-uniform 1 us .. 68 s, 100000 samples", s, n);

	/* The e2e test's mix: 1, 5, 50 ms plus jitter, 70/25/5 percent. */
	for (n = 20000, i = 0; i < n; i++) {
		__u64 base = i % 20 < 14 ? 1000000 : i % 20 < 19 ? 5000000 : 50000000;

		s[i] = base + rnd() % 400000;
	}
	check_samples("1/5/50 ms mix, 20000 samples", s, n);

	/* Values sitting exactly on bucket boundaries and just below them. */
	for (n = 0, i = HM_HIST_MIN_SHIFT; i < HM_HIST_MAX_SHIFT; i++) {
		s[n++] = 1ULL << i;
		s[n++] = (1ULL << i) - 1;
		s[n++] = (1ULL << i) + (1ULL << (i - HM_HIST_SUB_BITS)) - 1;
	}
	check_samples("values on and next to bucket boundaries", s, n);

	/* One sample, and a constant: the bounds make the answer exact. */
	s[0] = 3333333;
	check_samples("a single sample", s, 1);
	{
		static struct hm_hist h;
		struct hm_bounds b = { true, 7777777, 7777777 };
		double got = 0;

		for (i = 0; i < 1000; i++)
			hist_put(&h, 7777777);
		check(hm_hist_quantile(&h, 9990, &b, &got) && got == 7777777,
		      "percentiles: a constant is reported exactly when min == max", "%.0f", got);
	}

	/* Sub-microsecond samples: bucket 0, within 512 ns. */
	for (n = 1000, i = 0; i < n; i++)
		s[i] = rnd() % NS_MIN;
	check_samples("samples below 1.024 us (bucket 0)", s, n);

	/* Overflow: 2 % of the samples above 68.7 s: p99 and p99.9 land there. */
	for (n = 1000, i = 0; i < n; i++)
		s[i] = i < 980 ? 2000000 + rnd() % 1000000 : NS_MAX + rnd() % (100ULL << 30);
	check_samples("2% of the samples in the overflow bucket", s, n);
}

/* -- deltas ---------------------------------------------------------------------- */

static void test_delta(void)
{
	static struct hm_hist a, b, d;
	double got;
	int i;

	for (i = 0; i < 100; i++)
		hist_put(&a, 1000000);
	b = a;
	for (i = 0; i < 10; i++)
		hist_put(&b, 40000000);
	check(hm_hist_delta(&d, &b, &a) && hm_hist_total(&d) == 10 && d.count == 10 &&
		      d.sum_ns == 400000000 && hm_hist_quantile(&d, 5000, NULL, &got) &&
		      got > 40000000 * 0.96 && got < 40000000 * 1.04,
	      "delta: an interval's histogram is the difference of two snapshots", "%.0f", got);
	check(!hm_hist_delta(&d, &a, &b) && !memcmp(&d, &a, sizeof(a)),
	      "delta: a count that went down (cleared in between) gives the new snapshot", "-");
}

/* -- export layout ---------------------------------------------------------------- */

/* Checks the bounds of layout e: fine bucket boundaries, increasing, 2^lo .. 2^hi ns. */
static unsigned int bad_layout(const struct hm_export *e)
{
	unsigned int i, n = hm_export_count(e), bad = 0;
	__u64 prev = 0, le;

	if (n != (e->hi_shift - e->lo_shift) * e->per_pow2 + 1)
		bad++;
	for (i = 0; i < n; i++) {
		le = hm_export_bound(e, i);
		if (hm_hist_lower(hm_hist_bucket(le)) != le || le <= prev)
			bad++;
		/* each power of two is cut into per_pow2 equal parts */
		if (i && le - prev != (1ULL << (e->lo_shift + (i - 1) / e->per_pow2)) / e->per_pow2)
			bad++;
		prev = le;
	}
	return bad + (hm_export_bound(e, 0) != 1ULL << e->lo_shift) + (prev != 1ULL << e->hi_shift);
}

static void test_export(void)
{
	static __u64 s[50000];
	static struct hm_hist h;
	struct hm_export def = HM_EXPORT_DEFAULT, e;
	char buf[64], detail[256] = "";
	unsigned int i, bad = 0, per;
	__u64 prev = 0;
	size_t n = 50000, j;

	check(hm_export_valid(&def) && def.per_pow2 == 16 && def.lo_shift == 16 &&
		      def.hi_shift == 34 && hm_export_count(&def) == 289,
	      "export: the default is 16 bounds per power of two, 65.536 us .. 17.2 s, 289 bounds",
	      "%u", hm_export_count(&def));
	for (per = 1; per <= HM_HIST_SUB; per *= 2) {
		e = (struct hm_export){ per, HM_HIST_MIN_SHIFT, HM_HIST_MAX_SHIFT };
		bad += !hm_export_valid(&e) || bad_layout(&e);
		e = (struct hm_export){ per, 17, 20 };
		bad += !hm_export_valid(&e) || bad_layout(&e);
	}
	bad += bad_layout(&def);
	check(!bad,
	      "export: for 1, 2, 4, 8, 16 per power of two every le is a fine bucket "
	      "boundary, evenly spaced, increasing, 2^lo .. 2^hi",
	      "%u", bad);
	e = (struct hm_export){ 1, HM_HIST_MIN_SHIFT, HM_HIST_MAX_SHIFT };
	check(hm_export_count(&e) == 27 && hm_export_bound(&e, 0) == NS_MIN &&
		      hm_export_bound(&e, 26) == NS_MAX,
	      "export: one per power of two over the whole range is the 27 powers of two", "%u",
	      hm_export_count(&e));
	bad = 0;
	for (per = 3; per <= 32; per += 2) {
		e = (struct hm_export){ per, 16, 34 };
		bad += hm_export_valid(&e);
	}
	e = (struct hm_export){ 4, 9, 20 };
	bad += hm_export_valid(&e);
	e = (struct hm_export){ 4, 20, 37 };
	bad += hm_export_valid(&e);
	e = (struct hm_export){ 4, 20, 20 };
	bad += hm_export_valid(&e);
	check(!bad,
	      "export: other counts per power of two, and ranges outside 2^10 .. 2^36, "
	      "are refused",
	      "%u", bad);

	e = def;
	check(hm_export_parse_range("0.0001:10", &e) && e.lo_shift == 16 && e.hi_shift == 34 &&
		      hm_export_parse_range("0.000001024:68.719476736", &e) && e.lo_shift == 10 &&
		      e.hi_shift == 36 && hm_export_parse_range("0.001:0.002", &e) &&
		      e.lo_shift == 19 && e.hi_shift == 21 && hm_export_parse_range("1:1.5", &e) &&
		      e.lo_shift == 29 && e.hi_shift == 31,
	      "export: --bucket-range rounds LOW down and HIGH up to powers of two of ns", "%u %u",
	      e.lo_shift, e.hi_shift);
	check(!hm_export_parse_range("0.000001:1", &e) && !hm_export_parse_range("1:100", &e) &&
		      !hm_export_parse_range("2:1", &e) && !hm_export_parse_range("1:1", &e) &&
		      !hm_export_parse_range("1", &e) && !hm_export_parse_range(":1", &e) &&
		      !hm_export_parse_range("0:1", &e) && !hm_export_parse_range("-1:1", &e) &&
		      !hm_export_parse_range("0.001:x", &e) &&
		      !hm_export_parse_range("nan:1", &e) &&
		      !hm_export_parse_range("0.001:1:2", &e),
	      "export: --bucket-range refuses bad, empty, reversed and out-of-range input", "-");

	for (j = 0; j < n; j++) {
		s[j] = rnd() >> (rnd() % 40 + 24);
		hist_put(&h, s[j]);
	}
	for (per = 1, bad = 0; per <= HM_HIST_SUB; per *= 2) {
		e = (struct hm_export){ per, HM_HIST_MIN_SHIFT, HM_HIST_MAX_SHIFT };
		for (prev = 0, i = 0; i < hm_export_count(&e); i++) {
			__u64 le = hm_export_bound(&e, i), want = 0,
			      got = hm_hist_count_below(&h, le);

			for (j = 0; j < n; j++)
				want += s[j] < le;
			if (got != want || got < prev) {
				bad++;
				snprintf(detail, sizeof(detail), "le=%llu ns: %llu, want %llu",
					 (unsigned long long)le, (unsigned long long)got,
					 (unsigned long long)want);
			}
			prev = got;
		}
	}
	check(!bad && hm_hist_total(&h) == n,
	      "export: cumulative counts are exact (samples below each le) and monotone", "%s",
	      detail);

	check(!strcmp(hm_ns_to_seconds(1024, buf, sizeof(buf)), "0.000001024") &&
		      !strcmp(hm_ns_to_seconds(NS_MAX, buf, sizeof(buf)), "68.719476736") &&
		      !strcmp(hm_ns_to_seconds(1000000000, buf, sizeof(buf)), "1") &&
		      !strcmp(hm_ns_to_seconds(0, buf, sizeof(buf)), "0") &&
		      !strcmp(hm_ns_to_seconds(1500000, buf, sizeof(buf)), "0.0015"),
	      "export: bounds print as exact decimal seconds", "%s", buf);
}

/* -- bar charts ------------------------------------------------------------------- */

/* A bound the chart printed in ms, rounded to 1 us: the fine bucket boundary it names. */
static __u64 exact_bound(double ms)
{
	__u64 ns = (__u64)(ms * 1e6 + 0.5);
	__u32 b = hm_hist_bucket(ns);
	__u64 lo = hm_hist_lower(b), up = hm_hist_upper(b);

	return ns - lo <= up - ns ? lo : up;
}

/*
 * Samples spread over several powers of two, charted with 1, 4 and 16 rows
 * per power of two and read back from the text: every row's count must be
 * the number of samples inside its printed bounds, the rows must add up to
 * every sample, and p50, p90 and p99 must each mark exactly one row, the one
 * holding the exact nearest-rank sample.
 */
static void test_chart(void)
{
	static const unsigned int qs[3] = { 5000, 9000, 9900 };
	static const char *const qn[3] = { "p50", "p90", "p99" };
	static __u64 s[20000];
	static struct hm_hist h;
	char *text = NULL, line[256], detail[300] = "", unit[16] = "";
	size_t len = 0, n = 20000, j;
	unsigned int per, bad = 0, m, marked[3];
	FILE *f;

	for (j = 0; j < n; j++) {
		/* three modes: 0.3-0.6 ms, 3-6 ms, 40-80 ms */
		double base = j % 10 < 6 ? 3e5 : j % 10 < 9 ? 3e6 : 4e7;

		s[j] = (__u64)(base * (1 + rnd_unit()));
		hist_put(&h, s[j]);
	}
	qsort(s, n, sizeof(s[0]), cmp_u64);
	for (per = 1; per <= HM_HIST_SUB; per *= 4) {
		double lo, hi;
		unsigned long long count, sum = 0, want;
		__u64 elo, ehi;
		unsigned int rows = 0;
		char hs[32];

		f = open_memstream(&text, &len);
		hm_histview_print(f, &h, NULL, per);
		fclose(f);
		f = fmemopen(text, len, "r");
		memset(marked, 0, sizeof(marked));
		if (!fgets(line, sizeof(line), f) || sscanf(line, "%15s", unit) != 1 ||
		    strcmp(unit, "msecs")) {
			bad++;
			snprintf(detail, sizeof(detail), "per %u: header '%.200s'", per, line);
		}
		while (fgets(line, sizeof(line), f)) {
			if (sscanf(line, "%lf -> %31s : %llu", &lo, hs, &count) != 3)
				continue;
			hi = strtod(hs, NULL);
			elo = exact_bound(lo);
			ehi = strcmp(hs, "inf") ? exact_bound(hi) : UINT64_MAX;
			rows++;
			sum += count;
			for (want = 0, j = 0; j < n; j++)
				want += s[j] >= elo && s[j] < ehi;
			if (want != count) {
				bad++;
				snprintf(detail, sizeof(detail),
					 "per %u: row %.3f -> %.3f holds %llu, want %llu", per, lo,
					 hi, count, want);
			}
			for (m = 0; m < 3; m++) {
				__u64 v = s[hm_hist_rank(n, qs[m]) - 1];

				if (!strstr(line, qn[m]))
					continue;
				marked[m]++;
				if (v < elo || v >= ehi) {
					bad++;
					snprintf(detail, sizeof(detail),
						 "per %u: %s marks %.3f -> %.3f, sample %llu ns",
						 per, qn[m], lo, hi, (unsigned long long)v);
				}
			}
		}
		fclose(f);
		if (sum != n || rows < 3 * per || marked[0] != 1 || marked[1] != 1 ||
		    marked[2] != 1 || !strstr(text, "\n  p50 ")) {
			bad++;
			snprintf(detail, sizeof(detail),
				 "per %u: %u rows, %llu samples, marks "
				 "%u %u %u",
				 per, rows, sum, marked[0], marked[1], marked[2]);
		}
		free(text);
		text = NULL;
	}
	check(!bad,
	      "chart: with 1, 4 and 16 rows per power of two, rows hold the samples in "
	      "their bounds and add up; p50, p90, p99 mark the rows of the exact samples",
	      "%s", detail);

	f = open_memstream(&text, &len);
	memset(&h, 0, sizeof(h));
	hm_histview_print(f, &h, NULL, 4);
	fclose(f);
	check(!strcmp(text, "  no latency samples\n"), "chart: an empty histogram says so", "%s",
	      text);
	free(text);
}

int main(void)
{
	test_boundaries();
	test_rank();
	test_empty();
	test_percentiles();
	test_delta();
	test_export();
	test_chart();
	return failures ? 1 : 0;
}
