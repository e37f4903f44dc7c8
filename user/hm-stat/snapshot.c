// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* snapshot.c - reading every view, histogram and self-metric of the maps at once. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <bpf/libbpf.h>
#include "hm_common.h"
#include "hm_mapio.h"
#include "hm_route.h"
#include "stat.h"

/* qsort() of a possibly empty array, whose base may then be NULL (qsort() wants an array). */
void sort_array(void *base, size_t n, size_t size, int (*cmp)(const void *, const void *))
{
	if (n)
		qsort(base, n, size, cmp);
}

/* Room for one more of n elements of size in *v (cap of them now); false when out of memory. */
static bool grow(void **v, size_t *cap, size_t n, size_t size)
{
	size_t more = *cap ? *cap * 2 : 64;
	void *p;

	if (n < *cap)
		return true;
	p = realloc(*v, more * size);
	if (!p)
		return false;
	*v = p;
	*cap = more;
	return true;
}

struct row *table_add(struct table *t)
{
	if (!grow((void **)&t->rows, &t->cap, t->len, sizeof(*t->rows)))
		return NULL;
	memset(&t->rows[t->len], 0, sizeof(t->rows[0]));
	return &t->rows[t->len++];
}

struct key_hist *hist_get(struct hist_set *set, __u32 key)
{
	struct key_hist *p;
	size_t i;

	for (i = 0; i < set->n; i++)
		if (set->v[i].key == key)
			return &set->v[i];
	if (!grow((void **)&set->v, &set->cap, set->n, sizeof(*set->v)))
		return NULL;
	p = &set->v[set->n++];
	memset(p, 0, sizeof(*p));
	p->key = key;
	return p;
}

/* A row with nothing in it: an untouched overflow row or route slot. */
static bool stats_empty(const struct hm_stats *s)
{
	return !s->requests && !s->responses && !s->unanswered && !s->bytes_in && !s->bytes_out &&
	       !s->lat.count && !s->lat_last.count;
}

void stats_add(struct hm_stats *sum, const struct hm_stats *s)
{
	struct hm_stats pair[2] = { *sum, *s };

	hm_stats_sum(sum, pair, 2);
}

/* The histogram key of row id in a view of row kinds: the row's key, which outlives a reset. */
struct slot_key {
	bool set;
	__u32 key;
};

/* What a read covers, and what it learns on the way. */
struct reader {
	const struct hm_maps *maps;
	int ncpus;
	unsigned int gens; /* bit g: generation g is read */
	struct snapshot *snap;
	struct hm_stats *percpu;
	enum view_id kind_view[HM_ROW_KINDS];
	/* ids seen per (generation, class): a walk restarted by a concurrent reset repeats keys */
	unsigned char *seen[HM_GENS][HM_ROW_CLASSES];
	/* views of row kinds with histograms: the key of each row id that has its own */
	struct slot_key *slot_keys[VIEWS][HM_GENS];
	struct id_names names[VIEWS]; /* SRC_IDS views: the names of their ids */
};

static __u32 row_hist_key(const struct hm_row_key *key)
{
	return key->kind == HM_ROW_IFACE ? key->ifindex : key->port;
}

/* The stats of entry id of a per-CPU stats array, added to sum. */
static int add_stats(struct reader *rd, int fd, const char *name, __u32 id, struct hm_stats *sum)
{
	struct hm_stats one;
	int ret = hm_read_percpu(fd, name, id, rd->percpu);

	if (ret)
		return ret;
	hm_stats_sum(&one, rd->percpu, rd->ncpus);
	stats_add(sum, &one);
	return 0;
}

static int add_row(const void *k, const void *v, void *arg)
{
	const struct hm_row_key *key = k;
	const struct hm_row_val *val = v;
	struct reader *rd = arg;
	unsigned int cap, gen = key->gen;
	enum view_id view;
	struct slot_key *sk;
	struct row *r;
	int ret;

	if (gen >= HM_GENS || !(rd->gens & (1U << gen)) || key->kind >= HM_ROW_KINDS)
		return 0;
	cap = hm_row_capacity(key->kind);
	if (!val->id || val->id >= cap || rd->seen[gen][key->kind][val->id])
		return 0;
	rd->seen[gen][key->kind][val->id] = 1;
	view = rd->kind_view[key->kind];
	r = table_add(&rd->snap->tables[view]);
	if (!r)
		return -ENOMEM;
	ret = add_stats(rd, hm_row_array(rd->maps, key->kind), "row", gen * cap + val->id, &r->s);
	if (ret)
		return ret;
	r->ip = key->addr;
	r->port = key->port;
	r->ifindex = key->ifindex;
	r->hist_keyed = views[view].hist;
	r->hist_key = row_hist_key(key);
	sk = rd->slot_keys[view][gen];
	if (sk && val->id >= views[view].hist_id_first &&
	    val->id < views[view].hist_id_first + views[view].hist_n)
		sk[val->id - views[view].hist_id_first] = (struct slot_key){ true, r->hist_key };
	return 0;
}

/* Rows of row kinds: hm_row_ids names them; each kind's overflow row (id 0) holds the rest. */
static int read_row_kinds(struct reader *rd)
{
	struct hm_stats sum;
	unsigned int gen, kind;
	struct row *r;
	int ret;

	ret = hm_walk_hash(rd->maps->row_ids, HM_MAP_ROW_IDS, sizeof(struct hm_row_val), add_row,
			   rd);
	for (kind = 0; kind < HM_ROW_KINDS && !ret; kind++) {
		memset(&sum, 0, sizeof(sum));
		for (gen = 0; gen < HM_GENS && !ret; gen++)
			if (rd->gens & (1U << gen))
				ret = add_stats(rd, hm_row_array(rd->maps, kind), "row",
						gen * hm_row_capacity(kind), &sum);
		if (ret || stats_empty(&sum))
			continue;
		r = table_add(&rd->snap->tables[rd->kind_view[kind]]);
		if (!r)
			return -ENOMEM;
		r->other = true;
		r->s = sum;
	}
	return ret;
}

static int add_proc(const void *k, const void *v, void *arg)
{
	const struct hm_proc_key *key = k;
	const struct hm_route_val *val = v;
	struct reader *rd = arg;
	unsigned int gen = key->gen;
	struct row *r;

	if (gen >= HM_GENS || !(rd->gens & (1U << gen)))
		return 0;
	if (!val->id || val->id >= HM_MAX_PROCS || rd->seen[gen][HM_ROW_PROC][val->id])
		return 0;
	rd->seen[gen][HM_ROW_PROC][val->id] = 1;
	r = table_add(&rd->snap->tables[VIEW_PROCESS]);
	if (!r)
		return -ENOMEM;
	r->pid = key->pid;
	r->role = key->role;
	r->cgroup = key->cgroup;
	memcpy(r->comm, key->comm, sizeof(key->comm)); /* NUL-padded, maybe full */
	return add_stats(rd, rd->maps->procs, HM_MAP_PROCS, gen * HM_MAX_PROCS + val->id, &r->s);
}

/* The socket set's process rows: hm_proc_ids names them; id 0 holds the rest. */
static int read_procs(struct reader *rd)
{
	struct hm_stats sum = { 0 };
	unsigned int gen;
	struct row *r;
	int ret;

	if (rd->maps->proc_ids < 0 || rd->maps->procs < 0)
		return 0;
	ret = hm_walk_hash(rd->maps->proc_ids, HM_MAP_PROC_IDS, sizeof(struct hm_route_val),
			   add_proc, rd);
	for (gen = 0; gen < HM_GENS && !ret; gen++)
		if (rd->gens & (1U << gen))
			ret = add_stats(rd, rd->maps->procs, HM_MAP_PROCS, gen * HM_MAX_PROCS,
					&sum);
	if (ret || stats_empty(&sum))
		return ret;
	r = table_add(&rd->snap->tables[VIEW_PROCESS]);
	if (!r)
		return -ENOMEM;
	r->other = true;
	snprintf(r->comm, sizeof(r->comm), "_other");
	r->s = sum;
	return 0;
}

/* Extension method names, from hm_method_ids. */
static int add_method_name(const void *k, const void *val, void *arg)
{
	const struct hm_method_key *key = k;
	const struct hm_route_val *id = val;

	(void)arg;
	hm_method_name_set(id->id, key->name, strnlen(key->name, sizeof(key->name)));
	return 0;
}

/* One entry of a names map: its key, under the id it names. */
struct names_walk {
	struct id_names *names;
	unsigned int name_size;
};

static int add_id_name(const void *k, const void *val, void *arg)
{
	const struct hm_route_val *id = val;
	struct names_walk *w = arg;
	struct id_names *n = w->names;
	struct id_name *p;

	if (!grow((void **)&n->v, &n->cap, n->n, sizeof(*n->v)))
		return -ENOMEM;
	p = &n->v[n->n++];
	memset(p, 0, sizeof(*p));
	p->id = id->id;
	memcpy(p->key, k, w->name_size);
	return 0;
}

/*
 * The names of every SRC_IDS view, before any of their rows: an id may be made
 * of other views' ids (a (host, route) pair).  Names outlive a reset, so an
 * id never changes its name under a request being counted; hm-reset --routes
 * forgets them.
 */
static int read_id_names(struct reader *rd)
{
	struct names_walk w;
	int ret, v;

	ret = hm_walk_hash(rd->maps->method_ids, HM_MAP_METHOD_IDS, sizeof(struct hm_route_val),
			   add_method_name, NULL);
	for (v = 0; v < VIEWS && !ret; v++) {
		const struct id_source *ids = views[v].ids;

		if (views[v].source != SRC_IDS)
			continue;
		rd->names[v].n = 0;
		w = (struct names_walk){ &rd->names[v], ids->name_size };
		ret = hm_walk_hash(*(const int *)((const char *)rd->maps + ids->names_fd),
				   ids->names_map, sizeof(struct hm_route_val), add_id_name, &w);
		sort_array(rd->names[v].v, rd->names[v].n, sizeof(*rd->names[v].v), cmp_id_name);
	}
	return ret;
}

/* Rows of a view by id: each id's stats summed over the generations read, named by its map. */
static int read_ids(struct reader *rd, enum view_id view)
{
	const struct id_source *ids = views[view].ids;
	int fd = *(const int *)((const char *)rd->maps + ids->stats_fd);
	struct hm_stats sum;
	unsigned int gen;
	struct row *r;
	__u32 id;
	int ret = 0;

	for (id = 0; id < ids->capacity && !ret; id++) {
		memset(&sum, 0, sizeof(sum));
		for (gen = 0; gen < HM_GENS && !ret; gen++)
			if (rd->gens & (1U << gen))
				ret = add_stats(rd, fd, ids->stats_map, gen * ids->capacity + id,
						&sum);
		if (ret || stats_empty(&sum))
			continue;
		r = table_add(&rd->snap->tables[view]);
		if (!r)
			return -ENOMEM;
		r->s = sum;
		ids->key(r, id, id_name(rd->names, view, id), rd->names);
	}
	return ret;
}

/* Adds histogram index idx of the map to h. */
static int read_hist(struct reader *rd, __u32 idx, struct hm_hist *percpu, struct hm_hist *h)
{
	struct hm_hist sum;
	int ret = hm_read_percpu(rd->maps->hist, HM_MAP_HIST, idx, percpu);

	if (ret)
		return ret;
	hm_hist_sum_percpu(&sum, percpu, rd->ncpus);
	hm_hist_add(h, &sum);
	return 0;
}

/*
 * The histograms of view v in generation gen, family f: the overflow one,
 * then one per row id that has its own.  A view whose slots hold every
 * response adds them to the total too.
 */
static int read_view_hists(struct reader *rd, enum view_id v, unsigned int gen, unsigned int f,
			   struct hm_hist *percpu)
{
	const struct view *vw = &views[v];
	struct snapshot *snap = rd->snap;
	struct hm_hist sum = { 0 };
	struct key_hist *kh;
	struct slot_key *sk;
	unsigned int i;
	int ret;

	ret = read_hist(rd, HM_HIST_INDEX(gen, vw->hist_other, f), percpu, &sum);
	if (ret)
		return ret;
	hm_hist_add(&snap->ovf[v][f], &sum);
	if (vw->hist_total)
		hm_hist_add(&snap->total[f], &sum);
	for (i = 0; i < vw->hist_n; i++) {
		memset(&sum, 0, sizeof(sum));
		ret = read_hist(rd, HM_HIST_INDEX(gen, vw->hist_first + i, f), percpu, &sum);
		if (ret)
			return ret;
		if (!sum.count)
			continue;
		if (vw->hist_total)
			hm_hist_add(&snap->total[f], &sum);
		if (vw->source == SRC_ROW_KIND) {
			/* A slot whose row was not named (a concurrent reset) is other. */
			sk = &rd->slot_keys[v][gen][i];
			kh = sk->set ? hist_get(&snap->hists[v], sk->key) : NULL;
			if (sk->set && !kh)
				return -ENOMEM;
		} else {
			kh = hist_get(&snap->hists[v], vw->hist_id_first + i);
			if (!kh)
				return -ENOMEM;
		}
		hm_hist_add(kh ? &kh->h[f] : &snap->ovf[v][f], &sum);
	}
	return 0;
}

static int read_hists(struct reader *rd)
{
	struct hm_hist *percpu;
	unsigned int gen, f;
	int ret = 0, v;

	percpu = calloc(1, hm_percpu_size(sizeof(*percpu), rd->ncpus));
	if (!percpu)
		return -ENOMEM;
	for (gen = 0; gen < HM_GENS && !ret; gen++) {
		if (!(rd->gens & (1U << gen)))
			continue;
		for (f = 0; f < HM_LAT_FAMILIES && !ret; f++)
			for (v = 0; v < VIEWS && !ret; v++)
				if (views[v].hist)
					ret = read_view_hists(rd, v, gen, f, percpu);
	}
	free(percpu);
	return ret;
}

static int read_monitor(struct reader *rd)
{
	__u64 *percpu;
	unsigned int gen;
	__u32 key;
	int cpu, ret = 0;

	percpu = calloc(1, hm_percpu_size(sizeof(*percpu), rd->ncpus));
	if (!percpu)
		return -ENOMEM;
	for (gen = 0; gen < HM_GENS && !ret; gen++) {
		if (!(rd->gens & (1U << gen)))
			continue;
		for (key = 0; key < HM_MON_MAX; key++) {
			ret = hm_read_percpu(rd->maps->monitor, HM_MAP_MONITOR,
					     gen * HM_MON_MAX + key, percpu);
			if (ret)
				break;
			for (cpu = 0; cpu < rd->ncpus; cpu++)
				rd->snap->monitor[key] += percpu[cpu];
		}
	}
	free(percpu);
	return ret;
}

int cmp_key(const struct row *a, const struct row *b)
{
	int c;

	if (a->other != b->other)
		return a->other ? 1 : -1;
	if (a->port != b->port)
		return a->port < b->port ? -1 : 1;
	if (a->ifindex != b->ifindex)
		return a->ifindex < b->ifindex ? -1 : 1;
	c = memcmp(a->ip.a, b->ip.a, sizeof(a->ip.a));
	if (c)
		return c;
	c = strcmp(a->host, b->host);
	if (c)
		return c;
	c = strcmp(a->label, b->label);
	if (c)
		return c;
	if (a->method != b->method)
		return (int)a->method - (int)b->method;
	if (a->pid != b->pid)
		return a->pid < b->pid ? -1 : 1;
	if (a->cgroup != b->cgroup)
		return a->cgroup < b->cgroup ? -1 : 1;
	if (a->role != b->role)
		return (int)a->role - (int)b->role;
	return strcmp(a->comm, b->comm);
}

int cmp_key_qsort(const void *a, const void *b)
{
	return cmp_key(a, b);
}

/*
 * Sorts the rows by key and merges a key seen twice: reading, the second
 * copy replaces the first (a restarted walk); clearing, they add up.
 */
static void table_by_key(struct table *t, bool add)
{
	size_t i, n = 0;

	sort_array(t->rows, t->len, sizeof(*t->rows), cmp_key_qsort);
	for (i = 0; i < t->len; i++) {
		if (n && !cmp_key(&t->rows[n - 1], &t->rows[i])) {
			if (add)
				stats_add(&t->rows[n - 1].s, &t->rows[i].s);
			else
				t->rows[n - 1] = t->rows[i];
			continue;
		}
		t->rows[n++] = t->rows[i];
	}
	t->len = n;
}

static int cmp_key_hist(const void *pa, const void *pb)
{
	const struct key_hist *a = pa, *b = pb;

	return a->key < b->key ? -1 : a->key > b->key;
}

const struct key_hist *find_hist(const struct hist_set *set, __u32 key)
{
	struct key_hist k = { .key = key };

	if (!set->n)
		return NULL;
	return bsearch(&k, set->v, set->n, sizeof(k), cmp_key_hist);
}

/* Gives each row of a view with histograms its own; call once the sets no longer move. */
void link_hists(struct snapshot *snap)
{
	const struct key_hist *p;
	struct table *t;
	size_t i;
	int f, v;

	for (v = 0; v < VIEWS; v++) {
		if (!views[v].hist)
			continue;
		t = &snap->tables[v];
		sort_array(snap->hists[v].v, snap->hists[v].n, sizeof(*snap->hists[v].v),
			   cmp_key_hist);
		for (i = 0; i < t->len; i++) {
			p = t->rows[i].hist_keyed ?
				    find_hist(&snap->hists[v], t->rows[i].hist_key) :
				    NULL;
			for (f = 0; f < HM_LAT_FAMILIES; f++)
				t->rows[i].hist[f] = p ? &p->h[f] : NULL;
		}
	}
}

void snapshot_free(struct snapshot *snap)
{
	int v;

	for (v = 0; v < VIEWS; v++) {
		free(snap->tables[v].rows);
		free(snap->hists[v].v);
	}
	memset(snap, 0, sizeof(*snap));
}

/* Adds the generations rd->gens of every view to rd->snap. */
static int read_gens(struct reader *rd)
{
	int ret = read_row_kinds(rd), v;

	if (!ret)
		ret = read_procs(rd);
	if (!ret)
		ret = read_id_names(rd);
	for (v = 0; v < VIEWS && !ret; v++)
		if (views[v].source == SRC_IDS)
			ret = read_ids(rd, v);
	if (!ret)
		ret = read_hists(rd);
	if (!ret)
		ret = read_monitor(rd);
	return ret;
}

/* hm_reset() calls it with each generation it ends, before clearing it. */
static int read_gen(unsigned int gen, void *arg)
{
	struct reader *rd = arg;

	rd->gens = 1U << gen;
	return read_gens(rd);
}

static void reader_free(struct reader *rd)
{
	free(rd->percpu);
	for (unsigned int g = 0; g < HM_GENS; g++) {
		for (unsigned int k = 0; k < HM_ROW_CLASSES; k++)
			free(rd->seen[g][k]);
		for (unsigned int v = 0; v < VIEWS; v++)
			free(rd->slot_keys[v][g]);
	}
	for (unsigned int v = 0; v < VIEWS; v++)
		free(rd->names[v].v);
}

static int reader_init(struct reader *rd)
{
	rd->ncpus = libbpf_num_possible_cpus();
	if (rd->ncpus <= 0) {
		hm_err("cannot count the possible CPUs: %s", strerror(-rd->ncpus));
		return rd->ncpus ? rd->ncpus : -EINVAL;
	}
	rd->percpu = calloc(1, hm_percpu_size(sizeof(struct hm_stats), rd->ncpus));
	if (!rd->percpu)
		return -ENOMEM;
	for (unsigned int v = 0; v < VIEWS; v++)
		if (views[v].source == SRC_ROW_KIND)
			rd->kind_view[views[v].kind] = v;
	for (unsigned int g = 0; g < HM_GENS; g++) {
		for (unsigned int k = 0; k < HM_ROW_CLASSES; k++) {
			rd->seen[g][k] = calloc(hm_row_capacity(k), 1);
			if (!rd->seen[g][k])
				return -ENOMEM;
		}
		for (unsigned int v = 0; v < VIEWS; v++) {
			if (views[v].source != SRC_ROW_KIND || !views[v].hist)
				continue;
			rd->slot_keys[v][g] = calloc(views[v].hist_n, sizeof(struct slot_key));
			if (!rd->slot_keys[v][g])
				return -ENOMEM;
		}
	}
	return 0;
}

int read_snapshot(struct hm_maps *maps, enum source source, const char *dir, bool reset,
		  struct snapshot *snap)
{
	struct reader rd = { .maps = maps, .snap = snap, .gens = (1U << HM_GENS) - 1 };
	int ret, v;

	memset(snap, 0, sizeof(*snap));
	ret = reader_init(&rd);
	if (!ret && reset)
		ret = hm_reset(maps, dir, 0, read_gen, &rd);
	else if (!ret)
		ret = read_gens(&rd);
	if (!ret)
		ret = hm_count_keys(maps->conns, HM_MAP_CONNS, &snap->conns_live);
	reader_free(&rd);
	if (ret == -ENOMEM)
		hm_err("out of memory");
	if (ret) {
		snapshot_free(snap);
		return ret;
	}
	/* A key read in both generations adds up. */
	for (v = 0; v < VIEWS; v++)
		table_by_key(&snap->tables[v], true);
	link_hists(snap);
	snap->source = source;
	snap->dir = dir;
	return 0;
}
