"""publications: one row per published revision, with its identifier and exports

Publishing never destroys an earlier revision (issue 13): each published revision of a request is
a row of its own, with the persistent identifier it was given (a DOI, or the instance's own URL),
the state of its registration (a DOI waits in the jobs table while the registry is down) and the
exports written for it (format, location, checksum).

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-30 22:00:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "publications",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("request_id", sa.String(length=48), nullable=False),
        sa.Column("revision", sa.Integer(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("identifier", sa.String(length=500), nullable=False),
        sa.Column("identifier_type", sa.String(length=16), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("exports", sa.JSON(), nullable=False),
        sa.Column("published_by", sa.String(length=320), nullable=False),
        sa.Column("published_date", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_date", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["request_id"], ["requests.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("request_id", "revision", name="uq_publications_request_revision"),
    )
    with op.batch_alter_table("publications", schema=None) as batch_op:
        batch_op.create_index("ix_publications_published", ["published_date"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("publications", schema=None) as batch_op:
        batch_op.drop_index("ix_publications_published")
    op.drop_table("publications")
