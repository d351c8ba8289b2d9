"""The OB 3.0 JSON-schema check (schema derived from spec-shaped pydantic models)."""

from __future__ import annotations

import copy
from datetime import datetime
from typing import Any

from jsonschema import Draft202012Validator

from shared.credentials import DidKeyResolver, credential_schema, schema_problems, verify_credential

from .samples import fully_populated_credential


def test_schema_is_valid_draft_2020_12_and_accepts_our_credentials(unsigned_credential: dict[str, Any]) -> None:
    for kind in ("achievement", "endorsement"):
        Draft202012Validator.check_schema(credential_schema(kind))
    assert schema_problems(unsigned_credential) == []
    assert schema_problems(fully_populated_credential("did:key:z6Mkexample")) == []


def test_extensions_and_single_value_forms_are_allowed(unsigned_credential: dict[str, Any]) -> None:
    doc = copy.deepcopy(unsigned_credential)
    doc["issuer"]["type"] = "Profile"
    doc["credentialSubject"]["achievement"]["type"] = "Achievement"
    doc["credentialSubject"]["extensionField"] = {"anything": 1}
    assert schema_problems(doc) == []


def test_violations_name_the_path(unsigned_credential: dict[str, Any]) -> None:
    doc = copy.deepcopy(unsigned_credential)
    del doc["credentialSubject"]["achievement"]["criteria"]
    doc["issuer"]["type"] = ["Organization"]
    doc["validFrom"] = "yesterday"
    problems = schema_problems(doc)
    text = "; ".join(problems)
    assert "$.credentialSubject.achievement: 'criteria' is a required property" in text
    assert "$.issuer.type" in text
    assert "$.validFrom" in text


def test_schema_failure_is_a_check_in_the_report(signed_credential: dict[str, Any], now: datetime) -> None:
    doc = copy.deepcopy(signed_credential)
    del doc["name"]
    report = verify_credential(doc, resolver=DidKeyResolver(), now=now)
    schema = [c for c in report.checks if c.check == "schema"]
    assert schema[0].outcome == "failed" and schema[0].code == "schema.invalid"
    assert "'name' is a required property" in schema[0].message
