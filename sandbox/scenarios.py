"""scenarios.yaml: the settings it may carry (the secret, the seed).

Read with ``yaml.safe_load`` only. Errors name the file and the key.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml


class ScenarioError(ValueError):
    """scenarios.yaml cannot be used; the message names the file and the key."""


def read_settings(path: str | Path) -> dict[str, Any]:
    """The configuration values the scenarios file sets (``secret``), validated."""
    path = Path(path)
    try:
        document = yaml.safe_load(path.read_text("utf-8"))
    except OSError as exc:
        raise ScenarioError(f"{path}: cannot read: {exc.strerror}") from None
    except yaml.YAMLError as exc:
        raise ScenarioError(f"{path}: not valid YAML: {exc}") from None
    if document is None:
        return {}
    if not isinstance(document, dict):
        raise ScenarioError(f"{path}: the top level must be a mapping")
    settings: dict[str, Any] = {}
    if "secret" in document:
        secret = document["secret"]
        if not isinstance(secret, str) or not secret:
            raise ScenarioError(f"{path}: secret: must be a non-empty string")
        settings["secret"] = secret
    if "duplicateReference" in document:
        policy = document["duplicateReference"]
        if policy not in ("allow", "reject", "replay"):
            raise ScenarioError(
                f"{path}: duplicateReference: must be one of allow, reject, replay; got {policy!r}"
            )
        settings["duplicate_reference"] = policy
    return settings
