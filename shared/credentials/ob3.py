"""Typed Open Badges 3.0 models and a builder for unsigned ``OpenBadgeCredential`` documents.

Every field emitted is a term defined by the VC 2.0 + OB 3.0.3 contexts (proved by a unit test that signs a
fully populated credential with the undefined-term check on). ``credentialSchema`` is deliberately absent:
its type ``1EdTechJsonSchemaValidator2019`` is not defined by those contexts (safe mode would reject it).
"""

from __future__ import annotations

import hashlib
import re
import secrets
import uuid
from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    PlainSerializer,
    field_validator,
    model_validator,
)
from pydantic.alias_generators import to_camel

from .dates import format_xsd_datetime, require_aware
from .structure import CREDENTIAL_CONTEXT

_ABSOLUTE_IRI = re.compile(r"^[A-Za-z][A-Za-z0-9+.\-]*:\S+$")
_URN_UUID = re.compile(r"^urn:uuid:[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")
_IDENTITY_HASH = re.compile(r"^sha256\$[0-9a-f]{64}$")


def _absolute_iri(value: str) -> str:
    # Kept verbatim (no URL normalisation): the string is what gets signed.
    if not _ABSOLUTE_IRI.match(value):
        raise ValueError(f"must be an absolute IRI/URL: {value!r}")
    return value


def _aware(value: datetime) -> datetime:
    return require_aware(value)


Iri = Annotated[str, AfterValidator(_absolute_iri)]
DateTime = Annotated[datetime, AfterValidator(_aware), PlainSerializer(format_xsd_datetime, return_type=str)]


def _json_number(value: float) -> float | int:
    # Integral values go out as JSON integers: Python writes 5.0 where JavaScript writes 5, and JSON-LD turns
    # 5.0 into "5.0E0" but 5 into "5", so a float here would canonicalise differently in jsonld.js.
    return int(value) if float(value).is_integer() else value


Number = Annotated[float, Field(ge=0), PlainSerializer(_json_number)]

# OB 3.0 IdentifierTypeEnum (extensions must use the "ext:" prefix).
IDENTIFIER_TYPES = frozenset(
    [
        "name",
        "sourcedId",
        "systemId",
        "productId",
        "userName",
        "accountId",
        "emailAddress",
        "nationalIdentityNumber",
        "isbn",
        "issn",
        "lisSourcedId",
        "oneRosterSourcedId",
        "sisSourcedId",
        "ltiContextId",
        "ltiDeploymentId",
        "ltiToolId",
        "ltiPlatformId",
        "ltiUserId",
        "identifier",
    ]
)


class _Model(BaseModel):
    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, extra="forbid", frozen=True)


def _types_including(*required: str) -> Any:
    """An annotated ``type`` list that must contain every ``required`` type."""

    def check(value: list[str]) -> list[str]:
        missing = [t for t in required if t not in value]
        if missing:
            raise ValueError(f"type must include {missing}")
        return value

    return Annotated[list[str], AfterValidator(check)]


def _typed(*required: str) -> Any:
    """Default for a ``type`` list field: exactly the required types."""
    return Field(default_factory=lambda: list(required))


ProfileTypes = _types_including("Profile")
AchievementTypes = _types_including("Achievement")
AchievementSubjectTypes = _types_including("AchievementSubject")
AlignmentTypes = _types_including("Alignment")
ResultDescriptionTypes = _types_including("ResultDescription")
RubricCriterionLevelTypes = _types_including("RubricCriterionLevel")
ResultTypes = _types_including("Result")
EvidenceTypes = _types_including("Evidence")
CredentialTypes = _types_including("VerifiableCredential", "OpenBadgeCredential")


class Image(_Model):
    """OB 3.0 Image: a URL or data URI with an optional caption."""

    id: Iri
    type: Literal["Image"] = "Image"
    caption: str | None = None


class Profile(_Model):
    """Issuer profile (OB 3.0 Profile). ``id`` is the issuer DID or URL that controls the signing key."""

    id: Iri
    type: ProfileTypes = _typed("Profile")
    name: str
    url: Iri | None = None
    email: str | None = None
    description: str | None = None
    image: Image | None = None


class Criteria(_Model):
    """How the achievement is earned: a narrative and/or a URL describing the criteria."""

    id: Iri | None = None
    narrative: str | None = None

    @model_validator(mode="after")
    def _id_or_narrative(self) -> Criteria:
        if self.id is None and self.narrative is None:
            raise ValueError("criteria needs an id or a narrative")
        return self


class Alignment(_Model):
    """Alignment of an achievement to an external framework (skill, competency, standard)."""

    type: AlignmentTypes = _typed("Alignment")
    target_name: str
    target_url: Iri
    target_description: str | None = None
    target_framework: str | None = None
    target_code: str | None = None
    target_type: str | None = None


class RubricCriterionLevel(_Model):
    """One level of a rubric criterion (e.g. "Proficient"), referenced by a Result's ``achievedLevel``."""

    id: Iri
    type: RubricCriterionLevelTypes = _typed("RubricCriterionLevel")
    name: str
    description: str | None = None
    level: str | None = None
    points: str | None = None
    alignment: list[Alignment] | None = None


class ResultDescription(_Model):
    """Describes a possible result (e.g. a score) that holders of the achievement can have."""

    id: Iri
    type: ResultDescriptionTypes = _typed("ResultDescription")
    name: str
    result_type: str
    alignment: list[Alignment] | None = None
    allowed_value: list[str] | None = None
    required_level: Iri | None = None
    required_value: str | None = None
    rubric_criterion_level: list[RubricCriterionLevel] | None = None
    value_min: str | None = None
    value_max: str | None = None


class Achievement(_Model):
    """The badge class: what was achieved and how (OB 3.0 Achievement)."""

    id: Iri
    type: AchievementTypes = _typed("Achievement")
    name: str
    description: str
    criteria: Criteria
    image: Image | None = None
    achievement_type: str | None = None
    tag: list[str] | None = None
    alignment: list[Alignment] | None = None
    result_description: list[ResultDescription] | None = None
    credits_available: Number | None = None
    version: str | None = None
    human_code: str | None = None
    field_of_study: str | None = None
    specialization: str | None = None
    in_language: str | None = None


class IdentityObject(_Model):
    """A salted, hashed recipient identifier (OB 3.0 IdentityObject)."""

    type: Literal["IdentityObject"] = "IdentityObject"
    identity_hash: str
    identity_type: str
    hashed: Literal[True] = True
    salt: str | None = None

    @field_validator("identity_hash")
    @classmethod
    def _hash_format(cls, value: str) -> str:
        if not _IDENTITY_HASH.match(value):
            raise ValueError("identityHash must be 'sha256$' + 64 lowercase hex digits")
        return value

    @field_validator("identity_type")
    @classmethod
    def _identity_type(cls, value: str) -> str:
        if value not in IDENTIFIER_TYPES and not value.startswith("ext:"):
            raise ValueError(f"identityType {value!r} is not an OB 3.0 IdentifierTypeEnum value")
        return value


class Result(_Model):
    """A result the learner obtained, optionally pointing to a ResultDescription by id."""

    type: ResultTypes = _typed("Result")
    value: str | None = None
    result_description: Iri | None = None
    status: str | None = None
    achieved_level: Iri | None = None


class AchievementSubject(_Model):
    """The learner and the achievement (OB 3.0 AchievementSubject)."""

    id: Iri | None = None
    type: AchievementSubjectTypes = _typed("AchievementSubject")
    achievement: Achievement
    identifier: list[IdentityObject] | None = None
    result: list[Result] | None = None
    activity_start_date: DateTime | None = None
    activity_end_date: DateTime | None = None
    credits_earned: Number | None = None

    @model_validator(mode="after")
    def _identified(self) -> AchievementSubject:
        if self.id is None and not self.identifier:
            raise ValueError("credentialSubject needs an id or an identifier")
        return self


class Evidence(_Model):
    """Evidence supporting the award (a URL and/or a narrative)."""

    id: Iri | None = None
    type: EvidenceTypes = _typed("Evidence")
    name: str | None = None
    description: str | None = None
    narrative: str | None = None
    genre: str | None = None
    audience: str | None = None


class BitstringStatusListEntry(_Model):
    """Position of this credential in a W3C Bitstring Status List (revocation/suspension)."""

    id: Iri
    type: Literal["BitstringStatusListEntry"] = "BitstringStatusListEntry"
    status_purpose: Literal["revocation", "suspension"]
    status_list_index: str
    status_list_credential: Iri

    @field_validator("status_list_index")
    @classmethod
    def _index(cls, value: str) -> str:
        if not value.isdigit():
            raise ValueError("statusListIndex must be a decimal string")
        return value


class OpenBadgeCredential(_Model):
    """An unsigned OB 3.0 credential. ``to_json()`` gives the document to pass to ``sign_credential``."""

    context: list[str] = Field(default_factory=lambda: list(CREDENTIAL_CONTEXT), alias="@context")
    id: str
    type: CredentialTypes = _typed("VerifiableCredential", "OpenBadgeCredential")
    issuer: Profile
    name: str
    description: str | None = None
    image: Image | None = None
    valid_from: DateTime
    valid_until: DateTime | None = None
    awarded_date: DateTime | None = None
    credential_subject: AchievementSubject
    evidence: list[Evidence] | None = None
    credential_status: BitstringStatusListEntry | None = None

    @field_validator("id")
    @classmethod
    def _urn_uuid(cls, value: str) -> str:
        if not _URN_UUID.match(value):
            raise ValueError("credential id must be 'urn:uuid:' + a lowercase UUID")
        return value

    @model_validator(mode="after")
    def _window(self) -> OpenBadgeCredential:
        if self.valid_until is not None and self.valid_until <= self.valid_from:
            raise ValueError("validUntil must be after validFrom")
        return self

    def to_json(self) -> dict[str, Any]:
        """Return the JSON document (camelCase keys, ``@context``, no nulls), ready to sign."""
        return self.model_dump(mode="json", by_alias=True, exclude_none=True)


def new_credential_id() -> str:
    """Return a fresh ``urn:uuid:`` credential id."""
    return f"urn:uuid:{uuid.uuid4()}"


def hash_identity(value: str, salt: str) -> str:
    """OB 3.0 IdentityObject hash: ``"sha256$" + hex(sha256(value + salt))`` (lowercase hex).

    ``value`` is hashed as given; normalise it first (e.g. lower-case e-mail addresses) if that is the policy.
    """
    return "sha256$" + hashlib.sha256((value + salt).encode("utf-8")).hexdigest()


def make_identity_object(value: str, identity_type: str = "emailAddress", salt: str | None = None) -> IdentityObject:
    """Return a hashed IdentityObject for ``value`` with ``salt`` (a random 16-byte hex salt by default)."""
    salt = salt if salt is not None else secrets.token_hex(16)
    return IdentityObject(identity_hash=hash_identity(value, salt), identity_type=identity_type, salt=salt)


def build_open_badge_credential(
    *,
    issuer: Profile,
    achievement: Achievement,
    name: str,
    valid_from: datetime,
    subject_id: str | None = None,
    identifier: list[IdentityObject] | None = None,
    results: list[Result] | None = None,
    credential_id: str | None = None,
    description: str | None = None,
    image: Image | None = None,
    valid_until: datetime | None = None,
    awarded_date: datetime | None = None,
    evidence: list[Evidence] | None = None,
    credential_status: BitstringStatusListEntry | None = None,
    activity_start_date: datetime | None = None,
    activity_end_date: datetime | None = None,
    credits_earned: float | None = None,
) -> dict[str, Any]:
    """Build an unsigned OB 3.0 ``OpenBadgeCredential`` JSON document (validated through the models).

    The subject is identified by ``subject_id`` (e.g. ``urn:uuid:`` of the learner or a DID) and/or hashed
    ``identifier`` objects. ``credential_id`` defaults to a new ``urn:uuid:``.
    """
    credential = OpenBadgeCredential(
        id=credential_id or new_credential_id(),
        issuer=issuer,
        name=name,
        description=description,
        image=image,
        valid_from=valid_from,
        valid_until=valid_until,
        awarded_date=awarded_date,
        credential_subject=AchievementSubject(
            id=subject_id,
            achievement=achievement,
            identifier=identifier,
            result=results,
            activity_start_date=activity_start_date,
            activity_end_date=activity_end_date,
            credits_earned=credits_earned,
        ),
        evidence=evidence,
        credential_status=credential_status,
    )
    return credential.to_json()
