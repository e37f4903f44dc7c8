// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * attach_links - attach every program of a BPF object to the hook its
 * section names and pin each link as DIR/link_<program>, then exit: the
 * programs stay attached until the pins are removed.  scripts/bench.sh uses
 * it for the socket source's floor (scripts/bench/empty_sock.bpf.c), which
 * hm-load does not load.
 *
 * Usage: attach_links OBJECT DIR
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <bpf/libbpf.h>

int main(int argc, char **argv)
{
	struct bpf_object *obj;
	struct bpf_program *prog;
	char path[PATH_MAX];
	int err;

	if (argc != 3) {
		fprintf(stderr, "usage: attach_links OBJECT DIR\n");
		return 2;
	}
	if (mkdir(argv[2], 0700) && errno != EEXIST) {
		fprintf(stderr, "attach_links: cannot create %s: %s\n", argv[2], strerror(errno));
		return 1;
	}
	obj = bpf_object__open_file(argv[1], NULL);
	if (!obj || bpf_object__load(obj)) {
		fprintf(stderr, "attach_links: cannot load %s\n", argv[1]);
		return 1;
	}
	bpf_object__for_each_program(prog, obj) {
		struct bpf_link *link = bpf_program__attach(prog);

		snprintf(path, sizeof(path), "%s/link_%s", argv[2], bpf_program__name(prog));
		err = link ? bpf_link__pin(link, path) : -errno;
		if (err) {
			fprintf(stderr, "attach_links: %s: %s\n", bpf_program__name(prog),
				strerror(-err));
			return 1;
		}
		bpf_link__destroy(link);
	}
	bpf_object__close(obj);
	return 0;
}
