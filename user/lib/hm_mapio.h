/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * hm_mapio.h - reading BPF maps the way every httpmon tool does: map info,
 * walks over hash maps that may change under the walk, per-CPU values, and
 * hm-load's interface records (hm_links).
 *
 * Functions return 0 (or a count) or a negative errno.
 */
#ifndef HM_MAPIO_H
#define HM_MAPIO_H

#include <stdbool.h>
#include <stddef.h>
#include <bpf/bpf.h>
#include "httpmon.h"

/* Bytes of a per-CPU value buffer: libbpf rounds each CPU's copy to 8 bytes. */
size_t hm_percpu_size(size_t value_size, int ncpus);

int hm_map_info(int fd, struct bpf_map_info *info);
/* The map's id, 0 when it cannot be queried. */
__u32 hm_map_id(int fd);
/* libbpf's name of a map type, "unknown" for one it does not know. */
const char *hm_map_type_str(unsigned int type);

/* Called for each entry of a hash with its key and value; nonzero stops the walk. */
typedef int (*hm_entry_fn)(const void *key, const void *value, void *ctx);

/*
 * Walks a hash map.  A key deleted under the walk (a reset by another
 * process) makes bpf_map_get_next_key() restart from the first key; a bound
 * stops a loop, and callers skip a key seen twice.  Errors are said once,
 * naming the map.
 */
int hm_walk_hash(int fd, const char *name, size_t value_size, hm_entry_fn fn, void *ctx);

/* The keys in a hash map, at most its max_entries. */
int hm_count_keys(int fd, const char *name, __u64 *count);

/* Entry key of a per-CPU array into values (hm_percpu_size() bytes). */
int hm_read_percpu(int fd, const char *name, __u32 key, void *values);

/*
 * hm-load's interface records in dir, when the pin holds hm_link values:
 * another release's or a foreign map under that name is left alone (its
 * values would not fit).  An fd, or -ENOENT when there is no such map.
 */
int hm_links_open(const char *dir, bool rdonly);
/* The records: returns how many there are, stores up to max. */
int hm_links_read(int links_fd, struct hm_link *out, int max);

#endif /* HM_MAPIO_H */
