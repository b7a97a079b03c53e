"""A HIS database shaped as a Chinese HIS's, on SQLite, MariaDB and PostgreSQL.

Three tables, each behind the view the HIS vendor hands over: patients (患者: the medical
record number, a card number 就诊卡号, an ID card, a mobile number 手机号 and an e-mail
address), outpatient charge lines (门诊收费明细: amounts as DECIMAL(12,2) yuan, naive
DATETIME in Asia/Shanghai, the patient named by card number) and outpatient diagnoses
(门诊诊断: a local code table, an increasing record id, the diagnosis time as text).
Columns carry Chinese comments; on MariaDB the patients' names are in a GBK column, read
through a UTF-8 connection, as a HIS of the GBK era keeps them.

MariaDB and PostgreSQL: MEMBERCORE_TEST_MARIADB_URL and MEMBERCORE_TEST_POSTGRES_URL, or
the local defaults; without a server those cases skip saying why, except in CI.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator, Mapping
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.dialects import mysql

from membercore import Engine, reference_config
from membercore.plugins import make_plugin_manager
from membercore.testing.clock import ManualClock
from membercore_adapters import clock
from membercore_adapters.stores import memory, sqlite
from membercore_adapters.testing import server_url

#: After every row's time: the facts come in as a poll would take them.
NOW = datetime.fromisoformat("2025-03-10T10:00:00+08:00")


def _tables(metadata: sa.MetaData) -> None:
    name = sa.String(20).with_variant(mysql.VARCHAR(20, charset="gbk"), "mysql", "mariadb")
    sa.Table(
        "his_patient",
        metadata,
        sa.Column("病人ID", sa.String(20), primary_key=True, comment="病人ID（病案号）"),
        sa.Column("姓名", name, comment="姓名"),
        sa.Column("性别", sa.String(2), comment="性别：男/女"),
        sa.Column("出生日期", sa.Date, comment="出生日期"),
        sa.Column("就诊卡号", sa.String(20), comment="就诊卡号"),
        sa.Column("身份证号", sa.String(18), comment="身份证号"),
        sa.Column("手机号", sa.String(20), comment="手机号码"),
        sa.Column("电子邮箱", sa.String(60), comment="电子邮箱"),
        sa.Column("建档时间", sa.DateTime, comment="建档时间"),
        sa.Column("修改时间", sa.DateTime, nullable=False, comment="最后修改时间"),
    )
    sa.Table(
        "his_mz_sfmx",
        metadata,
        sa.Column("收费单号", sa.String(20), primary_key=True, comment="收费单号"),
        sa.Column("明细号", sa.Integer, primary_key=True, autoincrement=False, comment="明细序号"),
        sa.Column("就诊卡号", sa.String(20), comment="就诊卡号"),
        sa.Column("科室代码", sa.String(10), comment="开单科室代码"),
        sa.Column("项目代码", sa.String(20), comment="收费项目代码"),
        sa.Column("项目名称", sa.String(60), comment="收费项目名称"),
        sa.Column("数量", sa.Numeric(10, 2), comment="数量"),
        sa.Column("单价", sa.Numeric(12, 4), comment="单价（元）"),
        sa.Column("金额", sa.Numeric(12, 2), comment="金额（元），未计价时为空"),
        sa.Column("统筹支付", sa.Numeric(12, 2), comment="医保统筹支付（元）"),
        sa.Column("收费时间", sa.DateTime, comment="收费时间"),
        sa.Column("修改时间", sa.DateTime, nullable=False, comment="最后修改时间"),
    )
    sa.Table(
        "his_mz_zd",
        metadata,
        sa.Column("记录ID", sa.Integer, primary_key=True, autoincrement=False, comment="记录ID"),
        sa.Column("就诊号", sa.String(20), comment="门诊就诊号"),
        sa.Column("就诊卡号", sa.String(20), comment="就诊卡号"),
        sa.Column("诊断编码", sa.String(20), comment="诊断编码（本院编码）"),
        sa.Column("诊断名称", sa.String(60), comment="诊断名称"),
        sa.Column("诊断时间", sa.String(19), comment="诊断时间（文本）"),
        sa.Column("作废", sa.Integer, comment="作废标志"),
    )


#: Each view and what it selects: the charges view prices a line the HIS has not priced
#: yet as its quantity times its unit price (which may be finer than a fen).
_VIEWS = {
    "v_patient": "SELECT * FROM {prefix}his_patient",
    "v_mz_sfmx": (
        "SELECT 收费单号, 明细号, 就诊卡号, 科室代码, 项目代码, 项目名称, 数量, 单价, "
        "COALESCE(金额, 数量 * 单价) AS 金额, 统筹支付, 收费时间, 修改时间 "
        "FROM {prefix}his_mz_sfmx"
    ),
    "v_mz_zd": "SELECT * FROM {prefix}his_mz_zd",
}


class HisDatabase:
    """A HIS database of its own for one test: its tables, views and SQLAlchemy URL."""

    def __init__(self, url: str, schema: str | None = None) -> None:
        self.url = url
        self.schema = schema
        self.engine = sa.create_engine(url, poolclass=sa.pool.NullPool)
        self.metadata = sa.MetaData(schema=schema)
        _tables(self.metadata)
        self.metadata.create_all(self.engine)
        prefix = f"{schema}." if schema else ""
        with self.engine.begin() as connection:
            for view, selected in _VIEWS.items():
                query = selected.format(prefix=prefix)
                connection.execute(sa.text(f"CREATE VIEW {prefix}{view} AS {query}"))

    def view(self, name: str) -> str:
        """A view's name as a views file names it (schema-qualified where it has one)."""
        return f"{self.schema}.{name}" if self.schema else name

    def insert(self, table: str, *rows: Mapping[str, Any]) -> None:
        """Rows into a table, committed."""
        named = f"{self.schema}.{table}" if self.schema else table
        with self.engine.begin() as connection:
            connection.execute(self.metadata.tables[named].insert(), [dict(r) for r in rows])

    def update(self, table: str, where: Mapping[str, Any], values: Mapping[str, Any]) -> None:
        """Change the rows of ``table`` matching ``where``, committed."""
        named = f"{self.schema}.{table}" if self.schema else table
        found = self.metadata.tables[named]
        condition = sa.and_(*(found.c[k] == v for k, v in where.items()))
        with self.engine.begin() as connection:
            connection.execute(found.update().where(condition).values(**values))

    def close(self) -> None:
        self.engine.dispose()


@pytest.fixture(params=["sqlite", "mariadb", "postgresql"])
def his(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[HisDatabase]:
    """A HIS database of the test's own, on each kind of server."""
    if request.param == "sqlite":
        database = HisDatabase(f"sqlite:///{tmp_path}/his.db")
        yield database
        database.close()
        return
    name = f"mc_his_{uuid.uuid4().hex[:12]}"
    if request.param == "mariadb":
        server = server_url("mariadb")
        admin = sa.create_engine(server, poolclass=sa.pool.NullPool)
        with admin.begin() as connection:
            connection.execute(sa.text(f"CREATE DATABASE {name} CHARACTER SET utf8mb4"))
        base = server.rsplit("/", 1)[0]
        database = HisDatabase(f"{base}/{name}?charset=utf8mb4")
        try:
            yield database
        finally:
            database.close()
            with admin.begin() as connection:
                connection.execute(sa.text(f"DROP DATABASE {name}"))
            admin.dispose()
        return
    server = server_url("postgresql").replace("postgresql://", "postgresql+psycopg://", 1)
    admin = sa.create_engine(server, poolclass=sa.pool.NullPool)
    with admin.begin() as connection:
        connection.execute(sa.text(f"CREATE SCHEMA {name}"))
    database = HisDatabase(server, schema=name)
    try:
        yield database
    finally:
        database.close()
        with admin.begin() as connection:
            connection.execute(sa.text(f"DROP SCHEMA {name} CASCADE"))
        admin.dispose()


def views_toml(his: HisDatabase, *, page_size: int = 1000, charges: str = "") -> str:
    """The views file of ``his``: patients, charges and diagnoses."""
    return f"""
[dbview]
url = "{his.url}"
timezone = "Asia/Shanghai"
page_size = {page_size}

[dbview.departments]
"0301" = "endocrinology"
default = "outpatient"

[dbview.charge_categories]
"XY" = "drug"
default = "exam"

[dbview.diagnoses.local]
"TNB01" = "E11.9"

[dbview.views.patients]
view = "{his.view("v_patient")}"
watermark = "修改时间"
fact = "patient_registered"
key = "病人ID"
patient = "病人ID"
identifiers = {{ "就诊卡号" = "HZ01^CARD", "身份证号" = "CHN^NNCHN" }}

[dbview.views.patients.columns]
occurred_at = "建档时间"
name = "姓名"
sex = "性别"
birth_date = "出生日期"
phone = "手机号"
email = "电子邮箱"

[dbview.views.charges]
view = "{his.view("v_mz_sfmx")}"
watermark = "修改时间"
overlap = 600
fact = "charge_paid"
key = ["收费单号", "明细号"]
patient = {{ identifier = "就诊卡号", system = "HZ01^CARD" }}
{charges}

[dbview.views.charges.columns]
occurred_at = "收费时间"
charge_id = ["收费单号", "明细号"]
department = "科室代码"
code = "项目代码"
amount = "金额"
insurance = "统筹支付"
quantity = "数量"
unit_price = "单价"

[dbview.views.diagnoses]
query = "SELECT * FROM {his.view("v_mz_zd")} WHERE 作废 = 0"
watermark = "记录ID"
watermark_kind = "number"
overlap = 10
fact = "diagnosis_recorded"
key = "记录ID"
patient = {{ identifier = "就诊卡号", system = "HZ01^CARD" }}

[dbview.views.diagnoses.columns]
occurred_at = "诊断时间"
visit_id = "就诊号"
code = "诊断编码"
display = "诊断名称"
"""


def at(text: str) -> datetime:
    """A naive time as the HIS stores it (Asia/Shanghai)."""
    return datetime.fromisoformat(text)


def patient(number: str, card: str, changed: str, **more: Any) -> dict[str, Any]:
    """A patient's row."""
    return {
        "病人ID": number,
        "姓名": more.get("name", "王秀英"),
        "性别": more.get("sex", "女"),
        "出生日期": date(1980, 5, 1),
        "就诊卡号": card,
        "身份证号": more.get("id_card"),
        "手机号": more.get("phone"),
        "电子邮箱": more.get("email"),
        "建档时间": at("2025-03-01 09:00:00"),
        "修改时间": at(changed),
    }


def charge(
    bill: str, line: int, card: str, amount: str, changed: str, **more: Any
) -> dict[str, Any]:
    """A charge line's row: one item, paid at ``changed`` unless said."""
    return {
        "收费单号": bill,
        "明细号": line,
        "就诊卡号": card,
        "科室代码": more.get("department", "0301"),
        "项目代码": more.get("code", "JC"),
        "项目名称": more.get("name", "糖化血红蛋白"),
        "数量": Decimal(more.get("quantity", "1")),
        "单价": Decimal(more.get("price", amount)),
        "金额": None if amount == "" else Decimal(amount),
        "统筹支付": Decimal(more.get("insurance", "0")),
        "收费时间": at(more.get("paid", changed)),
        "修改时间": at(changed),
    }


def diagnosis(record: int, card: str, code: str, when: str, *, void: int = 0) -> dict[str, Any]:
    """A diagnosis's row."""
    return {
        "记录ID": record,
        "就诊号": f"MZ{record:04d}",
        "就诊卡号": card,
        "诊断编码": code,
        "诊断名称": "2型糖尿病" if code == "TNB01" else "高血压",
        "诊断时间": when,
        "作废": void,
    }


def open_engine(url: str = "memory://", **options: Any) -> Engine:
    """An engine on the reference programme with the first-party stores, at :data:`NOW`."""
    manager = make_plugin_manager(load_entrypoints=False, plugins=[memory, sqlite, clock])
    return Engine.open(
        url, config=reference_config(), clock=ManualClock(NOW), plugin_manager=manager, **options
    )
