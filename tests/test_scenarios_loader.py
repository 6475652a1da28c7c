"""scenarios.yaml validation: every problem named by file, line and key path."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from sandbox.scenarios import ScenarioError, load_file, load_text, loader, parse_runtime_rule
from sandbox.scenarios.model import Delay

ROOT = Path(__file__).resolve().parents[1]


def errors(text: str) -> list[str]:
    with pytest.raises(ScenarioError) as info:
        load_text(text, "s.yaml")
    return str(info.value).splitlines()


def test_the_shipped_file_is_valid_and_has_every_magic_client() -> None:
    loaded = load_file(ROOT / "scenarios.yaml")
    assert set(loaded.rules) == {
        "CLIENT_NOT_FOUND",
        "CLIENT_VALIDATION",
        "CLIENT_BAD_SIGNATURE",
        "CLIENT_SERVER_ERROR",
        "CLIENT_INSUFFICIENT",
        "CLIENT_SLOW",
        "CLIENT_TIMEOUT",
        "CLIENT_DROP",
        "CLIENT_FLAKY",
        "CLIENT_APPLIED_THEN_FAILED",
        "READY_*",  # the readiness preset, for every clientId starting with READY_
    }
    assert loaded.rules["CLIENT_SLOW"].steps[0].delay == Delay(2.0, 2.0)
    assert loaded.rules["CLIENT_TIMEOUT"].steps[0].after == 35
    assert loaded.clients["CLIENT_INSUFFICIENT"].balance_cents == 0


BROKEN = [
    (
        "unknown-top",
        "colour: red\n",
        "s.yaml:1: colour: unknown key (expected one of: version, builtin, secret, seed, "
        "duplicateReference, "
        "partners, clients, scenarios)",
    ),
    (
        "unknown-outcome",
        "scenarios:\n  A:\n    sequence: [server-error, sucess]\n",
        "s.yaml:3: scenarios.A.sequence[1]: unknown outcome 'sucess' (expected one of: success, "
        "validation, not-found, invalid-signature, server-error, insufficient-balance, timeout, "
        "drop, malformed, applied-then-failed)",
    ),
    (
        "delay-type",
        "scenarios:\n  A:\n    delay: [1, 2, 3]\n",
        "s.yaml:3: scenarios.A.delay: a delay range is [low, high]",
    ),
    (
        "delay-text",
        "scenarios:\n  A: {delay: soon}\n",
        "s.yaml:2: scenarios.A.delay: 'soon' is not a delay (write 2, 2s, 500ms or [1, 3])",
    ),
    (
        "endpoint",
        "scenarios:\n  A:\n    endpoints:\n      get-balanse: drop\n",
        "s.yaml:4: scenarios.A.endpoints.get-balanse: unknown key (expected one of: "
        "generate-auth-token, get-balance, credit-balance, debit-balance, get-transactions)",
    ),
    (
        "duplicate-key",
        "scenarios:\n  A: {outcome: drop}\n  A: {outcome: drop}\n",
        "s.yaml:3: scenarios.A: duplicate key",
    ),
    ("bad-yaml", "scenarios:\n  A: [unclosed\n", "s.yaml:3: (top level): not valid YAML"),
    (
        "probability",
        "scenarios:\n  A: {outcome: drop, probability: 2}\n",
        "s.yaml:2: scenarios.A.probability: must be between 0 and 1",
    ),
    ("seed", "seed: abc\n", "s.yaml:1: seed: must be an integer, not a string"),
    (
        "policy",
        "duplicateReference: maybe\n",
        "s.yaml:1: duplicateReference: unknown policy 'maybe' (expected one of: allow, reject, replay)",
    ),
    (
        "balance",
        "clients:\n  A: {balance: -1}\n",
        "s.yaml:2: clients.A.balance: must be between 0 and 1e+09",
    ),
    (
        "client-key",
        "clients:\n  A: {balanse: 1}\n",
        "s.yaml:2: clients.A.balanse: unknown key (expected one of: balance, username, displayName, "
        "ipAddress)",
    ),
    (
        "empty-rule",
        "scenarios:\n  A: {}\n",
        "s.yaml:2: scenarios.A: give an outcome, a sequence, a delay or endpoints",
    ),
    (
        "both",
        "scenarios:\n  A: {outcome: drop, sequence: [drop]}\n",
        "s.yaml:2: scenarios.A.sequence: give either outcome or sequence, not both",
    ),
    (
        "then",
        "scenarios:\n  A: {outcome: applied-then-failed, then: explode}\n",
        "s.yaml:2: scenarios.A.then: unknown failure 'explode' (expected one of: server-error, drop)",
    ),
    (
        "errors",
        "scenarios:\n  A: {outcome: validation, errors: [x]}\n",
        "s.yaml:2: scenarios.A.errors: must be a mapping of field -> list of messages",
    ),
    ("secret", "secret: 5\n", "s.yaml:1: secret: must be a string, not a number"),
    (
        "duplicate-anchor",
        "clients:\n  A: &c {balance: 1}\n  B: &c {balance: 2}\n",
        "s.yaml:3: (top level): not valid YAML: found duplicate anchor 'c'; first occurrence "
        "(line 2), second occurrence",
    ),
    (
        "control-character",  # refused by PyYAML's reader before any parsing
        "version: 1\nseed: \x07\n",
        "s.yaml:2: (top level): not valid YAML: unacceptable character #x0007 (special "
        "characters are not allowed)",
    ),
    (
        "impossible-date",  # it looks like a date to YAML, which then cannot build it
        "version: 1\nseed: 2001-02-30\n",
        "s.yaml:2: seed: cannot read '2001-02-30': day is out of range for month",
    ),
]


@pytest.mark.parametrize(("text", "expected"), [c[1:] for c in BROKEN], ids=[c[0] for c in BROKEN])
def test_located_errors(text: str, expected: str) -> None:
    got = errors(text)
    assert any(line.startswith(expected) for line in got), got


def test_all_problems_are_reported_in_line_order() -> None:
    got = errors("seed: x\nscenarios:\n  A: {outcome: nope}\n  B: {delay: -1}\nextra: 1\n")
    assert [line.split(":")[1] for line in got] == ["1", "3", "4", "5"]


def test_sequence_steps_inherit_the_rule_delay() -> None:
    loaded = load_text(
        "scenarios:\n  A:\n    delay: 500ms\n    sequence: [drop, {outcome: success, delay: 0}]\n"
    )
    steps = loaded.rules["A"].steps
    assert steps[0].delay == Delay(0.5, 0.5)
    assert steps[1].delay == Delay(0.0, 0.0)


def test_an_empty_file_is_refused_and_version_1_is_an_empty_set() -> None:
    # An empty file is what an editor leaves for an instant while it writes: never applied.
    with pytest.raises(ScenarioError, match="the file is empty"):
        load_text("")
    assert load_text("version: 1\n").rules == {}


def test_unreadable_file(tmp_path: Path) -> None:
    with pytest.raises(ScenarioError, match="cannot read"):
        load_file(tmp_path / "missing.yaml")


def test_unsafe_yaml_tags_are_refused() -> None:
    text = "scenarios: !!python/object/apply:os.system ['true']\n"
    with pytest.raises(ScenarioError):
        load_text(text)


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"outcome": "explode"}, "unknown outcome"),
        ({"outcome": "drop", "times": 0}, "must be an integer >= 1"),
        ({"outcome": "drop", "colour": 1}, "unknown key"),
        ([], "must be a mapping"),
    ],
    ids=["outcome", "times", "key", "list"],
)
def test_runtime_rules_are_validated_the_same_way(body: object, message: str) -> None:
    with pytest.raises(ScenarioError, match=message):
        parse_runtime_rule(body)


# ------------------------------------------------------------- libyaml, and the fallback to Python

PURE = yaml.SafeLoader
DOCUMENTS = {
    "shipped": (ROOT / "scenarios.yaml").read_text(),
    "built-in": (ROOT / "sandbox" / "scenarios" / "builtin.yaml").read_text(),
    "anchors": "clients:\n  A: &c {balance: 5}\n  B: *c\nscenarios:\n  X: {outcome: drop}\n",
    "block-scalar": "secret: |\n  two\n  lines\nseed: 7\n",
    "non-string-key": "scenarios:\n  1: {outcome: drop}\n",
    **{name: text for name, text, _ in BROKEN},
}


def outcome(parse: Callable[[], tuple[object, loader._Lines]]) -> object:
    """What a parse gives: the values and their lines, or the error it raises."""
    try:
        value, lines = parse()
    except ScenarioError as exc:
        return str(exc)
    return value, lines.lines


@pytest.mark.skipif(loader._FAST_LOADER is None, reason="PyYAML was built without libyaml")
@pytest.mark.parametrize("text", DOCUMENTS.values(), ids=DOCUMENTS.keys())
def test_libyaml_gives_what_the_pure_python_loader_gives(text: str) -> None:
    assert outcome(lambda: loader.parse_yaml(text, "s.yaml")) == outcome(
        lambda: loader._compose(text, "s.yaml", PURE)
    )


def test_a_valid_shallow_document_is_composed_by_libyaml_and_the_rest_by_python(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    if loader._FAST_LOADER is None:
        pytest.skip("PyYAML was built without libyaml")
    used: list[str] = []
    compose = loader._compose

    def spy(text: str, source: str | None, loader_class: Any) -> tuple[Any, loader._Lines]:
        used.append(loader_class.__name__)
        return compose(text, source, loader_class)

    monkeypatch.setattr(loader, "_compose", spy)
    loader.parse_yaml(DOCUMENTS["shipped"])
    assert used == ["CSafeLoader"]
    for text in ("scenarios:\n  A: [unclosed\n", "a: " + "[" * 40 + "]" * 40):
        used.clear()
        with pytest.raises(ScenarioError):
            loader.parse_yaml(text)
        assert used[-1] == "SafeLoader", text


def nested(levels: int) -> str:
    """A document whose collections nest ``levels`` deep, the top-level mapping included."""
    return "a: " + "[" * (levels - 1) + "]" * (levels - 1) + "\n"


@pytest.mark.skipif(loader._FAST_LOADER is None, reason="PyYAML was built without libyaml")
def test_libyaml_is_trusted_only_with_documents_nested_within_the_limit() -> None:
    assert loader._shallow(nested(loader.MAX_NESTING + 1))
    assert not loader._shallow(nested(loader.MAX_NESTING + 2))
    assert not loader._shallow("a: [unclosed\n")  # what libyaml rejects goes to Python
    assert loader._shallow("")
