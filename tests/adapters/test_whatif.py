from __future__ import annotations

import contextlib
import hashlib
import json
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
import weakref
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import attrs
import click
import pytest
from hypothesis import given
from hypothesis import strategies as st

from membercore import Engine, reference_config
from membercore.config import ProgrammeConfig, Rate
from membercore.facts import ChargeLine, ChargePaid, CheckedIn, PatientRegistered
from membercore.ledger.commands import Redeem
from membercore.ports import LoggedInput
from membercore.testing.clock import ManualClock
from membercore_adapters import whatif as whatif_module
from membercore_adapters.cli import main
from membercore_adapters.cli import whatif as cli_whatif
from membercore_adapters.cli.whatif import processors
from membercore_adapters.demo.programme import demo_programme
from membercore_adapters.stores.packing import JOURNAL, unpack
from membercore_adapters.stores.sqlite import SqliteStore
from membercore_adapters.whatif import whatif

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures"
T0 = datetime(2025, 3, 3, 1, 0, tzinfo=UTC)


def lower_earning(config: ProgrammeConfig) -> ProgrammeConfig:
    """The programme earning half as many points for spending."""
    spending = config.earning.spending
    halved = {
        key: Rate(points=rate.points, per_yuan=rate.per_yuan * 2)
        for key, rate in spending.category_rates.items()
    }
    slower = attrs.evolve(spending, rate=Rate(points=1, per_yuan=2), category_rates=halved)
    return attrs.evolve(config, earning=attrs.evolve(config.earning, spending=slower))


@pytest.fixture(scope="module")
def demo_store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A small demo hospital's store (300 patients over 3 months), written once."""
    folder = tmp_path_factory.mktemp("whatif")
    path = folder / "demo.db"
    arguments = ["demo", "--patients", "300", "--months", "3", "--workers", "1", "--quiet"]
    assert main([*arguments, "--store", f"sqlite:///{path}"]) == 0
    return path


@pytest.fixture(scope="module")
def demo_toml(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The demo's programme, as ``membercore config init --template demo`` writes it."""
    path = tmp_path_factory.mktemp("programmes") / "demo.toml"
    assert main(["config", "init", str(path), "--template", "demo"]) == 0
    return path


@pytest.fixture(scope="module")
def lower_toml(demo_toml: Path) -> Path:
    text = demo_toml.read_text(encoding="utf-8")
    assert "rate = { points = 1, per_yuan = 1 }" in text
    path = demo_toml.with_name("lower.toml")
    path.write_text(
        text.replace("rate = { points = 1, per_yuan = 1 }", "rate = { points = 1, per_yuan = 2 }")
    )
    return path


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_a_lower_earning_rate_lowers_the_liability_and_changes_no_message(
    demo_store: Path,
    demo_toml: Path,
    lower_toml: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    out = tmp_path / "whatif.json"
    url = f"sqlite:///{demo_store}"
    arguments = ["whatif", "--store", url, "--config", str(lower_toml), "--sample", "3"]
    arguments += ["--baseline", str(demo_toml)]
    assert main([*arguments, "--json", str(out)]) == 0
    shown = capsys.readouterr().out
    assert "基准重放与存储一致" in shown
    assert "未兑余额（负债）" in shown
    result = json.loads(out.read_text(encoding="utf-8"))
    assert result["reproduces"] is True
    assert result["complete"] is True
    baseline, proposed = result["baseline"], result["proposed"]
    assert baseline["points"] == result["stored"]["points"]
    assert proposed["points"]["earned"] < baseline["points"]["earned"]
    assert proposed["points"]["balance"] < baseline["points"]["balance"]
    assert result["differences"]["points"]["balance"] < 0
    assert proposed["messages"] == baseline["messages"]
    assert sum(baseline["messages"].values()) > 0
    assert result["differences"]["messages"] == {}
    assert len(result["members"]) == 3
    explained = [line for member in result["members"] for line in member["why"]]
    assert any(line.startswith("- ") and "earning.spending" in line for line in explained)
    assert any(line.startswith("+ ") and "earning.spending" in line for line in explained)


def test_whatif_leaves_the_store_as_it_was_byte_for_byte(
    demo_store: Path, lower_toml: Path
) -> None:
    before = _digest(demo_store)
    beside = sorted(p.name for p in demo_store.parent.iterdir())
    assert main(["whatif", "--store", f"sqlite:///{demo_store}", "--config", str(lower_toml)]) == 0
    assert _digest(demo_store) == before
    assert sorted(p.name for p in demo_store.parent.iterdir()) == beside


def test_the_json_goes_into_a_new_folder_and_a_file_that_cannot_be_written_loses_no_result(
    demo_store: Path, lower_toml: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    arguments = ["--lang", "en", "whatif", "--store", f"sqlite:///{demo_store}"]
    arguments += ["--config", str(lower_toml), "--workers", "1"]
    made = tmp_path / "new" / "folder" / "compared.json"
    assert main([*arguments, "--json", str(made)]) == 0
    assert json.loads(made.read_text(encoding="utf-8"))["inputs"] > 0
    capsys.readouterr()
    blocked = tmp_path / "a-file"
    blocked.write_text("", encoding="utf-8")
    assert main([*arguments, "--json", str(blocked / "compared.json")]) == 2
    said = capsys.readouterr()
    assert "inputs replayed" in said.out  # the comparison was said first
    assert f"cannot write {blocked / 'compared.json'}" in said.err
    assert "Traceback" not in said.err


def _command(store: Path, config: Path, written: Path, *options: str) -> tuple[int, Any]:
    """``membercore whatif`` with ``options``: its status, and the comparison it wrote."""
    arguments = ["whatif", "--store", f"sqlite:///{store}", "--config", str(config)]
    status = main([*arguments, "--json", str(written), *options])
    return status, json.loads(written.read_text(encoding="utf-8")) if status == 0 else None


def test_whatif_replays_on_every_processor_unless_told(
    demo_store: Path, lower_toml: Path, tmp_path: Path
) -> None:
    written = tmp_path / "compared.json"
    status, compared = _command(demo_store, lower_toml, written)
    assert (status, compared["workers"]) == (0, processors())
    assert processors() == len(os.sched_getaffinity(0))
    status, compared = _command(demo_store, lower_toml, written, "--workers", "1")
    assert (status, compared["workers"]) == (0, 1)


def test_the_command_runs_on_a_thread_of_its_callers(
    demo_store: Path, lower_toml: Path, tmp_path: Path
) -> None:
    ended: list[int] = []
    options = ("--workers", "1")
    thread = threading.Thread(
        target=lambda: ended.append(
            _command(demo_store, lower_toml, tmp_path / "compared.json", *options)[0]
        )
    )
    thread.start()
    thread.join(timeout=120)
    assert ended == [0]


def test_the_command_bounds_the_inputs_of_a_partition(
    demo_store: Path, lower_toml: Path, tmp_path: Path
) -> None:
    written = tmp_path / "compared.json"
    options = ("--workers", "1", "--partition-inputs", "1000")
    status, compared = _command(demo_store, lower_toml, written, *options)
    assert status == 0
    assert compared["partitions"] >= -(-compared["inputs"] // 1000)
    assert _command(demo_store, lower_toml, written, "--partition-inputs", "0")[0] == 2


def _children(pid: int) -> set[int]:
    """The processes ``pid`` spawned to replay (not multiprocessing's resource tracker)."""
    found = set()
    for task in Path(f"/proc/{pid}/task").iterdir():
        found |= {int(n) for n in (task / "children").read_text().split()}
    return {child for child in found if b"spawn_main" in _command_of(child)}


def _command_of(pid: int) -> bytes:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:  # ended meanwhile
        return b""


def _stopped_replaying(running: subprocess.Popen[str], scratch: Path, many: bool) -> set[int]:
    """Stop ``running`` (SIGSTOP) at a moment it replays: its partitions' files written
    and, when ``many``, its two replaying processes started; their ids.

    Stopped, the command cannot leave the stretch in which SIGTERM aborts it, however
    quick its replay and however late this process is scheduled.
    """
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        assert running.poll() is None, "the what-if ended before it was seen replaying"
        os.kill(running.pid, signal.SIGSTOP)
        while _state(running.pid) not in ("T", "Z"):  # Z: it ended meanwhile
            time.sleep(0.001)
        replaying = _children(running.pid)
        if list(scratch.glob("*/partition-*")) and (not many or len(replaying) >= 2):
            return replaying
        os.kill(running.pid, signal.SIGCONT)
        time.sleep(0.01)
    raise AssertionError("the what-if was not seen replaying within a minute")


def _state(pid: int) -> str:
    """The state letter of a process (``T``: stopped, ``Z``: ended, not yet waited for)."""
    stat = Path(f"/proc/{pid}/stat").read_text()
    return stat[stat.rindex(")") + 2]


@pytest.mark.parametrize("workers", ["1", "2"])
@pytest.mark.parametrize("interrupt", ["sigterm", "ctrl-c"])
def test_sigterm_or_ctrl_c_ends_the_command_leaving_no_files_no_processes_no_traceback(
    demo_store: Path, lower_toml: Path, tmp_path: Path, workers: str, interrupt: str
) -> None:
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    command = [sys.executable, "-m", "membercore_adapters.cli", "whatif"]
    command += ["--store", f"sqlite:///{demo_store}", "--config", str(lower_toml)]
    command += ["--workers", workers, "--partition-inputs", "200", "--lang", "en"]
    before = _digest(demo_store)
    running = subprocess.Popen(
        command,
        env={**os.environ, "TMPDIR": str(scratch)},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,  # a group of its own, as a terminal's foreground job
    )
    replaying = _stopped_replaying(running, scratch, workers == "2")
    if interrupt == "sigterm":  # as timeout, cron and systemd stop a job
        running.send_signal(signal.SIGTERM)
    else:  # Ctrl-C: the terminal signals every process of the group
        os.killpg(running.pid, signal.SIGINT)
    os.kill(running.pid, signal.SIGCONT)  # taken when the command goes on
    out, err = running.communicate(timeout=60)
    assert running.returncode == 1, (out, err)
    assert "aborted" in err
    assert "Traceback" not in err
    assert "SpawnPoolWorker" not in err  # no replaying process said it was interrupted too
    assert list(scratch.iterdir()) == []  # the partitions' files are gone
    assert _digest(demo_store) == before
    # The replaying processes (and multiprocessing's resource tracker) end with it.
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and any(_alive(pid) for pid in replaying):
        time.sleep(0.1)
    assert not [pid for pid in replaying if _alive(pid)]


@pytest.mark.parametrize("sign", [signal.SIGTERM, signal.SIGINT])
def test_an_interruption_python_dropped_still_aborts_the_command(sign: int) -> None:
    """What a signal handler raises in a weak reference's callback, Python drops."""

    def interrupted_then_dropped() -> None:
        with cli_whatif._interruptions_abort():
            handler = signal.getsignal(sign)
            assert callable(handler)
            with contextlib.suppress(KeyboardInterrupt):  # dropped, as Python would
                handler(sign, None)

    before = signal.getsignal(sign)
    with pytest.raises(click.Abort):
        interrupted_then_dropped()
    assert signal.getsignal(sign) is before  # the handlers before are back


def test_an_interruption_while_the_pool_starts_is_taken_once_it_has(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A process half started, outside the pool, would fail on the terminal."""
    started: list[object] = []

    class Pool:
        def __init__(self, processes: int, initializer: object = None) -> None:
            signal.raise_signal(signal.SIGTERM)  # while the processes start
            started.append(self)

        def __enter__(self) -> Pool:
            return self

        def __exit__(self, *_: object) -> None:
            started.append("ended")

    def interrupt(_signal: int, _frame: object) -> None:
        raise KeyboardInterrupt

    context = SimpleNamespace(Pool=Pool)
    monkeypatch.setattr(whatif_module.multiprocessing, "get_context", lambda _: context)
    before = signal.signal(signal.SIGTERM, interrupt)
    try:
        with pytest.raises(KeyboardInterrupt), whatif_module._pool(2):
            pytest.fail("the block ran although the pool was interrupted")
    finally:
        signal.signal(signal.SIGTERM, before)
    assert started[-1] == "ended"  # the pool started whole, then was ended


def test_an_error_while_the_processes_replay_ends_them_at_once(
    demo_store: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    replaying: set[int] = set()

    def failing(*args: Any, **kwargs: Any) -> Any:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and len(replaying) < 2:
            replaying.update(_children(os.getpid()))
            time.sleep(0.05)
        raise RuntimeError("the store's own figures could not be read")

    monkeypatch.setattr(whatif_module, "figures", failing)
    programme = demo_programme()
    url = f"sqlite:///{demo_store}"
    with pytest.raises(RuntimeError, match="could not be read"):
        whatif(url, programme, baseline=programme, workers=2, most_inputs=200)
    # This process goes on: the pool's processes did not wait for its end to stop.
    assert replaying
    assert not [pid for pid in replaying if pid in _children(os.getpid())]


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def test_the_store_taking_inputs_while_it_is_read_is_not_said_to_differ(
    demo_store: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    copy = tmp_path / "busy.db"
    shutil.copy(demo_store, copy)
    url = f"sqlite:///{copy}"
    clock = ManualClock(datetime(2030, 1, 1, tzinfo=UTC))
    with Engine.open(url, config=demo_programme(), clock=clock) as writer:
        read = whatif_module.figures

        def busy(*args: Any, **kwargs: Any) -> Any:
            # Another process registers a patient while the store's own figures are read.
            new = PatientRegistered(fact_id="r-new", patient_id="NEW", occurred_at=clock.now())
            writer.ingest([new])
            return read(*args, **kwargs)

        monkeypatch.setattr(whatif_module, "figures", busy)
        result = whatif(url, demo_programme(), baseline=demo_programme(), sample=0)
    assert result.later == 1
    assert not result.reproduces
    assert result.to_dict()["later"] == 1
    monkeypatch.undo()
    assert whatif(url, demo_programme(), baseline=demo_programme(), sample=0).later == 0


def test_the_python_api_refuses_counts_that_are_no_counts(demo_store: Path) -> None:
    url = f"sqlite:///{demo_store}"
    programme = demo_programme()
    for bad, error in (
        ({"workers": 0}, ValueError),
        ({"workers": -1}, ValueError),
        ({"most_inputs": 0}, ValueError),
        ({"most_inputs": True}, TypeError),
        ({"most_inputs": "10"}, TypeError),
        ({"sample": -1}, ValueError),
    ):
        with pytest.raises(error, match=next(iter(bad))):
            whatif(url, programme, baseline=programme, **bad)  # type: ignore[arg-type]


def test_more_processes_than_processors_are_run_with_a_note(
    demo_store: Path, lower_toml: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    store = f"sqlite:///{demo_store}"
    many = str(processors() + 1)
    arguments = ["whatif", "--store", store, "--config", str(lower_toml), "--lang", "en"]
    assert main([*arguments, "--workers", many, "--partition-inputs", "100000"]) == 0
    assert f"{many} processes on {processors()} processors" in capsys.readouterr().err


def test_a_log_split_into_many_partitions_comes_to_the_same_comparison(demo_store: Path) -> None:
    programme = demo_programme()
    proposed = lower_earning(programme)
    url = f"sqlite:///{demo_store}"
    whole = whatif(url, proposed, baseline=programme, sample=3).to_dict()
    assert whole["partitions"] == 1
    split = whatif(url, proposed, baseline=programme, sample=3, most_inputs=whole["inputs"] // 5)
    assert split.partitions >= 5
    assert split.reproduces
    parted = split.to_dict()
    for result in (whole, parted):
        del result["seconds"], result["partitions"]
    assert parted == whole


class _Counted:
    """A store whose input log is counted as it is read: the inputs alive at each one."""

    def __init__(self, store: SqliteStore) -> None:
        self._store = store
        self.alive: weakref.WeakSet[LoggedInput] = weakref.WeakSet()
        self.most = 0
        self.reads: list[int] = []

    def inputs(self, *, after: int = 0) -> Iterator[LoggedInput]:
        self.reads.append(after)
        for entry in self._store.inputs(after=after):
            self.alive.add(entry)
            self.most = max(self.most, len(self.alive))
            yield entry

    def __getattr__(self, name: str) -> Any:
        return getattr(self._store, name)


def test_the_store_s_log_is_read_once_and_never_held_whole(demo_store: Path) -> None:
    store = SqliteStore.open(f"sqlite:///{demo_store}")
    counted = _Counted(store)
    try:
        result = whatif(counted, lower_earning(demo_programme()), baseline=demo_programme())
    finally:
        store.close()
    assert result.inputs > 1_000
    assert result.reproduces
    # Once whole (a copy of it is routed to the partitions), then once past its end for
    # what the store took meanwhile.
    assert counted.reads == [0, result.inputs]
    assert counted.most <= 2  # each input let go once grouped, or once written out


@pytest.mark.slow
def test_one_process_and_two_come_to_the_same_comparison(demo_store: Path) -> None:
    programme = demo_programme()
    proposed = lower_earning(programme)
    url = f"sqlite:///{demo_store}"
    one = whatif(url, proposed, baseline=programme, workers=1, sample=4).to_dict()
    two = whatif(url, proposed, baseline=programme, workers=2, sample=4).to_dict()
    assert one["reproduces"] is True
    for result in (one, two):
        del result["seconds"], result["workers"], result["partitions"]
    assert one == two


def _feed(engine: Engine, clock: ManualClock) -> None:
    engine.ingest(
        [
            PatientRegistered(fact_id="r-1", patient_id="P1", occurred_at=T0),
            PatientRegistered(fact_id="r-2", patient_id="P2", occurred_at=T0),
        ],
        now=T0 + timedelta(hours=1),
    )
    spent = [
        ChargePaid(
            fact_id=f"c-{n}",
            patient_id=f"P{1 + n % 2}",
            occurred_at=T0 + timedelta(days=n),
            charge_id=f"ch-{n}",
            lines=(ChargeLine(department="outpatient", category="exam", amount_fen=200_000),),
        )
        for n in range(1, 6)
    ]
    checked = [
        CheckedIn(fact_id=f"k-{n}", patient_id="P1", occurred_at=T0 + timedelta(days=n, hours=2))
        for n in range(1, 6)
    ]
    for n in range(1, 20):
        at = T0 + timedelta(days=n, hours=12)
        clock.set(at)
        engine.ingest([f for f in (*spent, *checked) if f.occurred_at.date() == at.date()], now=at)
        engine.tick(at)
    clock.set(T0 + timedelta(days=21))
    engine.execute(Redeem(member_id="P1", points=100, key="redeem-1"))
    clock.set(T0 + timedelta(days=800))  # past the points' expiry: a tick with work to do
    engine.tick()


def test_the_python_api_compares_a_memory_store_it_is_handed() -> None:
    clock = ManualClock(T0)
    with Engine.open("memory://", config=reference_config(), clock=clock) as engine:
        _feed(engine, clock)
        result = whatif(engine.store, lower_earning(reference_config()), sample=2)
    assert result.complete
    assert result.reproduces
    assert result.baseline.points["redeemed"] == result.proposed.points["redeemed"] == 100
    assert result.proposed.points["expired"] < result.baseline.points["expired"]
    assert result.proposed.points["earned"] < result.baseline.points["earned"]
    assert result.differences()["points"]["earned"] < 0
    assert [member.member_id for member in result.members] == sorted(
        member.member_id for member in result.members
    )
    assert json.loads(json.dumps(result.to_dict(), default=str))["inputs"] == result.inputs


def test_a_postgresql_store_is_replayed_and_left_as_it_was(postgres_schema_url: str) -> None:
    clock = ManualClock(T0)
    with Engine.open(postgres_schema_url, config=reference_config(), clock=clock) as engine:
        _feed(engine, clock)
        logged = list(engine.store.inputs())
    assert [entry.seq for entry in logged] == list(range(1, len(logged) + 1))
    assert {entry.kind for entry in logged} == {"fact", "command", "tick"}
    result = whatif(postgres_schema_url, lower_earning(reference_config()), workers=2)
    assert result.reproduces
    assert result.proposed.points["earned"] < result.baseline.points["earned"]
    with Engine.open(postgres_schema_url, config=reference_config(), clock=clock) as engine:
        assert list(engine.store.inputs()) == logged


def test_a_store_from_before_the_input_log_says_how_many_records_it_cannot_replay(
    tmp_path: Path, lower_toml: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "store-v1.db"
    shutil.copy(FIXTURES / "store-v1.db", path)
    url = f"sqlite:///{path}"
    assert main(["whatif", "--store", url, "--config", str(lower_toml)]) == 3
    assert "migrate" in capsys.readouterr().err
    assert main(["migrate", "--store", url]) == 0
    capsys.readouterr()
    with SqliteStore(path) as store:
        records = len(list(store.scan()))
    assert main(["whatif", "--store", url, "--config", str(lower_toml)]) == 3
    said = capsys.readouterr().err
    assert "输入日志为空" in said
    assert f"{records} 条记录" in said
    result = whatif(url, lower_earning(reference_config()))
    assert (result.inputs, result.unlogged, result.complete) == (0, records, False)


def test_the_sql_stores_keep_each_logged_input_packed(demo_store: Path) -> None:
    """The log's messages are packed as a commit's events are: a fraction of their text."""
    import sqlite3  # noqa: PLC0415 - only this test reads the file underneath

    with sqlite3.connect(f"file:{demo_store}?mode=ro", uri=True) as db:
        rows = db.execute("SELECT payload FROM inputs ORDER BY seq LIMIT 500").fetchall()
    with SqliteStore(str(demo_store)) as store:
        logged = [entry.payload for entry, _ in zip(store.inputs(), range(500), strict=False)]
    assert all(isinstance(packed, bytes) and packed[0] == JOURNAL for (packed,) in rows)
    assert [unpack(packed) for (packed,) in rows] == logged
    assert sum(len(packed) for (packed,) in rows) * 2 < sum(len(text) for text in logged)


class _Wall(ManualClock):
    """A wall clock that moves on a second each time it is read (an import's batches
    each take their own instant)."""

    def now(self) -> datetime:
        now = super().now()
        self.set(now + timedelta(seconds=1))
        return now


def test_a_history_imported_in_many_batches_is_replayed_as_one_import() -> None:
    """One charge lifts the member two tiers; the check-ins after it fill several
    batches; the charge after them earns at the tier the first reached, in the store and
    in the replay alike."""
    start = datetime(2024, 1, 2, 9, tzinfo=UTC)
    line = ChargeLine(department="internal", category="exam", amount_fen=6_000_000)
    facts: list[object] = [
        PatientRegistered(fact_id="reg", patient_id="P1", occurred_at=start),
        ChargePaid(fact_id="c1", patient_id="P1", occurred_at=start, charge_id="c1", lines=(line,)),
    ]
    facts += [
        CheckedIn(fact_id=f"in-{n}", patient_id="P1", occurred_at=start + timedelta(hours=n + 1))
        for n in range(40)
    ]
    later = attrs.evolve(line, amount_fen=100_000)
    facts.append(
        ChargePaid(
            fact_id="c2",
            patient_id="P1",
            occurred_at=start + timedelta(days=180),
            charge_id="c2",
            lines=(later,),
        )
    )
    clock = _Wall(datetime(2026, 12, 1, 9, tzinfo=UTC))
    with Engine.open("memory://", config=reference_config(), clock=clock, batch_size=10) as engine:
        engine.ingest(facts, history=True)
        result = whatif(engine.store, reference_config())
    assert result.complete
    assert result.reproduces
    assert result.baseline.points == result.proposed.points


_INSTANTS = st.datetimes(
    min_value=datetime(1900, 1, 1),  # noqa: DTZ001 - bounds of a strategy for aware instants
    max_value=datetime(2200, 1, 1),  # noqa: DTZ001
    timezones=st.just(UTC),
)


@given(
    entries=st.lists(
        st.builds(
            LoggedInput,
            kind=st.sampled_from(["fact", "command", "tick"]),
            payload=st.text(max_size=40),
            keys=st.lists(st.sampled_from(["member:P1", "household:H1", "stock:g"]), max_size=3),
            at=_INSTANTS,
            occurred_at=_INSTANTS,
            batch_at=_INSTANTS,
            refused=st.none() | st.text(max_size=20),
            cutoff=st.none() | _INSTANTS,
            seq=st.integers(0, 1 << 40),
        ),
        max_size=5,
    )
)
def test_an_input_written_to_a_partition_s_file_reads_back_equal(
    entries: list[LoggedInput], tmp_path_factory: pytest.TempPathFactory
) -> None:
    path = tmp_path_factory.mktemp("spilled") / "inputs.pickle"
    with path.open("wb") as out:
        for entry in entries:
            whatif_module._write(whatif_module._fields(entry), out)
    assert list(whatif_module._loaded(path)) == entries


def test_a_fact_longer_as_text_than_an_input_may_be_is_replayed_as_it_was_taken() -> None:
    """A charge of a thousand lines built in code is checked value by value, each within
    the limits; written out it is longer than an input's text may be. The replay reads
    the other inputs from their stored text, and this one as stored, so that it is
    taken again rather than refused."""
    code = "x" * 1_200
    lines = tuple(
        ChargeLine(department="outpatient", category="exam", amount_fen=100, service_code=code)
        for _ in range(1_000)
    )
    clock = ManualClock(T0)
    with Engine.open("memory://", config=reference_config(), clock=clock) as engine:
        engine.ingest(
            [
                PatientRegistered(fact_id="r-1", patient_id="P1", occurred_at=T0),
                ChargePaid(
                    fact_id="c-1", patient_id="P1", occurred_at=T0, charge_id="c", lines=lines
                ),
            ]
        )
        logged = [len(entry.payload) for entry in engine.store.inputs()]
        assert logged[1] > engine.limits.max_chars >= logged[0]
        result = whatif(engine.store, lower_earning(reference_config()))
    assert result.reproduces
    assert (result.baseline.dead_letters, result.baseline.points["earned"]) == (0, 1_000)
    assert result.proposed.points["earned"] == 500
