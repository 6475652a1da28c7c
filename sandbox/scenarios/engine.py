"""Which step applies to a request: the file's rules, runtime overrides, sequences, chance.

Pure and thread-safe (one lock); no Flask. Sequences advance per (clientId, endpoint). A
runtime override wins over the file's rule for its client and may expire after N requests.
Probabilities and delay ranges draw from one ``random.Random(seed)``, reseeded on reset, so a
run is reproducible.
"""

from __future__ import annotations

import random
import threading
from dataclasses import dataclass
from typing import Any

from .model import Rule, ScenarioSet, Step


@dataclass(frozen=True)
class Decision:
    """The step chosen for one request, and how to name it in ``X-Sandbox-Scenario``."""

    step: Step
    client_id: str
    endpoint: str
    source: str  # "file" or "override"
    index: int  # 0-based position in the sequence
    length: int

    @property
    def label(self) -> str:
        parts = [self.step.outcome, f"client={self.client_id}", f"source={self.source}"]
        if self.length > 1:
            parts.append(f"step={self.index + 1}/{self.length}")
        return "; ".join(parts)


@dataclass
class _Override:
    rule: Rule
    remaining: int | None  # None: until cleared


# Runtime scenarios at once, per partner, each at most MAX_OVERRIDE_BYTES of JSON (the control
# plane refuses larger): a partner's overrides stay within a few MB on a hosted sandbox.
MAX_OVERRIDES = 1_000
MAX_OVERRIDE_BYTES = 4096


class TooManyOverrides(Exception):
    """The runtime scenario table is full."""


class Engine:
    def __init__(self, scenarios: ScenarioSet) -> None:
        self._lock = threading.Lock()
        self.scenarios = scenarios
        self._overrides: dict[str, _Override] = {}
        self._counters: dict[tuple[str, str, str], int] = {}
        self._random = random.Random(scenarios.seed)

    # ------------------------------------------------------------------ changes

    def replace(self, scenarios: ScenarioSet) -> None:
        """Swap in a reloaded file; sequences of clients whose rule changed start over."""
        with self._lock:
            old = self.scenarios.rules
            changed = {
                c for c in set(old) | set(scenarios.rules) if old.get(c) != scenarios.rules.get(c)
            }
            self._counters = {k: v for k, v in self._counters.items() if k[1] not in changed}
            self.scenarios = scenarios

    def set_override(self, client_id: str, rule: Rule, times: int | None = None) -> None:
        with self._lock:
            if client_id not in self._overrides and len(self._overrides) >= MAX_OVERRIDES:
                raise TooManyOverrides(f"at most {MAX_OVERRIDES} runtime scenarios at once")
            self._overrides[client_id] = _Override(rule, times)
            self._counters = {
                k: v for k, v in self._counters.items() if k[:2] != ("override", client_id)
            }

    def clear_override(self, client_id: str) -> bool:
        with self._lock:
            self._counters = {
                k: v for k, v in self._counters.items() if k[:2] != ("override", client_id)
            }
            return self._overrides.pop(client_id, None) is not None

    def reset(self) -> None:
        """Overrides and sequence positions cleared, the random source reseeded."""
        with self._lock:
            self._overrides.clear()
            self._counters.clear()
            self._random = random.Random(self.scenarios.seed)

    # ------------------------------------------------------------------ requests

    def pick(self, client_id: str, endpoint: str) -> Decision | None:
        """The step for this request, or None to behave normally. Advances sequences."""
        with self._lock:
            override = self._overrides.get(client_id)
            if override is not None:
                rule = override.rule.for_endpoint(endpoint)
                if rule is not None:
                    decision = self._step("override", client_id, endpoint, rule)
                    if override.remaining is not None:
                        override.remaining -= 1
                        if override.remaining <= 0:
                            del self._overrides[client_id]
                            self._counters = {
                                k: v
                                for k, v in self._counters.items()
                                if k[:2] != ("override", client_id)
                            }
                    return decision
            file_rule = self.scenarios.rule_for(client_id)
            if file_rule is None:
                return None
            rule = file_rule.for_endpoint(endpoint)
            if rule is None:
                return None
            return self._step("file", client_id, endpoint, rule)

    def _step(self, source: str, client_id: str, endpoint: str, rule: Rule) -> Decision | None:
        if rule.probability < 1.0 and self._random.random() >= rule.probability:
            return None
        key = (source, client_id, endpoint)
        count = self._counters.get(key, 0)
        self._counters[key] = count + 1
        n = len(rule.steps)
        index = count % n if rule.cycle else min(count, n - 1)
        return Decision(rule.steps[index], client_id, endpoint, source, index, n)

    def delay_seconds(self, step: Step) -> float:
        if step.delay is None:
            return 0.0
        if step.delay.low == step.delay.high:
            return step.delay.low
        with self._lock:
            return self._random.uniform(step.delay.low, step.delay.high)

    # ------------------------------------------------------------------ views

    def override_ids(self) -> list[str]:
        with self._lock:
            return list(self._overrides)

    def active(self, *, limit: int | None = None, after: str | None = None) -> dict[str, Any]:
        """The file's rules and the runtime overrides, JSON-friendly; the overrides a page at
        a time (``limit`` of them, in clientId order, after the clientId ``after``)."""
        with self._lock:
            ids = sorted(c for c in self._overrides if after is None or c > after)
            page = ids if limit is None else ids[:limit]
            overrides = {}
            for client in page:
                override = self._overrides[client]
                overrides[client] = {**override.rule.summary(), "remaining": override.remaining}
            more = limit is not None and len(ids) > limit
            return {
                "source": self.scenarios.source,
                "seed": self.scenarios.seed,
                "rules": {c: r.summary() for c, r in self.scenarios.rules.items()},
                "overrides": overrides,
                "clients": {
                    c: {"balance": s.balance_cents / 100} for c, s in self.scenarios.clients.items()
                },
                "nextAfter": page[-1] if more else None,  # more overrides: ask after this one
            }
