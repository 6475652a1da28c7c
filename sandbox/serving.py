"""Serve a sandbox with waitress until SIGINT/SIGTERM, announcing its URL on stdout.

The one machine-readable line ``SANDBOX_URL=http://HOST:PORT`` is printed (and flushed) on
stdout once the socket is bound and the app is built, i.e. when the sandbox can answer; CI
jobs and the pytest plugin read it. Everything else goes to stderr.
"""

from __future__ import annotations

import contextlib
import fcntl
import logging
import os
import signal
import sys
import tempfile
from types import FrameType
from typing import IO, TextIO

from waitress.channel import HTTPChannel
from waitress.server import create_server
from waitress.task import ErrorTask

from . import __version__, errors
from .app import create_app
from .config import DEFAULT_SECRET, Config
from .scenarios import ScenarioSet
from .state import Sandbox


class EnvelopeErrorTask(ErrorTask):  # type: ignore[misc]
    """waitress's own error answers (a malformed request line or header, its size limits) in
    the API's envelope instead of plain text."""

    def execute(self) -> None:
        error = self.request.error
        detail = str(error.body).strip()
        message = f"{error.reason}: {detail}" if detail else error.reason
        body = errors.dumps(errors.envelope("failed", message, None))
        self.status = f"{error.code} {error.reason}"
        self.response_headers.append(("Content-Type", "application/json"))
        self.set_close_on_finish()
        self.content_length = len(body)
        self.write(body)


class EnvelopeChannel(HTTPChannel):  # type: ignore[misc]
    error_task_class = EnvelopeErrorTask


class _Stop(SystemExit):
    """Raised by the signal handler to leave waitress's loop. A SystemExit, because waitress
    swallows ordinary exceptions raised while it handles a channel (the signal may arrive
    then) but lets SystemExit through."""


def _on_signal(signum: int, frame: FrameType | None) -> None:
    raise _Stop(signum)


def url_for(host: str, port: int) -> str:
    return f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"


def serve(
    config: Config,
    scenarios: ScenarioSet | None = None,
    out: TextIO = sys.stdout,
    err: TextIO = sys.stderr,
) -> int:
    """Run until stopped by a signal; returns the exit code (0 on a clean stop)."""
    pinned = pin_cpu(config.cpu)
    level = logging.ERROR if config.quiet else logging.WARNING
    logging.basicConfig(stream=err, level=level, format="sabong-sandbox: %(message)s")
    sandbox = Sandbox.open(config, scenarios)
    sandbox.watch_scenarios()
    app = create_app(config, sandbox)
    server = create_server(
        app,
        host=config.host,
        port=config.port,
        threads=config.threads,
        ident="sabong-sandbox",
        # waitress reads whole requests asynchronously before a worker sees them, so a slow or
        # stalled client holds one connection slot, never a worker thread; it is dropped after
        # channel_timeout of silence, and at most connection_limit clients are served at once.
        channel_timeout=30,
        connection_limit=200,
        cleanup_interval=10,
        # The last line behind the app's own limits (64 KiB body, 8 KiB query, 16 KiB headers,
        # answered in the envelope): nothing larger is ever buffered.
        max_request_body_size=2 * 1024 * 1024,
        max_request_header_size=64 * 1024,
        # Read ahead so that a held request (delay, timeout) notices its client going away.
        channel_request_lookahead=5,
        clear_untrusted_proxy_headers=True,
    )
    server.channel_class = EnvelopeChannel
    port = int(server.effective_port)
    url = url_for(config.host, port)
    if config.host not in ("0.0.0.0", "::", ""):
        # A wildcard address is no place to send a browser: links then follow the request's Host.
        sandbox.base_url = url
    previous = {s: signal.signal(s, _on_signal) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        if not config.quiet:
            _banner(config, sandbox, url, err, pinned)
        if sandbox.control_token and config.control_token is None:
            # Generated because the sandbox is reachable off loopback: the operator needs it.
            err.write(f"sabong-sandbox: control plane token: {sandbox.control_token}\n")
            err.flush()
        out.write(f"SANDBOX_URL={url}\n")
        out.flush()
        if config.ready_file:
            write_ready_file(config.ready_file, url)
        server.run()
    except (_Stop, KeyboardInterrupt):
        pass
    finally:
        server.close()
        sandbox.close()
        if config.ready_file:
            # A stale ready file would tell the next poller that a dead server is ready.
            with contextlib.suppress(OSError):
                os.remove(config.ready_file)
        for s, handler in previous.items():
            signal.signal(s, handler)
    if not config.quiet:
        err.write("sabong-sandbox stopped\n")
    return 0


def pin_cpu(setting: str) -> int | None:
    """Keep the whole server on one CPU; returns the CPU, or None when not pinned.

    Python runs one thread at a time (the GIL), and each request is handed between waitress's
    I/O thread and a worker thread at least twice. On one core a hand-off is a context switch;
    across cores it is a wake-up of another (virtual) CPU, which is what makes the unpinned
    server slower on this kind of VM: signed get-balance measured 2,400 (8 connections) and
    1,660 (32) req/s unpinned against 4,000-4,270 pinned (bench/README.md, "CPU pinning").
    ``sys.setswitchinterval`` and waitress's ``asyncore_use_poll`` did not change that; one
    worker thread did at 8 connections only.

    ``auto`` claims a CPU no other sandbox on this machine holds (``claim_cpu``), so that
    several sandboxes (pytest-xdist workers, parallel CI jobs) spread over the cores instead of
    sharing one; ``none`` leaves the scheduler alone; a number pins to that CPU.
    """
    if setting == "none" or not hasattr(os, "sched_setaffinity"):
        return None
    allowed = sorted(os.sched_getaffinity(0))
    if setting == "auto":
        if len(allowed) < 2:
            return None
        cpu = claim_cpu(allowed)
    else:
        cpu = int(setting)
    try:
        os.sched_setaffinity(0, {cpu})
    except OSError:
        return None
    return cpu


# The claim of ``claim_cpu``: an open, locked file, held until the process exits.
_claimed: list[IO[bytes]] = []


def claim_cpu(allowed: list[int], lock_dir: str | None = None) -> int:
    """A CPU of ``allowed`` that no other sandbox of this machine has claimed.

    Each claim is an exclusive ``flock`` on ``sabong-sandbox-cpu-N.lock`` in the temporary
    directory, released by the kernel when the process ends (however it ends). The search
    starts at an offset taken from the process id, so that sandboxes that do not share a
    temporary directory (containers) still tend to spread. With every CPU claimed, the one at
    that offset is shared.
    """
    directory = lock_dir or tempfile.gettempdir()
    start = os.getpid() % len(allowed)
    order = allowed[start:] + allowed[:start]
    for cpu in order:
        path = os.path.join(directory, f"sabong-sandbox-cpu-{cpu}.lock")
        try:
            handle = open(path, "ab")  # noqa: SIM115 - held open for the process's life
        except OSError:
            continue
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            handle.close()
            continue
        _claimed.append(handle)
        return cpu
    return order[0]


def write_ready_file(path: str, url: str) -> None:
    """Write the URL atomically, so a poller never reads half a line."""
    tmp = f"{path}.{os.getpid()}.tmp"
    with open(tmp, "w", encoding="utf-8") as fh:
        fh.write(url + "\n")
    os.replace(tmp, path)


def _banner(
    config: Config, sandbox: Sandbox, url: str, err: TextIO, cpu: int | None = None
) -> None:
    # The default secret is public (it is in the README); any other secret is never printed.
    if config.secret == DEFAULT_SECRET:
        secret = f"{DEFAULT_SECRET} (the default; set --secret or SANDBOX_SECRET to change it)"
    else:
        secret = f"<set by {config.sources.get('secret', 'config')}, not shown>"
    counts = sandbox.store.counts()
    err.write(
        f"sabong-sandbox {__version__} listening on {url}\n"
        f"  database: {config.db} ({counts['users']} users, "
        f"{counts['transactions']} transactions)\n"
        f"  secret:   {secret}\n"
        f"  scenarios: {sandbox.scenarios.scenarios.describe()}\n"
        f"  cpu:      {'pinned to CPU ' + str(cpu) if cpu is not None else 'not pinned'}\n"
        f"  control:  {url}/__sandbox/ "
        f"({'token required' if sandbox.control_token else 'open on loopback'})\n"
        f"  partners: {', '.join(sorted(sandbox.tenants))}\n"
    )
    err.flush()
