"""OID4VCI credential offers (pre-authorized codes, access tokens) and c_nonces

Revision ID: 4f2a9c8e6d1b
Revises: 7c4d2e9a1b3f
Create Date: 2026-12-01 13:10:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op


revision: str = '4f2a9c8e6d1b'
down_revision: str | None = '7c4d2e9a1b3f'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('issuer_oid4vci_offers',
    sa.Column('code_key', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
    sa.Column('credential_id', sa.Uuid(), nullable=False),
    sa.Column('tenant_id', sqlmodel.sql.sqltypes.AutoString(length=63), nullable=False),
    sa.Column('tx_code_digest', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True),
    sa.Column('tx_code_length', sa.Integer(), nullable=True),
    sa.Column('failed_tx_codes', sa.Integer(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('expires_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('redeemed_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('token_key', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True),
    sa.Column('token_expires_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('holder_did', sqlmodel.sql.sqltypes.AutoString(length=512), nullable=True),
    sa.PrimaryKeyConstraint('code_key'),
    sa.UniqueConstraint('token_key')
    )
    with op.batch_alter_table('issuer_oid4vci_offers', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_issuer_oid4vci_offers_credential_id'), ['credential_id'], unique=False)

    op.create_table('issuer_oid4vci_nonces',
    sa.Column('nonce_key', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('expires_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('used_at', sa.DateTime(timezone=True), nullable=True),
    sa.PrimaryKeyConstraint('nonce_key')
    )
    with op.batch_alter_table('issuer_oid4vci_nonces', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_issuer_oid4vci_nonces_expires_at'), ['expires_at'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('issuer_oid4vci_nonces', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_issuer_oid4vci_nonces_expires_at'))
    op.drop_table('issuer_oid4vci_nonces')
    with op.batch_alter_table('issuer_oid4vci_offers', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_issuer_oid4vci_offers_credential_id'))
    op.drop_table('issuer_oid4vci_offers')
