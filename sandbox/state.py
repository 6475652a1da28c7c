"""The sandbox's state: one object hung on the Flask app, never module globals."""

from __future__ import annotations

import logging
import secrets as secrets_module
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from importlib import resources
from pathlib import Path
from typing import Any

from .config import Config, ConfigError, is_loopback
from .dates import iso_ms
from .incidents import Incidents
from .journal import Journal
from .readiness import History
from .scenarios import Engine, ScenarioError, ScenarioSet, load_effective
from .store import Store, read_fixtures

log = logging.getLogger("sandbox.scenarios")

RELOAD_POLL_SECONDS = 0.25
RELOAD_STABLE_SECONDS = 0.75  # a changed file is applied once unchanged for this long


class Holds:
    """The requests that delay and timeout scenarios are holding, capped overall and per
    partner: each held request keeps a thread of its own (the server has ``threads`` for
    ordinary requests plus ``max_held`` for these), so none of them costs capacity that
    ordinary requests need, and no partner can take every slot."""

    def __init__(self, total: int, per_tenant: int) -> None:
        self.total = total
        self.per_tenant = per_tenant
        self._lock = threading.Lock()
        self._held: dict[str, int] = {}

    def held(self) -> int:
        with self._lock:
            return sum(self._held.values())

    @contextmanager
    def slot(self, tenant: str) -> Iterator[bool]:
        """True (and the slot, until the block ends) if one is free for ``tenant``."""
        with self._lock:
            mine = self._held.get(tenant, 0)
            free = sum(self._held.values()) < self.total and mine < self.per_tenant
            if free:
                self._held[tenant] = mine + 1
        try:
            yield free
        finally:
            if free:
                with self._lock:
                    self._held[tenant] -= 1
                    if not self._held[tenant]:
                        del self._held[tenant]


@dataclass
class ScenariosState:
    """What health says of the scenario set: when it was loaded, and the last error."""

    loaded_at: float = field(default_factory=time.time)
    last_error: str | None = None
    last_error_at: float | None = None

    def loaded(self) -> None:
        self.loaded_at, self.last_error, self.last_error_at = time.time(), None, None

    def failed(self, error: str) -> None:
        self.last_error, self.last_error_at = error, time.time()


class Clock:
    """Wall-clock time plus an operator-set shift, to test the timestamp window's edges."""

    def __init__(self) -> None:
        self.offset = 0.0

    def now(self) -> float:
        return time.time() + self.offset


def packaged_fixtures() -> Path:
    """The seed data shipped inside the package (``sandbox/fixtures/``; the repository's
    top-level ``fixtures`` is a link to it)."""
    return Path(str(resources.files("sandbox").joinpath("fixtures")))


def load_fixture_data(directory: str | None) -> dict[str, Any]:
    return read_fixtures(directory or packaged_fixtures())


DEFAULT_TENANT = "default"
MAX_RUNTIME_PARTNERS = 64  # bounded: each holds an in-memory copy of the fixtures


class PartnerError(ValueError):
    """A partner cannot be created."""


def _tenant(
    config: Config,
    name: str,
    secret: str,
    scenarios: ScenarioSet,
    fixtures: dict[str, Any],
    db: str,
) -> Tenant:
    store = Store(tenant_db_path(db, name))
    store.load_fixtures(fixtures)
    tenant = Tenant(name, secret, store, Engine(scenarios), Journal(config.journal_size))
    tenant.create_named_clients()
    return tenant


def tenant_db_path(db: str, name: str) -> str:
    """Where a partner's ledger lives: its own SQLite file next to the default one."""
    if db == ":memory:" or name == DEFAULT_TENANT:
        return db
    path = Path(db)
    return str(path.with_name(f"{path.stem}.partner-{name}{path.suffix or '.db'}"))


@dataclass
class Tenant:
    """One partner's isolated sandbox: its secret, ledger, journal, overrides and clock.

    The default tenant holds the deployment's secret; every configured partner is another.
    The scenario *rules* of the file are shared; overrides and sequence positions are not.
    """

    name: str
    secret: str
    store: Store
    scenarios: Engine
    journal: Journal
    clock: Clock = field(default_factory=Clock)
    history: History = field(default_factory=History)  # for the readiness report

    def create_named_clients(self) -> None:
        """Create the scenario file's named clients that do not exist yet."""
        now = iso_ms(self.clock.now())
        for setup in self.scenarios.scenarios.clients.values():
            self.store.ensure_client(setup, now)

    def reset(self, *, keep_history: bool = False) -> None:
        """Ledger back to the fixtures and named clients; sequences, overrides, clock and
        journal cleared; the readiness history too, unless ``keep_history``."""
        self.store.reset()
        self.journal.clear()
        if not keep_history:
            self.history.clear()
        self.clock.offset = 0.0
        self.scenarios.reset()
        self.create_named_clients()


@dataclass
class Sandbox:
    """Everything one running sandbox owns: its tenants (the default one and the partners)."""

    config: Config
    tenants: dict[str, Tenant]
    started: float = field(default_factory=time.monotonic)
    base_url: str | None = None  # set by the server once it knows its port
    # None: the control plane is open (loopback and no token configured)
    control_token: str | None = field(default=None, repr=False)
    runtime_partners: frozenset[str] = frozenset()  # created through the control plane
    scenarios_state: ScenariosState = field(default_factory=ScenariosState)
    incidents: Incidents = field(default_factory=Incidents)
    holds: Holds = field(default_factory=lambda: Holds(100, 25))
    _watcher: threading.Thread | None = None
    _stop: threading.Event = field(default_factory=threading.Event)
    _partners_lock: threading.Lock = field(default_factory=threading.Lock)

    @classmethod
    def open(cls, config: Config, scenarios: ScenarioSet | None = None) -> Sandbox:
        """Open every tenant's ledger (filled from the fixtures when empty) and scenarios."""
        if scenarios is None:
            scenarios = load_effective(config.scenarios)
        if config.seed is not None:
            scenarios = replace(scenarios, seed=config.seed)
        fixtures = load_fixture_data(config.fixtures)
        secrets = {DEFAULT_TENANT: config.secret, **scenarios.partners}
        if config.secret in scenarios.partners.values():
            raise ConfigError("a partner's secret equals the default secret: give it its own")
        tenants: dict[str, Tenant] = {}
        for name, secret in secrets.items():
            tenants[name] = _tenant(config, name, secret, scenarios, fixtures, config.db)
        token = config.control_token
        if token is None and not is_loopback(config.host):
            token = secrets_module.token_urlsafe(24)  # printed once at start by the server
        holds = Holds(config.max_held, config.max_held_per_partner)
        return cls(config=config, tenants=tenants, control_token=token, holds=holds)

    # The default tenant's parts, for the single-partner path (and the tests).
    @property
    def default(self) -> Tenant:
        return self.tenants[DEFAULT_TENANT]

    @property
    def store(self) -> Store:
        return self.default.store

    @property
    def journal(self) -> Journal:
        return self.default.journal

    @property
    def scenarios(self) -> Engine:
        return self.default.scenarios

    @property
    def clock(self) -> Clock:
        return self.default.clock

    def reset(self) -> None:
        """Every tenant back to its starting state."""
        for tenant in self.tenants.values():
            tenant.reset()

    # ------------------------------------------------------------------ runtime partners

    def add_partner(self, name: str) -> Tenant:
        """A partner created at run time (e.g. one per pytest-xdist worker on a shared
        sandbox): its own secret, generated here, and its own in-memory ledger, journal,
        overrides and clock. Raises ``PartnerError`` for a taken name or a full table."""
        with self._partners_lock:
            if name in self.tenants:
                raise PartnerError(f"the partner {name!r} exists already")
            if len(self.runtime_partners) >= MAX_RUNTIME_PARTNERS:
                raise PartnerError(f"at most {MAX_RUNTIME_PARTNERS} partners created at run time")
            secret = secrets_module.token_urlsafe(24)
            scenarios = self.default.scenarios.scenarios
            fixtures = load_fixture_data(self.config.fixtures)
            tenant = _tenant(self.config, name, secret, scenarios, fixtures, ":memory:")
            # Copy on write: a request iterating the tenants never sees the dict change.
            self.tenants = {**self.tenants, name: tenant}
            self.runtime_partners = self.runtime_partners | {name}
            return tenant

    def remove_partner(self, name: str) -> bool:
        """Remove a partner created at run time; False if there is none of that name."""
        with self._partners_lock:
            if name not in self.runtime_partners:
                return False
            tenant = self.tenants[name]
            self.tenants = {k: v for k, v in self.tenants.items() if k != name}
            self.runtime_partners = self.runtime_partners - {name}
        tenant.store.close()
        return True

    def uptime(self) -> float:
        return time.monotonic() - self.started

    # ------------------------------------------------------------------ hot reload

    def reload_scenarios(self) -> bool:
        """Re-read the scenarios file; on an error keep the current set and log where."""
        path = self.config.scenarios
        if not path:
            return False
        try:
            scenarios = load_effective(path)
            if self.config.seed is not None:
                scenarios = replace(scenarios, seed=self.config.seed)
        except ScenarioError as exc:
            self.scenarios_state.failed(str(exc))
            log.error("scenarios not reloaded, keeping the previous ones:\n%s", exc)
            return False
        for tenant in self.tenants.values():
            tenant.scenarios.replace(scenarios)
            tenant.create_named_clients()
        self.scenarios_state.loaded()
        log.warning("scenarios reloaded from %s (%d rules)", path, len(scenarios.rules))
        return True

    def watch_scenarios(self) -> None:
        """Poll the scenarios file; reload it once a change has been stable for
        ``RELOAD_STABLE_SECONDS`` (an editor writing it is never caught halfway)."""
        path = self.config.scenarios
        if not path or self._watcher is not None:
            return

        def signature() -> tuple[int, int] | None:
            try:
                st = Path(path).stat()
            except OSError:
                return None
            return st.st_mtime_ns, st.st_size

        applied = signature()  # before the thread starts: an edit right after start counts

        def run() -> None:
            nonlocal applied
            changed_at: float | None = None
            last = applied
            while not self._stop.wait(RELOAD_POLL_SECONDS):
                try:
                    now = signature()
                    if now != last:  # still changing: wait until it settles
                        last, changed_at = now, time.monotonic()
                        continue
                    settled = changed_at is not None and (
                        time.monotonic() - changed_at >= RELOAD_STABLE_SECONDS
                    )
                    if settled and now is not None and now != applied:
                        applied, changed_at = now, None
                        self.reload_scenarios()
                except Exception as exc:  # the watcher must outlive any surprise
                    self.scenarios_state.failed(f"{path}: {exc!r}")
                    log.error("scenarios watcher: %s: %r (keeps watching)", path, exc)

        self._watcher = threading.Thread(target=run, name="scenarios-watcher", daemon=True)
        self._watcher.start()

    def close(self) -> None:
        self._stop.set()
        if self._watcher is not None:
            self._watcher.join(timeout=2)
        for tenant in self.tenants.values():
            tenant.store.close()
