"""The documented response bodies, read once from ``sandbox/responses.json``.

The bodies are data so that each is written exactly once: ``errors`` renders every failure
from here (forced scenarios included), the OpenAPI document takes its examples from here, and
the tests compare with here. The per-endpoint messages live in the route table (``api``).
"""

from __future__ import annotations

import json
from functools import cache
from importlib import resources
from typing import Any


@cache
def catalog() -> dict[str, Any]:
    text = resources.files("sandbox").joinpath("responses.json").read_text("utf-8")
    return json.loads(text)  # type: ignore[no-any-return]


def _fill(template: Any, values: dict[str, Any]) -> Any:
    if isinstance(template, str) and template.startswith("$"):
        return values[template[1:]]
    if isinstance(template, dict):
        return {k: _fill(v, values) for k, v in template.items()}
    if isinstance(template, list):
        return [_fill(v, values) for v in template]
    return template


def render(kind: str, **values: Any) -> tuple[int, dict[str, Any]]:
    """(status, body) of a documented response, its ``$name`` values filled in."""
    entry = catalog()["responses"][kind]
    return entry["status"], _fill(entry["body"], values)
