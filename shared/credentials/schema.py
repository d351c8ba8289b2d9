"""The Open Badges 3.0 JSON-schema check, with a schema derived from spec-shaped pydantic models.

Why derived: 1EdTech publishes canonical JSON schemas (``ob_v3p0_achievementcredential_schema.json`` …), but
no PyPI or npm package ships them and nothing may be fetched at run time. So the models below restate the
OB 3.0 data model's *cardinalities* (which properties are required, which are arrays, which objects must carry
which ``type``) and pydantic derives the JSON schema from them.

Two validators of the same schema (Draft 2020-12): ``jsonschema-rs`` (compiled, ~200x faster) accepts the
credentials that conform, which is nearly all of them; only a credential it rejects is run through
``jsonschema``, whose errors are the problem list. ``jsonschema`` alone decides: a credential the fast validator
rejects but ``jsonschema`` accepts (e.g. Python's ``$`` matching before a final newline) conforms, so the verdict
and messages are exactly those of ``jsonschema`` whichever path ran.

These are not the issuer's models in :mod:`shared.credentials.ob3`: those describe what *we* emit and are
stricter (``urn:uuid`` ids, no unknown properties); a verifier of anyone's credential must allow every
extension the spec allows (``additionalProperties`` stays open) and JSON-LD's single-value forms
(``"type": "Profile"`` as well as ``["Profile"]``).
"""

from __future__ import annotations

import functools
from typing import Annotated, Any

import jsonschema_rs
from jsonschema import Draft202012Validator
from pydantic import BaseModel, ConfigDict, Field, WithJsonSchema
from pydantic.alias_generators import to_camel

_IRI = {"type": "string", "pattern": r"^[A-Za-z][A-Za-z0-9+.\-]*:\S*$"}
_DATETIME = {"type": "string", "pattern": r"^-?\d{4,}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})?$"}
_MAX_ERRORS = 20


def _types(*required: str, any_of: tuple[str, ...] = ()) -> Any:
    """A ``type`` value that includes every ``required`` name and, if ``any_of`` is given, one of those.

    An array of strings; where a single name suffices, JSON-LD's bare string form is allowed too.
    """
    conditions: list[dict[str, Any]] = [{"contains": {"const": name}} for name in required]
    if any_of:
        conditions.append({"contains": {"enum": list(any_of)}})
    schema: dict[str, Any] = {"type": "array", "minItems": 1, "items": {"type": "string"}, "allOf": conditions}
    if len(required) == 1 and not any_of:
        schema = {"anyOf": [schema, {"const": required[0]}]}
    return Annotated[Any, WithJsonSchema(schema)]


Iri = Annotated[str, WithJsonSchema(_IRI)]
DateTimeZ = Annotated[str, WithJsonSchema(_DATETIME)]


class _Spec(BaseModel):
    model_config = ConfigDict(extra="allow", alias_generator=to_camel, populate_by_name=True)


class Image(_Spec):
    id: Iri
    type: Annotated[Any, WithJsonSchema({"const": "Image"})]
    caption: str | None = None


ImageRef = Iri | Image


class IdentifierEntry(_Spec):
    type: Annotated[Any, WithJsonSchema({"const": "IdentifierEntry"})]
    identifier: str
    identifier_type: str


class Profile(_Spec):
    id: Iri
    type: _types("Profile")
    name: str | None = None
    url: Iri | None = None
    email: str | None = None
    image: ImageRef | None = None
    parent_org: Profile | None = None
    other_identifier: list[IdentifierEntry] | None = None


class Criteria(_Spec):
    id: Iri | None = None
    narrative: str | None = None


class Alignment(_Spec):
    type: _types("Alignment")
    target_name: str
    target_url: Iri


class ResultDescription(_Spec):
    id: Iri
    type: _types("ResultDescription")
    name: str
    result_type: str


class Achievement(_Spec):
    id: Iri
    type: _types("Achievement")
    name: str
    description: str
    criteria: Criteria
    image: ImageRef | None = None
    alignment: list[Alignment] | None = None
    result_description: list[ResultDescription] | None = None
    tag: list[str] | None = None
    creator: Profile | None = None


class IdentityObject(_Spec):
    type: Annotated[Any, WithJsonSchema({"const": "IdentityObject"})]
    hashed: bool
    identity_hash: str
    identity_type: str
    salt: str | None = None


class Result(_Spec):
    type: _types("Result")
    value: str | None = None
    result_description: Iri | None = None
    achieved_level: Iri | None = None


class AchievementSubject(_Spec):
    id: Iri | None = None
    type: _types("AchievementSubject")
    achievement: Achievement
    identifier: list[IdentityObject] | None = None
    result: list[Result] | None = None
    source: Profile | None = None


class EndorsementSubject(_Spec):
    id: Iri
    type: _types("EndorsementSubject")


class Evidence(_Spec):
    id: Iri | None = None
    type: _types("Evidence")


class CredentialStatus(_Spec):
    id: Iri | None = None
    type: str


class Proof(_Spec):
    type: str


class _Credential(_Spec):
    context: Annotated[Any, WithJsonSchema({"type": "array", "minItems": 1})] = Field(alias="@context")
    id: Iri
    name: str
    issuer: Profile
    description: str | None = None
    image: ImageRef | None = None
    valid_from: DateTimeZ | None = None
    valid_until: DateTimeZ | None = None
    issuance_date: DateTimeZ | None = None
    expiration_date: DateTimeZ | None = None
    awarded_date: DateTimeZ | None = None
    evidence: list[Evidence] | None = None
    # JSON-LD allows one value where the spec has [0..*].
    credential_status: list[CredentialStatus] | CredentialStatus | None = None
    proof: list[Proof] | Proof | None = None


# VC 2.0 credentials carry validFrom, VC 1.1 ones (OB 3.0.0/3.0.1) issuanceDate: one of them is required.
_ISSUED = {"anyOf": [{"required": ["validFrom"]}, {"required": ["issuanceDate"]}]}


class AchievementCredential(_Credential):
    """OpenBadgeCredential / AchievementCredential (OB 3.0 §B.1.1)."""

    model_config = ConfigDict(json_schema_extra=_ISSUED)
    type: _types("VerifiableCredential", any_of=("OpenBadgeCredential", "AchievementCredential"))
    credential_subject: AchievementSubject
    endorsement: list[dict[str, Any]] | None = None


class EndorsementCredential(_Credential):
    """EndorsementCredential (OB 3.0 §B.1.2)."""

    model_config = ConfigDict(json_schema_extra=_ISSUED)
    type: _types("VerifiableCredential", "EndorsementCredential")
    credential_subject: EndorsementSubject


def _without_nulls(node: Any) -> Any:
    """Optional fields are absent, never ``null``, in a credential: drop pydantic's ``anyOf [X, null]``."""
    if isinstance(node, dict):
        options = node.get("anyOf")
        if isinstance(options, list) and {"type": "null"} in options:
            rest = [o for o in options if o != {"type": "null"}]
            merged = {k: v for k, v in node.items() if k not in ("anyOf", "default")}
            node = {**merged, **rest[0]} if len(rest) == 1 else {**merged, "anyOf": rest}
        return {k: _without_nulls(v) for k, v in node.items() if k != "default"}
    if isinstance(node, list):
        return [_without_nulls(v) for v in node]
    return node


@functools.cache
def credential_schema(kind: str = "achievement") -> dict[str, Any]:
    """The derived JSON schema (Draft 2020-12) for ``"achievement"`` or ``"endorsement"`` credentials."""
    model = EndorsementCredential if kind == "endorsement" else AchievementCredential
    schema = _without_nulls(model.model_json_schema(by_alias=True))
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["description"] = (
        "Derived by credstream from the Open Badges 3.0 data model (not the 1EdTech canonical schema)."
    )
    return schema


@functools.cache
def _validator(kind: str) -> Draft202012Validator:
    return Draft202012Validator(credential_schema(kind))


def _path(error: Any) -> str:
    return "$" + "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in error.absolute_path)


# Python's \S excludes U+001C-U+001F and U+0085 (str.isspace() is true for them), ECMA-262's (jsonschema-rs)
# does not: spell Python's class out so that the fast validator never accepts what jsonschema rejects.
_PYTHON_NON_SPACE = r"[^\s\x1c-\x1f\x85]"


def _for_fast_validator(node: Any) -> Any:
    if isinstance(node, dict):
        return {
            k: v.replace(r"\S", _PYTHON_NON_SPACE) if k == "pattern" else _for_fast_validator(v)
            for k, v in node.items()
        }
    if isinstance(node, list):
        return [_for_fast_validator(v) for v in node]
    return node


@functools.cache
def _fast_validator(kind: str) -> Any:
    return jsonschema_rs.Draft202012Validator(_for_fast_validator(credential_schema(kind)))


def _kind(credential: Any) -> str:
    types = credential.get("type") if isinstance(credential, dict) else None
    types = types if isinstance(types, list) else [types]
    return "endorsement" if "EndorsementCredential" in types else "achievement"


def _fast_accepts(kind: str, credential: Any) -> bool:
    """True when the compiled validator accepts ``credential``; False (ask ``jsonschema``) when unsure."""
    try:
        return bool(_fast_validator(kind).is_valid(credential))
    except Exception:  # anything it cannot take (odd Python values): jsonschema decides
        return False


def schema_problems(credential: Any) -> list[str]:
    """Return human-readable JSON-schema violations of an OB 3.0 credential (empty if it conforms)."""
    kind = _kind(credential)
    if _fast_accepts(kind, credential):
        return []
    return explained_schema_problems(credential)


def explained_schema_problems(credential: Any) -> list[str]:
    """:func:`schema_problems` by ``jsonschema`` alone (the reference: the fast path only skips it on success)."""
    return _described(_errors(credential))


def disclosed_schema_problems(credential: Any) -> tuple[list[str], list[str]]:
    """For a selectively disclosed credential (a derived ``ecdsa-sd-2023`` proof): (problems, required
    properties absent). The holder may withhold any claim the issuer did not make mandatory, so an absent
    required property is not a problem there; whatever is disclosed must still have the schema's form."""
    if _fast_accepts(_kind(credential), credential):
        return [], []
    errors = _errors(credential)
    return _described([e for e in errors if e.validator != "required"]), _described(
        [e for e in errors if e.validator == "required"]
    )


def _errors(credential: Any) -> list[Any]:
    return sorted(_validator(_kind(credential)).iter_errors(credential), key=lambda e: list(e.absolute_path))


def _described(errors: list[Any]) -> list[str]:
    problems = [f"{_path(error)}: {_message(error)}" for error in errors[:_MAX_ERRORS]]
    if len(errors) > _MAX_ERRORS:
        problems.append(f"(+{len(errors) - _MAX_ERRORS} more)")
    return problems


def _message(error: Any) -> str:
    if error.validator in ("anyOf", "allOf", "oneOf") and error.context:
        # The branch that got furthest explains best (e.g. "contains" for a missing type name).
        best = min(error.context, key=lambda e: (e.validator == "type", -len(e.absolute_path)))
        return best.message
    return error.message
