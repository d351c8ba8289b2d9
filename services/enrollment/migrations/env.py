"""Alembic environment of the enrollment service (run through shared.db.migrations)."""

import services.enrollment.adapters.tables  # noqa: F401 - registers the service's tables
from shared.db.migrations import run_migrations

run_migrations("enrollment")
