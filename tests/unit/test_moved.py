"""Modules that moved keep their old import path for one release, with a warning."""

from __future__ import annotations

import importlib
import json
import sys
import warnings
from collections.abc import Iterator
from pathlib import Path

import pytest

import membercore
import membercore_adapters  # noqa: F401 - registers the adapters' moves
from membercore.moved import REMOVED_IN, moves

OLD_PATHS = sorted(moves())


@pytest.fixture(autouse=True)
def _forget_old_paths() -> Iterator[None]:
    """Each test imports the old paths afresh and leaves no alias behind."""

    def forget() -> None:
        for old in OLD_PATHS:
            sys.modules.pop(old, None)
            parent, _, child = old.rpartition(".")
            package = sys.modules.get(parent)
            if package is not None and child in vars(package):
                new = moves()[old]
                if getattr(package, child).__name__ == new and new != f"{parent}.{child}":
                    delattr(package, child)

    forget()
    yield
    forget()


def test_membercore_and_its_adapters_register_their_moves() -> None:
    assert moves()["membercore.engine"] == "membercore.service.engine"
    assert moves()["membercore.tasks"] == "membercore.staff.tasks"
    assert any(old.startswith("membercore_adapters.") for old in OLD_PATHS)


@pytest.mark.parametrize("old", OLD_PATHS)
def test_an_old_path_gives_the_module_at_its_new_path_with_a_warning(old: str) -> None:
    new = moves()[old]
    with pytest.warns(DeprecationWarning, match=rf"{old} moved to {new}") as caught:
        module = importlib.import_module(old)
    assert module is importlib.import_module(new)
    assert module.__name__ == new
    assert module.__spec__ is not None
    assert module.__spec__.name == new  # the alias leaves the module's own spec alone
    assert REMOVED_IN in str(caught[0].message)


def test_the_warning_points_at_the_line_that_imports_the_old_path() -> None:
    with pytest.warns(DeprecationWarning, match="membercore.engine moved") as caught:
        from membercore.engine import Engine  # noqa: PLC0415
    assert Engine is membercore.Engine
    assert caught[0].filename == __file__
    with pytest.warns(DeprecationWarning, match="membercore.calls moved") as caught:
        importlib.import_module("membercore.calls")
    assert caught[0].filename == __file__


def test_a_moved_module_named_as_an_attribute_of_membercore_warns_too() -> None:
    with pytest.warns(
        DeprecationWarning, match="membercore.tasks moved to membercore.staff.tasks"
    ) as caught:
        tasks = membercore.tasks  # type: ignore[attr-defined]
    assert caught[0].filename == __file__
    assert tasks is importlib.import_module("membercore.staff.tasks")


def test_a_name_membercore_never_had_is_still_an_attribute_error() -> None:
    with pytest.raises(AttributeError, match="no attribute 'nothing_here'"):
        _ = membercore.nothing_here  # type: ignore[attr-defined]


def test_the_new_paths_import_without_any_warning() -> None:
    import warnings  # noqa: PLC0415

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        for new in set(moves().values()):
            importlib.import_module(new)


#: Every module's ``__all__`` in release 0.1.0, as that release's code listed it.
API_0_1 = json.loads((Path(__file__).parents[1] / "fixtures" / "api-0.1.0.json").read_text())


def test_the_recorded_api_of_0_1_is_the_whole_of_it() -> None:
    assert {
        "membercore",
        "membercore.engine",
        "membercore.tasks",
        "membercore_adapters.sqlite",
    } <= (set(API_0_1))
    assert "Engine" in API_0_1["membercore"]


@pytest.mark.parametrize("module", sorted(API_0_1))
def test_every_public_name_of_0_1_still_imports_from_its_module(module: str) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # an old path warns; see above
        imported = importlib.import_module(module)
        missing = [name for name in API_0_1[module] if not hasattr(imported, name)]
    assert missing == [], f"{module} no longer offers {missing}"


@pytest.mark.parametrize("old", OLD_PATHS)
def test_a_moved_module_named_as_its_package_attribute_warns_and_is_given(old: str) -> None:
    package, _, name = old.rpartition(".")
    parent = importlib.import_module(package)
    with pytest.warns(DeprecationWarning, match=rf"{old} moved to {moves()[old]}"):
        module = getattr(parent, name)
    assert module is importlib.import_module(moves()[old])
