"""The scenario engine: sequences, cycles, chance, overrides, reset (no Flask)."""

from __future__ import annotations

from sandbox.scenarios import Engine, load_text, parse_runtime_rule


def outcomes(engine: Engine, client: str, endpoint: str, n: int) -> list[str | None]:
    picked = [engine.pick(client, endpoint) for _ in range(n)]
    return [d.step.outcome if d else None for d in picked]


FILE = """
seed: 3
scenarios:
  FLAKY: {sequence: [server-error, server-error, success]}
  CYCLE: {sequence: [server-error, success], cycle: true}
  HALF: {outcome: server-error, probability: 0.5}
  PARTIAL:
    endpoints:
      debit-balance: insufficient-balance
  MIXED:
    outcome: not-found
    endpoints:
      get-balance: success
"""


def engine() -> Engine:
    return Engine(load_text(FILE, "t.yaml"))


def test_sequence_stays_on_last_and_counts_per_endpoint() -> None:
    e = engine()
    assert outcomes(e, "FLAKY", "get-balance", 4) == [
        "server-error",
        "server-error",
        "success",
        "success",
    ]
    assert outcomes(e, "FLAKY", "credit-balance", 1) == ["server-error"]


def test_cycle() -> None:
    assert outcomes(engine(), "CYCLE", "get-balance", 5) == [
        "server-error",
        "success",
        "server-error",
        "success",
        "server-error",
    ]


def test_unknown_clients_and_unlisted_endpoints_behave_normally() -> None:
    e = engine()
    assert e.pick("NOBODY", "get-balance") is None
    assert e.pick("PARTIAL", "credit-balance") is None
    assert outcomes(e, "PARTIAL", "debit-balance", 1) == ["insufficient-balance"]


def test_endpoint_rule_wins_over_client_rule() -> None:
    e = engine()
    assert outcomes(e, "MIXED", "get-balance", 1) == ["success"]
    assert outcomes(e, "MIXED", "debit-balance", 1) == ["not-found"]


def test_probability_is_seeded_and_reproducible() -> None:
    first = outcomes(engine(), "HALF", "get-balance", 200)
    second = outcomes(engine(), "HALF", "get-balance", 200)
    assert first == second
    assert 60 < first.count("server-error") < 140


def test_reset_restarts_sequences_and_reseeds() -> None:
    e = engine()
    before = outcomes(e, "HALF", "get-balance", 20)
    outcomes(e, "FLAKY", "get-balance", 3)
    e.reset()
    assert outcomes(e, "FLAKY", "get-balance", 1) == ["server-error"]
    assert outcomes(e, "HALF", "get-balance", 20) == before


def test_override_wins_and_expires_after_times() -> None:
    e = engine()
    rule, times = parse_runtime_rule({"outcome": "drop", "times": 2})
    e.set_override("FLAKY", rule, times)
    assert outcomes(e, "FLAKY", "get-balance", 3) == ["drop", "drop", "server-error"]
    assert e.active()["overrides"] == {}


def test_override_until_cleared_and_labels() -> None:
    e = engine()
    rule, _ = parse_runtime_rule({"sequence": ["validation", "success"]})
    e.set_override("ANY", rule)
    decision = e.pick("ANY", "get-balance")
    assert decision is not None
    assert decision.label == "validation; client=ANY; source=override; step=1/2"
    assert e.active()["overrides"]["ANY"]["remaining"] is None
    assert e.clear_override("ANY") is True
    assert e.pick("ANY", "get-balance") is None
    assert e.clear_override("ANY") is False


def test_reload_restarts_only_changed_rules() -> None:
    e = engine()
    outcomes(e, "FLAKY", "get-balance", 2)
    outcomes(e, "CYCLE", "get-balance", 1)
    e.replace(
        load_text(FILE.replace("FLAKY: {sequence: [server-error,", "FLAKY: {sequence: [drop,"), "t")
    )
    assert outcomes(e, "FLAKY", "get-balance", 1) == ["drop"]
    assert outcomes(e, "CYCLE", "get-balance", 1) == ["success"]  # unchanged: position kept


def test_delay_ranges_are_seeded() -> None:
    a = Engine(load_text("seed: 1\nscenarios: {S: {delay: [0.1, 0.2]}}\n"))
    b = Engine(load_text("seed: 1\nscenarios: {S: {delay: [0.1, 0.2]}}\n"))
    da = [a.delay_seconds(a.pick("S", "get-balance").step) for _ in range(5)]  # type: ignore[union-attr]
    db = [b.delay_seconds(b.pick("S", "get-balance").step) for _ in range(5)]  # type: ignore[union-attr]
    assert da == db
    assert all(0.1 <= d <= 0.2 for d in da)
