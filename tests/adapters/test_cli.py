from __future__ import annotations

from pathlib import Path

import pytest

from membercore import PostingKind
from membercore_adapters.cli import main
from membercore_adapters.walkthrough import ledger_walkthrough


def test_the_walkthrough_prints_each_step_and_a_statement(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert main(["walkthrough"]) == 0
    out = capsys.readouterr().out
    assert "points ledger walk-through" in out
    assert "statement of 王女士" in out
    assert "reverses p-wang/2" in out


def test_the_walkthrough_ends_with_balances_that_add_up() -> None:
    lines: list[str] = []
    states = ledger_walkthrough(lines.append)
    wang = states["p-wang"]
    # 1 check-in + (12,800 + 160 / 2) x 1.5 + 20 lecture + 10 survey, less 5,000 redeemed,
    # less a quarter of the charge's 19,320 points refunded, plus 2 pooled from 李先生.
    assert wang.balance == 1 + 19_320 + 20 + 10 - 5_000 - 4_830 + 2
    assert states["p-li"].balance == 0
    assert wang.totals.transferred_in == 2
    assert any("pooled" in line for line in lines)
    assert PostingKind.REVERSE in wang.kinds.values()


def test_config_check_accepts_a_valid_programme(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "programme.toml"
    path.write_text('name = "康宁医院"\n[earning.check_in]\npoints = 2\n', encoding="utf-8")
    assert main(["config", "check", str(path)]) == 0
    assert "valid programme '康宁医院'" in capsys.readouterr().out


def test_config_check_names_the_offending_key(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "programme.toml"
    path.write_text("[earning.sharing]\npoints = -5\n", encoding="utf-8")
    assert main(["config", "check", str(path)]) == 1
    assert "$.earning.sharing.points" in capsys.readouterr().err


def test_config_check_reports_a_missing_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["config", "check", str(tmp_path / "nowhere.toml")]) == 2
    assert "cannot read" in capsys.readouterr().err
