"""Configuration precedence: flag > environment > scenarios.yaml > default."""

from __future__ import annotations

import pytest

from sandbox.config import DEFAULT_SECRET, ConfigError, load


def test_defaults() -> None:
    config = load()
    assert (config.host, config.port, config.secret) == ("127.0.0.1", 8080, DEFAULT_SECRET)
    assert config.db.endswith("sandbox.db")
    assert config.timestamp_window == 300


def test_precedence() -> None:
    file_values = {"secret": "from-file"}
    assert load(file_values=file_values).secret == "from-file"
    env = {"SANDBOX_SECRET": "from-env", "SANDBOX_PORT": "9000"}
    config = load(env=env, file_values=file_values)
    assert (config.secret, config.port) == ("from-env", 9000)
    config = load({"secret": "from-flag", "port": None}, env, file_values)
    assert (config.secret, config.port) == ("from-flag", 9000)
    assert config.sources["secret"] == "flag"


@pytest.mark.parametrize(
    ("env", "words"),
    [
        ({"SANDBOX_PORT": "eighty"}, "SANDBOX_PORT"),
        ({"SANDBOX_SIGNING_PAYLOAD": "xml"}, "signing_payload"),
        ({"SANDBOX_TIMESTAMP_WINDOW": "-1"}, "timestamp_window"),
    ],
    ids=["port", "payload", "window"],
)
def test_bad_values_are_named(env: dict[str, str], words: str) -> None:
    with pytest.raises(ConfigError, match=words):
        load(env=env)
