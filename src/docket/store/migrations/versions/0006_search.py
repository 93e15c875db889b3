"""search_index: the full-text index of the newest published revision of every request

Search (issue 13, item 4) runs on SQLite FTS5 by default and on PostgreSQL full-text search on the
same code path, so this table exists in two shapes with the same columns:

* SQLite: an FTS5 virtual table. Only ``text`` is searched; ``doc_key`` holds one token per
  request (a digest of its id) so that re-indexing a request finds its old rows through the
  full-text index instead of scanning the whole table (FTS5 has no ordinary index on an
  ``UNINDEXED`` column). ``unicode61 remove_diacritics 2`` lets "etalonnee" find "étalonnée".
* PostgreSQL: a plain table with a generated ``ts_config`` (the text-search configuration of the
  row's language: en → english, fr → french, de → german, anything else → simple) and a generated
  ``document`` tsvector built with it, under a GIN index.

It is not described in ``tables.py``: ``metadata.create_all`` would make an ordinary table on
SQLite, which FTS5 queries cannot use. ``docket.search`` describes the columns it reads.

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-30 22:15:00
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

#: The text-search configuration of a row, from the primary subtag of its language (en-GB → en).
_CONFIG = (
    "CASE split_part(lower(language), '-', 1) "
    "WHEN 'en' THEN 'english'::regconfig "
    "WHEN 'fr' THEN 'french'::regconfig "
    "WHEN 'de' THEN 'german'::regconfig "
    "ELSE 'simple'::regconfig END"
)


def upgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        op.execute(
            "CREATE VIRTUAL TABLE search_index USING fts5("
            "request_id UNINDEXED, revision UNINDEXED, field UNINDEXED, language UNINDEXED, "
            "title UNINDEXED, text, doc_key, "
            "tokenize = 'unicode61 remove_diacritics 2')"
        )
        return
    op.create_table(
        "search_index",
        sa.Column("id", sa.BigInteger(), autoincrement=True, nullable=False),
        sa.Column("request_id", sa.String(length=48), nullable=False),
        sa.Column("revision", sa.Integer(), nullable=False),
        sa.Column("field", sa.String(length=32), nullable=False),
        sa.Column("language", sa.String(length=35), nullable=False),
        sa.Column("title", sa.Text(), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("ts_config", postgresql.REGCONFIG(), sa.Computed(_CONFIG, persisted=True)),
        sa.Column("document", postgresql.TSVECTOR(),
                  sa.Computed(f"to_tsvector({_CONFIG}, text)", persisted=True)),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_search_index_request", "search_index", ["request_id"])
    op.create_index("ix_search_index_document", "search_index", ["document"], postgresql_using="gin")


def downgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        op.execute("DROP TABLE IF EXISTS search_index")
        return
    op.drop_index("ix_search_index_document", table_name="search_index")
    op.drop_index("ix_search_index_request", table_name="search_index")
    op.drop_table("search_index")
