"""Hostile or broken credentials get a report (verified false), never an exception."""

from __future__ import annotations

import copy
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from shared.credentials import DocumentSet, verify_credential

BASE = json.loads(
    (Path(__file__).resolve().parents[2] / "fixtures" / "ob30-validator-cases" / "simple.json").read_text("utf-8")
)
VALUES: list[Any] = [
    None,
    1,
    "x",
    [],
    {},
    [1],
    ["a"],
    {"a": 1},
    True,
    "did:key:z6Mk",
    "https://x#z6Mk",
    [{"@vocab": 3}],
]


@pytest.mark.parametrize("member", [*BASE, "credentialStatus", "validUntil"])
def test_any_member_replaced_by_junk(member: str) -> None:
    for value in VALUES:
        credential = copy.deepcopy(BASE)
        credential[member] = value
        report = verify_credential(credential, now=datetime.now(UTC), documents=DocumentSet())
        assert report.verified is False
