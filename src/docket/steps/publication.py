"""The publication step: validated metadata exports, an identifier, a version, and its PROV.

``docket publish ID`` publishes the request's current revision as the next **version** of the
dataset (1, 2, ...). It is refused (exit 3, naming the rule) unless the request is approved
(``publish-needs-approval``), its transfer closed/done (``publish-needs-transfer``) and its latest
QA closed/done (``publish-needs-clean-qa``: a QA that found errors is ``rejected``, one that could
not complete ``failed``); a revision is published once (``publish-once``); only a data manager
publishes (the API checks the caller before the step starts).

The identifier is a DOI when ``[datacite]`` has an endpoint and a prefix (``<prefix>/<id>.<rev>``,
registered later by a ``doi`` job: :mod:`docket.steps.doi`), else the instance's own persistent
URL (``base_uri`` + ``<id>.<rev>``), and the result says which. Every configured export
(``[publication] formats``, default every registered exporter) is built and validated in memory
first; one that cannot be produced (a DataCite record without a DOI or a publisher, say) is an
error naming the format and why, and nothing is written. The exports go to
``published/<id>/<rev>/<id>.<rev>.<format><ext>`` (the format is in the name: three of them are
``.xml``), written into a staging folder and renamed into place only after the step's
transaction committed: the ``publications`` row, the step closed/done, history and audit, the
publication PROV bundle, the ``doi`` job, the ``published`` mails and the search index entry
(when :mod:`docket.search` is installed) are that one transaction.

A later revision publishes as the next version: its DataCite record says ``IsNewVersionOf`` the
earlier DOI (or URL), its PROV entity is a ``prov:Revision`` of the earlier one, and the earlier
version's files and row are never touched. ``dry_run`` does all of the checking and building
and reports what would be written, changing nothing.
"""

from __future__ import annotations

import dataclasses
import hashlib
import importlib
import importlib.util
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, func, select
from sqlalchemy.exc import IntegrityError

from docket.access import refuse
from docket.errors import BadInput, Conflict, DocketError, InstanceError, Problem
from docket.exporters import Export, ExportSettings, all_exporters, export_record, names
from docket.exporters.settings import from_config
from docket.provenance import identifiers as ids
from docket.provenance.recorder import Id, Uri
from docket.provenance.terms import checksum_hex, checksum_id, location_iri, media_type_iri
from docket.steps.context import StepContext, StepHost, now, parse_ref
from docket.steps.doi import DataCiteSettings, datacite_settings, payload_for
from docket.steps.staging import Staging, fsync_folder
from docket.store import tables

#: The standard each export conforms to (``dcterms:conformsTo`` of its PROV entity).
STANDARDS = {
    "iso19139": "http://www.isotc211.org/2005/gmd",
    "datacite": "http://datacite.org/schema/kernel-4",
    "eml": "https://eml.ecoinformatics.org/eml-2.2.0",
    "schemaorg": "https://schema.org/Dataset",
    "dcat": "http://www.w3.org/ns/dcat#",
}
DATACITE_NS = "http://datacite.org/schema/kernel-4"
_KNOWN = {"formats"}  # [publication] settings read here; the exporters read the others


@dataclass(frozen=True)
class PublicationSettings:
    """What publishing needs from docket.toml: the formats, the export settings, DataCite."""

    formats: list[str]
    export: ExportSettings
    datacite: DataCiteSettings | None


def publication_settings(host: StepHost) -> PublicationSettings:
    """``[publication]`` and ``[datacite]`` of the instance, each bad value named (exit 2).

    ``formats`` is read here and hidden from the exporters' own check of ``[publication]``
    (which knows ``xsd_dir`` and ``publisher``); the exports name a DOI only when DOIs are
    registered, so a record never carries one nobody minted.
    """
    config = host.config
    table = (config.extra or {}).get("publication", {})
    if not isinstance(table, dict):
        raise BadInput(f"docket.toml: [publication] must be a table, not {table!r}")
    known = names()
    # by default every registered format, in registration order (docket's five, then plug-ins)
    formats = table.get("formats", [e.name for e in all_exporters()])
    if not (isinstance(formats, list) and formats and all(isinstance(f, str) for f in formats)):
        raise BadInput(f"docket.toml [publication]: formats must be a list of export formats like "
                       f"{known!r}, not {formats!r}")
    unknown = [f for f in formats if f not in known]
    if unknown:
        raise BadInput(f"docket.toml [publication]: unknown format {unknown[0]!r} in formats "
                       f"(known: {', '.join(known)})")
    datacite = datacite_settings(config)
    if datacite is not None and "datacite" not in formats:
        raise BadInput("docket.toml [publication]: DOIs are registered with the DataCite export; keep "
                       "'datacite' in formats while [datacite] is configured")
    view = dataclasses.replace(config, datacite={}, extra={
        **config.extra, "publication": {k: v for k, v in table.items() if k not in _KNOWN}})
    export = dataclasses.replace(from_config(view, host.instance.root),
                                 doi_prefix=datacite.prefix if datacite else None)
    return PublicationSettings(list(dict.fromkeys(formats)), export, datacite)


# --------------------------------------------------------------------------- refusals


def check_publishable(doc: dict[str, Any]) -> None:
    """Refuse (exit 3, naming the rule) a request that may not be published as it is."""
    ref = f"{doc['id']}.{doc['revision']}"
    if doc["review_state"] != "approved":
        raise refuse("publish-needs-approval",
                     f"{ref} is {doc['review_state']}: only an approved request is published")
    steps = doc.get("steps") or {}
    transfer, qa = steps.get("transfer") or {}, steps.get("qa") or {}
    if (transfer.get("status"), transfer.get("outcome")) != ("closed", "done"):
        raise refuse("publish-needs-transfer", f"{ref} cannot be published: its files were not all transferred "
                                               f"(transfer is {_state(transfer)}); run docket transfer")
    if (qa.get("status"), qa.get("outcome")) == ("closed", "done"):
        return
    why = qa.get("comment")
    if qa.get("outcome") == "rejected":
        what = "its latest QA found errors in the data (qa closed/rejected" + (f": {why}" if why else "") + \
               "); fix the data and run QA again"
    elif qa.get("outcome") == "failed":
        what = "its latest QA could not complete (qa closed/failed" + (f": {why}" if why else "") + \
               "); run QA again"
    else:
        what = f"QA has not run to completion on it (qa is {_state(qa)}); run docket qa"
    raise refuse("publish-needs-clean-qa", f"{ref} cannot be published: {what}")


def _state(step: dict[str, Any]) -> str:
    status = step.get("status", "open")
    return f"{status}/{step['outcome']}" if step.get("outcome") else status


# --------------------------------------------------------------------------- the exports


def file_name(request_id: str, revision: int, export: Export) -> str:
    """``ocean-0007.2.datacite.xml``: the ref, the format (ISO, DataCite and EML are all XML)."""
    return f"{request_id}.{revision}.{export.format}{export.extension}"


def add_previous_version(document: bytes, previous: str, identifier_type: str) -> bytes:
    """The DataCite record with ``relatedIdentifier relationType="IsNewVersionOf"`` naming the
    previous version (the exporter writes the record's own references; the version chain is the
    publication's to know). DataCite's resource is an ``xs:all``: the element may go anywhere."""
    from lxml import etree

    parser = etree.XMLParser(no_network=True, resolve_entities=False, remove_blank_text=True)
    root = etree.fromstring(document, parser)
    holder = root.find(f"{{{DATACITE_NS}}}relatedIdentifiers")
    if holder is None:
        holder = etree.SubElement(root, f"{{{DATACITE_NS}}}relatedIdentifiers")
    element = etree.SubElement(holder, f"{{{DATACITE_NS}}}relatedIdentifier",
                               relatedIdentifierType=identifier_type, relationType="IsNewVersionOf")
    element.text = previous
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8", pretty_print=True)


def build_exports(record: dict[str, Any], settings: PublicationSettings,
                  previous: dict[str, Any] | None) -> list[Export]:
    """Every configured export of ``record``, validated; BadInput naming each that cannot be made."""
    from docket.exporters import xsd

    out: list[Export] = []
    problems: list[Problem] = []
    for fmt in settings.formats:
        try:
            export = export_record(record, fmt, settings.export)
            if fmt == "datacite" and previous is not None:
                data = add_previous_version(export.data, previous["identifier"], previous["identifier_type"])
                why_not = xsd.check("datacite", data, settings.export)
                export = dataclasses.replace(export, data=data, warnings=[why_not] if why_not else [])
        except DocketError as exc:
            problems.append(Problem(fmt, exc.message.removeprefix(f"{record['id']}.{record['revision']}: ")))
            continue
        out.append(export)
    if problems:
        listed = "; ".join(f"{p.where}: {p.message}" for p in problems)
        raise BadInput(f"{record['id']}.{record['revision']} cannot be published: {len(problems)} of the configured "
                       f"formats cannot be produced ({listed}). Fix the record or docket.toml, or leave a format "
                       "out with [publication] formats = [...]", problems)
    return out


class ExportStaging(Staging):
    """The exports of a version, written before the commit (see :mod:`docket.steps.staging`)."""

    def write(self, name: str, data: bytes) -> None:
        fd = os.open(self.path / name, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o644)
        with os.fdopen(fd, "wb") as out:
            out.write(data)
            out.flush()
            os.fsync(out.fileno())

    def install(self, names_: list[str]) -> None:
        """Rename each file into the version's folder (an existing file is never replaced)."""
        for name in names_:
            target = self.folder / name
            if target.exists():
                raise InstanceError(f"{target} exists already; the published files of a version are never replaced")
            os.replace(self.path / name, target)
        fsync_folder(self.folder)


# --------------------------------------------------------------------------- the step


def published_folder(host: StepHost, request_id: str, revision: int) -> Path:
    return host.instance.root / "published" / request_id / str(revision)


def publications_of(conn: Connection, request_id: str) -> list[Any]:
    p = tables.publications
    return list(conn.execute(select(p).where(p.c.request_id == request_id).order_by(p.c.version)))


def run_publication(ctx: StepContext, ref: str, *, dry_run: bool = False) -> dict[str, Any]:
    """Publish request ``ref``'s current revision as ``ctx.actor``; returns what was (or, with
    ``dry_run``, would be) published: identifier, version, exports and their files."""
    started = now()  # the publication activity: from the first read to the commit
    host = ctx.host
    request_id, asked = parse_ref(ref)
    doc = host.get(request_id)
    revision = doc["revision"]
    if asked is not None and asked != revision:
        raise BadInput(f"{request_id}: only the current revision ({revision}) is published, not revision {asked}")
    check_publishable(doc)
    settings = publication_settings(host)
    with ctx.store.connect() as conn:
        earlier = publications_of(conn, request_id)
    done = next((r for r in earlier if r.revision == revision), None)
    if done is not None:
        raise refuse("publish-once", f"{request_id}.{revision} is published already, as {done.identifier} "
                                     f"(version {done.version}); a new revision publishes as a new version")
    previous = earlier[-1] if earlier else None
    version = (previous.version + 1) if previous is not None else 1
    landing = f"{ctx.config.base_uri}{request_id}.{revision}"
    if settings.datacite is not None:
        identifier, identifier_type = settings.datacite.doi(request_id, revision), "DOI"
        note = f"the DOI {identifier} is registered with DataCite ({settings.datacite.endpoint}) by a doi job"
    else:
        identifier, identifier_type = landing, "URL"
        note = ("no [datacite] configuration: the identifier is the instance's own persistent URL "
                f"({identifier})")
    prior = ({"identifier": previous.identifier, "identifier_type": previous.identifier_type,
              "version": previous.version, "revision": previous.revision} if previous is not None else None)
    published = {"identifier": identifier, "identifier_type": identifier_type, "version": version,
                 "url": landing, "previous": prior}
    record = {**doc, "published": published}
    if identifier_type == "DOI":
        record["publication"] = {"doi": identifier}
    exports = build_exports(record, settings, prior)
    folder = published_folder(host, request_id, revision)
    files = [folder / file_name(request_id, revision, e) for e in exports]
    summary = [{"format": e.format, "path": str(path), "media_type": e.media_type,
                "sha256": "sha256:" + hashlib.sha256(e.data).hexdigest(), "bytes": len(e.data),
                "validated": e.validated, "warnings": list(e.warnings)}
               for e, path in zip(exports, files, strict=True)]
    result: dict[str, Any] = {
        "id": request_id, "revision": revision, "ref": f"{request_id}.{revision}", "version": version,
        "identifier": identifier, "identifier_type": identifier_type, "url": landing,
        "status": "pending" if identifier_type == "DOI" else "findable", "previous": prior,
        "exports": summary, "note": note, "dry_run": dry_run,
        "warnings": [f"{s['format']}: {w}" for s in summary for w in s["warnings"]],
    }
    if dry_run:
        result["doi_job"] = "would be queued" if identifier_type == "DOI" else None
        return result
    root = host.instance.root
    stored = [{k: s[k] for k in ("format", "media_type", "sha256", "bytes", "validated")}
              | {"location": str(Path(s["path"]).relative_to(root))} for s in summary]
    job: dict[str, Any] = {}
    written: list[Any] = []

    def write(conn: Connection, row: Any) -> None:
        if row.revision != revision:
            raise Conflict(f"{request_id} was revised (now revision {row.revision}) while it was being "
                           "published; publish again")
        p = tables.publications
        latest = conn.execute(select(func.max(p.c.version)).where(p.c.request_id == request_id)).scalar()
        if (latest or 0) + 1 != version:
            raise Conflict(f"{request_id} was published by someone else meanwhile (version {latest}); nothing was "
                           "changed")
        at = now()
        try:
            conn.execute(p.insert(), {
                "request_id": request_id, "revision": revision, "version": version, "identifier": identifier,
                "identifier_type": identifier_type, "status": result["status"], "exports": stored,
                "published_by": ctx.actor.label, "published_date": at, "updated_date": at,
            })
        except IntegrityError:  # another publish of this revision committed first
            raise Conflict(f"{request_id}.{revision} was published by someone else meanwhile; nothing "
                           "was changed") from None
        if identifier_type == "DOI":
            from docket.jobs import queue

            datacite = next(s for s in stored if s["format"] == "datacite")
            job["id"] = queue.enqueue(conn, "doi", key=f"doi:{identifier}", request_id=request_id, at=at,
                                      payload=payload_for(request_id, revision, version, identifier, landing,
                                                          datacite["location"], datacite["sha256"]))
        ctx.audit(conn, "publish", request_id, {"revision": revision, "version": version,
                                                "identifier": identifier, "identifier_type": identifier_type}, at)
        index(conn, request_id, revision, record)
        ctx.notify(conn, "published", request_id, revision, comment=f"published as {identifier} (version {version})")

    def prov_values(n: int) -> dict[str, Any]:
        nodes = [ids.step_node(request_id, "publication", n, f"export-{s['format']}") for s in summary]
        published_id = ids.child(ids.revision_id(request_id, revision), "published")
        values: dict[str, Any] = {
            "published": Id(published_id),
            "pid": identifier,
            "publishedLocation": Uri(f"https://doi.org/{identifier}" if identifier_type == "DOI" else landing),
            "version": version,
            "export": [Id(node) for node in nodes],
            "exportStandard": [Uri(STANDARDS.get(s["format"], f"{ids.VOCAB_URI}{s['format']}")) for s in summary],
            "exportLocation": [location_iri(s["path"]) for s in summary],
            "exportMediaType": [media_type_iri(s["media_type"]) for s in summary],
            "exportChecksum": [checksum_id(node, "sha256") for node in nodes],
            "exportChecksumRef": [checksum_id(node, "sha256") for node in nodes],
            "exportSha256": [checksum_hex(s["sha256"]) for s in summary],
            "exportTime": list(written),
            "startTime": started,
            **ctx.agent_values("publisher"),
        }
        if prior is not None:
            values["previousPublished"] = Id(ids.child(ids.revision_id(request_id, prior["revision"]), "published"))
            values["previousPid"] = prior["identifier"]
        return values

    with ExportStaging(folder) as staging:
        for export, path in zip(exports, files, strict=True):
            staging.write(path.name, export.data)
            written.append(now())  # when each export was generated (PROV), before the commit
        step = ctx.set_step(request_id, "publication", "closed", "done",
                            comment=f"published as {identifier} (version {version})",
                            prov_values=prov_values, write=write)
        staging.keep = True
        try:
            staging.install([p.name for p in files])
        except (OSError, InstanceError) as exc:
            why = exc.message if isinstance(exc, InstanceError) else exc.strerror or str(exc)
            raise InstanceError(f"{request_id}.{revision} was published (recorded), but its files could not be "
                                f"moved into {folder}: {why}; they are in {staging.path}") from None
    result.update(activity=str(step["activity"]), doi_job=job.get("id"))
    return result


def index(conn: Connection, request_id: str, revision: int, record: dict[str, Any]) -> None:
    """Add the published revision to the search index, in the publication's transaction, when
    docket's search module is installed (it is optional: publishing works without it)."""
    if importlib.util.find_spec("docket.search") is None:
        return
    search = importlib.import_module("docket.search")
    indexer = getattr(search, "index_record", None)
    if indexer is not None:
        indexer(conn, conn.dialect.name, request_id, revision, record)
