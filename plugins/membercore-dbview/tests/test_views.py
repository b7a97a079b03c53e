"""Polling a HIS's views: every row once, late rows, pages, restarts, changes, bad rows."""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Iterator
from pathlib import Path

import pytest

from membercore import Engine
from membercore.errors import ConfigError
from membercore.ports import Positioned
from membercore.service.member import contact
from membercore_adapters.cli import main
from membercore_dbview import DbViewSource, ViewUnreadableError, load_views, marks_from

from .conftest import HisDatabase, at, charge, diagnosis, open_engine, patient, views_toml

SOURCE = "dbview:his"


def _views(his: HisDatabase, tmp_path: Path, **options: object) -> Path:
    path = tmp_path / "views.toml"
    path.write_text(views_toml(his, **options), encoding="utf-8")  # type: ignore[arg-type]
    return path


def _poll(engine: Engine, views: Path) -> tuple[int, int, int]:
    """One poll from the committed position: (applied, duplicates, rejected)."""
    source = DbViewSource(load_views(views), after=engine.position(SOURCE))
    report = engine.ingest(source.read(), source=SOURCE)
    return report.applied, report.duplicates, report.rejected


def _charges(engine: Engine, member: str) -> dict[str, int]:
    """Each charge the member earned points for, with the amount it earned on, in fen."""
    lots = engine.member(member).ledger.lots.values()
    return {s.lot.reference or "": s.lot.basis_fen for s in lots if s.lot.basis_fen is not None}


def _registered(his: HisDatabase) -> None:
    his.insert(
        "his_patient",
        patient("P001", "C-555", "2025-03-01 09:00:00", id_card="330102198005011234"),
        patient("P002", "C-777", "2025-03-01 09:30:00", name="李建国", sex="男"),
    )


def test_a_poll_takes_each_view_to_the_member_its_card_number_names(
    his: HisDatabase, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _registered(his)
    his.insert(
        "his_mz_sfmx",
        charge("SF001", 1, "C-555", "128.00", "2025-03-02 10:30:00", code="XY", name="二甲双胍"),
        charge("SF001", 2, "C-555", "80.00", "2025-03-02 10:30:00", insurance="20.00"),
        # Not priced yet: the view prices it at 3 × 4.1234 yuan, finer than a fen.
        charge("SF002", 1, "C-555", "", "2025-03-02 11:00:00", quantity="3", price="4.1234"),
        charge("SF004", 1, "C-777", "25.50", "2025-03-03 08:00:00", department=None),
    )
    his.insert(
        "his_mz_zd",
        diagnosis(1, "C-555", "TNB01", "2025-03-02 10:40:00"),
        diagnosis(2, "C-777", "GXY01", "待定"),
        diagnosis(3, "C-777", "TNB01", "2025-03-03 08:10:00", void=1),
    )
    views = _views(his, tmp_path)
    store = f"sqlite:///{tmp_path}/m.db"
    command = ["ingest", str(views), "--source", "dbview", "--resume", "--store", store]
    assert main(command) == 1  # two rows refused
    printed = capsys.readouterr().out
    assert "view charges, row SF002/1 at 2025-03-02 11:00:00" in printed
    assert "column '金额' (amount): '12.3702" in printed  # 12.370200 on some servers
    assert "yuan is finer than a fen" in printed
    assert "view diagnoses, row 2 at 2" in printed
    assert "column '诊断时间' (occurred_at): '待定' is not a date and time" in printed
    with open_engine(store) as engine:
        assert engine.identified("HZ01^CARD", "C-555") == "P001"
        assert engine.identified("CHN^NNCHN", "330102198005011234") == "P001"
        assert engine.member("P002").profile.registrations
        assert _charges(engine, "P001") == {"SF001-1": 12_800, "SF001-2": 8_000}
        assert _charges(engine, "P002") == {"SF004-1": 2_550}
        assert "condition:type2_diabetes" in engine.tags("P001")
        assert "condition:type2_diabetes" not in engine.tags("P002")  # record 3 is void
        refused = {letter.payload for letter in engine.dead_letters()}
        reasons = [letter.reason for letter in engine.dead_letters()]
    assert any('"收费单号": "SF002"' in payload for payload in refused)
    # A dead letter names the row, not the watermarks the engine commits.
    assert all(reason.startswith("view ") for reason in reasons), reasons
    # Polled again: nothing new, and the rows refused are not refused again.
    assert main(command) == 0
    assert "0 条已应用" in capsys.readouterr().out
    with open_engine(store) as engine:
        assert len(engine.dead_letters()) == 2


def test_a_patients_view_gives_the_addresses_messages_are_sent_to(
    his: HisDatabase, tmp_path: Path
) -> None:
    his.insert(
        "his_patient",
        patient("P001", "C-555", "2025-03-01 09:00:00", phone=" 13800138000 ", email="N/A"),
        patient("P002", "C-777", "2025-03-01 09:30:00", phone="无", email="li@example.cn"),
        patient("P003", "C-888", "2025-03-01 10:00:00"),
    )
    with open_engine() as engine:
        assert _poll(engine, _views(his, tmp_path)) == (3, 0, 0)
        wang, li, zhao = (engine.member(p) for p in ("P001", "P002", "P003"))
        assert (contact(wang, "sms"), contact(wang, "email")) == ("13800138000", None)
        assert (contact(li, "sms"), contact(li, "email")) == (None, "li@example.cn")
        assert (contact(zhao, "phone"), contact(zhao, "email")) == (None, None)


def test_rows_sharing_one_time_across_pages_are_each_taken_once(
    his: HisDatabase, tmp_path: Path
) -> None:
    _registered(his)
    lines = [charge("SF010", n, "C-555", "10.00", "2025-03-02 10:30:00") for n in range(1, 8)]
    his.insert("his_mz_sfmx", *lines)
    views = _views(his, tmp_path, page_size=2)
    with open_engine() as engine:
        # The patients, and each line with the registration naming its card number.
        assert _poll(engine, views) == (2 + 7 * 2, 0, 0)
        assert set(_charges(engine, "P001")) == {f"SF010-{n}" for n in range(1, 8)}
        marks = marks_from(engine.position(SOURCE), ["charges"])
        assert marks["charges"] is not None
        assert marks["charges"].key == ("SF010", 7)
        # Read again from there: P002 and every line are in the overlap, each a duplicate.
        assert _poll(engine, views) == (0, 1 + 7 * 2, 0)


def test_a_row_committed_late_inside_the_overlap_is_taken_on_the_next_poll(
    his: HisDatabase, tmp_path: Path
) -> None:
    _registered(his)
    his.insert("his_mz_sfmx", charge("SF020", 1, "C-555", "50.00", "2025-03-02 10:30:00"))
    his.insert("his_mz_zd", diagnosis(20, "C-555", "GXY01", "2025-03-02 10:40:00"))
    views = _views(his, tmp_path)
    with open_engine() as engine:
        _poll(engine, views)
        # Committed after the poll, stamped before what it took: 5 minutes (inside the
        # 10 minutes' overlap) and 20 minutes (outside it) earlier; a diagnosis record
        # whose id was handed out before the last taken (inside the 10 ids' overlap).
        his.insert(
            "his_mz_sfmx",
            charge("SF019", 1, "C-555", "30.00", "2025-03-02 10:25:00"),
            charge("SF018", 1, "C-555", "40.00", "2025-03-02 10:10:00"),
        )
        his.insert("his_mz_zd", diagnosis(15, "C-555", "TNB01", "2025-03-02 10:35:00"))
        applied, duplicates, rejected = _poll(engine, views)
        assert (applied, rejected) == (2 + 2, 0)  # each with its card number's registration
        assert duplicates > 0  # what the overlap read again
        assert set(_charges(engine, "P001")) == {"SF020-1", "SF019-1"}  # SF018: too late
        assert "condition:type2_diabetes" in engine.tags("P001")


def test_a_poll_stopped_midway_resumes_from_the_watermark_it_committed(
    his: HisDatabase, tmp_path: Path
) -> None:
    _registered(his)
    his.insert(
        "his_mz_sfmx",
        *[
            charge(
                f"SF{n:03d}", 1, "C-555" if n % 2 else "C-777", "10.00", f"2025-03-02 10:{n:02d}:00"
            )
            for n in range(30, 45)
        ],
    )
    views = _views(his, tmp_path, page_size=4)
    with open_engine() as whole:
        expected = _poll(whole, views)
        end = whole.position(SOURCE)
    with open_engine(batch_size=3) as engine:
        source = DbViewSource(load_views(views))
        with pytest.raises(RuntimeError, match="stopped"):
            engine.ingest(_stopping(source.read(), after=11), source=SOURCE)
        first = engine.position(SOURCE)
        assert first is not None
        assert marks_from(first, ["charges"])["charges"] is not None  # three batches in
        applied, _, rejected = _poll(engine, views)
        taken = {**_charges(engine, "P001"), **_charges(engine, "P002")}
        assert engine.position(SOURCE) == end
    # Nothing missed, nothing taken twice: the facts the first run committed and those
    # the second added are those one run takes.
    assert 9 + applied == expected[0]
    assert rejected == expected[2] == 0
    assert len(taken) == 15


@pytest.mark.parametrize(
    ("version", "says"),
    [
        ("", "was taken before with other content"),
        ('version = "修改时间"', "a charge is sent once (a correction is a refund"),
    ],
)
def test_a_charge_changed_in_the_view_is_refused_and_kept_never_taken_twice(
    his: HisDatabase, tmp_path: Path, version: str, says: str
) -> None:
    _registered(his)
    his.insert("his_mz_sfmx", charge("SF050", 1, "C-555", "100.00", "2025-03-02 10:30:00"))
    views = _views(his, tmp_path, charges=version)
    with open_engine() as engine:
        _poll(engine, views)
        where = {"收费单号": "SF050", "明细号": 1}
        his.update("his_mz_sfmx", where, {"金额": 90, "修改时间": at("2025-03-02 11:00:00")})
        _, _, rejected = _poll(engine, views)
        assert rejected == 1
        (letter,) = engine.dead_letters()
        assert says in letter.reason
        assert '"amount_fen":9000' in letter.payload  # the change, kept
        assert _charges(engine, "P001") == {"SF050-1": 10_000}


def _stopping(inputs: Iterable[Positioned], *, after: int) -> Iterator[Positioned]:
    """The inputs, until ``after`` of them were read: then the process stops."""
    yield from itertools.islice(inputs, after)
    raise RuntimeError("stopped")


@pytest.mark.parametrize(
    ("change", "key"),
    [
        (('amount = "金额"', 'amout = "金额"'), "dbview.views.charges.columns.amout"),
        (
            ('watermark_kind = "number"', 'watermark_kind = "id"'),
            "dbview.views.diagnoses.watermark_kind",
        ),
        (("overlap = 600", "overlap = -1"), "dbview.views.charges.overlap"),
        (("page_size = 1000", "page_size = 0"), "dbview.page_size"),
        (('timezone = "Asia/Shanghai"', "pagesize = 3"), "dbview.pagesize"),
        (('watermark = "记录ID"', ""), "dbview.views.diagnoses.watermark"),
    ],
)
def test_a_views_file_with_a_wrong_key_is_refused_naming_it(
    tmp_path: Path, change: tuple[str, str], key: str
) -> None:
    his = _Named("sqlite:///his.db")
    path = tmp_path / "views.toml"
    path.write_text(views_toml(his).replace(*change), encoding="utf-8")  # type: ignore[arg-type]
    with pytest.raises(ConfigError) as refused:
        load_views(path)
    assert refused.value.key == key


def test_the_url_may_come_from_the_environment_and_its_password_is_never_said(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    secret = "mysql+pymysql://reader:s3cret@127.0.0.1:9/his"
    path = tmp_path / "views.toml"
    text = views_toml(_Named(secret)).replace(f'url = "{secret}"', 'url_env = "HIS_DB_URL"')  # type: ignore[arg-type]
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ConfigError, match="HIS_DB_URL is not set"):
        load_views(path, environ={})
    config = load_views(path, environ={"HIS_DB_URL": secret})
    assert "s3cret" not in config.shown()
    assert "s3cret" not in repr(config)
    with pytest.raises(ViewUnreadableError) as unreadable:
        list(DbViewSource(config).read())
    assert unreadable.value.view == "patients"
    assert "s3cret" not in str(unreadable.value)


def test_an_at_sign_left_in_the_password_is_refused_without_saying_the_password(
    tmp_path: Path,
) -> None:
    # "s3c@ret" unencoded: the driver would take "ret@127.0.0.1" for the host, and say it.
    secret = "mysql+pymysql://reader:s3c@ret@127.0.0.1:9/his"
    path = tmp_path / "views.toml"
    text = views_toml(_Named(secret)).replace(f'url = "{secret}"', 'url_env = "HIS_DB_URL"')  # type: ignore[arg-type]
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ConfigError, match="written %40") as refused:
        load_views(path, environ={"HIS_DB_URL": secret})
    assert refused.value.key == "dbview.url_env"
    assert "ret" not in str(refused.value).replace("percent", "")
    encoded = secret.replace("s3c@ret", "s3c%40ret")
    assert load_views(path, environ={"HIS_DB_URL": encoded}).url.password == "s3c@ret"


@pytest.mark.parametrize("url", ["mysql://root@127.0.0.1:3306/test", "teradata://host/db"])
def test_a_url_whose_driver_is_not_installed_is_refused_naming_what_to_install(
    tmp_path: Path, url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "views.toml"
    path.write_text(views_toml(_Named(url)), encoding="utf-8")  # type: ignore[arg-type]
    store = f"sqlite:///{tmp_path}/m.db"
    assert main(["ingest", str(path), "--source", "dbview", "--store", store]) != 0
    said = capsys.readouterr().err
    assert said.startswith("membercore: ")  # not a programme's file: none was given
    assert "dbview.url" in said
    assert "mysql+pymysql://" in said
    assert "Traceback" not in said


class _Named:
    """A database only named, for views files that are never polled."""

    def __init__(self, url: str) -> None:
        self.url = url

    def view(self, name: str) -> str:
        return name


def test_a_watermark_the_overlap_cannot_be_taken_before_stops_the_poll_naming_it(
    tmp_path: Path,
) -> None:
    import sqlite3  # noqa: PLC0415

    database = tmp_path / "his.db"
    with sqlite3.connect(database) as connection:
        connection.execute("CREATE TABLE v_patient (病人ID TEXT, 修改时间 TEXT, 建档时间 TEXT)")
        connection.execute(
            "INSERT INTO v_patient VALUES ('P001', '2025/03/02 10:30', '2025-03-01 09:00:00')"
        )
    views = tmp_path / "views.toml"
    views.write_text(
        f"""
[dbview]
url = "sqlite:///{database}"

[dbview.views.patients]
view = "v_patient"
watermark = "修改时间"
fact = "patient_registered"
key = "病人ID"
patient = "病人ID"
columns = {{ occurred_at = "建档时间" }}
""",
        encoding="utf-8",
    )
    with pytest.raises(ViewUnreadableError, match="column '修改时间' holds '2025/03/02 10:30'"):
        list(DbViewSource(load_views(views)).read())
