"""POST /api/v1/generate-auth-token (SPEC A3, B9) and the login link it hands out."""

from __future__ import annotations

import secrets
import string
from typing import Any

from flask import Blueprint, Response, current_app, render_template, request

from ..dates import iso_ms
from ..errors import dumps, envelope
from ..pipeline import Call, endpoint, require_object
from ..state import Sandbox
from ..validation import Checker

bp = Blueprint("tokens", __name__)

TOKEN_ALPHABET = string.ascii_letters + string.digits
TOKEN_LENGTH = 64
DEFAULT_EXPIRATION_MINUTES = 2


def new_token() -> str:
    """64 random alphanumerics from the OS's CSPRNG."""
    return "".join(secrets.choice(TOKEN_ALPHABET) for _ in range(TOKEN_LENGTH))


def login_base(sandbox: Sandbox) -> str:
    base = sandbox.config.login_base or sandbox.base_url or request.host_url
    return base.rstrip("/")


@bp.post("/api/v1/generate-auth-token")
@endpoint("generate-auth-token")
def generate_auth_token(call: Call) -> dict[str, Any]:
    body = require_object(call)
    check = Checker()
    fields: dict[str, str] = {}
    for name, max_length in (
        ("clientId", 255),
        ("username", 100),
        ("displayName", 100),
        ("ipAddress", 45),
    ):
        value = body.get(name)
        if check.required(name, value) and check.string(name, value, max_length=max_length):
            fields[name] = value
    minutes = check.body_integer("expiration", body.get("expiration"), minimum=1, maximum=1440)
    check.done()
    minutes = minutes or DEFAULT_EXPIRATION_MINUTES
    tenant = call.tenant
    now = tenant.clock.now()
    tenant.store.prune_tokens(iso_ms(now))  # expired tokens do not pile up
    user, is_new = tenant.store.upsert_user(
        fields["clientId"],
        fields["username"],
        fields["displayName"],
        fields["ipAddress"],
        iso_ms(now),
    )
    token = new_token()
    expires = iso_ms(now + minutes * 60)
    tenant.store.add_token(token, user.id, expires)
    return {
        "token": token,
        "expiration": expires,
        "expiresIn": minutes * 60,
        "loginLink": f"{login_base(call.sandbox)}/login/{token}",
        "user": {
            "id": user.id,
            "username": user.username,
            "displayId": user.client_id,
            "displayName": user.display_name,
        },
        "isNewUser": is_new,
    }


def _wants_json() -> bool:
    best = request.accept_mimetypes.best_match(["text/html", "application/json"])
    return best == "application/json"


@bp.get("/login/<token>")
def login(token: str) -> Response:
    """The login link's target: unsigned, like the real one. HTML for browsers, JSON on
    ``Accept: application/json``; an unknown or expired token is a 401 in the same style."""
    sandbox: Sandbox = current_app.extensions["sandbox"]
    found = None
    for tenant in sandbox.tenants.values():  # tokens are random: at most one tenant has it
        found = tenant.store.token_user(token, iso_ms(tenant.clock.now()))
        if found is not None:
            break
    if found is None:
        if _wants_json():
            body = envelope("error", "Invalid or expired token", None)
            return Response(dumps(body), 401, mimetype="application/json")
        return Response(render_template("login.html", user=None), 401, mimetype="text/html")
    user, expires = found
    data = {
        "user": {
            "id": user.id,
            "username": user.username,
            "displayId": user.client_id,
            "displayName": user.display_name,
        },
        "expiration": expires,
    }
    if _wants_json():
        body = envelope("success", "Login successful", data)
        return Response(dumps(body), 200, mimetype="application/json")
    return Response(
        render_template("login.html", user=user, expires=expires), 200, mimetype="text/html"
    )
