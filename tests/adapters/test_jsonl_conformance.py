"""The JSON-lines source passes membercore's source conformance suite."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path

import pytest

from membercore import Identifier, PatientRegistered, VisitCompleted, message_to_dict
from membercore.testing.sources import SourceContract
from membercore_adapters.his.jsonl import JsonLinesSource
from membercore_adapters.his.marks import resume_line


class JsonLinesFile:
    """A file of tagged facts; a visit named by the card registers the card as an id first."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.name = f"jsonl:{path}"
        path.write_text("", encoding="utf-8")

    def registration(self, patient_id: str, card: str, at: datetime) -> None:
        card_id = Identifier(system="card", value=card)
        self._append(
            PatientRegistered(
                fact_id=f"reg-{patient_id}",
                patient_id=patient_id,
                occurred_at=at,
                identifiers=(card_id,),
            )
        )

    def visit(self, card: str, visit_id: str, at: datetime) -> None:
        card_id = Identifier(system="card", value=card)
        self._append(
            PatientRegistered(
                fact_id=f"reg-{visit_id}",
                patient_id=f"card|{card}",
                occurred_at=at,
                identifiers=(card_id,),
                known_only=True,
            ),
            VisitCompleted(
                fact_id=visit_id, patient_id=f"card|{card}", occurred_at=at, visit_id=visit_id
            ),
        )

    def untranslatable(self) -> str:
        with self.path.open("a", encoding="utf-8") as file:
            file.write('{"type": "visit_completed", "patient_id": \n')
        return '"patient_id":'

    def source(self, after: str | None) -> JsonLinesSource:
        return JsonLinesSource(self.path, after=resume_line(after, self.path))

    def _append(self, *facts: object) -> None:
        with self.path.open("a", encoding="utf-8") as file:
            for fact in facts:
                file.write(json.dumps(message_to_dict(fact), ensure_ascii=False) + "\n")


class TestJsonLinesSource(SourceContract):
    @pytest.fixture
    def feed(self, tmp_path: Path) -> JsonLinesFile:
        return JsonLinesFile(tmp_path / "facts.jsonl")
