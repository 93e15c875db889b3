"""A file row's tools in the form: "Check this file" and "Fill columns from this file".

Both work on a file that is already in the instance's ``inbox/`` (uploaded there, or put there
and typed as a path relative to ``inbox/``, or as an absolute path or ``file:`` URL inside it).
The file is opened exactly as a transfer opens a local file
(:class:`docket.transfer.local.LocalSource`, the allowed root being ``inbox/`` alone: walked
one component at a time, no ``..``, no symbolic link, one hard link unless the instance allows
more) and copied, at most :func:`max_check_bytes` of it, into a private temporary folder; the
checks read that copy only, so nothing the provider does to the inbox meanwhile changes what
is checked. A larger file is refused with a message before any byte is copied.

"Check this file" runs :func:`docket.checks._run.check_file` -- what ``docket check FILE`` runs
-- with the instance's ``[severities]`` (as QA applies them) and the Table Schema the form holds
now (``dataset_structural``, chosen for the file by :func:`docket.checks._run.schema_for`, as QA
chooses it), and shows a summary, the failing checks and the full provider report
(:func:`docket.reports.html.render`) in a sandboxed frame.

"Fill columns from this file" reads the file as the checks read it (docket's own dialect and
header detection and its streaming reader) and infers each column's type with docket's own
parsers (:func:`docket.checks._types.parse_column`): a column gets the first of integer, number,
boolean, date, datetime, time that every value of the sample parses as, else string, so the
inferred schema is one ``table.type`` accepts for the sample. Columns already declared are
never overwritten: only the missing ones are added (see docs/form-checks.md).
"""

from __future__ import annotations

import contextlib
import html
import re
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import ipywidgets as W

from docket.errors import BadInput, DocketError
from docket.forms.renderer import FormView, GroupField, RepeatField, css_name

#: The largest file the form checks or reads columns from (bytes); ``[form_checks] max_bytes``
#: in docket.toml changes it. The checks run in the page's kernel while the provider waits.
DEFAULT_MAX_BYTES = 64 << 20
#: Data rows read to infer column types.
INFER_ROWS = 20_000
#: Types tried in order; a column gets the first one every sampled value parses as.
INFER_ORDER = ("integer", "number", "boolean", "date", "datetime", "time")
FILES_PATH = ["files"]
COLUMNS_PATH = ["metadata", "dataset_structural", "fields"]
MISSING_PATH = ["metadata", "dataset_structural", "missingValues"]
_SCHEME = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]+:")

DEFAULTS = {
    "check_file": "Check this file",
    "fill_columns": "Fill columns from this file",
    "file_tools_help": "For a file in the data centre's inbox (uploaded, or a path relative to inbox/).",
    "file_not_local": "Only a file in the data centre's inbox can be checked here (uploaded, or a path "
                      "relative to inbox/); {location} is not one.",
    "file_no_location": "Give the file's location first.",
    "file_too_large": "{name} is {size} bytes; the form checks files of at most {limit} bytes. "
                      "The data centre checks it after the transfer.",
    "file_checked": "{name}: {errors} error(s), {warnings} warning(s) in {rows} row(s).",
    "file_checked_ok": "{name}: no errors, {warnings} warning(s) in {rows} row(s).",
    "file_not_table": "{name}: {reason}",
    "file_schema_unused": "The columns declared in the form are not a usable Table Schema ({reason}); "
                          "the file was checked without them.",
    "file_report": "Full report",
    "columns_filled": "{added} column(s) added from {name} (names and types: check them, add units "
                      "and descriptions).",
    "columns_kept": "{kept} column(s) already declared were kept as they are.",
    "columns_absent": "Declared but not in the file: {names}.",
    "columns_none": "{name} has no columns to add: every column is already declared.",
    "columns_no_table": "{name} is not a table docket can read columns from: {reason}",
}


def max_check_bytes(docket: Any) -> int:
    """``[form_checks] max_bytes`` of the instance, else :data:`DEFAULT_MAX_BYTES`."""
    table = (docket.config.extra.get("form_checks") or {}) if docket is not None else {}
    value = table.get("max_bytes", DEFAULT_MAX_BYTES) if isinstance(table, dict) else DEFAULT_MAX_BYTES
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        raise BadInput(f"docket.toml [form_checks] max_bytes must be a positive whole number, not {value!r}")
    return value


def inbox_of(docket: Any) -> Path:
    """The instance's inbox, where uploads land and relative locations point."""
    return (Path(docket.instance.root) / "inbox").resolve()


def is_local(location: Any) -> bool:
    """Whether ``location`` names a local file (a path or a ``file:`` URL), not http(s) or S3."""
    if not isinstance(location, str) or not location.strip():
        return False
    match = _SCHEME.match(location.strip())
    return match is None or location.strip().lower().startswith("file:")


def _public(message: str, inbox: Path) -> str:
    """A message without the server's folders: the provider knows the inbox as ``inbox``."""
    return message.replace(str(inbox), "inbox")


@contextlib.contextmanager
def inbox_copy(docket: Any, location: str, name: str | None = None) -> Iterator[Path]:
    """A private copy of the inbox file at ``location`` (at most :func:`max_check_bytes`).

    Opened by the transfer's confinement (:class:`~docket.transfer.local.LocalSource` with
    ``inbox/`` as the only root). Raises :class:`~docket.errors.DocketError` (BadInput,
    Refused, TransferFailed) with a message that names the location, never the server's path.
    """
    from docket.errors import Refused
    from docket.transfer.errors import TransferFailed
    from docket.transfer.local import LocalSource
    from docket.transfer.sources import SourceContext

    inbox = inbox_of(docket)
    if not is_local(location):
        raise BadInput(f"{location!r} is not a file in the inbox")
    limit = max_check_bytes(docket)
    ctx = SourceContext(local_roots=[inbox], base_dir=inbox,
                        allow_hardlinks=bool(docket.config.transfer_allow_hardlinks))
    safe = Path(str(name or "")).name or Path(location.strip()).name or "file"
    safe = re.sub(r"[^\w.+-]", "_", safe)[:100] or "file"
    with tempfile.TemporaryDirectory(prefix="docket-form-check-") as tmp:
        target = Path(tmp) / safe
        try:
            with LocalSource().open(location.strip(), ctx) as opened:
                if opened.length is not None and opened.length > limit:
                    raise Refused(f"{safe} is {opened.length} bytes; the form checks files of at most "
                                  f"{limit} bytes", rule="form-check-size")
                copied = 0
                buffer = bytearray(1 << 20)
                view = memoryview(buffer)
                with open(target, "wb") as out:
                    while True:
                        n = opened.reader.readinto(view)
                        if not n:
                            break
                        copied += n
                        if copied > limit:  # it grew while read: still bounded
                            raise Refused(f"{safe} is over {limit} bytes; the form checks files of at "
                                          f"most {limit} bytes", rule="form-check-size")
                        out.write(view[:n])
        except TransferFailed as exc:  # "transfer of X failed": no transfer is happening here
            raise BadInput(f"{location.strip()[:200]}: {_public(exc.reason, inbox)}") from None
        except DocketError as exc:
            exc.message = _public(exc.message, inbox)
            exc.args = (exc.message,)
            raise
        yield target


# -- column inference -----------------------------------------------------------------------


@dataclass
class Column:
    """A column of a file as inferred: its header name and a Table Schema type."""

    name: str
    type: str


def infer_columns(path: Path, missing_values: list[str] | None = None, encoding: str | None = None,
                  max_rows: int = INFER_ROWS) -> list[Column]:
    """The columns of the CSV at ``path`` with inferred types (see the module's docstring).

    BadInput when docket cannot read a table there (empty, no header, not text).
    """
    import pyarrow as pa
    import pyarrow.compute as pc

    from docket.checks._run import table_context
    from docket.checks._scan import DEFAULT_BLOCK_SIZE, iter_chunks
    from docket.checks._types import FieldSpec, mask, parse_column

    missing = [str(v) for v in (missing_values or [""])]
    table = table_context(path, None, encoding=encoding)
    if table.unreadable:
        raise BadInput(table.unreadable)
    header = list(table.header)
    alive = [list(INFER_ORDER) for _ in header]
    seen = [False] * len(header)
    specs = {t: FieldSpec.from_descriptor({"name": "x", "type": t}, missing) for t in INFER_ORDER}
    rows = 0
    try:
        for chunk in iter_chunks(table, DEFAULT_BLOCK_SIZE):
            take = min(len(chunk), max_rows - rows)
            for col, values in enumerate(chunk.columns[: len(header)]):
                values = values.slice(0, take)
                if not alive[col]:
                    continue
                if (~mask(pc.is_in(values, value_set=pa.array(missing, pa.string())))).any():
                    seen[col] = True
                alive[col] = [t for t in alive[col] if not parse_column(specs[t], values).bad.any()]
            rows += take
            if rows >= max_rows:
                break
    except Exception as exc:  # an unparsable stretch: infer from what was read before it
        if rows == 0:
            raise BadInput(f"the rows cannot be read ({exc})") from None
    out: list[Column] = []
    for col, name in enumerate(header):
        kind = alive[col][0] if alive[col] and seen[col] else "string"
        out.append(Column(name=name, type=kind))
    return out


def merge_columns(declared: list[dict[str, Any]], found: list[Column]) -> tuple[list[dict[str, Any]], list[str], int, list[str]]:
    """Declared column rows plus a row for every found column not yet declared.

    Returns (rows, added names, kept count, declared names absent from the file). Rows left
    entirely blank are dropped; a declared row is never changed.
    """
    def blank(v: Any) -> bool:
        if isinstance(v, dict):
            return all(blank(x) for x in v.values())
        return v in (None, "", [], False)

    kept = [dict(r) for r in declared if isinstance(r, dict) and not blank(r)]
    names = {str(r.get("name") or "").strip() for r in kept}
    added: list[str] = []
    rows = list(kept)
    for column in found:
        name = column.name.strip()
        if not name or name in names:
            continue
        names.add(name)
        added.append(name)
        rows.append({"name": name, "type": column.type})
    in_file = {c.name.strip() for c in found}
    absent = [str(r.get("name")) for r in kept if str(r.get("name") or "").strip() and
              str(r.get("name")).strip() not in in_file]
    return rows, added, len(kept), absent


# -- the report -----------------------------------------------------------------------------


def check_inbox_file(docket: Any, document: dict[str, Any], entry: dict[str, Any]) -> tuple[dict[str, Any], list[str]]:
    """The quality report (JSON) of the inbox file of ``entry`` (a file row of ``document``),
    checked as ``docket check`` checks it, with the form's Table Schema, and notes."""
    from docket.checks._run import check_file, load_table_schema, schema_for

    notes: list[str] = []
    schema = schema_for(document, entry)
    if schema is not None:
        try:
            schema = load_table_schema(schema)
        except BadInput as exc:
            notes.append(exc.message)
            schema = None
    encoding = entry.get("encoding") if isinstance(entry.get("encoding"), str) else None
    with inbox_copy(docket, str(entry.get("location") or ""), entry.get("name")) as path:
        report = check_file(path, schema, severities=dict(docket.config.severities), encoding=encoding,
                            media_type=entry.get("media_type") if isinstance(entry.get("media_type"), str) else None)
    return report.to_dict(), notes


class FileTools:
    """The two buttons and the result area under every file row of a :class:`FormView`.

    Added to each row's box after every refresh (rows are rebuilt when one is removed); a
    button is disabled while it works, so a double click runs it once.
    """

    def __init__(self, view: FormView, docket: Any) -> None:
        self.view = view
        self.docket = docket
        self.bars: dict[int, tuple[GroupField, W.Button, W.Button, W.HTML, W.HTML]] = {}
        self.busy = False
        view.on_refresh.append(self.update)
        self.update(view)

    def text(self, key: str, **values: Any) -> str:
        return self.view.formatted(key, DEFAULTS[key], **values)

    def rows(self) -> list[GroupField]:
        try:
            files = self.view.field(FILES_PATH)
        except KeyError:
            return []
        return list(files.rows) if isinstance(files, RepeatField) else []

    def update(self, view: FormView) -> None:
        rows = self.rows()
        live = {id(r) for r in rows}
        self.bars = {k: v for k, v in self.bars.items() if k in live}
        for row in rows:
            if id(row) not in self.bars:
                self.bars[id(row)] = self.make_bar(row)
            _, check, fill, hint, _ = self.bars[id(row)]
            entry = row.value()
            local = is_local(entry.get("location"))
            check.disabled = fill.disabled = self.busy or not local
            check.description = self.text("check_file")
            fill.description = self.text("fill_columns")
            hint_text = self.text("file_tools_help")
            if entry.get("location") and not local:
                hint_text = self.text("file_not_local", location=str(entry.get("location"))[:200])
            value = f"<span class='docket-help'>{html.escape(hint_text)}</span>"
            if hint.value != value:
                hint.value = value

    def make_bar(self, row: GroupField) -> tuple[GroupField, W.Button, W.Button, W.HTML, W.HTML]:
        where = css_name(row.path)
        looks = {"layout": self.view.shared("button", W.Layout, width="auto", align_self="flex-start"),
                 "style": self.view.shared("button", W.ButtonStyle)}
        check = W.Button(icon="check-square", **looks)
        check.add_class("docket-check-file")
        check.add_class(f"docket-check-file-{where}")
        fill = W.Button(icon="table", **looks)
        fill.add_class("docket-fill-columns")
        fill.add_class(f"docket-fill-columns-{where}")
        hint = W.HTML()
        hint.add_class("docket-file-tools-hint")
        out = W.HTML()
        out.add_class("docket-file-result")
        out.add_class(f"docket-file-result-{where}")
        check.on_click(lambda _b: self.run(row, out, self.check))
        fill.on_click(lambda _b: self.run(row, out, self.fill))
        # A form without a columns section (file resubmission) has nothing to fill.
        buttons = [check, fill, hint] if _has_columns(self.view) else [check, hint]
        bar = self.view.vbox([W.HBox(buttons, layout=self.view.shared("plain", W.Layout)), out])
        bar.add_class("docket-file-tools")
        bar.add_class(f"docket-file-tools-{where}")
        row.box.children = (*row.box.children, bar)
        return row, check, fill, hint, out

    def run(self, row: GroupField, out: W.HTML, action: Any) -> None:
        if self.busy:
            return  # a click queued behind the running one
        self.busy = True
        self.update(self.view)
        try:
            entry = row.value()
            if not str(entry.get("location") or "").strip():
                out.value = _para("bad", self.text("file_no_location"))
                return
            out.value = _para("busy", "…")
            out.value = action(entry)
        except DocketError as exc:
            out.value = _para("bad", exc.message)
        except Exception as exc:  # a file the checks choke on: a message, never a dead button
            out.value = _para("bad", f"the file could not be read: {type(exc).__name__}: {str(exc)[:200]}")
        finally:
            self.busy = False
            self.update(self.view)

    # -- the two actions ----------------------------------------------------------------------

    def document(self) -> dict[str, Any]:
        try:
            return self.view.form.to_request(self.view.data(), self.view.existing)
        except DocketError:
            doc = self.view.form.clean(self.view.data())
            return doc if isinstance(doc, dict) else {}

    def check(self, entry: dict[str, Any]) -> str:
        """Run the checks; the page's summary, failing checks and full report."""
        from docket.reports.html import render
        from docket.reports.messages import LANGUAGES

        entry = {k: (v.strip() if isinstance(v, str) else v) for k, v in entry.items()}
        document = self.document()
        report, notes = check_inbox_file(self.docket, document, entry)
        return report_html(report, notes, self, render(report, language=self.view.language
                                                      if self.view.language in LANGUAGES else "en",
                                                      request=document))

    def fill(self, entry: dict[str, Any]) -> str:
        """Add the file's columns that are not declared yet to ``dataset_structural.fields``."""
        name = str(entry.get("name") or Path(str(entry.get("location"))).name)
        missing = self.view.data()
        for key in MISSING_PATH:
            missing = missing.get(key) if isinstance(missing, dict) else None
        missing = [str(v) for v in missing] if isinstance(missing, list) and missing else [""]
        encoding = entry.get("encoding") if isinstance(entry.get("encoding"), str) else None
        with inbox_copy(self.docket, str(entry.get("location")).strip(), name) as path:
            try:
                found = infer_columns(path, missing, encoding)
            except BadInput as exc:
                return _para("bad", self.text("columns_no_table", name=name, reason=exc.message))
        columns = self.view.field(COLUMNS_PATH)
        assert isinstance(columns, RepeatField)
        rows, added, kept, absent = merge_columns(columns.value(), found)
        if not added:
            lines = [self.text("columns_none", name=name)]
        else:
            with self.view.quiet():
                columns.set_value(rows)
            columns.touched = True
            self.view.refresh()
            lines = [self.text("columns_filled", added=len(added), name=name)]
            if kept:
                lines.append(self.text("columns_kept", kept=kept))
        if absent:
            lines.append(self.text("columns_absent", names=", ".join(absent)))
        return "".join(_para("ok" if i == 0 and added else "note", line) for i, line in enumerate(lines))


def _has_columns(view: FormView) -> bool:
    try:
        return isinstance(view.field(COLUMNS_PATH), RepeatField)
    except KeyError:
        return False


def _para(kind: str, text: str) -> str:
    return f"<p class='docket-file-{kind}'>{html.escape(text)}</p>"


def report_html(report: dict[str, Any], notes: list[str], tools: FileTools, page: str) -> str:
    """A summary line, the failing checks (what, where) and the full report in a sandboxed
    frame (no script runs in it; its styles stay inside it)."""
    esc = html.escape
    summary = report.get("summary", {})
    info = (report.get("files") or [{}])[0]
    name = str(info.get("name") or "")
    parts: list[str] = []
    for note in notes:
        parts.append(_para("note", tools.text("file_schema_unused", reason=note)))
    if not info.get("checked", True) and info.get("reason"):
        parts.append(_para("note", tools.text("file_not_table", name=name, reason=str(info["reason"]))))
    rows = info.get("rows", 0) or 0
    errors, warnings = int(summary.get("errors", 0)), int(summary.get("warnings", 0))
    key = "file_checked" if summary.get("has_errors") else "file_checked_ok"
    verdict = "bad" if summary.get("has_errors") else "ok"
    parts.insert(0, f"<p class='docket-file-verdict docket-file-{verdict}' data-errors='{errors}' "
                    f"data-warnings='{warnings}'>{esc(tools.text(key, name=name, errors=errors, warnings=warnings, rows=rows))}</p>")
    items = []
    for check in report.get("checks", []):
        if check.get("status") not in ("error", "warn", "info"):
            continue
        where = []
        for loc in (check.get("locations") or [])[:5]:
            bits = [f"row {loc['row']}" if loc.get("row") is not None else "",
                    str(loc.get("column") or ""), repr(loc.get("value")) if loc.get("value") is not None else ""]
            where.append(" ".join(b for b in bits if b))
        more = " …" if check.get("count", 0) > len(where) else ""
        items.append(f"<li class='docket-file-check docket-file-check-{esc(check['status'])}' data-check='{esc(check['id'])}'>"
                     f"<b>{esc(check.get('name') or check['id'])}</b> ({esc(check['status'])}): {esc(check.get('found') or '')}"
                     + (f"<br><small>{esc('; '.join(where))}{more}</small>" if where else "") + "</li>")
    if items:
        parts.append(f"<ul class='docket-file-checks'>{''.join(items)}</ul>")
    parts.append(f"<details class='docket-file-report'><summary>{esc(tools.text('file_report'))}</summary>"
                 f"<iframe sandbox='' title='{esc(tools.text('file_report'))}' srcdoc=\"{esc(page, quote=True)}\" "
                 f"style='width:100%;height:520px;border:1px solid #d0d7de'></iframe></details>")
    return "".join(parts)
