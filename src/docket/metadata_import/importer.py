"""Running an import: every file mapped and validated first, then each stored as a draft.

Why two passes: exit 2 means "bad input, nothing was changed" (DESIGN, Command line), so a
refused file must leave the store untouched; every record is therefore read, vetted, mapped and
validated before the first is stored. Only when all pass is each stored, one transaction per
record (``Docket.submit(..., state="draft")``), so a crash mid-way leaves whole drafts, never
half of one.

Why drafts may be incomplete: a legacy record often lacks something a request must have (old
DataCite kernels state no rights, a template has no abstract yet). Refusing it would keep a data
centre's holdings out; importing it as an incomplete draft lets its owner or a data manager
complete it. So a record is validated as a *draft* (:func:`docket.drafts.validate_draft`: what it
holds must be right -- types, formats, sizes, cross-field rules) and what it lacks is reported per
record as ``to_complete`` (:func:`docket.drafts.missing`, the very list ``docket review ID
submitted`` refuses with, rule ``complete-to-submit``). Malformed input (bombs, wrong namespace,
fragments, unknown kernels, values of the wrong type or format) is still refused, exit 2.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from docket.errors import BadInput, DocketError, NotFound, Problem

SUFFIXES = (".xml",)


@dataclass
class Outcome:
    """What happened to one file."""

    source: str
    status: str  # imported, refused, not-imported (another file was refused)
    standard: str = ""
    id: str | None = None
    message: str = ""
    unmapped: list[str] = field(default_factory=list)
    #: what the draft still lacks to be submitted for review (JSON path and message)
    to_complete: list[Problem] = field(default_factory=list)
    document: dict[str, Any] | None = field(default=None, repr=False)

    def as_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"source": self.source, "status": self.status}
        for name in ("standard", "id", "message"):
            if getattr(self, name):
                out[name] = getattr(self, name)
        if self.status != "refused":
            out["unmapped"] = self.unmapped
            out["to_complete"] = [p.as_dict() for p in self.to_complete]
        return out


@dataclass
class Report:
    outcomes: list[Outcome] = field(default_factory=list)

    @property
    def exit_code(self) -> int:
        return 2 if any(o.status == "refused" for o in self.outcomes) else 0

    def as_dict(self) -> dict[str, Any]:
        return {"files": [o.as_dict() for o in self.outcomes],
                "imported": sum(o.status == "imported" for o in self.outcomes),
                "incomplete": sum(o.status == "imported" and bool(o.to_complete) for o in self.outcomes),
                "refused": sum(o.status == "refused" for o in self.outcomes)}

    def text(self) -> str:
        lines = []
        for o in self.outcomes:
            ref = f" -> {o.id} ({'incomplete ' if o.to_complete else ''}draft)" if o.id else ""
            message = o.message.removeprefix(f"{o.source}: ")  # the line names the file already
            lines.append(f"{o.status:<13} {o.source}{ref}" + (f": {message}" if message else ""))
            for xpath in o.unmapped:
                lines.append(f"    unmapped: {xpath}")
            for problem in o.to_complete if o.status != "refused" else []:
                lines.append(f"    to complete: {problem}")
        counts = self.as_dict()
        incomplete = f" ({counts['incomplete']} incomplete: to complete before review)" if counts["incomplete"] else ""
        lines.append(f"{counts['imported']} imported{incomplete}, {counts['refused']} refused")
        return "\n".join(lines)


def candidates(paths: list[str]) -> list[Path]:
    """The files to read: each file given, and the ``*.xml`` files of each folder (sorted)."""
    if not paths:
        raise BadInput("docket import-metadata: give at least one XML file or folder")
    out: list[Path] = []
    for p in paths:
        path = Path(p)
        if not path.exists():
            raise NotFound(f"{p} does not exist")
        if path.is_dir():
            out.extend(sorted(f for f in path.rglob("*") if f.is_file() and f.suffix.lower() in SUFFIXES))
        else:
            out.append(path)
    return out


def parse_contact(value: str) -> dict[str, str]:
    """``"Name <email>"`` (or a bare address) as a request contact; bad usage (exit 2) otherwise."""
    from email.utils import parseaddr

    name, address = parseaddr(value)
    if "@" not in address:
        raise BadInput(f"--contact {value!r}: give 'Name <email@example.org>'")
    return {"name": name or address, "email": address}


def import_metadata(d: Any, paths: list[str], *, max_bytes: int | None = None,
                    contact: dict[str, str] | None = None) -> Report:
    """Import ``paths`` into ``d`` (a :class:`docket.api.Docket`) as drafts; see the module docstring.

    ``contact`` answers for records that name nobody with an e-mail address (DataCite never
    does); without it the importing account does, if it has an address.
    """
    from docket.drafts import has_content, missing, validate_draft
    from docket.metadata_import import map_file

    files = candidates(paths)
    limit = max_bytes or d.instance.config.limit("max_request_bytes")
    inbox = d.instance.root / "inbox"
    account = d.caller.account
    fallback = contact or ({"name": account.name, "email": account.email}
                           if account is not None and account.email else None)
    report = Report()
    for path in files:
        try:
            mapped = map_file(path, max_bytes=limit, inbox=inbox, fallback=fallback)
            if not has_content(mapped.document):  # an empty shell is no holding to complete
                raise BadInput(f"{path}: holds nothing a request can be made of (no title, abstract, "
                               "keywords, people, licence, coverage or data file)")
            validate_draft(d.schemas, mapped.document, "request")
        except DocketError as exc:
            message = exc.message if str(path) in exc.message else f"{path}: {exc.message}"
            problems = "; ".join(str(p) for p in exc.problems)
            report.outcomes.append(Outcome(str(path), "refused", message=message + (f" ({problems})" if problems else "")))
            continue
        report.outcomes.append(Outcome(str(path), "ready", mapped.standard, unmapped=mapped.unmapped,
                                       to_complete=missing(d.schemas, mapped.document), document=mapped.document))
    if report.exit_code:
        for o in report.outcomes:
            if o.status == "ready":
                o.status, o.message = "not-imported", "not stored: another file was refused"
        return report
    for o in report.outcomes:
        result = d.submit(o.document or {}, origin=f"import-metadata:{o.source}", state="draft")
        o.status, o.id = "imported", result["id"]
    return report
