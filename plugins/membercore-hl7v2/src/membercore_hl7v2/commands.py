"""``membercore hl7``: the plugin's commands, added through ``membercore_register_commands``.

- ``membercore hl7 check FILE [--mapping M] [--encoding E]`` reads a file of messages as
  the file source reads it, without a store, and prints what each message becomes: its
  facts, a JSON line each, or why it would be refused (:mod:`~membercore_hl7v2.checking`).
- ``membercore hl7 replay --store URL [--mapping M] [--encoding E]`` reads the messages
  the store refused again, through the corrected mapping, and ingests what they become
  (:mod:`~membercore_hl7v2.replay`).

Both exit 0 when every message is (or would be) taken and 1 when some are refused; a
file or mapping that cannot be read is a usage error (2), an invalid mapping or a store
that cannot be used 3.
"""

from __future__ import annotations

import codecs
import json
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

import click

from membercore.errors import MembercoreError
from membercore.hookspecs import hookimpl
from membercore.serialization import message_to_dict
from membercore_adapters.cli.arguments import Exit, UsageError, store_options
from membercore_adapters.cli.failures import stopped, unreadable
from membercore_adapters.cli.opening import engine_on
from membercore_adapters.cli.speech import Words, echo, say
from membercore_hl7v2.checking import checked
from membercore_hl7v2.mapping import Hl7Mapping, load_mapping
from membercore_hl7v2.replay import Replayed, refused_messages, replay

__all__ = ["membercore_register_commands"]

F = TypeVar("F", bound=Callable[..., Any])


@hookimpl
def membercore_register_commands(register: Callable[[str, click.Command], None]) -> None:
    """Add ``membercore hl7``, with ``check`` and ``replay``."""
    hl7 = click.Group(
        "hl7",
        help=say(
            Words(
                "HL7 v2 消息：编写映射时检查样本文件，映射修正后重放被拒的消息",
                "HL7 v2 messages: check a sample file while writing the mapping, replay "
                "the refused messages once it is corrected",
            )
        ),
    )
    hl7.add_command(_check())
    hl7.add_command(_replay())
    register("hl7", hl7)


def _mapping_option(command: F) -> F:
    return click.option(
        "--mapping",
        type=click.Path(path_type=Path, dir_okay=False),
        help=say(
            Words(
                "医院编码的映射文件（TOML；默认：不映射任何编码）",
                "the mapping of the hospital's codes (TOML; by default none is mapped)",
            )
        ),
    )(command)


def _mapping(path: Path | None) -> Hl7Mapping:
    """The mapping ``--mapping`` names, else the default one.

    Raises:
        Stop: the file cannot be read (exit 2), or is no valid mapping (exit 3).
    """
    if path is None:
        return Hl7Mapping()
    try:
        return load_mapping(path)
    except OSError as error:
        raise unreadable(error) from error
    except MembercoreError as error:  # the mapping is the set-up, as a programme is
        raise stopped(error, programme=path) from error


_NO_CODEC = Words(
    "没有名为 {name!r} 的字符编码（如 utf-8、gb18030）",
    "no character encoding is named {name!r} (utf-8, gb18030...)",
)


def _encoding(name: str | None) -> str | None:
    """``--encoding`` when it names an encoding.

    Raises:
        UsageError: it names none (exit 2).
    """
    if name is None:
        return None
    try:
        codecs.lookup(name)
    except LookupError:
        raise UsageError(say(_NO_CODEC, name=name)) from None
    return name


# -- check ----------------------------------------------------------------------------------

_FACTS = Words("成为 {count} 条事实", "becomes {count} facts")
_NOTHING = Words("方案不从中取任何内容（照常确认）", "nothing for the programme (acknowledged)")
_WOULD_REFUSE = Words("会被拒：{reason}", "would be refused: {reason}")
_CHECKED = Words(
    "共 {count} 条消息，{facts} 条事实：{taken} 条可接收，{refused} 条会被拒",
    "{count} messages, {facts} facts: {taken} would be taken, {refused} would be refused",
)


def _check() -> click.Command:
    @click.command(
        "check",
        short_help=say(
            Words(
                "不使用存储，列出消息文件中每条消息成为的事实或被拒的原因",
                "what each message of a file becomes, or why it would be refused (no store)",
            )
        ),
        help=say(
            Words(
                "不使用存储，读取 HL7 v2 消息文件，列出每条消息（位置、类型、控制 ID）成为的事实"
                "（每行一个 JSON）或会被拒的原因，最后一行为计数。"
                "全部可接收时退出码为 0，有被拒时为 1",
                "read a file of HL7 v2 messages without a store and print what each message "
                "(its place, type and control id) becomes: its facts, a JSON line each, or "
                "why it would be refused; then a count. Exit 0 when every message would be "
                "taken, 1 when any would be refused",
            )
        ),
    )
    @click.argument("file", type=click.Path(path_type=Path, dir_okay=False))
    @_mapping_option
    @click.option(
        "--encoding",
        help=say(
            Words(
                "MSH-18 未声明编码的消息的字符编码（默认 utf-8；如 gb18030）",
                "the character encoding of messages whose MSH-18 declares none (utf-8 by "
                "default; gb18030...)",
            )
        ),
    )
    def check(file: Path, mapping: Path | None, encoding: str | None) -> int:
        chosen = _mapping(mapping)
        reading = _encoding(encoding) or "utf-8"
        count = facts = refused = 0
        try:
            for message in checked(file, chosen, encoding=reading, now=datetime.now(UTC)):
                count += 1
                facts += len(message.taken)
                refused += message.refused
                if message.refused:
                    said = say(_WOULD_REFUSE, reason="; ".join(dict.fromkeys(message.refusals)))
                elif message.taken:
                    said = say(_FACTS, count=len(message.taken))
                else:
                    said = say(_NOTHING)
                echo(f"{message.title}: {said}")
                for item in message.taken:
                    echo(json.dumps(message_to_dict(item), ensure_ascii=False))
        except OSError as error:
            raise unreadable(error) from error
        taken = count - refused
        echo(_CHECKED, count=count, facts=facts, taken=taken, refused=refused)
        return Exit.REFUSED if refused else Exit.DONE

    return check


# -- replay ---------------------------------------------------------------------------------

_TAKEN = Words(
    "已接收（{applied} 条已应用，{duplicates} 条此前已接收）",
    "taken ({applied} applied, {duplicates} taken before)",
)
_STILL_REFUSED = Words("仍被拒：{reason}", "still refused: {reason}")
_NONE_REFUSED = Words("存储中没有被拒的 HL7 v2 消息", "the store holds no refused HL7 v2 message")
_REPLAYED = Words(
    "重新读取 {count} 条被拒的 HL7 v2 消息：{taken} 条已接收，{refused} 条仍被拒"
    "（{applied} 条已应用，{duplicates} 条此前已接收）",
    "{count} refused HL7 v2 messages read again: {taken} taken, {refused} still refused "
    "({applied} applied, {duplicates} taken before)",
)
_FACTS_LEFT = Words(
    "另有 {count} 条由 HL7 v2 消息转换而来、被方案拒绝的事实：死信保存的是事实而不是消息，"
    "不会重新读取（原因见 `membercore dead-letters`；修正后由 HIS 重发消息）",
    "{count} facts HL7 v2 messages became were refused too: their dead letters keep the "
    "facts, not the messages, and are not read again (`membercore dead-letters` says why; "
    "the HIS sends the message again once it is put right)",
)


def _replay() -> click.Command:
    @click.command(
        "replay",
        short_help=say(
            Words(
                "用修正后的映射重放存储拒绝的 HL7 v2 消息",
                "read the refused HL7 v2 messages again through the corrected mapping",
            )
        ),
        help=say(
            Words(
                "用（修正后的）映射重新读取存储拒绝的 HL7 v2 消息并接收：列出每条已接收或仍被拒"
                "（及新的原因）的消息。死信会保留；重复重放不会重复应用任何事实。"
                "全部接收时退出码为 0，仍有被拒时为 1",
                "read the HL7 v2 messages the store refused again, through the (corrected) "
                "mapping, and take what they become: each message is listed as taken, or "
                "still refused with its reason now. The dead letters are kept; replaying "
                "again applies nothing twice. Exit 0 when every message was taken, 1 when "
                "some are still refused",
            )
        ),
    )
    @_mapping_option
    @click.option(
        "--encoding",
        help=say(
            Words(
                "因不是原编码文本而被拒的消息按此编码重新读取（如 gb18030）",
                "read the messages refused as not being text in the encoding they were "
                "read in in this one instead (gb18030...)",
            )
        ),
    )
    @store_options
    def replay_refused(
        mapping: Path | None, encoding: str | None, store: str, config: Path | None
    ) -> int:
        chosen = _mapping(mapping)
        reading = _encoding(encoding)
        with engine_on(store, config, use="tend") as engine:
            # Read whole first: what the replay refuses again is written meanwhile.
            refusals = refused_messages(engine.dead_letters())
            outcomes = []
            for message in refusals.messages:
                outcome = replay(engine, message, chosen, encoding=reading)
                echo(f"{message.title}: {_said(outcome)}")
                outcomes.append(outcome)
        if outcomes:
            taken = sum(outcome.taken for outcome in outcomes)
            echo(
                _REPLAYED,
                count=len(outcomes),
                taken=taken,
                refused=len(outcomes) - taken,
                applied=sum(outcome.applied for outcome in outcomes),
                duplicates=sum(outcome.duplicates for outcome in outcomes),
            )
        else:
            echo(_NONE_REFUSED)
        if refusals.facts:
            echo(_FACTS_LEFT, count=refusals.facts)
        return Exit.DONE if all(outcome.taken for outcome in outcomes) else Exit.REFUSED

    return replay_refused


def _said(outcome: Replayed) -> str:
    if outcome.taken:
        return say(_TAKEN, applied=outcome.applied, duplicates=outcome.duplicates)
    return say(_STILL_REFUSED, reason="; ".join(dict.fromkeys(outcome.refusals)))
