"""A file's location with an "Upload a file" button: the kernel's side of browser uploads.

The location input stays an ordinary text input (a URL or a path for large data); beside it,
``static/upload.js`` draws a file chooser and a progress bar, sends the file to the server's tus
endpoint (:mod:`docket.uploads.handler`) in chunks, and when the upload is complete writes its
id into this field's hidden input (``.docket-upload-token``) and fires ``change``. The kernel
then checks the id against the instance's upload store (it exists, it is complete) and fills the
file row: location ``uploads/<id>/<name>`` (relative to ``inbox/``), name, size, sha256 and md5
(the md5 has no input: it rides in the row's data). When the page stores the request the file
moves to ``inbox/<request-id>/<name>`` (:class:`docket.uploads.store.Placement`) and
:func:`show_placed` puts the new location into the form.

Used through the form definition: ``{"key": "location", "widget": "url", "renderer": "upload"}``.
"""

from __future__ import annotations

import html
import mimetypes
import os
import secrets
from typing import Any

import ipywidgets as W
from ipywidgets.widgets.widget_string import TextStyle

from docket.forms.definition import localize
from docket.forms.renderer import Field, FormView, GroupField, css_name, register
from docket.uploads.store import ID_PATTERN, OWNER_VARIABLE, UploadStore

#: What the page says about uploads, when the form's ``ui.text`` does not say it.
TEXTS: dict[str, dict[str, str]] = {
    "upload_button": {"en": "Upload a file", "fr": "Téléverser un fichier", "de": "Datei hochladen"},
    "upload_done": {"en": "Uploaded", "fr": "Téléversé", "de": "Hochgeladen"},
    "upload_missing": {"en": "This upload is not on the server (any more); upload the file again.",
                       "fr": "Ce téléversement n'est pas (plus) sur le serveur ; téléversez le fichier à nouveau.",
                       "de": "Dieser Upload ist nicht (mehr) auf dem Server; bitte die Datei erneut hochladen."},
    "upload_unfinished": {"en": "The upload is not finished yet.", "fr": "Le téléversement n'est pas terminé.",
                          "de": "Der Upload ist noch nicht fertig."},
}


def _store() -> UploadStore | None:
    """The served instance's uploads (the page serves ``$DOCKET_INSTANCE`` only)."""
    root = os.environ.get("DOCKET_INSTANCE")
    return UploadStore.for_instance(root) if root else None


class UploadField(Field):
    """A location input, a hidden upload-id input for ``upload.js``, and a line saying what arrived."""

    def make_input(self) -> W.Widget:
        """The location input itself (``self.input``, as for any text field); the hidden upload
        input and the note are laid out under it by :meth:`layout`."""
        self.uploaded: str | None = None  # the location an upload filled in, while it is unchanged
        self.location = W.Text(placeholder=localize(self.spec.get("placeholder"), self.view.language),
                               continuous_update=False, **self.view.looks(TextStyle))
        self.location.add_class("docket-input")
        self.location.add_class(f"docket-field-{css_name(self.path)}")
        self.location.observe(self._changed, names="value")
        self.token = W.Text(layout=W.Layout(display="none"))
        self.token.add_class("docket-upload-token")
        self.token.add_class(f"docket-upload-token-{css_name(self.path)}")
        self.token.observe(self._token, names="value")
        self.arrived = self.view.html("docket-upload-note")
        self.arrived.add_class(f"docket-upload-note-{css_name(self.path)}")
        return self.location

    def layout(self) -> W.Box:
        return self.view.vbox([self.label, self.location, self.token, self.arrived, self.note])

    def text(self, key: str) -> str:
        return self.view.text(key) or localize(TEXTS[key], self.view.language)

    def relabel(self, language: str) -> None:
        super().relabel(language)
        self.location.placeholder = localize(self.spec.get("placeholder"), language)
        # upload.js reads the button's words from here (the hidden input's placeholder).
        self.token.placeholder = self.text("upload_button")

    def _changed(self, change: dict[str, Any]) -> None:
        if self.uploaded is not None and change["new"] != self.uploaded and not self.view.loading:
            # Typed over: the upload's md5 no longer describes this location.
            self.row().extra.pop("md5", None)
            self.uploaded = None
            self.arrived.value = ""
        super()._changed(change)

    def row(self) -> GroupField:
        row = self.view.field(self.path[:-1])
        assert isinstance(row, GroupField)
        return row

    def _token(self, change: dict[str, Any]) -> None:
        upload_id = (change["new"] or "").strip()
        if not upload_id:
            return
        store = _store()
        upload = store.get(upload_id) if store is not None and ID_PATTERN.fullmatch(upload_id) else None
        owner = os.environ.get(OWNER_VARIABLE)  # set by docket serve for the page's own kernel
        if upload is not None and owner is not None and not secrets.compare_digest(upload.owner, owner):
            upload = None  # another browser's upload: as if it did not exist
        if upload is None:
            self.arrived.value = f"<span class='docket-status-bad'>{html.escape(self.text('upload_missing'))}</span>"
            return
        if not upload.complete:
            self.arrived.value = f"<span class='docket-status-bad'>{html.escape(self.text('upload_unfinished'))}</span>"
            return
        self.fill(upload.location, upload.name, upload.length, upload.sha256, upload.md5)
        self.arrived.value = (f"<span class='docket-status-ok docket-upload-done'>{html.escape(self.text('upload_done'))}: "
                              f"<b>{html.escape(upload.name)}</b> ({upload.length:,} B, sha256 "
                              f"<code>{html.escape((upload.sha256 or '')[:16])}…</code>)</span>")

    def fill(self, location: str, name: str, size: int, sha256: str | None, md5: str | None) -> None:
        """Put an upload into this file row: its location, name, size, checksums, media type."""
        row = self.row()
        values: dict[str, Any] = {"name": name, "size": size, "sha256": sha256}
        guessed = mimetypes.guess_type(name)[0]
        with self.view.quiet():
            for child in row.children:
                key = child.path[-1]
                if key in values:
                    child.set_value(values[key])
                    child.touched = True
                elif key == "media_type" and guessed and not child.value():
                    child.set_value(guessed)
            self.location.value = location
        self.uploaded = location
        if md5:
            row.extra["md5"] = md5
        self.touched = True
        self.view.refresh()


def show_placed(view: FormView, placement: Any) -> None:
    """After a save moved uploads into ``inbox/<request-id>/``: show their new locations."""
    for index, entry in getattr(placement, "placed", {}).items():
        try:
            field = view.field(["files", index, "location"])
        except KeyError:
            continue
        with view.quiet():
            field.set_value(entry["location"])
        if isinstance(field, UploadField):
            field.uploaded = entry["location"]


register("upload", UploadField)
