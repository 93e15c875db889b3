"""prov identifiers: stored bundles renamed to identifiers that every PROV serialization accepts

docket 0.1 named PROV nodes ``docket:ocean-0007/qa/2``, ``docket:person/<e-mail>`` and
``orcid:0000-...``: valid in PROV-JSON and PROV-N, but not in PROV-XML, whose ``prov:id`` and
``prov:ref`` are ``xs:QName`` (no ``/``, ``%`` or ``@`` in the local part, no leading digit). This
migration rewrites every stored ``prov_bundles`` row to the scheme of
:mod:`docket.provenance.identifiers`: the bundle's PROV-JSON (record identifiers, references,
qualified-name values, prefix declarations), its bindings (``@id`` values and the context, so the
kept bindings still expand the row's template into the row's bundle) and the ``bundle_id``
column. A person keyed by ORCID keeps the ORCID IRI as a ``schema:sameAs`` attribute
(``xsd:anyURI``), in the bundle and as the ``<agent>Orcid`` binding. One audit row records what
was done. Rows are read and written in batches, never all in memory.

The mapping of each identifier is :func:`docket.provenance.identifiers.upgrade`, so an upgraded
store names each node exactly as a new docket does (the same provider is the same node in old and
new bundles). Downgrading leaves the identifiers as they are: docket 0.1 reads them.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-30 20:00:00
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

BATCH = 200
ACTION = "migrate:prov-identifiers"

# PROV-JSON record types: their keys are identifiers (or "_:" blank ids of relations).
_RECORD_TYPES = {
    "entity", "activity", "agent", "wasGeneratedBy", "used", "wasInformedBy", "wasStartedBy",
    "wasEndedBy", "wasInvalidatedBy", "wasDerivedFrom", "wasAttributedTo", "wasAssociatedWith",
    "actedOnBehalfOf", "wasInfluencedBy", "specializationOf", "alternateOf", "mentionOf",
    "hadMember", "hadDictionaryMember", "derivedByInsertionFrom", "derivedByRemovalFrom",
}
_QNAME_TYPES = {"xsd:QName", "prov:QUALIFIED_NAME"}


def _table() -> sa.TableClause:
    return sa.table(
        "prov_bundles",
        sa.column("id", sa.Integer), sa.column("request_id", sa.String), sa.column("bundle_id", sa.String),
        sa.column("bundle", sa.JSON), sa.column("bindings", sa.JSON),
    )


def _loaded(value: Any) -> Any:
    return json.loads(value) if isinstance(value, str) else value


class _Renamer:
    """The identifiers of one row: old -> new, the prefixes the new ones need, ORCID agents."""

    def __init__(self, base_uri: str) -> None:
        from docket.provenance import identifiers as ids

        self.ids = ids
        self.base_uri = base_uri
        self.names: dict[str, str] = {}
        self.prefixes: dict[str, str] = {}
        self.orcids: dict[str, str] = {}  # new person id -> ORCID IRI

    def __call__(self, old: Any) -> Any:
        if not isinstance(old, str) or old.startswith("_:"):
            return old
        if old not in self.names:
            new = self.ids.upgrade(old)
            if new is None:
                self.names[old] = old
            else:
                namespace, prefix, k = new.namespace(self.base_uri), new.prefix, 1
                while self.prefixes.get(prefix, namespace) != namespace:  # two paths, one prefix name
                    k += 1
                    prefix = f"{new.prefix}{k}"
                self.prefixes[prefix] = namespace
                self.names[old] = f"{prefix}:{new.local}"
                if old.startswith("orcid:"):
                    self.orcids[self.names[old]] = self.ids.orcid_uri(old.partition(":")[2])
        return self.names[old]

    @property
    def changed(self) -> int:
        return sum(1 for old, new in self.names.items() if old != new)


def _value(value: Any, rename: _Renamer, formal: bool) -> Any:
    if isinstance(value, list):
        return [_value(v, rename, formal) for v in value]
    if isinstance(value, dict) and value.get("type") in _QNAME_TYPES and isinstance(value.get("$"), str):
        return {**value, "$": rename(value["$"])}
    if formal and isinstance(value, str):
        return rename(value)
    return value


def _records(container: dict[str, Any], rename: _Renamer) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in container.items():
        if key in _RECORD_TYPES and isinstance(value, dict):
            records: dict[str, Any] = {}
            for ident, attributes in value.items():
                records[rename(ident)] = _attributes(attributes, rename)
            out[key] = records
        else:
            out[key] = value
    return out


def _attributes(attributes: Any, rename: _Renamer) -> Any:
    if isinstance(attributes, list):  # several records under one identifier
        return [_attributes(a, rename) for a in attributes]
    if not isinstance(attributes, dict):
        return attributes
    # A "prov:" attribute holding a plain string is a reference (prov:entity, prov:agent...);
    # prov:label/location/value and extension attributes hold literals, left as they are.
    literal = {"prov:label", "prov:location", "prov:value", "prov:role", "prov:startTime", "prov:endTime",
               "prov:time"}
    return {name: _value(v, rename, name.startswith("prov:") and name not in literal)
            for name, v in attributes.items()}


def _with_orcids(bundle: dict[str, Any], rename: _Renamer) -> None:
    """ORCID-keyed people keep their ORCID IRI as an attribute of the (now opaque) agent."""
    from docket.provenance import identifiers as ids

    attribute = ids.ORCID_ATTRIBUTE
    prefix = attribute.partition(":")[0]
    agents = bundle.get("agent", {})
    for person, iri in rename.orcids.items():
        if person in agents and isinstance(agents[person], dict):
            agents[person] = {**agents[person], attribute: {"$": iri, "type": "xsd:anyURI"}}
            bundle.setdefault("prefix", {}).setdefault(prefix, ids.SCHEMA_ORG_URI)


def _prefixes(declared: dict[str, str] | None, rename: _Renamer, text: str) -> dict[str, str]:
    out = dict(declared or {})
    out.update(rename.prefixes)
    # docket 0.1 declared orcid: for its ORCID-keyed people; drop it once nothing uses it.
    if "orcid" in out and '"orcid:' not in text:
        del out["orcid"]
    return out


def upgrade_row(bundle_id: str, bundle: dict[str, Any], bindings: dict[str, Any]
                ) -> tuple[str, dict[str, Any], dict[str, Any], int]:
    """One row in the new scheme: (bundle_id, bundle, bindings, identifiers renamed)."""
    base = ((bundle.get("prefix") or {}).get("docket") or (bindings.get("context") or {}).get("docket"))
    if not base:  # not written by docket's recorder: nothing to map against
        return bundle_id, bundle, bindings, 0
    rename = _Renamer(base)
    new_bundle = _records(bundle, rename)
    inner: dict[str, Any] = {}
    for old_id, content in (bundle.get("bundle") or {}).items():
        content = _records(content, rename)
        _with_orcids(content, rename)
        inner[rename(old_id)] = content
    if inner:
        new_bundle["bundle"] = inner
    new_id = rename(bundle_id)
    new_bindings = dict(bindings)
    for group in ("var", "vargen"):
        if isinstance(bindings.get(group), dict):
            new_bindings[group] = {name: _bound(values, rename) for name, values in bindings[group].items()}
    for name, values in list((new_bindings.get("var") or {}).items()):
        for value in values if isinstance(values, list) else []:
            iri = rename.orcids.get(value.get("@id")) if isinstance(value, dict) else None
            if iri:
                new_bindings["var"].setdefault(f"{name}Orcid", [{"@value": iri, "@type": "xsd:anyURI"}])
    text = json.dumps(new_bundle)
    new_bundle["prefix"] = _prefixes(new_bundle.get("prefix"), rename, text)
    for content in inner.values():
        content["prefix"] = _prefixes(content.get("prefix"), rename, json.dumps(content))
    new_bindings["context"] = _prefixes(new_bindings.get("context"), rename, json.dumps(new_bindings))
    return new_id, new_bundle, new_bindings, rename.changed


def _bound(values: Any, rename: _Renamer) -> Any:
    if isinstance(values, list):
        return [_bound(v, rename) for v in values]
    if isinstance(values, dict) and isinstance(values.get("@id"), str):
        return {**values, "@id": rename(values["@id"])}
    return values


def upgrade() -> None:
    conn = op.get_bind()
    p = _table()
    last, rows, renamed, requests = 0, 0, 0, set()
    while True:
        batch = conn.execute(
            sa.select(p.c.id, p.c.request_id, p.c.bundle_id, p.c.bundle, p.c.bindings)
            .where(p.c.id > last).order_by(p.c.id).limit(BATCH)
        ).all()
        if not batch:
            break
        for row in batch:
            last = row.id
            new_id, bundle, bindings, changed = upgrade_row(row.bundle_id, _loaded(row.bundle),
                                                            _loaded(row.bindings))
            if not changed:
                continue
            conn.execute(sa.update(p).where(p.c.id == row.id).values(
                bundle_id=new_id, bundle=bundle, bindings=bindings))
            rows += 1
            renamed += changed
            requests.add(row.request_id)
    if rows:
        audit = sa.table("audit_log", sa.column("at", sa.DateTime(timezone=True)), sa.column("actor"),
                         sa.column("role"), sa.column("action"), sa.column("request_id"), sa.column("origin"),
                         sa.column("detail", sa.JSON))
        conn.execute(sa.insert(audit).values(
            at=datetime.now(UTC), actor="docket", role="system", action=ACTION, request_id=None,
            origin="store migration 0003",
            detail={"bundles": rows, "requests": len(requests), "identifiers": renamed,
                    "scheme": "docket.provenance.identifiers (docs/prov-templates.md, Identifiers)"},
        ))


def downgrade() -> None:
    """Nothing to undo: docket 0.1 reads the new identifiers (PROV-JSON accepts any QName)."""
