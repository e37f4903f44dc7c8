// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * jitlines.c - perf samples in BPF programs -> source lines (for bench.sh).
 *
 * Usage: jitlines PROG_ID... <samples
 *
 * Each input line is "ADDR leaf" or "ADDR ret": a kernel address inside
 * one of the programs (hex), either the sampled instruction or a return
 * address in a caller frame (then the call itself, ADDR - 1, is looked up).
 * The kernel keeps, per program, the JIT address of every line-info record
 * (jited_line_info) and the source text of the line in the program's BTF;
 * an address belongs to the last record at or before it within its
 * function.  Output: first "total N unmatched N", then the JIT address
 * range of every function, "range <TAB> START <TAB> END <TAB> NAME" (hex,
 * END exclusive), then one line per
 * function with samples, "func <TAB> NAME <TAB> SAMPLES", then one per
 * source line with samples (an inlined line counts once, whichever function
 * it was inlined into), unsorted:
 *   SAMPLES <TAB> FUNCTION <TAB> FILE:LINE <TAB> SOURCE TEXT
 * Needs root and a kernel that reports line info for JITed programs.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <bpf/bpf.h>
#include <bpf/btf.h>
#include <linux/bpf.h>

struct line_rec {
	__u64 addr;
	const char *func, *file, *src;
	unsigned int line;
	long hits;
};

struct func_range {
	__u64 start, end;
	const char *name;
};

static struct line_rec *recs;
static size_t nrecs;
static struct func_range *funcs;
static size_t nfuncs;

static int by_addr(const void *a, const void *b)
{
	const struct line_rec *x = a, *y = b;

	return x->addr < y->addr ? -1 : x->addr > y->addr;
}

/* Appends the line records and function ranges of program ID. */
static int load_prog(__u32 id)
{
	struct bpf_prog_info info = {};
	__u32 len = sizeof(info), nl, njl, nk, nfl, nfi, lrs, jrs, fis, i;
	void *li = NULL, *fi = NULL;
	__u64 *jl = NULL, *ks = NULL;
	__u32 *fl = NULL;
	struct btf *btf;
	int fd, err = -1;

	fd = bpf_prog_get_fd_by_id(id);
	if (fd < 0 || bpf_obj_get_info_by_fd(fd, &info, &len)) {
		fprintf(stderr, "jitlines: program %u: %s\n", id, strerror(errno));
		return -1;
	}
	nl = info.nr_line_info;
	njl = info.nr_jited_line_info;
	nk = info.nr_jited_ksyms;
	nfl = info.nr_jited_func_lens;
	nfi = info.nr_func_info;
	lrs = info.line_info_rec_size;
	jrs = info.jited_line_info_rec_size;
	fis = info.func_info_rec_size;
	if (!njl || njl != nl || nk != nfl || nk != nfi || jrs != sizeof(__u64)) {
		fprintf(stderr, "jitlines: program %u has no usable line info\n", id);
		goto out;
	}
	li = calloc(nl, lrs);
	jl = calloc(njl, jrs);
	ks = calloc(nk, sizeof(*ks));
	fl = calloc(nfl, sizeof(*fl));
	fi = calloc(nfi, fis);
	if (!li || !jl || !ks || !fl || !fi)
		goto out;
	memset(&info, 0, sizeof(info));
	info.nr_line_info = nl;
	info.line_info_rec_size = lrs;
	info.line_info = (__u64)(unsigned long)li;
	info.nr_jited_line_info = njl;
	info.jited_line_info_rec_size = jrs;
	info.jited_line_info = (__u64)(unsigned long)jl;
	info.nr_jited_ksyms = nk;
	info.jited_ksyms = (__u64)(unsigned long)ks;
	info.nr_jited_func_lens = nfl;
	info.jited_func_lens = (__u64)(unsigned long)fl;
	info.nr_func_info = nfi;
	info.func_info_rec_size = fis;
	info.func_info = (__u64)(unsigned long)fi;
	len = sizeof(info);
	if (bpf_obj_get_info_by_fd(fd, &info, &len)) {
		fprintf(stderr, "jitlines: program %u: %s\n", id, strerror(errno));
		goto out;
	}
	btf = btf__load_from_kernel_by_id(info.btf_id);
	if (!btf) {
		fprintf(stderr, "jitlines: BTF of program %u: %s\n", id, strerror(errno));
		goto out;
	}
	/* The BTF stays loaded: the records point into its strings. */
	funcs = realloc(funcs, (nfuncs + nk) * sizeof(*funcs));
	recs = realloc(recs, (nrecs + njl) * sizeof(*recs));
	if (!funcs || !recs)
		goto out;
	for (i = 0; i < nk; i++) {
		const struct bpf_func_info *f = (void *)((char *)fi + (size_t)i * fis);
		const struct btf_type *t = btf__type_by_id(btf, f->type_id);

		funcs[nfuncs + i] = (struct func_range){
			.start = ks[i], .end = ks[i] + fl[i],
			.name = t ? btf__name_by_offset(btf, t->name_off) : "?",
		};
	}
	for (i = 0; i < njl; i++) {
		const struct bpf_line_info *l = (void *)((char *)li + (size_t)i * lrs);
		struct line_rec *r = &recs[nrecs + i];
		size_t k;

		*r = (struct line_rec){
			.addr = jl[i], .func = "?", .line = BPF_LINE_INFO_LINE_NUM(l->line_col),
			.file = btf__name_by_offset(btf, l->file_name_off),
			.src = btf__name_by_offset(btf, l->line_off),
		};
		for (k = nfuncs; k < nfuncs + nk; k++)
			if (r->addr >= funcs[k].start && r->addr < funcs[k].end)
				r->func = funcs[k].name;
	}
	nfuncs += nk;
	nrecs += njl;
	err = 0;
out:
	free(li);
	free(jl);
	free(ks);
	free(fl);
	free(fi);
	close(fd);
	return err;
}

static const char *base_name(const char *path)
{
	const char *s = path ? strrchr(path, '/') : NULL;

	return s ? s + 1 : (path ? path : "?");
}

int main(int argc, char **argv)
{
	char buf[128], kind[8];
	long total = 0, unmatched = 0;
	size_t i, j;

	if (argc < 2) {
		fprintf(stderr, "usage: jitlines PROG_ID... <samples\n");
		return 2;
	}
	for (i = 1; i < (size_t)argc; i++)
		if (load_prog(strtoul(argv[i], NULL, 10)))
			return 1;
	qsort(recs, nrecs, sizeof(*recs), by_addr);
	while (fgets(buf, sizeof(buf), stdin)) {
		unsigned long long a;
		const struct func_range *f = NULL;
		long best = -1;

		if (sscanf(buf, "%llx %7s", &a, kind) != 2)
			continue;
		total++;
		if (!strcmp(kind, "ret"))
			a--; /* the call instruction, not the one after it */
		for (j = 0; j < nfuncs; j++)
			if (a >= funcs[j].start && a < funcs[j].end)
				f = &funcs[j];
		for (j = 0; f && j < nrecs && recs[j].addr <= a; j++)
			if (recs[j].addr >= f->start)
				best = j;
		if (best < 0)
			unmatched++;
		else
			recs[best].hits++;
	}
	printf("total %ld unmatched %ld\n", total, unmatched);
	for (i = 0; i < nfuncs; i++)
		printf("range\t%llx\t%llx\t%s\n", (unsigned long long)funcs[i].start,
		       (unsigned long long)funcs[i].end, funcs[i].name);
	/* Per function (ingress and egress copies of one function together). */
	for (i = 0; i < nrecs; i++) {
		long sum = 0;

		if (!recs[i].hits)
			continue;
		for (j = 0; j < i; j++)
			if (recs[j].hits && !strcmp(recs[j].func, recs[i].func))
				break;
		if (j < i)
			continue; /* printed with the first record of its name */
		for (j = i; j < nrecs; j++)
			if (!strcmp(recs[j].func, recs[i].func))
				sum += recs[j].hits;
		printf("func\t%s\t%ld\n", recs[i].func, sum);
	}
	/* One row per source line, whichever program or record it came from. */
	for (i = 0; i < nrecs; i++) {
		if (!recs[i].hits)
			continue;
		for (j = i + 1; j < nrecs; j++)
			if (recs[j].hits && recs[j].line == recs[i].line && recs[j].file &&
			    recs[i].file && !strcmp(recs[j].file, recs[i].file)) {
				recs[i].hits += recs[j].hits;
				recs[j].hits = 0;
			}
		printf("%ld\t%s\t%s:%u\t%s\n", recs[i].hits, recs[i].func, base_name(recs[i].file),
		       recs[i].line, recs[i].src ? recs[i].src : "");
	}
	return 0;
}
