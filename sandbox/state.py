"""The sandbox's state: one object hung on the Flask app, never module globals."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

from .config import Config
from .store import Store, read_fixtures


class Clock:
    """Wall-clock time plus an operator-set shift, to test the timestamp window's edges."""

    def __init__(self) -> None:
        self.offset = 0.0

    def now(self) -> float:
        return time.time() + self.offset


def packaged_fixtures() -> Path:
    """The fixtures shipped with the package (``fixtures/`` in the repository)."""
    return Path(str(resources.files("sandbox.fixtures")))


def load_fixture_data(directory: str | None) -> dict[str, Any]:
    return read_fixtures(directory or packaged_fixtures())


@dataclass
class Sandbox:
    """Everything one running sandbox owns."""

    config: Config
    store: Store
    clock: Clock = field(default_factory=Clock)
    started: float = field(default_factory=time.monotonic)
    base_url: str | None = None  # set by the server once it knows its port

    @classmethod
    def open(cls, config: Config) -> Sandbox:
        store = Store(config.db)
        store.load_fixtures(load_fixture_data(config.fixtures))
        return cls(config=config, store=store)

    def reset(self) -> None:
        """Ledger back to the fixtures, clock shift cleared."""
        self.store.reset()
        self.clock.offset = 0.0

    def uptime(self) -> float:
        return time.monotonic() - self.started
