"""Run ``sabong-sandbox serve`` as a child process and wait for its ``SANDBOX_URL=`` line.

waitress cannot be stopped cleanly from another thread, so anything that needs a real server
(tests, the pytest plugin, benchmarks) runs it as a process and stops it with SIGINT.
"""

from __future__ import annotations

import os
import selectors
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

URL_PREFIX = "SANDBOX_URL="


class StartError(RuntimeError):
    """The server exited or stayed silent before announcing its URL."""


def command() -> list[str]:
    """The installed console script next to this interpreter, else ``python -m sandbox``."""
    script = Path(sys.executable).parent / "sabong-sandbox"
    if script.exists():
        return [str(script)]
    found = shutil.which("sabong-sandbox")
    return [found] if found else [sys.executable, "-m", "sandbox"]


class ServerProcess:
    """A running ``sabong-sandbox serve``; use as a context manager or call ``stop()``."""

    def __init__(
        self,
        args: list[str],
        *,
        timeout: float = 20,
        env: dict[str, str] | None = None,
        cmd: list[str] | None = None,
        cwd: str | os.PathLike[str] | None = None,
    ) -> None:
        self.args = [*(cmd or command()), "serve", *args]
        # stderr goes to a file, not a pipe: a long-lived server that logs a lot must never
        # block on a full pipe nobody reads.
        self._stderr = tempfile.TemporaryFile()  # noqa: SIM115 - closed in stop()
        self.proc = subprocess.Popen(
            self.args,
            stdout=subprocess.PIPE,
            stderr=self._stderr,
            env={**os.environ, **(env or {})},
            cwd=cwd,
        )
        self.url = self._wait_for_url(timeout)

    @property
    def stderr(self) -> bytes:
        """Everything the server wrote on stderr so far."""
        if self._stderr.closed:
            return self._final_stderr
        self._stderr.seek(0)
        return self._stderr.read()

    def alive(self) -> bool:
        return self.proc.poll() is None

    def _wait_for_url(self, timeout: float) -> str:
        assert self.proc.stdout is not None
        deadline = time.monotonic() + timeout
        buffer = b""
        with selectors.DefaultSelector() as sel:
            sel.register(self.proc.stdout, selectors.EVENT_READ)
            while time.monotonic() < deadline:
                if not sel.select(timeout=max(0.0, deadline - time.monotonic())):
                    break
                chunk = os.read(self.proc.stdout.fileno(), 4096)
                if not chunk:
                    break
                buffer += chunk
                for line in buffer.decode("utf-8", "replace").splitlines():
                    if line.startswith(URL_PREFIX):
                        return line[len(URL_PREFIX) :].strip()
        self.proc.kill()
        self.proc.communicate()
        err = self.stderr.decode("utf-8", "replace")
        self._close_files()
        raise StartError(
            f"{' '.join(self.args)} did not print {URL_PREFIX} within {timeout} s "
            f"(exit code {self.proc.returncode}); stderr:\n{err}"
        )

    def _close_files(self) -> None:
        if not self._stderr.closed:
            self._final_stderr = self.stderr
            self._stderr.close()
        if self.proc.stdout is not None:
            self.proc.stdout.close()

    def stop(self, sig: int = signal.SIGINT, timeout: float = 10) -> int:
        """Send ``sig`` and wait; returns the exit code (the process is killed on timeout)."""
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
        try:
            self.proc.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.communicate()
        self._close_files()
        return self.proc.returncode

    def __enter__(self) -> ServerProcess:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()
