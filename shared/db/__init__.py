"""Database plumbing shared by the services: engines, the outbox and processed-event tables, migrations."""
