"""Read and validate scenarios.yaml, with errors that name the file, the line and the key path.

The YAML is composed into nodes with PyYAML's *safe* loader (so every value keeps its line),
turned into plain Python values, then checked by one validator that also serves the runtime
control plane (JSON bodies, where there are no lines). Every problem is collected, so one run of
``sabong-sandbox scenarios check`` lists all of them.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any

import yaml

from .. import api
from .model import (
    APPLIED_THEN,
    BUILTIN,
    DEFAULT_SEED,
    ENDPOINTS,
    FAULTS,
    MALFORMED_BODIES,
    OUTCOMES,
    ClientSetup,
    Delay,
    Rule,
    ScenarioSet,
    Step,
)

PathKey = tuple[str | int, ...]

TOP_KEYS = (
    "version",
    "builtin",
    "secret",
    "seed",
    "duplicateReference",
    "partners",
    "clients",
    "scenarios",
)
PARTNER_KEYS = ("secret",)
PARTNER_NAME = re.compile(r"[A-Za-z0-9_-]{1,64}")
CLIENT_KEYS = ("balance", "username", "displayName", "ipAddress")
STEP_KEYS = ("outcome", "delay", "errors", "after", "then", "body")
RULE_KEYS = (*STEP_KEYS, "sequence", "cycle", "probability", "description", "endpoints")
MAX_DELAY_SECONDS = 600.0
_DELAY_TEXT = re.compile(r"(\d+(?:\.\d+)?)\s*(ms|s)?")


@dataclass(frozen=True)
class Problem:
    path: PathKey
    message: str
    line: int | None = None

    def format(self, source: str | None) -> str:
        where = source or "<input>"
        if self.line is not None:
            where += f":{self.line}"
        key = format_path(self.path) or "(top level)"
        return f"{where}: {key}: {self.message}"


class ScenarioError(ValueError):
    """The scenarios cannot be used; ``problems`` holds each located error."""

    def __init__(self, problems: list[Problem], source: str | None = None) -> None:
        self.problems = problems
        self.source = source
        super().__init__("\n".join(p.format(source) for p in problems))


def format_path(path: PathKey) -> str:
    out = ""
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


# --------------------------------------------------------------------------- YAML -> values


class _Lines:
    """Path -> line number, for the values composed from YAML."""

    def __init__(self) -> None:
        self.lines: dict[PathKey, int] = {}
        self.visited = 0  # values composed so far (aliases counted each time)

    def get(self, path: PathKey) -> int | None:
        while path:
            if path in self.lines:
                return self.lines[path]
            path = path[:-1]
        return self.lines.get(())


MAX_NESTING = 32  # a scenarios file is a few levels deep; anything deeper is a mistake
MAX_NODES = 100_000  # aliases can multiply a small file (a "billion laughs")
MAX_FILE_BYTES = 1024 * 1024


class _TooBig(Exception):
    """The document nests too deeply, refers to itself or grows too large."""

    def __init__(self, message: str, line: int) -> None:
        super().__init__(message)
        self.line = line


def _to_python(
    node: yaml.Node,
    path: PathKey,
    lines: _Lines,
    problems: list[Problem],
    loader: yaml.SafeLoader | yaml.CSafeLoader,
    ancestors: tuple[int, ...] = (),
) -> Any:
    line = node.start_mark.line + 1
    if id(node) in ancestors:
        raise _TooBig("an alias refers to the anchor that contains it (a recursive anchor)", line)
    if len(path) > MAX_NESTING:
        raise _TooBig(f"nested more than {MAX_NESTING} levels deep", line)
    lines.visited += 1
    if lines.visited > MAX_NODES:
        raise _TooBig(f"more than {MAX_NODES} values once aliases are expanded", line)
    lines.lines[path] = line
    ancestors = (*ancestors, id(node))
    if isinstance(node, yaml.MappingNode):
        out: dict[str, Any] = {}
        for key_node, value_node in node.value:
            key = _scalar(key_node, path, problems, loader)
            key_text = str(key)
            if not isinstance(key, str):
                problems.append(
                    Problem((*path, key_text), "keys must be strings", key_node.start_mark.line + 1)
                )
            if key_text in out:
                problems.append(
                    Problem((*path, key_text), "duplicate key", key_node.start_mark.line + 1)
                )
            out[key_text] = _to_python(
                value_node, (*path, key_text), lines, problems, loader, ancestors
            )
        return out
    if isinstance(node, yaml.SequenceNode):
        return [
            _to_python(item, (*path, i), lines, problems, loader, ancestors)
            for i, item in enumerate(node.value)
        ]
    return _scalar(node, path, problems, loader)


def _scalar(
    node: yaml.Node,
    path: PathKey,
    problems: list[Problem],
    loader: yaml.SafeLoader | yaml.CSafeLoader,
) -> Any:
    """A value PyYAML recognised by its form but cannot build (``2001-02-30`` looks like a
    date) is a located problem, not a crash."""
    try:
        return loader.construct_object(node, deep=True)
    except (ValueError, OverflowError) as exc:
        problems.append(
            Problem(path, f"cannot read {node.value!r}: {exc}", node.start_mark.line + 1)
        )
        return None


def parse_yaml(text: str, source: str | None = None) -> tuple[Any, _Lines]:
    """Compose ``text`` with the safe loader into plain values and their line numbers.

    libyaml's composer (``CSafeLoader``, where PyYAML was built with it) is about ten times
    faster than the pure-Python one: 3 ms instead of 30 ms of every start for the built-in set
    and a file of the same size. It composes recursively in C, where a deep document would
    overflow the stack instead of raising ``RecursionError``, so its events (a flat stream) are
    walked first, and a document nested deeper than ``MAX_NESTING`` is left to the pure-Python
    loader, as is any document libyaml rejects: every error is the pure-Python loader's, word
    for word, whichever parser PyYAML has."""
    if _FAST_LOADER is not None and _shallow(text):
        try:
            return _compose(text, source, _FAST_LOADER)
        except yaml.YAMLError:
            pass  # the pure-Python loader says what is wrong, in its own words
    return _compose(text, source, yaml.SafeLoader)


_FAST_LOADER: type[yaml.CSafeLoader] | None = getattr(yaml, "CSafeLoader", None)
_OPENING = (yaml.MappingStartEvent, yaml.SequenceStartEvent)
_CLOSING = (yaml.MappingEndEvent, yaml.SequenceEndEvent)


def _shallow(text: str) -> bool:
    """Whether libyaml reads ``text`` as collections nested at most ``MAX_NESTING`` deep."""
    assert _FAST_LOADER is not None
    try:
        loader = _FAST_LOADER(text)
    except (yaml.YAMLError, ValueError):  # text libyaml cannot take (a lone surrogate)
        return False
    depth = 0
    try:
        while (event := loader.get_event()) is not None:
            if isinstance(event, _OPENING):
                depth += 1
                if depth > MAX_NESTING + 1:  # the top-level mapping is depth 1
                    return False
            elif isinstance(event, _CLOSING):
                depth -= 1
    except yaml.YAMLError:
        return False
    finally:
        loader.dispose()
    return True


def _compose(
    text: str, source: str | None, loader_class: type[yaml.SafeLoader] | type[yaml.CSafeLoader]
) -> tuple[Any, _Lines]:
    try:
        loader = loader_class(text)  # PyYAML's reader refuses control characters here
    except yaml.reader.ReaderError as exc:
        at = text.count("\n", 0, exc.position) + 1
        character = (
            f"character #x{exc.character:04x}" if isinstance(exc.character, int) else "character"
        )
        message = f"not valid YAML: unacceptable {character} ({exc.reason})"
        raise ScenarioError([Problem((), message, at)], source) from None
    lines = _Lines()
    problems: list[Problem] = []
    try:
        node = loader.get_single_node()
        value = None if node is None else _to_python(node, (), lines, problems, loader)
    except _TooBig as exc:
        raise ScenarioError([Problem((), str(exc), exc.line)], source) from None
    except RecursionError:  # PyYAML composes recursively: thousands of levels exhaust it
        raise ScenarioError(
            [Problem((), f"nested more than {MAX_NESTING} levels deep")], source
        ) from None
    except yaml.MarkedYAMLError as exc:
        if loader_class is not yaml.SafeLoader:
            raise
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark is not None else None
        what = exc.problem or exc.context
        if exc.problem and exc.context and exc.context.startswith("found") and exc.context_mark:
            # "found duplicate anchor 'x'; first occurrence" is the news, "second occurrence"
            # (where the error is located) only its end
            what = f"{exc.context} (line {exc.context_mark.line + 1}), {exc.problem}"
        raise ScenarioError([Problem((), f"not valid YAML: {what}", line)], source) from None
    except yaml.YAMLError as exc:
        if loader_class is not yaml.SafeLoader:
            raise
        raise ScenarioError([Problem((), f"not valid YAML: {exc}")], source) from None
    finally:
        loader.dispose()
    if problems:
        raise ScenarioError(problems, source)
    return value, lines


# --------------------------------------------------------------------------- validation


class _Check:
    def __init__(self, lines: _Lines | None) -> None:
        self.lines = lines
        self.problems: list[Problem] = []

    def fail(self, path: PathKey, message: str) -> None:
        self.problems.append(Problem(path, message, self.lines.get(path) if self.lines else None))

    def mapping(self, value: Any, path: PathKey, allowed: tuple[str, ...]) -> dict[str, Any]:
        if not isinstance(value, dict):
            self.fail(path, f"must be a mapping, not {_kind(value)}")
            return {}
        for key in value:
            if key not in allowed:
                self.fail((*path, key), f"unknown key (expected one of: {', '.join(allowed)})")
        return value

    def free_mapping(self, value: Any, path: PathKey, what: str) -> dict[str, Any]:
        """A mapping whose keys are data (client ids), not schema keys."""
        if not isinstance(value, dict):
            self.fail(path, f"must be a mapping of {what}, not {_kind(value)}")
            return {}
        return value

    def choice(self, value: Any, path: PathKey, allowed: tuple[str, ...], what: str) -> str | None:
        if not isinstance(value, str) or value not in allowed:
            self.fail(path, f"unknown {what} {value!r} (expected one of: {', '.join(allowed)})")
            return None
        return value

    def number(self, value: Any, path: PathKey, low: float, high: float) -> float | None:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            self.fail(path, f"must be a number, not {_kind(value)}")
            return None
        if not low <= value <= high:
            self.fail(path, f"must be between {low:g} and {high:g}")
            return None
        return float(value)

    def text(self, value: Any, path: PathKey) -> str | None:
        if not isinstance(value, str):
            self.fail(path, f"must be a string, not {_kind(value)}")
            return None
        return value


def _kind(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, (int, float)):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "a mapping"
    return type(value).__name__


def _delay(check: _Check, value: Any, path: PathKey) -> Delay | None:
    if isinstance(value, list):
        if len(value) != 2:
            check.fail(path, "a delay range is [low, high]")
            return None
        low = check.number(value[0], (*path, 0), 0, MAX_DELAY_SECONDS)
        high = check.number(value[1], (*path, 1), 0, MAX_DELAY_SECONDS)
        if low is None or high is None:
            return None
        if low > high:
            check.fail(path, "a delay range is [low, high] with low <= high")
            return None
        return Delay(low, high)
    if isinstance(value, str):
        match = _DELAY_TEXT.fullmatch(value.strip())
        if not match:
            check.fail(path, f"{value!r} is not a delay (write 2, 2s, 500ms or [1, 3])")
            return None
        seconds = float(match[1]) / (1000 if match[2] == "ms" else 1)
        value = seconds
    seconds_value = check.number(value, path, 0, MAX_DELAY_SECONDS)
    return None if seconds_value is None else Delay(seconds_value, seconds_value)


def _errors(check: _Check, value: Any, path: PathKey) -> dict[str, list[str]] | None:
    if not isinstance(value, dict) or not value:
        check.fail(path, "must be a mapping of field -> list of messages")
        return None
    out: dict[str, list[str]] = {}
    for field, messages in value.items():
        if isinstance(messages, str):
            messages = [messages]
        if not isinstance(messages, list) or not all(isinstance(m, str) for m in messages):
            check.fail((*path, field), "must be a message or a list of messages")
            continue
        out[field] = messages
    return out


def _step(check: _Check, value: Any, path: PathKey, defaults: Step | None = None) -> Step | None:
    """A step: an outcome name, or a mapping of step keys (unset keys from ``defaults``)."""
    base = defaults or Step()
    if isinstance(value, str):
        outcome = check.choice(value, path, OUTCOMES, "outcome")
        return None if outcome is None else _replace(base, outcome=outcome)
    fields = check.mapping(value, path, STEP_KEYS)
    if not fields:
        return None
    changes: dict[str, Any] = {}
    before = len(check.problems)
    if "outcome" in fields:
        changes["outcome"] = check.choice(
            fields["outcome"], (*path, "outcome"), OUTCOMES, "outcome"
        )
    if "delay" in fields:
        changes["delay"] = _delay(check, fields["delay"], (*path, "delay"))
    if "errors" in fields:
        changes["errors"] = _errors(check, fields["errors"], (*path, "errors"))
    if "after" in fields:
        changes["after"] = check.number(fields["after"], (*path, "after"), 0, MAX_DELAY_SECONDS)
    if "then" in fields:
        changes["then"] = check.choice(fields["then"], (*path, "then"), APPLIED_THEN, "failure")
    if "body" in fields:
        changes["body"] = check.choice(fields["body"], (*path, "body"), MALFORMED_BODIES, "body")
    if len(check.problems) > before:
        return None
    return _replace(base, **changes)


def _replace(step: Step, **changes: Any) -> Step:
    from dataclasses import replace

    return replace(step, **changes)


def validate_rule(check: _Check, value: Any, path: PathKey, *, nested: bool = False) -> Rule | None:
    """A client's rule (or, ``nested``, an endpoint's rule inside it)."""
    allowed = tuple(k for k in RULE_KEYS if not (nested and k == "endpoints"))
    if isinstance(value, str):
        step = _step(check, value, path)
        return None if step is None else Rule(steps=(step,))
    fields = check.mapping(value, path, allowed)
    if not isinstance(value, dict):
        return None
    before = len(check.problems)
    step_fields = {k: fields[k] for k in STEP_KEYS if k in fields}
    defaults = _step(check, step_fields, path) if step_fields else Step()
    if "sequence" in fields and "outcome" in fields:
        check.fail((*path, "sequence"), "give either outcome or sequence, not both")
    steps: list[Step] = []
    if "sequence" in fields:
        sequence = fields["sequence"]
        if not isinstance(sequence, list) or not sequence:
            check.fail((*path, "sequence"), "must be a non-empty list of steps")
        else:
            for i, item in enumerate(sequence):
                step = _step(check, item, (*path, "sequence", i), defaults)
                if step is not None:
                    steps.append(step)
    elif step_fields and defaults is not None:
        steps.append(defaults)
    cycle = False
    if "cycle" in fields:
        if not isinstance(fields["cycle"], bool):
            check.fail((*path, "cycle"), "must be true or false")
        else:
            cycle = fields["cycle"]
    probability = 1.0
    if "probability" in fields:
        probability = check.number(fields["probability"], (*path, "probability"), 0, 1) or 0.0
    description = ""
    if "description" in fields:
        description = check.text(fields["description"], (*path, "description")) or ""
    endpoints: dict[str, Rule] = {}
    if "endpoints" in fields:
        mapping = check.mapping(fields["endpoints"], (*path, "endpoints"), ENDPOINTS)
        for name, sub in mapping.items():
            if name in ENDPOINTS:
                where = (*path, "endpoints", name)
                rule = validate_rule(check, sub, where, nested=True)
                if rule is not None and _outcomes_allowed(check, rule, where, name):
                    endpoints[name] = rule
    if not steps and not endpoints and len(check.problems) == before:
        check.fail(path, "give an outcome, a sequence, a delay or endpoints")
    if len(check.problems) > before:
        return None
    return Rule(tuple(steps), cycle, probability, description, endpoints)


def _outcomes_allowed(check: _Check, rule: Rule, path: PathKey, endpoint: str) -> bool:
    """Every step forces a response the endpoint documents (faults go anywhere)."""
    allowed = api.BY_NAME[endpoint].outcomes
    ok = True
    for i, step in enumerate(rule.steps):
        if step.outcome in FAULTS or step.outcome in allowed:
            continue
        where = (*path, "sequence", i) if rule.is_sequence else (*path, "outcome")
        check.fail(
            where,
            f"{step.outcome} is not an outcome of {endpoint} (its outcomes: "
            f"{', '.join(allowed)}; the faults {', '.join(FAULTS)} apply anywhere)",
        )
        ok = False
    return ok


def _cents(check: _Check, value: Any, path: PathKey) -> int | None:
    amount = check.number(value, path, 0, 999_999_999.99)
    if amount is None:
        return None
    from decimal import Decimal

    exact = Decimal(repr(amount))
    if exact.as_tuple().exponent < -2:  # type: ignore[operator]
        check.fail(path, "must have at most 2 decimals")
        return None
    return int(exact * 100)


def validate(document: Any, lines: _Lines | None = None, source: str | None = None) -> ScenarioSet:
    """Check a whole scenarios document; raises ``ScenarioError`` with every problem."""
    check = _Check(lines)
    if document is None:
        # Empty, or comments only: what an editor leaves for an instant while it writes. A
        # deliberately empty set says so.
        raise ScenarioError(
            [Problem((), "the file is empty: write `version: 1` for a deliberately empty set")],
            source,
        )
    top = check.mapping(document, (), TOP_KEYS)
    if "version" in top and top["version"] != 1:
        check.fail(("version",), "only version 1 exists")
    secret = None
    if "secret" in top:
        secret = check.text(top["secret"], ("secret",))
        if secret == "":
            check.fail(("secret",), "must not be empty")
    seed = DEFAULT_SEED
    if "seed" in top:
        if isinstance(top["seed"], bool) or not isinstance(top["seed"], int):
            check.fail(("seed",), f"must be an integer, not {_kind(top['seed'])}")
        else:
            seed = top["seed"]
    extends = True
    if "builtin" in top:
        if not isinstance(top["builtin"], bool):
            check.fail(("builtin",), f"must be true or false, not {_kind(top['builtin'])}")
        else:
            extends = top["builtin"]
    duplicate = None
    if "duplicateReference" in top:
        duplicate = check.choice(
            top["duplicateReference"],
            ("duplicateReference",),
            ("allow", "reject", "replay"),
            "policy",
        )
    clients: dict[str, ClientSetup] = {}
    if "clients" in top:
        raw = check.free_mapping(top["clients"], ("clients",), "clientId -> client")
        for client_id, spec in raw.items():
            path: PathKey = ("clients", client_id)
            if spec is None:
                spec = {}
            fields = check.mapping(spec, path, CLIENT_KEYS)
            cents = (
                _cents(check, fields["balance"], (*path, "balance")) if "balance" in fields else 0
            )
            texts = {
                key: check.text(fields[key], (*path, key))
                for key in CLIENT_KEYS[1:]
                if key in fields
            }
            clients[client_id] = ClientSetup(
                client_id,
                cents or 0,
                texts.get("username"),
                texts.get("displayName"),
                texts.get("ipAddress") or "127.0.0.1",
            )
    rules: dict[str, Rule] = {}
    if "scenarios" in top:
        raw_rules = check.free_mapping(top["scenarios"], ("scenarios",), "clientId -> scenario")
        for client_id, spec in raw_rules.items():
            rule = validate_rule(check, spec, ("scenarios", client_id))
            if rule is not None:
                rules[client_id] = rule
    partners: dict[str, str] = {}
    if "partners" in top:
        raw_partners = check.free_mapping(top["partners"], ("partners",), "name -> partner")
        for name, spec in raw_partners.items():
            path = ("partners", name)
            if not PARTNER_NAME.fullmatch(name) or name == "default":
                check.fail(path, "a partner name is 1-64 letters, digits, _ or - (not 'default')")
                continue
            fields = check.mapping(spec, path, PARTNER_KEYS)
            partner_secret = check.text(fields.get("secret"), (*path, "secret"))
            if not partner_secret:
                if partner_secret == "":
                    check.fail((*path, "secret"), "must not be empty")
                continue
            if partner_secret in partners.values() or partner_secret == secret:
                # Two tenants with one secret: a request could not say whose it is.
                check.fail((*path, "secret"), "must differ from every other secret")
                continue
            partners[name] = partner_secret
    if check.problems:
        raise ScenarioError(sorted(check.problems, key=lambda p: p.line or 0), source)
    return ScenarioSet(
        secret,
        seed,
        duplicate,
        clients,
        rules,
        source,
        partners,
        seed_given="seed" in top,
        extends_builtin=extends,
    )


def load_text(text: str, source: str | None = None) -> ScenarioSet:
    document, lines = parse_yaml(text, source)
    return validate(document, lines, source)


def load_file(path: str | Path) -> ScenarioSet:
    """Read and validate a scenarios file; raises ``ScenarioError`` naming file and line."""
    source = str(path)
    try:
        with open(path, "rb") as fh:
            data = fh.read(MAX_FILE_BYTES + 1)
        if len(data) > MAX_FILE_BYTES:
            raise ScenarioError([Problem((), f"larger than {MAX_FILE_BYTES} bytes")], source)
        text = data.decode("utf-8")
    except OSError as exc:
        raise ScenarioError([Problem((), f"cannot read: {exc.strerror}")], source) from None
    except UnicodeDecodeError:
        raise ScenarioError([Problem((), "not UTF-8 text")], source) from None
    return load_text(text, source)


@cache
def builtin() -> ScenarioSet:
    """The scenario set shipped in the package: the magic clientIds of the README."""
    text = resources.files("sandbox.scenarios").joinpath("builtin.yaml").read_text("utf-8")
    return replace(load_text(text, BUILTIN), from_builtin=frozenset())


def extend(base: ScenarioSet, own: ScenarioSet) -> ScenarioSet:
    """``own`` on top of ``base``: its rules and clients win for their clientIds, its settings
    where it gives them; the rest of ``base`` stays."""
    return replace(
        own,
        seed=own.seed if own.seed_given else base.seed,
        duplicate_reference=own.duplicate_reference or base.duplicate_reference,
        clients={**base.clients, **own.clients},
        rules={**base.rules, **own.rules},
        from_builtin=frozenset(set(base.rules) - set(own.rules)),
    )


def load_effective(path: str | Path | None) -> ScenarioSet:
    """The set a sandbox runs: the built-in one, extended by the file at ``path`` unless the
    file says ``builtin: false`` (then the file alone)."""
    if path is None:
        return builtin()
    own = load_file(path)
    return extend(builtin(), own) if own.extends_builtin else own


def parse_runtime_rule(value: Any) -> tuple[Rule, int | None]:
    """A rule sent to the control plane as JSON, plus its optional ``times``."""
    check = _Check(None)
    times: int | None = None
    if isinstance(value, dict) and "times" in value:
        value = dict(value)
        raw_times = value.pop("times")
        if isinstance(raw_times, bool) or not isinstance(raw_times, int) or raw_times < 1:
            check.fail(("times",), "must be an integer >= 1")
        else:
            times = raw_times
    rule = validate_rule(check, value, ())
    if check.problems or rule is None:
        raise ScenarioError(check.problems, "request body")
    return rule, times


def settings_from(scenarios: ScenarioSet) -> dict[str, Any]:
    """The configuration values a scenarios file sets (see ``sandbox.config``)."""
    out: dict[str, Any] = {}
    if scenarios.secret is not None:
        out["secret"] = scenarios.secret
    if scenarios.duplicate_reference is not None:
        out["duplicate_reference"] = scenarios.duplicate_reference
    return out
