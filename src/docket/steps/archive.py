"""The archive step: a BagIt bag per published revision, described by an RO-Crate, and its fixity.

``docket archive ID`` packs the published revision of a request for long-term storage: the stored
data files (``files/<id>/<rev>/``), every export of its publication (``published/<id>/<rev>/``),
the request's PROV as PROV-JSON and PROV-N, the quality report of its latest QA run (JSON and
HTML) and an RO-Crate (``ro-crate-metadata.json``) that describes them all, as one BagIt bag with
SHA-256 and MD5 manifests, at ``<location>/<id>.<rev>/``. ``location`` is ``[archive] location``
of ``docket.toml`` (relative to the instance, or absolute; default ``archive``). It is refused
(exit 3, naming the rule) unless the revision is published (``archive-needs-publication``) and
not archived yet (``archive-once``); only a data manager archives (the API checks the caller).

The bag is built in a staging folder beside its final place (same file system, so the last step
is one rename), validated with ``bagit`` (every checksum, the Payload-Oxum), and each data file's
SHA-256 compared with what the transfer measured, so a file that changed on disk since it was
received is never archived as if it were the original. Then one transaction records it: the
``archives`` row (location, Payload-Oxum, the SHA-256 of the tag manifest, which covers the
payload manifests and so stands for the whole bag), the step closed/done, history, audit and the
archiving PROV bundle (the package derived from the published dataset and the stored files). Only
after that commit is the bag renamed into place: a crash leaves either no record and a staging
folder that is removed, or the record and the bag.

The PROV inside the bag is the request's PROV *before* this step: a bag cannot hold the record
of its own checksum. The archiving bundle is in the store, and the next archive of a later
revision carries it.

``docket archive verify`` re-checks bags: ``bagit`` validation (every manifest checksum, the
Payload-Oxum, no file missing or added) plus the tag manifest against the digest recorded when
the bag was written (a bag whose data *and* manifests were rewritten consistently is still
caught). A failed check names every file that changed, went missing or appeared.
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass, field
from datetime import UTC
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, select, update
from sqlalchemy.exc import IntegrityError

from docket import __version__
from docket.access import refuse
from docket.errors import BadInput, Conflict, InstanceError, NotFound, Problem, ProblemsFound
from docket.provenance import identifiers as ids
from docket.provenance.recorder import Id
from docket.provenance.terms import checksum_hex, checksum_id, location_iri
from docket.steps.context import StepContext, StepHost, now, parse_ref
from docket.steps.staging import Staging, fsync_folder
from docket.store import tables
from docket.text import pick

#: The manifests every bag has (the issue asks for both; SHA-256 is the one docket records).
CHECKSUMS = ("sha256", "md5")
#: Folders of the payload (``data/`` of the bag), by what they hold.
FILES, METADATA, PROVENANCE, QUALITY = "files", "metadata", "provenance", "quality"
#: A released RO-Crate specification (rocrate's own default may be a draft), for long-term reading.
CRATE_VERSION = "1.2"
_KNOWN = {"location"}
_BLOCK = 1 << 20
_MEDIA = {".json": "application/json", ".html": "text/html", ".provn": "text/provenance-notation"}


@dataclass(frozen=True)
class ArchiveSettings:
    """``[archive]`` of docket.toml: where bags are written (resolved against the instance)."""

    location: Path


def archive_settings(host: StepHost) -> ArchiveSettings:
    """Read ``[archive]``, naming a bad value (exit 2) before anything is built."""
    table = (host.config.extra or {}).get("archive", {})
    if not isinstance(table, dict):
        raise BadInput(f"docket.toml: [archive] must be a table, not {table!r}")
    unknown = sorted(set(table) - _KNOWN)
    if unknown:
        raise BadInput(f"docket.toml [archive]: unknown setting {unknown[0]!r} (known: {', '.join(sorted(_KNOWN))})")
    location = table.get("location", "archive")
    if not isinstance(location, str) or not location.strip() or "\x00" in location:
        raise BadInput(f"docket.toml [archive]: location must be a folder (relative to the instance, or "
                       f"absolute), not {location!r}")
    path = Path(location)
    return ArchiveSettings(path if path.is_absolute() else host.instance.root / path)


def stored_location(root: Path, path: Path) -> str:
    """How the row names a bag: relative to the instance when it lies in it (the instance folder
    may move), else absolute."""
    try:
        return path.relative_to(root).as_posix()
    except ValueError:
        return str(path)


def resolve_location(root: Path, location: str) -> Path:
    path = Path(location)
    return path if path.is_absolute() else root / path


# --------------------------------------------------------------------------- refusals


def check_archivable(doc: dict[str, Any], publication: Any) -> None:
    """Refuse (exit 3, naming the rule) a revision that is not published."""
    ref = f"{doc['id']}.{doc['revision']}"
    step = (doc.get("steps") or {}).get("publication") or {}
    if (step.get("status"), step.get("outcome")) != ("closed", "done") or publication is None:
        state = step.get("status", "open") + (f"/{step['outcome']}" if step.get("outcome") else "")
        raise refuse("archive-needs-publication",
                     f"{ref} cannot be archived: only a published revision is archived (publication is "
                     f"{state}); run docket publish {doc['id']}")


# --------------------------------------------------------------------------- building the bag


@dataclass
class Item:
    """One payload file of the bag: where it goes (relative to ``data/``) and how it is described."""

    path: str
    media_type: str
    sha256: str
    size: int
    kind: str  # data, export, provenance, report
    name: str
    extra: dict[str, Any] = field(default_factory=dict)


def copy_hashed(source: Path, target: Path) -> tuple[str, str, int]:
    """Copy ``source`` to a new ``target`` in one read, returning its SHA-256, MD5 and size."""
    sha, md5, size = hashlib.sha256(), hashlib.md5(usedforsecurity=False), 0
    fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o644)
    with source.open("rb") as src, os.fdopen(fd, "wb") as out:
        for block in iter(lambda: src.read(_BLOCK), b""):
            sha.update(block)
            md5.update(block)
            size += len(block)
            out.write(block)
        out.flush()
        os.fsync(out.fileno())
    return sha.hexdigest(), md5.hexdigest(), size


def write_bytes(target: Path, data: bytes) -> str:
    fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o644)
    with os.fdopen(fd, "wb") as out:
        out.write(data)
        out.flush()
        os.fsync(out.fileno())
    return hashlib.sha256(data).hexdigest()


def licence_url(licence: str) -> str:
    """An SPDX id as its page (as the exporters write it); a URL as it is."""
    return licence if licence.startswith(("http://", "https://")) else f"https://spdx.org/licenses/{licence}.html"


def write_crate(folder: Path, doc: dict[str, Any], publication: Any, items: list[Item],
                languages: list[str]) -> None:
    """``ro-crate-metadata.json`` in ``folder`` (the payload before it becomes ``data/``): the
    dataset (name, description, licence, identifier, version of its publication) and every
    payload file as a data entity with its media type and SHA-256."""
    from rocrate.rocrate import ROCrate

    meta = doc.get("metadata") or {}
    descriptive = meta.get("project_descriptive") or {}
    administrative = meta.get("dataset_administrative") or {}
    crate = ROCrate(gen_preview=False, version=CRATE_VERSION)
    root = crate.root_dataset
    root["name"] = pick(descriptive.get("title"), languages) or f"{doc['id']}.{doc['revision']}"
    root["description"] = (pick(descriptive.get("abstract"), languages)
                           or f"The archived revision {doc['revision']} of {doc['id']}")
    licence = administrative.get("licence")
    if isinstance(licence, str) and licence:
        root["license"] = licence_url(licence)
    root["identifier"] = publication.identifier
    root["version"] = str(publication.version)
    published = publication.published_date
    if published.tzinfo is None:  # SQLite gives back naive datetimes; docket stores UTC
        published = published.replace(tzinfo=UTC)
    root["datePublished"] = published.isoformat()
    keywords = descriptive.get("keywords")
    if isinstance(keywords, list):
        root["keywords"] = [pick(k, languages) for k in keywords if pick(k, languages)]
    for item in items:
        properties: dict[str, Any] = {"name": item.name, "encodingFormat": item.media_type,
                                      "contentSize": str(item.size), "sha256": item.sha256, **item.extra}
        crate.add_file(source=folder / item.path, dest_path=item.path, properties=properties)
    crate.write(folder)  # the files are in place already: only the metadata file is written


def build_payload(ctx: StepContext, folder: Path, doc: dict[str, Any], publication: Any,
                  stored: list[dict[str, Any]]) -> list[Item]:
    """Fill ``folder`` with the payload; BadInput or ProblemsFound naming what cannot go in."""
    from docket.provenance.document import assemble
    from docket.provenance.export import serialize

    host, root = ctx.host, ctx.instance.root
    request_id, revision = doc["id"], doc["revision"]
    items: list[Item] = []
    changed: list[Problem] = []
    for directory in (FILES, METADATA, PROVENANCE, QUALITY):
        (folder / directory).mkdir()
    for entry in stored:
        source = Path(entry["location"] or "")
        if not entry["location"] or not source.is_file():
            changed.append(Problem(f"files/{entry['name']}", f"the stored file is missing from {source}"))
            continue
        target = folder / FILES / entry["name"]
        sha, md5, size = copy_hashed(source, target)
        if sha != entry["sha256"] or (entry.get("md5") and md5 != entry["md5"]):
            changed.append(Problem(f"files/{entry['name']}", f"the stored file changed since it was transferred "
                                                             f"(sha256 {sha}, transfer measured {entry['sha256']})"))
            continue
        items.append(Item(f"{FILES}/{entry['name']}", entry.get("media_type") or "application/octet-stream",
                          sha, size, "data", entry["name"]))
    if changed:
        raise ProblemsFound(f"{request_id}.{revision} was not archived: {len(changed)} stored file(s) cannot be "
                            "archived as transferred; transfer again", changed)
    for export in publication.exports:
        source = root / export["location"]
        if not source.is_file():
            raise InstanceError(f"{request_id}.{revision}: the {export['format']} export {source} is missing; "
                                "it cannot be archived")
        name = source.name
        sha, _, size = copy_hashed(source, folder / METADATA / name)
        if export.get("sha256") and checksum_hex(export["sha256"]) != sha:
            raise ProblemsFound(f"{request_id}.{revision} was not archived: the {export['format']} export "
                                f"{source} changed since it was published", [Problem(name, "changed")])
        items.append(Item(f"{METADATA}/{name}", export["media_type"], sha, size, "export", name,
                          {"description": f"the {export['format']} metadata export of the publication"}))
    bundles = host.prov_bundles(request_id)
    document = assemble(bundles, ctx.config.base_uri)
    for fmt, suffix in (("json", ".prov.json"), ("provn", ".provn")):
        data = serialize(document, fmt)
        name = f"{request_id}{suffix}"
        sha = write_bytes(folder / PROVENANCE / name, data)
        items.append(Item(f"{PROVENANCE}/{name}", _MEDIA[Path(name).suffix], sha, len(data), "provenance",
                          f"PROV of {request_id} ({'PROV-JSON' if fmt == 'json' else 'PROV-N'})"))
    qa = max((b["n"] for b in bundles if b["step"] == "qa"), default=None)
    if qa is not None:
        for suffix in (".report.json", ".report.html"):
            source = ctx.instance.runs_dir / request_id / f"qa-{qa}{suffix}"
            if source.is_file():
                sha, _, size = copy_hashed(source, folder / QUALITY / source.name)
                items.append(Item(f"{QUALITY}/{source.name}", _MEDIA[source.suffix], sha, size, "report",
                                  f"quality report of QA run {qa}"))
    return items


def make_bag(folder: Path, bag_info: dict[str, str]) -> tuple[str, str]:
    """Turn ``folder`` into a bag (payload moved into ``data/``), validate it with ``bagit``;
    returns its Payload-Oxum and the SHA-256 of its tag manifest (hex)."""
    import bagit

    try:
        bagit.make_bag(str(folder), bag_info=dict(bag_info), checksums=list(CHECKSUMS))
        bag = bagit.Bag(str(folder))
        bag.validate(processes=1)
    except bagit.BagError as exc:
        raise InstanceError(f"the bag written in {folder} is not valid: {exc}") from None
    with (folder / "tagmanifest-sha256.txt").open("rb") as manifest:
        digest = hashlib.file_digest(manifest, "sha256").hexdigest()
    return str(bag.info["Payload-Oxum"]), digest


class BagStaging(Staging):
    """The bag's folder while it is built, beside its final place (see :mod:`docket.steps.staging`)."""

    def install(self, target: Path) -> None:
        if target.exists():
            raise InstanceError(f"{target} exists already; a bag is never replaced")
        os.rename(self.path, target)
        fsync_folder(self.folder)


# --------------------------------------------------------------------------- the step


def archives_of(conn: Connection, request_id: str | None = None) -> list[Any]:
    a = tables.archives
    query = select(a).order_by(a.c.request_id, a.c.revision)
    if request_id is not None:
        query = query.where(a.c.request_id == request_id)
    return list(conn.execute(query))


def run_archive(ctx: StepContext, ref: str) -> dict[str, Any]:
    """Archive request ``ref``'s published current revision as ``ctx.actor``; returns where the
    bag is, its Payload-Oxum, tag-manifest digest and what it holds."""
    started = now()
    host = ctx.host
    request_id, asked = parse_ref(ref)
    doc = host.get(request_id)
    revision = doc["revision"]
    if asked is not None and asked != revision:
        raise BadInput(f"{request_id}: only the current revision ({revision}) is archived, not revision {asked}")
    p = tables.publications
    with ctx.store.connect() as conn:
        publication = conn.execute(select(p).where(p.c.request_id == request_id, p.c.revision == revision)).first()
        done = next((r for r in archives_of(conn, request_id) if r.revision == revision), None)
    check_archivable(doc, publication)
    if done is not None:
        raise refuse("archive-once", f"{request_id}.{revision} is archived already, in {done.location}; a new "
                                     "revision is archived once it is published")
    from docket.workflow import StepChange, check_step_change

    check_step_change(StepChange("archive", "closed", "done"), ctx.actor.role, doc["review_state"], doc["steps"])
    settings = archive_settings(host)
    target = settings.location / f"{request_id}.{revision}"
    if target.exists():
        raise InstanceError(f"{target} exists already, but no archive of {request_id}.{revision} is recorded; "
                            "move it away (a bag is never replaced)")
    stored = [f for f in host.files(request_id) if f["status"] == "stored"]
    transfer_n = max((b["n"] for b in host.prov_bundles(request_id) if b["step"] == "transfer"), default=None)
    title = pick(((doc.get("metadata") or {}).get("project_descriptive") or {}).get("title"),
                 list(ctx.config.languages))
    bag_info = {"Bagging-Date": started.date().isoformat(), "Bag-Software-Agent": f"docket {__version__}",
                "External-Identifier": publication.identifier, "Internal-Sender-Identifier": f"{request_id}.{revision}",
                **({"External-Description": " ".join(title.split())} if title else {})}
    location = stored_location(ctx.instance.root, target)
    result: dict[str, Any] = {"id": request_id, "revision": revision, "ref": f"{request_id}.{revision}",
                              "identifier": publication.identifier, "location": str(target)}
    with BagStaging(settings.location) as staging:
        items = build_payload(ctx, staging.path, doc, publication, stored)
        write_crate(staging.path, doc, publication, items, list(ctx.config.languages))
        oxum, manifest = make_bag(staging.path, bag_info)

        def write(conn: Connection, row: Any) -> None:
            if row.revision != revision:
                raise Conflict(f"{request_id} was revised (now revision {row.revision}) while it was being "
                               "archived; nothing was changed")
            at = now()
            try:
                conn.execute(tables.archives.insert(), {
                    "request_id": request_id, "revision": revision, "location": location, "bag_oxum": oxum,
                    "manifest_sha256": manifest, "created_date": at, "verified_date": at, "verified_ok": True})
            except IntegrityError:
                raise Conflict(f"{request_id}.{revision} was archived by someone else meanwhile; nothing was "
                               "changed") from None
            ctx.audit(conn, "archive", request_id, {"revision": revision, "location": location,
                                                    "bag_oxum": oxum, "manifest_sha256": manifest}, at)

        def prov_values(n: int) -> dict[str, Any]:
            package = ids.step_node(request_id, "archive", n, "package")
            values: dict[str, Any] = {
                "package": Id(package), "archiveLocation": location_iri(target),
                "packageChecksum": checksum_id(package, "sha256"),
                "packageChecksumRef": checksum_id(package, "sha256"),
                "packageSha256": manifest, "fixity": "valid", "payloadOxum": oxum,
                "published": Id(ids.child(ids.revision_id(request_id, revision), "published")),
                "pid": publication.identifier, "startTime": started,
                **ctx.agent_values("operator"),
            }
            if transfer_n is not None and stored:
                values["stored"] = [Id(ids.stored_file_id(request_id, transfer_n, f["name"])) for f in stored]
                values["usedTime"] = [started] * len(stored)
            return values

        step = ctx.set_step(request_id, "archive", "closed", "done", comment=f"archived in {location}",
                            prov_values=prov_values, write=write)
        staging.keep = True
        try:
            staging.install(target)
        except (OSError, InstanceError) as exc:
            why = exc.message if isinstance(exc, InstanceError) else exc.strerror or str(exc)
            raise InstanceError(f"{request_id}.{revision} was archived (recorded), but its bag could not be moved "
                                f"to {target}: {why}; it is in {staging.path}") from None
    result.update(activity=str(step["activity"]), bag_oxum=oxum, manifest_sha256=manifest,
                  files=[{"path": f"data/{i.path}", "kind": i.kind, "media_type": i.media_type, "sha256": i.sha256,
                          "bytes": i.size} for i in items])
    return result


# --------------------------------------------------------------------------- fixity


def check_bag(path: Path, manifest_sha256: str | None = None) -> list[Problem]:
    """Every problem of the bag at ``path``: ``bagit`` validation (checksums of every manifest,
    Payload-Oxum, completeness) and, given the digest recorded when it was written, its tag
    manifest. Each problem names the file (relative to the bag); none means intact."""
    import bagit

    if not path.is_dir():
        return [Problem(str(path), "the bag is missing")]
    try:
        bag = bagit.Bag(str(path))
    except bagit.BagError as exc:
        return [Problem(str(path), f"not a readable bag: {exc}")]
    problems: list[Problem] = []
    missing = [a for a in CHECKSUMS if a not in bag.algorithms]
    problems += [Problem(f"manifest-{a}.txt", "missing") for a in missing]
    try:
        bag.validate(processes=1)
    except bagit.BagValidationError as exc:
        problems += name_problems(bag, path) or [Problem(str(path), str(exc))]
    except bagit.BagError as exc:
        problems.append(Problem(str(path), str(exc)))
    tagmanifest = path / "tagmanifest-sha256.txt"
    if manifest_sha256 is not None:
        if not tagmanifest.is_file():
            problems.append(Problem("tagmanifest-sha256.txt", "missing"))
        else:
            with tagmanifest.open("rb") as f:
                found = hashlib.file_digest(f, "sha256").hexdigest()
            if found != manifest_sha256 and not any(p.where == "tagmanifest-sha256.txt" for p in problems):
                problems.append(Problem("tagmanifest-sha256.txt",
                                        f"changed since the bag was written (sha256 {found}, recorded "
                                        f"{manifest_sha256})"))
    return problems


def name_problems(bag: Any, path: Path) -> list[Problem]:
    """Every payload and tag file that changed, went missing or appeared: bagit stops at the
    first failing stage (a Payload-Oxum mismatch hides which file), so each file is read here."""
    problems: list[Problem] = []
    entries: dict[str, dict[str, str]] = {**bag.payload_entries(), **bag.tagfile_entries()}
    for rel in sorted(entries):
        full = path / rel
        if not full.is_file():
            problems.append(Problem(rel, "missing"))
            continue
        expected = {alg: value.lower() for alg, value in entries[rel].items() if alg in hashlib.algorithms_guaranteed}
        hashers = {alg: hashlib.new(alg) for alg in expected}
        with full.open("rb") as f:
            for block in iter(lambda f=f: f.read(_BLOCK), b""):
                for h in hashers.values():
                    h.update(block)
        wrong = [f"{alg} {hashers[alg].hexdigest()}, expected {value}" for alg, value in sorted(expected.items())
                 if hashers[alg].hexdigest() != value]
        if wrong:
            problems.append(Problem(rel, "changed (" + "; ".join(wrong) + ")"))
    problems += [Problem(rel, "not in the manifests (added after the bag was written)")
                 for rel in sorted(set(bag.payload_files()) - set(entries))]
    return problems


def verify_archives(ctx: StepContext, ref: str | None = None) -> dict[str, Any]:
    """Re-check the fixity of the bags of ``ref`` (every revision archived, or the one named), or
    of every archive of the instance; record each check (``verified_date``/``verified_ok`` and an
    audit row). Returns a summary with every problem by file."""
    root = ctx.instance.root
    request_id, revision = parse_ref(ref) if ref is not None else (None, None)
    if request_id is not None:
        ctx.host.get(request_id)  # exists, and the caller may see it
    with ctx.store.connect() as conn:
        rows = [r for r in archives_of(conn, request_id) if revision is None or r.revision == revision]
    if ref is not None and not rows:
        raise NotFound(f"{ref} has no archive" + ("" if revision is None else " of that revision")
                       + f"; archive it with docket archive {request_id}")
    checked: list[dict[str, Any]] = []
    for row in rows:
        path = resolve_location(root, row.location)
        problems = check_bag(path, row.manifest_sha256)
        at = now()
        ok = not problems
        a = tables.archives
        with ctx.store.transaction() as conn:
            conn.execute(update(a).where(a.c.id == row.id).values(verified_date=at, verified_ok=ok))
            ctx.audit(conn, "archive:verify", row.request_id, {
                "revision": row.revision, "location": row.location, "ok": ok,
                "problems": [{"file": p.where, "problem": p.message} for p in problems[:50]],
                **({"more": len(problems) - 50} if len(problems) > 50 else {})}, at)
        checked.append({"id": row.request_id, "revision": row.revision, "ref": f"{row.request_id}.{row.revision}",
                        "location": str(path), "ok": ok, "verified_date": at.isoformat(),
                        "problems": [{"file": p.where, "problem": p.message} for p in problems]})
    failed = sum(1 for c in checked if not c["ok"])
    return {"checked": len(checked), "ok": len(checked) - failed, "failed": failed, "archives": checked}


def describe(summary: dict[str, Any]) -> str:
    """What a person (or a scheduled job's log) reads: one line per archive, one per problem."""
    lines = []
    for archive in summary["archives"]:
        if archive["ok"]:
            lines.append(f"{archive['ref']}: intact  {archive['location']}")
            continue
        lines.append(f"{archive['ref']}: {len(archive['problems'])} problem(s)  {archive['location']}")
        lines += [f"  {p['file']}: {p['problem']}" for p in archive["problems"]]
    lines.append(f"{summary['checked']} archive(s) checked: {summary['ok']} intact, {summary['failed']} with problems")
    return "\n".join(lines)


__all__ = ["ArchiveSettings", "archive_settings", "check_bag", "describe", "run_archive", "verify_archives"]
