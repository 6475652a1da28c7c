"""Memory of a long-running sabong-sandbox over 100,000 requests of a realistic mix.

Starts ``sabong-sandbox serve``, by default on a SQLite *file* database in a temporary
directory (the long-running staging mode; ``--db memory`` for ``:memory:``), warms it up
(2,000 requests of the same mix), records its resident memory (``VmRSS`` and ``VmHWM`` from
``/proc/<pid>/status``) as the baseline, then sends ``--requests`` more and samples the memory
every ``--sample-every``, with the journal's newest id and the database file sizes.

The mix touches every per-request structure that could keep something: get-balance for many
clientIds (most unknown), credits and debits with unique references, get-transactions with
filters, sorts and pages, generate-auth-token for new users (users and tokens accumulate),
wrong signatures (the signature doctor runs on each), expired timestamps, forced scenarios set
through the control plane for a rotating set of clientIds, unknown paths and login links with
unknown tokens. Every request is precomputed and signed in batches (a signature stays valid
300 s; a batch must be answered within ``BATCH_SECONDS``) and replayed in order by wrk, one
connection per wrk thread, each answer's status checked against the one its kind must get.

The growth from the post-warm-up baseline to the end is compared with a 20 MB target.
This is a script, not a test: ``python bench/rss.py --help``.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import random
import sqlite3
import sys
import tempfile
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import harness
from harness import Request, WrkResult

from sandbox import signing
from sandbox.client import SandboxClient

BALANCE = "/api/v1/get-balance"
CREDIT = "/api/v1/credit-balance"
DEBIT = "/api/v1/debit-balance"
TRANSACTIONS = "/api/v1/get-transactions"
TOKEN = "/api/v1/generate-auth-token"
SCENARIOS = "/__sandbox/scenarios/"
JOURNAL = "/__sandbox/requests"
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
JSON = (("Content-Type", "application/json"),)


def compact(obj: dict[str, Any]) -> str:
    return json.dumps(obj, separators=(",", ":"))


def careless_get(kind: str, path: str, query: str, ts: str, method: str, payload: str) -> Request:
    """A GET signed over a client's own wrong idea of the StringToSign (``method`` and
    ``payload`` as given, not canonicalized): mistakes ``signing.sign`` cannot make."""
    message = signing.string_to_sign(method, path, ts, payload.encode())
    headers = (("x-timestamp", ts), ("x-signature", signing.hmac_hex(harness.SECRET, message)))
    return Request(kind, "GET", f"{path}?{query}", "", headers, "401")


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

    def batch(self, size: int, threads: int) -> list[list[Request]]:
        """``size`` requests, as one ordered queue per connection."""
        ts = str(int(time.time()))
        queues: list[list[Request]] = [[] for _ in range(threads)]
        made = 0
        while made < size:
            kind = self.rng.choices(self.kinds, self.weights)[0]
            if kind == "forced" and size - made < 2:
                continue
            self.n += 1
            reqs = self.make(kind, self.n, ts)
            min(queues, key=len).extend(reqs)  # a forced pair stays on one connection, in order
            made += len(reqs)
        self.known += self._created
        self._created = []
        return queues

    def make(self, kind: str, n: int, ts: str) -> list[Request]:
        rng = self.rng
        if kind == "balance-unknown":
            query = urlencode({"clientId": f"GHOST_{self.run}_{n}"})
            return [harness.signed(kind, "GET", BALANCE, query=query, ts=ts, expect="404")]
        if kind == "balance-known":
            query = urlencode({"clientId": rng.choice(self.known)})
            return [harness.signed(kind, "GET", BALANCE, query=query, ts=ts)]
        if kind in ("credit", "debit", "credit-unknown"):
            return [self._money(kind, n, ts)]
        if kind == "transactions":
            query = self._transactions_query()
            return [harness.signed(kind, "GET", TRANSACTIONS, query=query, ts=ts)]
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
            return [Request(kind, "GET", f"/login/{token}", "", (("Accept", accept),), "401")]
        raise ValueError(kind)

    def _money(self, kind: str, n: int, ts: str) -> Request:
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
        expect = "404" if kind == "credit-unknown" else "200"
        return harness.signed(kind, "POST", path, body=body, ts=ts, expect=expect)

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

    def _token(self, n: int, ts: str) -> Request:
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
        return harness.signed("token", "POST", TOKEN, body=compact(body), ts=ts)

    def _bad_signature(self, n: int, ts: str) -> Request:
        """A mistake the doctor diagnoses, or a wrong secret (its worst case: nothing matches),
        or an expired timestamp (refused before the doctor)."""
        rng = self.rng
        variant = BAD_SIGNATURES[n % len(BAD_SIGNATURES)]
        kind = f"bad-signature/{variant}"
        if variant == "json-spacing":  # signed what Python's json.dumps prints, sent compact
            obj = {"clientId": rng.choice(RICH_CLIENTS), "amount": 1.5, "reference": f"bad-{n}"}
            spaced = harness.signed(
                kind, "POST", CREDIT, body=json.dumps(obj), ts=ts, mode=signing.RAW_PAYLOAD
            )
            return Request(kind, "POST", CREDIT, compact(obj), spaced.headers, "401")
        if variant == "lowercase-method":
            query = urlencode({"clientId": rng.choice(self.known)})
            payload = signing.canonical_query(query).decode()
            return careless_get(kind, BALANCE, query, ts, "get", payload)
        if variant == "unsorted-query":
            query = f"page=2&clientId={rng.choice(FIXTURE_CLIENTS)}&limit=5"
            return careless_get(kind, TRANSACTIONS, query, ts, "GET", query)
        if variant == "wrong-secret":
            query = urlencode({"clientId": f"GHOST_{self.run}_{n}", "limit": 10})
            secret = f"not-the-secret-{n}"
            return harness.signed(
                kind, "GET", TRANSACTIONS, query=query, ts=ts, secret=secret, expect="401"
            )
        old = str(int(ts) - 3600)
        query = urlencode({"clientId": "CLIENT_001"})
        return harness.signed(kind, "GET", BALANCE, query=query, ts=old, expect="401")

    def _forced(self, n: int, ts: str) -> list[Request]:
        """PUT a one-shot server-error scenario, then the request it forces (a 500)."""
        self.forced += 1
        slot = self.forced if self.forced_clients == 0 else self.forced % self.forced_clients
        client = f"QA_FORCED_{slot:06d}"
        body = '{"outcome":"server-error","times":1}'
        put = Request("forced/put", "PUT", SCENARIOS + client, body, JSON)
        if n % 2:
            query = urlencode({"clientId": client})
            hit = harness.signed("forced/500", "GET", BALANCE, query=query, ts=ts, expect="500")
        else:
            body = compact({"clientId": client, "amount": 1, "reference": f"forced-{n}"})
            hit = harness.signed("forced/500", "POST", CREDIT, body=body, ts=ts, expect="500")
        return [put, hit]

    def _unknown_path(self, n: int, ts: str) -> Request:
        kind, variant = "unknown-path", n % 4
        if variant == 0:
            return Request(
                kind, "GET", f"/api/v1/get-balance-{n}?clientId=CLIENT_001", expect="404"
            )
        if variant == 1:
            return Request(kind, "GET", f"/api/v2/get-balance?clientId=GHOST_{n}", expect="404")
        if variant == 2:  # a signed request to a path that does not exist
            query = "clientId=CLIENT_001"
            return harness.signed(kind, "GET", f"/api/v1/x{n}", query=query, ts=ts, expect="404")
        return Request(kind, "POST", BALANCE, "{}", JSON, "405")


def send(url: str, mix: Mix, count: int, connections: int, batch: int) -> WrkResult:
    """``count`` requests of the mix, signed and replayed in batches."""
    total = WrkResult()
    for start in range(0, count, batch):
        size = min(batch, count - start)
        queues = mix.batch(size, connections)
        result = harness.run_wrk(
            url, queues=queues, connections=connections, limit=BATCH_SECONDS, timeout="30s"
        )
        total.add(result)
        if result.unfinished:
            raise RuntimeError(
                f"a batch of {size} was not answered within {BATCH_SECONDS} s "
                "(its signatures would expire): use a smaller --batch"
            )
    return total


# --------------------------------------------------------------------------- measurements


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


@dataclass
class Run:
    """Everything one run measured."""

    samples: list[Sample] = field(default_factory=list)
    warmup: WrkResult = field(default_factory=WrkResult)
    load: WrkResult = field(default_factory=WrkResult)
    db_label: str = ""
    counts: dict[str, int] = field(default_factory=dict)  # ledger rows at the end
    forced_overrides: int = 0  # forced scenarios still active at the end


def file_size(path: Path | None) -> int | None:
    if path is None:
        return None
    try:
        return path.stat().st_size
    except OSError:
        return 0


def counts_of(db: Path | None) -> dict[str, int]:
    """Row counts of the ledger at the end (read from the file; in memory, not available)."""
    if db is None:
        return {}
    with contextlib.closing(sqlite3.connect(f"file:{db}?mode=ro", uri=True)) as conn:
        return {
            t: conn.execute(f"SELECT COUNT(*) FROM {t}").fetchone()[0]
            for t in ("users", "transactions", "tokens")
        }


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


def mix_table(result: WrkResult) -> str:
    lines = ["| kind | answers | unexpected status |", "|---|--:|--:|"]
    for kind in sorted(result.counts):
        lines.append(f"| {kind} | {result.counts[kind]:,} | {result.unexpected.get(kind, 0)} |")
    lines.append(f"| **all** | {result.answered:,} | {sum(result.unexpected.values())} |")
    return "\n".join(lines)


def verdict(run: Run) -> str:
    base, end = run.samples[1], run.samples[-1]
    half = min(run.samples[1:], key=lambda s: abs(s.requests - end.requests / 2))
    total = end.mb("VmRSS") - base.mb("VmRSS")
    met = total < TARGET_MB
    return (
        f"RSS growth from the post-warm-up baseline ({base.mb('VmRSS'):.1f} MB) to the end "
        f"({end.mb('VmRSS'):.1f} MB) over {end.requests:,} requests: **{total:+.1f} MB**, "
        f"{'under' if met else 'NOT under'} the {TARGET_MB:.0f} MB target "
        f"({'MET' if met else 'NOT MET'}). Second half alone "
        f"({half.requests:,} -> {end.requests:,} requests): "
        f"{end.mb('VmRSS') - half.mb('VmRSS'):+.1f} MB. "
        f"Peak (VmHWM) growth: {end.mb('VmHWM') - base.mb('VmHWM'):+.1f} MB."
    )


def journal_check(run: Run) -> tuple[bool, str]:
    """The journal's newest id must count every API request sent (the control plane's PUTs
    are not journaled), while the ring buffer keeps only the last ``--journal-size``."""
    api = sum(r.answered - r.counts.get("forced/put", 0) for r in (run.warmup, run.load))
    newest = run.samples[-1].journal_id
    ok = newest == api
    text = f"newest id {newest:,}, API requests sent {api:,} (warm-up included)."
    return ok, f"{'OK' if ok else 'MISMATCH'}: {text}"


def render(run: Run, args: argparse.Namespace) -> str:
    findings = ", ".join(f"{k} {v:,}" for k, v in sorted(run.load.findings.items())) or "none"
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
        f"Mix after the warm-up ({args.connections} connections, wrk):\n\n{mix_table(run.load)}"
        f"\n\nSignature doctor findings (X-Sandbox-Signature-Finding): {findings}.\n\n"
        f"Unexpected answers: {'; '.join(run.load.examples) or 'none'}. "
        f"Socket errors: {run.load.socket_errors}; "
        f"connections cut before their last answer: {run.load.unfinished}.\n\n"
        f"Journal: {journal_check(run)[1]}\n\n"
        f"Ledger at the end: {counts}; forced scenarios still set: {run.forced_overrides}.\n\n"
        f"Server: sabong-sandbox (waitress threads: {args.threads or 'default (4)'}, "
        f"cpu pinning: {args.cpu or 'auto'}) on {run.db_label}; scenarios file: "
        f"{args.scenarios or '(none)'}; forced scenarios rotate over "
        f"{args.forced_clients or 'unbounded (a new one each time)'} clientIds.\n\n"
        f"{harness.provenance()}"
    )


# --------------------------------------------------------------------------- main


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description="Resident memory of a real sabong-sandbox over many requests of a "
        "realistic mix (every endpoint, wrong signatures, forced scenarios, unknown paths), "
        "sampled every N requests; growth after the warm-up is compared with a 20 MB target.",
    )
    add = parser.add_argument
    add("--requests", type=int, default=100_000, help="requests after the warm-up (100000)")
    add("--warmup", type=int, default=2000, help="warm-up requests (2000)")
    add("--sample-every", type=int, default=10_000, help="sample the memory every N (10000)")
    add(
        "--batch",
        type=int,
        default=10_000,
        help="requests signed at once (10000); each batch must be sent within "
        f"{BATCH_SECONDS} s, inside the 300 s signature window",
    )
    add(
        "--db",
        default="file",
        help="'file' (default: a SQLite file in a temporary directory, the durable "
        "long-running mode), 'memory' (:memory:), or a path",
    )
    add("--connections", type=int, default=4, help="keep-alive connections = wrk threads (4)")
    add("--threads", type=int, help="the server's waitress threads (--threads)")
    add("--cpu", help="the server's CPU pinning (--cpu auto|none|N)")
    add(
        "--scenarios",
        default=str(harness.REPO / "scenarios.yaml"),
        help="the server's --scenarios file (default: the repository's scenarios.yaml, as a "
        "staging sandbox runs; '' passes none)",
    )
    add(
        "--forced-clients",
        type=int,
        default=1000,
        metavar="N",
        help="forced scenarios rotate over N clientIds (1000; 0: a new clientId each time)",
    )
    add(
        "--only",
        type=harness.names(list(MIX)),
        metavar="KIND[,KIND...]",
        help=f"restrict the mix to these kinds, to find what grows: {', '.join(MIX)}",
    )
    add("--seed", type=int, default=1, help="the mix's random seed (1)")
    add(
        "--markdown",
        action="store_true",
        help=f"write the figures into bench/README.md, section '{SECTION[3:]}'",
    )
    args = parser.parse_args(argv)
    if args.requests < 1 or args.warmup < 0 or args.sample_every < 1 or args.batch < 1:
        parser.error("--requests, --sample-every and --batch must be >= 1, --warmup >= 0")
    if args.connections < 1 or args.forced_clients < 0:
        parser.error("--connections must be >= 1 and --forced-clients >= 0")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    harness.begin()
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
        server = harness.start_sandbox(
            db=db_arg, cpu=args.cpu, threads=args.threads, scenarios=args.scenarios or None
        )
        try:
            pid, t0 = server.proc.pid, time.monotonic()
            client = SandboxClient(server.url)
            print(f"server {server.url} (pid {pid}), database {db_arg}")

            def sample(label: str, done: int, result: WrkResult) -> None:
                time.sleep(0.5)  # let the last answers leave the server before reading
                rows = client.get(JOURNAL, {"limit": 1}).json()["data"]["requests"]
                s = Sample(
                    label,
                    done,
                    time.monotonic() - t0,
                    result.rate,
                    harness.memory_kb(pid),
                    int(rows[0]["id"]) if rows else 0,
                    file_size(db),
                    file_size(wal),
                    sum(result.unexpected.values() if done == 0 else run.load.unexpected.values()),
                )
                run.samples.append(s)
                print(
                    f"  {label:>12}: RSS {s.mb('VmRSS'):.1f} MB (HWM {s.mb('VmHWM'):.1f}, "
                    f"anon {s.mb('RssAnon'):.1f}), journal id {s.journal_id:,}, "
                    f"db {mb_text(s.db_bytes)} MB, wal {mb_text(s.wal_bytes)} MB, "
                    f"{s.rate:,.0f} req/s, unexpected {s.unexpected}",
                    flush=True,
                )

            sample("started", 0, WrkResult())
            if args.warmup:
                run.warmup = send(server.url, mix, args.warmup, args.connections, args.batch)
            sample("warm-up", 0, run.warmup)
            done = 0
            while done < args.requests:
                step = min(args.sample_every, args.requests - done)
                result = send(server.url, mix, step, args.connections, args.batch)
                run.load.add(result)
                done += step
                sample(f"{done:,}", done, result)
            run.counts = counts_of(db)
            active = client.get("/__sandbox/scenarios").json()["data"]
            run.forced_overrides = sum(1 for c in active["overrides"] if c.startswith("QA_"))
        finally:
            code = server.stop()
            if code != 0:
                print(f"the server exited with {code}:\n{server.stderr.decode(errors='replace')}")

    text = render(run, args)
    print(f"\n{text}")
    if args.markdown:
        key = f"{args.db}, {args.requests} requests, {args.connections} connections, wrk"
        key += f", forced clients {args.forced_clients or 'unbounded'}"
        key += f", only {','.join(args.only)}" if args.only else ""
        harness.write_readme("rss.py", key, text, section=SECTION)
    clean = not sum(run.load.unexpected.values()) and not run.load.socket_errors
    return 0 if clean and journal_check(run)[0] else 1


if __name__ == "__main__":
    sys.exit(main())
