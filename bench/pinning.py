"""CPU pinning of the sandbox on a small machine, as a reproducible script.

Signed get-balance (``clientId=CLIENT_001``), wrk unpinned (``-t2``) on loopback, at 8 and 32
connections, each cell ``--duration`` seconds after an unmeasured ``--warmup``:

- one sandbox at a time: ``--cpu auto`` (the default), ``--cpu none``, ``--cpu none
  --threads 1``, ``--cpu none --threads 2``, and ``--cpu none`` with ``sys.setswitchinterval``
  at 1 ms and at 0.1 ms (5 ms is Python's default) or with waitress's ``asyncore_use_poll=True``.
  Those three run the sandbox through this script (``--patched-serve``), which applies the
  patch in the server's process before it calls ``sandbox.cli.main``;
- two sandboxes at once, each loaded by its own wrk: both ``--cpu auto`` (they claim different
  CPUs, see ``claim_cpu`` in sandbox/serving.py), both ``--cpu 1`` (what the old default did:
  the last CPU for everyone), both ``--cpu none``.

Reported per cell: 2xx answers per measured second and p99 of each sandbox (and their total),
the cores each server's process used, the CPUs it was allowed to run on, and the cores other
processes took meanwhile (a shared machine). Every sandbox runs on ``:memory:`` with the
repository's scenarios.yaml.

This is a script, not a test: ``python bench/pinning.py --help``; ``--markdown`` rewrites its
section of bench/README.md.
"""

from __future__ import annotations

import argparse
import functools
import os
import sys
from collections.abc import Sequence
from dataclasses import dataclass

import harness
from harness import Request, Server

PATCH_FLAG = "--patched-serve"
SCENARIOS = str(harness.REPO / "scenarios.yaml")
SECTION = "## CPU pinning: one and two sandboxes on 2 cores"
INTRO = (
    "`bench/pinning.py` is the CPU-pinning investigation as a reproducible script: signed "
    "get-balance at 8 and 32 connections, wrk unpinned (`-t2`), against one sandbox with "
    "`--cpu auto`, `--cpu none`, `--cpu none --threads 1`, `--cpu none --threads 2`, and "
    "`--cpu none` with `sys.setswitchinterval(0.001)`, `sys.setswitchinterval(0.0001)` or "
    "waitress's `asyncore_use_poll=True` (those three through a wrapper inside the script that "
    "patches the server's process before calling `sandbox.cli.main`); then two sandboxes loaded "
    "at the same time by two wrk processes: both `--cpu auto` (they claim different CPUs, "
    "`claim_cpu` in `sandbox/serving.py`), both `--cpu 1` (what the old default did), both "
    "`--cpu none`. It reports req/s per sandbox and in total, each server's CPU use and the "
    "CPUs it was allowed on."
)


@dataclass(frozen=True)
class Setup:
    name: str
    args: tuple[str, ...]  # serve options
    patch: str | None = None  # applied by --patched-serve: "switch=SECONDS" or "poll"
    pair: bool = False  # two sandboxes loaded at once

    @property
    def describe(self) -> str:
        text = " ".join(self.args)
        if self.patch == "poll":
            text += ", asyncore_use_poll=True"
        elif self.patch:
            text += f", sys.setswitchinterval({self.patch.split('=')[1]})"
        return ("both: " if self.pair else "") + text


SETUPS = {
    s.name: s
    for s in (
        Setup("auto", ("--cpu", "auto")),
        Setup("none", ("--cpu", "none")),
        Setup("none-threads-1", ("--cpu", "none", "--threads", "1")),
        Setup("none-threads-2", ("--cpu", "none", "--threads", "2")),
        Setup("none-switch-1ms", ("--cpu", "none"), "switch=0.001"),
        Setup("none-switch-0.1ms", ("--cpu", "none"), "switch=0.0001"),
        Setup("none-poll", ("--cpu", "none"), "poll"),
        Setup("pair-auto", ("--cpu", "auto"), pair=True),
        Setup("pair-cpu-1", ("--cpu", "1"), pair=True),
        Setup("pair-none", ("--cpu", "none"), pair=True),
    )
}


def patched_serve(patch: str, argv: list[str]) -> None:
    """Run ``sabong-sandbox`` in this process after one patch (the server's process)."""
    if patch.startswith("switch="):
        sys.setswitchinterval(float(patch.split("=", 1)[1]))
    elif patch == "poll":
        import waitress.server

        import sandbox.serving

        poll = functools.partial(waitress.server.create_server, asyncore_use_poll=True)
        setattr(sandbox.serving, "create_server", poll)  # noqa: B010 - a patch, on purpose
    else:
        raise SystemExit(f"unknown patch {patch!r}")
    from sandbox.cli import main as cli

    cli(args=argv, prog_name="sabong-sandbox")


def start(setup: Setup) -> Server:
    cmd = [sys.executable, __file__, PATCH_FLAG, setup.patch] if setup.patch else None
    return harness.start_sandbox(db=":memory:", scenarios=SCENARIOS, extra=setup.args, cmd=cmd)


def balance() -> Request:
    return harness.signed("get-balance", "GET", "/api/v1/get-balance", query="clientId=CLIENT_001")


def affinity(pid: int) -> str:
    cpus = sorted(os.sched_getaffinity(pid))
    return ",".join(map(str, cpus)) if len(cpus) < 3 else f"{cpus[0]}-{cpus[-1]}"


# --------------------------------------------------------------------------- measuring


@dataclass
class Cell:
    setup: str
    connections: int
    rates: list[float]  # 2xx answers per second, per sandbox
    p99_ms: list[float]
    errors: int
    server_cpu: list[float]  # cores, per sandbox
    cpus: list[str]  # the CPUs each sandbox may run on
    other_cpu: float

    @property
    def total(self) -> float:
        return sum(self.rates)


def load(
    servers: Sequence[Server], conns: int, seconds: float
) -> tuple[list[harness.WrkResult], list[float], float]:
    """Every server under its own wrk at the same time."""
    meter = harness.CpuMeter(*(s.proc.pid for s in servers))
    runs = [
        harness.Wrk(s.url, [balance()], threads=2, connections=conns, seconds=seconds)
        for s in servers
    ]
    results = [run.wait() for run in runs]
    used, other = meter.cores()
    return results, used, other


def measure(setup: Setup, args: argparse.Namespace) -> list[Cell]:
    servers: list[Server] = []
    cells = []
    try:
        for _ in range(2 if setup.pair else 1):
            servers.append(start(setup))
            harness.wait_ok(servers[-1].url, balance(), servers[-1].proc)
        cpus = [affinity(s.proc.pid) for s in servers]
        if args.warmup:
            load(servers, min(args.connections), args.warmup)
        for conns in args.connections:
            if args.wait_idle:
                harness.wait_idle(args.wait_idle)
            results, used, other = load(servers, conns, args.duration)
            cell = Cell(
                setup.name,
                conns,
                [r.ok_rate for r in results],
                [r.latency_ms["p99"] for r in results],
                sum(r.answered - r.ok + r.socket_errors for r in results),
                used,
                cpus,
                other,
            )
            cells.append(cell)
            rates = " + ".join(f"{r:,.0f}" for r in cell.rates)
            print(
                f"{setup.name:18} c={conns:<3} {rates:>15} req/s  p99 "
                f"{'/'.join(f'{p:.1f}' for p in cell.p99_ms)} ms  server CPU "
                f"{'/'.join(f'{c:.2f}' for c in used)} on {'/'.join(cpus)}  other {other:.2f}",
                file=sys.stderr,
                flush=True,
            )
    finally:
        for server in servers:
            server.stop()
    return cells


# --------------------------------------------------------------------------- report


def render(cells: list[Cell], args: argparse.Namespace) -> str:
    auto = {c.connections: c.total for c in cells if c.setup == "auto"}
    singles = [c for c in cells if not SETUPS[c.setup].pair]
    pairs = [c for c in cells if SETUPS[c.setup].pair]
    parts = [
        f"wrk -t2 unpinned, {args.duration} s per cell after {args.warmup} s of warm-up, signed "
        "get-balance replayed; req/s counts 2xx answers per measured second. server CPU: cores "
        "used by the server's process; CPUs: where it may run (its affinity); other CPU: cores "
        "used by processes outside the benchmark (a shared machine)."
    ]
    if singles:
        lines = [
            "| setup | serve options | conns | req/s | vs auto | p99 ms | errors | server CPU "
            "| CPUs | other CPU |",
            "|---|---|--:|--:|--:|--:|--:|--:|---|--:|",
        ]
        for c in singles:
            ratio = f"{c.total / auto[c.connections]:.2f}" if auto.get(c.connections) else "-"
            lines.append(
                f"| {c.setup} | `{SETUPS[c.setup].describe}` | {c.connections} "
                f"| {c.total:,.0f} | {ratio} | {c.p99_ms[0]:.1f} | {c.errors} "
                f"| {c.server_cpu[0]:.2f} | {c.cpus[0]} | {c.other_cpu:.2f} |"
            )
        parts.append("One sandbox:\n\n" + "\n".join(lines))
    if pairs:
        lines = [
            "| setup | serve options | conns (each) | A req/s (p99 ms) | B req/s (p99 ms) "
            "| total req/s | A CPU (CPUs) | B CPU (CPUs) | errors | other CPU |",
            "|---|---|--:|--:|--:|--:|--:|--:|--:|--:|",
        ]
        for c in pairs:
            each = [f"{r:,.0f} ({p:.1f})" for r, p in zip(c.rates, c.p99_ms, strict=True)]
            cpu = [f"{u:.2f} ({s})" for u, s in zip(c.server_cpu, c.cpus, strict=True)]
            lines.append(
                f"| {c.setup} | `{SETUPS[c.setup].describe}` | {c.connections} | {each[0]} "
                f"| {each[1]} | {c.total:,.0f} | {cpu[0]} | {cpu[1]} | {c.errors} "
                f"| {c.other_cpu:.2f} |"
            )
        parts.append(
            "Two sandboxes loaded at the same time, each by its own wrk:\n\n" + "\n".join(lines)
        )
    return "\n\n".join([*parts, harness.provenance()])


# --------------------------------------------------------------------------- main


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description="Signed get-balance per second against one sandbox per pinning option "
        "and scheduler knob, then two sandboxes at once (auto, same CPU, unpinned).",
    )
    add = parser.add_argument
    add("--duration", type=float, default=5, help="seconds per cell (1-60, default 5)")
    add("--connections", type=harness.ints, default=[8, 32], help="wrk connections (8,32)")
    add(
        "--setups",
        type=harness.names(list(SETUPS)),
        default=list(SETUPS),
        help=f"comma-separated, default all: {','.join(SETUPS)}",
    )
    add("--warmup", type=float, default=1, help="unmeasured seconds per server first (1)")
    add("--wait-idle", type=float, default=0, help="before each cell wait up to S s for idle")
    add("--markdown", action="store_true", help="rewrite the bench/README.md section")
    args = parser.parse_args(argv)
    if not 1 <= args.duration <= 60:
        parser.error("--duration must be 1-60 seconds (signatures are valid 300 s)")
    return args


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == [PATCH_FLAG]:
        patched_serve(argv[1], argv[2:])
        return 0
    args = parse_args(argv)
    harness.begin()
    cells = [cell for name in args.setups for cell in measure(SETUPS[name], args)]
    text = render(cells, args)
    print(f"\n{text}")
    if args.markdown:
        harness.write_readme("pinning.py", None, text, section=SECTION, intro=INTRO)
    return 0


if __name__ == "__main__":
    sys.exit(main())
