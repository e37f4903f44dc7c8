// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* delta.c - the difference of two snapshots: what an interval of --watch counted. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include "hm_common.h"
#include "stat.h"

static bool sub(__u64 *d, __u64 cur, __u64 prev)
{
	*d = cur - prev;
	return cur >= prev;
}

static bool latency_delta(struct hm_latency *d, const struct hm_latency *cur,
			  const struct hm_latency *prev)
{
	bool ok = sub(&d->count, cur->count, prev->count) &
		  sub(&d->sum_ns, cur->sum_ns, prev->sum_ns);

	d->min_ns = d->max_ns = 0; /* not known for an interval */
	return ok;
}

/* d = cur - prev; when a counter went down (cleared in between), d = cur. */
static void stats_delta(struct hm_stats *d, const struct hm_stats *cur, const struct hm_stats *prev)
{
	bool ok = true;
	int c;

	ok &= sub(&d->requests, cur->requests, prev->requests);
	ok &= sub(&d->responses, cur->responses, prev->responses);
	ok &= sub(&d->unanswered, cur->unanswered, prev->unanswered);
	for (c = 0; c < HM_STATUS_CLASSES; c++)
		ok &= sub(&d->status[c], cur->status[c], prev->status[c]);
	ok &= latency_delta(&d->lat, &cur->lat, &prev->lat);
	ok &= latency_delta(&d->lat_ok, &cur->lat_ok, &prev->lat_ok);
	ok &= latency_delta(&d->lat_fail, &cur->lat_fail, &prev->lat_fail);
	ok &= latency_delta(&d->lat_last, &cur->lat_last, &prev->lat_last);
	ok &= sub(&d->bytes_in, cur->bytes_in, prev->bytes_in);
	ok &= sub(&d->bytes_out, cur->bytes_out, prev->bytes_out);
	if (!ok)
		stats_delta(d, cur, &(struct hm_stats){ 0 });
}

static bool stats_active(const struct hm_stats *s)
{
	return s->requests || s->responses || s->unanswered || s->bytes_in || s->bytes_out ||
	       s->lat.count || s->lat_last.count;
}

int snapshot_delta(struct snapshot *out, const struct snapshot *cur, const struct snapshot *prev,
		   double seconds)
{
	static const struct hm_hist zero_hist;
	const struct key_hist *pp;
	struct key_hist *p;
	const struct row *pr;
	struct row *r;
	size_t i;
	int v, f;

	memset(out, 0, sizeof(*out));
	out->interval = true;
	out->seconds = seconds;
	out->source = cur->source;
	out->dir = cur->dir;
	for (v = 0; v < VIEWS; v++) {
		const struct table *ct = &cur->tables[v], *pt = &prev->tables[v];
		const struct hist_set *cs = &cur->hists[v], *ps = &prev->hists[v];

		for (i = 0; i < ct->len; i++) {
			pr = pt->len ? bsearch(&ct->rows[i], pt->rows, pt->len, sizeof(*pt->rows),
					       cmp_key_qsort) :
				       NULL;
			r = table_add(&out->tables[v]);
			if (!r)
				goto nomem;
			*r = ct->rows[i];
			stats_delta(&r->s, &ct->rows[i].s, pr ? &pr->s : &(struct hm_stats){ 0 });
			if (!stats_active(&r->s))
				out->tables[v].len--;
		}
		for (i = 0; i < cs->n; i++) {
			p = hist_get(&out->hists[v], cs->v[i].key);
			if (!p)
				goto nomem;
			pp = find_hist(ps, cs->v[i].key);
			for (f = 0; f < HM_LAT_FAMILIES; f++)
				hm_hist_delta(&p->h[f], &cs->v[i].h[f],
					      pp ? &pp->h[f] : &zero_hist);
		}
		for (f = 0; f < HM_LAT_FAMILIES; f++)
			hm_hist_delta(&out->ovf[v][f], &cur->ovf[v][f], &prev->ovf[v][f]);
	}
	for (f = 0; f < HM_LAT_FAMILIES; f++)
		hm_hist_delta(&out->total[f], &cur->total[f], &prev->total[f]);
	for (i = 0; i < HM_MON_MAX; i++)
		if (!sub(&out->monitor[i], cur->monitor[i], prev->monitor[i]))
			out->monitor[i] = cur->monitor[i];
	out->conns_live = cur->conns_live;
	link_hists(out);
	return 0;
nomem:
	hm_err("out of memory");
	snapshot_free(out);
	return -ENOMEM;
}
