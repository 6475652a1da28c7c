"""The machinery every benchmark script shares; each script keeps only its mix and verdicts.

- servers: the sandbox always through ``sandbox.process.ServerProcess`` (``start_sandbox``);
  anything else (``bench/bare_app.py``, Prism via npx) through ``Process``, in its own session
  so that ``stop()`` ends its children too;
- requests: ``Request`` (what wrk sends and the statuses it must get), signed by
  ``sandbox.signing.sign`` (``signed``);
- load: ``Wrk`` / ``run_wrk``, wrk over the one script ``bench/signed.lua``, requests replayed
  once in order or cycled until a deadline, every answer counted and checked;
- measurements: process tree CPU seconds and RSS from /proc, the machine's busy time,
  ``CpuMeter``, ``wait_idle``;
- reporting: ``machine()`` (one description of the machine for every script) and
  ``write_readme`` (the section between HTML comment markers in bench/README.md).

Not a script: imported by bench/load.py, compare.py, rss.py and pinning.py (run as scripts, so
``bench/`` is on ``sys.path``).
"""

from __future__ import annotations

import argparse
import contextlib
import http.client
import json
import math
import os
import platform
import re
import selectors
import shlex
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import urlsplit

from sandbox import signing
from sandbox.process import ServerProcess, command

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
README = HERE / "README.md"
LUA = HERE / "signed.lua"
SECRET = "sandbox-secret"
GRACE = 2  # seconds of wrk's -d beyond a cycle's deadline: every thread stops itself first


# --------------------------------------------------------------------------- requests


@dataclass(frozen=True)
class Request:
    """One request as wrk sends it, and the statuses its kind must get."""

    kind: str
    method: str
    target: str  # the path and its query, as sent
    body: str = ""
    headers: tuple[tuple[str, str], ...] = ()
    expect: str = "200"  # accepted statuses joined with "|"; "2xx" accepts any success

    def line(self, thread: str) -> str:
        """A tab-separated line for signed.lua (no field may hold a tab or a newline)."""
        fields = [thread, self.kind, self.expect, self.method, self.target, self.body]
        fields += [part for header in self.headers for part in header]
        if any("\t" in f or "\n" in f for f in fields):
            raise ValueError(f"a tab or a newline in {fields}")
        return "\t".join(fields)


def signed(
    kind: str,
    method: str,
    path: str,
    *,
    query: str = "",
    body: str = "",
    expect: str = "200",
    ts: str | None = None,
    secret: str = SECRET,
    mode: str = signing.JSON_PAYLOAD,
) -> Request:
    """A request signed as a partner signs it, through ``sandbox.signing.sign``."""
    ts = ts or str(int(time.time()))
    sig = signing.sign(secret, method, path, ts, query=query, body=body or None, mode=mode)
    headers = [("x-timestamp", ts), ("x-signature", sig)]
    if body:
        headers.append(("Content-Type", "application/json"))
    target = f"{path}?{query}" if query else path
    return Request(kind, method, target, body, tuple(headers), expect)


def send(url: str, req: Request, timeout: float = 5.0) -> tuple[int, bytes]:
    """Send ``req`` once; (status, body). Raises OSError when nothing listens."""
    parts = urlsplit(url)
    conn = http.client.HTTPConnection(parts.hostname or "127.0.0.1", parts.port, timeout=timeout)
    try:
        conn.request(req.method, req.target, body=req.body or None, headers=dict(req.headers))
        response = conn.getresponse()
        return response.status, response.read()
    finally:
        conn.close()


def wait_ok(url: str, req: Request, proc: subprocess.Popen[Any], timeout: float = 60) -> None:
    """Send ``req`` every 2 ms until it is answered 200."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and proc.poll() is None:
        with contextlib.suppress(OSError):
            status, body = send(url, req)
            if status == 200:
                return
            raise RuntimeError(f"{req.kind} answered {status}: {body[:300]!r}")
        time.sleep(0.002)
    raise RuntimeError(f"{url} never answered {req.kind} with 200 (exit code {proc.poll()})")


# --------------------------------------------------------------------------- wrk


def begin(wrk: bool = True) -> None:
    """What every script does first: SIGTERM unwinds through the ``finally`` blocks that stop
    the servers (as Ctrl-C does); without wrk (when needed), exit 2."""
    signal.signal(signal.SIGTERM, _terminate)
    if wrk:
        require_wrk()


def require_wrk() -> str:
    """wrk's path; without wrk, one line saying how to install it and exit 2."""
    found = shutil.which("wrk")
    if found is None:
        print("wrk is not installed: apt-get install wrk", file=sys.stderr)
        raise SystemExit(2)
    return found


def _terminate(signum: int, frame: object) -> None:
    raise SystemExit(128 + signum)


@dataclass
class WrkResult:
    """What one wrk run (or several, ``add``-ed) counted."""

    counts: dict[str, int] = field(default_factory=dict)  # answers per kind
    unexpected: dict[str, int] = field(default_factory=dict)  # answers with another status
    findings: dict[str, int] = field(default_factory=dict)  # X-Sandbox-Signature-Finding
    examples: list[str] = field(default_factory=list)  # the first unexpected answers
    errors: dict[str, int] = field(default_factory=dict)  # connect, read, write, timeout
    unfinished: int = 0  # threads that did not stop themselves (may have left one in flight)
    seconds: float = 0.0  # the measured window: first thread start to last thread stop
    latency_ms: dict[str, float] = field(default_factory=dict)  # p50 p75 p90 p99 max mean
    output: str = ""  # wrk's own output

    @property
    def answered(self) -> int:
        return sum(self.counts.values())

    @property
    def ok(self) -> int:
        """Answers with the status their kind must get."""
        return self.answered - sum(self.unexpected.values())

    @property
    def socket_errors(self) -> int:
        return sum(self.errors.values())

    @property
    def rate(self) -> float:
        return self.answered / self.seconds if self.seconds > 0 else 0.0

    @property
    def ok_rate(self) -> float:
        return self.ok / self.seconds if self.seconds > 0 else 0.0

    def add(self, other: WrkResult) -> None:
        """Add ``other``'s counts and window (latencies are not added)."""
        for mine, theirs in (
            (self.counts, other.counts),
            (self.unexpected, other.unexpected),
            (self.findings, other.findings),
            (self.errors, other.errors),
        ):
            for key, value in theirs.items():
                mine[key] = mine.get(key, 0) + value
        self.examples = (self.examples + other.examples)[:5]
        self.unfinished += other.unfinished
        self.seconds += other.seconds


class Wrk:
    """wrk over ``signed.lua`` on ``url``, started at once; ``wait()`` for its result.

    ``requests`` go to every thread, or ``queues`` give one queue per thread. With ``seconds``,
    each thread cycles over its requests until then and stops at its next answer (``-t N -c N``
    makes the counts exact); without, each thread sends its requests once, in order, and stops
    after the last answer (one connection per thread), within ``limit`` seconds. ``cpu`` runs
    wrk under ``taskset -c``; ``timeout`` is wrk's (slower answers count as timeout errors).
    """

    def __init__(
        self,
        url: str,
        requests: Sequence[Request] = (),
        *,
        queues: Sequence[Sequence[Request]] = (),
        connections: int,
        threads: int | None = None,
        seconds: float | None = None,
        limit: float = 240,
        cpu: str | None = None,
        timeout: str = "2s",
    ) -> None:
        lines = [r.line(str(t)) for t, queue in enumerate(queues) for r in queue]
        lines += [r.line("*") for r in requests]
        self.threads = len(queues) or threads or connections
        if not lines or not all(queues) or connections < self.threads:
            raise ValueError(f"{len(lines)} requests, {self.threads} threads, {connections} conns")
        if connections > self.threads and (seconds is None or len(set(lines)) > 1):
            raise ValueError("answers are told apart per kind only with one connection per thread")
        self._dir = tempfile.TemporaryDirectory(prefix="bench-wrk-")
        work = Path(self._dir.name)
        (work / "requests.tsv").write_text("\n".join(lines) + "\n")
        self._done = work / "done"
        self._done.mkdir()
        run_for = limit if seconds is None else seconds + GRACE
        self._deadline = time.monotonic() + run_for + 30
        cmd = [require_wrk(), f"-t{self.threads}", f"-c{connections}", f"-d{math.ceil(run_for)}s"]
        cmd += ["--latency", "--timeout", timeout, "-s", str(LUA), url]
        self.cmd = ["taskset", "-c", cpu, *cmd] if cpu is not None else cmd
        env = {
            **os.environ,
            "BENCH_REQUESTS": str(work / "requests.tsv"),
            "BENCH_MODE": "once" if seconds is None else "cycle",
            "BENCH_SECONDS": str(seconds or 0),
            "BENCH_DONE_DIR": str(self._done),
        }
        self.proc = subprocess.Popen(
            self.cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
        )

    def wait(self) -> WrkResult:
        """Interrupt wrk once every thread has stopped itself; parse its BENCH_JSON line."""
        interrupted = 0.0
        try:
            while self.proc.poll() is None and time.monotonic() < self._deadline:
                stopped = len(os.listdir(self._done)) >= self.threads
                if stopped and time.monotonic() - interrupted > 0.5:
                    self.proc.send_signal(signal.SIGINT)  # wrk then reports as usual
                    interrupted = time.monotonic()
                time.sleep(0.01)
        finally:  # past the deadline, or interrupted ourselves: wrk must not outlive us
            if self.proc.poll() is None:
                self.proc.kill()
            stdout, stderr = self.proc.communicate()
            self._dir.cleanup()
        found = re.search(r"^BENCH_JSON (\{.*\})$", stdout, re.MULTILINE)
        if self.proc.returncode != 0 or found is None:
            raise RuntimeError(f"{shlex.join(self.cmd)}: {self.proc.returncode}\n{stdout}{stderr}")
        data = json.loads(found.group(1))
        result = WrkResult(
            counts=data["counts"],
            unexpected=data["unexpected"],
            findings=data["findings"],
            examples=data["examples"],
            errors=data["errors"],
            unfinished=data["unfinished"],
            seconds=data["window_s"],
            latency_ms={k: v / 1000 for k, v in data["latency_us"].items()},
            output=stdout,
        )
        if data["requests"] != result.answered:
            raise RuntimeError(f"wrk counted {data['requests']} answers, signed.lua {result}")
        return result


def run_wrk(url: str, requests: Sequence[Request] = (), **options: Any) -> WrkResult:
    """``Wrk(...).wait()``: the one wrk runner."""
    return Wrk(url, requests, **options).wait()


# --------------------------------------------------------------------------- servers


class Server(Protocol):
    """What the scripts use of a server: a ``ServerProcess`` or a ``Process``."""

    url: str
    args: list[str]
    proc: subprocess.Popen[bytes]

    def stop(self) -> int: ...


def start_sandbox(
    *,
    db: str | None = ":memory:",
    cpu: str | None = None,
    threads: int | None = None,
    scenarios: str | None = None,
    extra: Sequence[str] = (),
    cmd: Sequence[str] | None = None,
    cwd: Path | None = None,
) -> ServerProcess:
    """``sabong-sandbox serve --port 0 --quiet`` with these options (``db=None``: its default
    file, relative to ``cwd``), through ``sandbox.process.ServerProcess``."""
    args = ["--port", "0", "--quiet"]
    for flag, value in (("--db", db), ("--cpu", cpu), ("--threads", threads)):
        if value is not None:
            args += [flag, str(value)]
    if scenarios:
        args += ["--scenarios", scenarios]
    base = list(cmd or command())
    if cwd is not None:
        base = ["env", "-C", str(cwd), *base]  # env execs: the pid is the server's
    return ServerProcess([*args, *extra], cmd=base)


class Process:
    """Any other server (the bare app, Prism via npx), in its own session. Its URL comes from
    a ``url_prefix`` line on its stdout, or from a known ``port``."""

    def __init__(
        self,
        args: Sequence[str],
        *,
        url_prefix: str | None = None,
        port: int | None = None,
        cwd: Path | None = None,
        timeout: float = 60,
    ) -> None:
        self.args = list(args)
        self._log = tempfile.TemporaryFile()  # noqa: SIM115 - closed in stop()
        self.proc = subprocess.Popen(
            self.args,
            stdout=subprocess.PIPE if url_prefix else subprocess.DEVNULL,
            stderr=self._log,
            cwd=cwd,
            start_new_session=True,
        )
        if url_prefix:
            self.url = self._read_url(url_prefix, timeout)
        else:
            self.url = f"http://127.0.0.1:{port}"

    def _read_url(self, prefix: str, timeout: float) -> str:
        assert self.proc.stdout is not None
        deadline, buffer = time.monotonic() + timeout, b""
        with selectors.DefaultSelector() as sel:
            sel.register(self.proc.stdout, selectors.EVENT_READ)
            while sel.select(timeout=max(0.0, deadline - time.monotonic())):
                chunk = os.read(self.proc.stdout.fileno(), 4096)
                if not chunk:
                    break
                buffer += chunk
                for line in buffer.decode("utf-8", "replace").splitlines():
                    if line.startswith(prefix):
                        return line[len(prefix) :].strip()
        self.stop()
        raise RuntimeError(f"{shlex.join(self.args)} did not print {prefix}: {self.stderr}")

    @property
    def stderr(self) -> str:
        if self._log.closed:
            return ""
        self._log.seek(0)
        return self._log.read().decode("utf-8", "replace")[-2000:]

    def stop(self) -> int:
        """SIGINT to the whole group, SIGKILL after 10 s; npx leaves node behind otherwise."""
        for sig in (signal.SIGINT, signal.SIGKILL):
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(self.proc.pid, sig)
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.proc.wait(timeout=10)
        if self.proc.stdout is not None:
            self.proc.stdout.close()
        self._log.close()
        return self.proc.returncode


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


# --------------------------------------------------------------------------- /proc


def _stat(pid: int) -> list[str] | None:
    """The fields of /proc/<pid>/stat after the command name (state is [0], ppid [1])."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return None


def descendants(pid: int) -> list[int]:
    """``pid`` and every process below it (npx starts prism as a child)."""
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit() and (stat := _stat(int(entry))) is not None:
            children.setdefault(int(stat[1]), []).append(int(entry))
    out, todo = [], [pid]
    while todo:
        out.append(todo.pop())
        todo.extend(children.get(out[-1], []))
    return out


def tree_cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of ``pid`` and its descendants."""
    ticks = sum(int(s[11]) + int(s[12]) for p in descendants(pid) if (s := _stat(p)))
    return ticks / os.sysconf("SC_CLK_TCK")


def memory_kb(pid: int) -> dict[str, int]:
    """The kB fields of /proc/<pid>/status (VmRSS, VmHWM, RssAnon, RssFile, RssShmem...)."""
    out: dict[str, int] = {}
    with contextlib.suppress(OSError):
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            name, _, value = line.partition(":")
            if value.strip().endswith(" kB"):
                out[name] = int(value.split()[0])
    return out


def tree_rss_mb(pid: int) -> float:
    """VmRSS of ``pid`` and its descendants, in MB (10^6 bytes)."""
    return sum(memory_kb(p).get("VmRSS", 0) for p in descendants(pid)) * 1024 / 1e6


def machine_busy() -> float:
    """CPU seconds the whole machine has been busy (all cores) since boot."""
    fields = Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]
    user, nice, system, _idle, _iowait, irq, softirq, steal = map(int, fields[:8])
    return (user + nice + system + irq + softirq + steal) / os.sysconf("SC_CLK_TCK")


def own_cpu_seconds() -> float:
    """This process and its waited-for children (wrk)."""
    t = os.times()
    return t.user + t.system + t.children_user + t.children_system


class CpuMeter:
    """Cores used from its creation to ``cores()``: by each server's process tree, and by the
    processes outside the benchmark (on a shared machine they take their share)."""

    def __init__(self, *pids: int) -> None:
        self.pids = pids
        self._start = self._read()

    def _read(self) -> tuple[float, float, list[float], float]:
        servers = [tree_cpu_seconds(p) for p in self.pids]
        return time.monotonic(), machine_busy(), servers, own_cpu_seconds()

    def cores(self) -> tuple[list[float], float]:
        """(cores of each server, cores of the other processes), averaged over the window."""
        t1, busy1, servers1, own1 = self._read()
        t0, busy0, servers0, own0 = self._start
        wall = max(t1 - t0, 1e-9)
        used = [(b - a) / wall for a, b in zip(servers0, servers1, strict=True)]
        other = (busy1 - busy0 - (own1 - own0)) / wall - sum(used)
        return used, max(0.0, other)


def wait_idle(timeout: float, window: float = 1.0, limit: float = 0.15) -> float:
    """Wait (at most ``timeout`` s) until the machine used < ``limit`` cores over ``window``;
    returns the last figure."""
    deadline = time.monotonic() + timeout
    while True:
        b0, t0 = machine_busy(), time.monotonic()
        time.sleep(window)
        busy = (machine_busy() - b0) / (time.monotonic() - t0)
        if busy < limit or time.monotonic() >= deadline:
            return busy


# --------------------------------------------------------------------------- reporting


def cpu_model() -> str:
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    return platform.processor() or "unknown"


def tool_version(cmd: Sequence[str], cwd: Path | None = None) -> str:
    """The first line a ``--version``-like command prints, without wrk's copyright."""
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=60, cwd=cwd)
    except (OSError, subprocess.SubprocessError):
        return "not available"
    lines = (proc.stdout or proc.stderr).strip().splitlines()
    return lines[0].split(" Copyright")[0].strip() if lines else "?"


def revision() -> str:
    """The commit measured, and whether sandbox/ had uncommitted changes."""
    git = ["git", "--no-optional-locks", "-C", str(REPO)]
    head = tool_version([*git, "rev-parse", "--short", "HEAD"])
    if head in ("?", "not available"):
        return "unknown (not a git checkout)"
    try:
        dirty = subprocess.run(
            [*git, "status", "--porcelain", "--", "sandbox"],
            capture_output=True,
            text=True,
            timeout=30,
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return head
    return head + (" with uncommitted changes in sandbox/" if dirty else ", sandbox/ clean")


def machine(*extra: tuple[str, str]) -> list[tuple[str, str]]:
    """The one description of the machine every script prints and writes."""
    return [
        ("CPUs (nproc)", str(len(os.sched_getaffinity(0)))),
        ("CPU model", cpu_model()),
        ("kernel", f"{platform.system()} {platform.release()}"),
        ("Python", f"{platform.python_version()} ({sys.executable})"),
        ("SQLite", sqlite3.sqlite_version),
        ("wrk", tool_version(["wrk", "-v"])),
        ("code", revision()),
        *extra,
    ]


def ints(text: str) -> list[int]:
    """An argparse type: comma-separated integers >= 1 ("8,32")."""
    values = [int(x) for x in text.split(",") if x.strip()]
    if not values or min(values) < 1:
        raise argparse.ArgumentTypeError("expected integers >= 1, comma-separated")
    return values


def names(allowed: Sequence[str]) -> Callable[[str], list[str]]:
    """An argparse type: comma-separated names among ``allowed``."""

    def parse(text: str) -> list[str]:
        values = [x.strip() for x in text.split(",") if x.strip()]
        if not values or any(x not in allowed for x in values):
            raise argparse.ArgumentTypeError(f"choose among {', '.join(allowed)}")
        return values

    return parse


def bullets(pairs: Sequence[tuple[str, str]]) -> str:
    return "\n".join(f"- {key}: {value}" for key, value in pairs)


def command_line() -> str:
    """How this script was run, for the README."""
    return shlex.join([Path(sys.executable).name, f"bench/{Path(sys.argv[0]).name}", *sys.argv[1:]])


def provenance(commands: Sequence[str] = (), info: Sequence[tuple[str, str]] | None = None) -> str:
    """The end of every script's README block: the machine (``info``, else ``machine()``), then
    how the figures were made (this script's command line, then ``commands``)."""
    lines = "\n".join([command_line(), *commands])
    heading = "Commands" if commands else "Command"
    facts = bullets(machine() if info is None else info)
    return f"Machine:\n\n{facts}\n\n{heading}:\n\n```bash\n{lines}\n```\n"


def write_readme(
    script: str, key: str | None, text: str, *, section: str, intro: str = "", path: Path = README
) -> None:
    """Replace ``script``'s block in bench/README.md, or add it.

    With a ``key``, the block sits between ``<!-- {script} results: {key} -->`` and
    ``<!-- end {script} results: {key} -->``; a new one goes at the end of ``section`` (a
    ``## `` heading; the section is appended when missing). Without, the block is the whole
    section, heading and ``intro`` included, between ``<!-- {script} section -->`` and
    ``<!-- end {script} section -->``, appended when missing.
    """
    when = time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime())
    label = f"results: {key}" if key else "section"
    start, end = f"<!-- {script} {label} -->", f"<!-- end {script} {label} -->"
    head = "" if key else f"{section}\n\n" + (f"{intro}\n\n" if intro else "")
    block = f"{start}\n\n{head}_Measured {when}._\n\n{text.rstrip()}\n\n{end}"
    old = path.read_text()
    pattern = re.compile(re.escape(start) + ".*?" + re.escape(end), re.DOTALL)
    if pattern.search(old):
        new = pattern.sub(lambda _: block, old)
    elif key is None or (at := old.find(f"\n{section}\n")) < 0:
        new = old.rstrip("\n") + "\n\n" + ("" if key is None else f"{section}\n\n") + block + "\n"
    else:
        cut = old.find("\n## ", at + len(section) + 2)  # the next section, if any
        cut = len(old) if cut < 0 else cut
        before = old[:cut].rstrip()
        last_line = before[before.rfind("\n") + 1 :]
        if last_line.startswith("<!-- ") and not last_line.startswith("<!-- end "):
            cut = before.rfind("\n")  # the next section's opening marker stays with it
        new = old[:cut].rstrip("\n") + f"\n\n{block}\n" + old[cut:]
    path.write_text(new)
    print(f"written to {path}")
