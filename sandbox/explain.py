"""A dry run of the signature check: every intermediate value, and the doctor's finding.

Shared by ``POST /__sandbox/explain`` and ``sabong-sandbox verify``; pure, no Flask.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from . import doctor, signing
from .config import DEFAULT_SECRET


def query_from(value: Any) -> str:
    """A query given as a raw string (``a=1&b=2``) or as a mapping, as the client sends it.

    A mapping's values are printed as JavaScript prints them (``true``, ``100.5``), and a
    null value is left out of the URL, as HTTP clients do (axios, PHP's http_build_query,
    Python's requests): the doctor then names a client that signed it anyway.
    """
    if isinstance(value, Mapping):
        sent = {
            str(k): v if isinstance(v, str) else signing.js_stringify(v)
            for k, v in value.items()
            if v is not None
        }
        return signing.encode_query(sent)
    return str(value or "").lstrip("?")


def explain(
    *,
    secret: str,
    method: str,
    path: str,
    query: str = "",
    body: str = "",
    timestamp: str | None = None,
    signature: str | None = None,
    now: float,
    window: int = signing.DEFAULT_WINDOW_SECONDS,
    mode: str = signing.JSON_PAYLOAD,
    partners: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    """What the sandbox computes for this request, and why the signature passes or fails.

    The expected signature is included only when ``secret`` is the public default one.
    """
    method = method.upper()
    raw = body.encode("utf-8")
    payload, parsed = signing.request_payload(method, query, raw, mode=mode)
    ts = timestamp if timestamp is not None else str(int(now))
    message = signing.string_to_sign(method, path, ts, payload)
    out: dict[str, Any] = {
        "method": method,
        "path": path,
        "timestamp": ts,
        "canonicalPayload": payload.decode("utf-8", "replace"),
        "stringToSign": message.decode("utf-8", "replace"),
    }
    if parsed is not None and parsed.problem:
        out["bodyProblem"] = parsed.problem
    if secret == DEFAULT_SECRET:
        out["expectedSignature"] = signing.hmac_hex(secret, message)
    if signature is None:
        out["verdict"] = {"reason": None, "detail": "No signature given: nothing to check."}
        return out
    verdict = signing.verify(
        secret, method, path, timestamp, signature, payload, now=now, window=window
    )
    out["verdict"] = {"reason": verdict.reason or "valid", "detail": verdict.detail}
    if verdict.reason in (
        signing.MISMATCH,
        signing.EXPIRED_TIMESTAMP,
        signing.FUTURE_TIMESTAMP,
        signing.BAD_TIMESTAMP,
    ):
        # A dry run diagnoses the HMAC even when the timestamp alone would have failed.
        finding = doctor.diagnose(
            method,
            path,
            query,
            raw,
            ts,
            signature,
            secret,
            partners,
            raw_payload=mode == signing.RAW_PAYLOAD,
            parsed=parsed,
        )
        out["finding"] = {
            "code": finding.code,
            "message": finding.message,
            "variantsTried": finding.tried,
        }
    return out
