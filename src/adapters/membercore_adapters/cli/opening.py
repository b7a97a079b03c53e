"""Opening the store a command works on, with its programme; failures said in words.

A command says how it uses the store: ``read`` (it neither creates nor changes one),
``tend`` (it changes one that is there, and creates none: ``tick``, ``outbox
--dispatch``, ``repack``), ``write`` (it may create one: ``ingest``, ``import``,
``worker``) or ``migrate``. Only ``migrate`` migrates a store an earlier release wrote;
every other use refuses it and changes nothing.
"""

from __future__ import annotations

import errno
import os
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager, nullcontext
from pathlib import Path
from typing import Literal

from membercore import MembercoreError, reference_config
from membercore.config import ProgrammeConfig
from membercore.errors import ConfigError, OutdatedSchemaError, StoreUnavailableError
from membercore.ports import Channel
from membercore.serialization import load_config_file
from membercore.service.engine import Engine
from membercore_adapters.channels.console import programme_channels
from membercore_adapters.cli.failures import misconfigured, stopped, unreadable
from membercore_adapters.cli.speech import Words, say
from membercore_adapters.stores.sql import read_only, without_migrating
from membercore_adapters.stores.sqlite import database_path

__all__ = ["Use", "channels_of", "check_inputs", "engine_on", "programme", "stopping"]

Use = Literal["read", "tend", "write", "migrate"]


def programme(path: Path | None) -> ProgrammeConfig:
    """The programme a ``--config`` names, else the reference one.

    Raises:
        Stop: the file cannot be read, or is no valid programme (exit 3).
    """
    if path is None:
        return reference_config()
    try:
        return load_config_file(path)
    except OSError as error:
        raise unreadable(error, programme=path) from error
    except MembercoreError as error:
        raise stopped(error, programme=path) from error


@contextmanager
def engine_on(
    store: str, config: Path | None, *, use: Use, inputs: tuple[Path, ...] = ()
) -> Iterator[Engine]:
    """The engine on ``store``; what goes wrong inside the block stops the command.

    Args:
        store: the store's URL.
        config: the programme file, or None for the reference programme.
        use: how the command uses the store.
        inputs: files the command reads, checked before the store opens (which would
            create it for nothing).

    Raises:
        Stop: with the message and exit status of what went wrong.
    """
    chosen = programme(config)
    check_inputs(inputs)
    try:
        if use != "write":
            _no_file(store)
        if use in ("tend", "migrate"):
            _probe(store, chosen)
        with _opening(use):
            engine = Engine.open(store, config=chosen)
    except MembercoreError as error:
        raise stopped(error, store=store) from error
    with engine, stopping(store, config):
        yield engine


def channels_of(engine: Engine, config: Path | None) -> dict[str, Channel]:
    """The programme's channels (the console's when it configures none).

    Raises:
        Stop: a ``[channels]`` table cannot be used — a provider's secret not in the
            environment, an option refused — the set-up's (exit 3, naming the file).
    """
    try:
        return programme_channels(engine)
    except ConfigError as error:
        raise misconfigured(error, config) from error


def check_inputs(inputs: tuple[Path, ...]) -> None:
    """Stop the command when a file it reads is not there (exit 2).

    Raises:
        Stop: naming the first file missing.
    """
    for path in inputs:
        if not path.exists():
            missing = FileNotFoundError(errno.ENOENT, os.strerror(errno.ENOENT), str(path))
            raise unreadable(missing)


@contextmanager
def stopping(store: str, config: Path | None = None) -> Iterator[None]:
    """What goes wrong in the block stops the command, said as it goes wrong on ``store``.

    For the work a command does before the store opens (making the source that reads
    its file) as for the work on the store (:func:`engine_on`).

    Raises:
        Stop: with the message and exit status of what went wrong.
    """
    try:
        yield
    except MembercoreError as error:
        raise stopped(error, store=store) from error
    except BrokenPipeError:
        raise  # the reader went away: not a file that cannot be read
    except OSError as error:  # a file named on the command line, or a port
        raise unreadable(error, programme=config) from error


def _opening(use: Use) -> AbstractContextManager[None]:
    """How a use opens the store: only ``migrate`` migrates, ``read`` changes nothing."""
    if use == "migrate":
        return nullcontext()
    return read_only() if use == "read" else without_migrating()


_NO_STORE = Words(
    "没有这个存储：{path!r}，未创建任何内容（`membercore ingest` 或 `membercore import` 会创建）",
    "no store at {path!r}: nothing was created (`membercore ingest` or `membercore "
    "import` creates one)",
)


def _probe(url: str, config: ProgrammeConfig) -> None:
    """Refuse a database that holds no store, before opening would create one.

    Raises:
        StoreUnavailableError: there is no membercore store there.
    """
    try:
        with read_only():  # says there is none, creating nothing
            Engine.open(url, config=config).close()
    except OutdatedSchemaError:
        pass  # there is one: only migrate opens it


def _no_file(url: str) -> None:
    """Refuse a SQLite file that is not there, before opening would create it.

    Raises:
        StoreUnavailableError: the URL names a SQLite file that does not exist.
    """
    if not url.startswith("sqlite:"):
        return
    path = database_path(url)
    if path != ":memory:" and not Path(path).exists():
        raise StoreUnavailableError(url, say(_NO_STORE, path=path))
