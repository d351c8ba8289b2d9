"""Reading a credential's claims from its signed graph (shared/credentials/graph.py)."""

from __future__ import annotations

import copy
from datetime import datetime
from typing import Any

import pytest

from shared.credentials import DidKeyResolver, canonicalize, verify_credential
from shared.credentials.graph import (
    GraphError,
    read_credential,
    read_credential_statements,
    read_proof_options,
    read_proof_options_statements,
    readable_statements,
)
from shared.credentials.jsonld import expand, one_pass
from tests.rekeying import FIELDS, FORMS, rekey
from tests.unit.credentials.samples import with_status


def _unsecured(credential: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in credential.items() if k != "proof"}


def test_reads_the_claims(signed_credential: dict[str, Any]) -> None:
    signed = read_credential(expand(_unsecured(signed_credential)))
    assert signed.id == signed_credential["id"]
    assert signed.issuer == signed_credential["issuer"]["id"]
    assert signed.valid_from == ("validFrom", "2026-01-01T00:00:00Z")
    assert signed.valid_until == ("validUntil", "2027-01-01T00:00:00Z")
    assert signed.subjects == 1 and signed.status == ()


def test_an_included_node_stating_the_same_triple_is_seen(signed_credential: dict[str, Any], now: datetime) -> None:
    """Not one of the three forms of the issue, but the same trick: validUntil stated in an @included node."""
    attack = copy.deepcopy(signed_credential)
    valid_until = attack.pop("validUntil")
    attack["@included"] = [{"id": attack["id"], "type": "VerifiableCredential", "validUntil": "2026-03-01T00:00:00Z"}]
    original = copy.deepcopy(signed_credential)
    original["validUntil"] = "2026-03-01T00:00:00Z"
    assert canonicalize(_unsecured(attack), check_terms=False) == canonicalize(_unsecured(original), check_terms=False)
    assert read_credential(expand(_unsecured(attack))).valid_until == ("validUntil", "2026-03-01T00:00:00Z")
    assert valid_until != "2026-03-01T00:00:00Z"
    report = verify_credential(attack, resolver=DidKeyResolver(), now=now)
    assert {"validity.expired", "data.compact_form_mismatch"} <= report.codes()


def test_single_valued_claims_with_several_values_are_refused(signed_credential: dict[str, Any]) -> None:
    doc = _unsecured(signed_credential)
    doc["https://www.w3.org/2018/credentials#validUntil"] = {
        "@value": "2030-01-01T00:00:00Z",
        "@type": "http://www.w3.org/2001/XMLSchema#dateTime",
    }
    with pytest.raises(GraphError) as info:
        read_credential(expand(doc))
    assert info.value.code == "data.multiple_values"


def test_no_credential_node(signed_credential: dict[str, Any]) -> None:
    doc = _unsecured(signed_credential)
    doc["type"] = ["OpenBadgeCredential"]
    with pytest.raises(GraphError):
        read_credential(expand(doc))
    with pytest.raises(GraphError) as info:
        read_credential([])
    assert info.value.code == "data.not_one_credential"


def _read_both_ways(document: dict[str, Any]) -> tuple[Any, Any]:
    """read_credential from the expansion and from the one pass's statements (each result, or its error)."""
    answers = []
    statements = readable_statements(document)
    assert statements is not None
    for read in (lambda: read_credential(expand(document)), lambda: read_credential_statements(statements)):
        try:
            answers.append(read())
        except GraphError as exc:
            answers.append((exc.code, str(exc)))
    return answers[0], answers[1]


def test_the_one_pass_statements_read_as_the_expansion(signed_credential: dict[str, Any]) -> None:
    status = with_status(signed_credential, 7, url="https://issuer.example/status/1")
    for credential in [signed_credential, status] + [rekey(status, f, form) for f in FIELDS for form in FORMS]:
        document = _unsecured(credential)
        if readable_statements(document) is None:
            continue  # a form the one pass does not cover: the full path alone reads it
        from_expansion, from_statements = _read_both_ways(document)
        assert from_expansion == from_statements
    config = {**signed_credential["proof"], "@context": signed_credential["@context"]}
    config.pop("proofValue")
    statements = readable_statements(config)
    assert statements is not None
    assert read_proof_options_statements(statements.quads) == read_proof_options(expand(config))


@pytest.mark.parametrize("nothing", [{"name": None}, {"name": []}, {"type": []}, {}])
def test_a_top_node_that_states_nothing_is_left_to_the_full_path(
    signed_credential: dict[str, Any], nothing: dict[str, Any]
) -> None:
    # pyld drops such a node from the expansion (only @id left) or keeps it (an empty array): the credential node
    # is then found differently, so the one pass's answer is not used.
    document = {"@context": signed_credential["@context"], "id": signed_credential["id"], **nothing}
    assert one_pass(document) is not None
    assert readable_statements(document) is None
