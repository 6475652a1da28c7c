"""The request size limits, answered in the envelope (SPEC B13); pure, no Flask.

Checked before anything else, on every path: by the API pipeline for ``/api/v1/*`` and by the
Flask app's hook for the rest. waitress's own, larger caps stay behind them as the last line
(``serving.py``): nothing larger is ever buffered.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from .errors import HTTP_MESSAGES, HttpError

MAX_BODY_BYTES = 64 * 1024  # SPEC B13
MAX_QUERY_BYTES = 8 * 1024  # a get-transactions query is a few hundred bytes
MAX_HEADER_BYTES = 16 * 1024  # all header names and values together


def header_bytes(environ: Mapping[str, Any]) -> int:
    """The size of a WSGI request's headers, as the 431 limit counts it."""
    return sum(
        len(k) + len(v) for k, v in environ.items() if k.startswith("HTTP_") and type(v) is str
    )


def check(content_length: int | None, query_length: int, headers_length: int) -> None:
    """Raise the 413, 414 or 431 ``HttpError`` of a request over a limit."""
    if content_length is not None and content_length > MAX_BODY_BYTES:
        raise HttpError(413, HTTP_MESSAGES[413])
    if query_length > MAX_QUERY_BYTES:
        raise HttpError(414, HTTP_MESSAGES[414])
    if headers_length > MAX_HEADER_BYTES:
        raise HttpError(431, HTTP_MESSAGES[431])
