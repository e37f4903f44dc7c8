// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* json.c - hm-stat --format json: every view, the totals and the self-metrics (schema 1). */
#include "hm_json.h"
#include "stat.h"

static void json_rate(FILE *f, const char *name, bool valid, double v)
{
	if (valid)
		fprintf(f, ", \"%s\": %.4f", name, v);
	else
		fprintf(f, ", \"%s\": null", name);
}

/* avg/min/max in us, and the percentiles when with_hist (h may be NULL). */
static void json_latency(FILE *f, const char *name, const struct hm_latency *l, bool with_hist,
			 const struct hm_hist *h)
{
	double ns;
	int q;

	if (!lat_valid(l))
		fprintf(f, ", \"%s\": {\"avg\": null, \"min\": null, \"max\": null", name);
	else
		fprintf(f, ", \"%s\": {\"avg\": %.1f, \"min\": %.1f, \"max\": %.1f", name,
			lat_avg_ns(l) / 1e3, l->min_ns / 1e3, l->max_ns / 1e3);
	for (q = 0; with_hist && q < HM_NQUANTILES; q++) {
		if (percentile(h, l, false, hm_quantiles[q].per10k, &ns))
			fprintf(f, ", \"%s\": %.1f", hm_quantiles[q].key, ns / 1e3);
		else
			fprintf(f, ", \"%s\": null", hm_quantiles[q].key);
	}
	fputc('}', f);
}

/* "name": {"p50": ..., "p99_9": ...}, without bounds. */
static void json_quantiles(FILE *f, const char *name, const struct hm_hist *h)
{
	double ns;
	int q;

	fprintf(f, "\"%s\": {", name);
	for (q = 0; q < HM_NQUANTILES; q++) {
		fprintf(f, "%s\"%s\": ", q ? ", " : "", hm_quantiles[q].key);
		if (percentile(h, NULL, false, hm_quantiles[q].per10k, &ns))
			fprintf(f, "%.1f", ns / 1e3);
		else
			fputs("null", f);
	}
	fputc('}', f);
}

/* {"count", "sum_us", "buckets": [[upper_us, n], ...]}: non-empty fine buckets. */
static void json_hist(FILE *f, const struct hm_hist *h)
{
	const char *sep = "";
	__u32 b;

	if (!h) {
		fputs("null", f);
		return;
	}
	fprintf(f, "{\"count\": %llu, \"sum_us\": %.1f, \"buckets\": [",
		(unsigned long long)hm_hist_total(h), h->sum_ns / 1e3);
	for (b = 0; b < HM_HIST_BUCKETS; b++) {
		if (!h->buckets[b])
			continue;
		if (b == HM_HIST_BUCKETS - 1)
			fprintf(f, "%s[null, %llu]", sep, (unsigned long long)h->buckets[b]);
		else
			fprintf(f, "%s[%.3f, %llu]", sep, hm_hist_upper(b) / 1e3,
				(unsigned long long)h->buckets[b]);
		sep = ", ";
	}
	fputs("]}", f);
}

static void json_hists(FILE *f, const struct hm_hist *const *h)
{
	int fam;

	fputs(", \"latency_hist\": {", f);
	for (fam = 0; fam < HM_LAT_FAMILIES; fam++) {
		fprintf(f, "%s\"%s\": ", fam ? ", " : "", family_names[fam]);
		json_hist(f, h[fam]);
	}
	fputc('}', f);
}

/* with_hist: rows of views with histograms, and the total (their histograms, or nulls). */
static void json_row_body(FILE *f, const struct row *r, bool with_hist)
{
	const struct hm_stats *s = &r->s;
	double rate = 0;
	bool valid;

	fprintf(f, "\"requests\": %llu, \"responses\": %llu, \"unanswered\": %llu",
		(unsigned long long)s->requests, (unsigned long long)s->responses,
		(unsigned long long)s->unanswered);
	fprintf(f,
		", \"status\": {\"1xx\": %llu, \"2xx\": %llu, \"3xx\": %llu, "
		"\"4xx\": %llu, \"5xx\": %llu}",
		(unsigned long long)s->status[HM_STATUS_1XX],
		(unsigned long long)s->status[HM_STATUS_2XX],
		(unsigned long long)s->status[HM_STATUS_3XX],
		(unsigned long long)s->status[HM_STATUS_4XX],
		(unsigned long long)s->status[HM_STATUS_5XX]);
	valid = success_rate(s, &rate);
	json_rate(f, "success_rate", valid, rate);
	valid = response_rate(s, &rate);
	json_rate(f, "response_rate", valid, rate);
	json_latency(f, "latency_us", &s->lat, with_hist, r->hist[HM_LAT_FIRST]);
	json_latency(f, "latency_ok_us", &s->lat_ok, false, NULL);
	json_latency(f, "latency_fail_us", &s->lat_fail, false, NULL);
	json_latency(f, "latency_last_us", &s->lat_last, with_hist, r->hist[HM_LAT_LAST]);
	fprintf(f, ", \"bytes_in\": %llu, \"bytes_out\": %llu", (unsigned long long)s->bytes_in,
		(unsigned long long)s->bytes_out);
	if (with_hist)
		json_hists(f, r->hist);
}

static void json_row(FILE *f, const struct view *v, const struct row *r, const char *source)
{
	char buf[KEY_TEXT];
	const char *text;

	fprintf(f, "{\"source\": \"%s\"", source);
	for (unsigned int k = 0; k < v->nkeys; k++) {
		fprintf(f, ", \"%s\": ", key_name(v->keys[k]));
		text = key_text(v->keys[k], r, buf, sizeof(buf));
		if (!text)
			fputs("null", f);
		else if (key_is_number(v->keys[k], r))
			fputs(text, f);
		else
			hm_json_str(f, text);
	}
	fputs(", ", f);
	json_row_body(f, r, v->hist);
	fputc('}', f);
}

static void json_other_latency(FILE *f, const char *name, const struct hm_hist *h)
{
	const struct hm_hist *hists[HM_LAT_FAMILIES] = { &h[HM_LAT_FIRST], &h[HM_LAT_LAST] };

	fprintf(f, ",\n \"%s\": {", name);
	json_quantiles(f, "latency_us", hists[HM_LAT_FIRST]);
	fputs(", ", f);
	json_quantiles(f, "latency_last_us", hists[HM_LAT_LAST]);
	json_hists(f, hists);
	fputc('}', f);
}

void print_json(FILE *f, const struct snapshot *snap, const struct options *o)
{
	const char *source = source_names[snap->source];
	const struct table *t;
	struct row total;
	const char *sep;
	size_t i;
	int v;

	fprintf(f, "{\"schema\": %d, \"source\": \"%s\"", HM_JSON_SCHEMA, source);
	for (v = 0; v < VIEWS; v++) {
		if (views[v].sock_only && snap->source != SOURCE_SOCKET)
			continue;
		t = &snap->tables[v];
		fprintf(f, ",\n \"%s\": [", views[v].json);
		sep = "\n  ";
		for (i = 0; i < t->len; i++) {
			if (!row_shown(t, i, o->top))
				continue;
			fputs(sep, f);
			json_row(f, &views[v], &t->rows[i], source);
			sep = ",\n  ";
		}
		fputs(t->len ? "\n ]" : "]", f);
	}
	total_row(&total, snap, VIEW_PORT);
	fprintf(f, ",\n \"total\": {\"source\": \"%s\", ", source);
	json_row_body(f, &total, true);
	fputc('}', f);
	/* Keys beyond those with histograms of their own: percentiles only. */
	for (v = 0; v < VIEWS; v++)
		if (views[v].hist)
			json_other_latency(f, views[v].json_other, snap->ovf[v]);
	fprintf(f, ",\n \"monitor\": {");
	for (i = 0; i < HM_MON_MAX; i++) {
		fprintf(f, "%s", i ? ", " : "");
		hm_json_str(f, monitor_names[i]);
		fprintf(f, ": %llu", (unsigned long long)snap->monitor[i]);
	}
	fprintf(f, ", \"conns_live\": %llu}}\n", (unsigned long long)snap->conns_live);
}
