"""The language the command speaks while it runs, and how it says things.

``membercore`` speaks Chinese (zh-CN) unless ``--lang en`` or ``MEMBERCORE_LANG=en``
asks for English: its help, labels and messages. :func:`speaking` sets the language for
one run of the command; :func:`say` gives a :class:`~membercore_adapters.language.Words`
in it; :func:`echo` and :func:`warn` write a line to standard output and standard error.
What the programme itself says (a refusal's reason, a key's error) is written by the
core, in both languages where it is written so.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from contextvars import ContextVar

import click

from membercore_adapters.language import LANGUAGES, Language, Words, default_language

__all__ = ["Words", "asked_language", "echo", "language", "say", "speaking", "warn"]

_SPEAKING: ContextVar[Language | None] = ContextVar("membercore_speaking", default=None)


@contextmanager
def speaking(spoken: Language) -> Iterator[None]:
    """Speak ``spoken`` within the block."""
    token = _SPEAKING.set(spoken)
    try:
        yield
    finally:
        _SPEAKING.reset(token)


def language() -> Language:
    """The language spoken now: the run's, else ``MEMBERCORE_LANG``'s, else zh-CN."""
    return _SPEAKING.get() or default_language()


def asked_language(argv: Sequence[str]) -> tuple[Language, list[str]]:
    """The language a command line asks for with ``--lang``, and the rest of it.

    ``--lang`` may stand anywhere before ``--`` (``membercore demo --lang en``); the
    help of every command is written in the language, so it is known before the command
    line is parsed.

    Raises:
        click.BadParameter: ``--lang`` names a language the command does not speak.
    """
    asked: str | None = None
    rest: list[str] = []
    arguments = iter(argv)
    for argument in arguments:
        if argument == "--":
            rest += [argument, *arguments]
        elif argument == "--lang":
            asked = next(arguments, "")
        elif argument.startswith("--lang="):
            asked = argument.partition("=")[2]
        else:
            rest.append(argument)
    if asked is None:
        return default_language(), rest
    for known in LANGUAGES:
        if known.lower() == asked.lower() or known.partition("-")[0] == asked.lower():
            return known, rest
    raise click.BadParameter(f"{asked!r}: zh-CN, en", param_hint="'--lang'")


def say(words: Words, **fields: object) -> str:
    """``words`` in the language spoken now, their fields filled."""
    return words.say(language(), **fields)


def echo(words: Words | str, **fields: object) -> None:
    """A line on standard output."""
    click.echo(words if isinstance(words, str) else say(words, **fields))


def warn(words: Words | str, **fields: object) -> None:
    """A line on standard error."""
    click.echo(words if isinstance(words, str) else say(words, **fields), err=True)
