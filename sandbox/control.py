"""The control plane under ``/__sandbox/``: everything of the sandbox's own (SPEC C).

JSON in, the envelope out. Reads are GET; every change is POST, PUT or DELETE.
"""

from __future__ import annotations

import hmac
import json
from typing import Any

from flask import Blueprint, Response, current_app, g, render_template, request

from . import __version__, readiness, signing
from .auth import authenticate, raw_path, signature_headers, trusted_host
from .client import curl_command
from .dates import iso_ms
from .errors import ApiError, InvalidSignature, ValidationFailed, dumps, envelope
from .explain import explain, query_from
from .scenarios import ScenarioError, parse_runtime_rule
from .scenarios.engine import MAX_OVERRIDE_BYTES, TooManyOverrides
from .scenarios.loader import PARTNER_NAME
from .state import DEFAULT_TENANT, MAX_RUNTIME_PARTNERS, PartnerError, Sandbox, Tenant

bp = Blueprint("control", __name__, url_prefix="/__sandbox")


def _sandbox() -> Sandbox:
    return current_app.extensions["sandbox"]  # type: ignore[no-any-return]


def _tenant() -> Tenant:
    """The tenant this control request acts on (chosen by ``guard``)."""
    return g.control_tenant  # type: ignore[no-any-return]


MAX_CLOCK_SHIFT = 10 * 365 * 24 * 3600  # ten years each way: every date stays printable

# Readable by anyone who can reach the sandbox: readiness, and the public API description.
OPEN_ENDPOINTS = {"control.health", "control.openapi_document"}


@bp.before_request
def guard() -> None:
    """Who may use the control plane, and on which tenant.

    - A control request signed like an API request (x-timestamp, x-signature) acts on the
      tenant whose secret verifies it, and only on that one: a partner manages its own state.
    - Otherwise, when the sandbox has a control token (always when it is bound off loopback),
      ``Authorization: Bearer <token>`` (or ``?token=`` on a GET, for the inspector page) is
      required; the operator then picks a tenant with ``?partner=`` or ``X-Sandbox-Partner``.
    - Health and the OpenAPI document are open.
    """
    sandbox = _sandbox()
    g.control_tenant = sandbox.default
    if request.endpoint in OPEN_ENDPOINTS:
        return
    if sandbox.control_token is None and not trusted_host(request.host, sandbox.config.host):
        # DNS rebinding: a page of the attacker's domain, resolved to 127.0.0.1, reaches the
        # open loopback plane with its own name in Host (and Origin); only loopback names are
        # this sandbox's. (With a token, the token protects.)
        raise ApiError(
            envelope("error", f"Host {request.host!r} is not this sandbox's", None), status=403
        )
    origin = request.headers.get("Origin")
    if origin is not None and origin.rstrip("/") != request.host_url.rstrip("/"):
        # A web page on another origin must not drive the control plane through the
        # operator's browser (cross-site request forgery on the open loopback plane).
        raise ApiError(
            envelope("error", "Cross-origin control requests are refused", None), status=403
        )
    wanted = request.args.get("partner") or request.headers.get("X-Sandbox-Partner")
    if request.headers.get("x-signature"):
        tenant = _signed_tenant(sandbox)
        if tenant is sandbox.default and len(sandbox.tenants) > 1:
            # With partners, the default tenant also holds the requests no secret verified:
            # that journal is the operator's (token), not whoever knows the default secret.
            raise ApiError(
                envelope("error", "The default tenant is the operator's: use the token", None),
                status=403,
            )
        if wanted and wanted != tenant.name:
            raise ApiError(
                envelope("error", "A partner acts on its own sandbox only", None), status=403
            )
        g.control_tenant = tenant
        return
    token = sandbox.control_token
    if token is not None:
        sent = request.headers.get("Authorization", "")
        given = sent[7:] if sent.startswith("Bearer ") else ""
        if not given and request.method == "GET":
            given = request.args.get("token", "")
        if not hmac.compare_digest(given.encode(), token.encode()):
            raise ApiError(
                envelope("error", "Control plane token required", None),
                {"WWW-Authenticate": 'Bearer realm="sabong-sandbox"'},
                401,
            )
    if wanted:
        if wanted not in sandbox.tenants:
            raise ApiError(envelope("failed", "Unknown partner", None), status=404)
        g.control_tenant = sandbox.tenants[wanted]


def _signed_tenant(sandbox: Sandbox) -> Tenant:
    """The tenant whose secret verifies this control request, signed like an API request."""
    checked = authenticate(
        sandbox,
        request.method,
        raw_path(request.environ),
        request.environ.get("QUERY_STRING", ""),
        request.headers.get("x-timestamp"),
        request.headers.get("x-signature"),
        b"" if signing.signs_query(request.method) else request.get_data(cache=True),
    )
    if checked.tenant is None:
        raise InvalidSignature(signature_headers(checked.verdict))
    return checked.tenant


def reply(message: str, data: object, status: int = 200) -> Response:
    return Response(dumps(envelope("success", message, data)), status, mimetype="application/json")


def _json_body() -> Any:
    raw = request.get_data()
    if not raw.strip():
        return {}
    try:
        return json.loads(raw, parse_constant=_no_constants)  # no NaN or Infinity
    except (ValueError, RecursionError):
        raise ValidationFailed({"body": ["The body must be valid JSON."]}) from None


def _no_constants(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def _scenario_errors(exc: ScenarioError) -> ApiError:
    errors: dict[str, list[str]] = {}
    for problem in exc.problems:
        key = ".".join(str(p) for p in problem.path) or "body"
        errors.setdefault(key, []).append(problem.message)
    return ValidationFailed(errors)


def _operator_only() -> None:
    """Only the operator (the control token, or the open loopback plane) manages partners;
    a request signed with any secret, the default one included, is a partner's."""
    if request.headers.get("x-signature"):
        raise ApiError(envelope("error", "Only the operator manages partners", None), status=403)


@bp.get("/partners")
def list_partners() -> Response:
    """The partners: configured ones and those created at run time."""
    _operator_only()
    sandbox = _sandbox()
    partners = [
        {"name": name, "runtime": name in sandbox.runtime_partners}
        for name in sandbox.tenants
        if name != DEFAULT_TENANT
    ]
    return reply("Partners", {"partners": partners, "max": MAX_RUNTIME_PARTNERS})


@bp.post("/partners")
def create_partner() -> Response:
    """Create a partner at run time: ``{"name": "..."}``; answers its generated secret, once.

    Its state lives in memory and goes with it (``DELETE /__sandbox/partners/<name>``) or when
    the sandbox stops: one isolated sandbox per pytest-xdist worker on a shared instance."""
    _operator_only()
    body = _json_body()
    name = body.get("name") if isinstance(body, dict) else None
    if not isinstance(name, str) or not PARTNER_NAME.fullmatch(name) or name == DEFAULT_TENANT:
        raise ValidationFailed(
            {"name": ["The name must be 1-64 letters, digits, _ or - (not 'default')."]}
        )
    try:
        tenant = _sandbox().add_partner(name)
    except PartnerError as exc:
        raise ApiError(envelope("failed", str(exc).capitalize(), None), status=409) from None
    return reply("Partner created", {"name": tenant.name, "secret": tenant.secret}, 201)


@bp.delete("/partners/<name>")
def delete_partner(name: str) -> Response:
    """Remove a partner created at run time (the operator, or the partner itself, signed)."""
    sandbox = _sandbox()
    signed = request.headers.get("x-signature")
    if signed and g.control_tenant.name != name:
        raise ApiError(
            envelope("error", "A partner acts on its own sandbox only", None), status=403
        )
    if name in sandbox.tenants and name not in sandbox.runtime_partners:
        raise ApiError(
            envelope("failed", "A configured partner cannot be removed at run time", None),
            status=409,
        )
    if not sandbox.remove_partner(name):
        raise ApiError(envelope("failed", "Unknown partner", None), status=404)
    return reply("Partner removed", {"name": name})


@bp.get("/health")
def health() -> Response:
    """Readiness, and the state of what can go wrong at run time: the scenario set (a hot
    reload that failed keeps the previous set and says why here)."""
    sandbox = _sandbox()
    state = sandbox.scenarios_state
    current = sandbox.default.scenarios.scenarios
    scenarios = {
        "source": current.source,
        "scenarios": len(current.rules),
        "loadedAt": iso_ms(state.loaded_at),
        "lastError": state.last_error,
        "lastErrorAt": iso_ms(state.last_error_at) if state.last_error_at else None,
    }
    incidents = sandbox.incidents
    database = {
        "path": sandbox.config.db,
        "errors": incidents.database_errors,
        "unexpectedErrors": incidents.total,
        "lastError": incidents.last,
        "lastErrorAt": iso_ms(incidents.last_at) if incidents.last_at else None,
    }
    return reply(
        "Sandbox is running",
        {
            "version": __version__,
            "uptimeSeconds": round(sandbox.uptime(), 3),
            "scenarios": scenarios,
            "database": database,
        },
    )


@bp.post("/reset")
def reset() -> Response:
    """Ledger back to the fixtures and named clients; sequences, overrides and clock cleared;
    the readiness history too, unless ``?keepReport=true``."""
    tenant = _tenant()
    keep = request.args.get("keepReport", "").lower()
    if keep not in ("", "true", "false"):
        raise ValidationFailed({"keepReport": ["The keepReport must be true or false."]})
    tenant.reset(keep_history=keep == "true")
    data = {
        "partner": tenant.name,
        "counts": tenant.store.counts(),
        "reportSeq": tenant.history.last_seq(),
    }
    return reply("Sandbox reset", data)


@bp.get("/report")
def readiness_report() -> Response:
    """The readiness report of this tenant: ``?clientId=`` (a clientId, or a prefix ending
    with ``*``), ``?since=``/``?until=`` (Unix seconds, sandbox clock), ``?after=`` (the
    ``reportSeq`` a reset answered: only what came after)."""
    args = request.args
    errors: dict[str, list[str]] = {}
    bounds: dict[str, float | None] = {}
    for name in ("since", "until", "after"):
        text = args.get(name)
        try:
            bounds[name] = float(text) if text else None
        except ValueError:
            errors[name] = [f"The {name} must be a number."]
    client_id = args.get("clientId") or None
    if client_id is not None and len(client_id) > 255:
        errors["clientId"] = ["The clientId may not be greater than 255 characters."]
    if errors:
        raise ValidationFailed(errors)
    tenant = _tenant()
    events = tenant.history.events(
        client_id=client_id, since=bounds["since"], until=bounds["until"]
    )
    if bounds["after"] is not None:
        events = [e for e in events if e.seq > (bounds["after"] or 0)]
    result = readiness.report(events)
    return reply("Readiness report", {"partner": tenant.name, **result})


@bp.get("/scenarios")
def list_scenarios() -> Response:
    """The scenarios: the file's, and the runtime overrides a page at a time
    (``?limit=`` up to 1000, 100 by default; ``?after=<clientId>`` for the next page)."""
    limit = _bounded_int("limit", request.args.get("limit"), default=100, maximum=1000)
    after = request.args.get("after") or None
    return reply("Active scenarios", _tenant().scenarios.active(limit=limit, after=after))


def _bounded_int(name: str, text: str | None, *, default: int, maximum: int) -> int:
    if not text:
        return default
    if not text.isdigit() or not 1 <= int(text) <= maximum:
        raise ValidationFailed({name: [f"The {name} must be an integer from 1 to {maximum}."]})
    return int(text)


@bp.put("/scenarios/<client_id>")
def set_scenario(client_id: str) -> Response:
    """Force a scenario for ``client_id`` (optionally for the next ``times`` requests)."""
    if len(request.get_data(cache=True)) > MAX_OVERRIDE_BYTES:
        raise ValidationFailed(
            {"body": [f"The scenario may not be larger than {MAX_OVERRIDE_BYTES} bytes."]}
        )
    if len(client_id) > 255:
        raise ValidationFailed(
            {"clientId": ["The clientId may not be greater than 255 characters."]}
        )
    try:
        rule, times = parse_runtime_rule(_json_body())
    except ScenarioError as exc:
        raise _scenario_errors(exc) from None
    engine = _tenant().scenarios
    try:
        engine.set_override(client_id, rule, times)
    except TooManyOverrides as exc:
        raise ValidationFailed({"clientId": [str(exc).capitalize() + "."]}) from None
    return reply("Scenario set", {"clientId": client_id, **rule.summary(), "remaining": times})


@bp.delete("/scenarios/<client_id>")
def clear_scenario(client_id: str) -> Response:
    removed = _tenant().scenarios.clear_override(client_id)
    return reply("Scenario cleared", {"clientId": client_id, "removed": removed})


@bp.delete("/scenarios")
def clear_scenarios() -> Response:
    engine = _tenant().scenarios
    cleared = engine.override_ids()
    for client_id in cleared:
        engine.clear_override(client_id)
    return reply("Scenarios cleared", {"removed": cleared})


@bp.get("/clock")
def get_clock() -> Response:
    clock = _tenant().clock
    return reply("Sandbox clock", {"offsetSeconds": clock.offset, "now": int(clock.now())})


@bp.post("/clock")
def shift_clock() -> Response:
    """Shift the sandbox clock: ``{"offsetSeconds": N}`` sets the shift (reset clears it)."""
    body = _json_body()
    offset = body.get("offsetSeconds") if isinstance(body, dict) else None
    if isinstance(offset, bool) or not isinstance(offset, (int, float)):
        raise ValidationFailed({"offsetSeconds": ["The offsetSeconds must be a number."]})
    if not -MAX_CLOCK_SHIFT <= offset <= MAX_CLOCK_SHIFT:
        raise ValidationFailed(
            {
                "offsetSeconds": [
                    f"The offsetSeconds must be between {-MAX_CLOCK_SHIFT} and {MAX_CLOCK_SHIFT}."
                ]
            }
        )
    clock = _tenant().clock
    clock.offset = float(offset)
    return reply("Sandbox clock shifted", {"offsetSeconds": clock.offset, "now": int(clock.now())})


# The signature verdicts a journal entry can have (the ``?verdict=`` filter): valid, a signing
# reason (SPEC B2), or unchecked (refused before the check: a 404, a 413, ...).
UNCHECKED = "unchecked"
VERDICTS = (
    "valid",
    signing.MISSING_SIGNATURE,
    signing.MISSING_TIMESTAMP,
    signing.BAD_TIMESTAMP,
    signing.EXPIRED_TIMESTAMP,
    signing.FUTURE_TIMESTAMP,
    signing.MISMATCH,
    UNCHECKED,
)


@bp.get("/requests")
def list_requests() -> Response:
    """The journal, newest first: ``?clientId=&status=401,500&verdict=mismatch,unchecked
    &since=<unix>&after=<id>&limit=``; ``?format=jsonl`` (or ``Accept: application/x-ndjson``)
    exports one JSON object a line. The JSON answer also describes the journal itself
    (``journal``: entries held, size, oldest and newest id), so that a live view can tell
    new entries from a cleared or rolled-over journal."""
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
    verdicts = args["verdict"].split(",") if args.get("verdict") else None
    if verdicts is not None and not set(verdicts) <= set(VERDICTS):
        raise ValidationFailed(
            {"verdict": [f"The verdict must be a list of: {', '.join(VERDICTS)}."]}
        )
    journal = _tenant().journal
    entries = journal.query(
        client_id=args.get("clientId") or None,
        status=status,
        verdict=None if verdicts is None else [None if v == UNCHECKED else v for v in verdicts],
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
    # Ids are given in arrival order and the ring drops its oldest: the entries held are the
    # ids newest - held + 1 .. newest (newest read first: a request arriving in between can
    # only make ``oldest`` too low, never hide an entry still held).
    latest = journal.query(limit=1)
    held = len(journal)
    newest = latest[0].id if latest else 0
    about = {
        "count": held,
        "size": journal.size,
        "oldest": max(1, newest - held + 1) if held and newest else None,
        "newest": newest,
    }
    return reply("Recent requests", {"count": len(rows), "requests": rows, "journal": about})


@bp.delete("/requests")
def clear_requests() -> Response:
    _tenant().journal.clear()
    return reply("Journal cleared", {"count": 0})


@bp.get("/openapi.json")
def openapi_document() -> Response:
    """The OpenAPI 3.1 document of the five endpoints."""
    from .openapi import document

    return Response(dumps(document()), 200, mimetype="application/json")


@bp.get("/")
def inspector() -> str:
    """The inspector page: the journal, live and filterable, each request's detail (headers,
    bodies, diagnosis, a replaying curl command); the scenarios; a signing form.

    The page renders the journal from JSON: the newest entries come with the page, then it
    polls ``GET /__sandbox/requests`` (with its filters) for the ones that follow."""
    sandbox = _sandbox()
    tenant = _tenant()
    journal = tenant.journal
    shown = 200  # entries on the page at most: the newest (matching its filters)
    active = tenant.scenarios.active()
    # The page's own requests must carry what let this one in (partner, token).
    carried = {k: request.args[k] for k in ("partner", "token") if request.args.get(k)}
    return render_template(
        "inspector.html",
        version=__version__,
        partner=tenant.name,
        carried=carried,
        auth={"headers": {"Authorization": f"Bearer {carried['token']}"}}
        if "token" in carried
        else {},
        uptime=int(sandbox.uptime()),
        journal_count=len(journal),
        journal_size=journal.size,
        clock_offset=tenant.clock.offset,
        window=sandbox.config.timestamp_window,
        page_limit=shown,
        entries=[e.to_json() for e in journal.query(limit=shown)],
        verdicts=VERDICTS,
        rules=active["rules"],
        overrides=active["overrides"],
        scenario_set=tenant.scenarios.scenarios.describe(),
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
    query = query_from(fields.get("query"))
    raw_body = fields.get("body")
    if isinstance(raw_body, dict):
        body_text = signing.js_stringify(raw_body)
    elif raw_body is None or isinstance(raw_body, str):
        body_text = raw_body or ""
    else:
        raise ValidationFailed({"body": ["The body must be a JSON object or JSON text."]})
    sandbox = _sandbox()
    tenant = _tenant()
    timestamp = str(fields.get("timestamp") or int(tenant.clock.now()))
    raw = body_text.encode("utf-8")
    payload, parsed = signing.request_payload(
        method, query, raw, mode=sandbox.config.signing_payload
    )
    sent_body = None
    if parsed is not None:
        # the body the curl command sends: what was signed (its JSON.stringify form, or the
        # text as given in raw mode)
        sent_body = payload.decode("utf-8", "replace")
        query = ""
    message = signing.string_to_sign(method, path, timestamp, payload)
    signature = signing.hmac_hex(tenant.secret, message)
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
    config = _sandbox().config
    tenant = _tenant()
    result = explain(
        secret=tenant.secret,
        method=fields["method"],
        path=fields["path"],
        query=query_from(fields.get("query")),
        body=fields.get("body") or "",
        timestamp=fields.get("timestamp"),
        signature=fields.get("signature"),
        now=tenant.clock.now(),
        window=config.timestamp_window,
        mode=config.signing_payload,
        partners={t.name: t.secret for t in _sandbox().tenants.values() if t is not tenant},
    )
    return reply("Signature explained", result)
