"""The control plane under ``/__sandbox/``: everything of the sandbox's own (SPEC C).

JSON in, the envelope out. Reads are GET; every change is POST, PUT or DELETE.
"""

from __future__ import annotations

import json
from typing import Any

from flask import Blueprint, Response, current_app, render_template, request

from . import __version__, signing
from .client import curl_command
from .errors import ApiError, ValidationFailed, dumps, envelope
from .explain import explain, query_from
from .scenarios import ScenarioError, parse_runtime_rule
from .state import Sandbox

bp = Blueprint("control", __name__, url_prefix="/__sandbox")


def _sandbox() -> Sandbox:
    return current_app.extensions["sandbox"]  # type: ignore[no-any-return]


def reply(message: str, data: object, status: int = 200) -> Response:
    return Response(dumps(envelope("success", message, data)), status, mimetype="application/json")


def _json_body() -> Any:
    raw = request.get_data()
    if not raw.strip():
        return {}
    try:
        return json.loads(raw)
    except ValueError:
        raise ValidationFailed({"body": ["The body must be valid JSON."]}) from None


def _scenario_errors(exc: ScenarioError) -> ApiError:
    errors: dict[str, list[str]] = {}
    for problem in exc.problems:
        key = ".".join(str(p) for p in problem.path) or "body"
        errors.setdefault(key, []).append(problem.message)
    return ValidationFailed(errors)


@bp.get("/health")
def health() -> Response:
    sandbox = _sandbox()
    return reply(
        "Sandbox is running",
        {"version": __version__, "uptimeSeconds": round(sandbox.uptime(), 3)},
    )


@bp.post("/reset")
def reset() -> Response:
    """Ledger back to the fixtures and named clients; sequences, overrides and clock cleared."""
    sandbox = _sandbox()
    sandbox.reset()
    return reply("Sandbox reset", {"counts": sandbox.store.counts()})


@bp.get("/scenarios")
def list_scenarios() -> Response:
    return reply("Active scenarios", _sandbox().scenarios.active())


@bp.put("/scenarios/<client_id>")
def set_scenario(client_id: str) -> Response:
    """Force a scenario for ``client_id`` (optionally for the next ``times`` requests)."""
    try:
        rule, times = parse_runtime_rule(_json_body())
    except ScenarioError as exc:
        raise _scenario_errors(exc) from None
    engine = _sandbox().scenarios
    engine.set_override(client_id, rule, times)
    return reply("Scenario set", {"clientId": client_id, **rule.summary(), "remaining": times})


@bp.delete("/scenarios/<client_id>")
def clear_scenario(client_id: str) -> Response:
    removed = _sandbox().scenarios.clear_override(client_id)
    return reply("Scenario cleared", {"clientId": client_id, "removed": removed})


@bp.delete("/scenarios")
def clear_scenarios() -> Response:
    engine = _sandbox().scenarios
    cleared = list(engine.active()["overrides"])
    for client_id in cleared:
        engine.clear_override(client_id)
    return reply("Scenarios cleared", {"removed": cleared})


@bp.get("/clock")
def get_clock() -> Response:
    clock = _sandbox().clock
    return reply("Sandbox clock", {"offsetSeconds": clock.offset, "now": int(clock.now())})


@bp.post("/clock")
def shift_clock() -> Response:
    """Shift the sandbox clock: ``{"offsetSeconds": N}`` sets the shift (reset clears it)."""
    body = _json_body()
    offset = body.get("offsetSeconds") if isinstance(body, dict) else None
    if isinstance(offset, bool) or not isinstance(offset, (int, float)):
        raise ValidationFailed({"offsetSeconds": ["The offsetSeconds must be a number."]})
    clock = _sandbox().clock
    clock.offset = float(offset)
    return reply("Sandbox clock shifted", {"offsetSeconds": clock.offset, "now": int(clock.now())})


@bp.get("/requests")
def list_requests() -> Response:
    """The journal, newest first: ``?clientId=&status=401,500&since=<unix>&limit=``;
    ``?format=jsonl`` (or ``Accept: application/x-ndjson``) exports one JSON object a line."""
    args = request.args
    try:
        status = [int(s) for s in args["status"].split(",")] if args.get("status") else None
        since = float(args["since"]) if args.get("since") else None
        after = int(args["after"]) if args.get("after") else None
        limit = int(args["limit"]) if args.get("limit") else None
    except ValueError:
        raise ValidationFailed(
            {"query": ["status, since, after and limit must be numbers (status: a list)."]}
        ) from None
    entries = _sandbox().journal.query(
        client_id=args.get("clientId") or None,
        status=status,
        since=since,
        after_id=after,
        limit=limit,
    )
    rows = [e.to_json() for e in entries]
    wants_jsonl = args.get("format") == "jsonl" or (
        request.accept_mimetypes.best == "application/x-ndjson"
    )
    if wants_jsonl:
        text = "".join(json.dumps(row, ensure_ascii=False) + "\n" for row in rows)
        return Response(text.encode("utf-8"), 200, mimetype="application/x-ndjson")
    return reply("Recent requests", {"count": len(rows), "requests": rows})


@bp.delete("/requests")
def clear_requests() -> Response:
    _sandbox().journal.clear()
    return reply("Journal cleared", {"count": 0})


@bp.get("/openapi.json")
def openapi_document() -> Response:
    """The OpenAPI 3.1 document of the five endpoints."""
    from .openapi import document

    return Response(dumps(document()), 200, mimetype="application/json")


@bp.get("/")
def inspector() -> str:
    """The inspector page: the journal, live; signature diagnoses; scenarios; a signing form."""
    sandbox = _sandbox()
    entries = [e.to_json() for e in sandbox.journal.query(limit=200)]
    active = sandbox.scenarios.active()
    return render_template(
        "inspector.html",
        version=__version__,
        uptime=int(sandbox.uptime()),
        journal_count=len(sandbox.journal),
        journal_size=sandbox.journal.size,
        clock_offset=sandbox.clock.offset,
        entries=entries,
        newest=entries[0]["id"] if entries else 0,
        rules=active["rules"],
        overrides=active["overrides"],
        source=active["source"],
    )


@bp.post("/sign")
def sign_request() -> Response:
    """Sign a request with this sandbox's secret (form or JSON: method, path, query, body,
    timestamp); answers the headers, the StringToSign and a ready curl command."""
    fields = request.form if request.form else _json_body()
    if not isinstance(fields, dict) and not hasattr(fields, "get"):
        raise ValidationFailed({"body": ["Send a JSON object or a form."]})
    method = str(fields.get("method") or "GET").upper()
    path = str(fields.get("path") or "")
    if not path.startswith("/"):
        raise ValidationFailed({"path": ["The path must start with /."]})
    query = str(fields.get("query") or "").lstrip("?")
    body_text = str(fields.get("body") or "")
    sandbox = _sandbox()
    timestamp = str(fields.get("timestamp") or int(sandbox.clock.now()))
    if method == "GET":
        payload = signing.canonical_query(query)
        sent_body = None
    else:
        payload = signing.canonical_body(body_text.encode("utf-8")).payload
        sent_body = payload.decode("utf-8", "replace")
        query = ""
    message = signing.string_to_sign(method, path, timestamp, payload)
    signature = signing.hmac_hex(sandbox.config.secret, message)
    base = sandbox.base_url or request.host_url
    return reply(
        "Request signed",
        {
            "timestamp": timestamp,
            "signature": signature,
            "payload": payload.decode("utf-8", "replace"),
            "stringToSign": message.decode("utf-8", "replace"),
            "curl": curl_command(base, method, path, query, timestamp, signature, sent_body),
        },
    )


@bp.post("/explain")
def explain_request() -> Response:
    """A dry run: given ``method, path, query, body, timestamp, signature``, every
    intermediate value, the verdict and the doctor's finding."""
    fields = _json_body()
    if not isinstance(fields, dict):
        raise ValidationFailed({"body": ["Send a JSON object."]})
    errors: dict[str, list[str]] = {}
    for name in ("method", "path"):
        if not isinstance(fields.get(name), str) or not fields[name]:
            errors[name] = [f"The {name} field is required."]
    for name in ("body", "timestamp", "signature"):
        if fields.get(name) is not None and not isinstance(fields[name], str):
            errors[name] = [f"The {name} must be a string."]
    if errors:
        raise ValidationFailed(errors)
    sandbox = _sandbox()
    config = sandbox.config
    result = explain(
        secret=config.secret,
        method=fields["method"],
        path=fields["path"],
        query=query_from(fields.get("query")),
        body=fields.get("body") or "",
        timestamp=fields.get("timestamp"),
        signature=fields.get("signature"),
        now=sandbox.clock.now(),
        window=config.timestamp_window,
        raw_payload=config.signing_payload == "raw",
    )
    return reply("Signature explained", result)
