"""Status lists are filled in lanes, so a tenant's concurrent reservations lock different rows

Revision ID: 9b3e5d7f2a10
Revises: 4f2a9c8e6d1b
Create Date: 2026-12-01 16:10:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op


revision: str = '9b3e5d7f2a10'
down_revision: str | None = '4f2a9c8e6d1b'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Existing lists are lane 0's: the lane everything went to before.
    with op.batch_alter_table('issuer_status_lists', schema=None) as batch_op:
        batch_op.add_column(sa.Column('lane', sa.Integer(), nullable=False, server_default='0'))


def downgrade() -> None:
    with op.batch_alter_table('issuer_status_lists', schema=None) as batch_op:
        batch_op.drop_column('lane')
