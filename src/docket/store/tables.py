"""The store's tables (SQLAlchemy Core). Alembic migrations in ``migrations/`` create them.

One row per request (its current state) and one per revision of its document; status history,
PROV bundles (one row per step instance, so appending a step never rewrites a request's earlier
provenance), the resource registry of files, jobs and the audit log.
"""

from __future__ import annotations

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Column,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
)

metadata = MetaData()


def declared(name: str, type_: str, parent_names: object = None) -> bool:
    """Whether Alembic's comparison should look at a schema object: not the search index, which is
    made by its own migration (0006) in each store's own form (an FTS5 virtual table and its shadow
    tables on SQLite, a table with a generated tsvector on PostgreSQL) and so has no one
    declaration here (see :mod:`docket.search`)."""
    return not (type_ == "table" and name.startswith("search_index"))

counters = Table(
    "counters",
    metadata,
    Column("project", String(32), primary_key=True),
    Column("last_number", Integer, nullable=False),
)

requests = Table(
    "requests",
    metadata,
    Column("id", String(48), primary_key=True),
    Column("project", String(32), nullable=False),
    Column("number", Integer, nullable=False),
    Column("revision", Integer, nullable=False),
    Column("review_state", String(16), nullable=False),
    Column("title", Text, nullable=False),
    Column("provider", String(320), nullable=False),
    Column("steps", JSON, nullable=False),
    Column("version", Integer, nullable=False),  # optimistic lock: bumped by every write
    Column("created_date", DateTime(timezone=True), nullable=False),
    Column("last_modified_date", DateTime(timezone=True), nullable=False),
    # "account:<person id>" (a provider with an account) or "provider:<e-mail or name>"
    Column("owner", String(320)),
    Column("submitted_by", String(80)),  # the person id of the account whose key submitted it
    UniqueConstraint("project", "number", name="uq_requests_project_number"),
    Index("ix_requests_review_state", "review_state"),
)

revisions = Table(
    "revisions",
    metadata,
    Column("request_id", String(48), ForeignKey("requests.id"), primary_key=True),
    Column("revision", Integer, primary_key=True),
    Column("document", JSON, nullable=False),
    Column("schema_id", String(300), nullable=False),
    Column("schema_version", String(32), nullable=False),
    Column("digest", String(64), nullable=False),
    Column("created_by", String(320), nullable=False),
    Column("created_date", DateTime(timezone=True), nullable=False),
)

status_history = Table(
    "status_history",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("request_id", String(48), ForeignKey("requests.id"), nullable=False),
    Column("revision", Integer, nullable=False),
    Column("kind", String(16), nullable=False),  # "review" or "step"
    Column("step", String(16)),
    Column("from_state", String(24)),
    Column("to_state", String(24), nullable=False),
    Column("outcome", String(16)),
    Column("actor", String(320), nullable=False),
    Column("role", String(24), nullable=False),
    Column("comment", Text),
    Column("at", DateTime(timezone=True), nullable=False),
    Index("ix_status_history_request", "request_id", "id"),
)

prov_bundles = Table(
    "prov_bundles",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("request_id", String(48), ForeignKey("requests.id"), nullable=False),
    Column("step", String(16), nullable=False),
    Column("n", Integer, nullable=False),
    Column("bundle_id", String(500), nullable=False),
    Column("template", String(100), nullable=False),
    Column("template_digest", String(64), nullable=False),
    Column("bundle", JSON, nullable=False),  # PROV-JSON of the expanded bundle
    Column("bindings", JSON, nullable=False),  # PROV-Template bindings that reproduce it
    Column("created_date", DateTime(timezone=True), nullable=False),
    UniqueConstraint("request_id", "step", "n", name="uq_prov_bundles_step_n"),
    Index("ix_prov_bundles_request", "request_id", "id"),
)

files = Table(
    "files",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("request_id", String(48), ForeignKey("requests.id"), nullable=False),
    Column("revision", Integer, nullable=False),
    Column("name", String(255), nullable=False),
    Column("source", Text, nullable=False),
    Column("location", Text),  # where docket keeps it, once transferred
    Column("size", BigInteger),
    Column("md5", String(32)),
    Column("sha256", String(64)),
    Column("media_type", String(100)),
    Column("encoding", String(40)),
    Column("rows", BigInteger),
    Column("status", String(16), nullable=False),  # declared, stored, failed
    Column("detail", Text),
    Column("updated_date", DateTime(timezone=True), nullable=False),
    UniqueConstraint("request_id", "revision", "name", name="uq_files_request_revision_name"),
    Index("ix_files_sha256", "sha256"),
)

jobs = Table(
    "jobs",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("kind", String(32), nullable=False),  # qa, doi, transfer, notify
    Column("request_id", String(48), ForeignKey("requests.id")),
    Column("status", String(16), nullable=False),  # queued, running, done, failed
    Column("attempts", Integer, nullable=False, default=0),
    Column("next_try", DateTime(timezone=True)),
    Column("last_error", Text),
    Column("payload", JSON, nullable=False),
    Column("result", JSON),
    Column("created_date", DateTime(timezone=True), nullable=False),
    Column("updated_date", DateTime(timezone=True), nullable=False),
    Column("key", String(200)),  # idempotency: one job per key, however often it is queued
    Index("ix_jobs_status_next", "status", "next_try"),
    Index("uq_jobs_key", "key", unique=True),
)

audit_log = Table(
    "audit_log",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("at", DateTime(timezone=True), nullable=False),
    Column("actor", String(320), nullable=False),
    Column("role", String(24), nullable=False),
    Column("action", String(48), nullable=False),
    Column("request_id", String(48)),
    Column("origin", String(300), nullable=False),
    Column("detail", JSON, nullable=False),
    Index("ix_audit_log_request", "request_id"),
)

imports = Table(
    "imports",
    metadata,
    # Digest of a filled offline form's canonical data: the same form twice is one record, even
    # when two imports race (the second insert fails and its transaction stores nothing).
    Column("key", String(64), primary_key=True),
    Column("request_id", String(48), ForeignKey("requests.id"), nullable=False),
    Column("revision", Integer, nullable=False),
    Column("source", Text, nullable=False),
    Column("imported_date", DateTime(timezone=True), nullable=False),
)

accounts = Table(
    "accounts",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("name", String(200), nullable=False),
    Column("email", String(320)),
    Column("orcid", String(40)),
    Column("role", String(24), nullable=False),  # provider, reviewer, data-manager, admin
    Column("person_id", String(80), nullable=False),  # opaque PROV identifier, never the e-mail
    Column("status", String(16), nullable=False),  # active, disabled
    Column("expires", DateTime(timezone=True)),
    Column("created_by", String(320), nullable=False),
    Column("created_date", DateTime(timezone=True), nullable=False),
    UniqueConstraint("name", name="uq_accounts_name"),
    UniqueConstraint("person_id", name="uq_accounts_person_id"),
)

api_keys = Table(
    "api_keys",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("account_id", Integer, ForeignKey("accounts.id"), nullable=False),
    Column("prefix", String(16), nullable=False),  # public part of the key, to find its row
    Column("hash", String(200), nullable=False),  # argon2 of the whole key
    Column("expires", DateTime(timezone=True)),
    Column("revoked_date", DateTime(timezone=True)),
    Column("last_used_date", DateTime(timezone=True)),
    Column("created_date", DateTime(timezone=True), nullable=False),
    UniqueConstraint("prefix", name="uq_api_keys_prefix"),
)

request_links = Table(
    "request_links",
    metadata,
    # A provider's secret link to one request, stored like a key.
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("request_id", String(48), ForeignKey("requests.id"), nullable=False),
    Column("prefix", String(16), nullable=False),
    Column("hash", String(200), nullable=False),
    Column("expires", DateTime(timezone=True)),
    Column("revoked_date", DateTime(timezone=True)),
    Column("created_date", DateTime(timezone=True), nullable=False),
    UniqueConstraint("prefix", name="uq_request_links_prefix"),
)

comments = Table(
    "comments",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("request_id", String(48), ForeignKey("requests.id"), nullable=False),
    Column("revision", Integer, nullable=False),  # the revision the comment was made on
    Column("parent_id", Integer, ForeignKey("comments.id")),  # a reply's comment
    Column("field", Text),  # JSON path of the field it is about, if any
    Column("text", Text, nullable=False),
    Column("author", String(320), nullable=False),
    Column("role", String(24), nullable=False),
    Column("person_id", String(80), nullable=False),
    Column("created_date", DateTime(timezone=True), nullable=False),
    Index("ix_comments_request", "request_id", "id"),
)

auth_failures = Table(
    "auth_failures",
    metadata,
    # Wrong keys and links by source, so repeated guessing from one place is slowed down.
    Column("source", String(300), primary_key=True),
    Column("failures", Integer, nullable=False),
    Column("last_date", DateTime(timezone=True), nullable=False),
)

publications = Table(
    "publications",
    metadata,
    # One row per published revision: publishing never destroys an earlier one.
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("request_id", String(48), ForeignKey("requests.id"), nullable=False),
    Column("revision", Integer, nullable=False),
    Column("version", Integer, nullable=False),  # 1, 2, ... per request: DataCite IsNewVersionOf
    Column("identifier", String(500), nullable=False),  # the DOI, or the instance's own URL
    Column("identifier_type", String(16), nullable=False),  # DOI, URL
    Column("status", String(16), nullable=False),  # pending (DOI queued), registered, findable
    Column("exports", JSON, nullable=False),  # [{format, location, sha256, validated}]
    Column("published_by", String(320), nullable=False),
    Column("published_date", DateTime(timezone=True), nullable=False),
    Column("updated_date", DateTime(timezone=True), nullable=False),
    UniqueConstraint("request_id", "revision", name="uq_publications_request_revision"),
    Index("ix_publications_published", "published_date"),
)

archives = Table(
    "archives",
    metadata,
    # One row per archived revision: where its BagIt bag is and what its latest fixity check found.
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("request_id", String(48), ForeignKey("requests.id"), nullable=False),
    Column("revision", Integer, nullable=False),
    Column("location", Text, nullable=False),  # the bag's folder: relative to the instance, or absolute
    Column("bag_oxum", String(64), nullable=False),  # Payload-Oxum: "<bytes>.<files>"
    Column("manifest_sha256", String(64), nullable=False),  # of tagmanifest-sha256.txt, as hex
    Column("created_date", DateTime(timezone=True), nullable=False),
    Column("verified_date", DateTime(timezone=True)),  # the latest docket archive verify
    Column("verified_ok", Boolean),
    UniqueConstraint("request_id", "revision", name="uq_archives_request_revision"),
)
