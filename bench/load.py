"""Load test of a real sabong-sandbox: signed, durable credits and signed reads per second.

Starts ``sabong-sandbox serve`` on a SQLite *file* database in a temporary directory (the
durable mode: WAL, ``synchronous=NORMAL``), then measures with wrk, each for ``--duration``
seconds over ``--connections`` keep-alive connections on loopback (one per wrk thread):

- ``POST /api/v1/credit-balance`` with ``{"clientId":"CLIENT_001","amount":1.25}`` (no
  reference, so every request is a new ledger transaction);
- ``GET /api/v1/get-balance?clientId=CLIENT_001``.

Both are signed once per measurement with ``sandbox.signing.sign`` and replayed (a signature
stays valid 300 s; the server still verifies the HMAC of every request). Each wrk thread stops
itself at its first answer after the duration, so nothing is left in flight and the counts are
exact: the credit transactions added (``get-transactions`` ``totalCount``) must equal the 200
answers, and the balance must have grown by exactly that count x 1.25. Finally the server is
killed with SIGKILL and the database file reopened: every acknowledged credit must be there.

This is a script, not a test: ``python bench/load.py --help``.
"""

from __future__ import annotations

import argparse
import contextlib
import signal
import sqlite3
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

import harness
from harness import Request, WrkResult
from harness import cpu_model as cpu_model  # bench/doctor_bench.py imports it from here

from sandbox.client import SandboxClient

CLIENT_ID = "CLIENT_001"
AMOUNT, AMOUNT_CENTS = "1.25", 125
CREDIT_PATH = "/api/v1/credit-balance"
BALANCE_PATH = "/api/v1/get-balance"
TRANSACTIONS_PATH = "/api/v1/get-transactions"
CREDIT_BODY = '{"clientId":"' + CLIENT_ID + '","amount":' + AMOUNT + "}"
MAX_DURATION = 60  # well inside the 300 s signature window
SECTION = "## Measured figures"


def credit() -> Request:
    return harness.signed("credits", "POST", CREDIT_PATH, body=CREDIT_BODY)


def balance() -> Request:
    return harness.signed("get-balance", "GET", BALANCE_PATH, query=f"clientId={CLIENT_ID}")


# --------------------------------------------------------------------------- the ledger


@dataclass
class Snapshot:
    credits: int  # totalCount of get-transactions?type=credit
    balance_cents: int


@dataclass
class Row:
    request: Request
    connections: int
    load: WrkResult
    before: Snapshot
    after: Snapshot
    server_cpu: float
    other_cpu: float
    check: str = ""
    passed: bool = False


def snapshot(client: SandboxClient) -> Snapshot:
    tx = client.get(TRANSACTIONS_PATH, {"clientId": CLIENT_ID, "type": "credit", "limit": 1})
    bal = client.get(BALANCE_PATH, {"clientId": CLIENT_ID})
    if tx.status != 200 or bal.status != 200:
        raise RuntimeError(f"snapshot failed: {tx.status} {tx.body!r} / {bal.status} {bal.body!r}")
    return Snapshot(tx.json()["data"]["totalCount"], round(bal.json()["data"]["balance"] * 100))


def money(cents: int) -> str:
    return f"{cents // 100}.{cents % 100:02d}" if cents >= 0 else "-" + money(-cents)


def check_row(row: Row) -> None:
    """Compare the ledger's growth with the 200 answers wrk counted."""
    load, added = row.load, row.after.credits - row.before.credits
    grown = row.after.balance_cents - row.before.balance_cents
    if row.request.method == "GET":
        row.passed = added == grown == 0 and load.ok == load.answered and not load.socket_errors
        verdict = "OK" if row.passed else "MISMATCH"
        row.check = f"{verdict}: ledger unchanged (+{added} txns, balance +{money(grown)})"
        return
    # A thread cut by wrk's -d, or a broken connection, may leave one credit unanswered.
    uncertain = load.unfinished + load.socket_errors - load.errors.get("connect", 0)
    cents_ok = grown == added * AMOUNT_CENTS
    count_ok = load.ok <= added <= load.ok + uncertain
    expected = f"{load.ok}..{load.ok + uncertain}" if uncertain else str(load.ok)
    row.passed = cents_ok and count_ok
    row.check = (
        f"{'OK' if row.passed else 'MISMATCH'}: +{added} credit txns (200 answers: {expected}), "
        f"balance +{money(grown)} = {added} x {AMOUNT}"
        + ("" if cents_ok else f" (expected +{money(added * AMOUNT_CENTS)})")
    )


def check_after_kill(db: Path, last: Snapshot) -> tuple[bool, str]:
    """Reopen the database the killed server left behind: every acknowledged credit is there."""
    conn = sqlite3.connect(db)
    try:
        wallet_id, balance_cents = conn.execute(
            "SELECT w.id, w.balance_cents FROM users u JOIN wallets w ON w.user_id = u.id "
            "WHERE u.client_id = ?",
            (CLIENT_ID,),
        ).fetchone()
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
        and balance_cents == last.balance_cents == signed_sum
        and integrity == "ok"
    )
    return passed, (
        f"{'OK' if passed else 'MISMATCH'}: after SIGKILL the file holds {credits} credit txns "
        f"(last answer: {last.credits}), balance {money(balance_cents)} (last answer: "
        f"{money(last.balance_cents)}), sum of the wallet's transactions {money(signed_sum)}, "
        f"integrity_check {integrity}"
    )


# --------------------------------------------------------------------------- output


def table(rows: list[Row]) -> str:
    lines = [
        "| endpoint | conns | seconds | answers | req/s | p50 ms | p99 ms | max ms | errors "
        "| server CPU | other CPU | ledger check |",
        "|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|---|",
    ]
    for r in rows:
        ld, lat = r.load, r.load.latency_ms
        errors = ld.answered - ld.ok + ld.socket_errors
        lines.append(
            f"| {r.request.method} {r.request.kind} | {r.connections} | {ld.seconds:.2f} "
            f"| {ld.answered} | {ld.rate:,.0f} | {lat['p50']:.2f} | {lat['p99']:.2f} "
            f"| {lat['max']:.1f} | {errors} | {r.server_cpu:.2f} | {r.other_cpu:.2f} "
            f"| {r.check} |"
        )
    return "\n".join(lines)


def verdict(rows: list[Row], target: float) -> str:
    """Whether every credits measurement reached ``target``, per number of connections."""
    groups: dict[int, list[float]] = {}
    for r in rows:
        if r.request.method == "POST":  # a failed ledger check counts as nothing
            groups.setdefault(r.connections, []).append(r.load.rate if r.passed else 0.0)
    rates = [rate for group in groups.values() for rate in group]
    hits = sum(rate >= target for rate in rates)
    lines = [
        f"Target >= {target:,.0f} signed, durable credits/s: "
        f"{'MET' if hits == len(rates) else 'NOT MET'} (reached in {hits} of {len(rates)} "
        "credits measurements)\n"
    ]
    for conns, group in groups.items():
        spread = ", ".join(f"{rate:,.0f}" for rate in group)
        reached = sum(rate >= target for rate in group)
        lines.append(
            f"- {conns} connections: reached in {reached} of {len(group)} measurement(s) "
            f"({spread} credits/s)"
        )
    return "\n".join(lines)


def render(rows: list[Row], durability: str, args: argparse.Namespace, mode: str) -> str:
    legend = (
        "req/s: answers / measured seconds (first wrk thread start to last stop). "
        "p50/p99/max: latency per request (wrk's histogram). errors: answers other than 200 + "
        "socket errors. server CPU / other CPU: average cores used by the server process / by "
        "processes outside the benchmark during the measurement."
    )
    threads = str(args.threads) if args.threads else "default (4)"
    return (
        f"{table(rows)}\n\n{legend}\n\n{verdict(rows, args.target)}\n\n"
        f"Durability: {durability}\n\n"
        f"Server: sabong-sandbox (waitress threads: {threads}, cpu pinning: {args.cpu or 'auto'}) "
        f"on a SQLite file in a temporary directory, journal_mode={mode}, synchronous=NORMAL.\n\n"
        f"{harness.provenance()}"
    )


# --------------------------------------------------------------------------- main


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description="Signed credits and get-balance per second (wrk) against a real "
        "sabong-sandbox on a durable SQLite file, with exact ledger and kill -9 checks.",
    )
    add = parser.add_argument
    add("--duration", type=int, default=10, help="seconds per measurement (1-60, default 10)")
    add(
        "--connections",
        type=harness.ints,
        default=[8],
        metavar="N[,N...]",
        help="connections (= wrk threads), or a comma-separated list to sweep (default 8)",
    )
    add("--repeat", type=int, default=1, help="run every measurement this many times")
    add("--threads", type=int, help="the server's waitress threads (--threads)")
    add("--cpu", help="the server's CPU pinning (--cpu auto|none|N; default: the server's, auto)")
    add("--target", type=float, default=1000, help="credits/s to meet (default 1000)")
    add(
        "--wait-idle",
        type=float,
        default=0,
        metavar="SECONDS",
        help="before each measurement wait up to SECONDS for the machine to be idle "
        "(< 0.15 core busy over 1 s); for shared machines (default 0: don't wait)",
    )
    add("--verbose", action="store_true", help="also print wrk's own output")
    add("--markdown", action="store_true", help="write the figures into bench/README.md")
    args = parser.parse_args(argv)
    if not 1 <= args.duration <= MAX_DURATION:
        parser.error(f"--duration must be 1 to {MAX_DURATION} seconds")
    if args.repeat < 1 or (args.threads is not None and args.threads < 1):
        parser.error("--repeat and --threads must be >= 1")
    return args


def measure(
    args: argparse.Namespace, req: Request, conns: int, url: str, pid: int, client: SandboxClient
) -> Row:
    """One measurement: snapshot, load, snapshot, ledger check."""
    if args.wait_idle:
        print(f"machine busy before measuring: {harness.wait_idle(args.wait_idle):.2f} cores")
    before = snapshot(client)
    print(f"{req.method} {req.kind}, {conns} connections, {args.duration} s ...", flush=True)
    meter = harness.CpuMeter(pid)
    load = harness.run_wrk(url, [req], connections=conns, seconds=args.duration)
    (server,), other = meter.cores()
    if args.verbose:
        print(load.output)
    row = Row(req, conns, load, before, snapshot(client), server, other)
    check_row(row)
    print(f"  {load.rate:,.0f} req/s, p99 {load.latency_ms['p99']:.2f} ms; {row.check}")
    return row


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    harness.begin()
    rows: list[Row] = []
    with tempfile.TemporaryDirectory(prefix="sabong-bench-") as tmp:
        db = Path(tmp) / "bench.db"
        server = harness.start_sandbox(db=str(db), cpu=args.cpu, threads=args.threads)
        try:
            with contextlib.closing(sqlite3.connect(db)) as conn:
                mode = str(conn.execute("PRAGMA journal_mode").fetchone()[0])
            client = SandboxClient(server.url)
            print(f"server {server.url}, database {db} (journal_mode={mode})")
            for _ in range(20):  # warm up both paths before measuring
                client.post(CREDIT_PATH, CREDIT_BODY)
                client.get(BALANCE_PATH, {"clientId": CLIENT_ID})
            for _ in range(args.repeat):
                for conns in args.connections:
                    for make in (credit, balance):  # signed afresh for each measurement
                        rows.append(
                            measure(args, make(), conns, server.url, server.proc.pid, client)
                        )
            last = snapshot(client)
        finally:
            server.stop(signal.SIGKILL)  # what the file holds now is what a crash would leave
        durable, durability = check_after_kill(db, last)

    text = render(rows, durability, args, mode)
    print(f"\n{text}")
    if args.markdown:
        key = f"wrk, {','.join(map(str, args.connections))} connections, server threads "
        key += f"{args.threads or 'default'}, cpu {args.cpu or 'auto'}, x{args.repeat}"
        harness.write_readme("load.py", key, text, section=SECTION)
    return 0 if durable and all(r.passed for r in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
