"""Where a credential's revocation bit lives: status list URLs and slot numbering. Pure."""

import secrets
from dataclasses import dataclass

from shared.credentials.bitstring_status_list import MIN_ENTRIES
from shared.credentials.ob3 import BitstringStatusListEntry

REVOCATION = "revocation"
LIST_SIZE = MIN_ENTRIES  # a power of two, which the slot permutation below relies on


@dataclass(frozen=True)
class Slot:
    """One credential's position: list `list_id` of the tenant, bit `index`, published at `url`."""

    list_id: int
    index: int
    url: str


def status_list_url(issuer_url: str, tenant_id: str, list_id: int) -> str:
    """Where the issuer serves a tenant's status list credential (also the credential's `id`)."""
    return f"{issuer_url.rstrip('/')}/status-lists/{tenant_id}/{list_id}"


def new_permutation(size: int = LIST_SIZE) -> tuple[int, int]:
    """Random parameters of `n -> (multiplier * n + offset) mod size`, a bijection when `multiplier` is odd
    and `size` a power of two: slots are spread over the list instead of counting up from 0."""
    if size & (size - 1):
        raise ValueError("status list size must be a power of two")
    return secrets.randbelow(size // 2) * 2 + 1, secrets.randbelow(size)


def slot_index(n: int, multiplier: int, offset: int, size: int = LIST_SIZE) -> int:
    """The bit index of the `n`-th credential put on a list."""
    if not 0 <= n < size:
        raise ValueError(f"slot {n} is outside a list of {size}")
    return (multiplier * n + offset) % size


def status_entry(slot: Slot, purpose: str = REVOCATION) -> BitstringStatusListEntry:
    """The credential's `credentialStatus`; its `id` must differ from the list's URL, so it names the bit."""
    return BitstringStatusListEntry(
        id=f"{slot.url}#{slot.index}",
        status_purpose=purpose,  # type: ignore[arg-type]
        status_list_index=str(slot.index),
        status_list_credential=slot.url,
    )
