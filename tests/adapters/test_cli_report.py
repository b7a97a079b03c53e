"""``membercore report`` as a hospital runs it: where it writes, and what it refuses."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest

from membercore_adapters.cli import main


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> str:
    folder = tmp_path_factory.mktemp("report")
    url = f"sqlite:///{folder / 'demo.db'}"
    demo = ["demo", "--patients", "60", "--months", "2", "--workers", "1", "--quiet"]
    assert main([*demo, "--store", url, "--report", str(folder / "demo.html")]) == 0
    return url


def test_writes_the_page_its_figures_and_a_csv_a_table_and_says_where(
    store: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "月报" / "report.html"
    assert main(["--lang", "zh-CN", "report", "--store", store, "--out", str(out)]) == 0
    assert f"报告已写入 {out}" in capsys.readouterr().out
    page = out.read_text(encoding="utf-8")
    assert page.startswith("<!DOCTYPE html>")
    assert "cdn" not in page.lower().split("<script>", 1)[0]  # nothing fetched
    figures = json.loads(out.with_suffix(".json").read_text(encoding="utf-8"))
    with (out.parent / "report-csv" / "lifetime_value.csv").open(encoding="utf-8-sig") as file:
        rows = list(csv.DictReader(file))
    assert rows[0]["dimension"] == "all"
    assert int(rows[0]["patients"]) == figures["lifetime_value"][0]["patients"] > 0


def test_a_whatif_file_that_is_no_comparison_is_refused(
    store: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text('{"baseline": {}}', encoding="utf-8")
    out = tmp_path / "r.html"
    args = ["--lang", "en", "report", "--store", store, "--out", str(out), "--whatif", str(bad)]
    assert main(args) == 2
    said = capsys.readouterr().err
    assert f"--whatif {bad}: not a comparison" in said
    assert "it has no proposed, baseline_name, proposed_name" in said
    assert not out.exists()


def test_a_second_demo_beside_the_first_keeps_its_report_apart(store: str) -> None:
    folder = Path(store.removeprefix("sqlite:///")).parent
    other = f"sqlite:///{folder / 'tiny.db'}"
    demo = ["demo", "--patients", "20", "--months", "1", "--workers", "1", "--quiet"]
    assert main([*demo, "--store", other]) == 0
    assert (folder / "tiny-report.html").is_file()
    assert (folder / "demo.html").is_file()  # the first demo's, named by --report


def test_no_store_is_said_and_nothing_is_written(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    missing = f"sqlite:///{tmp_path / 'none.db'}"
    out = tmp_path / "r.html"
    assert main(["--lang", "en", "report", "--store", missing, "--out", str(out)]) == 3
    assert "no store" in capsys.readouterr().err
    assert sorted(tmp_path.iterdir()) == []
