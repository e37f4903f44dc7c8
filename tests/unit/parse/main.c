// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * test_parse - BPF unit tests of the httpmon classifier.
 *
 * Loads build/httpmon.o (maps unpinned, private to this process), feeds it
 * crafted frames with bpf_prog_test_run_opts() and checks what it wrote to its
 * maps against what the test sent.  test_run builds linear skbs only; the
 * namespace tests cover non-linear and GSO ones.
 *
 * The cases live in one file per feature (framing.c, pipeline.c, loss.c,
 * lifecycle.c, packets.c, routes.c, hosts.c, maps.c) over harness.h; this
 * table runs them in order, each once through TC and once through XDP.
 *
 * Usage: test_parse [OBJECT] [NAME-SUBSTRING]
 * Prints "ok - NAME" / "not ok - NAME: why" per check; exits 1 on failure.
 */
#include "harness.h"

static const struct {
	const char *name;
	void (*fn)(void);
} tests[] = {
	{ "request_response", test_request_response },
	{ "status_classes", test_status_classes },
	{ "pipelined", test_pipelined },
	{ "pipeline_overflow", test_pipeline_overflow },
	{ "pipeline_bursts", test_pipeline_bursts },
	{ "response_in_pieces", test_response_in_pieces },
	{ "map_pressure", test_map_pressure },
	{ "ipv6_ext", test_ipv6_ext },
	{ "vlan", test_vlan },
	{ "split_request_line", test_split_request_line },
	{ "start_decided_at_segment_end", test_start_decided_at_segment_end },
	{ "retransmission", test_retransmission },
	{ "fin_pending", test_fin_pending },
	{ "non_http", test_non_http },
	{ "body_is_not_a_message", test_body_is_not_a_message },
	{ "head_and_interim", test_head_and_interim },
	{ "orphan_and_mid_stream", test_orphan_and_mid_stream },
	{ "port_filter", test_port_filter },
	{ "padding_and_bad_length", test_padding_and_bad_length },
	{ "route_path", test_route_path },
	{ "route_query", test_route_query },
	{ "route_patterns", test_route_patterns },
	{ "route_split_and_pipelined", test_route_split_and_pipelined },
	{ "route_unknown_other", test_route_unknown_other },
	{ "client_prefix", test_client_prefix },
	{ "gap_response", test_gap_response },
	{ "out_of_order", test_out_of_order },
	{ "gap_request_pipelined", test_gap_request_pipelined },
	{ "early_response", test_early_response },
	{ "idle_aging", test_idle_aging },
	{ "two_cpus", test_two_cpus },
	{ "malformed_status", test_malformed_status },
	{ "lengths", test_lengths },
	{ "long_lines", test_long_lines },
	{ "methods", test_methods },
	{ "method_table_bound", test_method_table_bound },
	{ "tunnels", test_tunnels },
	{ "interim_route_bytes", test_interim_route_bytes },
	{ "route_cache", test_route_cache },
	{ "hosts", test_hosts },
	{ "host_edges", test_host_edges },
	{ "hosts_full", test_hosts_full },
	{ "no_hosts", test_no_hosts },
	{ "repeat_sightings", test_repeat_sightings },
	{ "aging_kick", test_aging_kick },
	{ "packet_shapes", test_packet_shapes },
	{ "fragments", test_fragments },
	{ "ipv6_ext_counts", test_ipv6_ext_counts },
	{ "gso", test_gso },
	{ "fast_open", test_fast_open },
	{ "upstream_loss", test_upstream_loss },
};

int main(int argc, char **argv)
{
	const char *path = argc > 1 ? argv[1] : "build/httpmon.o";
	const char *only = argc > 2 ? argv[2] : NULL;

	hm_prog_name = "test_parse";
	if (getenv("HM_TEST_VERBOSE")) /* show libbpf's messages and the verifier log */
		hm_log_max = HM_LOG_DEBUG + 1;
	hm_libbpf_logging();
	if (harness_load(path))
		return 1;

	/* Every case twice: requests through TC ingress, then through XDP. */
	for (int pass = 0; pass < 2; pass++) {
		via_xdp = pass == 1;
		for (size_t i = 0; i < sizeof(tests) / sizeof(tests[0]); i++) {
			char name[64];

			snprintf(name, sizeof(name), "%s%s", tests[i].name, via_xdp ? "_xdp" : "");
			if (only && !strstr(name, only))
				continue;
			current = name;
			reset_maps();
			tests[i].fn();
		}
	}
	harness_close();
	fprintf(stderr, "test_parse: %d checks, %d failed\n", checks, failures);
	return failures ? 1 : 0;
}
