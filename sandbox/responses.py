"""The documented response bodies, read once from ``fixtures/responses/envelopes.json``.

The bodies are data so that each is written exactly once: ``errors`` renders failures from
here, the scenario engine renders forced outcomes from here, and the tests compare with here.
"""

from __future__ import annotations

import json
from functools import cache
from importlib import resources
from typing import Any


@cache
def catalog() -> dict[str, Any]:
    text = (
        resources.files("sandbox.fixtures").joinpath("responses/envelopes.json").read_text("utf-8")
    )
    return json.loads(text)  # type: ignore[no-any-return]


def endpoint_info(endpoint: str) -> dict[str, Any]:
    return catalog()["endpoints"][endpoint]  # type: ignore[no-any-return]


def _fill(template: Any, values: dict[str, Any]) -> Any:
    if isinstance(template, str) and template.startswith("$"):
        return values[template[1:]]
    if isinstance(template, dict):
        return {k: _fill(v, values) for k, v in template.items()}
    if isinstance(template, list):
        return [_fill(v, values) for v in template]
    return template


def render(kind: str, endpoint: str | None = None, **values: Any) -> tuple[int, dict[str, Any]]:
    """(status, body) of a documented response; ``endpoint`` supplies $success/$failure."""
    entry = catalog()["responses"][kind]
    if endpoint is not None:
        info = endpoint_info(endpoint)
        values = {"success": info["success"], "failure": info["failure"], **values}
    return entry["status"], _fill(entry["body"], values)


def endpoints() -> tuple[str, ...]:
    """The five API endpoints, by name (``get-balance``, ...)."""
    return tuple(catalog()["endpoints"])
