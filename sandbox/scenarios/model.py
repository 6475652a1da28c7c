"""What a scenario is: pure data, no YAML, no Flask.

A *rule* belongs to a clientId. It either forces one *step* on every request, or walks a
*sequence* of steps (then stays on the last, or cycles), optionally only with a probability.
A rule can also name endpoints, each with a rule of its own, which wins over the client-wide
one for that endpoint. A step is an *outcome* plus optional delay and parameters.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field
from typing import Any

from .. import api

# The documented responses QA can force (SPEC C: each endpoint only its own, see
# ``api.Route.outcomes``), and the faults, deliberately outside the contract, on any endpoint.
RESPONSES = api.RESPONSES
FAULTS = ("timeout", "drop", "malformed", "applied-then-failed")
OUTCOMES = RESPONSES + FAULTS
# The endpoints a rule may name: the route table's.
ENDPOINTS = api.ENDPOINTS
DEFAULT_TIMEOUT_SECONDS = 35.0
MALFORMED_BODIES = ("truncated", "html", "empty")
APPLIED_THEN = ("server-error", "drop")


@dataclass(frozen=True)
class Delay:
    """A fixed delay (``low == high``) or a uniform range, in seconds."""

    low: float
    high: float

    def describe(self) -> str:
        if self.low == self.high:
            return f"{self.low:g}s"
        return f"{self.low:g}-{self.high:g}s"


@dataclass(frozen=True)
class Step:
    outcome: str = "success"
    delay: Delay | None = None
    errors: dict[str, list[str]] | None = None  # validation: the field errors to answer
    after: float = DEFAULT_TIMEOUT_SECONDS  # timeout: how long to hold the request
    then: str = "server-error"  # applied-then-failed: how the committed request fails
    body: str = "truncated"  # malformed: what the broken 200 body looks like


@dataclass(frozen=True)
class Rule:
    steps: tuple[Step, ...] = ()  # empty: no client-wide behaviour (only ``endpoints``)
    cycle: bool = False  # after the last step: cycle (True) or stay on it (False)
    probability: float = 1.0  # chance the rule applies to a request; else behave normally
    description: str = ""
    endpoints: dict[str, Rule] = field(default_factory=dict)

    @property
    def is_sequence(self) -> bool:
        return len(self.steps) > 1

    def for_endpoint(self, endpoint: str) -> Rule | None:
        """The rule that governs ``endpoint``: its own entry, else the client-wide steps."""
        if endpoint in self.endpoints:
            return self.endpoints[endpoint]
        return self if self.steps else None

    def summary(self) -> dict[str, Any]:
        """A JSON-friendly description (for the control plane and the inspector)."""
        out: dict[str, Any] = {}
        if self.steps:
            out["steps"] = [step_summary(s) for s in self.steps]
        if self.is_sequence:
            out["then"] = "cycle" if self.cycle else "stay"
        if self.probability != 1.0:
            out["probability"] = self.probability
        if self.description:
            out["description"] = self.description
        if self.endpoints:
            out["endpoints"] = {k: v.summary() for k, v in self.endpoints.items()}
        return out


def step_text(step: Step) -> str:
    """One step in a few words: ``server-error``, ``timeout after 35s``, ``success after 2s``."""
    text = step.outcome
    if step.outcome == "timeout":
        text += f" after {step.after:g}s"
    elif step.outcome == "applied-then-failed":
        text += f" ({step.then})"
    elif step.outcome == "malformed":
        text += f" ({step.body})"
    if step.delay is not None:
        text = f"{step.delay.describe()} delay, then {text}"
    return text


def not_on(rule: Rule) -> list[str]:
    """The endpoints where a client-wide rule's forced response cannot apply (they answer
    normally instead): e.g. not-found is no answer of generate-auth-token."""
    forced = {s.outcome for s in rule.steps if s.outcome in RESPONSES}
    return [r.name for r in api.ROUTES if r.name not in rule.endpoints and forced - set(r.outcomes)]


def rule_text(rule: Rule, *, nested: bool = False) -> str:
    """A rule in one line, for ``scenarios check`` (``nested``: an endpoint's own rule)."""
    parts = []
    if rule.steps:
        text = " -> ".join(step_text(s) for s in rule.steps)
        if rule.is_sequence:
            text += " (then cycle)" if rule.cycle else " (then stay)"
        excluded = [] if nested else not_on(rule)
        if excluded:
            text += f" (not on {', '.join(excluded)}: answered normally there)"
        parts.append(text + (" on every other endpoint" if rule.endpoints else ""))
    for endpoint, own in rule.endpoints.items():
        parts.append(f"{endpoint}: {rule_text(own, nested=True)}")
    if rule.probability != 1.0:
        parts.append(f"with probability {rule.probability:g}")
    return "; ".join(parts)


def step_summary(step: Step) -> dict[str, Any]:
    out: dict[str, Any] = {"outcome": step.outcome}
    if step.delay is not None:
        out["delay"] = step.delay.describe()
    if step.outcome == "validation" and step.errors is not None:
        out["errors"] = step.errors
    if step.outcome == "timeout":
        out["after"] = step.after
    if step.outcome == "applied-then-failed":
        out["then"] = step.then
    if step.outcome == "malformed":
        out["body"] = step.body
    return out


@dataclass(frozen=True)
class ClientSetup:
    """A named client's starting state, created at start and on every reset."""

    client_id: str
    balance_cents: int = 0
    username: str | None = None
    display_name: str | None = None
    ip_address: str = "127.0.0.1"


DEFAULT_SEED = 20260201
BUILTIN = "built-in"  # the source name of the set shipped in the package


@dataclass(frozen=True)
class ScenarioSet:
    """Everything a scenarios.yaml holds (or the effective set: the built-in one extended)."""

    secret: str | None = None
    seed: int = DEFAULT_SEED
    duplicate_reference: str | None = None
    clients: dict[str, ClientSetup] = field(default_factory=dict)
    rules: dict[str, Rule] = field(default_factory=dict)
    source: str | None = None  # the file it came from, or "built-in"
    # name -> secret; kept out of repr() so that no log line can ever show a secret
    partners: dict[str, str] = field(default_factory=dict, repr=False)
    seed_given: bool = False  # the file set ``seed`` (else the built-in set's applies)
    extends_builtin: bool = True  # ``builtin: false`` in the file: it replaces the built-in set
    from_builtin: frozenset[str] = frozenset()  # the rules that come from the built-in set

    def rule_for(self, client_id: str) -> Rule | None:
        """The rule of ``client_id``: its own, else that of the longest prefix key
        (``READY_*``) it starts with."""
        rule = self.rules.get(client_id)
        if rule is not None:
            return rule
        for key in self.prefixes:
            if client_id.startswith(key[:-1]):
                return self.rules[key]
        return None

    @functools.cached_property
    def prefixes(self) -> list[str]:
        """The rules' keys that end with ``*``, longest first."""
        return sorted((k for k in self.rules if k.endswith("*")), key=len, reverse=True)

    def describe(self) -> str:
        """Which set this is, for the banner and ``scenarios check``."""
        if self.source in (None, BUILTIN):
            return f"the built-in set ({len(self.rules)} scenarios)"
        if self.extends_builtin:
            return (
                f"{self.source}, extending the built-in set ({len(self.rules)} scenarios, "
                f"{len(self.from_builtin)} only from the built-in set)"
            )
        return f"{self.source} ({len(self.rules)} scenarios; builtin: false)"
