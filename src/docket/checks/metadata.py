"""Metadata completeness checks on a request record (DESIGN.md, "Quality checks and reports").

A title of at least five words, an abstract of at least twenty, keywords, a contact, a licence,
temporal and spatial coverage. A text may be a string or an object of language code -> string;
then *each* language must meet the bar on its own, so a French title of two words fails even if
the English one is long enough.
"""

from __future__ import annotations

import datetime as dt
from abc import abstractmethod
from typing import Any

from docket.checks.base import CheckResult, Findings, RecordCheck, RecordContext, clip
from docket.checks.registry import register

DESCRIPTIVE = "metadata.project_descriptive"
ADMINISTRATIVE = "metadata.dataset_administrative"
CONTEXTUAL = "metadata.experiment_contextual"


def lookup(record: dict[str, Any], path: str) -> Any:
    """The value at a dotted path of the record, or None when any step is missing."""
    node: Any = record
    for part in path.split("."):
        if not isinstance(node, dict):
            return None
        node = node.get(part)
    return node


def texts(value: Any) -> list[tuple[str | None, Any]]:
    """(language or None, text) pairs of a string or a language map."""
    if isinstance(value, dict):
        return list(value.items())
    return [(None, value)]


class _MetadataCheck(RecordCheck):
    family = "metadata"

    def fail(self, findings: Findings, path: str, value: Any, note: str) -> None:
        findings.add([None], None, [clip(value) if isinstance(value, str) else value],
                     extra={"path": path, "note": note})

    def run(self, context: RecordContext) -> list[CheckResult]:
        findings = self.findings(None)
        self.inspect(context.record, findings)
        found = "; ".join(loc["note"] for loc in findings.locations()) or "present and complete"
        return [self.result(findings, found=found)]

    @abstractmethod
    def inspect(self, record: dict[str, Any], findings: Findings) -> None:
        """Add a finding for every place the record falls short."""


class _WordsCheck(_MetadataCheck):
    path = ""
    minimum_words = 0

    def inspect(self, record, findings):
        value = lookup(record, self.path)
        if value in (None, "", {}):
            self.fail(findings, self.path, None, f"no {self.path.rsplit('.', 1)[-1]}")
            return
        for lang, text in texts(value):
            where = f"{self.path}.{lang}" if lang else self.path
            if not isinstance(text, str):
                self.fail(findings, where, text, "not a text")
                continue
            words = len(text.split())
            if words < self.minimum_words:
                label = f" ({lang})" if lang else ""
                self.fail(findings, where, text,
                          f"{words} words{label}, at least {self.minimum_words} needed")


@register
class Title(_WordsCheck):
    id = "metadata.title"
    name = "Title"
    description = "The dataset has a title of at least five words, in every language given."
    default_severity = "error"
    expected = "a title of at least 5 words in each language"
    suggestion = "Write a title that says what, where and when (at least five words)."
    path = f"{DESCRIPTIVE}.title"
    minimum_words = 5


@register
class Abstract(_WordsCheck):
    id = "metadata.abstract"
    name = "Abstract"
    description = "The dataset has an abstract of at least twenty words, in every language given."
    default_severity = "error"
    expected = "an abstract of at least 20 words in each language"
    suggestion = "Describe the data, how it was collected and what it covers (at least 20 words)."
    path = f"{DESCRIPTIVE}.abstract"
    minimum_words = 20


@register
class Keywords(_MetadataCheck):
    id = "metadata.keywords"
    name = "Keywords"
    description = "The dataset has at least one keyword, and no keyword is blank."
    default_severity = "error"
    expected = "at least one non-blank keyword"
    suggestion = "Add keywords a searcher would use (a controlled vocabulary helps)."

    def inspect(self, record, findings):
        path = f"{DESCRIPTIVE}.keywords"
        value = lookup(record, path)
        groups = texts(value) if isinstance(value, dict) else [(None, value)]
        if value in (None, [], {}):
            self.fail(findings, path, None, "no keywords")
            return
        for lang, words in groups:
            where = f"{path}.{lang}" if lang else path
            if not isinstance(words, list) or not words:
                self.fail(findings, where, words, "not a non-empty list of keywords")
                continue
            for i, word in enumerate(words):
                if not isinstance(word, str) or not word.strip():
                    self.fail(findings, f"{where}[{i}]", word, "blank keyword")


@register
class Contact(_MetadataCheck):
    id = "metadata.contact"
    name = "Contact"
    description = "The dataset names a contact with a name and a valid e-mail (and ORCID iD if given)."
    default_severity = "error"
    expected = "a contact with name and e-mail; a valid ORCID iD when one is given"
    suggestion = "Give the name and e-mail of the person who can answer questions about the data."

    def inspect(self, record, findings):
        # docket.validation loads jsonschema: imported by a run that checks metadata, not by
        # every import of the registry (``docket check`` runs the table checks alone).
        from docket.validation import is_email, is_orcid

        path = f"{ADMINISTRATIVE}.contact"
        contact = lookup(record, path)
        if not isinstance(contact, dict) or not contact:
            self.fail(findings, path, None, "no contact")
            return
        name = contact.get("name")
        if not isinstance(name, str) or not name.strip():
            self.fail(findings, f"{path}.name", name, "no contact name")
        email = contact.get("email")
        if not isinstance(email, str) or not email.strip():
            self.fail(findings, f"{path}.email", email, "no contact e-mail")
        elif not is_email(email.strip()):
            self.fail(findings, f"{path}.email", email, "not an e-mail address")
        orcid = contact.get("orcid")
        if orcid not in (None, "") and not (isinstance(orcid, str) and is_orcid(orcid.strip())):
            self.fail(findings, f"{path}.orcid", orcid, "not a valid ORCID iD")


@register
class Licence(_MetadataCheck):
    id = "metadata.licence"
    name = "Licence"
    description = "The dataset states its licence."
    default_severity = "error"
    expected = "a licence (an SPDX id or a URL)"
    suggestion = "State the licence, e.g. CC-BY-4.0."

    def inspect(self, record, findings):
        path = f"{ADMINISTRATIVE}.licence"
        value = lookup(record, path)
        if value is None:
            value = lookup(record, f"{ADMINISTRATIVE}.license")
        if not isinstance(value, str) or not value.strip():
            self.fail(findings, path, value, "no licence")

    def run(self, context: RecordContext) -> list[CheckResult]:
        """No licence: a finding of the check's severity. A licence not on the SPDX list
        (docket.vocabularies.spdx): a warning that it needs a reviewer's acceptance (rule
        licence-accepted), or, once the request is approved (which needed that acceptance), a note."""
        from docket.vocabularies import spdx

        results = super().run(context)
        if results[0].count or self.severity == "info":
            return results
        path = f"{ADMINISTRATIVE}.licence"
        value = lookup(context.record, path) or lookup(context.record, f"{ADMINISTRATIVE}.license")
        found = spdx.lookup(value)
        if found is not None:
            return [self.result(found=f"the SPDX licence {found.id} ({found.name})")]
        approved = context.record.get("review_state") == "approved"
        note = ("not on the SPDX licence list; the reviewer accepted it with the approval" if approved
                else "not on the SPDX licence list: needs a reviewer's acceptance")
        findings = self.findings(None)
        self.fail(findings, path, value, note)
        return [self.result(findings, found=f"{clip(value)!r} is {note}", status="info" if approved else "warn",
                            suggestion="Give the SPDX identifier of the licence if it has one (e.g. CC-BY-4.0); "
                                       "otherwise the reviewer must accept it when approving the request.")]


def _date(value: Any) -> dt.date | None:
    if isinstance(value, str):
        try:
            return dt.date.fromisoformat(value[:10]) if len(value) >= 10 else None
        except ValueError:
            return None
    return None


@register
class TemporalCoverage(_MetadataCheck):
    id = "metadata.temporal-coverage"
    name = "Temporal coverage"
    description = "The dataset states when its data were observed: a start and end date, in order."
    default_severity = "error"
    expected = "temporal_coverage with ISO start and end dates, start not after end"
    suggestion = "Give the first and last dates the data cover (YYYY-MM-DD)."

    def inspect(self, record, findings):
        path = f"{CONTEXTUAL}.temporal_coverage"
        cov = lookup(record, path)
        if not isinstance(cov, dict):
            self.fail(findings, path, None, "no temporal coverage")
            return
        dates = {}
        for key in ("start", "end"):
            value = cov.get(key)
            dates[key] = _date(value)
            if value in (None, ""):
                self.fail(findings, f"{path}.{key}", value, f"no {key} date")
            elif dates[key] is None:
                self.fail(findings, f"{path}.{key}", value, f"{key} is not an ISO date")
        if dates["start"] and dates["end"] and dates["start"] > dates["end"]:
            self.fail(findings, path, f"{cov['start']} / {cov['end']}", "start is after end")


@register
class SpatialCoverage(_MetadataCheck):
    id = "metadata.spatial-coverage"
    name = "Spatial coverage"
    description = "The dataset states where its data come from: a bounding box in degrees."
    default_severity = "error"
    expected = "spatial_coverage with west/east in [-180, 180] and south <= north in [-90, 90]"
    suggestion = "Give the bounding box of the data in decimal degrees (WGS 84)."

    def inspect(self, record, findings):
        path = f"{CONTEXTUAL}.spatial_coverage"
        box = lookup(record, path)
        if not isinstance(box, dict):
            self.fail(findings, path, None, "no spatial coverage")
            return
        limits = {"west": 180, "east": 180, "south": 90, "north": 90}
        values = {}
        for key, limit in limits.items():
            value = box.get(key)
            if isinstance(value, bool) or not isinstance(value, int | float):
                self.fail(findings, f"{path}.{key}", value, f"{key} is not a number")
            elif not -limit <= value <= limit:
                self.fail(findings, f"{path}.{key}", value, f"{key} outside [-{limit}, {limit}]")
            else:
                values[key] = value
        if "south" in values and "north" in values and values["south"] > values["north"]:
            self.fail(findings, path, f"south {values['south']} / north {values['north']}",
                      "south is north of north")
