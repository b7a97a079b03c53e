"""HL7 v2 for membercore: an MLLP listener and a file reader that turn a HIS's messages into facts.

A hospital's HIS speaks HL7 v2 through its integration platform. This plugin takes:

- ADT A01 A02 A03 A04 A08 A11 A13 A28 A31 A40 (:mod:`~membercore_hl7v2.adt`);
- ORU R01, one fact per OBX (:mod:`~membercore_hl7v2.results`);
- SIU S12 S13 S14 S15 S16 S17 S26 (:mod:`~membercore_hl7v2.scheduling`);
- DFT P03 P11 (:mod:`~membercore_hl7v2.financial`);

over MLLP (:class:`~membercore_hl7v2.listener.Listener`, acknowledging each message
only once its facts are committed) or from files of messages
(:class:`~membercore_hl7v2.source.Hl7FileSource`, registered as the HIS source
``hl7v2``: ``membercore import --source hl7v2 FILE --mapping his.toml``). The
hospital's codes become the programme's words through its mapping
(:mod:`~membercore_hl7v2.mapping`). Parsing and MLLP framing are python-hl7's.

It adds the commands ``membercore hl7 check`` (what a file's messages become, without a
store) and ``membercore hl7 replay`` (the messages a store refused, read again through
the corrected mapping) (:mod:`~membercore_hl7v2.commands`).
"""

from __future__ import annotations

from collections.abc import Callable

from membercore.hookspecs import ListenerFactory, SourceFactory, hookimpl
from membercore_hl7v2.acks import acknowledgement
from membercore_hl7v2.commands import membercore_register_commands
from membercore_hl7v2.fields import (
    FieldValueError,
    MissingFieldError,
    MissingSegmentError,
    NotHl7Error,
    TableValueError,
    TranslationError,
)
from membercore_hl7v2.intake import Received, receive
from membercore_hl7v2.listener import Listener
from membercore_hl7v2.mapping import Hl7Mapping, load_mapping, mapping_from_dict
from membercore_hl7v2.source import Hl7FileSource, resume_offset
from membercore_hl7v2.translate import HANDLED, Translated, translate

__all__ = [
    "HANDLED",
    "FieldValueError",
    "Hl7FileSource",
    "Hl7Mapping",
    "Listener",
    "MissingFieldError",
    "MissingSegmentError",
    "NotHl7Error",
    "Received",
    "TableValueError",
    "Translated",
    "TranslationError",
    "acknowledgement",
    "load_mapping",
    "mapping_from_dict",
    "membercore_register_commands",
    "membercore_register_his_sources",
    "membercore_register_listeners",
    "receive",
    "resume_offset",
    "translate",
]


@hookimpl
def membercore_register_his_sources(register: Callable[[str, SourceFactory], None]) -> None:
    """Provide the HL7 v2 file source, ``hl7v2``."""
    register("hl7v2", Hl7FileSource.from_options)


@hookimpl
def membercore_register_listeners(register: Callable[[str, ListenerFactory], None]) -> None:
    """Provide the MLLP listener, ``hl7v2`` (``membercore worker --listen hl7v2``)."""
    register("hl7v2", Listener.from_options)
