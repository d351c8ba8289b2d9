"""Alembic environment of the webhooks service (run through shared.db.migrations)."""

import services.webhooks.adapters.tables  # noqa: F401 - registers the service's tables
from shared.db.migrations import run_migrations

run_migrations("webhooks")
