"""people: accounts and their API keys, provider links, comments, failed sign-ins, job keys

Identity becomes real (issue 9): staff act through accounts whose role the store holds, never a
flag; each request can have secret links for its provider; comments make review a conversation.
Keys and link tokens are stored as argon2 hashes, found by a short public prefix. ``requests``
gains its owner and who submitted it (the rules "nobody decides on a request they own or
submitted"); ``jobs`` gains an idempotency key, so a notification is queued once however often a
transition is retried. Existing requests are owned by the provider they name.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-30 21:40:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "accounts",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("email", sa.String(length=320)),
        sa.Column("orcid", sa.String(length=40)),
        sa.Column("role", sa.String(length=24), nullable=False),
        sa.Column("person_id", sa.String(length=80), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("expires", sa.DateTime(timezone=True)),
        sa.Column("created_by", sa.String(length=320), nullable=False),
        sa.Column("created_date", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("name", name="uq_accounts_name"),
        sa.UniqueConstraint("person_id", name="uq_accounts_person_id"),
    )
    op.create_table(
        "api_keys",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("account_id", sa.Integer(), nullable=False),
        sa.Column("prefix", sa.String(length=16), nullable=False),
        sa.Column("hash", sa.String(length=200), nullable=False),
        sa.Column("expires", sa.DateTime(timezone=True)),
        sa.Column("revoked_date", sa.DateTime(timezone=True)),
        sa.Column("last_used_date", sa.DateTime(timezone=True)),
        sa.Column("created_date", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["account_id"], ["accounts.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("prefix", name="uq_api_keys_prefix"),
    )
    op.create_table(
        "request_links",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("request_id", sa.String(length=48), nullable=False),
        sa.Column("prefix", sa.String(length=16), nullable=False),
        sa.Column("hash", sa.String(length=200), nullable=False),
        sa.Column("expires", sa.DateTime(timezone=True)),
        sa.Column("revoked_date", sa.DateTime(timezone=True)),
        sa.Column("created_date", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["request_id"], ["requests.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("prefix", name="uq_request_links_prefix"),
    )
    op.create_table(
        "comments",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("request_id", sa.String(length=48), nullable=False),
        sa.Column("revision", sa.Integer(), nullable=False),
        sa.Column("parent_id", sa.Integer()),
        sa.Column("field", sa.Text()),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("author", sa.String(length=320), nullable=False),
        sa.Column("role", sa.String(length=24), nullable=False),
        sa.Column("person_id", sa.String(length=80), nullable=False),
        sa.Column("created_date", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["request_id"], ["requests.id"]),
        sa.ForeignKeyConstraint(["parent_id"], ["comments.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("comments", schema=None) as batch_op:
        batch_op.create_index("ix_comments_request", ["request_id", "id"], unique=False)
    op.create_table(
        "auth_failures",
        sa.Column("source", sa.String(length=300), nullable=False),
        sa.Column("failures", sa.Integer(), nullable=False),
        sa.Column("last_date", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("source"),
    )
    # Plain ADD COLUMN (no batch copy): SQLite cannot drop a table that other rows refer to.
    op.add_column("requests", sa.Column("owner", sa.String(length=320)))
    op.add_column("requests", sa.Column("submitted_by", sa.String(length=80)))
    op.add_column("jobs", sa.Column("key", sa.String(length=200)))
    op.create_index("uq_jobs_key", "jobs", ["key"], unique=True)
    op.execute("UPDATE requests SET owner = 'provider:' || provider")


def downgrade() -> None:
    op.drop_index("uq_jobs_key", table_name="jobs")
    op.drop_column("jobs", "key")
    op.drop_column("requests", "submitted_by")
    op.drop_column("requests", "owner")
    op.drop_table("auth_failures")
    with op.batch_alter_table("comments", schema=None) as batch_op:
        batch_op.drop_index("ix_comments_request")
    op.drop_table("comments")
    op.drop_table("request_links")
    op.drop_table("api_keys")
    op.drop_table("accounts")
