"""A hospital's CSV and Excel exports, through ``membercore import --source csv`` and the engine.

The exports are shaped as a Chinese HIS writes them: a patients' table (患者) naming each
patient by their medical record number with a card number (就诊卡号) and an ID card, and
an outpatient charges table (门诊收费) naming the patient by card number alone, with
amounts in yuan and times without a zone.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from membercore import Engine, reference_config
from membercore.errors import ConfigError, MembercoreError
from membercore.facts import PatientRegistered
from membercore.idempotency import fingerprint
from membercore.plugins import make_plugin_manager
from membercore.service.member import contact
from membercore_adapters import clock
from membercore_adapters.cli import main
from membercore_adapters.his.csvfile import CsvSource
from membercore_adapters.his.exports import export_mapping
from membercore_adapters.his.jsonl import line_of
from membercore_adapters.his.rows import translate
from membercore_adapters.stores import memory, sqlite

PATIENTS_MAP = """
[csv]
fact = "patient_registered"
key = "病人ID"
patient = "病人ID"
identifiers = { "就诊卡号" = "HZ01^CARD", "身份证号" = "CHN^NNCHN" }

[csv.columns]
occurred_at = "建档时间"
name = "姓名"
sex = "性别"
birth_date = "出生日期"
"""

PATIENTS = (
    "病人ID,姓名,性别,出生日期,就诊卡号,身份证号,建档时间\n"
    "P001,王秀英,女,1980-01-01,C-555,330102198001011234,2025-03-01 09:00:00\n"
    "P002,李建国,男,1975/6/30,C-777,,2025-03-01 09:30:00\n"
)

CHARGES_MAP = """
[csv]
fact = "charge_paid"
key = ["收费单号", "明细号"]
patient = { identifier = "就诊卡号", system = "HZ01^CARD" }
timezone = "Asia/Shanghai"

[csv.columns]
occurred_at = "收费时间"
charge_id = ["收费单号", "明细号"]
department = "科室代码"
code = "项目代码"
amount = "金额"
insurance = "统筹支付"
quantity = "数量"
unit_price = "单价"

[csv.departments]
"0301" = "endocrinology"
default = "outpatient"

[csv.charge_categories]
"XY" = "drug"
default = "exam"
"""

CHARGES = (
    "收费单号,明细号,就诊卡号,收费时间,科室代码,项目代码,项目名称,数量,单价,金额,统筹支付\n"
    "SF001,1,C-555,2025-03-02 10:30:00,0301,XY,二甲双胍,2,64.00,128.00,0\n"
    'SF001,2,C-555,2025-03-02 10:30:00,0301,JC,"糖化血红蛋白\n(HbA1c)",1,80.00,80.00,20.00\n'
    "SF002,1,C-555,2025-03-02 11:00:00,0301,XY,阿卡波糖,1,12.345,12.345,0\n"
    "SF003,1,C-777,2025-13-45 11:00:00,0301,XY,阿卡波糖,1,30.00,30.00,0\n"
    "SF004,1,C-777,2025-03-03 08:00:00,,JC,血常规,1,25.50,25.50,0\n"
)


def _files(tmp_path: Path, *, encoding: str = "utf-8-sig") -> dict[str, Path]:
    files = {
        "patients.toml": PATIENTS_MAP,
        "patients.csv": PATIENTS,
        "charges.toml": CHARGES_MAP,
        "charges.csv": CHARGES,
    }
    paths = {}
    for name, text in files.items():
        path = tmp_path / name
        path.write_bytes(text.encode(encoding if name.endswith(".csv") else "utf-8"))
        paths[name] = path
    return paths


def _engine(url: str) -> Engine:
    manager = make_plugin_manager(load_entrypoints=False, plugins=[memory, sqlite, clock])
    return Engine.open(url, config=reference_config(), plugin_manager=manager)


def _import(files: dict[str, Path], table: str, store: str, *more: str) -> int:
    return _run("import", files, table, store, *more)


def _run(command: str, files: dict[str, Path], table: str, store: str, *more: str) -> int:
    return main(
        [
            command,
            str(files[f"{table}.csv"]),
            "--source",
            "csv",
            "--mapping",
            str(files[f"{table}.toml"]),
            "--store",
            store,
            *more,
        ]
    )


def test_a_charges_export_named_by_card_number_earns_for_the_registered_member(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    files = _files(tmp_path)
    store = f"sqlite:///{tmp_path}/m.db"
    assert _import(files, "patients", store) == 0
    before = _earned(store)
    assert _import(files, "charges", store) == 1
    printed = capsys.readouterr().out
    with _engine(store) as engine:
        assert engine.identified("HZ01^CARD", "C-555") == "P001"
        refused = engine.dead_letters()
    # SF001: a drug of 128.00 yuan (half a point a yuan) and an exam of 80.00, 20.00 of
    # it paid by insurance; SF004: an exam of 25.50 yuan.
    assert _earned(store) == {"P001": before["P001"] + 64 + 60, "P002": before["P002"] + 25}
    # The line numbers stay true past the quoted field that holds a newline (lines 3-4).
    assert "line 5: column '金额' (amount): '12.345' yuan is finer than a fen" in printed
    assert "line 6: column '收费时间' (occurred_at): '2025-13-45 11:00:00' is not a date" in printed
    assert len(refused) == 2
    assert '"收费单号": "SF002"' in refused[0].payload
    assert '"金额": "12.345"' in refused[0].payload


def test_the_same_export_read_again_changes_nothing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    files = _files(tmp_path)
    store = f"sqlite:///{tmp_path}/m.db"
    _import(files, "patients", store)
    _import(files, "charges", store)
    earned = _earned(store)
    capsys.readouterr()
    assert _import(files, "charges", store) == 1
    printed = capsys.readouterr().out
    assert "0 条已应用" in printed
    assert _earned(store) == earned
    with _engine(store) as engine:
        assert len(engine.dead_letters()) == 2  # the same refusal is kept once


def test_a_gbk_export_is_read_with_its_encoding(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    files = _files(tmp_path, encoding="gbk")
    store = f"sqlite:///{tmp_path}/m.db"
    assert _import(files, "patients", store, "--encoding", "gbk") == 0
    with _engine(store) as engine:
        assert engine.member("P001").profile.registrations
        assert engine.identified("CHN^NNCHN", "330102198001011234") == "P001"
    # Read as UTF-8, the header is not text: said so, naming the byte and the option.
    other = f"sqlite:///{tmp_path}/other.db"
    assert _import(files, "patients", other) == 1
    assert "line 1 is not UTF-8 text (byte 0xb2" in capsys.readouterr().err


def test_a_line_not_in_the_files_encoding_is_a_dead_letter_and_the_rest_is_taken(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    files = _files(tmp_path)
    header, first, second = PATIENTS.encode().splitlines(keepends=True)
    files["patients.csv"].write_bytes(
        header + first.replace("王秀英".encode(), "王秀英".encode("gbk")) + second
    )
    store = f"sqlite:///{tmp_path}/m.db"
    assert _import(files, "patients", store) == 1
    assert "line 2 is not UTF-8 text (byte 0xcd at position 5)" in capsys.readouterr().out
    with _engine(store) as engine:
        assert engine.member("P002").profile.registrations


def test_ingest_resumes_after_the_last_line_committed(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    files = _files(tmp_path)
    store = f"sqlite:///{tmp_path}/m.db"
    _import(files, "patients", store)
    before = _earned(store)
    path = files["charges.csv"]
    lines = CHARGES.splitlines(keepends=True)
    path.write_text("".join(lines[:4]), encoding="utf-8")  # the header and SF001's two lines
    ingest = ["ingest", str(path), "--source", "csv", "--mapping", str(files["charges.toml"])]
    assert main([*ingest, "--store", store, "--resume"]) == 0
    with _engine(store) as engine:
        assert line_of(engine.position(f"csv:{path.resolve()}")) == 4
    path.write_text("".join([*lines[:4], lines[6]]), encoding="utf-8")  # SF004 appended
    capsys.readouterr()
    assert main([*ingest, "--store", store, "--resume"]) == 0
    # SF004 only, with the registration that names its card number.
    assert "2 条已应用，0 条重复" in capsys.readouterr().out
    with _engine(store) as engine:
        assert line_of(engine.position(f"csv:{path.resolve()}")) == 5
    assert _earned(store)["P002"] == before["P002"] + 25


def test_a_last_row_still_being_written_waits_for_the_next_read(tmp_path: Path) -> None:
    files = _files(tmp_path)
    path = files["charges.csv"]
    path.write_text(CHARGES.splitlines(keepends=True)[0] + "SF009,1,C-5", encoding="utf-8")
    mapping = export_mapping(_toml(CHARGES_MAP))
    assert list(CsvSource(path, mapping, growing=True).read()) == []
    assert len(list(CsvSource(path, mapping).read())) == 1  # read whole: refused, never lost


def test_a_row_with_too_few_fields_is_refused_and_the_rest_taken(tmp_path: Path) -> None:
    files = _files(tmp_path)
    path = files["charges.csv"]
    header, first, *_ = CHARGES.splitlines(keepends=True)
    path.write_text(header + "SF009,1,C-555\n" + first, encoding="utf-8")
    with _engine("memory://") as engine:
        engine.ingest(CsvSource(files["patients.csv"], export_mapping(_toml(PATIENTS_MAP))).read())
        report = engine.ingest(CsvSource(path, export_mapping(_toml(CHARGES_MAP))).read())
        assert (report.applied, report.rejected) == (2, 1)  # a registration and SF001/1
        assert report.refusals[0][1] == "line 2: 3 fields where the header names 11"


@pytest.mark.parametrize(
    ("change", "key"),
    [
        (("amount = ", "amout = "), "csv.columns.amout"),
        (('fact = "charge_paid"', 'fact = "charge_payed"'), "csv.fact"),
        (('timezone = "Asia/Shanghai"', 'timezone = "Asia/Peking"'), "csv.timezone"),
        (('patient = { identifier = "就诊卡号", system = "HZ01^CARD" }', ""), "csv.patient"),
        (('"XY" = "drug"', '"XY" = 3'), "csv.charge_categories.XY"),
        (('occurred_at = "收费时间"', ""), "csv.columns.occurred_at"),
    ],
)
def test_a_mapping_with_a_wrong_key_is_refused_naming_it(change: tuple[str, str], key: str) -> None:
    with pytest.raises(ConfigError) as refused:
        export_mapping(_toml(CHARGES_MAP.replace(*change)))
    assert refused.value.key == key


@pytest.mark.parametrize("command", ["import", "ingest"])
def test_an_export_without_a_column_the_mapping_reads_is_refused_naming_the_key(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], command: str
) -> None:
    files = _files(tmp_path)
    files["charges.csv"].write_text(CHARGES.replace("统筹支付", "医保"), encoding="utf-8")
    assert _run(command, files, "charges", f"sqlite:///{tmp_path}/m.db") == 1
    said = capsys.readouterr().err
    assert "'csv.columns.insurance'" in said
    assert "charges.csv has no column '统筹支付'" in said
    assert not list(tmp_path.glob("m.db*"))  # refused before the store opened


@pytest.mark.parametrize("command", ["import", "ingest"])
def test_an_export_not_in_the_encoding_named_is_refused_before_the_store_opens(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], command: str
) -> None:
    files = _files(tmp_path, encoding="gbk")
    assert _run(command, files, "patients", f"sqlite:///{tmp_path}/m.db") == 1
    assert "--encoding" in capsys.readouterr().err
    assert not list(tmp_path.glob("m.db*"))


def test_an_excel_workbook_reads_to_the_same_facts_as_the_csv_export(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    import openpyxl  # noqa: PLC0415

    files = _files(tmp_path)
    workbook = openpyxl.Workbook()
    sheet = workbook.active
    assert sheet is not None
    sheet.append(["门诊收费明细"])  # a title above the header
    for line in CHARGES.splitlines()[:2]:
        sheet.append(line.split(","))
    xlsx = tmp_path / "charges.xlsx"
    workbook.save(xlsx)
    store = f"sqlite:///{tmp_path}/m.db"
    _import(files, "patients", store)
    assert _import(files, "charges", store) == 1
    earned = _earned(store)
    arguments = ["--source", "xlsx", "--mapping", str(files["charges.toml"]), "--store", store]
    capsys.readouterr()
    assert main(["import", str(xlsx), *arguments]) == 1  # the title is no header: said so
    assert "charges.xlsx has no column '收费单号'" in capsys.readouterr().err
    sheet.delete_rows(1)
    workbook.save(xlsx)
    assert main(["import", str(xlsx), *arguments]) == 0
    # SF001/1 and its card's registration: the CSV's facts, again.
    assert "0 条已应用，2 条重复" in capsys.readouterr().out
    assert _earned(store) == earned


def test_without_openpyxl_an_excel_import_names_the_extra_to_install(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    files = _files(tmp_path)
    (tmp_path / "charges.xlsx").write_bytes(b"PK")
    monkeypatch.setitem(sys.modules, "openpyxl", None)
    mapping = str(files["charges.toml"])
    arguments = ["--source", "xlsx", "--mapping", mapping, "--store", f"sqlite:///{tmp_path}/m.db"]
    assert main(["import", str(tmp_path / "charges.xlsx"), *arguments]) == 1
    assert "pip install 'membercore[excel]'" in capsys.readouterr().err


def test_a_csv_import_without_a_mapping_says_it_needs_one(tmp_path: Path) -> None:
    files = _files(tmp_path)
    with pytest.raises(MembercoreError, match="--mapping"):
        CsvSource.from_options({"path": str(files["charges.csv"])})


def _earned(store: str) -> dict[str, int]:
    with _engine(store) as engine:
        return {member: engine.points(member).lifetime_earned for member in ("P001", "P002")}


def _toml(text: str) -> dict[str, object]:
    import tomllib  # noqa: PLC0415

    return tomllib.loads(text)


def test_a_row_naming_a_card_no_patient_holds_is_refused_never_a_new_member(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    files = _files(tmp_path)
    stranger = "SF009,1,C-999,2025-03-04 09:00:00,0301,XY,二甲双胍,2,64.00,128.00,0\n"
    files["charges.csv"].write_text(CHARGES + stranger, encoding="utf-8")
    store = f"sqlite:///{tmp_path}/m.db"
    assert _import(files, "patients", store) == 0
    assert _import(files, "charges", store) == 1
    printed = capsys.readouterr().out
    assert "line 8: " in printed
    assert "name no known patient" in printed
    with _engine(store) as engine:
        assert not engine.store.load(["member:C-999"])
        assert engine.identified("HZ01^CARD", "C-999") is None
    # The patient registered later with that card: the charge read again reaches them.
    later = "P003,赵敏,女,1990-02-02,C-999,,2025-03-04 08:00:00\n"
    files["patients.csv"].write_text(PATIENTS + later, encoding="utf-8")
    assert _import(files, "patients", store) == 0
    with _engine(store) as engine:
        welcomed = engine.points("P003").lifetime_earned
    _import(files, "charges", store)
    with _engine(store) as engine:
        assert engine.identified("HZ01^CARD", "C-999") == "P003"
        assert engine.points("P003").lifetime_earned == welcomed + 64  # 128.00 yuan of drugs


def test_a_charge_of_herbs_by_the_gram_is_taken_without_a_whole_quantity(tmp_path: Path) -> None:
    files = _files(tmp_path)
    header = CHARGES.splitlines(keepends=True)[0]
    herbs = "SF010,1,C-555,2025-03-04 09:00:00,0301,XY,黄芪,12.5,0.80,10.00,0\n"
    files["charges.csv"].write_text(header + herbs, encoding="utf-8")
    store = f"sqlite:///{tmp_path}/m.db"
    assert _import(files, "patients", store) == 0
    before = _earned(store)["P001"]
    assert _import(files, "charges", store) == 0
    assert _earned(store)["P001"] == before + 5  # 10.00 yuan of drugs, half a point a yuan


def test_a_misspelt_key_of_the_csv_table_is_refused_listing_every_key_it_may_hold() -> None:
    with pytest.raises(ConfigError) as refused:
        export_mapping(
            _toml(CHARGES_MAP.replace('timezone = "Asia/Shanghai"', 'timezon = "Asia/Shanghai"'))
        )
    assert refused.value.key == "csv.timezon"
    for listed in ("timezone", "encoding", "departments", "delimiter", "columns"):
        assert listed in refused.value.problem


def test_a_spreadsheet_formulas_float_is_read_as_the_amount_its_cell_shows() -> None:
    from membercore_adapters.his.rows.values import CellError, as_fen  # noqa: PLC0415

    assert as_fen(0.1 * 3) == 30  # 0.30000000000000004 as a float, 0.30 in the cell
    assert as_fen(1280.5) == 128050
    with pytest.raises(CellError, match="is not an amount"):
        as_fen(float("nan"))
    with pytest.raises(CellError, match="finer than a fen"):
        as_fen(12.345)


def test_an_export_replaced_under_the_same_name_is_read_from_its_start(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    files = _files(tmp_path)
    store = f"sqlite:///{tmp_path}/m.db"
    assert _import(files, "patients", store) == 0
    header, *rows = CHARGES.splitlines(keepends=True)
    path = files["charges.csv"]
    path.write_text(header + rows[0], encoding="utf-8")  # yesterday's: SF001's first line
    command = ["ingest", str(path), "--source", "csv", "--mapping", str(files["charges.toml"])]
    assert main([*command, "--store", store, "--resume"]) == 0
    today = "SF007,1,C-777,2025-03-05 09:00:00,0301,XY,二甲双胍,2,64.00,128.00,0\n"
    path.write_text(header + today, encoding="utf-8")  # today's, written over it
    capsys.readouterr()
    assert main([*command, "--store", store, "--resume"]) == 0
    assert (
        "2 条已应用" in capsys.readouterr().out
    )  # the card's name and the charge, not passed over


def test_a_workbook_replaced_under_the_same_name_is_read_from_its_start(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    import openpyxl  # noqa: PLC0415

    files = _files(tmp_path)
    store = f"sqlite:///{tmp_path}/m.db"
    assert _import(files, "patients", store) == 0
    header, first, *_ = CHARGES.splitlines()
    xlsx = tmp_path / "charges.xlsx"

    def save(*lines: str) -> None:
        workbook = openpyxl.Workbook()
        sheet = workbook.active
        assert sheet is not None
        for line in (header, *lines):
            sheet.append(line.split(","))
        workbook.save(xlsx)

    save(first)  # yesterday's workbook
    arguments = ["--source", "xlsx", "--mapping", str(files["charges.toml"]), "--store", store]
    assert main(["ingest", str(xlsx), *arguments, "--resume"]) == 0
    save("SF007,1,C-777,2025-03-05 09:00:00,0301,XY,二甲双胍,2,64.00,128.00,0")  # today's
    capsys.readouterr()
    assert main(["ingest", str(xlsx), *arguments, "--resume"]) == 0
    assert "2 条已应用" in capsys.readouterr().out  # the card's name and the charge


def _with_addresses(text: str) -> str:
    return text + 'phone = "手机号"\nemail = "电子邮箱"\n'


def test_a_patients_phone_and_email_are_taken_as_written_and_placeholders_left_out() -> None:
    mapping = export_mapping(_toml(_with_addresses(PATIENTS_MAP))).tables[""]
    row = {"病人ID": "P001", "建档时间": "2025-03-01 09:00:00", "姓名": "王秀英"}

    def registered(**cells: object) -> PatientRegistered:
        facts = translate({**row, **cells}, mapping)
        assert isinstance(facts[-1], PatientRegistered)
        return facts[-1]

    said = registered(手机号=" 138-0013-8000 ", 电子邮箱=" wang@163.com ")
    assert (said.phone, said.email) == ("138-0013-8000", "wang@163.com")
    assert registered(手机号=13800138000.0).phone == "13800138000"  # an Excel number
    for placeholder in ("N/A", "无", "", None, "0"):
        none = registered(手机号=placeholder, 电子邮箱=placeholder)
        assert (none.phone, none.email) == (None, None)
    assert registered(电子邮箱="wang163.com").email is None
    # Without an address, the registration a mapping that reads none made before.
    assert fingerprint(registered(手机号="N/A", 电子邮箱="无")) == "w1:4c8ed06e758867c3b8ba"


def test_a_patients_export_gives_the_number_messages_are_sent_to(tmp_path: Path) -> None:
    files = _files(tmp_path)
    files["patients.toml"].write_text(_with_addresses(PATIENTS_MAP), encoding="utf-8")
    files["patients.csv"].write_text(
        "病人ID,姓名,性别,出生日期,就诊卡号,身份证号,建档时间,手机号,电子邮箱\n"
        "P001,王秀英,女,1980-01-01,C-555,,2025-03-01 09:00:00,+86 138 0013 8000,N/A\n"
        "P002,李建国,男,1975/6/30,C-777,,2025-03-01 09:30:00,,li@example.cn\n",
        encoding="utf-8",
    )
    store = f"sqlite:///{tmp_path}/m.db"
    assert _import(files, "patients", store) == 0
    with _engine(store) as engine:
        wang, li = engine.member("P001"), engine.member("P002")
        assert contact(wang, "sms") == "+86 138 0013 8000"
        assert contact(wang, "email") is None
        assert (contact(li, "sms"), contact(li, "email")) == (None, "li@example.cn")
