"""Status lists in the issuer's database: race-safe slot allocation, bit flips, the signed list credential."""

import json
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from services.issuer.adapters.tables import StatusList
from services.issuer.status import LIST_SIZE, REVOCATION, Slot, new_permutation, slot_index, status_list_url
from shared.credentials.bitstring_status_list import StatusBits, status_list_credential

# Signs an unsigned status list credential (with the key of the list's issuer DID).
ListSigner = Callable[[dict[str, Any]], Awaitable[dict[str, Any]]]
# Each retry means another transaction filled or opened a list meanwhile; lists hold 131,072 slots.
_CREATE_ATTEMPTS = 20


class StatusListFull(RuntimeError):
    """No list could be opened after several attempts (should not happen outside pathological contention)."""


class StatusLists:
    """A tenant's revocation lists. Allocation and bit flips lock the list's row in the caller's transaction."""

    def __init__(self, issuer_url: str, *, purpose: str = REVOCATION, size: int = LIST_SIZE) -> None:
        self._issuer_url = issuer_url
        self._purpose = purpose
        self._size = size

    def url(self, tenant_id: str, list_id: int) -> str:
        return status_list_url(self._issuer_url, tenant_id, list_id)

    async def reserve(
        self, session: AsyncSession, tenant_id: str, issuer_id: str, count: int, sign: ListSigner, now: datetime
    ) -> list[Slot]:
        """`count` free slots on the tenant's open lists for `issuer_id`, opening new lists as they fill.

        The counters are incremented under the row lock (SELECT … FOR UPDATE) in the caller's transaction, so
        concurrent issuers on any number of replicas never share a slot. Callers reserve in a short transaction
        of its own and sign afterwards, so the lock is held for a few statements, never while signing; slots
        whose credentials are then never written (a crash, a lost race) stay unused: their bits stay 0.
        """
        slots: list[Slot] = []
        opened = 0
        while len(slots) < count:
            row = (
                await session.execute(
                    select(StatusList)
                    .where(
                        StatusList.tenant_id == tenant_id,
                        StatusList.purpose == self._purpose,
                        StatusList.issuer_id == issuer_id,
                        StatusList.allocated < StatusList.size,
                    )
                    .order_by(StatusList.list_id.desc())  # type: ignore[attr-defined]
                    .limit(1)
                    .with_for_update()
                    .execution_options(populate_existing=True)
                )
            ).scalar_one_or_none()
            if row is None:
                if opened == _CREATE_ATTEMPTS:
                    raise StatusListFull(f"could not open a status list for tenant {tenant_id!r}")
                opened += 1
                row = await self._open(session, tenant_id, issuer_id, sign, now)
                if row is None:
                    continue  # another replica opened the same list id first: lock and use theirs
            first = row.allocated
            row.allocated = min(row.size, first + count - len(slots))
            session.add(row)
            await session.flush()
            url = self.url(tenant_id, row.list_id)
            slots += [
                Slot(row.list_id, slot_index(n, row.slot_multiplier, row.slot_offset, row.size), url)
                for n in range(first, row.allocated)
            ]
        return slots

    async def set_status(
        self,
        session: AsyncSession,
        tenant_id: str,
        list_id: int,
        index: int,
        sign: ListSigner,
        now: datetime,
        value: bool = True,
    ) -> StatusList:
        """Set (or clear) one bit and re-sign the list, holding the row lock until the caller commits."""
        row = await self.get(session, tenant_id, list_id, for_update=True)
        if row is None:
            raise LookupError(f"tenant {tenant_id!r} has no status list {list_id}")
        bits = StatusBits(row.size, row.bits)
        bits.set(index, value)
        row.bits = bits.to_bytes()
        return await self.resign(session, row, sign, now)

    async def resign(self, session: AsyncSession, row: StatusList, sign: ListSigner, now: datetime) -> StatusList:
        """Sign the list credential again from the row's bits (after a bit flip or a key revocation)."""
        row.credential = json.dumps(await sign(self._unsigned(row, StatusBits(row.size, row.bits), now)))
        row.updated_at = now
        session.add(row)
        await session.flush()
        return row

    async def signed_with(self, session: AsyncSession, tenant_id: str, verification_method: str) -> list[StatusList]:
        """The tenant's lists whose current signature is by `verification_method` (locked for re-signing)."""
        rows = await session.execute(
            select(StatusList)
            .where(StatusList.tenant_id == tenant_id, StatusList.purpose == self._purpose)
            .order_by(StatusList.list_id)  # type: ignore[arg-type]
            .with_for_update()
            .execution_options(populate_existing=True)
        )
        return [
            row
            for row in rows.scalars().all()
            if json.loads(row.credential).get("proof", {}).get("verificationMethod") == verification_method
        ]

    async def get(
        self, session: AsyncSession, tenant_id: str, list_id: int, *, for_update: bool = False
    ) -> StatusList | None:
        query = select(StatusList).where(
            StatusList.tenant_id == tenant_id, StatusList.purpose == self._purpose, StatusList.list_id == list_id
        )
        if for_update:
            query = query.with_for_update().execution_options(populate_existing=True)
        return (await session.execute(query)).scalar_one_or_none()

    async def _open(
        self, session: AsyncSession, tenant_id: str, issuer_id: str, sign: ListSigner, now: datetime
    ) -> StatusList | None:
        """Open the tenant's next list; None if another transaction just opened one (lock that instead)."""
        # A fresh statement sees lists committed since the caller's locking read began: one may have room.
        latest = (
            await session.execute(
                select(StatusList)
                .where(StatusList.tenant_id == tenant_id, StatusList.purpose == self._purpose)
                .order_by(StatusList.list_id.desc())  # type: ignore[attr-defined]
                .limit(1)
                .execution_options(populate_existing=True)
            )
        ).scalar_one_or_none()
        if latest is not None and latest.issuer_id == issuer_id and latest.allocated < latest.size:
            return None
        multiplier, offset = new_permutation(self._size)
        bits = StatusBits(self._size)
        row = StatusList(
            tenant_id=tenant_id,
            purpose=self._purpose,
            list_id=(latest.list_id if latest is not None else 0) + 1,
            issuer_id=issuer_id,
            size=self._size,
            slot_multiplier=multiplier,
            slot_offset=offset,
            bits=bits.to_bytes(),
            credential="",
            updated_at=now,
        )
        row.credential = json.dumps(await sign(self._unsigned(row, bits, now)))
        try:
            async with session.begin_nested():
                session.add(row)
                await session.flush()
        except IntegrityError:
            return None
        return row

    def _unsigned(self, row: StatusList, bits: StatusBits, now: datetime) -> dict[str, Any]:
        return status_list_credential(
            url=self.url(row.tenant_id, row.list_id),
            issuer=row.issuer_id,
            purpose=self._purpose,  # type: ignore[arg-type]
            bits=bits,
            valid_from=now,
        )
