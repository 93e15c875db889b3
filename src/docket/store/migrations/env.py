"""Alembic environment: docket passes the live connection in ``config.attributes``."""

from alembic import context

from docket.store.tables import declared, metadata

connection = context.config.attributes["connection"]
context.configure(connection=connection, target_metadata=metadata, render_as_batch=True, include_name=declared)
with context.begin_transaction():
    context.run_migrations()
