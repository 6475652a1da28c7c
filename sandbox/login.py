"""The login link's target, ``/login/<token>`` (SPEC B9): a Flask blueprint, unsigned like the
real one. The token is made by ``api.tokens``."""

from __future__ import annotations

from flask import Blueprint, Response, current_app, render_template, request

from .dates import iso_ms
from .errors import dumps, envelope
from .state import Sandbox

bp = Blueprint("login", __name__)


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
