"""Sign a Sabong wallet API v1 request (Python 3.8+, standard library only). Copy this file.

x-signature = lowercase hex HMAC-SHA256(secret, METHOD + PATH + TIMESTAMP + PAYLOAD), where
PAYLOAD is, for a GET, the query parameters decoded, sorted by key, joined key=value with "&";
for a POST, the body as JavaScript's JSON.stringify prints it.

Caveats:
- POST: serialize the body ONCE with json_body(), sign that text and send that same text
  (``data=body.encode()``, never ``json=obj``: requests and httpx add spaces after ``,``/``:``).
  json_body() is json.dumps(separators=(",", ":"), ensure_ascii=False), plus one fix: Python
  prints the float 100.0 as ``100.0`` where JavaScript prints ``100``, so whole floats and
  Decimals are sent as ints (Decimal("100.50") is sent as 100.5). Floats below 1e-4 print in
  Python's exponent form (1e-05, 1e-07; JavaScript 0.00001, 1e-7) and integers beyond 2**53
  exactly (JavaScript rounds them): the server signs another text, a 401. Money never has them.
- GET: sign the decoded values (``2026-02-01T00:00:00+08:00``, not ``%3A`` or ``%2B``) and
  build the URL with query_string(), which percent-encodes them (a raw ``+`` means a space).
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Mapping
from decimal import Decimal
from typing import Any
from urllib.parse import quote


def sign(
    secret: str,
    method: str,
    path: str,
    timestamp: int | str,
    params_or_body: Mapping[str, Any] | str,
) -> str:
    """The x-signature: a GET signs its query parameters (a mapping), a POST its body text."""
    method = method.upper()
    if method == "GET":
        if not isinstance(params_or_body, Mapping):
            raise TypeError("a GET signs its query parameters: pass them as a mapping")
        payload = query_payload(params_or_body)
    else:
        if not isinstance(params_or_body, str):
            raise TypeError("a POST signs the exact body text it sends: pass json_body(obj)")
        payload = params_or_body
    message = f"{method}{path}{timestamp}{payload}".encode()
    return hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()


def json_body(obj: Any) -> str:
    """The body text to send and sign: compact JSON as JavaScript's JSON.stringify prints it."""
    return json.dumps(_js_numbers(obj), separators=(",", ":"), ensure_ascii=False, allow_nan=False)


def _js_numbers(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {key: _js_numbers(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [_js_numbers(item) for item in value]
    if isinstance(value, Decimal):
        value = float(value)  # the server reads every number as a double anyway
    if isinstance(value, float) and value.is_integer() and abs(value) < 1e21:
        return int(value)  # 100.0 -> 100, -0.0 -> 0, as JavaScript prints them
    return value


def _pairs(params: Mapping[str, Any]) -> list[tuple[str, str]]:
    # A list or tuple value is a repeated key (?type=credit&type=debit).
    return [
        (str(key), str(item))
        for key, value in params.items()
        for item in (value if isinstance(value, (list, tuple)) else [value])
    ]


def query_payload(params: Mapping[str, Any]) -> str:
    """The GET PAYLOAD: decoded values, sorted by key, a repeated key's values joined by ","."""
    merged: dict[str, list[str]] = {}
    for key, value in _pairs(params):
        merged.setdefault(key, []).append(value)
    return "&".join(f"{key}={','.join(merged[key])}" for key in sorted(merged))


def query_string(params: Mapping[str, Any]) -> str:
    """The query to put after "?" in the URL, percent-encoded (``:`` -> %3A, ``+`` -> %2B)."""
    return "&".join(f"{quote(k, safe='')}={quote(v, safe='')}" for k, v in _pairs(params))
