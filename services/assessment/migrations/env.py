"""Alembic environment of the assessment service (run through shared.db.migrations)."""

import services.assessment.adapters.tables  # noqa: F401 - registers the service's tables
from shared.db.migrations import run_migrations

run_migrations("assessment")
