"""The request journal: a bounded ring buffer of recent API requests; pure, no Flask.

Memory is bounded by the entry count and by truncating bodies. Nothing secret is recorded:
the signature headers are not secrets, and the secret itself never reaches this module.
"""

from __future__ import annotations

import itertools
import threading
from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from .dates import iso_ms

DEFAULT_SIZE = 1000
BODY_LIMIT = 2048


@dataclass(frozen=True, slots=True)
class SignatureReport:
    """What the signature check said of a request, for the journal and the inspector."""

    verdict: str  # "valid" or a signing reason (missing-signature, mismatch, ...)
    detail: str = ""
    string_to_sign: str | None = None  # in real characters (headers carry it escaped)
    finding: str | None = None  # the doctor's message
    finding_code: str | None = None

    def to_json(self) -> dict[str, Any]:
        if self.verdict == "valid":
            return {"verdict": "valid"}
        out: dict[str, Any] = {"verdict": self.verdict, "detail": self.detail}
        if self.string_to_sign is not None:
            out["stringToSign"] = self.string_to_sign
        if self.finding is not None:
            out["finding"] = self.finding
            out["findingCode"] = self.finding_code
        return out


VALID = SignatureReport("valid")


@dataclass(slots=True, kw_only=True)
class Entry:
    """One journaled request, kept raw: recording sits on every request's path, so the
    formatting (times, text, truncation marks) happens when the journal is read."""

    id: int = 0  # given by the journal that keeps it
    epoch: float  # sandbox clock, Unix seconds
    method: str
    path: str
    query: bytes
    client_id: str | None
    status: int  # 0: the connection was dropped
    latency: float  # seconds
    signature: SignatureReport | None  # None: refused before any signature check
    scenario: str
    request_body: bytes  # at most BODY_LIMIT + 1 bytes kept
    request_length: int
    response_body: bytes  # at most BODY_LIMIT + 1 bytes kept
    response_length: int
    flags: list[str] = field(default_factory=list)
    # The headers that matter to reproduce and explain it: what was signed and how it was
    # answered (the signature is no secret; the control plane's token never reaches here).
    request_headers: tuple[tuple[str, str], ...] = ()
    response_headers: tuple[tuple[str, str], ...] = ()

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "time": iso_ms(self.epoch),
            "epoch": self.epoch,
            "method": self.method,
            "path": self.path,
            "query": self.query.decode("latin-1"),
            "clientId": self.client_id,
            "status": self.status,
            "latencyMs": round(self.latency * 1000, 3),
            "signature": self.signature.to_json() if self.signature else {},
            "scenario": self.scenario,
            "requestBody": _body_text(self.request_body, self.request_length),
            "responseBody": _body_text(self.response_body, self.response_length),
            "flags": self.flags,
            "requestHeaders": dict(self.request_headers),
            "responseHeaders": dict(self.response_headers),
        }


def _body_text(kept: bytes, length: int) -> str:
    """The first BODY_LIMIT bytes of a body of ``length`` bytes (of which ``kept`` were kept),
    and how many more there were."""
    if length > len(kept) and not kept:
        return f"(not read: {length} bytes)"
    text = kept[:BODY_LIMIT].decode("utf-8", "replace")
    if length > BODY_LIMIT:
        text += f"...[{length - BODY_LIMIT} more bytes]"
    return text


class Journal:
    def __init__(self, size: int = DEFAULT_SIZE) -> None:
        self._entries: deque[Entry] = deque(maxlen=max(1, size))
        self._ids = itertools.count(1)
        self._lock = threading.Lock()

    @property
    def size(self) -> int:
        return self._entries.maxlen or 0

    def add(self, entry: Entry) -> Entry:
        """Keep ``entry`` (the oldest one goes when full), numbered in arrival order."""
        with self._lock:
            entry.id = next(self._ids)
            self._entries.append(entry)
        return entry

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()

    def __len__(self) -> int:
        return len(self._entries)

    def query(
        self,
        *,
        client_id: str | None = None,
        status: Iterable[int] | None = None,
        since: float | None = None,
        after_id: int | None = None,
        limit: int | None = None,
        verdict: Iterable[str | None] | None = None,
    ) -> list[Entry]:
        """Entries, newest first, matching every filter given.

        ``verdict``: the signature verdicts wanted ("valid", a signing reason), ``None`` among
        them for the requests refused before any signature check."""
        wanted = set(status) if status is not None else None
        verdicts = set(verdict) if verdict is not None else None
        with self._lock:
            entries = list(self._entries)
        out = []
        for entry in reversed(entries):
            if client_id is not None and entry.client_id != client_id:
                continue
            if wanted is not None and entry.status not in wanted:
                continue
            if verdicts is not None and (
                (entry.signature.verdict if entry.signature else None) not in verdicts
            ):
                continue
            if since is not None and entry.epoch < since:
                continue
            if after_id is not None and entry.id <= after_id:
                continue
            out.append(entry)
            if limit is not None and len(out) >= limit:
                break
        return out
