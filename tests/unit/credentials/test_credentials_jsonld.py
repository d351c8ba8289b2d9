"""Offline document loader, safe-mode (undefined term) detection and RDFC-1.0 canonicalisation."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from shared.credentials import (
    CREDENTIAL_CONTEXT,
    DocumentNotBundledError,
    UndefinedTermError,
    bundled_context_urls,
    canonicalize,
    check_all_terms_defined,
    find_safe_mode_violations,
    make_document_loader,
)
from shared.credentials.jsonld import DEFAULT_DOCUMENT_LOADER

REQUIRED_CONTEXTS = {
    "https://www.w3.org/ns/credentials/v2",
    "https://www.w3.org/2018/credentials/v1",
    "https://purl.imsglobal.org/spec/ob/v3p0/context-3.0.3.json",
    "https://purl.imsglobal.org/spec/ob/v3p0/context-3.0.2.json",
    "https://purl.imsglobal.org/spec/ob/v3p0/context-3.0.1.json",
    "https://purl.imsglobal.org/spec/ob/v3p0/context.json",
    "https://purl.imsglobal.org/spec/ob/v3p0/extensions.json",
    "https://w3id.org/security/data-integrity/v1",
    "https://w3id.org/security/data-integrity/v2",
    "https://w3id.org/security/multikey/v1",
    "https://w3id.org/security/v1",
    "https://w3id.org/security/v2",
    "https://www.w3.org/ns/did/v1",
    "https://www.w3.org/ns/credentials/status/v1",
    "https://www.w3.org/ns/credentials/undefined-terms/v2",
}


def test_all_required_contexts_bundled() -> None:
    assert bundled_context_urls() >= REQUIRED_CONTEXTS
    for url in REQUIRED_CONTEXTS:
        assert "@context" in DEFAULT_DOCUMENT_LOADER(url, {})["document"]


def test_loader_refuses_unknown_urls() -> None:
    with pytest.raises(DocumentNotBundledError):
        DEFAULT_DOCUMENT_LOADER("https://example.org/some-context", {})


def test_loader_serves_extra_documents_but_not_over_bundled_ones() -> None:
    extra = {"https://example.org/ctx": {"@context": {"foo": "https://example.org/foo"}}}
    loader = make_document_loader(extra)
    assert loader("https://example.org/ctx", {})["document"] == extra["https://example.org/ctx"]
    with pytest.raises(ValueError):
        make_document_loader({"https://www.w3.org/ns/credentials/v2": {"@context": {}}})
    doc = {"@context": ["https://example.org/ctx"], "@id": "https://example.org/x", "foo": "bar"}
    assert canonicalize(doc, loader=loader) == '<https://example.org/x> <https://example.org/foo> "bar" .\n'


def test_loader_returns_copies() -> None:
    first = DEFAULT_DOCUMENT_LOADER("https://www.w3.org/ns/credentials/v2", {})["document"]
    first["@context"]["mutated"] = True
    assert "mutated" not in DEFAULT_DOCUMENT_LOADER("https://www.w3.org/ns/credentials/v2", {})["document"]


def test_canonicalize_never_fetches_unknown_context() -> None:
    doc = {"@context": ["https://example.org/unknown"], "@id": "https://example.org/x"}
    with pytest.raises(DocumentNotBundledError):
        canonicalize(doc)


def test_stray_student_number_is_reported_with_its_path(unsigned_credential: dict[str, Any]) -> None:
    doc = copy.deepcopy(unsigned_credential)
    doc["credentialSubject"]["studentNumber"] = "12345"
    with pytest.raises(UndefinedTermError) as info:
        check_all_terms_defined(doc)
    assert info.value.code == "data.undefined_term"
    assert info.value.problems == ["undefined term 'studentNumber' at $.credentialSubject.studentNumber"]
    with pytest.raises(UndefinedTermError):
        canonicalize(doc)
    # pyld alone silently drops it: the lenient canonical form equals the clean credential's.
    assert canonicalize(doc, check_terms=False) == canonicalize(unsigned_credential)


def test_term_defined_in_one_scope_but_not_another(unsigned_credential: dict[str, Any]) -> None:
    doc = copy.deepcopy(unsigned_credential)
    # "salt" is defined only inside IdentityObject; "email" only inside Profile.
    doc["credentialSubject"]["achievement"]["salt"] = "x"
    doc["credentialSubject"]["email"] = "a@b.example"
    doc["issuer"]["email"] = "issuer@uni.example"
    assert find_safe_mode_violations(doc) == [
        "undefined term 'email' at $.credentialSubject.email",
        "undefined term 'salt' at $.credentialSubject.achievement.salt",
    ]


def test_undefined_type_and_relative_ids(unsigned_credential: dict[str, Any]) -> None:
    doc = copy.deepcopy(unsigned_credential)
    doc["issuer"]["type"] = ["Profile", "Organization"]
    doc["credentialSubject"]["achievement"]["image"]["id"] = "badge.png"
    doc["credentialSchema"] = [{"id": "https://example.org/schema.json", "type": "1EdTechJsonSchemaValidator2019"}]
    problems = find_safe_mode_violations(doc)
    assert "undefined type 'Organization' (expands to a relative IRI) at $.issuer.type[1]" in problems
    assert "id 'badge.png' is a relative IRI, not a URL at $.credentialSubject.achievement.image.id" in problems
    assert any("1EdTechJsonSchemaValidator2019" in p and "$.credentialSchema[0].type" in p for p in problems)
    assert len(problems) == 3


def test_relative_iris_are_not_resolved_against_a_made_up_base() -> None:
    doc = {"@context": list(CREDENTIAL_CONTEXT), "id": "relative", "name": "x"}
    assert "example.org" not in canonicalize(doc, check_terms=False)


def test_reserved_keyword_like_key() -> None:
    doc = {"@context": list(CREDENTIAL_CONTEXT), "id": "https://example.org/x", "@foo": "bar"}
    [problem] = find_safe_mode_violations(doc)
    assert "$.@foo" in problem


def test_canonical_form_is_rdfc_1_0_not_urgna2012() -> None:
    # Three sibling blank nodes: URDNA2015 (RFC 1.0) and pyld's default URGNA2012 label them differently.
    doc = {
        "@context": list(CREDENTIAL_CONTEXT),
        "id": "https://e.org/1",
        "type": ["VerifiableCredential", "OpenBadgeCredential"],
        "evidence": [{"type": ["Evidence"], "name": f"e{i}"} for i in range(3)],
    }
    nquads = canonicalize(doc)
    names = [line.split('"')[1] for line in nquads.splitlines() if "schema.org/name" in line]
    assert names == ["e1", "e2", "e0"]  # labels _:c14n0.._:c14n2 in RDFC-1.0 order (same in jsonld.js)
    reordered = {**doc, "evidence": list(reversed(doc["evidence"]))}
    assert canonicalize(reordered) == nquads
