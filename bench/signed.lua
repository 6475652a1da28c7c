-- wrk script for bench/load.py: replay one precomputed, signed request, count the answers per
-- thread, and stop each thread cleanly once its time is up, so that no request is left in flight
-- (a credit sent but never answered would make the ledger check inexact).
--
-- Configured through the environment (set by load.py):
--   BENCH_METHOD, BENCH_PATH (with the query), BENCH_BODY (may be empty),
--   BENCH_TIMESTAMP, BENCH_SIGNATURE, BENCH_SECONDS (the measured duration)
-- wrk must run with as many threads as connections (-t N -c N): a thread stops right after one
-- of its responses, which leaves its only connection idle. Its -d must exceed BENCH_SECONDS.
-- done() prints one line "BENCH_JSON {...}" for load.py to parse.

local have_ffi, ffi = pcall(require, "ffi")
local now
if have_ffi then
   ffi.cdef [[
      typedef struct { long tv_sec; long tv_usec; } bench_timeval;
      int gettimeofday(bench_timeval *tv, void *tz);
   ]]
   local tv = ffi.new("bench_timeval")
   now = function()
      ffi.C.gettimeofday(tv, nil)
      return tonumber(tv.tv_sec) + tonumber(tv.tv_usec) / 1e6
   end
else
   now = os.time -- one-second resolution; good enough to stop, coarse for the rate
end

local threads = {}

function setup(thread)
   table.insert(threads, thread)
end

function init(args)
   wrk.method = os.getenv("BENCH_METHOD") or "GET"
   wrk.path = os.getenv("BENCH_PATH") or "/"
   local body = os.getenv("BENCH_BODY") or ""
   if body ~= "" then
      wrk.body = body
      wrk.headers["Content-Type"] = "application/json"
   end
   wrk.headers["x-timestamp"] = os.getenv("BENCH_TIMESTAMP")
   wrk.headers["x-signature"] = os.getenv("BENCH_SIGNATURE")
   answered, ok, not_ok, stopped = 0, 0, 0, 0
   started = now()
   deadline = started + tonumber(os.getenv("BENCH_SECONDS") or "10")
end

function response(status, headers, body)
   answered = answered + 1
   if status >= 200 and status < 300 then
      ok = ok + 1
   else
      not_ok = not_ok + 1
   end
   local t = now()
   if t >= deadline then
      stopped = t
      wrk.thread:stop()
   end
end

function done(summary, latency, requests)
   local answered_sum, ok_sum, not_ok_sum, unstopped = 0, 0, 0, 0
   local first_start, last_stop = math.huge, 0
   for _, thread in ipairs(threads) do
      answered_sum = answered_sum + thread:get("answered")
      ok_sum = ok_sum + thread:get("ok")
      not_ok_sum = not_ok_sum + thread:get("not_ok")
      first_start = math.min(first_start, thread:get("started"))
      local stop = thread:get("stopped")
      if stop == 0 then
         unstopped = unstopped + 1 -- cut by wrk's own -d: may have left a request in flight
      end
      last_stop = math.max(last_stop, stop)
   end
   local e = summary.errors
   io.write(string.format(
      'BENCH_JSON {"requests":%d,"non2xx_or_3xx":%d,"connect":%d,"read":%d,"write":%d,' ..
      '"timeout":%d,"wrk_duration_us":%d,"answered":%d,"ok":%d,"not_ok":%d,' ..
      '"unstopped_threads":%d,"window_s":%.6f,"p50_us":%d,"p75_us":%d,"p90_us":%d,' ..
      '"p99_us":%d,"max_us":%d,"mean_us":%.1f,"ffi_clock":%s}\n',
      summary.requests, e.status, e.connect, e.read, e.write, e.timeout, summary.duration,
      answered_sum, ok_sum, not_ok_sum, unstopped, last_stop - first_start,
      latency:percentile(50), latency:percentile(75), latency:percentile(90),
      latency:percentile(99), latency.max, latency.mean, tostring(have_ffi)))
end
