"""The built wheel holds every module and data file, and the package needs nothing outside it.

An editable install hides gaps (it reads the checkout), so the wheel itself is built and read.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_the_wheel_has_every_module_and_data_file(built_wheel: Path) -> None:
    names = set(zipfile.ZipFile(built_wheel).namelist())
    package = ROOT / "sandbox"
    wanted = {
        p.relative_to(ROOT).as_posix()
        for p in package.rglob("*")
        if p.is_file() and "__pycache__" not in p.parts
    }
    assert wanted <= names, sorted(wanted - names)
    assert "sandbox/py.typed" in names
    assert {"sandbox/fixtures/users.json", "sandbox/fixtures/transactions.json"} <= names


def test_the_package_reads_its_data_from_inside_itself(tmp_path: Path) -> None:
    """From a plain copy of ``sandbox/`` (no install, no site-packages), the documented bodies
    and the seed data are found."""
    shutil.copytree(ROOT / "sandbox", tmp_path / "sandbox")
    code = (
        "import sandbox.errors as e; from importlib import resources\n"
        "assert e.UserNotFound().body['message'] == 'User not found'\n"
        "assert resources.files('sandbox').joinpath('fixtures/users.json').is_file()\n"
    )
    subprocess.run([sys.executable, "-S", "-c", code], cwd=tmp_path, check=True)
