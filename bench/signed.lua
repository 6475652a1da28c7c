-- The one wrk script of the benchmarks, driven by bench/harness.py (Wrk, run_wrk).
--
-- Requests come precomputed and signed (signatures stay valid 300 s) from the file
-- BENCH_REQUESTS, one per line, tab-separated: thread ("*" for every thread, else a wrk thread
-- number from 0), kind, accepted statuses ("200", "404|405", "2xx"), method, path with its
-- query, body (may be empty), then header name/value pairs.
--
-- BENCH_MODE=once: each thread sends its lines once, in order, over its one connection
--   (-t N -c N), and stops after the last answer.
-- BENCH_MODE=cycle: each thread cycles over its lines until BENCH_SECONDS have passed since it
--   started, then stops at its next answer: with one connection per thread nothing is left in
--   flight, so every request the server handled is counted (exact ledger checks).
-- A stopped thread creates BENCH_DONE_DIR/<thread>; once every thread has, the harness
-- interrupts wrk (SIGINT), which would otherwise sleep for all of -d.
--
-- Every answer is counted per kind, its status checked against the accepted ones, and its
-- X-Sandbox-Signature-Finding header counted. done() prints one line "BENCH_JSON {...}".

local have_ffi, ffi = pcall(require, "ffi")
local now, self_thread = os.time, function() return 0 end
if have_ffi then
   ffi.cdef [[
      typedef struct { long tv_sec; long tv_usec; } bench_timeval;
      int gettimeofday(bench_timeval *tv, void *tz);
      unsigned long pthread_self(void);
   ]]
   local tv = ffi.new("bench_timeval")
   now = function()
      ffi.C.gettimeofday(tv, nil)
      return tonumber(tv.tv_sec) + tonumber(tv.tv_usec) / 1e6
   end
   self_thread = function() return tonumber(ffi.C.pthread_self()) end
end

local threads = {}

function setup(thread)
   thread:set("tid", #threads)
   table.insert(threads, thread)
end

local function split(line)
   local out, start = {}, 1
   while true do
      local i = string.find(line, "\t", start, true)
      if not i then
         out[#out + 1] = string.sub(line, start)
         return out
      end
      out[#out + 1] = string.sub(line, start, i - 1)
      start = i + 1
   end
end

function init(args)
   reqs, kinds, expects = {}, {}, {}
   local mine = tostring(tid)
   local f = assert(io.open(os.getenv("BENCH_REQUESTS"), "r"))
   for line in f:lines() do
      local p = split(line)
      if p[1] == "*" or p[1] == mine then
         local headers = {}
         for i = 7, #p - 1, 2 do
            headers[p[i]] = p[i + 1]
         end
         reqs[#reqs + 1] = wrk.format(p[4], p[5], headers, p[6] ~= "" and p[6] or nil)
         kinds[#kinds + 1] = p[2]
         expects[#expects + 1] = "|" .. p[3] .. "|"
      end
   end
   f:close()
   once = os.getenv("BENCH_MODE") == "once"
   idle = wrk.format("GET", "/__sandbox/health", {}, nil) -- never sent in practice
   sent, answered, stopped = 0, 0, 0
   counts, unexpected, findings, examples = {}, {}, {}, {}
   started = now()
   deadline = started + tonumber(os.getenv("BENCH_SECONDS") or "0")
   -- wrk calls request() once on thread 0's script from its main thread (where init runs too)
   -- to check what it returns, and discards it: that call must not consume a request.
   init_thread = self_thread()
   check_pending = have_ffi or tid == 0
end

function request()
   if check_pending then
      check_pending = false
      if not have_ffi or self_thread() == init_thread then
         return reqs[1] or idle
      end
   end
   sent = sent + 1
   if once then
      return reqs[sent] or idle
   end
   return reqs[(sent - 1) % #reqs + 1]
end

function response(status, headers, body)
   answered = answered + 1
   local i = once and answered or (answered - 1) % #reqs + 1
   local kind, expect = kinds[i] or "extra", expects[i] or "||"
   counts[kind] = (counts[kind] or 0) + 1
   local ok = string.find(expect, "|" .. status .. "|", 1, true)
      or (status >= 200 and status < 300 and string.find(expect, "|2xx|", 1, true))
   if not ok then
      unexpected[kind] = (unexpected[kind] or 0) + 1
      if #examples < 5 then
         examples[#examples + 1] = kind .. " got " .. status .. " (expected " ..
            string.sub(expect, 2, -2) .. ")"
      end
   end
   local finding = headers["X-Sandbox-Signature-Finding"]
   if finding then
      findings[finding] = (findings[finding] or 0) + 1
   end
   if stopped == 0 and ((once and answered >= #reqs) or (not once and now() >= deadline)) then
      stopped = now()
      local marker = io.open(os.getenv("BENCH_DONE_DIR") .. "/" .. tid, "w")
      if marker then
         marker:close()
      end
      wrk.thread:stop()
   end
end

local function json_string(s)
   local escaped = string.gsub(s, '[%c"\\]', function(c)
      return string.format("\\u%04x", string.byte(c))
   end)
   return '"' .. escaped .. '"'
end

local function json_counts(t)
   local parts = {}
   for k, v in pairs(t) do
      parts[#parts + 1] = json_string(tostring(k)) .. ":" .. string.format("%d", v)
   end
   return "{" .. table.concat(parts, ",") .. "}"
end

local function merge(into, from)
   for k, v in pairs(from) do
      into[k] = (into[k] or 0) + v
   end
end

function done(summary, latency, requests)
   local all_counts, all_unexpected, all_findings, all_examples = {}, {}, {}, {}
   local unfinished, first, last = 0, math.huge, 0
   for _, thread in ipairs(threads) do
      merge(all_counts, thread:get("counts"))
      merge(all_unexpected, thread:get("unexpected"))
      merge(all_findings, thread:get("findings"))
      for _, example in ipairs(thread:get("examples")) do
         if #all_examples < 5 then
            all_examples[#all_examples + 1] = json_string(example)
         end
      end
      first = math.min(first, thread:get("started"))
      local stop = thread:get("stopped")
      if stop == 0 then
         unfinished = unfinished + 1 -- cut by -d or an interrupt: may have left one in flight
      end
      last = math.max(last, stop)
   end
   local window = unfinished == 0 and last - first or summary.duration / 1e6
   local e = summary.errors
   io.write(string.format(
      'BENCH_JSON {"requests":%d,"counts":%s,"unexpected":%s,"findings":%s,"examples":[%s],' ..
      '"errors":{"connect":%d,"read":%d,"write":%d,"timeout":%d},"unfinished":%d,' ..
      '"window_s":%.6f,"latency_us":{"p50":%d,"p75":%d,"p90":%d,"p99":%d,"max":%d,' ..
      '"mean":%.1f}}\n',
      summary.requests, json_counts(all_counts), json_counts(all_unexpected),
      json_counts(all_findings), table.concat(all_examples, ","),
      e.connect, e.read, e.write, e.timeout, unfinished, window,
      latency:percentile(50), latency:percentile(75), latency:percentile(90),
      latency:percentile(99), latency.max, latency.mean))
end
