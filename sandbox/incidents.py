"""Unexpected failures of the server, logged so that a stuck disk does not flood the log.

A full disk or a locked database fails every write: one log line per request would bury the
operator's terminal (and fill the disk further). Each kind of failure (its type and message) is
logged once per interval, the next line saying how many more there were; a database error is
one line (the environment, not the code), anything else keeps its traceback (a bug). Health
shows the count and the last one.
"""

from __future__ import annotations

import logging
import sqlite3
import threading
import time
from dataclasses import dataclass, field

INTERVAL_SECONDS = 10.0


@dataclass
class _Kind:
    since: float  # when it was last logged
    unlogged: int = 0  # how many more since then


@dataclass
class Incidents:
    """What went wrong unexpectedly; ``report`` it, health reads ``summary``."""

    log: logging.Logger = field(default_factory=lambda: logging.getLogger("sandbox"))
    interval: float = INTERVAL_SECONDS
    total: int = 0
    database_errors: int = 0
    last: str | None = None
    last_at: float | None = None
    _kinds: dict[tuple[str, str], _Kind] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def report(self, where: str, exc: BaseException) -> None:
        text = f"{type(exc).__name__}: {exc}"
        key = (type(exc).__name__, str(exc)[:200])
        now = time.monotonic()
        is_database = isinstance(exc, sqlite3.Error)
        with self._lock:
            self.total += 1
            self.database_errors += is_database
            self.last, self.last_at = f"{where}: {text}", time.time()
            kind = self._kinds.get(key)
            if kind is not None and now - kind.since < self.interval:
                kind.unlogged += 1
                return
            more = kind.unlogged if kind is not None else 0
            self._kinds[key] = _Kind(now)
            if len(self._kinds) > 1000:  # bounded, whatever the variety of messages
                self._kinds = {key: self._kinds[key]}
        suffix = f" ({more} more like it in the last {self.interval:g} s)" if more else ""
        if is_database:
            self.log.error("unhandled error on %s: %s%s", where, text, suffix)
        else:
            self.log.error("unhandled error on %s%s", where, suffix, exc_info=exc)
