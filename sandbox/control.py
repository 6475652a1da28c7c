"""The control plane under ``/__sandbox/``: everything of the sandbox's own (SPEC C)."""

from __future__ import annotations

from flask import Blueprint, Response, current_app

from . import __version__
from .errors import dumps, envelope
from .state import Sandbox

bp = Blueprint("control", __name__, url_prefix="/__sandbox")


def _sandbox() -> Sandbox:
    return current_app.extensions["sandbox"]  # type: ignore[no-any-return]


def reply(message: str, data: object, status: int = 200) -> Response:
    return Response(dumps(envelope("success", message, data)), status, mimetype="application/json")


@bp.get("/health")
def health() -> Response:
    sandbox = _sandbox()
    return reply(
        "Sandbox is running",
        {"version": __version__, "uptimeSeconds": round(sandbox.uptime(), 3)},
    )
