"""Every setting of the sandbox in one table: key, environment twin, CLI flag, default.

Precedence, highest first: the command-line flag, the ``SANDBOX_*`` environment variable, the
scenarios file (for the keys it may set), the built-in default. Nothing here reads the
environment at import time: ``load`` is called by the CLI (or a test) with what it has.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, fields
from typing import Any

DEFAULT_SECRET = "sandbox-secret"
DEFAULT_DB = os.path.join(".sandbox", "sandbox.db")


@dataclass(frozen=True)
class Setting:
    key: str
    env: str
    flag: str
    default: Any
    parse: Callable[[str], Any]
    help: str


SETTINGS: tuple[Setting, ...] = (
    Setting("host", "SANDBOX_HOST", "--host", "127.0.0.1", str, "Address to bind (loopback)."),
    Setting("port", "SANDBOX_PORT", "--port", 8080, int, "TCP port; 0 picks a free one."),
    Setting("db", "SANDBOX_DB", "--db", DEFAULT_DB, str, "SQLite file, or :memory:."),
    Setting("secret", "SANDBOX_SECRET", "--secret", DEFAULT_SECRET, str, "Default HMAC secret."),
    Setting("scenarios", "SANDBOX_SCENARIOS", "--scenarios", None, str, "scenarios.yaml path."),
    Setting(
        "timestamp_window",
        "SANDBOX_TIMESTAMP_WINDOW",
        "--timestamp-window",
        300,
        int,
        "Accepted |now - x-timestamp| in seconds, inclusive.",
    ),
    Setting(
        "signing_payload",
        "SANDBOX_SIGNING_PAYLOAD",
        "--signing-payload",
        "json",
        str,
        "POST payload: json (JSON.stringify form) or raw (exact bytes).",
    ),
    Setting(
        "duplicate_reference",
        "SANDBOX_DUPLICATE_REFERENCE",
        "--duplicate-reference",
        "allow",
        str,
        "A reused credit/debit reference: allow, reject (409) or replay.",
    ),
    Setting(
        "journal_size",
        "SANDBOX_JOURNAL_SIZE",
        "--journal-size",
        1000,
        int,
        "Requests kept in the journal (a ring buffer).",
    ),
    Setting(
        "seed",
        "SANDBOX_SEED",
        "--seed",
        None,
        int,
        "Seed of scenario probabilities and delay ranges; default: scenarios.yaml's.",
    ),
    Setting(
        "ready_file",
        "SANDBOX_READY_FILE",
        "--ready-file",
        None,
        str,
        "Write the URL to this file once ready (for any CI language).",
    ),
    Setting(
        "explain_in_body",
        "SANDBOX_EXPLAIN_IN_BODY",
        "--explain-in-body",
        False,
        lambda v: v.lower() in {"1", "true", "yes"},
        "Also put the signature diagnosis in the 401 body's data (off: the documented body).",
    ),
    Setting(
        "cpu",
        "SANDBOX_CPU",
        "--cpu",
        "auto",
        str,
        "Pin the server to one CPU: auto (one no other sandbox here holds), none, or a number.",
    ),
    Setting(
        "control_token",
        "SANDBOX_CONTROL_TOKEN",
        "--control-token",
        None,
        str,
        "Bearer token of /__sandbox/; generated when bound off loopback.",
    ),
    Setting("threads", "SANDBOX_THREADS", "--threads", 4, int, "waitress worker threads."),
    Setting(
        "request_timeout",
        "SANDBOX_REQUEST_TIMEOUT",
        "--request-timeout",
        10.0,
        float,
        "Seconds a request (headers and body) may take to arrive whole; then 408.",
    ),
    Setting(
        "idle_timeout",
        "SANDBOX_IDLE_TIMEOUT",
        "--idle-timeout",
        10.0,
        float,
        "Seconds an idle keep-alive connection is kept open.",
    ),
    Setting(
        "max_connections_per_address",
        "SANDBOX_MAX_CONNECTIONS_PER_ADDRESS",
        "--max-connections-per-address",
        32,
        int,
        "Connections one client address may hold at once (of 200); past it, 503.",
    ),
    Setting(
        "max_held",
        "SANDBOX_MAX_HELD",
        "--max-held",
        100,
        int,
        "Requests a delay or timeout scenario may hold at once (each has a thread of its own).",
    ),
    Setting(
        "max_held_per_partner",
        "SANDBOX_MAX_HELD_PER_PARTNER",
        "--max-held-per-partner",
        25,
        int,
        "Of those, how many one partner's requests may hold.",
    ),
    Setting(
        "login_base",
        "SANDBOX_LOGIN_BASE",
        "--login-base",
        None,
        str,
        "Base URL of loginLink; default: the sandbox's own URL.",
    ),
    Setting(
        "fixtures",
        "SANDBOX_FIXTURES",
        "--fixtures",
        None,
        str,
        "Seed data directory; default: the packaged fixtures.",
    ),
    Setting(
        "quiet",
        "SANDBOX_QUIET",
        "--quiet",
        False,
        lambda v: v.lower() in {"1", "true", "yes"},
        "Print only the SANDBOX_URL line.",
    ),
)


@dataclass(frozen=True)
class Config:
    host: str = "127.0.0.1"
    port: int = 8080
    db: str = DEFAULT_DB
    secret: str = field(default=DEFAULT_SECRET, repr=False)
    scenarios: str | None = None
    timestamp_window: int = 300
    signing_payload: str = "json"
    duplicate_reference: str = "allow"
    journal_size: int = 1000
    seed: int | None = None
    explain_in_body: bool = False
    cpu: str = "auto"
    control_token: str | None = field(default=None, repr=False)
    ready_file: str | None = None
    threads: int = 4
    request_timeout: float = 10.0
    idle_timeout: float = 10.0
    max_connections_per_address: int = 32
    max_held: int = 100
    max_held_per_partner: int = 25
    login_base: str | None = None
    fixtures: str | None = None
    quiet: bool = False
    # Where each value came from, for the start-up banner (never the values of secrets).
    sources: Mapping[str, str] = field(default_factory=dict, compare=False)


class ConfigError(ValueError):
    """A setting has a value the sandbox cannot use."""


def load(
    flags: Mapping[str, Any] | None = None,
    env: Mapping[str, str] | None = None,
    file_values: Mapping[str, Any] | None = None,
) -> Config:
    """Resolve every setting from flags, environment and file values (in that precedence)."""
    flags = flags or {}
    env = env if env is not None else {}
    file_values = file_values or {}
    values: dict[str, Any] = {}
    sources: dict[str, str] = {}
    for s in SETTINGS:
        if flags.get(s.key) is not None:
            values[s.key], sources[s.key] = flags[s.key], "flag"
        elif env.get(s.env) not in (None, ""):
            try:
                values[s.key] = s.parse(env[s.env])
            except ValueError:
                raise ConfigError(f"{s.env}={env[s.env]!r} is not a valid {s.key}") from None
            sources[s.key] = "env"
        elif file_values.get(s.key) is not None:
            values[s.key], sources[s.key] = file_values[s.key], "scenarios"
        else:
            values[s.key], sources[s.key] = s.default, "default"
    config = Config(**values, sources=sources)
    _check(config)
    return config


def is_loopback(host: str) -> bool:
    """True for addresses only this machine can reach."""
    return host == "localhost" or host == "::1" or host.startswith("127.")


def _check(config: Config) -> None:
    if config.signing_payload not in ("json", "raw"):
        raise ConfigError("signing_payload must be 'json' or 'raw'")
    if config.duplicate_reference not in ("allow", "reject", "replay"):
        raise ConfigError("duplicate_reference must be 'allow', 'reject' or 'replay'")
    if config.timestamp_window < 0:
        raise ConfigError("timestamp_window must be >= 0")
    if not 0 <= config.port <= 65535:
        raise ConfigError("port must be between 0 and 65535")
    if config.cpu not in ("auto", "none") and not config.cpu.isdigit():
        raise ConfigError("cpu must be auto, none or a CPU number")
    if not 1 <= config.journal_size <= 100_000:
        raise ConfigError("journal_size must be between 1 and 100000")
    if config.threads < 1:
        raise ConfigError("threads must be >= 1")
    if config.request_timeout <= 0 or config.idle_timeout <= 0:
        raise ConfigError("request_timeout and idle_timeout must be > 0")
    if not 1 <= config.max_connections_per_address <= 200:
        raise ConfigError("max_connections_per_address must be between 1 and 200")
    if not 0 <= config.max_held <= 1000:
        raise ConfigError("max_held must be between 0 and 1000")
    if config.max_held_per_partner < 0:
        raise ConfigError("max_held_per_partner must be >= 0")
    if not config.secret:
        raise ConfigError("secret must not be empty")
    if config.control_token is not None and not config.control_token.strip():
        raise ConfigError(
            "the control token is empty: give --control-token (or SANDBOX_CONTROL_TOKEN) a "
            "value, or leave it unset to have one generated off loopback"
        )


CONFIG_KEYS = tuple(f.name for f in fields(Config) if f.name != "sources")
