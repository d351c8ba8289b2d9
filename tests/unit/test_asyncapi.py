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


def test_batch_subscribers_are_documented_as_batches() -> None:
    from services.runtime import SERVICES, Wiring, build_service
    from shared.db.engine import create_engine, session_factory
    from shared.messaging.batch import BatchConsumer
    from shared.messaging.memory import InMemoryBus
    from shared.settings import Settings

    wiring = Wiring(Settings(_env_file=None), session_factory(create_engine("sqlite+aiosqlite://")), InMemoryBus())
    consumers = [consumer for name in SERVICES for consumer in build_service(name, wiring).consumers]
    batched = {f"{c.name}:{c.topic}" for c in consumers if isinstance(c, BatchConsumer)}
    assert {"assessment:credstream.enrollment.v1", "verifier:credstream.badge-issued.v1"} <= batched

    document = json.loads(asyncapi_json())
    schemas = document["components"]["schemas"]
    for title, operation in document["operations"].items():
        if operation["action"] != "receive":
            continue
        channel = document["channels"][operation["channel"]["$ref"].split("/")[-1]]
        message = document["components"]["messages"][f"{title}:SubscribeMessage"]
        reference = message["payload"].get("$ref", "")
        payload = schemas.get(reference.split("/")[-1], message["payload"])
        if title in batched:
            assert operation["x-credstream-batch"] == {"maxRecords": 500}, title
            assert payload["type"] == "array", title
            assert "Consumed in batches" in channel["description"], title
        else:
            assert "x-credstream-batch" not in operation, title
            assert payload.get("type") != "array", title
            assert "Consumed in batches" not in channel["description"], title
