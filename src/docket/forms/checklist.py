"""The quality checks QA runs, live in the form: findings at their fields and a checklist on top.

The metadata checks are not restated here: every refresh of the form runs
:func:`docket.checks.check_request` -- the very function the QA notebook runs -- on the request
the form holds now, with the severities of :func:`docket.steps.qa.selected_severities` for the
instance's ``[severities]`` and the ``metadata`` family (every other check is turned off: no file
has been received yet). So a severity changed in ``docket.toml`` changes the form and QA alike,
and a check a plug-in adds to the ``metadata`` family shows in the form too.

What a check finds is shown under the field it names (its ``path``), styled apart from the
schema's errors: a schema error is what ``docket submit`` refuses; a finding is what QA will
report later. A finding never blocks saving or submitting (the core accepts the request, and a
form must not refuse what ``docket import`` accepts); an error-severity finding is said plainly
under the submit button: QA would reject the request as it is. See docs/form-checks.md.

The checklist lists the form's sections, each complete, with warnings, or with errors (schema
problems plus findings), each entry a link to its section (``data-section``, scrolled to by
``static/checklist.js``) carrying the ``data-path`` of its first problem, as the refused-submit
list does, so the page's focus handling moves the focus there.
"""

from __future__ import annotations

import html
import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import ipywidgets as W

from docket.documents import json_path
from docket.errors import DocketError, Problem
from docket.forms.definition import localize, split_path
from docket.forms.renderer import Field, FormView, css_name, nearest

#: Statuses of a failing check result, most severe first.
SEVERITY_ORDER = ("error", "warn", "info")

STYLE = """<style>
.docket-checklist-box { border: 1px solid #d0d7de; border-radius: 6px; padding: 6px 12px; margin: 8px 0;
  max-width: 936px; font-family: system-ui, sans-serif; background: #f6f8fa; }
.docket-checklist-box h3 { margin: 4px 0; font-size: 1.05em; }
.docket-checklist { list-style: none; padding: 0; margin: 4px 0; display: flex; flex-wrap: wrap; gap: 4px 10px; }
.docket-checklist li { padding: 2px 8px; border-radius: 12px; border: 1px solid transparent; }
.docket-checklist a { color: inherit; text-decoration: none; cursor: pointer; }
.docket-checklist a:hover, .docket-checklist a:focus { text-decoration: underline; }
.docket-check-complete { background: #dafbe1; border-color: #aceebb !important; color: #116329; }
.docket-check-warnings { background: #fff8c5; border-color: #eac54f !important; color: #7d4e00; }
.docket-check-errors { background: #ffebe9; border-color: #ff8182 !important; color: #a40e26; }
.docket-finding { font-size: 0.9em; margin: 2px 0; padding: 2px 6px; border-left: 4px solid; }
.docket-finding:empty { display: none; }
.docket-finding-line { margin: 1px 0; }
.docket-finding-warn { border-color: #d4a72c; background: #fff8c5; color: #6f4a00; }
.docket-finding-info { border-color: #8c959f; background: #f6f8fa; color: #424a53; }
.docket-finding-error { border-color: #cf222e; background: #ffebe9; color: #82071e; }
.docket-finding .docket-finding-tag { font-weight: 600; text-transform: uppercase; font-size: 0.8em;
  letter-spacing: 0.03em; margin-right: 4px; }
.docket-qa-gate:empty { display: none; }
.docket-qa-gate p { margin: 4px 0; padding: 4px 8px; border-radius: 4px; }
.docket-qa-gate .docket-qa-errors { background: #ffebe9; color: #82071e; border: 1px solid #ff8182; }
.docket-qa-gate .docket-qa-warnings { background: #fff8c5; color: #6f4a00; border: 1px solid #eac54f; }
</style>"""

#: English defaults of the texts the form definition's ``ui.text`` translates.
DEFAULTS = {
    "checks_heading": "Checklist before you submit",
    "checks_complete": "complete",
    "checks_warnings": "{n} warning(s)",
    "checks_errors": "{n} error(s)",
    "checks_general": "Other",
    "finding_error": "QA error",
    "finding_warn": "QA warning",
    "finding_info": "QA note",
    "qa_would_reject": "The quality checks QA runs would reject this request as it is ({n} error(s), marked "
                       "“QA error” in the form). You can still save it, but please fix them before you "
                       "submit it for review.",
    "qa_warnings": "The quality checks give {n} warning(s) (marked “QA warning”): they do not stop the "
                   "request, but the data centre may ask you about them.",
}


@dataclass(frozen=True)
class Finding:
    """One place a quality check found the request short: where (a JSON path), what, how bad."""

    check: str
    name: str
    severity: str  # info, warn or error: the check's configured severity
    where: str
    note: str
    suggestion: str | None = None


def qa_severities(instance_severities: dict[str, str] | None) -> dict[str, str]:
    """The severities QA runs the metadata checks with, for the instance's ``[severities]``:
    :func:`docket.steps.qa.selected_severities` itself, with the ``metadata`` family selected."""
    from docket.steps.qa import selected_severities

    return selected_severities(instance_severities, ["metadata"])


def metadata_report(document: dict[str, Any], severities: dict[str, str]) -> dict[str, Any]:
    """The quality report QA's own entry point gives for ``document`` with no file received."""
    from docket.checks import check_request

    return check_request(document, {}, severities=severities).to_dict()


def findings_of(report: dict[str, Any]) -> list[Finding]:
    """Every failing location of the report's ``metadata`` checks, as findings in check order."""
    out: list[Finding] = []
    for check in report.get("checks", []):
        if check.get("family") != "metadata" or check.get("status") not in SEVERITY_ORDER:
            continue
        locations = check.get("locations") or [{}]
        for loc in locations:
            out.append(Finding(
                check=check["id"], name=check.get("name") or check["id"], severity=check["status"],
                where=to_json_path(loc.get("path")), note=str(loc.get("note") or check.get("found") or ""),
                suggestion=check.get("suggestion"),
            ))
    return out


def metadata_findings(document: dict[str, Any], severities: dict[str, str]) -> list[Finding]:
    """What QA's metadata checks find in ``document`` (severities as :func:`qa_severities`)."""
    return findings_of(metadata_report(document, severities))


_STEP = re.compile(r"([^.\[\]]+)|\[(\d+)\]")


def to_json_path(dotted: Any) -> str:
    """``metadata.project_descriptive.keywords.en[0]`` (a check's path) as the JSON path the
    schema's problems use (``$.metadata.project_descriptive.keywords.en[0]``)."""
    if not isinstance(dotted, str) or not dotted:
        return "$"
    parts: list[Any] = [int(index) if index else key for key, index in _STEP.findall(dotted)]
    return json_path(parts)


def _blank(value: Any) -> bool:
    if isinstance(value, dict):
        return all(_blank(v) for v in value.values())
    if isinstance(value, list):
        return all(_blank(v) for v in value)
    return value is None or (isinstance(value, str) and not value.strip()) or value is False


def _under(where: str, prefix: str) -> bool:
    return where == prefix or where.startswith(prefix + ".") or where.startswith(prefix + "[")


@dataclass
class SectionState:
    """One entry of the checklist: a form section and what stands against it."""

    id: str
    title: str
    prefixes: list[str]
    errors: int = 0
    warnings: int = 0
    first: str | None = None  # the JSON path of its first problem, else of its first field

    @property
    def state(self) -> str:
        return "errors" if self.errors else "warnings" if self.warnings else "complete"


def section_states(view: FormView, problems: Iterable[Problem], findings: Iterable[Finding],
                   fields: dict[str, Field] | None = None) -> list[SectionState]:
    """Per form section (in page order): schema problems and error findings count as errors,
    warnings as warnings (a QA note, severity ``info``, counts as neither). A problem outside
    every section lands in an "other" entry, shown only when it has something."""
    states: list[SectionState] = []
    for section, _heading in view.section_widgets:
        base = split_path(section.get("path", ""))
        prefixes = [json_path(base + split_path(spec["key"])) for spec in section.get("fields", [])]
        sid = str(section.get("id") or css_name(base))
        states.append(SectionState(sid, localize(section.get("title"), view.language) or sid,
                                   prefixes, first=prefixes[0] if prefixes else None))
    other = SectionState("other", view.text("checks_general", DEFAULTS["checks_general"]), [])

    def home(where: str) -> SectionState:
        for state in states:
            if any(_under(where, p) for p in state.prefixes):
                return state
        return other

    # The entry points at its worst problem that comes first on the page (not first by path).
    if fields is None:
        fields = {json_path(f.path): f for f in view.walk()}
    order = {id(f): i for i, f in enumerate(fields.values())}

    def rank(where: str) -> int:
        path = where
        while path and path != "$":
            if path in fields:
                return order[id(fields[path])]
            cut = max(path.rfind("."), path.rfind("["))
            path = path[:cut] if cut > 0 else ""
        return len(fields)

    best: dict[str, tuple[int, int]] = {}

    def count(state: SectionState, where: str, error: bool) -> None:
        key = (0 if error else 1, rank(where))
        if state.id not in best or key < best[state.id]:
            best[state.id] = key
            state.first = where
        if error:
            state.errors += 1
        else:
            state.warnings += 1

    for problem in problems:
        count(home(problem.where), problem.where, True)
    for finding in findings:
        if finding.severity != "info":
            count(home(finding.where), finding.where, finding.severity == "error")
    return states + ([other] if other.errors or other.warnings else [])


class LiveChecks:
    """QA's metadata checks on a :class:`FormView`, after every change, and the checklist.

    ``checklist`` goes at the top of the page, ``gate`` under the submit button (placed there by
    :meth:`place_gate`); the notes under the fields are added to the fields' boxes. ``severities``
    is the instance's ``[severities]`` table, as QA reads it.
    """

    def __init__(self, view: FormView, severities: dict[str, str] | None = None) -> None:
        self.view = view
        #: Why the checks cannot run as configured (shown in the checklist), or "".
        self.trouble = ""
        try:
            self.severities = qa_severities(severities)
        except DocketError as exc:  # a typo in docket.toml must not take the provider's page down
            self.trouble = f"docket.toml [severities]: {exc.message}; the checks run with their defaults"
            self.severities = qa_severities(None)
        self.findings: list[Finding] = []
        self.states: list[SectionState] = []
        self.notes: dict[int, tuple[Field, W.HTML]] = {}
        self.checklist = W.HTML()
        self.checklist.add_class("docket-checklist-panel")
        self.gate = W.HTML()
        self.gate.add_class("docket-qa-gate")
        self.place_gate()
        view.on_refresh.append(self.update)
        self.update(view)

    def text(self, key: str, **values: Any) -> str:
        return self.view.formatted(key, DEFAULTS[key], **values)

    def place_gate(self) -> None:
        """Put the gate right under the submit button (under its row of buttons, when it sits in
        one), wherever the page put it."""
        target: W.Widget = self.view.submit_button
        parents: dict[int, W.Box] = {}
        stack: list[W.Widget] = [self.view.widget]
        while stack:
            box = stack.pop()
            for child in getattr(box, "children", ()):
                parents[id(child)] = box
                if isinstance(child, W.Box):
                    stack.append(child)
        parent = parents.get(id(target))
        if isinstance(parent, W.HBox) and id(parent) in parents:  # a row of buttons: below it
            target, parent = parent, parents[id(parent)]
        if parent is None:
            self.view.widget.children = (*self.view.widget.children, self.gate)
            return
        children = list(parent.children)
        children.insert(children.index(target) + 1, self.gate)
        parent.children = tuple(children)

    def document(self) -> dict[str, Any]:
        """The request the form holds now, as submit would hand it to the core."""
        view = self.view
        try:
            return view.form.to_request(view.data(), view.existing)
        except DocketError:  # a merge form with nothing to merge into: check what it shows
            doc = view.form.clean(view.data())
            return doc if isinstance(doc, dict) else {}

    def update(self, view: FormView) -> None:
        """Run the checks and redraw findings, checklist and gate (a refresh hook)."""
        fields = {json_path(f.path): f for f in view.walk()}
        try:
            findings = metadata_findings(self.document(), self.severities)
        except Exception as exc:  # a broken plug-in check: say so, keep the form working
            self.trouble = f"the quality checks could not run: {type(exc).__name__}: {exc}"[:300]
            findings = []
        # Only what the form shows: a short form (file resubmission) cannot fix the abstract.
        self.findings = [f for f in findings if nearest(fields, f.where) is not None]
        self.states = section_states(view, view.problems, self.findings, fields)
        self.show_notes(fields)
        for widget, value in ((self.checklist, self.checklist_html()), (self.gate, self.gate_html())):
            if widget.value != value:  # an unchanged value sends nothing to the browser
                widget.value = value

    # -- drawing ----------------------------------------------------------------------------

    def show_notes(self, fields: dict[str, Field]) -> None:
        """Each finding under its field, once the field is filled or touched, a submit was tried,
        or the form shows a stored request."""
        live = {id(f) for f in fields.values()}
        self.notes = {k: v for k, v in self.notes.items() if k in live}
        at: dict[int, list[Finding]] = {}
        for finding in self.findings:
            field = nearest(fields, finding.where)
            assert field is not None
            at.setdefault(id(field), []).append(finding)
        for field in fields.values():
            items = at.get(id(field), [])
            # A stored request (opened with its link) shows everything QA would say at once.
            shown = self.view.attempted or self.view.existing is not None
            visible = items and (shown or field.is_touched() or not _blank(field.value()))
            if not visible and id(field) not in self.notes:
                continue
            note = self.note_widget(field)
            body = self.note_html(items) if visible else ""
            worst = next((s for s in SEVERITY_ORDER if any(f.severity == s for f in items)), None)
            for severity in SEVERITY_ORDER:
                if severity == worst and visible:
                    note.add_class(f"docket-finding-{severity}")
                else:
                    note.remove_class(f"docket-finding-{severity}")
            if note.value != body:
                note.value = body

    def note_widget(self, field: Field) -> W.HTML:
        if id(field) not in self.notes:
            note = W.HTML()
            note.add_class("docket-finding")
            note.add_class(f"docket-finding-for-{css_name(field.path)}")
            field.box.children = (*field.box.children, note)
            self.notes[id(field)] = (field, note)
        return self.notes[id(field)][1]

    def note_html(self, items: list[Finding]) -> str:
        esc = html.escape
        lines = []
        for f in sorted(items, key=lambda f: SEVERITY_ORDER.index(f.severity)):
            tag = self.text(f"finding_{f.severity}")
            message = self.view.message(Problem(f.where, f.note))
            hint = f" {esc(f.suggestion)}" if f.suggestion else ""
            lines.append(f"<div class='docket-finding-line' data-check='{esc(f.check)}' data-severity='{esc(f.severity)}'>"
                         f"<span class='docket-finding-tag'>{esc(tag)}</span> <b>{esc(f.name)}</b>: "
                         f"{esc(message)}.{hint}</div>")
        return "".join(lines)

    def checklist_html(self) -> str:
        esc = html.escape
        items = []
        for s in self.states:
            if s.state == "errors":
                count = self.text("checks_errors", n=s.errors)
                mark = "✗"
            elif s.state == "warnings":
                count = self.text("checks_warnings", n=s.warnings)
                mark = "⚠"
            else:
                count = self.text("checks_complete")
                mark = "✓"
            target = s.first or ""
            box = f"docket-box-{css_name(_parts(target))}" if target else ""
            items.append(
                f"<li class='docket-check-item docket-check-{s.state} docket-check-section-{esc(s.id)}' "
                f"data-section='{esc(s.id)}' data-state='{s.state}' data-path='{esc(target)}' data-box='{esc(box)}'>"
                f"<a href='#' role='button'>{mark} {esc(s.title)}: <span class='docket-check-count'>{esc(count)}"
                f"</span></a></li>")
        heading = esc(self.text("checks_heading"))
        trouble = f"<p class='docket-checklist-trouble docket-status-bad'>{esc(self.trouble)}</p>" if self.trouble else ""
        return (f"{STYLE}<div class='docket-checklist-box'><h3>{heading}</h3>"
                f"<ul class='docket-checklist'>{''.join(items)}</ul>{trouble}</div>")

    def gate_html(self) -> str:
        errors = sum(1 for f in self.findings if f.severity == "error")
        warnings = sum(1 for f in self.findings if f.severity == "warn")
        if errors:
            return f"<p class='docket-qa-errors'>{html.escape(self.text('qa_would_reject', n=errors))}</p>"
        if warnings:
            return f"<p class='docket-qa-warnings'>{html.escape(self.text('qa_warnings', n=warnings))}</p>"
        return ""

    # -- for callers ----------------------------------------------------------------------

    def blocking(self) -> list[Finding]:
        """The findings QA would reject the request for (severity ``error``)."""
        return [f for f in self.findings if f.severity == "error"]


def _parts(where: str) -> list[Any]:
    """``$.files[0].name`` -> ``["files", 0, "name"]`` (for the CSS class of its box)."""
    return [int(index) if index else key for key, index in _STEP.findall(where.removeprefix("$"))]


def attach(view: FormView, severities: dict[str, str] | None = None) -> LiveChecks:
    """Run QA's metadata checks live on ``view``; see :class:`LiveChecks`."""
    return LiveChecks(view, severities)
