"""Load test of a real sabong-sandbox: signed, durable credits and signed reads per second.

Starts ``sabong-sandbox serve`` as a child process on a SQLite *file* database in a temporary
directory (the durable mode: WAL, ``synchronous=NORMAL``), then measures, each for
``--duration`` seconds over ``--connections`` keep-alive connections on loopback:

- ``POST /api/v1/credit-balance`` with ``{"clientId":"CLIENT_001","amount":1.25}`` (no
  reference, so every request is a new ledger transaction);
- ``GET /api/v1/get-balance?clientId=CLIENT_001``.

Both are signed as a partner would sign them (``x-timestamp`` and ``x-signature``, secret
``sandbox-secret``). The headers are computed once per measurement and replayed: a signature
stays valid for 300 s, and the server still verifies the HMAC of every request.

The load comes from wrk when it is installed (``bench/signed.lua`` sets the method, body and
headers and stops each wrk thread cleanly when the time is up) or from a built-in generator
(Python threads, one ``http.client`` keep-alive connection each).

Afterwards the ledger is checked: the credit transactions added (``get-transactions``
``totalCount``) must equal the 2xx answers the generator counted, and the balance must have
grown by exactly that count x 1.25. Finally the server is killed with SIGKILL and the database
file is reopened: every acknowledged credit must still be there.

This is a script, not a test: ``python bench/load.py --help``.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import platform
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
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlencode, urlsplit

from sandbox import signing
from sandbox.client import SandboxClient
from sandbox.process import ServerProcess

SECRET = "sandbox-secret"
CLIENT_ID = "CLIENT_001"
AMOUNT = "1.25"
AMOUNT_CENTS = 125
CREDIT_PATH = "/api/v1/credit-balance"
BALANCE_PATH = "/api/v1/get-balance"
TRANSACTIONS_PATH = "/api/v1/get-transactions"
CREDIT_BODY = '{"clientId":"' + CLIENT_ID + '","amount":' + AMOUNT + "}"
BALANCE_QUERY = urlencode({"clientId": CLIENT_ID})

HERE = Path(__file__).resolve().parent
LUA_SCRIPT = HERE / "signed.lua"
README = HERE / "README.md"
MAX_DURATION = 60  # well inside the 300 s signature window


# --------------------------------------------------------------------------- requests


@dataclass(frozen=True)
class Signed:
    """One request with its signature headers, computed once and replayed."""

    name: str  # "credits" or "get-balance"
    method: str
    path: str  # with the query string
    body: str  # "" for a GET
    timestamp: str
    signature: str

    @property
    def headers(self) -> dict[str, str]:
        headers = {"x-timestamp": self.timestamp, "x-signature": self.signature}
        if self.body:
            headers["content-type"] = "application/json"
        return headers


def signed_credit() -> Signed:
    ts = str(int(time.time()))
    sig = signing.sign(SECRET, "POST", CREDIT_PATH, ts, body=CREDIT_BODY)
    return Signed("credits", "POST", CREDIT_PATH, CREDIT_BODY, ts, sig)


def signed_balance() -> Signed:
    ts = str(int(time.time()))
    sig = signing.sign(SECRET, "GET", BALANCE_PATH, ts, query=BALANCE_QUERY)
    return Signed("get-balance", "GET", f"{BALANCE_PATH}?{BALANCE_QUERY}", "", ts, sig)


# --------------------------------------------------------------------------- results


@dataclass
class Load:
    """What a generator measured."""

    generator: str
    answered: int  # responses received
    ok: int  # 2xx responses
    not_ok: int  # other statuses
    socket_errors: int  # connect/read/write errors and timeouts
    uncertain: int  # requests that may or may not have reached the ledger
    seconds: float  # the measured window
    p50_ms: float
    p99_ms: float
    max_ms: float
    raw: str = ""  # wrk's own output

    @property
    def rate(self) -> float:
        return self.answered / self.seconds if self.seconds > 0 else 0.0

    @property
    def errors(self) -> int:
        return self.not_ok + self.socket_errors


@dataclass
class Snapshot:
    credits: int  # totalCount of get-transactions?type=credit
    balance_cents: int


@dataclass
class Row:
    request: Signed
    load: Load
    before: Snapshot
    after: Snapshot
    connections: int
    cpu: tuple[float, float] | None = None  # (server cores, other processes' cores)
    check: str = ""
    passed: bool = False


@dataclass
class Report:
    rows: list[Row] = field(default_factory=list)
    durability: str = ""
    durability_passed: bool = False
    journal_mode: str = "?"
    server_threads: str = "default"


# --------------------------------------------------------------------------- generators


def wrk_version(wrk: str) -> str:
    out = subprocess.run([wrk, "-v"], capture_output=True, text=True, timeout=10).stdout
    return out.split(" Copyright")[0].strip() or "wrk"


def run_wrk(wrk: str, url: str, req: Signed, seconds: int, connections: int) -> Load:
    """wrk with ``signed.lua``: -t = -c (one connection per thread, stopped cleanly)."""
    env = {
        **os.environ,
        "BENCH_METHOD": req.method,
        "BENCH_PATH": req.path,
        "BENCH_BODY": req.body,
        "BENCH_TIMESTAMP": req.timestamp,
        "BENCH_SIGNATURE": req.signature,
        "BENCH_SECONDS": str(seconds),
    }
    # -d leaves 2 s beyond BENCH_SECONDS so that every thread stops itself, not wrk.
    cmd = [wrk, f"-t{connections}", f"-c{connections}", f"-d{seconds + 2}s", "--latency"]
    cmd += ["-s", str(LUA_SCRIPT), url]
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=seconds + 60)
    match = re.search(r"^BENCH_JSON (\{.*\})$", proc.stdout, re.MULTILINE)
    if proc.returncode != 0 or match is None:
        raise RuntimeError(f"wrk failed ({proc.returncode}):\n{proc.stdout}\n{proc.stderr}")
    data = json.loads(match.group(1))
    socket_errors = data["connect"] + data["read"] + data["write"] + data["timeout"]
    # wrk's own count: requests minus "Non-2xx or 3xx"; the Lua count must agree with it.
    wrk_ok = data["requests"] - data["non2xx_or_3xx"]
    if wrk_ok != data["ok"] or data["requests"] != data["answered"]:
        raise RuntimeError(f"wrk and signed.lua disagree on the counts: {data}")
    window = data["window_s"] if data["unstopped_threads"] == 0 else data["wrk_duration_us"] / 1e6
    return Load(
        generator="wrk",
        answered=data["requests"],
        ok=wrk_ok,
        not_ok=data["non2xx_or_3xx"],
        socket_errors=socket_errors,
        # A thread cut by wrk's -d, or a connection that broke, may leave one credit unanswered.
        uncertain=data["unstopped_threads"] + data["read"] + data["write"] + data["timeout"],
        seconds=window,
        p50_ms=data["p50_us"] / 1000,
        p99_ms=data["p99_us"] / 1000,
        max_ms=data["max_us"] / 1000,
        raw=proc.stdout,
    )


@dataclass
class _Worker:
    latencies: list[float] = field(default_factory=list)
    ok: int = 0
    not_ok: int = 0
    socket_errors: int = 0
    ended: float = 0.0


def run_python(url: str, req: Signed, seconds: int, connections: int) -> Load:
    """Threads, one keep-alive ``http.client`` connection each; a request in flight when the
    time is up is finished, so every credit sent is answered and counted."""
    parts = urlsplit(url)
    host, port = parts.hostname or "127.0.0.1", parts.port or 80
    body = req.body.encode() if req.body else None
    headers = req.headers
    workers = [_Worker() for _ in range(connections)]
    barrier = threading.Barrier(connections + 1)
    deadline = [0.0]

    def work(w: _Worker) -> None:
        conn = http.client.HTTPConnection(host, port, timeout=10)
        conn.connect()
        barrier.wait()
        perf = time.perf_counter
        while True:
            start = perf()
            if start >= deadline[0]:
                break
            try:
                conn.request(req.method, req.path, body=body, headers=headers)
                response = conn.getresponse()
                response.read()
            except (OSError, http.client.HTTPException):
                w.socket_errors += 1
                conn.close()
                conn = http.client.HTTPConnection(host, port, timeout=10)
                continue
            w.latencies.append(perf() - start)
            if 200 <= response.status < 300:
                w.ok += 1
            else:
                w.not_ok += 1
        w.ended = perf()
        conn.close()

    threads = [threading.Thread(target=work, args=(w,), daemon=True) for w in workers]
    for t in threads:
        t.start()
    started = time.perf_counter()
    deadline[0] = started + seconds
    barrier.wait()
    for t in threads:
        t.join(seconds + 60)
    latencies = sorted(x for w in workers for x in w.latencies)
    ok = sum(w.ok for w in workers)
    not_ok = sum(w.not_ok for w in workers)
    socket_errors = sum(w.socket_errors for w in workers)
    return Load(
        generator="python",
        answered=ok + not_ok,
        ok=ok,
        not_ok=not_ok,
        socket_errors=socket_errors,
        uncertain=socket_errors,
        seconds=max(w.ended for w in workers) - started,
        p50_ms=percentile(latencies, 50) * 1000,
        p99_ms=percentile(latencies, 99) * 1000,
        max_ms=(latencies[-1] if latencies else 0.0) * 1000,
    )


def percentile(sorted_values: list[float], p: float) -> float:
    """Nearest-rank percentile of an ascending list (0 when empty)."""
    if not sorted_values:
        return 0.0
    rank = max(1, -(-len(sorted_values) * p // 100))
    return sorted_values[int(rank) - 1]


# --------------------------------------------------------------------------- the server


class CpuMeter:
    """CPU seconds used during a measurement: by the server, and by processes that are not part
    of the benchmark at all (on a shared 2-core machine they take their share from the server).
    Linux only (/proc); elsewhere the figures are left out."""

    def __init__(self, server_pid: int) -> None:
        self.pid = server_pid
        self.tick = os.sysconf("SC_CLK_TCK")

    def read(self) -> tuple[float, float, float, float] | None:
        """(wall, machine busy, server, this process and its waited children)."""
        try:
            fields = Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]
            stat = Path(f"/proc/{self.pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            return None
        user, nice, system, _idle, _iowait, irq, softirq, steal = map(int, fields[:8])
        busy = (user + nice + system + irq + softirq + steal) / self.tick
        server = (int(stat[11]) + int(stat[12])) / self.tick  # utime, stime
        t = os.times()
        own = t.user + t.system + t.children_user + t.children_system
        return time.monotonic(), busy, server, own

    def wait_idle(self, timeout: float, window: float = 2.0, limit: float = 0.1) -> float | None:
        """Wait until the whole machine used less than ``limit`` cores over ``window`` seconds
        (the server is idle between measurements), at most ``timeout`` seconds. Returns the last
        busy figure (cores), or None without /proc."""
        deadline = time.monotonic() + timeout
        while True:
            before = self.read()
            time.sleep(window)
            after = self.read()
            if before is None or after is None:
                return None
            busy = (after[1] - before[1]) / (after[0] - before[0])
            if busy < limit or time.monotonic() >= deadline:
                return busy

    @staticmethod
    def cores(
        before: tuple[float, float, float, float] | None,
        after: tuple[float, float, float, float] | None,
    ) -> tuple[float, float] | None:
        """(server cores, other processes' cores) on average between two readings."""
        if before is None or after is None:
            return None
        wall, busy, server, own = (a - b for a, b in zip(after, before, strict=True))
        if wall <= 0:
            return None
        return server / wall, max(0.0, busy - server - own) / wall


# --------------------------------------------------------------------------- the ledger


def snapshot(client: SandboxClient) -> Snapshot:
    tx = client.get(TRANSACTIONS_PATH, {"clientId": CLIENT_ID, "type": "credit", "limit": 1})
    bal = client.get(BALANCE_PATH, {"clientId": CLIENT_ID})
    if tx.status != 200 or bal.status != 200:
        raise RuntimeError(f"snapshot failed: {tx.status} {tx.body!r} / {bal.status} {bal.body!r}")
    balance = bal.json()["data"]["balance"]
    return Snapshot(tx.json()["data"]["totalCount"], round(balance * 100))


def check_row(row: Row) -> None:
    """Compare the ledger's growth with what the generator saw answered."""
    load, added = row.load, row.after.credits - row.before.credits
    grown = row.after.balance_cents - row.before.balance_cents
    if row.request.name == "credits":
        cents_ok = grown == added * AMOUNT_CENTS
        if load.uncertain:
            count_ok = load.ok <= added <= load.ok + load.uncertain
            expected = f"{load.ok}..{load.ok + load.uncertain}"
        else:
            count_ok = added == load.ok
            expected = str(load.ok)
        row.passed = cents_ok and count_ok
        verdict = "OK" if row.passed else "MISMATCH"
        row.check = (
            f"{verdict}: +{added} credit txns (2xx answers: {expected}), "
            f"balance +{money(grown)} = {added} x {AMOUNT}"
            + ("" if cents_ok else f" (expected +{money(added * AMOUNT_CENTS)})")
        )
    else:
        row.passed = added == 0 and grown == 0 and load.errors == 0
        verdict = "OK" if row.passed else "MISMATCH"
        row.check = f"{verdict}: ledger unchanged (+{added} txns, balance +{money(grown)})"


def money(cents: int) -> str:
    return f"{cents // 100}.{cents % 100:02d}" if cents >= 0 else "-" + money(-cents)


def journal_mode(db: Path) -> str:
    conn = sqlite3.connect(db)
    try:
        return str(conn.execute("PRAGMA journal_mode").fetchone()[0])
    finally:
        conn.close()


def check_after_kill(db: Path, last: Snapshot) -> tuple[bool, str]:
    """Reopen the database the killed server left behind: every acknowledged credit is there."""
    conn = sqlite3.connect(db)
    try:
        row = conn.execute(
            "SELECT w.id, w.balance_cents FROM users u JOIN wallets w ON w.user_id = u.id "
            "WHERE u.client_id = ?",
            (CLIENT_ID,),
        ).fetchone()
        wallet_id, balance = row
        credits, signed_sum = conn.execute(
            "SELECT SUM(type = 'credit'), "
            "SUM(CASE type WHEN 'credit' THEN amount_cents ELSE -amount_cents END) "
            "FROM transactions WHERE wallet_id = ?",
            (wallet_id,),
        ).fetchone()
        integrity = conn.execute("PRAGMA integrity_check").fetchone()[0]
    except (sqlite3.Error, TypeError) as exc:
        return False, f"could not read the database after kill -9: {exc}"
    finally:
        conn.close()
    passed = (
        credits == last.credits
        and balance == last.balance_cents
        and signed_sum == balance
        and integrity == "ok"
    )
    verdict = "OK" if passed else "MISMATCH"
    return passed, (
        f"{verdict}: after SIGKILL the file holds {credits} credit txns (last answer: "
        f"{last.credits}), balance {money(balance)} (last answer: {money(last.balance_cents)}), "
        f"sum of the wallet's transactions {money(signed_sum)}, integrity_check {integrity}"
    )


# --------------------------------------------------------------------------- machine, output


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def machine(wrk: str | None) -> list[tuple[str, str]]:
    usable = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return [
        ("CPUs (nproc)", str(usable)),
        ("CPU model", cpu_model()),
        ("kernel", f"{platform.system()} {platform.release()}"),
        ("Python", f"{platform.python_version()} ({sys.executable})"),
        ("SQLite", sqlite3.sqlite_version),
        ("wrk", wrk_version(wrk) if wrk else "not installed"),
    ]


def table(report: Report) -> str:
    lines = [
        "| endpoint | generator | conns | seconds | answers | req/s | p50 ms | p99 ms "
        "| max ms | errors | server CPU | other CPU | ledger check |",
        "|---|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|---|",
    ]
    for r in report.rows:
        ld = r.load
        cpu = "? | ?" if r.cpu is None else f"{r.cpu[0]:.2f} | {r.cpu[1]:.2f}"
        lines.append(
            f"| {r.request.method} {r.request.name} | {ld.generator} | {r.connections} "
            f"| {ld.seconds:.2f} | {ld.answered} | {ld.rate:,.0f} | {ld.p50_ms:.2f} "
            f"| {ld.p99_ms:.2f} | {ld.max_ms:.1f} | {ld.errors} | {cpu} | {r.check} |"
        )
    return "\n".join(lines)


def verdict(report: Report, target: float) -> str:
    """Whether every credits measurement reached ``target``, per generator and connections."""
    groups: dict[tuple[str, int], list[float]] = {}
    for r in report.rows:
        if r.request.name == "credits":
            rate = r.load.rate if r.passed else 0.0  # a failed ledger check counts as nothing
            groups.setdefault((r.load.generator, r.connections), []).append(rate)
    if not groups:
        return "no credit measurement"
    lines = []
    for (gen, conns), rates in groups.items():
        hits = sum(rate >= target for rate in rates)
        spread = ", ".join(f"{rate:,.0f}" for rate in rates)
        lines.append(
            f"- {gen}, {conns} connections: reached in {hits} of {len(rates)} "
            f"measurement(s) ({spread} credits/s)"
        )
    total = sum(len(rates) for rates in groups.values())
    hits = sum(rate >= target for rates in groups.values() for rate in rates)
    head = f"Target >= {target:,.0f} signed, durable credits/s: "
    head += "MET" if hits == total else "NOT MET"
    head += f" (reached in {hits} of {total} credits measurements)"
    return head + "\n\n" + "\n".join(lines)


def render(report: Report, args: argparse.Namespace, wrk: str | None, command: str) -> str:
    info = "\n".join(f"- {k}: {v}" for k, v in machine(wrk))
    legend = (
        "req/s: answers / measured seconds. p50/p99/max: latency per request (wrk's histogram, "
        "or every request timed by the python generator). errors: non-2xx answers + socket "
        "errors. server CPU / other CPU: average cores used by the server process / by "
        "processes outside the benchmark during the measurement (2 cores in all)."
    )
    return (
        f"{table(report)}\n\n{legend}\n\n"
        f"{verdict(report, args.target)}\n\n"
        f"Durability: {report.durability}\n\n"
        f"Server: sabong-sandbox (waitress threads: {report.server_threads}) on a SQLite file "
        f"in a temporary directory, journal_mode={report.journal_mode}, synchronous=NORMAL.\n\n"
        f"Machine:\n{info}\n\n"
        f"Command:\n\n```bash\n{command}\n```\n"
    )


def write_markdown(text: str, key: str, when: str) -> None:
    """Rewrite (or append) the block of this generator between its markers in README.md."""
    start, end = f"<!-- load.py results: {key} -->", f"<!-- end load.py results: {key} -->"
    block = f"{start}\n\n_Measured {when}._\n\n{text}\n{end}"
    old = README.read_text() if README.exists() else "# Load benchmark\n"
    pattern = re.compile(re.escape(start) + r".*?" + re.escape(end), re.DOTALL)
    if pattern.search(old):
        new = pattern.sub(lambda _: block, old)
    else:
        new = old.rstrip("\n") + "\n\n" + block + "\n"
    README.write_text(new)


# --------------------------------------------------------------------------- main


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description="Signed credits and get-balance per second against a real sabong-sandbox "
        "on a durable SQLite file, with a ledger consistency check afterwards.",
    )
    parser.add_argument(
        "--duration", type=int, default=10, help="seconds per measurement (1-60, default 10)"
    )
    parser.add_argument(
        "--connections",
        type=connection_list,
        default=[8],
        metavar="N[,N...]",
        help="concurrent connections, or a comma-separated list to sweep (default 8)",
    )
    parser.add_argument(
        "--repeat", type=int, default=1, help="run every measurement this many times"
    )
    parser.add_argument(
        "--threads", type=int, default=None, help="the server's waitress threads (--threads)"
    )
    parser.add_argument(
        "--cpu",
        default=None,
        help="the server's CPU pinning (--cpu auto|none|N; default: the server's, auto)",
    )
    parser.add_argument(
        "--generator",
        choices=("auto", "wrk", "python", "both"),
        default="auto",
        help="load generator: wrk if installed (auto, default), wrk, python, or both",
    )
    parser.add_argument(
        "--target", type=float, default=1000, help="credits/s to meet (default 1000)"
    )
    parser.add_argument(
        "--markdown", action="store_true", help=f"write the figures into {README.name}"
    )
    parser.add_argument(
        "--wait-idle",
        type=float,
        default=0,
        metavar="SECONDS",
        help="before each measurement wait up to SECONDS for the machine to be idle "
        "(< 0.1 core busy over 2 s); for shared machines (default 0: don't wait)",
    )
    parser.add_argument("--verbose", action="store_true", help="also print wrk's own output")
    args = parser.parse_args(argv)
    if not 1 <= args.duration <= MAX_DURATION:
        parser.error(f"--duration must be 1 to {MAX_DURATION} seconds")
    if args.repeat < 1:
        parser.error("--repeat must be >= 1")
    if args.threads is not None and args.threads < 1:
        parser.error("--threads must be >= 1")
    return args


def connection_list(text: str) -> list[int]:
    values = [int(part) for part in text.split(",") if part.strip()]
    if not values or min(values) < 1:
        raise argparse.ArgumentTypeError("connections must be integers >= 1")
    return values


def generators(choice: str, wrk: str | None) -> list[str]:
    if choice in ("wrk", "both") and wrk is None:
        raise SystemExit("wrk is not installed (apt-get install wrk), use --generator python")
    if choice == "auto":
        return ["wrk"] if wrk else ["python"]
    return ["wrk", "python"] if choice == "both" else [choice]


def measure(
    args: argparse.Namespace,
    gen: str,
    make: Callable[[], Signed],
    connections: int,
    server: ServerProcess,
    client: SandboxClient,
    meter: CpuMeter,
) -> Row:
    """One measurement: snapshot, load, snapshot, ledger check."""
    if args.wait_idle:
        busy = meter.wait_idle(args.wait_idle)
        if busy is not None:
            print(f"machine busy before measuring: {busy:.2f} cores")
    req = make()
    before = snapshot(client)
    cpu_before = meter.read()
    print(f"{gen}: {req.method} {req.name}, {connections} connections, {args.duration} s ...")
    if gen == "wrk":
        wrk = shutil.which("wrk")
        assert wrk is not None
        load = run_wrk(wrk, server.url, req, args.duration, connections)
    else:
        load = run_python(server.url, req, args.duration, connections)
    if args.verbose and load.raw:
        print(load.raw)
    cpu_after = meter.read()
    row = Row(req, load, before, snapshot(client), connections)
    row.cpu = meter.cores(cpu_before, cpu_after)
    check_row(row)
    print(f"  {load.rate:,.0f} req/s, p99 {load.p99_ms:.2f} ms; {row.check}", flush=True)
    return row


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    wrk = shutil.which("wrk")
    gens = generators(args.generator, wrk)
    command = shlex.join(sys.orig_argv) if argv is None else shlex.join(["load.py", *argv])
    report = Report(
        server_threads=(str(args.threads) if args.threads else "default (4)")
        + f", cpu pinning: {args.cpu or 'auto'}"
    )

    with tempfile.TemporaryDirectory(prefix="sabong-bench-") as tmp:
        db = Path(tmp) / "bench.db"
        server_args = ["--port", "0", "--db", str(db), "--quiet"]
        if args.threads:
            server_args += ["--threads", str(args.threads)]
        if args.cpu:
            server_args += ["--cpu", args.cpu]
        server = ServerProcess(server_args)
        try:
            meter = CpuMeter(server.proc.pid)
            report.journal_mode = journal_mode(db)
            client = SandboxClient(server.url)
            print(f"server {server.url}, database {db} (journal_mode={report.journal_mode})")
            for _ in range(20):  # warm up both paths before measuring
                client.post(CREDIT_PATH, CREDIT_BODY)
                client.get(BALANCE_PATH, {"clientId": CLIENT_ID})
            for _ in range(args.repeat):
                for connections in args.connections:
                    for gen in gens:
                        for make in (signed_credit, signed_balance):
                            row = measure(args, gen, make, connections, server, client, meter)
                            report.rows.append(row)
            last = snapshot(client)
        finally:
            # kill -9: what the file holds afterwards is what a crash would leave.
            server.stop(signal.SIGKILL)
        report.durability_passed, report.durability = check_after_kill(db, last)

    text = render(report, args, wrk, command)
    print()
    print(text)
    if args.markdown:
        when = time.strftime("%Y-%m-%d %H:%M:%S %Z")
        conns = ",".join(map(str, args.connections))
        key = f"{'+'.join(gens)}, {conns} connections, server threads "
        key += f"{args.threads or 'default'}, cpu {args.cpu or 'auto'}, x{args.repeat}"
        write_markdown(text, key, when)
        print(f"written to {README}")
    passed = all(r.passed for r in report.rows) and report.durability_passed
    return 0 if passed else 1


if __name__ == "__main__":
    sys.exit(main())
