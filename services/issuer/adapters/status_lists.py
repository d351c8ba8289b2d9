"""Status lists in the issuer's database: race-safe slot allocation, bit flips, the signed list credential."""

import json
import random
import zlib
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Any

from sqlalchemy import select, text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from services.issuer.adapters.tables import StatusList
from services.issuer.status import LIST_SIZE, REVOCATION, Slot, new_permutation, slot_index, status_list_url
from shared.credentials.bitstring_status_list import StatusBits, status_list_credential
from shared.db.bulk import is_postgres

# Signs an unsigned status list credential (with the key of the list's issuer DID).
ListSigner = Callable[[dict[str, Any]], Awaitable[dict[str, Any]]]
# Each retry means another transaction filled or opened a list meanwhile; lists hold 131,072 slots.
_CREATE_ATTEMPTS = 20
# How many reservations of one tenant run side by side without waiting for each other (see StatusLists.reserve).
LANES = 8
# The first free lane, taken for the rest of the transaction; a function scan stops at the first row that passes.
_TAKE_FREE_LANE = text("SELECT n FROM generate_series(0, :last) AS n WHERE pg_try_advisory_xact_lock(:key, n) LIMIT 1")
_WAIT_FOR_LANE = text("SELECT pg_advisory_xact_lock(:key, :lane)")


class StatusListFull(RuntimeError):
    """No list could be opened after several attempts (should not happen outside pathological contention)."""


class StatusLists:
    """A tenant's revocation lists. Allocation and bit flips lock the list's row in the caller's transaction."""

    def __init__(
        self, issuer_url: str, *, purpose: str = REVOCATION, size: int = LIST_SIZE, lanes: int = LANES
    ) -> None:
        self._issuer_url = issuer_url
        self._purpose = purpose
        self._size = size
        self._lanes = lanes

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

        On PostgreSQL a tenant's lists are filled in lanes so that its reservations never queue behind each other:
        the transaction first takes the lowest lane no other transaction holds (a transaction advisory lock, tried
        without waiting) and reserves on that lane's list, so two replicas reserving at once lock two different
        rows. Without concurrency everything goes to lane 0; a tenant has at most `lanes` lists open (per issuer
        DID), each filled before its lane opens the next. Only when every lane is taken does a reservation wait,
        for a random lane.
        """
        lane = await self._take_lane(session, tenant_id)
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
                        StatusList.lane == lane,
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
                row = await self._open(session, tenant_id, issuer_id, lane, sign, now)
                if row is None:
                    continue  # another transaction opened a list first: look again
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

    async def _take_lane(self, session: AsyncSession, tenant_id: str) -> int:
        if not is_postgres(session):
            return 0  # SQLite: one writer at a time anyway
        key = zlib.crc32(f"status-list-lane:{tenant_id}:{self._purpose}".encode()) - 2**31  # an int4
        lane = (await session.execute(_TAKE_FREE_LANE, {"last": self._lanes - 1, "key": key})).scalar_one_or_none()
        if lane is None:
            lane = random.randrange(self._lanes)
            await session.execute(_WAIT_FOR_LANE, {"key": key, "lane": lane})
        return int(lane)

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
        self, session: AsyncSession, tenant_id: str, issuer_id: str, lane: int, sign: ListSigner, now: datetime
    ) -> StatusList | None:
        """Open the tenant's next list in `lane`; None if another transaction just opened one there or took the next
        list id (look again)."""
        # Fresh statements see lists committed since the caller's locking read began: one may have room.
        room = (
            await session.execute(
                select(StatusList.list_id).where(
                    StatusList.tenant_id == tenant_id,
                    StatusList.purpose == self._purpose,
                    StatusList.issuer_id == issuer_id,
                    StatusList.lane == lane,
                    StatusList.allocated < StatusList.size,
                )
            )
        ).first()
        if room is not None:
            return None
        latest = (
            await session.execute(
                select(StatusList.list_id)
                .where(StatusList.tenant_id == tenant_id, StatusList.purpose == self._purpose)
                .order_by(StatusList.list_id.desc())  # type: ignore[attr-defined]
                .limit(1)
            )
        ).scalar_one_or_none()
        multiplier, offset = new_permutation(self._size)
        bits = StatusBits(self._size)
        row = StatusList(
            tenant_id=tenant_id,
            purpose=self._purpose,
            list_id=self._next_id(latest or 0, lane, self._lanes if is_postgres(session) else 1),
            issuer_id=issuer_id,
            lane=lane,
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

    @staticmethod
    def _next_id(after: int, lane: int, lanes: int) -> int:
        """The lowest list id above `after` of `lane`'s ids (lane + 1, then every `lanes`-th): lanes opening lists at
        the same time never pick the same id, so neither waits for the other's insert to commit or fail. (Ids are
        opaque; with lanes they have gaps.)"""
        return after + 1 + (lane - after) % lanes

    def _unsigned(self, row: StatusList, bits: StatusBits, now: datetime) -> dict[str, Any]:
        return status_list_credential(
            url=self.url(row.tenant_id, row.list_id),
            issuer=row.issuer_id,
            purpose=self._purpose,  # type: ignore[arg-type]
            bits=bits,
            valid_from=now,
        )
