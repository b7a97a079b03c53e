"""The installed package, as a newcomer gets it from ``make``: both packages import
outside the source tree, ship their type information, and the command is on the PATH.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import membercore
import membercore_adapters


def test_both_packages_import_from_the_installed_environment(tmp_path: Path) -> None:
    # -I: no current directory or PYTHONPATH on sys.path, only what is installed.
    code = "import membercore, membercore_adapters as a; print(membercore.__file__, a.__file__)"
    result = subprocess.run(
        [sys.executable, "-I", "-c", code],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert "membercore" in result.stdout


def test_both_packages_ship_their_type_information() -> None:
    for package in (membercore, membercore_adapters):
        assert (Path(package.__file__).parent / "py.typed").is_file()


def test_the_membercore_command_is_installed() -> None:
    command = Path(sys.executable).parent / "membercore"
    result = subprocess.run([str(command), "--help"], capture_output=True, text=True, check=False)
    assert result.returncode == 0
    assert "demo" in result.stdout
