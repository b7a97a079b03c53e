"""Every hook is named, documented and tested (datasette's meta-tests, for membercore)."""

from __future__ import annotations

import inspect
import re
from pathlib import Path

import pytest

from membercore import hookspecs

ROOT = Path(__file__).resolve().parents[2]
GUIDE = ROOT / "docs" / "plugins.md"
HOOKS = sorted(
    name for name, value in vars(hookspecs).items() if hasattr(value, f"{hookspecs.PROJECT}_spec")
)
SECTION = re.compile(r"^### `(\w+)`\n(.*?)(?=^#{1,3} |\Z)", re.DOTALL | re.MULTILINE)


def _sections() -> dict[str, str]:
    return dict(SECTION.findall(GUIDE.read_text(encoding="utf-8")))


def _test_sources() -> str:
    files = [*(ROOT / "tests").rglob("*.py"), *(ROOT / "plugins").glob("*/tests/**/*.py")]
    this = Path(__file__).resolve()
    return "\n".join(f.read_text(encoding="utf-8") for f in files if f.resolve() != this)


def _parameters(hook: str) -> list[str]:
    return list(inspect.signature(getattr(hookspecs, hook)).parameters)


def test_the_hooks_are_found() -> None:
    assert set(HOOKS) >= {
        "membercore_register_stores",
        "membercore_register_channels",
        "membercore_register_his_sources",
        "membercore_register_conditions",
        "membercore_register_actions",
        "membercore_register_journeys",
        "membercore_clock",
    }


@pytest.mark.parametrize("hook", HOOKS)
def test_every_hook_is_named_membercore_something(hook: str) -> None:
    assert hook.startswith("membercore_")


@pytest.mark.parametrize("hook", HOOKS)
def test_every_hook_has_a_docstring_naming_its_parameters(hook: str) -> None:
    doc = inspect.getdoc(getattr(hookspecs, hook))
    assert doc
    for parameter in _parameters(hook):
        assert f"{parameter}:" in doc, f"{hook}'s docstring does not describe {parameter!r}"


@pytest.mark.parametrize("hook", HOOKS)
def test_registration_hooks_take_a_register_callback_and_selectors_take_the_first_answer(
    hook: str,
) -> None:
    options = getattr(getattr(hookspecs, hook), f"{hookspecs.PROJECT}_spec")
    if hook.startswith("membercore_register_"):
        assert _parameters(hook)[0] == "register"
        assert not options["firstresult"]
    else:
        assert options["firstresult"]


@pytest.mark.parametrize("hook", HOOKS)
def test_every_hook_has_its_section_in_the_plugin_authors_guide(hook: str) -> None:
    section = _sections().get(hook)
    assert section is not None, f"docs/plugins.md has no section ### `{hook}`"
    for parameter in _parameters(hook):
        assert f"`{parameter}" in section, f"the section of {hook} does not explain {parameter!r}"


def test_the_guide_documents_no_hook_that_does_not_exist() -> None:
    documented = {name for name in _sections() if name.startswith("membercore_")}
    assert documented == set(HOOKS)


@pytest.mark.parametrize("hook", HOOKS)
def test_every_hook_is_exercised_by_a_test(hook: str) -> None:
    assert hook in _test_sources(), f"no test implements or calls {hook}"
