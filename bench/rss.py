"""Memory of a long-running sabong-sandbox over 100,000 requests of a realistic mix.

Starts ``sabong-sandbox serve`` as a child process, by default on a SQLite *file* database in a
temporary directory (the long-running staging mode; ``--db memory`` for ``:memory:``), warms it
up (2,000 requests of the same mix), records its resident memory (``VmRSS`` and ``VmHWM`` from
``/proc/<pid>/status``) as the baseline, then sends 100,000 more requests and samples the memory
every 10,000 of them, together with the journal's newest id and the database file sizes.

The mix touches every per-request structure of the server that could keep something: signed
get-balance for many different clientIds (most unknown, so 404; some known, including users
created earlier in the run), signed credits and debits with unique references, get-transactions
with filters, sorts and pages, generate-auth-token for a new user each time (users and tokens
accumulate), requests with wrong signatures (the signature doctor runs on each: a few common
mistakes and a wrong secret, its worst case), expired timestamps, forced scenarios set through
the control plane (``PUT /__sandbox/scenarios/<id>`` with ``{"outcome": "server-error",
"times": 1}``, then a request for that clientId, answered 500) for a rotating set of clientIds,
unknown paths, and login links with unknown tokens.

Every request is precomputed and signed in batches (a signature stays valid 300 s; a batch
is signed just before it is sent and must be answered within ``BATCH_SECONDS``), then replayed
in order by wrk with a Lua script that rotates through them (one connection per wrk thread,
each thread stopped right after its last answer), or by a built-in Python generator (one
keep-alive ``http.client`` connection per thread). Each answer's status is checked against the
status its kind must get, so the mix is known to have done what it claims.

The growth from the post-warm-up baseline to the end is compared with a 20 MB target.
This is a script, not a test: ``python bench/rss.py --help``.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import platform
import random
import re
import shlex
import shutil
import signal
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlencode, urlsplit

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from load import cpu_model, wrk_version  # bench/load.py: the same machine description

from sandbox import signing
from sandbox.client import SandboxClient
from sandbox.process import ServerProcess

SECRET = "sandbox-secret"
BALANCE = "/api/v1/get-balance"
CREDIT = "/api/v1/credit-balance"
DEBIT = "/api/v1/debit-balance"
TRANSACTIONS = "/api/v1/get-transactions"
TOKEN = "/api/v1/generate-auth-token"
SCENARIOS = "/__sandbox/scenarios/"
JOURNAL = "/__sandbox/requests"

HERE = Path(__file__).resolve().parent
README = HERE / "README.md"
REPO = HERE.parent
SECTION = "## Memory over 100,000 requests"
TARGET_MB = 20.0
BATCH_SECONDS = 240  # a batch's signatures must still be valid (300 s) when its last is sent

# The packaged fixtures' clients (CLIENT_001 .. CLIENT_021); debits only go to those with at
# least 600.00, in amounts of at most 0.50, so that no debit can be refused whatever the order.
FIXTURE_CLIENTS = [f"CLIENT_{n:03d}" for n in range(1, 22)]
RICH_CLIENTS = [c for c in FIXTURE_CLIENTS if c not in ("CLIENT_008", "CLIENT_016", "CLIENT_019")]

# Draws per 100 (a "forced" draw is two requests: the PUT and the request it forces).
MIX: dict[str, int] = {
    "balance-unknown": 28,
    "balance-known": 10,
    "credit": 12,
    "debit": 7,
    "credit-unknown": 2,
    "transactions": 12,
    "token": 10,
    "bad-signature": 9,
    "forced": 3,
    "unknown-path": 3,
    "login-unknown": 1,
}
BAD_SIGNATURES = (
    "json-spacing",
    "lowercase-method",
    "unsorted-query",
    "wrong-secret",
    "expired-timestamp",
)
FORCED_BODY = '{"outcome":"server-error","times":1}'


# --------------------------------------------------------------------------- requests


@dataclass(frozen=True)
class Req:
    """One precomputed request and the statuses its kind must get."""

    kind: str
    expect: str  # accepted statuses joined with "|", e.g. "200" or "404|405"
    method: str
    path: str  # with the query string
    body: str = ""
    headers: tuple[tuple[str, str], ...] = ()

    def line(self, thread: int) -> str:
        """A tab-separated line for the Lua script (no field holds a tab or a newline)."""
        fields = [str(thread), self.kind, self.expect, self.method, self.path, self.body]
        for name, value in self.headers:
            fields += [name, value]
        assert not any("\t" in f or "\n" in f for f in fields), fields
        return "\t".join(fields)


def signature(secret: str, method: str, path: str, ts: str, payload: bytes) -> str:
    """HMAC of exactly ``method + path + ts + payload``: a client's own (maybe wrong) idea of
    the StringToSign, with none of ``signing.sign``'s canonicalization."""
    return signing.hmac_hex(secret, signing.string_to_sign(method, path, ts, payload))


def signed_get(
    kind: str,
    expect: str,
    path: str,
    query: str,
    ts: str,
    *,
    secret: str = SECRET,
    method: str = "GET",
    payload: str | None = None,
) -> Req:
    """A GET of ``path?query`` signed over the canonical query, or over ``payload`` as given."""
    signed = signing.canonical_query(query) if payload is None else payload.encode()
    headers = (("x-timestamp", ts), ("x-signature", signature(secret, method, path, ts, signed)))
    return Req(kind, expect, "GET", f"{path}?{query}" if query else path, "", headers)


def signed_post(
    kind: str, expect: str, path: str, body: str, ts: str, *, signed_body: str | None = None
) -> Req:
    """A POST of ``body`` signed over its canonical JSON, or over ``signed_body`` as given."""
    payload = signing.canonical_json(body.encode()) if signed_body is None else signed_body.encode()
    sig = signature(SECRET, "POST", path, ts, payload)
    headers = (("x-timestamp", ts), ("x-signature", sig), ("Content-Type", "application/json"))
    return Req(kind, expect, "POST", path, body, headers)


def compact(obj: dict[str, Any]) -> str:
    return json.dumps(obj, separators=(",", ":"))


class Mix:
    """Draws the requests of each batch; every reference, new user and unknown clientId is
    unique over the whole run (``run`` tells runs apart on a reused database)."""

    def __init__(self, weights: dict[str, int], seed: int, forced_clients: int) -> None:
        self.kinds = [k for k, w in weights.items() if w > 0]
        self.weights = [weights[k] for k in self.kinds]
        self.rng = random.Random(seed)
        self.run = f"{seed:x}{int(time.time()) % 100000:05d}"
        self.forced_clients = forced_clients
        self.n = 0  # the unique counter
        self.forced = 0  # forced scenarios set so far
        self.known = list(FIXTURE_CLIENTS)  # clients that exist (fixtures + created users)
        self._created: list[str] = []  # users created by this batch: known from the next one

    def unique(self) -> int:
        self.n += 1
        return self.n

    def batch(self, size: int, threads: int) -> list[list[Req]]:
        """``size`` requests, as one ordered queue per connection."""
        ts = str(int(time.time()))
        queues: list[list[Req]] = [[] for _ in range(threads)]
        made = 0
        while made < size:
            kind = self.rng.choices(self.kinds, self.weights)[0]
            if kind == "forced" and size - made < 2:
                continue
            reqs = self.make(kind, ts)
            min(queues, key=len).extend(reqs)  # a forced pair stays on one connection, in order
            made += len(reqs)
        self.known += self._created
        self._created = []
        return queues

    def make(self, kind: str, ts: str) -> list[Req]:
        rng, n = self.rng, self.unique()
        if kind == "balance-unknown":
            query = urlencode({"clientId": f"GHOST_{self.run}_{n}"})
            return [signed_get(kind, "404", BALANCE, query, ts)]
        if kind == "balance-known":
            query = urlencode({"clientId": rng.choice(self.known)})
            return [signed_get(kind, "200", BALANCE, query, ts)]
        if kind in ("credit", "debit", "credit-unknown"):
            return [self._money(kind, n, ts)]
        if kind == "transactions":
            return [signed_get(kind, "200", TRANSACTIONS, self._transactions_query(), ts)]
        if kind == "token":
            return [self._token(n, ts)]
        if kind == "bad-signature":
            return [self._bad_signature(n, ts)]
        if kind == "forced":
            return self._forced(n, ts)
        if kind == "unknown-path":
            return [self._unknown_path(n, ts)]
        if kind == "login-unknown":
            token = "".join(rng.choices("abcdefghijklmnopqrstuvwxyz0123456789", k=64))
            accept = "application/json" if n % 2 else "text/html"
            return [Req(kind, "401", "GET", f"/login/{token}", "", (("Accept", accept),))]
        raise ValueError(kind)

    def _money(self, kind: str, n: int, ts: str) -> Req:
        rng = self.rng
        if kind == "debit":
            client, cents, path = rng.choice(RICH_CLIENTS), rng.randint(1, 50), DEBIT
        elif kind == "credit":
            client, cents, path = rng.choice(self.known), rng.randint(100, 5000), CREDIT
        else:
            client, cents, path = f"GHOST_{self.run}_{n}", rng.randint(100, 5000), CREDIT
        body = compact(
            {
                "clientId": client,
                "amount": cents / 100,
                "reference": f"rss-{self.run}-{n}",
                "description": f"bench/rss.py {kind} {n}",
            }
        )
        return signed_post(kind, "404" if kind == "credit-unknown" else "200", path, body, ts)

    def _transactions_query(self) -> str:
        rng = self.rng
        params: dict[str, str] = {"clientId": rng.choice(FIXTURE_CLIENTS)}
        if rng.random() < 0.4:
            params["type"] = rng.choice(("credit", "debit"))
        today = datetime.now(UTC).date()
        if rng.random() < 0.3:
            params["dateFrom"] = (today - timedelta(days=rng.randint(0, 400))).isoformat()
        if rng.random() < 0.3:
            params["dateTo"] = (today + timedelta(days=1)).isoformat()
        if rng.random() < 0.5:
            params["sortBy"] = rng.choice(("id", "amount", "createdAt", "type", "walletId"))
            params["sortOrder"] = rng.choice(("asc", "desc"))
        params["limit"] = str(rng.choice((5, 10, 20, 50, 100)))
        params["page"] = str(rng.randint(1, 5))
        items = list(params.items())
        rng.shuffle(items)  # the PAYLOAD sorts them; the query string need not
        return urlencode(items)

    def _token(self, n: int, ts: str) -> Req:
        rng = self.rng
        if rng.random() < 0.1:  # a returning user: a new token for an existing client
            client = rng.choice(FIXTURE_CLIENTS)
        else:
            client = f"RSS_{self.run}_{n}"
            self._created.append(client)
        body: dict[str, Any] = {
            "clientId": client,
            "username": client.lower(),
            "displayName": f"RSS user {n}",
            "ipAddress": f"10.{n >> 16 & 255}.{n >> 8 & 255}.{n & 255}",
        }
        if rng.random() < 0.5:
            body["expiration"] = rng.randint(1, 1440)
        return signed_post("token", "200", TOKEN, compact(body), ts)

    def _bad_signature(self, n: int, ts: str) -> Req:
        """A mistake the doctor diagnoses, or a wrong secret (its worst case: nothing matches),
        or an expired timestamp (refused before the doctor)."""
        rng = self.rng
        variant = BAD_SIGNATURES[n % len(BAD_SIGNATURES)]
        kind = f"bad-signature/{variant}"
        if variant == "json-spacing":  # signed what Python's json.dumps prints
            obj = {"clientId": rng.choice(RICH_CLIENTS), "amount": 1.5, "reference": f"bad-{n}"}
            return signed_post(kind, "401", CREDIT, compact(obj), ts, signed_body=json.dumps(obj))
        if variant == "lowercase-method":
            query = urlencode({"clientId": rng.choice(self.known)})
            return signed_get(kind, "401", BALANCE, query, ts, method="get")
        if variant == "unsorted-query":
            query = f"page=2&clientId={rng.choice(FIXTURE_CLIENTS)}&limit=5"
            return signed_get(kind, "401", TRANSACTIONS, query, ts, payload=query)
        if variant == "wrong-secret":
            query = urlencode({"clientId": f"GHOST_{self.run}_{n}", "limit": 10})
            return signed_get(kind, "401", TRANSACTIONS, query, ts, secret=f"not-the-secret-{n}")
        old = str(int(ts) - 3600)
        return signed_get(kind, "401", BALANCE, urlencode({"clientId": "CLIENT_001"}), old)

    def _forced(self, n: int, ts: str) -> list[Req]:
        """PUT a one-shot server-error scenario, then the request it forces (a 500)."""
        self.forced += 1
        slot = self.forced if self.forced_clients == 0 else self.forced % self.forced_clients
        client = f"QA_FORCED_{slot:06d}"
        put = Req(
            "forced/put",
            "200",
            "PUT",
            SCENARIOS + client,
            FORCED_BODY,
            (("Content-Type", "application/json"),),
        )
        if n % 2:
            hit = signed_get("forced/500", "500", BALANCE, urlencode({"clientId": client}), ts)
        else:
            body = compact({"clientId": client, "amount": 1, "reference": f"forced-{n}"})
            hit = signed_post("forced/500", "500", CREDIT, body, ts)
        return [put, hit]

    def _unknown_path(self, n: int, ts: str) -> Req:
        kind, variant = "unknown-path", n % 4
        if variant == 0:
            return Req(kind, "404", "GET", f"/api/v1/get-balance-{n}?clientId=CLIENT_001")
        if variant == 1:
            return Req(kind, "404", "GET", f"/api/v2/get-balance?clientId=GHOST_{n}")
        if variant == 2:  # a signed request to a path that does not exist
            return signed_get(kind, "404", f"/api/v1/x{n}", "clientId=CLIENT_001", ts)
        return Req(kind, "405", "POST", BALANCE, "{}", (("Content-Type", "application/json"),))


# --------------------------------------------------------------------------- generators


@dataclass
class Tally:
    """What a generator saw in one batch."""

    sent: dict[str, int] = field(default_factory=dict)  # answers per kind
    unexpected: dict[str, int] = field(default_factory=dict)  # answers with another status
    findings: dict[str, int] = field(default_factory=dict)  # X-Sandbox-Signature-Finding
    examples: list[str] = field(default_factory=list)  # the first unexpected answers
    socket_errors: int = 0
    unfinished: int = 0  # connections cut before their last answer
    seconds: float = 0.0

    @property
    def answered(self) -> int:
        return sum(self.sent.values())

    def add(self, other: Tally) -> None:
        for mine, theirs in (
            (self.sent, other.sent),
            (self.unexpected, other.unexpected),
            (self.findings, other.findings),
        ):
            for key, value in theirs.items():
                mine[key] = mine.get(key, 0) + value
        self.examples = (self.examples + other.examples)[:5]
        self.socket_errors += other.socket_errors
        self.unfinished += other.unfinished
        self.seconds += other.seconds


LUA = r"""
-- bench/rss.py: replay precomputed requests (BENCH_REQUESTS, one tab-separated line each:
-- thread, kind, expected statuses, method, path, body, header name, value, ...). Thread t
-- sends the lines of thread t in order over its one connection (-t N -c N), checks each
-- answer's status, and stops itself after its last answer, so nothing is left in flight.
-- A stopped thread writes BENCH_DONE_DIR/<thread>; once all have, rss.py interrupts wrk
-- (which otherwise sleeps for the whole -d).
local have_ffi, ffi = pcall(require, "ffi")
local now = os.time
local self_thread = function() return 0 end
if have_ffi then
   ffi.cdef [[
      typedef struct { long tv_sec; long tv_usec; } rss_timeval;
      int gettimeofday(rss_timeval *tv, void *tz);
      unsigned long pthread_self(void);
   ]]
   local tv = ffi.new("rss_timeval")
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
   local f = assert(io.open(os.getenv("BENCH_REQUESTS"), "r"))
   for line in f:lines() do
      local p = split(line)
      if tonumber(p[1]) == tid then
         local headers = {}
         for i = 7, #p - 1, 2 do
            headers[p[i]] = p[i + 1]
         end
         local body = p[6] ~= "" and p[6] or nil
         reqs[#reqs + 1] = wrk.format(p[4], p[5], headers, body)
         kinds[#kinds + 1] = p[2]
         expects[#expects + 1] = "|" .. p[3] .. "|"
      end
   end
   f:close()
   total = #reqs
   idle = wrk.format("GET", "/__sandbox/health", {}, nil)
   sent, answered, extra, stopped = 0, 0, 0, 0
   counts, unexpected, findings, examples = {}, {}, {}, ""
   started = now()
   -- wrk 4 calls request() once on thread 0's script from the main thread, to check the
   -- request it returns, and discards it: that call must not consume a request.
   setup_thread = self_thread()
   setup_call_left = (have_ffi or tid == 0) and 1 or 0
end

function request()
   if setup_call_left > 0 and (not have_ffi or self_thread() == setup_thread) then
      setup_call_left = 0
      return reqs[1] or idle
   end
   sent = sent + 1
   local r = reqs[sent]
   if r == nil then
      extra = extra + 1
      return idle
   end
   return r
end

function response(status, headers, body)
   answered = answered + 1
   local kind = kinds[answered] or "extra"
   counts[kind] = (counts[kind] or 0) + 1
   local expect = expects[answered]
   if expect == nil or not string.find(expect, "|" .. status .. "|", 1, true) then
      unexpected[kind] = (unexpected[kind] or 0) + 1
      if #examples < 400 then
         examples = examples .. kind .. " got " .. status .. " (expected " ..
            string.sub(expect or "||", 2, -2) .. ");"
      end
   end
   local finding = headers["X-Sandbox-Signature-Finding"]
   if finding then
      findings[finding] = (findings[finding] or 0) + 1
   end
   if answered >= total then
      stopped = now()
      local marker = io.open(os.getenv("BENCH_DONE_DIR") .. "/" .. tid, "w")
      if marker then
         marker:close()
      end
      wrk.thread:stop()
   end
end

local function merge(into, from)
   for k, v in pairs(from) do
      into[k] = (into[k] or 0) + v
   end
end

local function json_counts(t)
   local parts = {}
   for k, v in pairs(t) do
      parts[#parts + 1] = string.format("%q:%d", k, v)
   end
   return "{" .. table.concat(parts, ",") .. "}"
end

function done(summary, latency, requests)
   local counts_all, unexpected_all, findings_all = {}, {}, {}
   local examples_all, unfinished = "", 0
   local first, last = math.huge, 0
   for _, thread in ipairs(threads) do
      merge(counts_all, thread:get("counts"))
      merge(unexpected_all, thread:get("unexpected"))
      merge(findings_all, thread:get("findings"))
      examples_all = examples_all .. thread:get("examples")
      first = math.min(first, thread:get("started"))
      local stop = thread:get("stopped")
      if stop == 0 then
         unfinished = unfinished + 1
      end
      last = math.max(last, stop)
   end
   local e = summary.errors
   io.write(string.format(
      'BENCH_JSON {"counts":%s,"unexpected":%s,"findings":%s,"examples":%q,' ..
      '"socket_errors":%d,"unfinished":%d,"window_s":%.6f,"duration_us":%d}\n',
      json_counts(counts_all), json_counts(unexpected_all), json_counts(findings_all),
      examples_all, e.connect + e.read + e.write + e.timeout, unfinished,
      last > 0 and last - first or summary.duration / 1e6, summary.duration))
end
"""


def run_wrk(wrk: str, url: str, queues: list[list[Req]], workdir: Path) -> Tally:
    """wrk, one connection per thread, each thread replaying its own queue in order; wrk is
    interrupted (SIGINT: it then reports as usual) once every thread has stopped itself."""
    reqs_file, lua_file, done_dir = workdir / "requests.tsv", workdir / "rss.lua", workdir / "done"
    if not lua_file.exists():
        lua_file.write_text(LUA)
    shutil.rmtree(done_dir, ignore_errors=True)
    done_dir.mkdir()
    lines = [r.line(t) for t, queue in enumerate(queues) for r in queue]
    reqs_file.write_text("\n".join(lines) + "\n")
    n = len(queues)
    cmd = [wrk, f"-t{n}", f"-c{n}", f"-d{BATCH_SECONDS}s", "--timeout", "30s"]
    cmd += ["-s", str(lua_file), url]
    env = {**os.environ, "BENCH_REQUESTS": str(reqs_file), "BENCH_DONE_DIR": str(done_dir)}
    with subprocess.Popen(
        cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    ) as proc:
        deadline = time.monotonic() + BATCH_SECONDS + 30
        while proc.poll() is None and time.monotonic() < deadline:
            if len(list(done_dir.iterdir())) >= n:
                proc.send_signal(signal.SIGINT)
                break
            time.sleep(0.02)
        try:
            stdout, stderr = proc.communicate(timeout=max(5.0, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            proc.kill()
            stdout, stderr = proc.communicate()
    match = re.search(r"^BENCH_JSON (\{.*\})$", stdout, re.MULTILINE)
    if proc.returncode != 0 or match is None:
        raise RuntimeError(f"wrk failed ({proc.returncode}):\n{stdout}\n{stderr}")
    # Lua's %q quoting is JSON's for these strings: no backslash, quote or control character.
    data = json.loads(match.group(1))
    examples = [e for e in data["examples"].split(";") if e]
    return Tally(
        sent=data["counts"],
        unexpected=data["unexpected"],
        findings=data["findings"],
        examples=examples[:5],
        socket_errors=data["socket_errors"],
        unfinished=data["unfinished"],
        seconds=data["window_s"],
    )


def run_python(url: str, queues: list[list[Req]]) -> Tally:
    """Threads, one keep-alive ``http.client`` connection each, replaying its queue in order."""
    parts = urlsplit(url)
    host, port = parts.hostname or "127.0.0.1", parts.port or 80
    tallies = [Tally() for _ in queues]

    def work(queue: list[Req], tally: Tally) -> None:
        conn = http.client.HTTPConnection(host, port, timeout=30)
        for req in queue:
            try:
                conn.request(req.method, req.path, body=req.body or None, headers=dict(req.headers))
                response = conn.getresponse()
                response.read()
            except (OSError, http.client.HTTPException):
                tally.socket_errors += 1
                conn.close()
                conn = http.client.HTTPConnection(host, port, timeout=30)
                continue
            tally.sent[req.kind] = tally.sent.get(req.kind, 0) + 1
            if str(response.status) not in req.expect.split("|"):
                tally.unexpected[req.kind] = tally.unexpected.get(req.kind, 0) + 1
                if len(tally.examples) < 5:
                    tally.examples.append(
                        f"{req.kind} got {response.status} (expected {req.expect})"
                    )
            finding = response.getheader("X-Sandbox-Signature-Finding")
            if finding:
                tally.findings[finding] = tally.findings.get(finding, 0) + 1
        conn.close()

    threads = [
        threading.Thread(target=work, args=(q, t), daemon=True)
        for q, t in zip(queues, tallies, strict=True)
    ]
    started = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join(BATCH_SECONDS)
    total = Tally(seconds=time.perf_counter() - started)
    for tally in tallies:
        total.add(tally)
    total.unfinished = sum(t.is_alive() for t in threads)
    return total


# --------------------------------------------------------------------------- measurements


MEMORY_FIELDS = ("VmRSS", "VmHWM", "RssAnon", "RssFile", "RssShmem")


def memory_kb(pid: int) -> dict[str, int]:
    """VmRSS, VmHWM, RssAnon, RssFile, RssShmem of ``pid`` in kB (Linux /proc)."""
    out: dict[str, int] = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        name, _, value = line.partition(":")
        if name in MEMORY_FIELDS:
            out[name] = int(value.split()[0])
    return out


@dataclass
class Sample:
    label: str
    requests: int  # requests answered since the baseline (warm-up excluded)
    seconds: float  # since the server started
    rate: float  # requests/s over the interval before this sample
    memory: dict[str, int]  # kB
    journal_id: int  # the journal's newest id: API requests journaled since the start
    db_bytes: int | None
    wal_bytes: int | None
    unexpected: int  # answers with an unexpected status so far (warm-up excluded)

    def mb(self, name: str) -> float:
        return self.memory.get(name, 0) / 1024


def journal_newest(client: SandboxClient) -> int:
    reply = client.get(JOURNAL, {"limit": 1})
    rows = reply.json()["data"]["requests"] if reply.status == 200 else []
    return int(rows[0]["id"]) if rows else 0


def file_size(path: Path | None) -> int | None:
    if path is None:
        return None
    try:
        return path.stat().st_size
    except OSError:
        return 0


@dataclass
class Run:
    """Everything one run measured."""

    samples: list[Sample] = field(default_factory=list)
    warmup: Tally = field(default_factory=Tally)
    load: Tally = field(default_factory=Tally)
    db_label: str = ""
    counts: dict[str, int] = field(default_factory=dict)  # ledger rows at the end
    forced_overrides: int = 0  # forced scenarios still active at the end
    revision: str = ""  # the commit measured (read when the server starts)


# --------------------------------------------------------------------------- output


def mb_text(size: int | None) -> str:
    return "-" if size is None else f"{size / 1e6:.1f}"


def table(run: Run) -> str:
    lines = [
        "| requests | seconds | req/s | RSS MB | HWM MB | anon MB | file MB | journal newest id "
        "| db MB | wal MB | unexpected |",
        "|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|",
    ]
    for s in run.samples:
        rate = f"{s.rate:,.0f}" if s.rate else "-"
        lines.append(
            f"| {s.label} | {s.seconds:.1f} | {rate} | {s.mb('VmRSS'):.1f} | {s.mb('VmHWM'):.1f} "
            f"| {s.mb('RssAnon'):.1f} | {s.mb('RssFile') + s.mb('RssShmem'):.1f} "
            f"| {s.journal_id:,} | {mb_text(s.db_bytes)} | {mb_text(s.wal_bytes)} "
            f"| {s.unexpected} |"
        )
    return "\n".join(lines)


def mix_table(tally: Tally) -> str:
    lines = ["| kind | answers | unexpected status |", "|---|--:|--:|"]
    for kind in sorted(tally.sent):
        lines.append(f"| {kind} | {tally.sent[kind]:,} | {tally.unexpected.get(kind, 0)} |")
    lines.append(f"| **all** | {tally.answered:,} | {sum(tally.unexpected.values())} |")
    return "\n".join(lines)


def growth(run: Run) -> tuple[float, float, float]:
    """(MB from the baseline to the end, MB over the second half, HWM growth MB)."""
    base, end = run.samples[1], run.samples[-1]
    measured = run.samples[1:]
    half = min(measured, key=lambda s: abs(s.requests - end.requests / 2))
    return (
        end.mb("VmRSS") - base.mb("VmRSS"),
        end.mb("VmRSS") - half.mb("VmRSS"),
        end.mb("VmHWM") - base.mb("VmHWM"),
    )


def verdict(run: Run) -> str:
    total, second_half, hwm = growth(run)
    base, end = run.samples[1], run.samples[-1]
    half = min(run.samples[1:], key=lambda s: abs(s.requests - end.requests / 2))
    met = total < TARGET_MB
    return (
        f"RSS growth from the post-warm-up baseline ({base.mb('VmRSS'):.1f} MB) to the end "
        f"({end.mb('VmRSS'):.1f} MB) over {end.requests:,} requests: **{total:+.1f} MB**, "
        f"{'under' if met else 'NOT under'} the {TARGET_MB:.0f} MB target "
        f"({'MET' if met else 'NOT MET'}). Second half alone "
        f"({half.requests:,} -> {end.requests:,} requests): {second_half:+.1f} MB. "
        f"Peak (VmHWM) growth: {hwm:+.1f} MB."
    )


def journal_check(run: Run) -> str:
    """The journal's newest id must count every API request sent (the control plane's PUTs
    are not journaled), while the ring buffer keeps only the last ``--journal-size``."""
    api = sum(t.answered - t.sent.get("forced/put", 0) for t in (run.warmup, run.load))
    newest = run.samples[-1].journal_id
    verdict = "OK" if newest == api else "MISMATCH"
    return f"{verdict}: newest id {newest:,}, API requests sent {api:,} (warm-up included)."


def machine(gen: str, wrk: str | None) -> list[tuple[str, str]]:
    usable = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return [
        ("CPUs (nproc)", str(usable)),
        ("CPU model", cpu_model()),
        ("kernel", f"{platform.system()} {platform.release()}"),
        ("Python", f"{platform.python_version()} ({sys.executable})"),
        ("SQLite", sqlite3.sqlite_version),
        ("generator", wrk_version(wrk) if gen == "wrk" and wrk else "python (http.client)"),
    ]


def revision() -> str:
    """The commit measured, and whether sandbox/ had uncommitted changes then."""
    try:
        git = ["git", "-C", str(REPO)]
        head = subprocess.run(
            [*git, "rev-parse", "--short", "HEAD"], capture_output=True, text=True, timeout=10
        ).stdout.strip()
        dirty = subprocess.run(
            [*git, "status", "--porcelain", "--", "sandbox"],
            capture_output=True,
            text=True,
            timeout=10,
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    if not head:
        return "unknown (not a git checkout)"
    return f"{head}" + (" with uncommitted changes in sandbox/" if dirty else ", sandbox/ clean")


def render(run: Run, args: argparse.Namespace, gen: str, wrk: str | None, command: str) -> str:
    info = "\n".join(f"- {k}: {v}" for k, v in machine(gen, wrk))
    findings = ", ".join(f"{k} {v:,}" for k, v in sorted(run.load.findings.items())) or "none"
    examples = "; ".join(run.load.examples) or "none"
    counts = ", ".join(f"{k} {v:,}" for k, v in run.counts.items()) or "n/a (in memory)"
    legend = (
        "requests: answered since the post-warm-up baseline. seconds: since the server "
        "started. req/s: over the interval before the sample. RSS/HWM: VmRSS/VmHWM of the "
        "server process; anon: RssAnon (the heap); file: RssFile + RssShmem (mapped libraries, "
        "the SQLite -shm index). journal newest id: the id of the newest journaled API request "
        "(the journal keeps the last 1,000). db/wal: the SQLite file and its -wal. unexpected: "
        "answers whose status was not the one their kind must get."
    )
    return (
        f"{table(run)}\n\n{legend}\n\n{verdict(run)}\n\n"
        f"Mix after the warm-up ({args.connections} connections, {gen}):\n\n{mix_table(run.load)}"
        f"\n\nSignature doctor findings (X-Sandbox-Signature-Finding): {findings}.\n\n"
        f"Unexpected answers: {examples}. Socket errors: {run.load.socket_errors}; "
        f"connections cut before their last answer: {run.load.unfinished}.\n\n"
        f"Journal: {journal_check(run)}\n\n"
        f"Ledger at the end: {counts}; forced scenarios still set: {run.forced_overrides}.\n\n"
        f"Server: sabong-sandbox (waitress threads: {args.threads or 'default (4)'}, "
        f"cpu pinning: {args.cpu or 'auto'}) on {run.db_label}; scenarios file: "
        f"{args.scenarios or '(none)'}; forced scenarios rotate over "
        f"{args.forced_clients or 'unbounded (a new one each time)'} clientIds. "
        f"Code: {run.revision}.\n\n"
        f"Machine:\n{info}\n\n"
        f"Command:\n\n```bash\n{command}\n```\n"
    )


def write_markdown(text: str, key: str, when: str) -> None:
    """Rewrite this run's block in README.md, or add it at the end of this script's section
    (the section is created at the end of the file when missing); nothing else is touched."""
    start, end = f"<!-- rss.py results: {key} -->", f"<!-- end rss.py results: {key} -->"
    block = f"{start}\n\n_Measured {when}._\n\n{text}\n{end}"
    old = README.read_text() if README.exists() else "# Load benchmark\n"
    pattern = re.compile(re.escape(start) + r".*?" + re.escape(end), re.DOTALL)
    if pattern.search(old):
        README.write_text(pattern.sub(lambda _: block, old))
        return
    at = old.find("\n" + SECTION + "\n")
    if at < 0:
        README.write_text(old.rstrip("\n") + f"\n\n{SECTION}\n\n{block}\n")
        return
    following = old.find("\n## ", at + len(SECTION) + 2)  # the next section, if any
    if following < 0:
        README.write_text(old.rstrip("\n") + f"\n\n{block}\n")
    else:
        head, tail = old[:following].rstrip("\n"), old[following:]
        README.write_text(f"{head}\n\n{block}\n{tail}")


# --------------------------------------------------------------------------- main


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description="Resident memory of a real sabong-sandbox over many requests of a "
        "realistic mix (every endpoint, wrong signatures, forced scenarios, unknown paths), "
        "sampled every N requests; growth after the warm-up is compared with a 20 MB target.",
    )
    parser.add_argument(
        "--requests", type=int, default=100_000, help="requests after the warm-up (100000)"
    )
    parser.add_argument("--warmup", type=int, default=2000, help="warm-up requests (2000)")
    parser.add_argument(
        "--sample-every", type=int, default=10_000, help="sample the memory every N (10000)"
    )
    parser.add_argument(
        "--batch",
        type=int,
        default=10_000,
        help="requests signed at once (10000); each batch must be sent within "
        f"{BATCH_SECONDS} s, inside the 300 s signature window",
    )
    parser.add_argument(
        "--db",
        default="file",
        help="'file' (default: a SQLite file in a temporary directory, the durable "
        "long-running mode), 'memory' (:memory:), or a path",
    )
    parser.add_argument(
        "--connections", type=int, default=4, help="concurrent keep-alive connections (4)"
    )
    parser.add_argument("--threads", type=int, help="the server's waitress threads (--threads)")
    parser.add_argument("--cpu", help="the server's CPU pinning (--cpu auto|none|N)")
    parser.add_argument(
        "--scenarios",
        default=str(REPO / "scenarios.yaml"),
        help="the server's --scenarios file (default: the repository's scenarios.yaml, as a "
        "staging sandbox runs; '' passes none)",
    )
    parser.add_argument(
        "--forced-clients",
        type=int,
        default=1000,
        metavar="N",
        help="forced scenarios rotate over N clientIds (1000; 0: a new clientId each time)",
    )
    parser.add_argument(
        "--only",
        type=kind_list,
        metavar="KIND[,KIND...]",
        help=f"restrict the mix to these kinds, to find what grows: {', '.join(MIX)}",
    )
    parser.add_argument("--seed", type=int, default=1, help="the mix's random seed (1)")
    parser.add_argument(
        "--generator",
        choices=("auto", "wrk", "python"),
        default="auto",
        help="wrk if installed (auto, default), wrk, or python",
    )
    parser.add_argument(
        "--markdown",
        action="store_true",
        help=f"write the figures into {README.name}, section '{SECTION[3:]}'",
    )
    args = parser.parse_args(argv)
    if args.requests < 1 or args.warmup < 0 or args.sample_every < 1 or args.batch < 1:
        parser.error("--requests, --sample-every and --batch must be >= 1, --warmup >= 0")
    if args.connections < 1 or args.forced_clients < 0:
        parser.error("--connections must be >= 1 and --forced-clients >= 0")
    return args


def kind_list(text: str) -> list[str]:
    kinds = [k.strip() for k in text.split(",") if k.strip()]
    unknown = [k for k in kinds if k not in MIX]
    if not kinds or unknown:
        raise argparse.ArgumentTypeError(f"kinds are {', '.join(MIX)}")
    return kinds


class Driver:
    """Sends the mix in signed batches with the chosen generator."""

    def __init__(self, gen: str, wrk: str | None, url: str, mix: Mix, args: argparse.Namespace):
        self.gen, self.wrk, self.url, self.mix, self.args = gen, wrk, url, mix, args
        self.workdir = Path(tempfile.mkdtemp(prefix="sabong-rss-"))

    def send(self, count: int) -> Tally:
        total = Tally()
        left = count
        while left > 0:
            size = min(left, self.args.batch)
            queues = self.mix.batch(size, self.args.connections)
            if self.gen == "wrk":
                assert self.wrk is not None
                tally = run_wrk(self.wrk, self.url, queues, self.workdir)
            else:
                tally = run_python(self.url, queues)
            total.add(tally)
            left -= size
            if tally.unfinished:
                raise RuntimeError(
                    f"a batch of {size} was not answered within {BATCH_SECONDS} s "
                    "(its signatures would expire): use a smaller --batch"
                )
        return total

    def close(self) -> None:
        shutil.rmtree(self.workdir, ignore_errors=True)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if not Path("/proc/self/status").exists():
        raise SystemExit("bench/rss.py reads /proc/<pid>/status: Linux only")
    wrk = shutil.which("wrk")
    gen = ("wrk" if wrk else "python") if args.generator == "auto" else args.generator
    if gen == "wrk" and wrk is None:
        raise SystemExit("wrk is not installed (apt-get install wrk), use --generator python")
    command = shlex.join(sys.orig_argv) if argv is None else shlex.join(["rss.py", *argv])
    weights = {k: w for k, w in MIX.items() if args.only is None or k in args.only}
    mix = Mix(weights, args.seed, args.forced_clients)
    run = Run()

    with tempfile.TemporaryDirectory(prefix="sabong-rss-") as tmp:
        db: Path | None
        if args.db == "memory":
            db, db_arg, run.db_label = None, ":memory:", "an in-memory SQLite database"
        elif args.db == "file":
            db = Path(tmp) / "rss.db"
            db_arg, run.db_label = str(db), "a SQLite file in a temporary directory (WAL)"
        else:
            db = Path(args.db)
            db_arg, run.db_label = str(db), f"the SQLite file {db}"
        wal = None if db is None else Path(f"{db}-wal")
        server_args = ["--port", "0", "--db", db_arg, "--quiet"]
        if args.scenarios:
            server_args += ["--scenarios", args.scenarios]
        if args.threads:
            server_args += ["--threads", str(args.threads)]
        if args.cpu:
            server_args += ["--cpu", args.cpu]
        run.revision = revision()
        server = ServerProcess(server_args)
        driver = Driver(gen, wrk, server.url, mix, args)
        try:
            pid = server.proc.pid
            client = SandboxClient(server.url)
            print(f"server {server.url} (pid {pid}), database {db_arg}, generator {gen}")

            def sample(label: str, done: int, since: float, rate: float) -> Sample:
                time.sleep(0.5)  # let the last answers leave the server before reading
                s = Sample(
                    label,
                    done,
                    time.monotonic() - since,
                    rate,
                    memory_kb(pid),
                    journal_newest(client),
                    file_size(db),
                    file_size(wal),
                    sum(run.load.unexpected.values()),
                )
                run.samples.append(s)
                print(
                    f"  {label:>12}: RSS {s.mb('VmRSS'):.1f} MB (HWM {s.mb('VmHWM'):.1f}, "
                    f"anon {s.mb('RssAnon'):.1f}), journal id {s.journal_id:,}, "
                    f"db {mb_text(s.db_bytes)} MB, wal {mb_text(s.wal_bytes)} MB, "
                    f"{rate:,.0f} req/s, unexpected {s.unexpected}",
                    flush=True,
                )
                return s

            t0 = time.monotonic()
            sample("started", 0, t0, 0.0)
            if args.warmup:
                run.warmup = driver.send(args.warmup)
            sample("warm-up", 0, t0, run.warmup.answered / max(run.warmup.seconds, 1e-9))
            run.samples[-1].unexpected = sum(run.warmup.unexpected.values())
            done = 0
            while done < args.requests:
                step = min(args.sample_every, args.requests - done)
                tally = driver.send(step)
                run.load.add(tally)
                done += step
                sample(f"{done:,}", done, t0, tally.answered / max(tally.seconds, 1e-9))
            run.counts = counts_of(db)
            active = client.get("/__sandbox/scenarios").json()["data"]
            run.forced_overrides = sum(1 for c in active["overrides"] if c.startswith("QA_"))
        finally:
            driver.close()
            code = server.stop()
            if code != 0:
                print(f"the server exited with {code}:\n{server.stderr.decode(errors='replace')}")

    text = render(run, args, gen, wrk, command)
    print()
    print(text)
    if args.markdown:
        when = time.strftime("%Y-%m-%d %H:%M:%S %Z")
        key = f"{args.db}, {args.requests} requests, {args.connections} connections, {gen}"
        key += f", forced clients {args.forced_clients or 'unbounded'}"
        if args.only:
            key += f", only {','.join(args.only)}"
        write_markdown(text, key, when)
        print(f"written to {README}")
    passed = sum(run.load.unexpected.values()) == 0 and run.load.socket_errors == 0
    return 0 if passed else 1


def counts_of(db: Path | None) -> dict[str, int]:
    """Row counts of the ledger at the end (read from the file; in memory, not available)."""
    if db is None:
        return {}
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    try:
        return {
            t: conn.execute(f"SELECT COUNT(*) FROM {t}").fetchone()[0]
            for t in ("users", "transactions", "tokens")
        }
    finally:
        conn.close()


if __name__ == "__main__":
    sys.exit(main())
