"""Sample OB 3.0 credentials shared by the unit and interop tests (not a test module)."""

from __future__ import annotations

import copy
from datetime import UTC, datetime
from typing import Any

from shared.credentials import (
    Achievement,
    Alignment,
    BitstringStatusListEntry,
    Criteria,
    Evidence,
    Image,
    Profile,
    Result,
    ResultDescription,
    build_open_badge_credential,
    make_identity_object,
    new_credential_id,
)
from shared.credentials.status import MIN_LIST_BITS, encode_bitstring

T0 = datetime(2026, 1, 1, tzinfo=UTC)


def minimal_credential(issuer_id: str, credential_id: str | None = None) -> dict[str, Any]:
    """A small realistic credential: valid 2026-01-01 .. 2027-01-01, hashed e-mail identifier, one result."""
    return build_open_badge_credential(
        credential_id=credential_id or new_credential_id(),
        issuer=Profile(id=issuer_id, name="Example University", url="https://uni.example"),
        achievement=Achievement(
            id="https://uni.example/achievements/teamwork",
            name="Teamwork",
            description="Collaborates effectively in a group.",
            criteria=Criteria(narrative="Complete the group project with a passing grade."),
            image=Image(id="https://uni.example/badges/teamwork.png"),
            achievement_type="Badge",
        ),
        name="Teamwork badge",
        valid_from=T0,
        valid_until=datetime(2027, 1, 1, tzinfo=UTC),
        subject_id="urn:uuid:5f0c2b7e-8d0e-4c55-9a0b-7c9d2e1f3a44",
        identifier=[make_identity_object("learner@uni.example", salt="c0ffee")],
        results=[Result(value="92")],
    )


def fully_populated_credential(issuer_id: str) -> dict[str, Any]:
    """A credential using every field the models can emit."""
    rd_id = "urn:uuid:6d6a0a0e-5e56-4d1f-9c3b-0b1a8c1f2d3e"
    return build_open_badge_credential(
        credential_id=new_credential_id(),
        issuer=Profile(
            id=issuer_id,
            name="Example University",
            url="https://uni.example",
            email="badges@uni.example",
            description="A university.",
            image=Image(id="https://uni.example/logo.png", caption="Logo"),
        ),
        achievement=Achievement(
            id="https://uni.example/achievements/data-101",
            name="Data 101",
            description="Introductory data analysis.",
            criteria=Criteria(id="https://uni.example/criteria/data-101", narrative="Pass the final exam."),
            image=Image(id="data:image/png;base64,iVBORw0KGgo=", caption="Badge"),
            achievement_type="Course",
            tag=["data", "statistics"],
            alignment=[
                Alignment(
                    target_name="Data literacy",
                    target_url="https://framework.example/skills/data-literacy",
                    target_description="Reads and interprets data.",
                    target_framework="Example Skills Framework",
                    target_code="DL-1",
                    target_type="CFItem",
                )
            ],
            result_description=[
                ResultDescription(
                    id=rd_id,
                    name="Final exam score",
                    result_type="Percent",
                    allowed_value=["pass", "fail"],
                    required_value="60",
                    value_min="0",
                    value_max="100",
                )
            ],
        ),
        name="Data 101 badge",
        description="Awarded for completing Data 101.",
        image=Image(id="https://uni.example/badges/data-101.png"),
        valid_from=T0,
        valid_until=datetime(2030, 1, 1, tzinfo=UTC),
        awarded_date=T0,
        subject_id="urn:uuid:5f0c2b7e-8d0e-4c55-9a0b-7c9d2e1f3a44",
        identifier=[
            make_identity_object("learner@uni.example", "emailAddress", salt="s1"),
            make_identity_object("lti-user-42", "ltiUserId", salt="s2"),
        ],
        results=[
            Result(
                value="87",
                result_description=rd_id,
                status="Completed",
                achieved_level="https://uni.example/levels/proficient",
            )
        ],
        evidence=[
            Evidence(
                id="https://lms.example/submissions/1",
                name="Final project",
                description="The submitted project.",
                narrative="Graded by the instructor.",
                genre="Project",
                audience="Employers",
            )
        ],
        credential_status=BitstringStatusListEntry(
            id="https://uni.example/status/3#94567",
            status_purpose="revocation",
            status_list_index="94567",
            status_list_credential="https://uni.example/status/3",
        ),
    )


STATUS_LIST_URL = "https://uni.example/status/3"


def status_list_credential(
    issuer_id: str,
    url: str = STATUS_LIST_URL,
    set_indices: tuple[int, ...] = (),
    purpose: str = "revocation",
    valid_until: str | None = None,
) -> dict[str, Any]:
    """An unsigned BitstringStatusListCredential (131072 entries) with the bits at ``set_indices`` set."""
    bits = bytearray(MIN_LIST_BITS // 8)
    for index in set_indices:
        bits[index // 8] |= 0x80 >> (index % 8)
    credential: dict[str, Any] = {
        "@context": ["https://www.w3.org/ns/credentials/v2"],
        "id": url,
        "type": ["VerifiableCredential", "BitstringStatusListCredential"],
        "issuer": issuer_id,
        "validFrom": "2026-01-01T00:00:00Z",
        "credentialSubject": {
            "id": f"{url}#list",
            "type": "BitstringStatusList",
            "statusPurpose": purpose,
            "encodedList": encode_bitstring(bytes(bits)),
        },
    }
    if valid_until:
        credential["validUntil"] = valid_until
    return credential


def with_status(
    credential: dict[str, Any], index: int, url: str = STATUS_LIST_URL, purpose: str = "revocation"
) -> dict:
    """A copy of an unsigned credential with one BitstringStatusListEntry pointing at ``url``/``index``."""
    entry = BitstringStatusListEntry(
        id=f"{url}#{index}", status_purpose=purpose, status_list_index=str(index), status_list_credential=url
    )
    return {**credential, "credentialStatus": entry.model_dump(mode="json", by_alias=True)}


def with_blank_node_clique(credential: dict[str, Any], size: int) -> dict[str, Any]:
    """``credential`` (signed or not) whose subject holds ``size`` blank nodes all linked to each other: the
    RDFC-1.0 "poison graph" (2 KB for 7 nodes) whose canonicalisation is exponential without a work bound."""
    poisoned = copy.deepcopy(credential)
    knows = "https://example.org/knows"
    poisoned["credentialSubject"][knows] = [
        {"@id": f"_:n{i}", knows: [{"@id": f"_:n{j}"} for j in range(size) if j != i]} for i in range(size)
    ]
    return poisoned


def with_tags(credential: dict[str, Any], count: int) -> dict[str, Any]:
    """``credential`` whose achievement carries ``count`` tags (a long array: 6,000 tags are about 54 KB)."""
    tagged = copy.deepcopy(credential)
    tagged["credentialSubject"]["achievement"]["tag"] = [f"t{i:04d}" for i in range(count)]
    return tagged
