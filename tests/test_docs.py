"""Every Python example in the README and docs/ runs as written.

The fenced ``python`` blocks of one page run in order in one namespace, the way a reader
would paste them; a page's examples may assert what they claim.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from membercore import load_config_toml

ROOT = Path(__file__).resolve().parent.parent
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
BLOCK = re.compile(r"^```python\n(.*?)^```$", re.DOTALL | re.MULTILINE)
TOML = re.compile(r"^```toml\n(.*?)^```$", re.DOTALL | re.MULTILINE)


def test_every_page_is_found() -> None:
    assert {page.name for page in PAGES} >= {"README.md", "ledger.md", "configuration.md"}


@pytest.mark.parametrize("page", PAGES, ids=lambda page: page.name)
def test_the_examples_of_a_page_run(
    page: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    blocks = BLOCK.findall(page.read_text(encoding="utf-8"))
    monkeypatch.chdir(tmp_path)
    namespace: dict[str, object] = {"__name__": f"docs_{page.stem}"}
    for number, block in enumerate(blocks, start=1):
        code = compile(block, f"{page.name} example {number}", "exec")
        exec(code, namespace)


def test_the_toml_examples_of_the_configuration_page_are_programmes_the_loader_takes() -> None:
    blocks = TOML.findall((ROOT / "docs" / "configuration.md").read_text(encoding="utf-8"))
    assert blocks
    for block in blocks:
        load_config_toml(block)  # raises ConfigError naming the key it refuses
