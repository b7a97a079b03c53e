"""The installed package, as a newcomer gets it from ``make``: both packages import
outside the source tree, ship their type information and their data, and the command is
on the PATH.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

import membercore
import membercore_adapters

ROOT = Path(__file__).resolve().parent.parent


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


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The wheel built from the sources, unpacked as pip installs a pure-Python wheel."""
    tmp_path = tmp_path_factory.mktemp("wheel")
    # Built from a copy of the sources, so that nothing of the tree's own build/ slips in.
    project = tmp_path / "project"
    project.mkdir()
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(ROOT / name, project / name)
    ignored = shutil.ignore_patterns("__pycache__", "*.egg-info")
    shutil.copytree(ROOT / "src", project / "src", ignore=ignored)
    built = subprocess.run(
        [sys.executable, "-m", "build", "--wheel", "--outdir", str(tmp_path / "dist"), "."],
        cwd=project,
        capture_output=True,
        text=True,
        check=False,
    )
    if built.returncode != 0:
        # The build backend comes from the package index, as for `make wheel-check`.
        reason = f"the wheel could not be built: {built.stderr[-800:]}"
        if os.environ.get("CI"):
            pytest.fail(reason)
        pytest.skip(reason)
    (wheel,) = (tmp_path / "dist").glob("membercore-*.whl")
    unpacked = tmp_path / "site-packages"
    with zipfile.ZipFile(wheel) as archive:
        archive.extractall(unpacked)
    return unpacked


def test_the_built_wheel_loads_the_reference_programme_from_its_own_file(
    installed: Path, tmp_path: Path
) -> None:
    code = (
        "import membercore, tomllib; "
        "from membercore.config import reference_config; "
        "from membercore.serialization import load_config_toml; "
        "print(membercore.__file__); "
        "text = membercore.reference_toml(); "
        "tomllib.loads(text); "
        "assert reference_config() == load_config_toml(text); "
        "print(reference_config().name, len(reference_config().journeys))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code],
        cwd=tmp_path,
        env={**os.environ, "PYTHONPATH": str(installed)},
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    where, programme = result.stdout.splitlines()
    assert Path(where).is_relative_to(installed)  # the wheel's, not the source tree's
    name, journeys = programme.split()
    assert name == "仁和医院健康会员"
    assert int(journeys) > 0


def test_the_built_wheel_carries_the_consoles_templates_and_style_sheet(installed: Path) -> None:
    console = installed / "membercore_adapters" / "console"
    shipped = {path.relative_to(console).as_posix() for path in console.rglob("*.*")}
    sources = ROOT / "src" / "adapters" / "membercore_adapters" / "console"
    wanted = {
        path.relative_to(sources).as_posix()
        for pattern in ("templates/*.html", "static/*.css")
        for path in sources.glob(pattern)
    }
    assert {"templates/queue.html", "templates/member.html", "static/console.css"} <= wanted
    assert wanted <= shipped
