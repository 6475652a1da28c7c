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
import time
from dataclasses import dataclass, field
from types import FrameType
from typing import IO, Any, TextIO

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


def envelope_response(status: str, message: str) -> bytes:
    """A whole HTTP response in the envelope, for the refusals made before any task runs."""
    body = errors.dumps(errors.envelope("failed", message, None))
    head = (
        f"HTTP/1.1 {status}\r\nContent-Type: application/json\r\n"
        f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n"
    )
    return head.encode("latin-1") + body


class EnvelopeChannel(HTTPChannel):  # type: ignore[misc]
    """waitress's connection, with the limits that keep slow and greedy clients from holding
    every connection slot (issue: slowloris, trickling keep-alive):

    - at most ``max_per_address`` connections from one client address; past it a connection is
      answered 503 in the envelope and closed;
    - a request (headers and body) must arrive whole within ``request_timeout`` seconds of its
      first byte, or it is answered 408 and the connection closed (``watch_deadlines``), however
      slowly it trickles; an idle keep-alive connection goes after ``channel_timeout``.
    """

    error_task_class = EnvelopeErrorTask
    request_began: float | None = None
    counted: str | None = None  # the address this connection is counted under

    def __init__(self, server: Any, sock: Any, addr: Any, adj: Any, map: Any = None) -> None:
        super().__init__(server, sock, addr, adj, map)
        address = str(addr[0]) if isinstance(addr, tuple) and addr else "?"
        limits: ChannelLimits = server.sandbox_limits
        count = limits.per_address.get(address, 0) + 1
        limits.per_address[address] = count
        self.counted = address
        if count > limits.max_per_address:
            self.refuse("503 Service Unavailable", f"Too many connections from {address}")

    def refuse(self, status: str, message: str) -> None:
        """Answer in the envelope and close, from the main loop (no task is running)."""
        data = envelope_response(status, message)
        with self.outbuf_lock:
            self.outbufs[-1].append(data)
            self.total_outbufs_len += len(data)
        self.close_when_flushed = True

    def received(self, data: bytes) -> bool:
        before = self.request
        if before is None and data:
            self.request_began = time.monotonic()
        result: bool = super().received(data)
        if self.request is None:
            self.request_began = None
        elif self.request is not before:  # a new request began in this read
            self.request_began = time.monotonic()
        return result

    def handle_close(self) -> None:
        address, self.counted = self.counted, None
        if address is not None:
            per_address = self.server.sandbox_limits.per_address
            left = per_address.get(address, 1) - 1
            if left > 0:
                per_address[address] = left
            else:
                per_address.pop(address, None)
        super().handle_close()


@dataclass
class ChannelLimits:
    max_per_address: int
    request_timeout: float
    per_address: dict[str, int] = field(default_factory=dict)  # the main loop's only


def watch_deadlines(listener: Any, limits: ChannelLimits) -> None:
    """Give a listening server the limits, and make its periodic maintenance (every
    ``cleanup_interval``) also end requests that have been arriving for too long."""
    listener.sandbox_limits = limits
    original = listener.maintenance

    def maintenance(now: float) -> None:
        original(now)
        cutoff = time.monotonic() - limits.request_timeout
        for channel in list(listener.active_channels.values()):
            began = getattr(channel, "request_began", None)
            if began is not None and began < cutoff and not channel.close_when_flushed:
                channel.request_began = None
                channel.refuse("408 Request Timeout", "Request not received in time")

    listener.maintenance = maintenance


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
        # The ordinary requests' threads, plus one for each request a scenario may hold.
        threads=config.threads + config.max_held,
        ident="sabong-sandbox",
        # waitress reads whole requests asynchronously before a worker sees them, so a slow or
        # stalled client holds one connection slot, never a worker thread. An idle connection
        # goes after idle_timeout; a request must arrive whole within request_timeout
        # (EnvelopeChannel); one address holds at most max_connections_per_address of the
        # connection_limit slots. The maintenance that enforces both runs every second.
        channel_timeout=config.idle_timeout,
        connection_limit=200,
        cleanup_interval=1,
        # The last line behind the app's own limits (64 KiB body, 8 KiB query, 16 KiB headers,
        # answered in the envelope): nothing larger is ever buffered.
        max_request_body_size=2 * 1024 * 1024,
        max_request_header_size=64 * 1024,
        # Read ahead so that a held request (delay, timeout) notices its client going away.
        channel_request_lookahead=5,
        clear_untrusted_proxy_headers=True,
    )
    server.channel_class = EnvelopeChannel
    limits = ChannelLimits(config.max_connections_per_address, config.request_timeout)
    for listener in getattr(server, "map", {}).values() or [server]:  # one per address
        if hasattr(listener, "active_channels"):
            watch_deadlines(listener, limits)
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
