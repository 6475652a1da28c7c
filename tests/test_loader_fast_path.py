"""The libyaml fast path of sandbox/scenarios/loader.py at its edges: what ``_shallow`` counts,
and the errors ``parse_yaml`` gives where libyaml and the pure-Python loader part ways (libyaml
words an error differently, or cannot compose at all). These kill mutants of ``parse_yaml``,
``_shallow`` and ``_compose`` that tests/test_scenarios_loader.py lets through."""

from __future__ import annotations

import pytest
import yaml

from sandbox.scenarios import loader
from sandbox.scenarios.loader import ScenarioError

needs_libyaml = pytest.mark.skipif(
    loader._FAST_LOADER is None, reason="PyYAML was built without libyaml"
)


def error_of(text: str) -> str:
    with pytest.raises(ScenarioError) as caught:
        loader.parse_yaml(text, "s.yaml")
    return str(caught.value)


@needs_libyaml
def test_a_wide_document_is_shallow() -> None:
    """Depth goes down again at every closing: a hundred sibling lists are two levels deep."""
    assert loader._shallow("a: [" + ", ".join(["[]"] * 100) + "]\n")
    assert loader._shallow("a: {" + ", ".join(f"k{i}: {{x: []}}" for i in range(50)) + "}\n")


@needs_libyaml
def test_closings_before_a_deep_part_do_not_hide_its_depth() -> None:
    deep = "[" * (loader.MAX_NESTING + 1) + "]" * (loader.MAX_NESTING + 1)
    assert not loader._shallow("a: [" + "[], " * 40 + deep + "]\n")


def test_a_document_too_deep_for_the_python_composer_is_a_located_problem() -> None:
    """Thousands of levels exhaust PyYAML's recursive composer: a problem, not a traceback."""
    text = "a: " + "[" * 5000 + "]" * 5000 + "\n"
    assert error_of(text) == "s.yaml: (top level): nested more than 32 levels deep"


def test_an_undefined_alias_is_worded_as_the_python_loader_words_it() -> None:
    """libyaml's composer says only "found undefined alias"; the error must name the alias."""
    assert error_of("a: *x\n") == "s.yaml:1: (top level): not valid YAML: found undefined alias 'x'"


def test_the_problem_is_shown_rather_than_its_context() -> None:
    """The parser's context ("while parsing a flow sequence") is less useful than its problem."""
    assert error_of("a: [unclosed\n") == (
        "s.yaml:2: (top level): not valid YAML: expected ',' or ']', but got '<stream end>'"
    )


def test_a_key_that_is_a_collection_is_built_whole() -> None:
    assert error_of("? [a, b]\n: 1\n") == "s.yaml:1: ['a', 'b']: keys must be strings"


@needs_libyaml
def test_both_parsers_agree_on_these_documents() -> None:
    for text in ("a: *x\n", "a: [unclosed\n", "? [a, b]\n: 1\n"):
        with pytest.raises(ScenarioError) as pure:
            loader._compose(text, "s.yaml", yaml.SafeLoader)
        assert error_of(text) == str(pure.value)


def test_without_a_source_the_error_has_none() -> None:
    with pytest.raises(ScenarioError) as caught:
        loader.parse_yaml("a: *x\n")
    assert caught.value.source is None
    assert str(caught.value) == "<input>:1: (top level): not valid YAML: found undefined alias 'x'"
