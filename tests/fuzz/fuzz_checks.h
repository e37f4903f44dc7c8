/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * fuzz_checks.h - what every fuzz harness shares: the maps registered with
 * the shim, and the invariants checked on them after an input, whichever
 * entry (packet or socket) fed the parse core.
 */
#ifndef HM_FUZZ_CHECKS_H
#define HM_FUZZ_CHECKS_H

#include <assert.h>

/* Registers the maps both entries use with the shim; a harness adds its own after. */
static inline void register_common_maps(void)
{
	shim_map_register(hm_config);
	shim_map_register(hm_conns);
	shim_map_register(hm_row_ids);
	shim_map_register(hm_clients);
	shim_map_register(hm_ports);
	shim_map_register(hm_port_clients);
	shim_map_register(hm_ifaces);
	shim_map_register(hm_monitor);
	shim_map_register(hm_hist);
	shim_map_register(hm_route_ids);
	shim_map_register(hm_routes);
	shim_map_register(hm_host_ids);
	shim_map_register(hm_hosts);
	shim_map_register(hm_hr_ids);
	shim_map_register(hm_host_routes);
	shim_map_register(hm_seq);
	shim_map_register(hm_method_ids);
	shim_map_register(hm_route_pats);
	shim_map_register(hm_scratch);
	shim_map_register(hm_aging);
}

/* The sum of one field over the rows of a kind (both generations, overflow rows included). */
#define SUM_FIELD(name, field)                                                            \
	static __u64 name(void *map, unsigned int cap)                                    \
	{                                                                                 \
		struct shim_map *m = shim_map_of(map);                                    \
		__u64 n = 0;                                                              \
                                                                                          \
		(void)cap;                                                                \
		for (unsigned int j = 0; j < m->ntouched; j++)                            \
			n += ((struct hm_stats *)(m->values +                             \
						  (size_t)m->touched[j] * m->value_size)) \
				     ->field;                                             \
		return n;                                                                 \
	}
SUM_FIELD(sum_requests, requests)
SUM_FIELD(sum_responses, responses)
SUM_FIELD(sum_unanswered, unanswered)

static void check_invariants(void)
{
	struct shim_map *conns = shim_map_of(&hm_conns);

	for (unsigned int i = 0; i < conns->max_entries; i++) {
		struct hm_conn *c =
			(struct hm_conn *)(conns->values + (size_t)i * conns->value_size);

		if (conns->used[i])
			assert((__s32)(c->nreq - c->nresp) >=
			       0); /* never more answers than questions */
	}
	/* Every delta goes to a client row and a port row (or their overflow rows). */
	assert(sum_requests(&hm_clients, HM_MAX_CLIENTS) == sum_requests(&hm_ports, HM_MAX_PORTS));
	/*
	 * A request is on a host once its headers ended, and on that host's
	 * pair with its route; every response is on a route, a host and a pair.
	 */
	assert(sum_requests(&hm_hosts, HM_MAX_HOSTS) <= sum_requests(&hm_clients, HM_MAX_CLIENTS));
	assert(sum_requests(&hm_hosts, HM_MAX_HOSTS) ==
	       sum_requests(&hm_host_routes, HM_MAX_HOST_ROUTES));
	assert(sum_responses(&hm_hosts, HM_MAX_HOSTS) == sum_responses(&hm_routes, HM_MAX_ROUTES));
	assert(sum_responses(&hm_host_routes, HM_MAX_HOST_ROUTES) ==
	       sum_responses(&hm_routes, HM_MAX_ROUTES));
#ifdef HM_PROC_ROWS
	/* The socket set's fourth row kind: every delta is on a process row too. */
	assert(sum_requests(&hm_procs, HM_MAX_PROCS) == sum_requests(&hm_clients, HM_MAX_CLIENTS));
	assert(sum_responses(&hm_procs, HM_MAX_PROCS) ==
	       sum_responses(&hm_clients, HM_MAX_CLIENTS));
#endif
}

#endif /* HM_FUZZ_CHECKS_H */
