"""Offline forms: export a blank form (JSON or a notebook), import filled ones (files or e-mail).

A provider without access to the Voila page fills a form in any editor or in their own Jupyter and
e-mails the JSON back; ``docket import`` reads files, folders, .eml files, mbox files and Maildir
folders, one input at a time within bounded memory, checks each form's digest
(:mod:`docket.offline.envelope`) and data, and stores each new form once, in a transaction of its
own, so one refused form never stops the others (:mod:`docket.offline.importer`).
See docs/offline-forms.md.
"""

from docket.offline.envelope import Verdict, build_envelope, seal, verify
from docket.offline.export import export_form

__all__ = ["ImportReport", "Verdict", "build_envelope", "export_form", "import_paths", "seal", "verify"]


def __getattr__(name: str):
    # The importer needs the API and the store (SQLAlchemy): loaded when first asked for, so that
    # exporting a form, or a command naming its formats, does not pay for it.
    if name in ("ImportReport", "import_paths"):
        from docket.offline import importer

        return getattr(importer, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
