"""Scenarios: force documented responses, faults and sequences per clientId (SPEC C).

``model`` says what a scenario is, ``loader`` reads scenarios.yaml (or a runtime JSON rule)
with located errors, ``engine`` decides which step applies to each request.
"""

from .engine import Decision, Engine
from .loader import (
    ScenarioError,
    builtin,
    load_effective,
    load_file,
    load_text,
    parse_runtime_rule,
    settings_from,
)
from .model import ENDPOINTS, FAULTS, OUTCOMES, RESPONSES, ClientSetup, Rule, ScenarioSet, Step

__all__ = [
    "ENDPOINTS",
    "FAULTS",
    "OUTCOMES",
    "RESPONSES",
    "ClientSetup",
    "Decision",
    "Engine",
    "Rule",
    "ScenarioError",
    "ScenarioSet",
    "Step",
    "builtin",
    "load_effective",
    "load_file",
    "load_text",
    "parse_runtime_rule",
    "settings_from",
]
