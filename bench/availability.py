"""Availability of the sandbox under two attacks, as a reproducible script.

A hosted sandbox serves every partner's CI at once; these are the two cheap ways one partner
or one stranger could take it away from the others (docs/SECURITY.md, "Denial of service"):

1. **Held requests.** A delay or timeout scenario keeps its request waiting (the built-in
   ``CLIENT_TIMEOUT`` answers after 35 s). Each held request has a thread of its own, capped
   by ``--max-held``; the sandbox runs with ``--max-held 100 --max-held-per-partner 100`` so
   that all 100 are held. Raw sockets send a signed get-balance of ``CLIENT_TIMEOUT`` and never
   read, spread over ``127.0.1.x`` source addresses (25 each: one address may hold at most 32
   connections). They are checked to be held: nothing answered or closed 0.5 s after, nor 12 s
   after (past the idle timeout), and a 101st is refused. Signed get-balance of ``CLIENT_001``
   is measured with wrk (throughput, p50/p99) with 0 and with 100 requests held, along with
   the latency of ``/__sandbox/health`` and the server's CPU at rest (the held threads poll
   their client every 0.1 s) and under wrk; so are the 101st held request's answer (503
   ``held-capacity``) and how long it took.
2. **Trickling connections.** ``--attackers`` connections from one address (127.0.0.2) each
   send a request line, then one header line every ``--interval`` seconds, never finishing;
   a few silent connections (127.0.0.3) send nothing. Meanwhile a legitimate client on
   127.0.0.1 sends signed get-balance, one new connection per request, spread over the attack's
   first ``--legit-seconds``. Reported: its latency (p50/p99/max, and the same client before
   the attack), how many attackers were refused at once (503, the per-address cap), when the
   held ones got their 408 (``--request-timeout``, 10 s) and when the silent ones were closed
   (``--idle-timeout``, 10 s). The sandbox runs with its defaults.

Loopback only; every phase is bounded in time. ``python bench/availability.py --help``;
``--markdown`` rewrites its section of bench/README.md.
"""

from __future__ import annotations

import argparse
import contextlib
import http.client
import math
import selectors
import socket
import statistics
import sys
import threading
import time
from dataclasses import dataclass, field
from urllib.parse import urlsplit

import harness
from harness import Request

SECTION = "## Availability: held requests and trickling connections"
INTRO = (
    "`bench/availability.py` measures what two cheap attacks leave to everyone else: 100 "
    "requests held by the `CLIENT_TIMEOUT` scenario (35 s each), and 300 connections from one "
    "address that trickle a header line every few seconds and never finish their request. See "
    "its docstring for the method; docs/SECURITY.md (Denial of service) for the limits involved."
)
HELD_ARGS = ("--max-held", "100", "--max-held-per-partner", "100")
HOLD_SECONDS = 35  # CLIENT_TIMEOUT's hold, sandbox/scenarios/builtin.yaml
PAST_IDLE = 12  # seconds: the last check that they are held, past --idle-timeout (10 s)
PER_SOURCE = 25  # held sockets per source address, under --max-connections-per-address (32)
HEALTH = Request("health", "GET", "/__sandbox/health")
TRICKLE_LINE = b"GET /api/v1/get-balance?clientId=CLIENT_001 HTTP/1.1\r\nHost: 127.0.0.1\r\n"


def balance(client: str = "CLIENT_001") -> Request:
    return harness.signed("get-balance", "GET", "/api/v1/get-balance", query=f"clientId={client}")


def raw(req: Request) -> bytes:
    lines = [f"{req.method} {req.target} HTTP/1.1", "Host: 127.0.0.1"]
    lines += [f"{name}: {value}" for name, value in req.headers]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")


def connect(url: str, source: str) -> socket.socket:
    parts = urlsplit(url)
    address = (parts.hostname or "127.0.0.1", parts.port or 80)
    return socket.create_connection(address, timeout=5, source_address=(source, 0))


def answered(socks: list[socket.socket]) -> int:
    """How many of ``socks`` have something to read (an answer, or the server's close)."""
    with selectors.DefaultSelector() as sel:
        for sock in socks:
            sel.register(sock, selectors.EVENT_READ)
        return len(sel.select(timeout=0))


def timed(url: str, req: Request) -> tuple[str, float]:
    """(status or error, milliseconds) of one request on a new connection."""
    started = time.perf_counter()
    try:
        status = str(harness.send(url, req)[0])
    except OSError as error:
        status = type(error).__name__
    return status, (time.perf_counter() - started) * 1000


def pct(values: list[float], q: float) -> float:
    """The nearest-rank percentile (q in 0-100)."""
    ordered = sorted(values)
    return ordered[max(0, math.ceil(q / 100 * len(ordered)) - 1)]


def spread(values: list[float]) -> str:
    if not values:
        return "-"
    return f"{min(values):.2f} / {statistics.median(values):.2f} / {max(values):.2f}"


# --------------------------------------------------------------------------- held requests


@dataclass
class HeldCell:
    held: int
    wrk: harness.WrkResult
    health_ms: list[float]
    idle_cpu: float  # server cores over --rest seconds without load
    load_cpu: float  # server cores under wrk
    other_cpu: float  # cores of processes outside the benchmark, over the whole cell


@dataclass
class Refusal:
    status: int
    fault: str
    retry_after: str
    message: str
    ms: float


def held_cell(url: str, pid: int, held: int, args: argparse.Namespace) -> HeldCell:
    whole = harness.CpuMeter(pid)
    rest = harness.CpuMeter(pid)
    time.sleep(args.rest)
    idle_cpu = rest.cores()[0][0]
    health = [timed(url, HEALTH) for _ in range(args.health)]
    if any(status != "200" for status, _ in health):
        raise RuntimeError(f"health answered {sorted({s for s, _ in health})}")
    load = harness.CpuMeter(pid)
    result = harness.run_wrk(
        url, [balance()], threads=2, connections=args.connections, seconds=args.duration
    )
    load_cpu = load.cores()[0][0]
    cell = HeldCell(held, result, [ms for _, ms in health], idle_cpu, load_cpu, whole.cores()[1])
    print(
        f"held={held:<3} {result.ok_rate:,.0f} req/s p50 {result.latency_ms['p50']:.2f} "
        f"p99 {result.latency_ms['p99']:.2f} ms; health p50 {pct(cell.health_ms, 50):.2f} ms; "
        f"server CPU {idle_cpu:.2f} at rest, {load_cpu:.2f} under wrk; other {cell.other_cpu:.2f}",
        file=sys.stderr,
        flush=True,
    )
    return cell


def one_more(url: str) -> Refusal:
    """The held request past the cap: its answer, and how long it took."""
    started = time.perf_counter()
    with connect(url, "127.0.0.1") as sock:
        sock.sendall(raw(balance("CLIENT_TIMEOUT")))
        reply = http.client.HTTPResponse(sock)
        reply.begin()
        body = reply.read().decode("utf-8", "replace")
    ms = (time.perf_counter() - started) * 1000
    fault, retry = reply.getheader("X-Sandbox-Fault", "-"), reply.getheader("Retry-After", "-")
    return Refusal(reply.status, fault, retry, body, ms)


def measure_held(args: argparse.Namespace) -> tuple[list[HeldCell], Refusal, float]:
    server = harness.start_sandbox(db=":memory:", extra=HELD_ARGS)
    socks: list[socket.socket] = []
    try:
        harness.wait_ok(server.url, balance(), server.proc)
        if args.warmup:
            harness.run_wrk(
                server.url,
                [balance()],
                threads=2,
                connections=args.connections,
                seconds=args.warmup,
            )
        if args.wait_idle:
            harness.wait_idle(args.wait_idle)
        cells = [held_cell(server.url, server.proc.pid, 0, args)]
        if args.wait_idle:
            harness.wait_idle(args.wait_idle)  # before the hold: its 35 s are the cell's budget
        began = time.monotonic()
        for i in range(args.held):
            socks.append(connect(server.url, f"127.0.1.{1 + i // PER_SOURCE}"))
            socks[-1].sendall(raw(balance("CLIENT_TIMEOUT")))
        time.sleep(0.5)
        if answered(socks):
            raise RuntimeError(f"{answered(socks)} of the {args.held} held requests answered")
        refusal = one_more(server.url)
        cells.append(held_cell(server.url, server.proc.pid, args.held, args))
        # Still held past the idle timeout: a connection with a request running is not idle.
        time.sleep(max(0.0, began + PAST_IDLE - time.monotonic()))
        held_for = time.monotonic() - began
        if answered(socks) or held_for >= HOLD_SECONDS:
            raise RuntimeError(f"{answered(socks)} held requests answered after {held_for:.1f} s")
        return cells, refusal, held_for
    finally:
        for sock in socks:
            sock.close()
        server.stop()


# --------------------------------------------------------------------------- trickling


@dataclass
class Attack:
    outcomes: dict[str, list[float]] = field(default_factory=dict)  # "408": seconds, per socket
    silent: dict[str, list[float]] = field(default_factory=dict)
    legit: list[tuple[str, float]] = field(default_factory=list)  # during the attack
    before: list[tuple[str, float]] = field(default_factory=list)  # the same client, before
    server_cpu: float = 0.0
    other_cpu: float = 0.0
    seconds: float = 0.0  # from the first attacking connection to the last outcome


def legit(url: str, count: int, seconds: float, out: list[tuple[str, float]]) -> None:
    """``count`` signed get-balance, one every ``seconds / count`` s, each on a new connection."""
    req, start = balance(), time.monotonic()
    for i in range(count):
        time.sleep(max(0.0, start + i * seconds / count - time.monotonic()))
        out.append(timed(url, req))


def trickle(url: str, args: argparse.Namespace, attack: Attack) -> None:
    """The attackers and the silent connections, until each is answered or closed."""
    sel = selectors.DefaultSelector()
    began: dict[socket.socket, float] = {}  # when its first byte was sent (silent: connected)
    outcome: dict[socket.socket, tuple[str, float]] = {}  # status line's code, or the close
    kinds: dict[socket.socket, bool] = {}  # trickling, or silent
    start = time.monotonic()
    for i in range(args.attackers + args.silent):
        trickling = i < args.attackers
        sock = connect(url, "127.0.0.2" if trickling else "127.0.0.3")
        if trickling:
            sock.sendall(TRICKLE_LINE)
        began[sock], kinds[sock] = time.monotonic(), trickling
        sock.setblocking(False)
        sel.register(sock, selectors.EVENT_READ, sock)
    deadline, next_line, sent = start + args.limit, start + args.interval, 0
    while sel.get_map() and (now := time.monotonic()) < deadline:
        for key, _ in sel.select(timeout=max(0.0, min(next_line, deadline) - now)):
            ready: socket.socket = key.data
            try:
                data = ready.recv(4096)
            except OSError:
                data = b""
            after = time.monotonic() - began[ready]
            if data and ready not in outcome:
                outcome[ready] = (data.split(b" ", 2)[1].decode("ascii", "replace"), after)
            if not data:
                outcome.setdefault(ready, ("closed without an answer", after))
                sel.unregister(ready)
        if time.monotonic() >= next_line:  # one more header line from each one still going
            sent, next_line = sent + 1, next_line + args.interval
            for sock in began:
                if kinds[sock] and sock not in outcome:
                    with contextlib.suppress(OSError):
                        sock.send(f"X-Trickle-{sent}: {sent}\r\n".encode())
    attack.seconds = time.monotonic() - start
    sel.close()
    for sock in began:
        status, after = outcome.get(sock, ("no answer by the end", args.limit))
        (attack.outcomes if kinds[sock] else attack.silent).setdefault(status, []).append(after)
        sock.close()


def measure_trickle(args: argparse.Namespace) -> Attack:
    server = harness.start_sandbox(db=":memory:")
    attack = Attack()
    try:
        harness.wait_ok(server.url, balance(), server.proc)
        if args.wait_idle:
            harness.wait_idle(args.wait_idle)
        legit(
            server.url,
            args.baseline,
            args.baseline * args.legit_seconds / args.legit,
            attack.before,
        )
        meter = harness.CpuMeter(server.proc.pid)
        client = threading.Thread(
            target=legit, args=(server.url, args.legit, args.legit_seconds, attack.legit)
        )
        client.start()
        try:
            trickle(server.url, args, attack)
        finally:
            client.join()
        used, attack.other_cpu = meter.cores()
        attack.server_cpu = used[0]
    finally:
        server.stop()
    return attack


# --------------------------------------------------------------------------- report


def latency_row(label: str, replies: list[tuple[str, float]]) -> str:
    ms = [m for _, m in replies]
    errors = sum(status != "200" for status, _ in replies)
    return (
        f"| {label} | {len(replies)} | {pct(ms, 50):.2f} | {pct(ms, 99):.2f} | {max(ms):.2f} "
        f"| {errors} |"
    )


def render_held(
    cells: list[HeldCell], refusal: Refusal, held_for: float, a: argparse.Namespace
) -> str:
    lines = [
        "| requests held | get-balance req/s | p50 ms | p99 ms | errors | health p50 / max ms "
        "| server CPU at rest | server CPU under wrk | other CPU |",
        "|--:|--:|--:|--:|--:|--:|--:|--:|--:|",
    ]
    for c in cells:
        w = c.wrk
        lines.append(
            f"| {c.held} | {w.ok_rate:,.0f} | {w.latency_ms['p50']:.2f} "
            f"| {w.latency_ms['p99']:.2f} "
            f"| {w.answered - w.ok + w.socket_errors} "
            f"| {pct(c.health_ms, 50):.2f} / {max(c.health_ms):.2f} "
            f"| {c.idle_cpu:.2f} | {c.load_cpu:.2f} | {c.other_cpu:.2f} |"
        )
    return (
        f"Held requests: `sabong-sandbox serve {' '.join(HELD_ARGS)}` (otherwise its defaults: "
        f"`--cpu auto`, 4 threads); {a.held} signed `CLIENT_TIMEOUT` get-balance sent on raw "
        f"sockets from {-(-a.held // PER_SOURCE)} addresses (127.0.1.x) and never read. Per cell: "
        f"server CPU over {a.rest:g} s without load, {a.health} sequential `/__sandbox/health` (a "
        f"new connection each), then wrk -t2 -c{a.connections}, {a.duration:g} s of signed "
        f"`CLIENT_001` get-balance ({a.warmup:g} s of warm-up before the first cell). Cores: "
        "server CPU is the server's process; other CPU the processes outside the benchmark.\n\n"
        + "\n".join(lines)
        + f"\n\nThe {a.held} were held: none answered (nor closed) 0.5 s after they were "
        f"sent, nor {held_for:.1f} s after, past the idle timeout. A {a.held + 1}st: "
        f"**{refusal.status}** (`X-Sandbox-Fault: {refusal.fault}`, `Retry-After: "
        f"{refusal.retry_after}`) in **{refusal.ms:.1f} ms**, `{refusal.message}`."
    )


def render_trickle(attack: Attack, a: argparse.Namespace) -> str:
    rows = [
        "| client (127.0.0.1, signed get-balance, a new connection each) | requests | p50 ms "
        "| p99 ms | max ms | not 200 |",
        "|---|--:|--:|--:|--:|--:|",
        latency_row("before the attack", attack.before),
        latency_row(f"during the attack's first {a.legit_seconds:g} s", attack.legit),
    ]
    outcomes = [
        "| connections | outcome | count | seconds after their first byte, min / median / max |",
        "|---|---|--:|---|",
    ]
    groups = [
        (f"{a.attackers} trickling from 127.0.0.2", attack.outcomes),
        (f"{a.silent} silent from 127.0.0.3 (after connecting)", attack.silent),
    ]
    for label, found in groups:
        for status, seconds in sorted(found.items()):
            outcomes.append(f"| {label} | {status} | {len(seconds)} | {spread(seconds)} |")
    return (
        f"Trickling connections: `sabong-sandbox serve` with its defaults (`--request-timeout "
        f"10 --idle-timeout 10 --max-connections-per-address 32`, 200 connections). "
        f"{a.attackers} connections from 127.0.0.2 each send `GET ... HTTP/1.1` and `Host:`, "
        f"then one header line every {a.interval:g} s; {a.silent} from 127.0.0.3 send nothing. "
        f"From the first attacking connection, a client on 127.0.0.1 sends {a.legit} requests "
        f"spread over {a.legit_seconds:g} s ({a.baseline} at the same pace before the attack). "
        f"Everything answered or closed {attack.seconds:.1f} s after the attack began; server CPU "
        f"{attack.server_cpu:.2f} cores meanwhile, other processes {attack.other_cpu:.2f}.\n\n"
        + "\n".join(rows)
        + "\n\n"
        + "\n".join(outcomes)
    )


def render(parts: list[str]) -> str:
    return "\n\n".join([*parts, harness.provenance()])


# --------------------------------------------------------------------------- main


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description="Signed get-balance with 0 and 100 requests held by CLIENT_TIMEOUT; then a "
        "legitimate client while 300 connections of one address trickle their headers.",
    )
    add = parser.add_argument
    add(
        "--parts",
        type=harness.names(["held", "trickle"]),
        default=["held", "trickle"],
        help="comma-separated, default both: held,trickle",
    )
    add("--duration", type=float, default=5, help="wrk seconds per held cell (1-15, default 5)")
    add("--connections", type=int, default=8, help="wrk connections (8)")
    add("--warmup", type=float, default=2, help="unmeasured wrk seconds first (2)")
    add("--held", type=int, default=100, help="requests held (100, at most --max-held's 100)")
    add("--rest", type=float, default=3, help="seconds of server CPU without load per cell (3)")
    add("--health", type=int, default=50, help="health requests per cell (50)")
    add("--attackers", type=int, default=300, help="trickling connections from 127.0.0.2 (300)")
    add("--silent", type=int, default=5, help="silent connections from 127.0.0.3 (5)")
    add("--interval", type=float, default=2, help="seconds between trickled header lines (2)")
    add("--legit", type=int, default=200, help="legitimate requests during the attack (200)")
    add("--legit-seconds", type=float, default=16, help="spread over this many seconds (16)")
    add("--baseline", type=int, default=50, help="legitimate requests before the attack (50)")
    add("--limit", type=float, default=30, help="seconds the attack may last at most (30)")
    add("--wait-idle", type=float, default=0, help="before each cell wait up to S s for idle")
    add("--markdown", action="store_true", help="rewrite the bench/README.md section")
    args = parser.parse_args(argv)
    if not 1 <= args.duration <= 15 or args.rest + args.duration > 20:
        parser.error(
            "--duration must be 1-15 s and --rest + --duration at most 20 s: the "
            f"held cell must end within CLIENT_TIMEOUT's {HOLD_SECONDS} s"
        )
    if not 1 <= args.held <= 100 or not 0 < args.legit_seconds < args.limit <= 60:
        parser.error("--held must be 1-100, and 0 < --legit-seconds < --limit <= 60")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    harness.begin()
    parts = []
    if "held" in args.parts:
        parts.append(render_held(*measure_held(args), args))
    if "trickle" in args.parts:
        parts.append(render_trickle(measure_trickle(args), args))
    text = render(parts)
    print(f"\n{text}")
    if args.markdown:
        harness.write_readme("availability.py", None, text, section=SECTION, intro=INTRO)
    return 0


if __name__ == "__main__":
    sys.exit(main())
