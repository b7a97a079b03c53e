"""Fuzzing: whatever a feed sends, every input is applied, a duplicate or a dead letter.

Malformed inputs of every fact and command type — as tagged dicts and as JSON text —
each between two valid facts of other members: nothing raises out of ``ingest``, the
neighbours are always taken, and every refusal is kept with a bounded reason that says
something (never "unknown error"). Programme configurations, mutated as data and as
TOML text, are either loaded or refused with a ConfigError naming a key; nothing else.

The long run recorded in docs/reliability.md is this module under the ``fuzz`` profile:
``HYPOTHESIS_PROFILE=fuzz .venv/bin/python -m pytest tests/unit/test_fuzz.py``.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterator
from datetime import datetime
from typing import Any

import attrs
import pluggy
import pytest
from hypothesis import given
from hypothesis import strategies as st

from membercore import ConfigError, Engine, reference_config
from membercore.facts import CLINICAL_FACT_TYPES, FACT_TYPES, CheckedIn, PatientRegistered
from membercore.plugins import collect, make_plugin_manager
from membercore.serialization import dump_config, load_config, load_config_toml
from membercore.service.use_cases import COMMAND_TYPES
from membercore.testing.clock import ManualClock
from membercore_adapters.stores import memory
from membercore_adapters.stores.memory import MemoryStore
from membercore_adapters.stores.sqlite import SqliteStore

CONFIG = reference_config()
NOW = datetime.fromisoformat("2026-03-02T10:00:00+08:00")
TYPES = sorted({kind.TYPE for kind in (*FACT_TYPES, *CLINICAL_FACT_TYPES, *COMMAND_TYPES)})
FIELDS = {
    kind.TYPE: [field.name for field in attrs.fields(kind)]
    for kind in (*FACT_TYPES, *CLINICAL_FACT_TYPES, *COMMAND_TYPES)
}
#: What the runs saw, for the figures in docs/reliability.md.
SEEN: Counter[str] = Counter()


def _deep(depth: int) -> object:
    value: object = "x"
    for _ in range(depth):
        value = [value]
    return value


_AWKWARD_VALUES: list[object] = [
    "2026-03-02T10:00:00+08:00",
    "2026-03-02T10:00:00",  # naive
    "0001-01-01T00:00:00+00:00",
    "9999-12-31T23:59:59+00:00",
    "1900-01-01",
    "2026-02-30",
    "HIS/000123",
    "S\ud800",
    "P\x00-1",
    "P\u202e-1",
    "x" * 5_000,
    10**30,
    "<huge>",
    -(2**63),
    float("nan"),
    float("inf"),
    _deep(40),
    "<deep>",
    {"type": "checked_in"},
    [{"department": "dental"}],
    "E11.9",
    "",
]
_AWKWARD = st.sampled_from(_AWKWARD_VALUES)
# Hypothesis writes out what it draws, and Python refuses to write out a number of 5,000
# digits or a list nested 3,000 deep: each is drawn as a marker and put in place just
# before the input is sent.
_HUGE = 10**5_000
_DEEP = _deep(3_000)


def _realise(value: object) -> object:
    if value == "<huge>":
        return _HUGE
    if value == "<deep>":
        return _DEEP
    if isinstance(value, dict):
        return {key: _realise(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_realise(item) for item in value]
    return value


_LEAVES = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.floats(),
    st.text(max_size=30),
    _AWKWARD,
)
_JUNK = st.recursive(
    _LEAVES,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4), st.dictionaries(st.text(max_size=12), inner, max_size=4)
    ),
    max_leaves=12,
)


@st.composite
def malformed(draw: st.DrawFn) -> dict[str, Any]:
    """A dict with a known (or nearly known) type tag, its fields junk, some left out."""
    tag = draw(st.sampled_from(TYPES))
    data: dict[str, Any] = {"type": tag}
    for name in FIELDS[tag]:
        choice = draw(st.integers(0, 5))
        if choice == 0:
            continue  # left out
        if name in ("patient_id", "member_id"):
            data[name] = draw(st.sampled_from(["P-1", "P-9", "HIS/000123"]) | _JUNK)
        elif name in ("occurred_at",) and choice < 4:
            data[name] = NOW.isoformat()
        else:
            data[name] = draw(_JUNK)
    if draw(st.booleans()):
        data[draw(st.text(max_size=12))] = draw(_JUNK)  # a key the type does not have
    if draw(st.integers(0, 9)) == 0:
        data["type"] = draw(_JUNK)
    return data


@pytest.fixture(scope="module")
def plugins() -> Any:
    manager: pluggy.PluginManager = make_plugin_manager(load_entrypoints=False, plugins=[memory])
    return collect(manager, CONFIG)


def _engine(plugins: Any) -> Engine:
    engine = Engine(MemoryStore(), CONFIG, clock=ManualClock(NOW), plugins=plugins)
    engine.ingest(
        [
            PatientRegistered(fact_id=f"reg-{p}", patient_id=p, occurred_at=NOW)
            for p in ("P-1", "P-2", "P-3")
        ]
    )
    return engine


def _as_text(data: dict[str, Any]) -> str | None:
    try:
        return json.dumps(data)
    except (ValueError, TypeError, RecursionError):
        return None  # not every dict has a JSON form (nan is written; a 5,000-digit int not)


@pytest.mark.slow
@given(bad=malformed(), as_text=st.booleans())
def test_a_malformed_input_never_raises_nor_costs_its_neighbours(
    plugins: Any, bad: dict[str, Any], as_text: bool
) -> None:
    engine = _engine(plugins)
    before = CheckedIn(fact_id="n-before", patient_id="P-2", occurred_at=NOW)
    after = CheckedIn(fact_id="n-after", patient_id="P-3", occurred_at=NOW)
    real: Any = _realise(bad)
    sent: object = (_as_text(real) or real) if as_text else real
    SEEN["inputs"] += 1
    report = engine.ingest([before, sent, after])
    assert report.applied + report.duplicates + report.rejected == 3
    for person in ("P-2", "P-3"):
        assert engine.member(person).profile.interactions, "a neighbour was lost"
    SEEN["refused" if report.rejected else "taken"] += 1
    for letter in engine.dead_letters():
        assert letter.reason
        assert len(letter.reason) <= engine.limits.max_reason + 60
        assert len(letter.payload) <= engine.limits.max_payload + 60
        assert "unknown error" not in letter.reason


@pytest.fixture(scope="module")
def on_sqlite(plugins: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Engine]:
    """One SQLite store for every example: what it refuses must be storable too."""
    path = tmp_path_factory.mktemp("fuzz") / "fuzz.db"
    store = SqliteStore.open(f"sqlite:///{path}")
    engine = Engine(store, CONFIG, clock=ManualClock(NOW), plugins=plugins)
    engine.ingest(
        [
            PatientRegistered(fact_id=f"reg-{p}", patient_id=p, occurred_at=NOW)
            for p in ("P-1", "P-2", "P-3")
        ]
    )
    yield engine
    engine.close()


@pytest.mark.slow
@given(bad=malformed(), as_text=st.booleans())
def test_a_malformed_input_is_refused_into_a_sqlite_store_too(
    on_sqlite: Engine, bad: dict[str, Any], as_text: bool
) -> None:
    SEEN["sqlite"] += 1
    n = SEEN["sqlite"]
    before = CheckedIn(fact_id=f"b-{n}", patient_id="P-2", occurred_at=NOW)
    after = CheckedIn(fact_id=f"a-{n}", patient_id="P-3", occurred_at=NOW)
    real: Any = _realise(bad)
    sent: object = (_as_text(real) or real) if as_text else real
    report = on_sqlite.ingest([before, sent, after])
    assert report.applied + report.duplicates + report.rejected == 3
    assert report.applied >= 2  # the neighbours


_PATHS = [
    ("name",),
    ("version",),
    ("timezone",),
    ("earning", "check_in", "points"),
    ("earning", "spending", "tier_multipliers_pct"),
    ("tiers", "levels"),
    ("tiers", "grace_days"),
    ("outreach", "sensitive_variables"),
    ("outreach", "channel_order"),
    ("outreach", "weekly_caps"),
    ("outreach", "templates"),
    ("plans", "plans"),
    ("rewards", "rewards"),
    ("journeys",),
    ("segments", "extra_codes"),
    ("staff", "staff"),
    ("plausibility", "max_points"),
]


@pytest.mark.slow
@given(path=st.sampled_from(_PATHS), value=_JUNK, index=st.integers(0, 20))
def test_a_mutated_programme_is_loaded_or_refused_naming_a_key(
    path: tuple[str, ...], value: object, index: int
) -> None:
    data = dump_config(CONFIG)
    target: Any = data
    for name in path[:-1]:
        target = target[name]
    current = target.get(path[-1])
    if isinstance(current, list) and current and index % 2:
        # Into one element of a list (a template, a plan, a journey) rather than the list.
        item = current[index % len(current)]
        if isinstance(item, dict) and item:
            key = sorted(item)[index % len(item)]
            item[key] = value
        else:
            current[index % len(current)] = value
    else:
        target[path[-1]] = value
    data = _realise(data)  # type: ignore[assignment]
    SEEN["programmes"] += 1
    refusal = _refusal(load_config, data)
    if refusal is not None:
        assert refusal.key.startswith("$")
        assert refusal.problem
        assert "unknown error" not in refusal.problem


@given(text=st.text(max_size=200) | st.sampled_from(["a = " + "[" * 5_000, "v = " + "9" * 5_000]))
def test_any_toml_text_is_loaded_or_refused_in_words(text: str) -> None:
    refusal = _refusal(load_config_toml, text)
    assert refusal is None or refusal.problem


def _refusal(load: Any, given: object) -> ConfigError | None:
    """The ConfigError loading raised, if any (anything else fails the test)."""
    try:
        load(given)
    except ConfigError as error:
        return error
    return None
