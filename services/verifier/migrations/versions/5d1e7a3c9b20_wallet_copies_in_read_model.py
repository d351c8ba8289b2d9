"""wallet copies in the read model (badge-issued 1.1: award_credential_id, holder)

Revision ID: 5d1e7a3c9b20
Revises: 3b6f4be306ff
Create Date: 2026-12-01 13:40:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op


revision: str = '5d1e7a3c9b20'
down_revision: str | None = '3b6f4be306ff'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('verifier_credentials', schema=None) as batch_op:
        batch_op.add_column(sa.Column('award_credential_uuid', sa.Uuid(), nullable=True))
        batch_op.add_column(sa.Column('holder', sqlmodel.sql.sqltypes.AutoString(length=512), nullable=True))
        batch_op.create_index(
            batch_op.f('ix_verifier_credentials_award_credential_uuid'), ['award_credential_uuid'], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table('verifier_credentials', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_verifier_credentials_award_credential_uuid'))
        batch_op.drop_column('holder')
        batch_op.drop_column('award_credential_uuid')
