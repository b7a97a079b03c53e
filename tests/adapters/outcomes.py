"""What a store held before it kept outcomes, and what its migration must leave it able to do."""

from __future__ import annotations

from typing import Any

from membercore.ports import Delivery, Store
from membercore.testing.contracts import T0
from membercore.testing.contracts.builders import MINUTE

__all__ = ["BEFORE_OUTCOMES", "HANDSET", "awaits_outcomes", "outcome_queries"]

HANDSET = "+8613800138000"

# Outbox rows as a store before outcomes kept them: (message_id, status, receipt,
# delivered_at), one delivered and one pending, both SMS sent at T0.
BEFORE_OUTCOMES: list[tuple[str, str, str | None, Any]] = [
    ("m-sent", "delivered", "sms-1", T0),
    ("m-waiting", "pending", None, None),
]


def awaits_outcomes(store: Store) -> None:
    """The message delivered before awaits its outcome, with no address; later ones name theirs."""
    (sent,) = store.awaiting("sms", T0, 10)
    assert (sent.message_id, sent.receipt, sent.address, sent.delivered_at) == (
        "m-sent",
        "sms-1",
        None,
        T0,
    )
    store.record_outcome("m-sent", "undeliverable", T0 + MINUTE)
    assert store.awaiting("sms", T0, 10) == []
    store.record_delivery(
        Delivery(message_id="m-waiting", at=T0 + MINUTE, receipt="sms-2", address=HANDSET)
    )
    assert [m.message_id for m in store.sent_to("sms", HANDSET, T0)] == ["m-waiting"]
    assert [(m.message_id, m.outcome) for m in store.outbox()] == [
        ("m-sent", "undeliverable"),
        ("m-waiting", None),
    ]


def outcome_queries(store: Any, monkeypatch: Any) -> list[tuple[str, Any]]:
    """The statements and parameters ``awaiting`` and ``sent_to`` run, in that order."""
    asked: list[tuple[str, Any]] = []
    query = store._query

    def recorded(doing: str, sql: str, parameters: Any = ()) -> list[Any]:
        asked.append((sql, parameters))
        return query(doing, sql, parameters)

    monkeypatch.setattr(store, "_query", recorded)
    store.awaiting("sms", T0, 10)
    store.sent_to("sms", HANDSET, T0)
    return asked
