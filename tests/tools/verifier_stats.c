// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * verifier_stats - load each program of the httpmon object on its own and
 * report what the verifier needed: instructions processed (verified_insns),
 * xlated size, stack (from the verifier's statistics: the deepest frame and
 * the sum of all frames, a bound on any call chain; the kernel allows 512
 * bytes per chain) and the result.  With --log, a failing program's
 * verifier log tail is printed.  Maps are private to this process (never
 * pinned).
 *
 * Usage: verifier_stats [--budget N] [--log] [OBJECT]
 * Exit status: 0 all loaded within the budget, 1 otherwise.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#define LOG_SIZE (64 << 20)
#define STATS_LOG_SIZE (1 << 16)

/* "stack depth 232+64+16" in the statistics log: the largest frame and the sum. */
static void stack_of(const char *log, unsigned int *max, unsigned int *sum)
{
	const char *p = strstr(log, "stack depth ");

	*max = *sum = 0;
	if (!p)
		return;
	p += strlen("stack depth ");
	for (;;) {
		char *end;
		unsigned long v = strtoul(p, &end, 10);

		if (end == p)
			break;
		*sum += v;
		if (v > *max)
			*max = v;
		if (*end != '+')
			break;
		p = end + 1;
	}
}

static int quiet(enum libbpf_print_level level, const char *fmt, va_list ap)
{
	(void)level, (void)fmt, (void)ap;
	return 0;
}

int main(int argc, char **argv)
{
	const char *path = "build/httpmon.o";
	unsigned long budget = 0;
	bool show_log = false;
	int failed = 0;

	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--budget") && i + 1 < argc)
			budget = strtoul(argv[++i], NULL, 0);
		else if (!strcmp(argv[i], "--log"))
			show_log = true;
		else
			path = argv[i];
	}
	libbpf_set_print(quiet);

	/* One object per program, so each one's log and numbers are its own. */
	struct bpf_object *probe = bpf_object__open_file(path, NULL);
	struct bpf_program *prog;

	if (!probe) {
		fprintf(stderr, "verifier_stats: cannot open %s: %s\n", path, strerror(errno));
		return 1;
	}
	printf("%-20s %-10s %12s %10s %11s  %s\n", "PROGRAM", "TYPE", "VERIFIED", "XLATED", "STACK",
	       "RESULT");
	bpf_object__for_each_program(prog, probe) {
		const char *name = bpf_program__name(prog);
		struct bpf_object *obj = bpf_object__open_file(path, NULL);
		struct bpf_program *p, *me = NULL;
		char *log = calloc(1, show_log ? LOG_SIZE : STATS_LOG_SIZE);
		unsigned int stack_max, stack_sum;
		char stack[32];
		struct bpf_prog_info info = {};
		__u32 len = sizeof(info);
		struct bpf_map *map;
		int err;

		bpf_object__for_each_program(p, obj) {
			bool is_me = !strcmp(bpf_program__name(p), name);

			bpf_program__set_autoload(p, is_me);
			if (!strncmp(bpf_program__name(p), "hm_tc_", 6))
				bpf_program__set_type(p, BPF_PROG_TYPE_SCHED_CLS);
			if (is_me)
				me = p;
		}
		bpf_object__for_each_map(map, obj)
			bpf_map__set_pin_path(map, NULL);
		if (!log) {
			fprintf(stderr, "verifier_stats: out of memory\n");
			return 1;
		}
		/* Level 4 (statistics) ends the log with the stack depth of each frame. */
		bpf_program__set_log_buf(me, log, show_log ? LOG_SIZE : STATS_LOG_SIZE);
		bpf_program__set_log_level(me, show_log ? 1 | 4 : 4);
		err = bpf_object__load(obj);
		if (!err && !bpf_obj_get_info_by_fd(bpf_program__fd(me), &info, &len)) {
			bool over = budget && info.verified_insns > budget;

			stack_of(log, &stack_max, &stack_sum);
			snprintf(stack, sizeof(stack), "%u/%u", stack_max, stack_sum);
			printf("%-20s %-10s %12u %10u %11s  %s\n", name,
			       libbpf_bpf_prog_type_str(bpf_program__type(me)), info.verified_insns,
			       info.xlated_prog_len / 8, stack, over ? "OVER BUDGET" : "ok");
			failed |= over;
		} else {
			printf("%-20s %-10s %12s %10s %11s  FAILED: %s\n", name,
			       libbpf_bpf_prog_type_str(bpf_program__type(me)), "-", "-", "-",
			       strerror(-err));
			if (show_log) {
				size_t n = strlen(log);

				fputs(n > 6000 ? log + n - 6000 : log, stdout);
			}
			failed = 1;
		}
		free(log);
		bpf_object__close(obj);
	}
	bpf_object__close(probe);
	if (budget)
		printf("budget: %lu verified instructions per program\n", budget);
	return failed;
}
