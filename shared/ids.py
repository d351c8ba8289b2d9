"""Identifier helpers shared by the services."""

import json
import uuid


def parse_credential_uuid(credential_id: str) -> uuid.UUID | None:
    """`urn:uuid:<u>` or a bare uuid -> the uuid; anything else -> None."""
    try:
        return uuid.UUID(credential_id.removeprefix("urn:uuid:"))
    except ValueError:
        return None


_SEPARATOR = "\x1f"


def name_of(*parts: str) -> str:
    """An unambiguous name for a tuple of ids, to derive a UUIDv5 from: different tuples never share a name.

    Ordinary parts are joined with U+001F, as ids always were, so existing ids stay the same. A part that contains
    U+001F itself could forge another tuple's name that way (learner `l1<US>python` looking like learner `l1` and
    Achievement `python`), so such a tuple is named by its JSON array instead: that form never contains a raw
    U+001F (JSON escapes it), so it can never equal a joined name of two or more parts either."""
    if len(parts) < 2:
        raise ValueError("name_of needs at least two parts")
    if any(_SEPARATOR in part for part in parts):
        return json.dumps(parts, ensure_ascii=True)
    return _SEPARATOR.join(parts)
