"""docket: the ingest desk of a data centre.

``docket.open(path)`` returns the :class:`~docket.api.Docket` of an instance folder; the command
line is a thin layer over it.

Importing ``docket`` loads nothing else: the API (SQLAlchemy, Alembic, ...) is imported by the
first call of :func:`open` or :func:`init`, or the first use of ``docket.api``, so the command
line starts at once.
"""

from __future__ import annotations

__version__ = "0.1.0"

__all__ = ["__version__", "api", "open", "init"]


def open(path=None, **kwargs):  # noqa: A001 - the documented name of the API's entry point
    """Open the instance at ``path`` (default: $DOCKET_INSTANCE, else the current folder)."""
    from docket.api import Docket

    return Docket.open(path, **kwargs)


def init(path, **kwargs):
    """Create a new instance folder at ``path`` and return its :class:`~docket.api.Docket`."""
    from docket.api import Docket

    return Docket.init(path, **kwargs)


def __getattr__(name: str):
    # ``docket.api`` after a bare ``import docket``: the submodule, imported on first use.
    if name == "api":
        import importlib

        return importlib.import_module("docket.api")
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
