"""Re-keying attacks (issue 7 §1): spell a member of a signed credential differently, keeping its signed graph.

Each form leaves the canonical N-Quads — hence the signature — unchanged, but hides the member from code that
reads JSON member names:

- ``full_iri``: the member written under its full IRI, its value in expanded form (no context change);
- ``inline_alias``: a term aliased to that IRI in an inline context appended to ``@context``;
- ``nest``: the member moved under an ``@nest`` alias.
"""

from __future__ import annotations

import copy
from typing import Any

from shared.credentials.graph import RDF_TYPE, VC
from shared.credentials.jsonld import expand

FORMS = ("full_iri", "inline_alias", "nest")
FIELDS = ("credentialStatus", "validUntil", "validFrom", "issuer", "type")


def _iri(field: str) -> str:
    return RDF_TYPE if field == "type" else VC + field


def _expanded_value(credential: dict[str, Any], field: str) -> Any:
    [root] = expand({k: v for k, v in credential.items() if k != "proof"})
    if field == "type":
        return [{"@id": t} for t in root["@type"]]
    return root[_iri(field)]


def rekey(credential: dict[str, Any], field: str, form: str) -> dict[str, Any]:
    """A copy of ``credential`` with ``field`` spelt in ``form`` (see the module docstring)."""
    document = copy.deepcopy(credential)
    value = document.pop(field)
    if form == "full_iri":
        document[_iri(field)] = _expanded_value(credential, field)
    elif form == "inline_alias":
        alias = f"x-{field}"
        definition = "@type" if field == "type" else _iri(field)
        document["@context"] = [*document["@context"], {alias: definition}]
        document[alias] = value if field == "type" else _expanded_value(credential, field)
    elif form == "nest":
        document["@context"] = [*document["@context"], {"x-nest": "@nest"}]
        document["x-nest"] = {field: value}
    else:
        raise ValueError(form)
    return document
