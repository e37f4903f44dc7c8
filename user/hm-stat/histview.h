/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * histview.h - a latency histogram as a bar chart for the terminal
 * (hm-stat --hist), in the style of bcc's tools.
 *
 * Rows are per_pow2 equal slices of each power of two of nanoseconds (1, 2,
 * 4, 8 or 16; 16 is the kernel's own resolution), plus the kernel's first
 * bucket [0, 1.024 us) and its overflow bucket [68.7 s, inf).  Each row's
 * bounds are boundaries of the fine buckets, so its count is exact: the rows
 * add up to the histogram's samples.  The rows from the first to the last
 * non-empty one are printed.  The rows holding the nearest-rank samples of
 * p50, p90 and p99 are marked; the line under the chart gives hm-stat's value
 * for each (the fine bucket's midpoint, clamped to the exact min and max when
 * known, within 3.2% of the sample).
 */
#ifndef HM_STAT_HISTVIEW_H
#define HM_STAT_HISTVIEW_H

#include <stdio.h>
#include "hm_hist.h"

#define HM_HISTVIEW_BAR 40 /* characters of the longest bar */

/* Prints h's chart with per_pow2 rows per power of two; b may be NULL. */
void hm_histview_print(FILE *f, const struct hm_hist *h, const struct hm_bounds *b,
		       unsigned int per_pow2);

#endif /* HM_STAT_HISTVIEW_H */
