"""What a store held before it kept case loads: the journals its migration reads."""

from __future__ import annotations

from typing import Any

__all__ = ["BEFORE_CASE_LOADS"]


# Records and journals as a store before case loads kept them: the manager a journal last
# assigned counts, unless the record was merged away or its member's death stands.
def _assigned(key: str, version: int, staff_id: str) -> tuple[str, int, int, str, str]:
    payload = f'{{"type":"health_manager_assigned","staff_id":"{staff_id}"}}'
    return (key, version, 0, "health_manager_assigned", payload)


BEFORE_CASE_LOADS: dict[str, Any] = {
    "records": [
        ("member:p-1", 2),
        ("member:p-2", 1),
        ("member:p-3", 2),
        ("member:p-4", 3),
        ("member:p-5", 1),
        ("household:h-1", 1),
    ],
    "events": [
        _assigned("member:p-1", 2, "hm-01"),
        _assigned("member:p-2", 1, "hm-02"),
        _assigned("member:p-3", 1, "hm-01"),
        ("member:p-3", 2, 0, "merged_into", "{}"),
        _assigned("member:p-4", 1, "hm-02"),
        ("member:p-4", 2, 0, "death_recorded", "{}"),
        ("member:p-4", 3, 0, "death_reversed", "{}"),
        _assigned("member:p-5", 1, "hm-03"),
        ("member:p-5", 1, 1, "death_recorded", "{}"),
    ],
    "loads": {"hm-01": 1, "hm-02": 2},
}
