"""Forms: definitions as data (``forms/*.json``), and one renderer for all of them.

``load_form(name, instance)`` gives a :class:`Form`: its JSON Schema (which ``$ref``s the core's
schemas, so a form and an import never disagree), its UI hints, validation of its data with the
core's JSON paths, a blank document for offline export, and the request document to submit.
The ipywidgets renderer lives in :mod:`docket.forms.renderer` (imported on demand: the CLI and
the importer do not need ipywidgets).
"""

from docket.forms.definition import (
    Form,
    clean,
    list_forms,
    load_form,
    localize,
    parse_form,
    request_part,
)

__all__ = ["Form", "clean", "list_forms", "load_form", "localize", "parse_form", "request_part"]
