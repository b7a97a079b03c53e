from __future__ import annotations

import ast
import importlib
import inspect
import pkgutil
from pathlib import Path
from types import ModuleType

import pytest

import membercore
import membercore.access
import membercore.benefits
import membercore.config
import membercore.consent
import membercore.facts
import membercore.households
import membercore.identity
import membercore.journeys
import membercore.ledger
import membercore.messages
import membercore.outreach
import membercore.plans
import membercore.rewards
import membercore.segments
import membercore.service.actions
import membercore.service.merges
import membercore.staff.offers
import membercore.staff.programmes
import membercore.staff.tasks
import membercore.tiers

# The core decides; it never stores, calls out, reads the clock or rolls dice.
FORBIDDEN = frozenset(
    {
        "sqlite3",
        "psycopg",
        "psycopg2",
        "httpx",
        "membercore_adapters",
        "adapters",
        "random",
        "os",
        "socket",
        "time",
        "click",
        "rich",
    }
)
CLOCK_READS = frozenset({"now", "utcnow", "today"})


def _module_names() -> list[str]:
    names = [membercore.__name__]
    names += [
        info.name
        for info in pkgutil.walk_packages(membercore.__path__, prefix=f"{membercore.__name__}.")
    ]
    return sorted(names)


MODULE_NAMES = _module_names()


def _source(module: ModuleType) -> str:
    assert module.__file__ is not None
    return Path(module.__file__).read_text(encoding="utf-8")


def _imports(source: str) -> set[str]:
    """Every absolute module a source imports, wherever the import statement stands."""
    names: set[str] = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module)
    return names


def _roots(source: str) -> set[str]:
    return {name.partition(".")[0] for name in _imports(source)}


def _imported_by() -> dict[str, set[str]]:
    return {name: _roots(_source(importlib.import_module(name))) for name in MODULE_NAMES}


def test_the_walk_finds_the_whole_package() -> None:
    assert {
        "membercore",
        "membercore.serialization",
        "membercore.dates",
        "membercore.ledger",
        "membercore.ledger.decide",
        "membercore.ledger.state",
        "membercore.testing",
        "membercore.testing.strategies",
        "membercore.testing.book",
    } <= set(MODULE_NAMES)


def test_the_import_reader_sees_plain_dotted_and_nested_imports() -> None:
    source = (
        "import os.path\n"
        "from time import monotonic\n"
        "import json as j\n"
        "def f():\n"
        "    import socket\n"
        "from . import sibling\n"
    )
    assert _roots(source) == {"os", "time", "json", "socket"}


def test_the_import_reader_ignores_imports_mentioned_in_docstrings() -> None:
    source = '"""Use it like this::\n\n    import random\n"""\nimport attrs\n'
    assert _roots(source) == {"attrs"}


@pytest.mark.parametrize("name", MODULE_NAMES)
def test_no_module_of_the_core_does_io_reads_the_clock_module_or_draws_random_numbers(
    name: str,
) -> None:
    roots = _roots(_source(importlib.import_module(name)))
    assert roots.isdisjoint(FORBIDDEN), f"{name} imports {sorted(roots & FORBIDDEN)}"


@pytest.mark.parametrize("name", MODULE_NAMES)
def test_no_module_of_the_core_asks_datetime_for_the_current_time(name: str) -> None:
    tree = ast.parse(_source(importlib.import_module(name)))
    reads = [
        f"{ast.unparse(node.func)}() on line {node.lineno}"
        for node in ast.walk(tree)
        if isinstance(node, ast.Call)
        and isinstance(node.func, ast.Attribute)
        and node.func.attr in CLOCK_READS
        and isinstance(node.func.value, ast.Name)
        and node.func.value.id in {"datetime", "date"}
    ]
    assert reads == [], f"{name} reads the clock: {reads}"


def test_only_the_testing_kit_imports_hypothesis() -> None:
    importers = {name for name, roots in _imported_by().items() if "hypothesis" in roots}
    assert importers, "the check should at least see membercore.testing.strategies"
    assert all(
        name == "membercore.testing" or name.startswith("membercore.testing.") for name in importers
    ), sorted(importers)


def test_only_the_converters_and_serialization_import_cattrs() -> None:
    importers = {name for name, roots in _imported_by().items() if "cattrs" in roots}
    assert "membercore.converters" in importers
    assert all(
        name == "membercore.converters" or name.startswith("membercore.serialization.")
        for name in importers
    ), sorted(importers)


# -- the public API -----------------------------------------------------------------------


PUBLIC_MODULES = [
    membercore,
    membercore.access,
    membercore.service.actions,
    membercore.benefits,
    membercore.consent,
    membercore.facts,
    membercore.identity,
    membercore.messages,
    membercore.service.merges,
    membercore.staff.offers,
    membercore.outreach,
    membercore.ledger,
    membercore.tiers,
    membercore.households,
    membercore.journeys,
    membercore.plans,
    membercore.staff.programmes,
    membercore.rewards,
    membercore.segments,
    membercore.staff.tasks,
    membercore.config,
]


@pytest.mark.parametrize("module", PUBLIC_MODULES, ids=lambda m: m.__name__)
def test_every_name_in_all_exists(module: ModuleType) -> None:
    missing = [name for name in module.__all__ if not hasattr(module, name)]
    assert missing == []
    assert len(set(module.__all__)) == len(module.__all__)


def _public_api() -> list[tuple[str, object]]:
    return [
        (f"{module.__name__}.{name}", getattr(module, name))
        for module in PUBLIC_MODULES
        for name in module.__all__
        if hasattr(module, name)
    ]


_DOCUMENTED = [
    pytest.param(thing, id=qualified)
    for qualified, thing in _public_api()
    if inspect.isclass(thing) or inspect.isfunction(thing) or inspect.ismodule(thing)
]


def test_the_public_api_has_classes_and_functions_to_document() -> None:
    kinds = {type(param.values[0]).__name__ for param in _DOCUMENTED}
    assert len(_DOCUMENTED) > 40
    assert "function" in kinds


@pytest.mark.parametrize("thing", _DOCUMENTED)
def test_every_public_class_and_function_has_a_docstring(thing: object) -> None:
    # Read the object's own __doc__: inspect.getdoc would borrow a parent class's.
    doc = thing.__doc__
    assert doc is not None
    assert doc.strip()


# -- the layers ---------------------------------------------------------------------------

PARTS = (
    "benefits",
    "consent",
    "households",
    "identity",
    "journeys",
    "ledger",
    "outreach",
    "plans",
    "rewards",
    "segments",
    "staff",
    "tiers",
)
KERNEL = (
    "checks",
    "converters",
    "dates",
    "errors",
    "forgetting",
    "idempotency",
    "memo",
    "messages",
    "moved",
    "text",
    "timeline",
    "upcasting",
)
#: From the bottom up: a module imports only from its own layer and those below it.
LAYERS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("kernel", KERNEL),
    ("facts", ("facts",)),
    ("domain", (*PARTS, "config", "privacy")),
    (
        "service",
        (
            "service",
            "serialization",
            "ports",
            "access",
            "hookspecs",
            "plugins",
            "analytics",
            "experiments",
        ),
    ),
    ("kit", ("testing",)),
)


def _layer(module: str) -> int:
    """The layer of a module of membercore (the package itself is the front door, on top)."""
    top = module.split(".")[1] if "." in module else ""
    for index, (_, tops) in enumerate(LAYERS):
        if top in tops:
            return index
    assert module == "membercore", f"{module} is in no layer: add it to LAYERS"
    return len(LAYERS)


def _membercore_imports(source: str) -> set[str]:
    """The membercore modules a source imports, ``from membercore import part`` included."""
    names: set[str] = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.ImportFrom) and node.module == "membercore":
            names.update(f"membercore.{alias.name}" for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and (node.module or "").startswith("membercore."):
            names.add(str(node.module))
        elif isinstance(node, ast.Import):
            names.update(a.name for a in node.names if a.name.startswith("membercore."))
    return names


def test_the_layer_reader_sees_from_imports_of_parts_and_nested_imports() -> None:
    source = (
        "from membercore import ledger, tiers\n"
        "def f():\n"
        "    from membercore.service.engine import Engine\n"
        "import membercore.facts.billing\n"
    )
    assert _membercore_imports(source) == {
        "membercore.ledger",
        "membercore.tiers",
        "membercore.service.engine",
        "membercore.facts.billing",
    }
    assert [_layer(name) for name in sorted(_membercore_imports(source))] == [1, 2, 3, 2]


@pytest.mark.parametrize("name", MODULE_NAMES)
def test_no_module_imports_a_layer_above_its_own(name: str) -> None:
    own = _layer(name)
    above = sorted(
        imported
        for imported in _membercore_imports(_source(importlib.import_module(name)))
        if _layer(imported) > own
    )
    layer = LAYERS[own][0] if own < len(LAYERS) else "front door"
    assert above == [], f"{name} ({layer}) imports {above} from a layer above"
