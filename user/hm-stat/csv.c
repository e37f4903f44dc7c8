// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* csv.c - hm-stat --format csv: a header line and the rows of the --by view (RFC 4180). */
#include <string.h>
#include "stat.h"

static const char *const lat_names[] = { "latency", "latency_ok", "latency_fail", "latency_last" };
#define NLAT (sizeof(lat_names) / sizeof(lat_names[0]))

static void csv_us(FILE *f, bool valid, double ns)
{
	if (valid)
		fprintf(f, ",%.1f", ns / 1e3);
	else
		fputc(',', f);
}

static void csv_latency(FILE *f, const struct hm_latency *l, bool quantiles,
			const struct hm_hist *h)
{
	double ns = 0;
	int q;

	csv_us(f, lat_valid(l), lat_valid(l) ? lat_avg_ns(l) : 0);
	csv_us(f, lat_valid(l), l->min_ns);
	csv_us(f, lat_valid(l), l->max_ns);
	for (q = 0; quantiles && q < HM_NQUANTILES; q++) {
		bool ok = percentile(h, l, false, hm_quantiles[q].per10k, &ns);

		csv_us(f, ok, ns);
	}
}

static void csv_header(FILE *f, const struct view *v)
{
	size_t i;
	int q;

	for (unsigned int k = 0; k < v->nkeys; k++)
		fprintf(f, "%s%s", k ? "," : "", key_name(v->keys[k]));
	fputs(",requests,responses,unanswered,status_1xx,status_2xx,status_3xx,"
	      "status_4xx,status_5xx,success_rate,response_rate",
	      f);
	for (i = 0; i < NLAT; i++) {
		fprintf(f, ",%s_avg_us,%s_min_us,%s_max_us", lat_names[i], lat_names[i],
			lat_names[i]);
		if (i == 0 || i == 3)
			for (q = 0; q < HM_NQUANTILES; q++)
				fprintf(f, ",%s_%s_us", lat_names[i], hm_quantiles[q].key);
	}
	fputs(",bytes_in,bytes_out,source\n", f);
}

/* A field quoted as RFC 4180 asks when it holds a comma or a quote. */
static void csv_field(FILE *f, const char *text)
{
	if (!strpbrk(text, ",\"")) {
		fputs(text, f);
		return;
	}
	fputc('"', f);
	for (; *text; text++) {
		if (*text == '"')
			fputc('"', f);
		fputc(*text, f);
	}
	fputc('"', f);
}

static void csv_row(FILE *f, const struct view *v, const struct row *r, const char *source)
{
	const struct hm_stats *s = &r->s;
	char buf[KEY_TEXT];
	const char *text;
	double rate;
	int c;

	for (unsigned int k = 0; k < v->nkeys; k++) {
		if (k)
			fputc(',', f);
		text = key_text(v->keys[k], r, buf, sizeof(buf));
		if (text)
			csv_field(f, text);
	}
	fprintf(f, ",%llu,%llu,%llu", (unsigned long long)s->requests,
		(unsigned long long)s->responses, (unsigned long long)s->unanswered);
	for (c = 0; c < HM_STATUS_CLASSES; c++)
		fprintf(f, ",%llu", (unsigned long long)s->status[c]);
	if (success_rate(s, &rate))
		fprintf(f, ",%.4f", rate);
	else
		fputc(',', f);
	if (response_rate(s, &rate))
		fprintf(f, ",%.4f", rate);
	else
		fputc(',', f);
	csv_latency(f, &s->lat, true, r->hist[HM_LAT_FIRST]);
	csv_latency(f, &s->lat_ok, false, NULL);
	csv_latency(f, &s->lat_fail, false, NULL);
	csv_latency(f, &s->lat_last, true, r->hist[HM_LAT_LAST]);
	fprintf(f, ",%llu,%llu,%s\n", (unsigned long long)s->bytes_in,
		(unsigned long long)s->bytes_out, source);
}

void print_csv(FILE *f, const struct snapshot *snap, const struct options *o)
{
	const struct table *t = &snap->tables[o->view];
	size_t i;

	csv_header(f, &views[o->view]);
	for (i = 0; i < t->len; i++)
		if (row_shown(t, i, o->top))
			csv_row(f, &views[o->view], &t->rows[i], source_names[snap->source]);
}
