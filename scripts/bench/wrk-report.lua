-- wrk-report.lua - wrk's own figures for scripts/bench.sh, exactly.
--
-- Only done() is defined, so wrk keeps sending its static request with no
-- Lua call per request.  At the end it prints one line, parsed by bench.sh:
--   HMBENCH requests=N duration_us=N bytes=N err_connect=N err_read=N
--     err_write=N err_status=N err_timeout=N lat_mean_us=F lat_stdev_us=F
--     lat_p50_us=N lat_p90_us=N lat_p99_us=N lat_max_us=N
-- requests counts completed responses (wrk's "N requests in Xs"); latency
-- is wrk's per-request time from sending the request to the complete
-- response, in microseconds.
done = function(summary, latency, requests)
	local e = summary.errors
	io.write(string.format(
		"HMBENCH requests=%d duration_us=%d bytes=%d err_connect=%d err_read=%d " ..
		"err_write=%d err_status=%d err_timeout=%d lat_mean_us=%.3f lat_stdev_us=%.3f " ..
		"lat_p50_us=%d lat_p90_us=%d lat_p99_us=%d lat_max_us=%d\n",
		summary.requests, summary.duration, summary.bytes, e.connect, e.read,
		e.write, e.status, e.timeout, latency.mean, latency.stdev,
		latency:percentile(50), latency:percentile(90), latency:percentile(99),
		latency.max))
end
