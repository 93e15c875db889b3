"""imports: one row per imported offline form, keyed by the digest of its data

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-24 21:20:00
"""

import json

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "imports",
        sa.Column("key", sa.String(length=64), nullable=False),
        sa.Column("request_id", sa.String(length=48), nullable=False),
        sa.Column("revision", sa.Integer(), nullable=False),
        sa.Column("source", sa.Text(), nullable=False),
        sa.Column("imported_date", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["request_id"], ["requests.id"]),
        sa.PrimaryKeyConstraint("key"),
    )
    # Imports recorded before this table existed kept their key in the audit row's origin.
    conn = op.get_bind()
    rows = conn.execute(sa.text(
        "SELECT origin, request_id, detail, at FROM audit_log WHERE origin LIKE 'import:%' AND request_id IS NOT NULL"
    )).all()
    seen: set[str] = set()
    for origin, request_id, detail, at in rows:
        key, _, source = origin[len("import:"):].partition(" ")
        if not key or key in seen:
            continue
        seen.add(key)
        rev = 1
        if isinstance(detail, str):
            detail = json.loads(detail)
        if isinstance(detail, dict):
            rev = int(detail.get("revision") or 1)
        conn.execute(sa.text("INSERT INTO imports (key, request_id, revision, source, imported_date) "
                             "VALUES (:k, :r, :v, :s, :d)"),
                     {"k": key, "r": request_id, "v": rev, "s": source or "", "d": at})


def downgrade() -> None:
    op.drop_table("imports")
