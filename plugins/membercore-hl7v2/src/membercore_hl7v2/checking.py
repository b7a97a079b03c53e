"""A file of messages checked without a store: what each message becomes, or why not.

An integration engineer writing the hospital's mapping runs it on a sample of the HIS's
feed: each message is read as the file source reads it (:func:`~membercore_hl7v2.files.messages_in`,
:func:`~membercore_hl7v2.intake.receive`) and its facts are read as strictly as the
engine reads them (:func:`membercore.service.inputs.read`: types, sizes, what each fact
concerns), and against the programme's plausibility bounds (:mod:`membercore.service.plausibility`:
amounts, instants, ages). What only a store can say — a fact taken before with other content, a
programme's refusal of what a member's record does not allow — is said when the messages
are ingested.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path

import attrs

from membercore import reference_config
from membercore.config import ProgrammeConfig
from membercore.errors import ImplausibleError
from membercore.service import plausibility
from membercore.service.inputs import read
from membercore.service.limits import InputLimits
from membercore_hl7v2.files import messages_in
from membercore_hl7v2.intake import header_named, receive
from membercore_hl7v2.mapping import Hl7Mapping

__all__ = ["Checked", "checked"]

#: Only an input paired with an instant is checked against the clock skew as it is read,
#: and a message's inputs are not paired: the engine's default, for the form.
_SKEW = timedelta(minutes=5)


@attrs.frozen
class Checked:
    """One message of a file, as ingestion would read it.

    Attributes:
        title: where it is and what its header says (``byte 0: message 1 (ADT^A01 599102)``).
        taken: the facts and commands it becomes, each read as the engine reads it.
        refusals: why it, or some of what it becomes, would be refused.
        translated: whether it was translated (False when the translation refused it).
    """

    title: str
    taken: tuple[object, ...]
    refusals: tuple[str, ...]
    translated: bool

    @property
    def refused(self) -> bool:
        """Whether ingesting it would refuse anything of it."""
        return bool(self.refusals)


def checked(
    path: Path,
    mapping: Hl7Mapping,
    *,
    encoding: str = "utf-8",
    now: datetime,
    config: ProgrammeConfig | None = None,
) -> Iterator[Checked]:
    """Every message of ``path`` as ingestion would read it at ``now``, in the file's order.

    Args:
        path: the file.
        mapping: the hospital's mapping.
        encoding: the encoding of messages whose MSH-18 names none.
        now: the instant they are read at.
        config: the programme whose plausibility bounds they are held to (by default
            the reference programme's).

    Raises:
        OSError: the file cannot be read.
    """
    limits = InputLimits()
    programme = config or reference_config()
    for raw in messages_in(path):
        where = f"byte {raw.start}: message {raw.number}"
        title = f"{where}{header_named(raw.data)}"
        received = receive(raw.data, mapping, encoding=encoding, where=where)
        taken, refused = read(received.inputs, now, clock_skew=_SKEW, limits=limits)
        refusals = [letter.reason.removeprefix(f"{title}: ") for _, letter in refused]
        for item in taken:
            try:
                plausibility.check(item.message, None, programme, now)
            except ImplausibleError as error:
                refusals.append(str(error))
        yield Checked(
            title,
            tuple(item.message for item in taken),
            tuple(refusals),
            translated=received.translated is not None,
        )
