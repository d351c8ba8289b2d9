"""Alembic environment of the verifier service (run through shared.db.migrations)."""

import services.verifier.adapters.tables  # noqa: F401 - registers the service's tables
from shared.db.migrations import run_migrations

run_migrations("verifier")
