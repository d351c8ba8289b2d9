"""Identifier helpers shared by the services."""

import uuid


def parse_credential_uuid(credential_id: str) -> uuid.UUID | None:
    """`urn:uuid:<u>` or a bare uuid -> the uuid; anything else -> None."""
    try:
        return uuid.UUID(credential_id.removeprefix("urn:uuid:"))
    except ValueError:
        return None
