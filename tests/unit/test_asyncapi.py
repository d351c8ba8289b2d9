"""The committed AsyncAPI document is the one FastStream generates from the running code."""

import json
from pathlib import Path

from services.asyncapi import asyncapi_json
from shared.contracts import Topic

DOC = Path(__file__).resolve().parents[2] / "docs" / "asyncapi.json"


def test_committed_asyncapi_document_is_current() -> None:
    generated = json.loads(asyncapi_json())
    assert generated == json.loads(DOC.read_text()), "run `make asyncapi` and commit docs/asyncapi.json"


def test_every_topic_is_documented_with_its_contract() -> None:
    document = json.loads(asyncapi_json())
    addresses = {channel["address"] for channel in document["channels"].values()}
    assert addresses == {str(topic) for topic in Topic}
    assert {"LmsActivity", "EnrollmentRecorded", "AssessmentPassed", "BadgeIssued"} <= set(
        document["components"]["schemas"]
    )
