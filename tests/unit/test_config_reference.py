"""The reference programme ships as a commented TOML file, loaded by ``reference_config``."""

from __future__ import annotations

import re
import tomllib
from collections.abc import Iterator
from importlib import resources
from pathlib import Path

import attrs
import pytest

import membercore
from membercore.config import ProgrammeConfig, reference_config, reference_toml
from membercore.config.outreach import reference_outreach, reference_templates
from membercore.config.reference import (
    reference_journeys,
    reference_packages,
    reference_plans,
    reference_rewards,
)
from membercore.config.staff import reference_staff
from membercore.serialization import dump_config, load_config, load_config_file
from membercore_adapters.cli import main

#: Every top-level key a programme may have: the fields of ProgrammeConfig.
KNOWN = frozenset(field.name for field in attrs.fields(ProgrammeConfig) if field.init)
CJK = re.compile(r"[\u4e00-\u9fff]")


@pytest.fixture(scope="module")
def reference_file() -> Iterator[Path]:
    """The shipped file, as a path on disk."""
    with resources.as_file(resources.files("membercore.config") / "reference.toml") as path:
        yield path


def test_the_reference_file_is_toml_whose_every_top_level_key_the_loader_knows() -> None:
    data = tomllib.loads(reference_toml())
    assert set(data) <= KNOWN, sorted(set(data) - KNOWN)
    # The whole programme is written out, not left to the defaults (channels: none;
    # experiments: none, the demo hospital adds its price test).
    assert set(data) == KNOWN - {"channels", "experiments"}


def test_the_file_loads_through_load_config_file_to_the_reference_programme(
    reference_file: Path,
) -> None:
    assert reference_file.read_text(encoding="utf-8") == reference_toml()
    assert load_config_file(reference_file) == reference_config()


def test_the_reference_programme_is_loaded_once_and_shared() -> None:
    assert reference_config() is reference_config()
    assert membercore.reference_config is reference_config
    assert membercore.reference_toml is reference_toml


def test_the_reference_programme_survives_being_written_out_and_read_back() -> None:
    assert load_config(dump_config(reference_config())) == reference_config()


def test_membercore_config_check_accepts_the_reference_file(reference_file: Path) -> None:
    assert main(["config", "check", str(reference_file)]) == 0


def test_the_written_out_text_is_a_programme_config_check_accepts(tmp_path: Path) -> None:
    written = tmp_path / "programme.toml"
    written.write_text(reference_toml(), encoding="utf-8")
    assert main(["config", "check", str(written)]) == 0


def _top_level_starts(lines: list[str]) -> dict[str, int]:
    """The line where each top-level key of the file is first written."""
    starts: dict[str, int] = {}
    in_a_table = False
    for number, line in enumerate(lines):
        found = re.match(r"^\[\[?([a-z_]+)[.\]]", line)
        in_a_table = in_a_table or found is not None
        found = found or (None if in_a_table else re.match(r"^([a-z_]+) =", line))
        if found and found.group(1) not in starts:
            starts[found.group(1)] = number
    return starts


def _comment_above(lines: list[str], number: int) -> str:
    above = []
    for line in reversed(lines[:number]):
        if not line.startswith("#"):
            break
        above.append(line)
    return "\n".join(above)


def test_every_part_of_the_file_is_explained_in_chinese_and_english() -> None:
    lines = reference_toml().splitlines()
    starts = _top_level_starts(lines)
    assert set(starts) == set(tomllib.loads(reference_toml()))
    for key, number in starts.items():
        comment = _comment_above(lines, number)
        assert CJK.search(comment), f"{key}: no Chinese comment above line {number + 1}"
        assert re.search(r"\b[a-z]+ [a-z]+ [a-z]+\b", comment, re.IGNORECASE), f"{key}: no English"


def test_the_parts_of_the_reference_programme_are_those_of_its_file() -> None:
    config = reference_config()
    assert reference_packages() == config.packages
    assert reference_plans() == config.plans
    assert reference_rewards() == config.rewards
    assert reference_journeys() == config.journeys
    assert reference_outreach() == config.outreach
    assert reference_templates() == config.outreach.templates
    assert reference_staff() == config.staff


def test_the_reference_journeys_module_of_0_1_is_served_by_the_reference_module() -> None:
    with pytest.warns(DeprecationWarning, match="membercore.config.reference_journeys moved"):
        from membercore.config.reference_journeys import (  # noqa: PLC0415
            reference_journeys as old,
        )
    assert old() == reference_config().journeys
