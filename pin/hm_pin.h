/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * hm_pin.h - the one place that knows where httpmon's maps live in bpffs and
 * how to open them safely.  hm-load, hm-stat, hm-reset and the tests use it;
 * plain tc pins to the same place because the maps are LIBBPF_PIN_BY_NAME
 * and HM_PIN_DIR_DEFAULT is tc's globals directory.
 *
 * Functions return 0 or a negative errno; on failure they write a one-line,
 * user-facing reason to err (never NULL, errlen > 0).
 */
#ifndef HM_PIN_H
#define HM_PIN_H

#include <stdbool.h>
#include <stddef.h>
#include "httpmon.h"

/* Every pinned map, by role.  fd < 0 means "not open". */
struct hm_maps {
	int config;
	int conns;
	int row_ids; /* (kind, generation, key) -> row id */
	int clients; /* row arrays, generation * capacity + id */
	int ports;
	int port_clients;
	int ifaces;
	int monitor; /* self-metrics, per generation */
	int hist; /* latency histograms, HM_HIST_INDEX() */
	int routes; /* route id -> stats, per generation */
	int route_ids; /* (method, label) -> route id */
	int seq; /* ids handed out (HM_SEQ_*) */
	int method_ids; /* extension method name -> method id */
	int hosts; /* host id -> stats, per generation */
	int host_ids; /* host name -> host id */
	int host_routes; /* (host, route) pair id -> stats, per generation */
	int hr_ids; /* (host id, route id) -> pair id */
	int links; /* hm-load's interface records; optional (-1: none pinned) */
	/* The socket set only (-1 in the packet set). */
	int proc_ids; /* (generation, role, process) -> process row id */
	int procs; /* process rows, generation * HM_MAX_PROCS + id */
	int sock_cgrp; /* the --cgroup filter */
};

/* Pin directory to use: the explicit one, else $HTTPMON_PIN_PATH, else the default. */
const char *hm_pin_dir(const char *explicit_dir);

/*
 * The directory of the socket source's map set in pin directory dir
 * (DIR/HM_SOCK_SUBDIR), written to buf; -ENAMETOOLONG when it does not fit.
 * hm_pin_is_sock() tells whether dir names such a directory.
 */
int hm_sock_dir(char *buf, size_t len, const char *dir);
bool hm_pin_is_sock(const char *dir);

/* Writes DIR/NAME to buf; -ENAMETOOLONG when it does not fit. */
int hm_pin_path(char *buf, size_t len, const char *dir, const char *name);

/* Mounts bpffs on HM_BPFFS_ROOT when nothing of type bpf is mounted there. */
int hm_bpffs_ensure(char *err, size_t errlen);

/*
 * Opens every pinned map of the set in dir and checks each one's type, key
 * size, value size and (when set) the layout version in hm_config.
 * Read-only opens (write == false) work for a non-root reader whose
 * permissions on the pins allow reading.
 * Errors: -ENOENT no map set there (err says to run hm-load), -EPROTO layout
 * mismatch or something else where a map pin belongs (err names the map and
 * what is there), -EACCES/-EPERM (err says what access the caller needs:
 * write access to the pins when write is set).
 */
int hm_maps_open(const char *dir, bool write, struct hm_maps *maps, char *err, size_t errlen);
void hm_maps_close(struct hm_maps *maps);

/*
 * Are the maps open in maps still the ones pinned in dir?  0 when every pin
 * names the same map (same id); -ENOENT when a pin is gone (the monitor was
 * detached), -ESTALE when a pin names another map (detached and loaded
 * again), another negative errno when a pin cannot be checked.  Readers that
 * poll (hm-stat --watch) call it between polls.
 */
int hm_maps_check_pins(const char *dir, const struct hm_maps *maps);

/* True when fd is a BPF map (a pin may hold a program or a link instead). */
bool hm_fd_is_map(int fd);

/*
 * What a reset does to a map.  Aggregates exist once per generation; a reset
 * clears the generation it retires and keeps everything else.
 */
enum hm_reset_policy {
	HM_KEEP, /* left alone (connection state, method names, records) */
	HM_EPOCH, /* hm_config: its epoch names the generation written; a reset bumps it */
	HM_GEN_SLICE, /* a per-CPU array: the generation's gen_slice entries are zeroed */
	HM_GEN_ROWS, /* a row array: the rows its names map names in the generation, and id 0 */
	HM_GEN_NAMES, /* hm_row_ids, hm_proc_ids: the generation's names are deleted */
	HM_GEN_SEQ, /* hm_seq: the generation's row id counters restart */
	HM_NAMES, /* names that outlive intervals: forgotten with HM_RESET_NAMES only */
};

/* One map of the set: the one description the loader, readers, reset and tests use. */
struct hm_map_desc {
	const char *name;
	const char *role; /* what it holds, for people: hm-load --status, errors */
	unsigned int type; /* enum bpf_map_type */
	unsigned int key_size; /* 0: not checked (layout private to the program) */
	unsigned int value_size; /* 0: not checked */
	size_t fd_offset; /* offsetof(struct hm_maps, ...) */
	unsigned int max_entries; /* 0: any (capacity chosen at load time) */
	enum hm_reset_policy reset;
	unsigned int gen_slice; /* HM_GEN_SLICE, HM_GEN_ROWS: entries per generation */
	bool optional; /* a set without it is complete (checked when it is there) */
	bool sock; /* the socket set's own: required in a socket set (hm_pin_is_sock()) */
};
extern const struct hm_map_desc hm_map_descs[];
extern const size_t hm_map_descs_len;

/* The fd slot of desc's map in maps. */
int *hm_maps_fd(struct hm_maps *maps, const struct hm_map_desc *desc);

/*
 * Intervals (httpmon.h, "Generations").  hm_pin_lock() takes the pin
 * directory's flock, which hm-load also takes while it changes the set, so
 * resets and loads take turns; it returns an fd to close, or -errno.
 * hm_gen_retire() starts a new interval: it increments hm_config.epoch and
 * waits until no program run that saw the old one can still be running (an
 * RCU grace period), then returns the generation that interval was written
 * to (0 or 1), which is now still and can be read.  hm_gen_clear() empties
 * that generation (rows, their ids, routes' rows, histograms,
 * self-metrics) for its next turn.  hm_gen_live() is the generation written
 * now; the other one is empty unless a reset was interrupted, so a reset
 * first takes what is left there.  Errors are negative errnos, said once
 * through hm_err().
 */
int hm_pin_lock(const char *dir);
int hm_gen_live(const struct hm_maps *maps);
int hm_gen_retire(const struct hm_maps *maps);
int hm_gen_clear(const struct hm_maps *maps, unsigned int gen);

/*
 * Ends the interval: hm-stat --reset and hm-reset are this one function.
 * Under the pin directory's lock it clears what an interrupted reset left in
 * the generation not written, retires the live one and clears it.  read (may
 * be NULL) is handed each of the two generations before it is cleared, while
 * nothing writes it.  HM_RESET_NAMES also forgets the route labels and host names (hm-reset
 * --routes), after the counters.  0 or a negative errno, said once.
 */
#define HM_RESET_NAMES (1U << 0)
int hm_reset(const struct hm_maps *maps, const char *dir, unsigned int flags,
	     int (*read)(unsigned int gen, void *ctx), void *ctx);
/* The generation a reader that resets nothing reads too: both, always. */
#define HM_GEN_BOTH (-1)

/*
 * Row classes: the row kinds of hm_row_ids (enum hm_row_kind), then the
 * socket set's process rows, named in hm_proc_ids.  Each class names its
 * rows per generation in a names map (HM_GEN_NAMES), keeps them in a row
 * array (HM_GEN_ROWS) at generation * capacity + id, id 0 the overflow row,
 * and counts the ids handed out in a slot of hm_seq per generation.
 */
#define HM_ROW_PROC HM_ROW_KINDS
#define HM_ROW_CLASSES (HM_ROW_PROC + 1)

/* Row capacity (per generation) of a row class, and the array that holds its rows (-1: none). */
unsigned int hm_row_capacity(unsigned int kind);
int hm_row_array(const struct hm_maps *maps, unsigned int kind);
/* The map name of that array, and the hm_seq slot counting the class's ids of generation gen. */
const char *hm_row_array_name(unsigned int kind);
__u32 hm_row_seq_slot(unsigned int kind, unsigned int gen);

#endif /* HM_PIN_H */
