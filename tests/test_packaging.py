"""The built package contains every module and data file (an editable install hides gaps)."""

from __future__ import annotations

import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_every_subpackage_is_listed() -> None:
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]
    listed = set(config["packages"])
    found = {
        ".".join(p.parent.relative_to(ROOT).parts) for p in (ROOT / "sandbox").rglob("__init__.py")
    }
    assert found <= listed, found - listed
    assert config["package-dir"]["sandbox.fixtures"] == "fixtures"


def test_data_files_are_declared() -> None:
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]
    data = config["package-data"]
    assert "templates/*.html" in data["sandbox"]
    assert {"*.json", "responses/*.json"} <= set(data["sandbox.fixtures"])
