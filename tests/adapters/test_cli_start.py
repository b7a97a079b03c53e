"""A hospital's first minutes with the command, in an empty folder.

``membercore config init`` writes the reference programme, ``config check`` reads it
back and says what it will do, and ``demo`` runs beside it, leaving its store and its
report; nothing needs to be there before, and nothing is written over.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from membercore import reference_config
from membercore.serialization import load_config_file
from membercore_adapters.cli import main


def test_init_then_check_then_demo_work_in_an_empty_folder(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    assert main(["config", "init"]) == 0
    assert "programme.toml" in capsys.readouterr().out
    written = tmp_path / "programme.toml"
    assert load_config_file(written) == reference_config()  # the reference, as a file
    assert written.read_text(encoding="utf-8").lstrip().startswith("#")  # it explains itself
    assert main(["config", "check", "programme.toml"]) == 0
    said = capsys.readouterr().out
    assert "有效的方案" in said
    assert "等级：普通 0 → 银卡 1,000" in said
    demo = ["demo", "--patients", "20", "--months", "1", "--workers", "1", "--quiet"]
    assert main(demo) == 0
    assert "经营报告：" in capsys.readouterr().out  # the report, beside the store
    assert sorted(path.name for path in tmp_path.iterdir()) == [
        "membercore-demo-report-csv",
        "membercore-demo-report.html",
        "membercore-demo-report.json",
        "membercore-demo.db",
        "programme.toml",
    ]


def test_init_leaves_a_file_that_is_there_unless_forced(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    mine = tmp_path / "mine.toml"
    mine.write_text('name = "康宁医院"\n', encoding="utf-8")
    assert main(["config", "init", str(mine)]) == 1
    assert "--force" in capsys.readouterr().err
    assert mine.read_text(encoding="utf-8") == 'name = "康宁医院"\n'
    assert main(["config", "init", str(mine), "--force"]) == 0
    assert load_config_file(mine) == reference_config()


def test_every_command_and_option_has_help_in_both_languages(
    capsys: pytest.CaptureFixture[str],
) -> None:
    for language, marker in (("zh-CN", "显示版本"), ("en", "show the version")):
        listed = _help(capsys, ["--lang", language, "--help"])
        assert marker in listed
        headings = _HEADINGS[language]
        assert listed.startswith(headings[0])
        commands = _listed(listed, headings)
        assert {"demo", "ingest", "worker", "config", "member", "walkthrough"} <= set(commands)
        for command in commands:
            said = _help(capsys, ["--lang", language, command, "--help"])
            subcommands = [[command, sub] for sub in _listed(said, headings)] or [[command]]
            for sub in subcommands:
                said = _help(capsys, ["--lang", language, *sub, "--help"])
                _each_option_has_help(said, headings)


#: The headings of a command's help: its usage, options and commands.
_HEADINGS = {"zh-CN": ("用法：", "选项：", "命令："), "en": ("Usage: ", "Options:", "Commands:")}


def _listed(said: str, headings: tuple[str, ...]) -> list[str]:
    """The commands a help lists."""
    if headings[2] not in said:
        return []
    entries = said.split(headings[2])[1].splitlines()
    # A command's entry starts two columns in; its help's further lines, further in.
    return [line.split()[0] for line in entries if line[:2] == "  " and line[2:3].strip()]


def _each_option_has_help(said: str, headings: tuple[str, ...]) -> None:
    """Each option's entry has its help: words after the option, on its line or the next."""
    lines = said.split(headings[1])[1].split(headings[2], maxsplit=1)[0].splitlines()
    for number, line in enumerate(lines):
        entry = line.strip()
        if entry.startswith("-") and "  " not in entry:
            following = lines[number + 1].strip() if number + 1 < len(lines) else ""
            assert following, f"no help: {entry!r}\n{said}"
            assert not following.startswith("-"), f"no help: {entry!r}\n{said}"


def _help(capsys: pytest.CaptureFixture[str], arguments: list[str]) -> str:
    assert main(arguments) == 0
    return capsys.readouterr().out
