"""``token``, ``staff`` and ``audit``: who may use the programme, and who looked at whom.

``membercore token create NAME --scope read`` makes an API token for a system and shows
its secret once; ``token list`` and ``token revoke ID`` list and revoke them.
``membercore staff add STAFF_ID --role R`` makes a staff account whose password is asked
for twice (or read from standard input with ``--password-stdin``); ``staff list`` and
``staff deactivate STAFF_ID`` list and deactivate them. The store must keep accounts
(:class:`~membercore.ports.AccountStore`: the first-party stores do). Making a token or
an account creates a store that is not there, as ``ingest`` does; revoking and
deactivating need one; listing opens it read-only. Neither a secret nor a password hash
is ever written to the terminal but the new token's secret, once. ``membercore audit``
lists the look-ups recorded (who read which member's record, when, why, through what),
by member, by who, since an instant.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any, TypeVar

import attrs
import click

from membercore.config.staff import StaffMember, StaffRoster
from membercore.errors import StorageError
from membercore.ports import SCOPES, STAFF_ROLES, AccountStore, StaffAccount
from membercore.service.engine import Engine
from membercore_adapters.access import new_password_hash, new_staff_account, new_token
from membercore_adapters.cli.arguments import INSTANT, Exit, UsageError, store_options
from membercore_adapters.cli.opening import engine_on, programme
from membercore_adapters.cli.speech import Words, echo, language, say, warn
from membercore_adapters.cli.tables import local_time, show_table
from membercore_adapters.labels import STAFF_ROLES as ROLE_NAMES
from membercore_adapters.labels import named

__all__ = ["MIN_PASSWORD", "commands"]

_F = TypeVar("_F", bound=Callable[..., Any])

#: The fewest characters a staff account's password may have.
MIN_PASSWORD = 8


def commands() -> list[click.Command]:
    """``token``, ``staff`` and ``audit``."""
    token = click.Group(
        "token",
        help=say(
            Words(
                "系统调用 API 的令牌：创建（密钥只显示一次）、列出、撤销",
                "API tokens for systems: create (the secret shown once), list, revoke",
            )
        ),
    )
    for command in (_create_token(), _list_tokens(), _revoke_token()):
        token.add_command(command)
    staff = click.Group(
        "staff",
        help=say(
            Words(
                "员工账户：添加（岗位、密码）、列出、停用、启用、重设密码、变更岗位",
                "staff accounts: add (a role, a password), list, deactivate, activate, a new "
                "password, a new role",
            )
        ),
    )
    for command in (
        _add_staff(),
        _list_staff(),
        _deactivate_staff(),
        _activate_staff(),
        _new_password(),
        _new_role(),
    ):
        staff.add_command(command)
    return [token, staff, _audit()]


_NO_ACCOUNTS = Words(
    "此存储不保存账户（其插件未实现 AccountStore）",
    "the store keeps no accounts (its plugin does not implement AccountStore)",
)


def _accounts(engine: Engine) -> AccountStore:
    """The engine's store, which keeps accounts.

    Raises:
        StorageError: the store keeps none (exit 3).
    """
    store = engine.store
    if not isinstance(store, AccountStore):
        raise StorageError(store.url, say(_NO_ACCOUNTS))
    return store


# -- API tokens ---------------------------------------------------------------------------

_CREATED = Words(
    "已创建 API 令牌 {token_id}（{name}；权限：{scopes}）。下一行是它的密钥，只显示这一次："
    "membercore 只保存其摘要，无法再次显示，请立即妥善保存（调用时作为 Bearer 令牌）。",
    "API token {token_id} created ({name}; scopes: {scopes}). The next line is its "
    "secret, shown this once: membercore keeps only its digest and cannot show it again; "
    "keep it safe now (a caller sends it as a Bearer token).",
)
_EMPTY_NAME = Words("令牌名称不能为空", "a token's name must not be empty")


def _create_token() -> click.Command:
    @click.command(
        "create",
        help=say(
            Words(
                "为系统创建 API 令牌（NAME 如 'HIS 接口'）；密钥打印到标准输出，仅此一次",
                "create an API token for a system (NAME such as 'HIS integration'); its "
                "secret goes to standard output, this once",
            )
        ),
    )
    @click.argument("name")
    @click.option(
        "--scope",
        "scopes",
        type=click.Choice(SCOPES),
        multiple=True,
        required=True,
        help=say(
            Words(
                "令牌可用于：ingest 传入事实，read 读取记录，commands 发送命令，admin 管理；可重复",
                "what the token may be used for: ingest facts, read records, send commands, "
                "admin; may be repeated",
            )
        ),
    )
    @store_options
    def create(name: str, scopes: tuple[str, ...], store: str, config: Path | None) -> int:
        if not name.strip():
            raise UsageError(say(_EMPTY_NAME))
        with engine_on(store, config, use="write") as engine:
            accounts = _accounts(engine)
            token, secret = new_token(name, scopes, engine.now())
            accounts.add_token(token)
        warn(_CREATED, token_id=token.token_id, name=name, scopes=", ".join(token.scopes))
        click.echo(secret)
        return Exit.DONE

    return create


_TOKENS = (
    (Words("令牌", "token"), False),
    (Words("名称", "name"), False),
    (Words("权限", "scopes"), False),
    (Words("创建时间", "created"), False),
    (Words("状态", "status"), False),
)
_IN_FORCE = Words("有效", "in force")
_REVOKED_AT = Words("已撤销（{at}）", "revoked ({at})")


def _list_tokens() -> click.Command:
    @click.command(
        "list",
        help=say(
            Words(
                "列出 API 令牌（含已撤销的；不显示密钥）",
                "list the API tokens (revoked ones too; never their secrets)",
            )
        ),
    )
    @store_options
    def list_(store: str, config: Path | None) -> int:
        with engine_on(store, config, use="read") as engine:
            zone = engine.config.tz
            rows = [
                (
                    token.token_id,
                    token.name,
                    ", ".join(token.scopes),
                    local_time(token.created_at, zone),
                    say(_IN_FORCE)
                    if token.revoked_at is None
                    else say(_REVOKED_AT, at=local_time(token.revoked_at, zone)),
                )
                for token in _accounts(engine).tokens()
            ]
            show_table(_TOKENS, rows)
        return Exit.DONE

    return list_


_REVOKED = Words(
    "已撤销 API 令牌 {token_id}（{name}）：它不再能调用 API",
    "API token {token_id} ({name}) revoked: it calls the API no more",
)
_REVOKED_BEFORE = Words(
    "API 令牌 {token_id}（{name}）已于 {at} 撤销，未作改动",
    "API token {token_id} ({name}) was revoked at {at} already: nothing changed",
)
_NO_TOKEN = Words(
    "membercore: 没有这个 API 令牌 {token_id!r}（`membercore token list` 列出所有令牌）",
    "membercore: API token {token_id!r} is not known (`membercore token list` lists them)",
)


def _revoke_token() -> click.Command:
    @click.command(
        "revoke",
        help=say(
            Words(
                "撤销 API 令牌（ID 见 token list）；记录保留，标明撤销时间",
                "revoke an API token (its ID as token list shows it); its row is kept, with "
                "when it was revoked",
            )
        ),
    )
    @click.argument("token_id", metavar="ID")
    @store_options
    def revoke(token_id: str, store: str, config: Path | None) -> int:
        with engine_on(store, config, use="tend") as engine:
            accounts = _accounts(engine)
            token = accounts.token(token_id)
            if token is None:
                warn(_NO_TOKEN, token_id=token_id)
                return Exit.REFUSED
            if token.revoked_at is not None:
                at = local_time(token.revoked_at, engine.config.tz)
                echo(_REVOKED_BEFORE, token_id=token_id, name=token.name, at=at)
                return Exit.DONE
            accounts.revoke_token(token_id, engine.now())
        echo(_REVOKED, token_id=token_id, name=token.name)
        return Exit.DONE

    return revoke


# -- staff accounts -----------------------------------------------------------------------

_PASSWORD = Words("{staff_id} 的密码", "password for {staff_id}")
_AGAIN = Words("再次输入密码", "the password again")
_MISMATCH = Words(
    "membercore: 两次输入的密码不一致：未创建账户",
    "membercore: the two passwords differ: no account was made",
)
_SHORT = Words(
    "membercore: 密码至少 {least} 个字符：未创建账户",
    "membercore: a password has {least} characters at least: no account was made",
)
_NO_PASSWORD = Words(
    "membercore: 标准输入没有密码（--password-stdin 读取第一行）：未创建账户",
    "membercore: no password on standard input (--password-stdin reads its first line): "
    "no account was made",
)
_EXISTS = Words(
    "membercore: 员工 {staff_id} 已有账户（{name}，{role}）：未作改动",
    "membercore: {staff_id} has an account already ({name}, {role}): nothing changed",
)
_NOT_ON_ROSTER = Words(
    "membercore: {staff_id} 不在方案员工名单上担任{role}（[[staff.staff]]；--config 指定"
    "医院的方案）：方案把{role}的工作分配给名单上的工号，未创建账户",
    "membercore: {staff_id} is not a {role} on the programme's staff roster "
    "([[staff.staff]]; --config names the hospital's programme): the programme assigns a "
    "{role}'s work to staff ids on its roster; no account was made",
)
_NAME_NEEDED = Words(
    "{staff_id} 不在员工名单上：请用 --name 给出姓名",
    "{staff_id} is not on the staff roster: give their name with --name",
)
_EMPTY_STAFF_NAME = Words("--name 不能为空", "--name must not be empty")
_ADDED = Words(
    "已添加员工账户 {staff_id}（{name}，{role}）",
    "staff account {staff_id} added ({name}, {role})",
)


def _add_staff() -> click.Command:
    @click.command(
        "add",
        help=say(
            Words(
                "添加员工账户（STAFF_ID 为工号，与方案员工名单一致）；密码输入两次，仅保存其"
                "scrypt 哈希",
                "add a staff account (STAFF_ID as the programme's staff roster names them); "
                "the password is asked for twice and only its scrypt hash is kept",
            )
        ),
    )
    @click.argument("staff_id")
    @click.option(
        "--role",
        type=click.Choice(STAFF_ROLES),
        required=True,
        help=say(
            Words(
                "岗位：health_manager 健康管家，nurse 护士，doctor 医生，"
                "call_centre 呼叫中心，customer_service 客服，admin 管理员",
                "the role: health manager, nurse, doctor, call centre, customer service, "
                "administrator",
            )
        ),
    )
    @click.option(
        "--name",
        help=say(
            Words(
                "同事看到的姓名（默认：员工名单上的姓名）",
                "the name colleagues see (default: the staff roster's)",
            )
        ),
    )
    @_password_stdin()
    @store_options
    def add(
        staff_id: str,
        role: str,
        name: str | None,
        password_stdin: bool,
        store: str,
        config: Path | None,
    ) -> int:
        roster = programme(config).staff  # the programme file read once
        if _roster_refuses(roster, staff_id, role):
            return Exit.REFUSED
        on_roster = _roster_entry(roster, staff_id)
        spoken_role = named(ROLE_NAMES, role, language())
        if name is not None and not name.strip():
            raise UsageError(say(_EMPTY_STAFF_NAME))
        if name is None:
            if on_roster is None:
                raise UsageError(say(_NAME_NEEDED, staff_id=staff_id))
            name = on_roster.name
        with engine_on(store, config, use="write") as engine:
            accounts = _accounts(engine)
            existing = accounts.staff_account(staff_id)
            if existing is not None:
                shown = named(ROLE_NAMES, existing.role, language())
                warn(_EXISTS, staff_id=staff_id, name=existing.name, role=shown)
                return Exit.REFUSED
            password = _password(staff_id, from_stdin=password_stdin)
            if password is None:
                return Exit.REFUSED
            account = new_staff_account(staff_id, name, role, password, engine.now())
            accounts.save_staff_account(account)
        echo(_ADDED, staff_id=staff_id, name=name, role=spoken_role)
        return Exit.DONE

    return add


def _password_stdin() -> Callable[[_F], _F]:
    """The ``--password-stdin`` option of the commands that set a password."""
    return click.option(
        "--password-stdin",
        is_flag=True,
        help=say(
            Words(
                "从标准输入的第一行读取密码，而不是提示输入",
                "read the password from the first line of standard input instead of asking",
            )
        ),
    )


def _roster_entry(roster: StaffRoster, staff_id: str) -> StaffMember | None:
    """The roster's entry of ``staff_id``, if it is on the roster."""
    return next((held for held in roster.staff if held.key == staff_id), None)


def _roster_refuses(roster: StaffRoster, staff_id: str, role: str) -> bool:
    """Whether the roster refuses ``role`` to ``staff_id``, said when it does.

    A role the programme gives work to is someone's on its roster: a health manager sees
    the members assigned to their staff id there.
    """
    on_roster = _roster_entry(roster, staff_id)
    if role in roster.roles and (on_roster is None or role not in on_roster.roles):
        warn(_NOT_ON_ROSTER, staff_id=staff_id, role=named(ROLE_NAMES, role, language()))
        return True
    return False


def _password(staff_id: str, *, from_stdin: bool) -> str | None:
    """The new account's password, asked for twice or read; None when it will not do."""
    if from_stdin:
        line = sys.stdin.readline()
        if not line:
            warn(_NO_PASSWORD)
            return None
        password = line.removesuffix("\n").removesuffix("\r")
    else:
        password = click.prompt(say(_PASSWORD, staff_id=staff_id), hide_input=True)
        again = click.prompt(say(_AGAIN), hide_input=True)
        if again != password:
            warn(_MISMATCH)
            return None
    if len(password) < MIN_PASSWORD:
        warn(_SHORT, least=MIN_PASSWORD)
        return None
    return password


_STAFF = (
    (Words("工号", "staff id"), False),
    (Words("姓名", "name"), False),
    (Words("岗位", "role"), False),
    (Words("状态", "status"), False),
    (Words("创建时间", "created"), False),
)
_ACTIVE = Words("启用", "active")
_INACTIVE = Words("已停用", "deactivated")


def _list_staff() -> click.Command:
    @click.command(
        "list",
        help=say(
            Words(
                "列出员工账户（含已停用的；不显示密码哈希）",
                "list the staff accounts (deactivated ones too; never their password hashes)",
            )
        ),
    )
    @store_options
    def list_(store: str, config: Path | None) -> int:
        with engine_on(store, config, use="read") as engine:
            zone = engine.config.tz
            rows = [
                (
                    account.staff_id,
                    account.name,
                    named(ROLE_NAMES, account.role, language()),
                    say(_ACTIVE if account.active else _INACTIVE),
                    local_time(account.created_at, zone),
                )
                for account in _accounts(engine).staff_accounts()
            ]
            show_table(_STAFF, rows)
        return Exit.DONE

    return list_


_DEACTIVATED = Words(
    "已停用员工账户 {staff_id}（{name}）：不能再登录，记录保留",
    "staff account {staff_id} ({name}) deactivated: it signs in no more; it is kept",
)
_DEACTIVATED_BEFORE = Words(
    "员工账户 {staff_id}（{name}）已停用，未作改动",
    "staff account {staff_id} ({name}) was deactivated already: nothing changed",
)
_NO_ACCOUNT = Words(
    "membercore: 员工 {staff_id!r} 没有账户（`membercore staff list` 列出所有账户）",
    "membercore: {staff_id!r} has no staff account (`membercore staff list` lists them)",
)


def _deactivate_staff() -> click.Command:
    @click.command(
        "deactivate",
        help=say(
            Words(
                "停用员工账户：不能再登录，账户及其查阅记录保留",
                "deactivate a staff account: it signs in no more; it and its look-ups are kept",
            )
        ),
    )
    @click.argument("staff_id")
    @store_options
    def deactivate(staff_id: str, store: str, config: Path | None) -> int:
        with engine_on(store, config, use="tend") as engine:
            accounts = _accounts(engine)
            account = accounts.staff_account(staff_id)
            if account is None:
                warn(_NO_ACCOUNT, staff_id=staff_id)
                return Exit.REFUSED
            if not account.active:
                echo(_DEACTIVATED_BEFORE, staff_id=staff_id, name=account.name)
                return Exit.DONE
            accounts.save_staff_account(attrs.evolve(account, active=False))
        echo(_DEACTIVATED, staff_id=staff_id, name=account.name)
        return Exit.DONE

    return deactivate


_CHANGED = Words(
    "已更新员工账户 {staff_id}（{name}）：{what}",
    "staff account {staff_id} ({name}) changed: {what}",
)
_ACTIVATED = Words("已启用，可以登录", "activated: it signs in again")
_PASSWORD_SET = Words(
    "密码已重设（其已登录的会话在下次请求时结束）",
    "a new password (its sessions end at their next request)",
)
_ROLE_SET = Words(
    "岗位改为{role}（其已登录的会话在下次请求时结束）",
    "the role is now {role} (its sessions end at their next request)",
)


#: An account as a change leaves it, with what is said of the change; None: refused.
Changed = tuple[StaffAccount, str] | None


def _change(
    store: str, config: Path | None, staff_id: str, change: Callable[[StaffAccount], Changed]
) -> int:
    """Change the account of ``staff_id`` as ``change`` says, and say what changed."""
    with engine_on(store, config, use="tend") as engine:
        accounts = _accounts(engine)
        account = accounts.staff_account(staff_id)
        if account is None:
            warn(_NO_ACCOUNT, staff_id=staff_id)
            return Exit.REFUSED
        changed = change(account)
        if changed is None:
            return Exit.REFUSED
        accounts.save_staff_account(changed[0])
    echo(_CHANGED, staff_id=staff_id, name=account.name, what=changed[1])
    return Exit.DONE


def _activate_staff() -> click.Command:
    @click.command(
        "activate",
        help=say(Words("重新启用已停用的员工账户", "activate a deactivated staff account again")),
    )
    @click.argument("staff_id")
    @store_options
    def activate(staff_id: str, store: str, config: Path | None) -> int:
        return _change(
            store,
            config,
            staff_id,
            lambda account: (attrs.evolve(account, active=True), say(_ACTIVATED)),
        )

    return activate


def _new_password() -> click.Command:
    @click.command(
        "password",
        help=say(
            Words(
                "为员工账户设置新密码（输入两次，或 --password-stdin）",
                "give a staff account a new password (asked twice, or --password-stdin)",
            )
        ),
    )
    @click.argument("staff_id")
    @_password_stdin()
    @store_options
    def password(staff_id: str, password_stdin: bool, store: str, config: Path | None) -> int:
        def renewed(account: StaffAccount) -> Changed:
            given = _password(staff_id, from_stdin=password_stdin)
            if given is None:
                return None
            hashed = new_password_hash(given)
            return attrs.evolve(account, password_hash=hashed), say(_PASSWORD_SET)

        return _change(store, config, staff_id, renewed)

    return password


def _new_role() -> click.Command:
    @click.command(
        "role",
        help=say(Words("变更员工账户的岗位", "give a staff account another role")),
    )
    @click.argument("staff_id")
    @click.argument("role", type=click.Choice(STAFF_ROLES))
    @store_options
    def role(staff_id: str, role: str, store: str, config: Path | None) -> int:
        if _roster_refuses(programme(config).staff, staff_id, role):
            return Exit.REFUSED
        spoken = named(ROLE_NAMES, role, language())
        return _change(
            store,
            config,
            staff_id,
            lambda account: (attrs.evolve(account, role=role), say(_ROLE_SET, role=spoken)),
        )

    return role


# -- look-ups -----------------------------------------------------------------------------

_LOOKUPS = (
    (Words("时间", "at"), False),
    (Words("查阅人", "who"), False),
    (Words("会员", "member"), False),
    (Words("用途", "purpose"), False),
    (Words("途径", "via"), False),
)


def _audit() -> click.Command:
    @click.command(
        "audit",
        help=say(
            Words(
                "查阅记录：谁在何时、为何、通过何种途径查看了哪位会员的档案（按记录顺序）",
                "the look-ups: who read which member's record, when, why and through what "
                "(in the order recorded)",
            )
        ),
    )
    @click.option(
        "--member",
        "member_id",
        help=say(Words("只列出此会员档案的查阅", "only the look-ups of this member's record")),
    )
    @click.option(
        "--who",
        help=say(
            Words(
                "只列出此人的查阅（员工编号，或系统的 token:<令牌>）",
                "only this one's look-ups (a staff id, or token:<token id> for a system)",
            )
        ),
    )
    @click.option(
        "--since",
        type=INSTANT,
        help=say(Words("只列出此时刻及之后的查阅", "only the look-ups at or after this instant")),
    )
    @store_options
    def audit(
        member_id: str | None,
        who: str | None,
        since: datetime | None,
        store: str,
        config: Path | None,
    ) -> int:
        with engine_on(store, config, use="read") as engine:
            zone = engine.config.tz
            found = _accounts(engine).lookups(member_id=member_id, who=who, since=since)
            rows = (
                (local_time(seen.at, zone), seen.who, seen.member_id, seen.purpose, seen.via)
                for seen in found
            )
            show_table(_LOOKUPS, rows)
        return Exit.DONE

    return audit
