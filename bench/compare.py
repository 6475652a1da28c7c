"""Side by side, in one run: the full sandbox vs a bare Flask+waitress app vs Stoplight Prism.

Load: wrk (``-t2``, loopback, bounded in time, signed requests replayed) on every setup x
concurrency x endpoint (get-balance, credit-balance with no reference so every credit is a new
durable transaction, get-transactions?limit=100), and the ratios sandbox/bare and sandbox/prism
from figures of the same run. Setups (``SETUP``): the sandbox pinned by ``--cpu 0`` with wrk on
CPU 1, ``--cpu none`` and ``--cpu auto`` with wrk unpinned; ``bench/bare_app.py`` pinned by
taskset or unpinned; ``prism mock`` on the OpenAPI document the sandbox serves. All servers run
for the whole load phase, idle but the one measured, and each (concurrency, endpoint) cell is
measured on every setup in turn after an unmeasured ``--warmup``; a cell during which other
processes took more than ``--max-other`` cores is measured again (``--retries``).

Startup: launch to the first signed get-balance 200, median of ``--startup-runs`` launches (the
sandbox on ``:memory:`` and on its default file, created by the first launch), then the idle RSS
of the process tree one second after that 200. The sandbox loads the repository's
scenarios.yaml and, under load, a SQLite file (WAL, synchronous=NORMAL) in a temporary directory.

``python bench/compare.py --help``; ``--markdown`` rewrites its section of bench/README.md.
``--sandbox-cmd`` and ``--sandbox-args`` measure another build or other ``serve`` options.
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import harness
from harness import Request, Server

HERE = harness.HERE
BARE_APP = HERE / "bare_app.py"
CLIENT_ID = "CLIENT_001"
ENDPOINTS = ("get-balance", "credit-balance", "get-transactions")
SETUPS = ("sandbox-pinned", "sandbox-none", "sandbox-auto", "bare-pinned", "bare-unpinned", "prism")
SERVER_CPU, WRK_CPU = "0", "1"  # pinned setups: the server on CPU 0, wrk on CPU 1

RATIO_BARE_TARGET, RATIO_PRISM_TARGET = 0.8, 1.0
CREDITS_TARGET = 1000.0
STARTUP_TARGET_MS, RSS_TARGET_MB = 300.0, 80.0
RATIOS = (
    ("sandbox-pinned", "bare-pinned", RATIO_BARE_TARGET),
    ("sandbox-none", "bare-unpinned", RATIO_BARE_TARGET),
    ("sandbox-auto", "bare-unpinned", RATIO_BARE_TARGET),
    ("sandbox-none", "prism", RATIO_PRISM_TARGET),
    ("sandbox-auto", "prism", RATIO_PRISM_TARGET),
    ("sandbox-pinned", "prism", RATIO_PRISM_TARGET),
)


def request(endpoint: str) -> Request:
    """``endpoint``'s request, signed now (valid 300 s)."""
    if endpoint == "credit-balance":
        body = '{"clientId":"' + CLIENT_ID + '","amount":1.25}'
        return harness.signed(endpoint, "POST", "/api/v1/credit-balance", body=body, expect="2xx")
    query = f"clientId={CLIENT_ID}" + ("&limit=100" if endpoint == "get-transactions" else "")
    return harness.signed(endpoint, "GET", f"/api/v1/{endpoint}", query=query, expect="2xx")


# --------------------------------------------------------------------------- setups


@dataclass(frozen=True)
class Setup:
    name: str
    server: str  # sandbox | bare | prism
    cpu: str | None  # the sandbox's --cpu
    pinned: bool  # the server on SERVER_CPU, wrk under taskset on WRK_CPU
    describe: str


SETUP = {
    s.name: s
    for s in (
        Setup("sandbox-pinned", "sandbox", SERVER_CPU, True, "sandbox --cpu 0, wrk on CPU 1"),
        Setup("sandbox-none", "sandbox", "none", False, "sandbox --cpu none, wrk unpinned"),
        Setup(
            "sandbox-auto", "sandbox", "auto", False, "sandbox --cpu auto (default), wrk unpinned"
        ),
        Setup("bare-pinned", "bare", None, True, "bare app on CPU 0, wrk on CPU 1"),
        Setup("bare-unpinned", "bare", None, False, "bare app unpinned, wrk unpinned"),
        Setup("prism", "prism", None, False, "prism mock unpinned, wrk unpinned"),
    )
}


@dataclass
class Options:
    sandbox_cmd: list[str]
    sandbox_extra: list[str]  # more serve options for the load setups (e.g. --workers 2)
    threads: int | None
    scenarios: str | None
    prism_dir: Path
    workdir: Path

    @property
    def openapi(self) -> Path:
        return self.workdir / "openapi.json"

    def sandbox(
        self, db: str | None, cpu: str | None = None, extra: bool = False, cwd: Path | None = None
    ) -> Server:
        """In a fresh working directory (nothing of ours, a scenarios.yaml, is picked up), where
        a relative ``db`` is created."""
        cwd = cwd or Path(tempfile.mkdtemp(prefix="compare-", dir=self.workdir))
        return harness.start_sandbox(
            db=db,
            cpu=cpu,
            threads=self.threads,
            scenarios=self.scenarios,
            extra=self.sandbox_extra if extra else (),
            cmd=self.sandbox_cmd,
            cwd=cwd,
        )

    def bare(self, pinned: bool) -> Server:
        args = [sys.executable, str(BARE_APP), "--port", "0"]
        args += ["--threads", str(self.threads)] if self.threads else []
        args = ["taskset", "-c", SERVER_CPU, *args] if pinned else args
        return harness.Process(args, url_prefix="BARE_URL=")

    def prism(self) -> Server:
        port = harness.free_port()
        args = ["npx", "--no-install", "prism", "mock", "-p", str(port), "-v", "error"]
        return harness.Process([*args, str(self.openapi)], port=port, cwd=self.prism_dir)


def start(setup: Setup, opts: Options) -> Server:
    if setup.server == "sandbox":
        server = opts.sandbox("compare.db", setup.cpu, extra=True)
    elif setup.server == "bare":
        server = opts.bare(setup.pinned)
    else:
        server = opts.prism()
    harness.wait_ok(server.url, request("get-balance"), server.proc)
    return server


def save_openapi(opts: Options) -> None:
    """The sandbox's own OpenAPI document, saved for prism."""
    server = opts.sandbox(":memory:")
    try:
        doc = Request("openapi", "GET", "/__sandbox/openapi.json")
        status, body = harness.send(server.url, doc, timeout=10)
        if status != 200:
            raise RuntimeError(f"/__sandbox/openapi.json answered {status}")
        opts.openapi.write_bytes(body)
    finally:
        server.stop()


# --------------------------------------------------------------------------- load


@dataclass
class Measure:
    setup: str
    connections: int
    endpoint: str
    rate: float  # 2xx answers per second
    p99_ms: float
    p50_ms: float
    requests: int
    errors: int  # other answers and socket errors
    server_cpu: float  # cores used by the server's process tree on average
    other_cpu: float  # cores used by processes outside the benchmark
    attempts: int = 1  # measured again while other processes were busy


def load(server: Server, setup: Setup, endpoint: str, conns: int, seconds: float) -> Measure:
    cpu = WRK_CPU if setup.pinned else None
    meter = harness.CpuMeter(server.proc.pid)
    r = harness.run_wrk(
        server.url, [request(endpoint)], threads=2, connections=conns, seconds=seconds, cpu=cpu
    )
    (server_cpu,), other = meter.cores()
    return Measure(
        setup.name,
        conns,
        endpoint,
        r.ok_rate,
        r.latency_ms["p99"],
        r.latency_ms["p50"],
        r.answered,
        r.answered - r.ok + r.socket_errors,
        server_cpu,
        other,
    )


def run_load(args: argparse.Namespace, opts: Options) -> tuple[list[Measure], list[str]]:
    """Every cell, interleaved over the setups (all running, idle but the one measured)."""
    servers: dict[str, Server] = {}
    commands: list[str] = []
    results: list[Measure] = []
    try:
        for name in args.setups:
            servers[name] = start(SETUP[name], opts)
            commands.append(f"# {name}: {shlex.join(servers[name].args)}")
            for endpoint in args.endpoints if args.warmup else ():  # not measured
                load(servers[name], SETUP[name], endpoint, min(args.connections), args.warmup)
        for conns in args.connections:
            for endpoint in args.endpoints:
                for name in args.setups:
                    for attempt in range(1, args.retries + 2):
                        if args.wait_idle:
                            harness.wait_idle(args.wait_idle)
                        m = load(servers[name], SETUP[name], endpoint, conns, args.duration)
                        m.attempts = attempt
                        print(
                            f"{name:15} c={conns:<3} {endpoint:17} {m.rate:9,.0f} req/s "
                            f"p99 {m.p99_ms:7.2f} ms  errors {m.errors}  "
                            f"server {m.server_cpu:.2f} other {m.other_cpu:.2f}",
                            file=sys.stderr,
                            flush=True,
                        )
                        if m.other_cpu <= args.max_other:
                            break
                        if attempt <= args.retries:
                            harness.wait_idle(max(args.wait_idle, 30.0))
                    results.append(m)
    finally:
        for server in servers.values():
            server.stop()
    return results, commands


# --------------------------------------------------------------------------- startup


@dataclass
class Startup:
    label: str
    command: str = ""
    times_ms: list[float] = field(default_factory=list)
    rss_mb: list[float] = field(default_factory=list)

    @property
    def median_ms(self) -> float:
        return statistics.median(self.times_ms) if self.times_ms else float("nan")

    @property
    def rss_median(self) -> float:
        return statistics.median(self.rss_mb) if self.rss_mb else float("nan")


def startup_runs(label: str, runs: int, launch: Callable[[], Server]) -> Startup:
    """Launch ``runs`` times; each: launch -> first signed get-balance 200, then idle RSS."""
    result = Startup(label)
    for _ in range(runs):
        started = time.perf_counter()
        server = launch()
        try:
            harness.wait_ok(server.url, request("get-balance"), server.proc)
            result.times_ms.append((time.perf_counter() - started) * 1000)
            time.sleep(1.0)
            result.rss_mb.append(harness.tree_rss_mb(server.proc.pid))
        finally:
            server.stop()
        result.command = shlex.join(server.args)
    return result


def measure_startups(opts: Options, runs: int, with_prism: bool) -> list[Startup]:
    # The file default (.sandbox/sandbox.db) is created by the first launch in a fresh working
    # directory and reused by the next ones, as on a developer's machine.
    home = Path(tempfile.mkdtemp(prefix="compare-start-", dir=opts.workdir))
    out = [
        startup_runs("sandbox :memory:", runs, lambda: opts.sandbox(":memory:")),
        startup_runs("sandbox file (default db)", runs, lambda: opts.sandbox(None, cwd=home)),
        startup_runs("bare app", runs, lambda: opts.bare(False)),
    ]
    if with_prism:
        out.append(startup_runs("prism", runs, opts.prism))
    return out


# --------------------------------------------------------------------------- report


def ratio(a: Measure | None, b: Measure | None) -> float | None:
    return None if a is None or b is None or b.rate <= 0 else a.rate / b.rate


def tables(results: list[Measure], setups: Sequence[str], conns: Sequence[int]) -> str:
    by = {(m.setup, m.connections, m.endpoint): m for m in results}
    rows = [(c, e) for c in conns for e in ENDPOINTS if any((s, c, e) in by for s in setups)]

    def cell(m: Measure | None) -> str:
        if m is None:
            return "-"
        return f"{m.rate:,.0f} ({m.p99_ms:.1f})" + (f" [{m.errors} err]" if m.errors else "")

    def fmt(r: float | None, target: float) -> str:
        return "-" if r is None else f"**{r:.2f}**" if r < target else f"{r:.2f}"

    lines = ["| conns | endpoint | " + " | ".join(f"`{s}`" for s in setups) + " |"]
    lines.append("|--:|---|" + "--:|" * len(setups))
    for c, e in rows:
        lines.append(f"| {c} | {e} | " + " | ".join(cell(by.get((s, c, e))) for s in setups) + " |")
    ratios = [(a, b, t) for a, b, t in RATIOS if a in setups and b in setups]
    if ratios:
        lines += [
            "",
            "| conns | endpoint | " + " | ".join(f"{a} / {b}" for a, b, _ in ratios) + " |",
        ]
        lines.append("|--:|---|" + "--:|" * len(ratios))
        for c, e in rows:
            cells = [fmt(ratio(by.get((a, c, e)), by.get((b, c, e))), t) for a, b, t in ratios]
            lines.append(f"| {c} | {e} | " + " | ".join(cells) + " |")
    lines += [
        "",
        "| setup | conns | endpoint | req/s | p50 ms | p99 ms | requests | errors "
        "| server CPU | other CPU | tries |",
        "|---|--:|---|--:|--:|--:|--:|--:|--:|--:|--:|",
    ]
    order = {s: i for i, s in enumerate(setups)}
    for m in sorted(results, key=lambda m: (order.get(m.setup, 99), m.connections)):
        lines.append(
            f"| {m.setup} | {m.connections} | {m.endpoint} | {m.rate:,.0f} | {m.p50_ms:.2f} "
            f"| {m.p99_ms:.2f} | {m.requests} | {m.errors} | {m.server_cpu:.2f} "
            f"| {m.other_cpu:.2f} | {m.attempts} |"
        )
    return "\n".join(lines)


def startup_table(startups: list[Startup]) -> str:
    lines = [
        "| server | launch -> first signed 200, median (all runs) ms | idle RSS MB (median) "
        "| command |",
        "|---|--:|--:|---|",
    ]
    for s in startups:
        runs = ", ".join(f"{t:.0f}" for t in s.times_ms)
        lines.append(
            f"| {s.label} | **{s.median_ms:.0f}** ({runs}) | {s.rss_median:.1f} | `{s.command}` |"
        )
    return "\n".join(lines)


def verdicts(results: list[Measure], startups: list[Startup]) -> list[str]:
    def met(ok: bool) -> str:
        return "MET" if ok else "NOT MET"

    by = {(m.setup, m.connections, m.endpoint): m for m in results}
    out = []
    for a, b, target in RATIOS:
        found = [
            (c, r)
            for (s, c, e), m in sorted(by.items())
            if s == a and e == "get-balance" and (r := ratio(m, by.get((b, c, e)))) is not None
        ]
        if found:
            spread = ", ".join(f"c={c}: {r:.2f}" for c, r in found)
            ok = all(r >= target for _, r in found)
            out.append(f"- get-balance {a} / {b} >= {target}: {met(ok)} ({spread})")
    for setup in dict.fromkeys(m.setup for m in results if m.setup.startswith("sandbox")):
        credits = [m for m in results if m.endpoint == "credit-balance" and m.setup == setup]
        if credits:
            ok = all(m.rate >= CREDITS_TARGET and m.errors == 0 for m in credits)
            spread = ", ".join(f"c={m.connections}: {m.rate:,.0f}" for m in credits)
            out.append(
                f"- durable signed credits >= {CREDITS_TARGET:,.0f}/s, {setup}: {met(ok)} "
                f"({spread})"
            )
    for s in startups:
        if s.label.startswith("sandbox"):
            out.append(
                f"- startup {s.label} <= {STARTUP_TARGET_MS:.0f} ms median: "
                f"{met(s.median_ms <= STARTUP_TARGET_MS)} ({s.median_ms:.0f} ms)"
            )
            out.append(
                f"- idle RSS {s.label} <= {RSS_TARGET_MB:.0f} MB: "
                f"{met(s.rss_median <= RSS_TARGET_MB)} ({s.rss_median:.1f} MB)"
            )
    return out


def render(
    results: list[Measure],
    startups: list[Startup],
    args: argparse.Namespace,
    info: list[tuple[str, str]],
    commands: list[str],
) -> str:
    setups = [s for s in args.setups if any(m.setup == s for m in results)]
    parts = []
    if results:
        legend = ", ".join(f"`{s}`: {SETUP[s].describe}" for s in setups)
        parts += [
            f"Load: wrk -t2, {args.duration} s per cell, signed requests replayed; req/s counts "
            f"2xx answers per measured second, (p99 ms) in brackets. {legend}.",
            tables(results, setups, args.connections),
            "Ratios below the target (0.8 for bare, 1.0 for prism) in bold. server CPU / other "
            "CPU: average cores used by the server's process tree / by processes outside the "
            "benchmark during the cell (a cell with other CPU well above 0 had less than 2 "
            "cores; such a cell is measured again: tries). Prism does not verify the HMAC (it "
            "checks that the headers are present and well formed) and its get-transactions "
            "answers one example row; the bare app stores nothing (its credit-balance is not "
            "durable).",
        ]
    if startups:
        parts += [
            f"Startup (median of {args.startup_runs} launches; the file default is created by "
            "the first launch and reused by the next) and idle RSS (VmRSS of the process tree "
            "1 s after the first 200):",
            startup_table(startups),
        ]
    parts.append("Targets:\n\n" + "\n".join(verdicts(results, startups)))
    return "\n\n".join([*parts, harness.provenance(commands, info)])


SECTION = "## Side by side: sandbox vs bare Flask+waitress vs Prism"
INTRO = (
    "`bench/compare.py` runs, in one run, the full sandbox, a bare Flask+waitress app "
    "(`bench/bare_app.py`: verifies the same HMAC inline, answers the same JSON shapes, no "
    "database) and Stoplight Prism (`prism mock` on the OpenAPI document the sandbox serves, "
    "saved by the script; the pinned version is in `bench/prism/package.json`), with wrk on "
    "loopback, and computes the ratios from figures of the same run. Pinned: the server on "
    "CPU 0 (the sandbox by `--cpu 0`, the bare app by `taskset -c 0`) and wrk on CPU 1 "
    "(`taskset -c 1`); unpinned: no taskset, the sandbox with `--cpu none` and with its default "
    "`--cpu auto` (it pins itself to a CPU no other sandbox holds; wrk is free).\n\n"
    "Reading it: unpinned, waitress's threads hand the GIL between the two cores, and each hand-"
    "off wakes the other (virtual) CPU: the bare app as much as the sandbox lose about half their "
    "throughput (`sandbox-none`, `bare-unpinned`; an earlier session on this kind of VM saw them "
    "collapse to 100-400 req/s); pinned, or with the default `--cpu auto`, they do not "
    "(bench/pinning.py measures the alternatives). Prism is one node process (about one core) that"
    " neither verifies the HMAC nor stores anything. The sandbox's own cost is its request "
    "pipeline, its SQLite commit per credit (WAL, synchronous=NORMAL) and, for get-transactions, "
    "the `COUNT(*)` of `totalCount`, which grows with the ledger (the credit cells run before it "
    "and add tens of thousands of rows)."
)


# --------------------------------------------------------------------------- main


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description="The sandbox vs a bare Flask+waitress app vs Prism, in one run: wrk load "
        "(pinned and unpinned, concurrency 8 and 32, three signed endpoints), startup to the "
        "first signed 200 (median of 5) and idle RSS.",
    )
    add = parser.add_argument
    add("--duration", type=int, default=5, help="seconds per cell (1-60, default 5)")
    add("--connections", type=harness.ints, default=[8, 32], help="wrk connections (8,32)")
    add("--setups", type=harness.names(SETUPS), default=SETUPS, help=", ".join(SETUPS))
    add("--endpoints", type=harness.names(ENDPOINTS), default=ENDPOINTS, help=", ".join(ENDPOINTS))
    add("--warmup", type=int, default=1, help="unmeasured seconds per endpoint and server (1)")
    add("--threads", type=int, help="waitress threads of sandbox and bare app")
    add("--sandbox-cmd", help="the sabong-sandbox command (default: the one of this interpreter)")
    add("--sandbox-args", default="", help="more `serve` options for the load setups")
    add(
        "--scenarios",
        default=str(harness.REPO / "scenarios.yaml"),
        help="scenarios file the sandbox loads (default: the repository's; 'none' for none)",
    )
    add(
        "--prism-dir",
        default=str(HERE / "prism"),
        help="where `npm ci` installed bench/prism/package.json; npx runs there (bench/prism)",
    )
    add("--startup-runs", type=int, default=5, help="launches per server (5)")
    add("--no-load", action="store_true", help="skip the wrk measurements")
    add("--no-startup", action="store_true", help="skip startup and RSS")
    add("--wait-idle", type=float, default=0.0, help="before each cell wait up to S s for idle")
    add(
        "--max-other",
        type=float,
        default=0.2,
        help="measure a cell again when other processes used more cores than this (0.2)",
    )
    add("--retries", type=int, default=2, help="at most this many times (2)")
    add("--json", help="also write every figure to this JSON file")
    add("--markdown", action="store_true", help="rewrite the bench/README.md section")
    args = parser.parse_args(argv)
    if not 1 <= args.duration <= 60:
        parser.error("--duration must be 1-60 seconds (signatures are valid 300 s)")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    harness.begin(wrk=not args.no_load)
    if shutil.which("taskset") is None:
        sys.exit("taskset is not installed (util-linux)")
    with_prism = "prism" in args.setups
    prism_dir = Path(args.prism_dir)
    if with_prism and not (prism_dir / "node_modules" / ".bin" / "prism").exists():
        sys.exit(f"prism is not installed in {prism_dir}: cd {prism_dir} && npm ci")
    tmp = Path(tempfile.mkdtemp(prefix="sabong-compare-"))
    try:
        opts = Options(
            sandbox_cmd=shlex.split(args.sandbox_cmd) if args.sandbox_cmd else [],
            sandbox_extra=shlex.split(args.sandbox_args),
            threads=args.threads,
            scenarios=None if args.scenarios == "none" else args.scenarios,
            prism_dir=prism_dir,
            workdir=tmp,
        )
        if with_prism:
            save_openapi(opts)
        results: list[Measure] = []
        commands: list[str] = []  # after this script's own command line
        if not args.no_load:
            results, started = run_load(args, opts)
            commands += started
            commands.append(
                f"# wrk, per cell (under 'taskset -c {WRK_CPU}' for the pinned setups; "
                "harness.py writes the signed requests): "
                f"wrk -t2 -c{{8,32}} -d{args.duration + harness.GRACE}s --latency --timeout 2s "
                "-s bench/signed.lua URL"
            )
        startups = [] if args.no_startup else measure_startups(opts, args.startup_runs, with_prism)
        for s in startups:
            print(
                f"startup {s.label}: {s.median_ms:.0f} ms, {s.rss_median:.1f} MB", file=sys.stderr
            )
        extra = [("PYTHONDONTWRITEBYTECODE", os.environ.get("PYTHONDONTWRITEBYTECODE", "unset"))]
        if with_prism:
            extra[:0] = [
                ("node", harness.tool_version(["node", "--version"])),
                (
                    "prism",
                    harness.tool_version(["npx", "--no-install", "prism", "--version"], prism_dir),
                ),
            ]
        info = harness.machine(*extra)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    for s in startups:
        s.command = s.command.replace(str(tmp), "$TMP")
    text = render(results, startups, args, info, [c.replace(str(tmp), "$TMP") for c in commands])
    print(text)
    if args.json:
        figures = {"load": [m.__dict__ for m in results], "startup": [s.__dict__ for s in startups]}
        Path(args.json).write_text(json.dumps({**figures, "machine": dict(info)}, indent=1))
    if args.markdown:
        harness.write_readme("compare.py", None, text, section=SECTION, intro=INTRO)
    return 0


if __name__ == "__main__":
    sys.exit(main())
