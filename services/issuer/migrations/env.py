"""Alembic environment of the issuer service (run through shared.db.migrations)."""

import services.issuer.adapters.tables  # noqa: F401 - registers the service's tables
from shared.db.migrations import run_migrations

run_migrations("issuer")
