"""Event contracts: CloudEvents headers, record keys, versioning, importable on their own."""

import subprocess
import sys
from datetime import UTC, datetime

import pytest

from shared.contracts import CloudEvent, LmsActivity, MissingCloudEventAttribute


def test_cloudevents_headers_round_trip() -> None:
    ce = CloudEvent(source="lms://moodle.example", type=LmsActivity.CE_TYPE, subject="acme:l1")
    headers = dict(ce.to_headers())
    assert headers["ce_specversion"] == b"1.0"
    assert CloudEvent.from_headers(ce.to_headers()) == ce
    assert CloudEvent.from_headers(ce.to_header_dict()) == ce


def test_missing_required_attribute_is_named() -> None:
    with pytest.raises(MissingCloudEventAttribute, match="ce_source"):
        CloudEvent.from_headers({"ce_id": "1", "ce_type": "t", "ce_specversion": "1.0"})


def test_records_are_keyed_by_tenant_and_learner() -> None:
    activity = LmsActivity(
        tenant_id="acme",
        learner_id="l-9",
        event_id="e",
        kind="enrolled",
        achievement_id="a",
        occurred_at=datetime.now(UTC),
    )
    assert activity.key() == "acme:l-9"
    assert activity.schema_version == 1


def test_contracts_import_without_the_services() -> None:
    code = (
        "import sys, shared.contracts; "
        "print(sorted(m for m in sys.modules if m.startswith(('services', 'sqlalchemy', 'faststream'))))"
    )
    output = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert output.strip() == "[]"


def test_badge_issued_1_1_adds_wallet_copy_fields_that_1_0_records_do_without() -> None:
    import json
    import uuid

    from shared.contracts import BadgeIssued

    award = {
        "schema_version": 1,
        "tenant_id": "acme",
        "learner_id": "ada",
        "award_id": str(uuid.uuid4()),
        "achievement_id": "sql",
        "credential_id": f"urn:uuid:{uuid.uuid4()}",
        "issuer_id": "did:key:z6MkIssuer",
        "issued_at": "2026-12-01T12:00:00Z",
        "credential": {"id": "urn:uuid:x"},
    }
    # A record written before 1.1 is an award's own credential.
    old = BadgeIssued.model_validate_json(json.dumps(award))
    assert not old.is_wallet_copy and old.award_credential_id is None and old.holder is None
    copy = BadgeIssued.model_validate(
        {**award, "award_credential_id": award["credential_id"], "holder": "did:key:z6MkHolder"}
    )
    assert copy.is_wallet_copy and BadgeIssued.model_validate_json(copy.model_dump_json()) == copy
    # A 1.1 record carries every 1.0 field unchanged; a 1.0 consumer ignores the new ones (extra="ignore").
    assert {key: value for key, value in json.loads(copy.model_dump_json()).items() if key in award} == {
        **award,
        "issued_at": "2026-12-01T12:00:00Z",
    }
