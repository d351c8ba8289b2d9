"""wallet exchanges (claim links) and holder-bound copies

Revision ID: 7c4d2e9a1b3f
Revises: 1e81c7b06e31
Create Date: 2026-12-01 11:45:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op


revision: str = '7c4d2e9a1b3f'
down_revision: str | None = '1e81c7b06e31'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('issuer_wallet_exchanges',
    sa.Column('exchange_key', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
    sa.Column('credential_id', sa.Uuid(), nullable=False),
    sa.Column('tenant_id', sqlmodel.sql.sqltypes.AutoString(length=63), nullable=False),
    sa.Column('challenge', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('expires_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('completed_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('holder_did', sqlmodel.sql.sqltypes.AutoString(length=512), nullable=True),
    sa.Column('copy_id', sa.Uuid(), nullable=True),
    sa.PrimaryKeyConstraint('exchange_key')
    )
    with op.batch_alter_table('issuer_wallet_exchanges', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_issuer_wallet_exchanges_credential_id'), ['credential_id'], unique=False)

    op.create_table('issuer_holder_copies',
    sa.Column('copy_id', sa.Uuid(), nullable=False),
    sa.Column('credential_id', sa.Uuid(), nullable=False),
    sa.Column('tenant_id', sqlmodel.sql.sqltypes.AutoString(length=63), nullable=False),
    sa.Column('holder_did', sqlmodel.sql.sqltypes.AutoString(length=512), nullable=False),
    sa.Column('credential', sa.Text(), nullable=False),
    sa.Column('issued_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('status_list_id', sa.Integer(), nullable=False),
    sa.Column('status_list_index', sa.Integer(), nullable=False),
    sa.PrimaryKeyConstraint('copy_id')
    )
    with op.batch_alter_table('issuer_holder_copies', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_issuer_holder_copies_credential_id'), ['credential_id'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('issuer_holder_copies', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_issuer_holder_copies_credential_id'))
    op.drop_table('issuer_holder_copies')
    with op.batch_alter_table('issuer_wallet_exchanges', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_issuer_wallet_exchanges_credential_id'))
    op.drop_table('issuer_wallet_exchanges')
