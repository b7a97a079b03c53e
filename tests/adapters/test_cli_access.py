"""``membercore token`` and ``membercore staff``: who may use the programme.

A token's secret is written once, on standard output, and nowhere else; a password is
never written at all. No assertion's message shows a secret: where one is compared, it
is compared apart.
"""

from __future__ import annotations

import io
import json
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import click
import pytest

from membercore.access import authenticate_staff, authenticate_token, token_id_of
from membercore.ports import AccountStore, ApiToken, Lookup, StaffAccount
from membercore_adapters.cli import main
from membercore_adapters.stores.memory import MemoryStore
from membercore_adapters.stores.postgres import PostgresStore
from membercore_adapters.stores.sqlite import SqliteStore

PASSWORD = "晨光-Ward7-随访"


@pytest.fixture
def store(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path}/membercore.db"


def _open(url: str) -> SqliteStore:
    return SqliteStore.open(url)


def _tokens(url: str) -> list[ApiToken]:
    with _open(url) as opened:
        return list(opened.tokens())


def _accounts(url: str) -> list[StaffAccount]:
    with _open(url) as opened:
        return list(opened.staff_accounts())


def _stdin(monkeypatch: pytest.MonkeyPatch, text: str) -> None:
    monkeypatch.setattr("sys.stdin", io.StringIO(text))


def _prompted(monkeypatch: pytest.MonkeyPatch, *answers: str) -> list[str]:
    """Answer the hidden prompts in turn; the prompts asked."""
    asked: list[str] = []
    given = iter(answers)

    def answer(prompt: str) -> str:
        asked.append(prompt)
        return next(given)

    monkeypatch.setattr(click.termui, "hidden_prompt_func", answer)
    return asked


def _create(store: str, capsys: pytest.CaptureFixture[str], *scopes: str) -> tuple[str, str]:
    """Make a token; its secret (stdout) and what was said of it (stderr)."""
    arguments = ["token", "create", "HIS 接口", "--store", store]
    for scope in scopes or ("ingest", "read"):
        arguments += ["--scope", scope]
    assert main(arguments) == 0
    said = capsys.readouterr()
    return said.out, said.err


# -- API tokens ---------------------------------------------------------------------------


def test_a_new_tokens_secret_is_written_once_and_authenticates(
    store: str, capsys: pytest.CaptureFixture[str]
) -> None:
    out, err = _create(store, capsys)
    lines = out.splitlines()
    assert len(lines) == 1  # the secret, alone on standard output
    secret = lines[0]
    (token,) = _tokens(store)
    assert token_id_of(secret) == token.token_id
    assert (token.name, token.scopes, token.revoked) == ("HIS 接口", ("ingest", "read"), False)
    shown_in_err = secret in err
    assert not shown_in_err
    assert f"已创建 API 令牌 {token.token_id}（HIS 接口；权限：ingest, read）" in err
    assert "只显示这一次" in err
    with _open(store) as opened:
        found = authenticate_token(opened, secret)
    assert found == token


def test_listing_tokens_shows_no_secret_and_no_digest(
    store: str, capsys: pytest.CaptureFixture[str]
) -> None:
    secret, _ = _create(store, capsys)
    _create(store, capsys, "admin")
    assert main(["token", "list", "--store", store]) == 0
    listed = capsys.readouterr().out
    (header, *rows) = listed.splitlines()
    assert header.split() == ["令牌", "名称", "权限", "创建时间", "状态"]
    assert len(rows) == 2
    tokens = _tokens(store)
    assert {row.split()[0] for row in rows} == {token.token_id for token in tokens}
    assert "ingest, read" in listed
    assert "有效" in listed
    leaked = [
        what
        for what, text in [("secret", secret.strip()), *(("digest", t.digest) for t in tokens)]
        if text in listed
    ]
    assert leaked == []
    assert main(["token", "list", "--store", store, "--lang", "en"]) == 0
    assert capsys.readouterr().out.split()[:5] == ["token", "name", "scopes", "created", "status"]


def test_a_revoked_token_is_kept_and_authenticates_no_more(
    store: str, capsys: pytest.CaptureFixture[str]
) -> None:
    secret = _create(store, capsys)[0].strip()
    (token,) = _tokens(store)
    assert main(["token", "revoke", token.token_id, "--store", store]) == 0
    assert f"已撤销 API 令牌 {token.token_id}（HIS 接口）" in capsys.readouterr().out
    (revoked,) = _tokens(store)
    assert revoked.revoked
    with _open(store) as opened:
        assert authenticate_token(opened, secret) is None
    assert main(["token", "revoke", token.token_id, "--store", store]) == 0  # changes nothing
    assert "未作改动" in capsys.readouterr().out
    assert _tokens(store) == [revoked]
    assert main(["token", "list", "--store", store, "--lang", "en"]) == 0
    assert "revoked (" in capsys.readouterr().out


def test_revoking_an_unknown_token_is_refused(
    store: str, capsys: pytest.CaptureFixture[str]
) -> None:
    _create(store, capsys)
    assert main(["token", "revoke", "0123456789abcdef", "--store", store]) == 1
    assert "没有这个 API 令牌 '0123456789abcdef'" in capsys.readouterr().err
    assert main(["token", "revoke", "nope", "--store", store, "--lang", "en"]) == 1
    assert "API token 'nope' is not known" in capsys.readouterr().err
    assert not any(token.revoked for token in _tokens(store))


@pytest.mark.parametrize(
    "arguments",
    [
        ["token", "create", "HIS"],  # no scope
        ["token", "create", "HIS", "--scope", "delete"],
        ["token", "create", " ", "--scope", "read"],
    ],
    ids=["no scope", "unknown scope", "empty name"],
)
def test_a_token_without_a_known_scope_or_a_name_is_usage_and_creates_no_store(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], arguments: list[str]
) -> None:
    assert main([*arguments, "--store", f"sqlite:///{tmp_path}/m.db"]) == 2
    said = capsys.readouterr()
    assert said.out == ""
    assert "--scope" in said.err or "名称不能为空" in said.err
    assert list(tmp_path.iterdir()) == []


# -- staff accounts -----------------------------------------------------------------------


def test_a_staff_account_is_added_with_its_password_hashed(
    store: str, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    _stdin(monkeypatch, f"{PASSWORD}\n")
    add = ["staff", "add", "hm-01", "--role", "health_manager", "--password-stdin"]
    assert main([*add, "--store", store]) == 0
    said = capsys.readouterr()
    assert "已添加员工账户 hm-01（王健康，健康管家）" in said.out  # the roster's name
    (account,) = _accounts(store)
    assert (account.staff_id, account.name, account.role, account.active) == (
        "hm-01",
        "王健康",
        "health_manager",
        True,
    )
    assert account.password_hash.startswith("$scrypt$ln=14,r=8,p=1$")
    leaked = [
        what
        for what, text in (("password", PASSWORD), ("hash", account.password_hash))
        if text in said.out + said.err
    ]
    assert leaked == []
    with _open(store) as opened:
        assert authenticate_staff(opened, "hm-01", PASSWORD) == account
        assert authenticate_staff(opened, "hm-01", PASSWORD + "x") is None


def test_the_password_is_asked_for_twice(
    store: str, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    asked = _prompted(monkeypatch, PASSWORD, PASSWORD)
    arguments = ["staff", "add", "cs-01", "--name", "小张", "--role", "customer_service"]
    assert main([*arguments, "--store", store]) == 0
    assert [prompt.split(":")[0].strip() for prompt in asked] == ["cs-01 的密码", "再次输入密码"]
    with _open(store) as opened:
        assert authenticate_staff(opened, "cs-01", PASSWORD) is not None
    capsys.readouterr()


def test_two_passwords_that_differ_make_no_account(
    store: str, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    _prompted(monkeypatch, PASSWORD, PASSWORD + "!")
    arguments = ["staff", "add", "cs-01", "--name", "小张", "--role", "customer_service"]
    assert main([*arguments, "--store", store]) == 1
    assert "两次输入的密码不一致" in capsys.readouterr().err
    assert _accounts(store) == []


@pytest.mark.parametrize(
    ("given", "says"), [("short\n", "至少 8 个字符"), ("", "标准输入没有密码")]
)
def test_a_short_or_missing_password_makes_no_account(
    store: str,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    given: str,
    says: str,
) -> None:
    _stdin(monkeypatch, given)
    arguments = ["staff", "add", "hm-01", "--role", "health_manager", "--password-stdin"]
    assert main([*arguments, "--store", store]) == 1
    assert says in capsys.readouterr().err
    assert _accounts(store) == []


def test_an_account_for_a_role_the_roster_gives_work_to_must_be_on_the_roster(
    store: str, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    for staff_id, role in (("hm-09", "health_manager"), ("hm-01", "nurse")):
        _stdin(monkeypatch, f"{PASSWORD}\n")
        arguments = ["staff", "add", staff_id, "--name", "某人", "--role", role]
        assert main([*arguments, "--password-stdin", "--store", store]) == 1
        assert f"{staff_id} 不在方案员工名单上" in capsys.readouterr().err
    # Customer service and administrators take no programme work: any staff id will do.
    _stdin(monkeypatch, f"{PASSWORD}\n")
    arguments = ["staff", "add", "admin-1", "--name", "系统管理员", "--role", "admin"]
    assert main([*arguments, "--password-stdin", "--store", store]) == 0
    assert [account.staff_id for account in _accounts(store)] == ["admin-1"]
    capsys.readouterr()


def test_someone_off_the_roster_needs_a_name_and_an_existing_account_is_left_alone(
    store: str, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    assert main(["staff", "add", "cs-01", "--role", "customer_service", "--store", store]) == 2
    assert "请用 --name 给出姓名" in capsys.readouterr().err
    _stdin(monkeypatch, f"{PASSWORD}\n")
    add = ["staff", "add", "rn-01", "--role", "nurse", "--password-stdin", "--store", store]
    assert main(add) == 0
    (first,) = _accounts(store)
    _stdin(monkeypatch, "another-password\n")
    assert main(add) == 1
    assert "rn-01 已有账户（陈护士，护士）" in capsys.readouterr().err
    assert _accounts(store) == [first]


def test_listing_and_deactivating_staff_accounts(
    store: str, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    for staff_id, role in (("rn-01", "nurse"), ("hm-02", "health_manager")):
        _stdin(monkeypatch, f"{PASSWORD}\n")
        arguments = ["staff", "add", staff_id, "--role", role, "--password-stdin"]
        assert main([*arguments, "--store", store]) == 0
    capsys.readouterr()
    assert main(["staff", "deactivate", "rn-01", "--store", store]) == 0
    assert "已停用员工账户 rn-01（陈护士）" in capsys.readouterr().out
    assert main(["staff", "deactivate", "rn-01", "--store", store]) == 0
    assert "已停用，未作改动" in capsys.readouterr().out
    assert main(["staff", "deactivate", "rn-99", "--store", store]) == 1
    assert "员工 'rn-99' 没有账户" in capsys.readouterr().err
    with _open(store) as opened:
        assert authenticate_staff(opened, "rn-01", PASSWORD) is None
        assert authenticate_staff(opened, "hm-02", PASSWORD) is not None
    assert main(["staff", "list", "--store", store]) == 0
    listed = capsys.readouterr().out.splitlines()
    assert listed[0].split() == ["工号", "姓名", "岗位", "状态", "创建时间"]
    assert [row.split()[:4] for row in listed[1:]] == [
        ["hm-02", "李管家", "健康管家", "启用"],
        ["rn-01", "陈护士", "护士", "已停用"],
    ]
    assert main(["staff", "list", "--store", store, "--lang", "en"]) == 0
    english = capsys.readouterr().out
    assert "health manager" in english
    assert "deactivated" in english
    leaked = "$scrypt$" in "\n".join(listed) + english
    assert not leaked


# -- the store ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "command",
    [["token", "list"], ["token", "revoke", "a1"], ["staff", "list"], ["staff", "deactivate", "x"]],
    ids=" ".join,
)
def test_a_command_that_reads_or_tends_accounts_creates_no_store(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], command: list[str]
) -> None:
    assert main([*command, "--store", f"sqlite:///{tmp_path}/none.db"]) == 3
    assert "没有这个存储" in capsys.readouterr().err
    assert list(tmp_path.iterdir()) == []


class _Without:
    """A store a plugin opens that keeps no accounts."""

    def __init__(self, store: MemoryStore) -> None:
        self._store = store

    def __getattr__(self, name: str) -> Any:
        if name in {"add_token", "tokens", "staff_accounts", "save_staff_account"}:
            raise AttributeError(name)
        return getattr(self._store, name)


@pytest.mark.parametrize(
    "command",
    [["token", "create", "HIS", "--scope", "read"], ["token", "list"], ["staff", "list"]],
    ids=" ".join,
)
def test_a_store_that_keeps_no_accounts_is_said_to_keep_none(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, command: list[str]
) -> None:
    # memory:// opens a store as a plugin's might be, without accounts.
    monkeypatch.setattr(MemoryStore, "open", classmethod(lambda cls, url: _Without(cls(url))))
    assert not isinstance(_Without(MemoryStore()), AccountStore)
    assert main([*command, "--store", "memory://"]) == 3
    said = capsys.readouterr()
    assert "此存储不保存账户" in said.err
    assert said.out == ""


def test_the_demo_leaves_a_store_that_holds_only_accounts(
    store: str, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    _stdin(monkeypatch, f"{PASSWORD}\n")
    add = ["staff", "add", "hm-01", "--role", "health_manager", "--password-stdin"]
    assert main([*add, "--store", store]) == 0
    capsys.readouterr()
    demo = ["demo", "--patients", "20", "--months", "1", "--workers", "1", "--quiet"]
    assert main([*demo, "--store", store]) == 3
    assert "演示不会改动它" in capsys.readouterr().err
    with _open(store) as opened:
        assert list(opened.scan()) == []
        assert [a.staff_id for a in opened.staff_accounts()] == ["hm-01"]


# -- PostgreSQL ---------------------------------------------------------------------------


def test_tokens_and_staff_accounts_on_postgresql(
    postgres_schema_url: str, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    store = ["--store", postgres_schema_url]
    assert main(["token", "list", *store]) == 3  # no store yet: listing creates none
    secret = _create(postgres_schema_url, capsys)[0].strip()
    _stdin(monkeypatch, f"{PASSWORD}\n")
    add = ["staff", "add", "hm-03", "--role", "health_manager", "--password-stdin"]
    assert main([*add, *store]) == 0
    with PostgresStore.open(postgres_schema_url) as opened:
        token = authenticate_token(opened, secret)
        assert token is not None
        assert authenticate_staff(opened, "hm-03", PASSWORD) is not None
    assert main(["token", "revoke", token.token_id, *store]) == 0
    assert main(["staff", "deactivate", "hm-03", *store]) == 0
    capsys.readouterr()
    assert main(["token", "list", *store]) == 0
    assert "已撤销" in capsys.readouterr().out
    assert main(["staff", "list", *store]) == 0
    assert "已停用" in capsys.readouterr().out


def test_an_account_is_activated_again_given_a_new_password_and_another_role(
    store: str, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    _stdin(monkeypatch, f"{PASSWORD}\n")
    assert (
        main(["staff", "add", "rn-01", "--role", "nurse", "--password-stdin", "--store", store])
        == 0
    )
    assert main(["staff", "deactivate", "rn-01", "--store", store]) == 0
    capsys.readouterr()
    assert main(["staff", "activate", "rn-01", "--store", store]) == 0
    assert "已启用" in capsys.readouterr().out
    _stdin(monkeypatch, "new-password-2026\n")
    assert main(["staff", "password", "rn-01", "--password-stdin", "--store", store]) == 0
    with _open(store) as opened:
        assert authenticate_staff(opened, "rn-01", PASSWORD) is None
        assert authenticate_staff(opened, "rn-01", "new-password-2026") is not None
    _stdin(monkeypatch, "short\n")
    assert main(["staff", "password", "rn-01", "--password-stdin", "--store", store]) == 1
    # A role the programme gives work to needs the roster to give it to them.
    assert main(["staff", "role", "rn-01", "health_manager", "--store", store]) == 1
    assert main(["staff", "role", "rn-01", "customer_service", "--store", store]) == 0
    assert "客服" in capsys.readouterr().out
    assert [a.role for a in _accounts(store)] == ["customer_service"]
    assert main(["staff", "activate", "rn-99", "--store", store]) == 1


# -- the look-ups -----------------------------------------------------------------------


def test_audit_lists_the_look_ups_by_member_by_who_and_since(
    store: str, capsys: pytest.CaptureFixture[str]
) -> None:
    sh = ZoneInfo("Asia/Shanghai")
    with _open(store) as opened:
        for day, who, member, purpose in (
            (1, "hm-01", "P-1", "随访电话"),
            (2, "token:3f9a", "P-2", "系统接口 / hospital system"),
            (3, "cs-01", "P-1", "来电咨询"),
        ):
            at = datetime(2026, 3, day, 9, 30, tzinfo=sh)
            opened.record_lookup(
                Lookup(at=at, who=who, member_id=member, purpose=purpose, via="api")
            )
    capsys.readouterr()
    assert main(["audit", "--store", store]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert [line.split()[2] for line in lines[1:]] == ["hm-01", "token:3f9a", "cs-01"]
    assert "2026-03-01 09:30" in lines[1]
    assert main(["audit", "--member", "P-1", "--store", store]) == 0
    shown = capsys.readouterr().out
    assert "随访电话" in shown
    assert "来电咨询" in shown
    assert "P-2" not in shown
    assert (
        main(["audit", "--who", "cs-01", "--since", "2026-03-02T00:00:00+08:00", "--store", store])
        == 0
    )
    (_heading, row) = capsys.readouterr().out.splitlines()
    assert "cs-01" in row
    assert main(["audit", "--who", "nobody", "--store", store]) == 0
    assert capsys.readouterr().out.strip() == "（无）"


def test_reading_a_record_from_the_command_line_is_a_look_up(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("getpass.getuser", lambda: "it-wang")
    store = f"sqlite:///{tmp_path}/m.db"
    facts = tmp_path / "f.jsonl"
    registered = {
        "type": "patient_registered",
        "fact_id": "r-1",
        "patient_id": "P-1",
        "occurred_at": "2026-03-01T01:00:00+00:00",
    }
    facts.write_text(json.dumps(registered) + "\n", encoding="utf-8")
    assert main(["ingest", str(facts), "--store", store]) == 0
    assert main(["member", "show", "P-1", "--purpose", "核对积分", "--store", store]) == 0
    assert main(["member", "journal", "P-1", "--store", store]) == 0
    assert (
        main(["member", "export", "P-1", "--out", str(tmp_path / "c.json"), "--store", store]) == 0
    )
    assert main(["member", "show", "P-404", "--store", store]) == 1  # unknown: nothing recorded
    capsys.readouterr()
    assert main(["audit", "--member", "P-1", "--store", store]) == 0
    rows = capsys.readouterr().out.splitlines()[1:]
    assert [row.split()[2] for row in rows] == ["cli:it-wang"] * 3
    assert "核对积分" in rows[0]
    assert all("命令行查阅" in row for row in rows[1:])
    assert main(["audit", "--member", "P-404", "--store", store]) == 0
    assert capsys.readouterr().out.strip() == "（无）"
