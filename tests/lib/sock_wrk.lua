-- sock_wrk.lua - wrk's own counts for the socket source's tests.
--
-- Each request asks for the next path of WRK_PATHS (comma-separated, from
-- the environment; default "/"), in turn per thread.  At the end it prints
-- one line:
--   HMWRK completed=N sent=N non2xx=N bytes=N
-- completed: responses wrk read in full (its "N requests in Xs"); sent:
-- requests wrk generated and wrote (one per connection at a time, no
-- pipelining, so at most one per connection is left unanswered when the
-- time is up); non2xx: completed responses with a status >= 300; bytes:
-- what wrk read.
local threads = {}
local paths = {}
for p in string.gmatch(os.getenv("WRK_PATHS") or "/", "[^,]+") do
	table.insert(paths, p)
end

setup = function(thread)
	table.insert(threads, thread)
end

init = function(args)
	sent = 0
	non2xx = 0
	i = 0
end

request = function()
	i = i % #paths + 1
	sent = sent + 1
	return wrk.format("GET", paths[i])
end

response = function(status, headers, body)
	if status >= 300 then
		non2xx = non2xx + 1
	end
end

done = function(summary, latency, requests)
	local s, n = 0, 0
	for _, t in ipairs(threads) do
		s = s + t:get("sent")
		n = n + t:get("non2xx")
	end
	io.write(string.format("HMWRK completed=%d sent=%d non2xx=%d bytes=%d\n",
		summary.requests, s, n, summary.bytes))
end
