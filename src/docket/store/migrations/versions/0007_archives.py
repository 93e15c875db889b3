"""archives: one row per archived revision, with where its bag is and its last fixity check

An archive (issue 13, item 6) is a BagIt bag written once per published revision into the
archive location of ``docket.toml``. The row keeps what a later fixity check needs to say whether
the bag is still the one docket wrote: where it is, its Payload-Oxum (byte and file count of the
payload) and the SHA-256 of its tag manifest (which covers the payload manifests, so it stands
for the whole bag), and the date and result of the latest ``docket archive verify``.

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-30 23:10:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "archives",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("request_id", sa.String(length=48), nullable=False),
        sa.Column("revision", sa.Integer(), nullable=False),
        sa.Column("location", sa.Text(), nullable=False),
        sa.Column("bag_oxum", sa.String(length=64), nullable=False),
        sa.Column("manifest_sha256", sa.String(length=64), nullable=False),
        sa.Column("created_date", sa.DateTime(timezone=True), nullable=False),
        sa.Column("verified_date", sa.DateTime(timezone=True), nullable=True),
        sa.Column("verified_ok", sa.Boolean(), nullable=True),
        sa.ForeignKeyConstraint(["request_id"], ["requests.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("request_id", "revision", name="uq_archives_request_revision"),
    )


def downgrade() -> None:
    op.drop_table("archives")
