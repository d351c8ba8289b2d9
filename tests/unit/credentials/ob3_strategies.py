"""Hypothesis strategies: Open Badges 3.0 credentials as our models build them, every optional field drawn.

The leaves (text, IRIs, dates, ...) are the caller's: rich ones for a few hundred examples, cheap ones where
10,000 must stay affordable. Every strategy is built once per call of :func:`credentials` (Hypothesis validates
a strategy the first time it draws from it).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from hypothesis import strategies as st

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
)
from shared.credentials.ob3 import IDENTIFIER_TYPES, RubricCriterionLevel


@dataclass(frozen=True)
class Leaves:
    text: st.SearchStrategy[str]
    names: st.SearchStrategy[str]
    iris: st.SearchStrategy[str]
    credential_ids: st.SearchStrategy[str]
    emails: st.SearchStrategy[str]
    dates: st.SearchStrategy[datetime]
    numbers: st.SearchStrategy[int | float]
    issuer: str
    most: int = 3  # the longest list of anything


def model(cls: Any, **fields: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    """Instances of one of our pydantic models, fields given by their Python names (omitted when None)."""
    return st.fixed_dictionaries(fields).map(lambda kw: cls(**{k: v for k, v in kw.items() if v is not None}))


def optional(strategy: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    return st.one_of(st.none(), strategy)


def credentials(leaves: Leaves) -> st.SearchStrategy[dict[str, Any]]:
    """OB 3.0 credentials (JSON) built by ``build_open_badge_credential`` from drawn model instances."""
    text, names, iris, most = leaves.text, leaves.names, leaves.iris, leaves.most
    images = model(Image, id=iris, caption=optional(text))
    alignments = model(
        Alignment,
        target_name=names,
        target_url=iris,
        target_description=optional(text),
        target_framework=optional(text),
        target_code=optional(text),
        target_type=optional(st.sampled_from(["CFItem", "ceasn:Competency", "ext:Skill"])),
    )
    levels = model(
        RubricCriterionLevel,
        id=iris,
        name=names,
        description=optional(text),
        level=optional(text),
        points=optional(text),
        alignment=optional(st.lists(alignments, max_size=most - 1)),
    )
    result_descriptions = model(
        ResultDescription,
        id=iris,
        name=names,
        result_type=st.sampled_from(["Percent", "GradePointAverage", "RubricCriterionLevel", "ext:Points"]),
        alignment=optional(st.lists(alignments, max_size=most - 1)),
        allowed_value=optional(st.lists(text, max_size=most + 1)),
        required_level=optional(iris),
        required_value=optional(text),
        rubric_criterion_level=optional(st.lists(levels, max_size=most)),
        value_min=optional(text),
        value_max=optional(text),
    )
    achievements = model(
        Achievement,
        id=iris,
        name=names,
        description=text,
        criteria=st.one_of(model(Criteria, id=iris, narrative=optional(text)), model(Criteria, narrative=text)),
        image=optional(images),
        achievement_type=optional(st.sampled_from(["Badge", "Course", "Certificate", "ext:Workshop"])),
        tag=optional(st.lists(text, max_size=most + 1)),
        alignment=optional(st.lists(alignments, max_size=most)),
        result_description=optional(st.lists(result_descriptions, max_size=most)),
        credits_available=optional(leaves.numbers),
        version=optional(text),
        human_code=optional(text),
        field_of_study=optional(text),
        specialization=optional(text),
        in_language=optional(st.sampled_from(["en", "en-GB", "nl", "fr-CA"])),
    )
    profiles = model(
        Profile,
        id=st.one_of(st.just(leaves.issuer), iris),
        name=names,
        url=optional(iris),
        email=optional(leaves.emails),
        description=optional(text),
        image=optional(images),
    )
    results = model(
        Result,
        value=optional(text),
        result_description=optional(iris),
        status=optional(st.sampled_from(["Completed", "Enrolled", "Failed", "InProgress"])),
        achieved_level=optional(iris),
    )
    evidence = model(
        Evidence,
        id=optional(iris),
        name=optional(text),
        description=optional(text),
        narrative=optional(text),
        genre=optional(text),
        audience=optional(text),
    )
    status_entries = model(
        BitstringStatusListEntry,
        id=iris,
        status_purpose=st.sampled_from(["revocation", "suspension"]),
        status_list_index=st.integers(0, 131071).map(str),
        status_list_credential=iris,
    )
    identifiers = st.lists(
        st.builds(make_identity_object, leaves.emails, st.sampled_from(sorted(IDENTIFIER_TYPES)), text),
        max_size=2,
    )
    optional_iri, optional_text, optional_date = optional(iris), optional(text), optional(leaves.dates)
    validity = optional(st.integers(1, 10 * 365 * 86400).map(lambda seconds: timedelta(seconds=seconds)))
    optional_image, optional_status = optional(images), optional(status_entries)
    optional_results = optional(st.lists(results, max_size=most))
    optional_evidence = optional(st.lists(evidence, max_size=most - 1))
    optional_number = optional(leaves.numbers)

    @st.composite
    def credential(draw: st.DrawFn) -> dict[str, Any]:
        valid_from = draw(leaves.dates)
        valid_for = draw(validity)
        subject_id = draw(optional_iri)
        identifier = draw(identifiers)
        if subject_id is None and not identifier:
            subject_id = draw(iris)
        return build_open_badge_credential(
            credential_id=draw(leaves.credential_ids),
            issuer=draw(profiles),
            achievement=draw(achievements),
            name=draw(names),
            description=draw(optional_text),
            image=draw(optional_image),
            valid_from=valid_from,
            valid_until=None if valid_for is None else valid_from + valid_for,
            awarded_date=draw(optional_date),
            subject_id=subject_id,
            identifier=identifier or None,
            results=draw(optional_results),
            evidence=draw(optional_evidence),
            credential_status=draw(optional_status),
            activity_start_date=draw(optional_date),
            activity_end_date=draw(optional_date),
            credits_earned=draw(optional_number),
        )

    return credential()
