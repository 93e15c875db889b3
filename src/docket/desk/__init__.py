"""The data manager's desk: the review and dashboard notebooks' logic, kept out of the notebooks.

``notebooks/review.ipynb`` and ``notebooks/dashboard.ipynb`` are a parameters cell and one call
each; everything they show is built here from a :class:`~docket.api.Docket`, so it can be tested
without a kernel and the notebooks stay too small to go wrong.

Both are staff pages. Who is signed in comes from a key, as everywhere in docket: the notebook's
``key_file`` parameter, else ``$DOCKET_API_KEY`` (how a server hands a signed-in member of staff's
key to the page's kernel), else the admin key file ``docket init`` wrote, when it is this OS user's
alone. The instance is the ``instance`` parameter, else ``$DOCKET_INSTANCE``. The key is never
shown, printed or logged: only the account's name and role are.
"""

from __future__ import annotations

import html
import os
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import ipywidgets as W

from docket.errors import DocketError, InstanceError, Refused

INSTANCE_VARIABLE = "DOCKET_INSTANCE"


def open_desk(instance: str | os.PathLike[str] | None = None,
              key_file: str | os.PathLike[str] | None = None, *, source: str = "desk") -> Any:
    """The instance, signed in as a member of staff, or a :class:`DocketError` saying why not.

    Opens the store as it is (no migration: that is the operator's, through ``docket`` commands)
    and signs in at once, so a wrong, expired or revoked key, or a provider's key, is refused
    before anything is shown rather than on the first click.
    """
    from docket.api import Docket
    from docket.instance import Instance
    from docket.people.keyfiles import read_key_file

    root = instance or os.environ.get(INSTANCE_VARIABLE)
    if not root:
        raise InstanceError(f"no docket instance: give the notebook's `instance` parameter, or set "
                            f"{INSTANCE_VARIABLE} (docket serve sets it)")
    key = read_key_file(Path(key_file)) if key_file else None  # else $DOCKET_API_KEY, else admin.key
    docket = Docket(Instance.find(root), migrate=False, key=key, source=source)
    try:
        if docket.store.current() != docket.store.head():
            raise InstanceError(f"the store of {docket.instance.root} is not at the newest migration "
                                "(run `docket db upgrade`)")
        caller = docket.caller
        if not caller.is_staff:
            raise Refused(f"{caller.who} ({caller.role}) may not use the data manager's desk: it is for "
                          "staff (reviewer, data-manager, admin); sign in with a staff key "
                          "(key_file or DOCKET_API_KEY) (rule staff-only)", rule="staff-only")
    except BaseException:
        docket.close()
        raise
    return docket


def error_widget(exc: DocketError) -> W.HTML:
    """A refusal or error as the page shows it: docket's message, never a traceback."""
    problems = "".join(f"<li>{html.escape(str(p))}</li>" for p in exc.problems)
    box = W.HTML(f"<p class='docket-desk-error'><b>docket:</b> {html.escape(exc.message)}</p>"
                 + (f"<ul>{problems}</ul>" if problems else ""))
    box.add_class("docket-desk-error")
    return box


def instant(value: Any) -> datetime:
    """A stored date (ISO text or datetime) as an aware UTC datetime, for ages."""
    when = value if isinstance(value, datetime) else datetime.fromisoformat(str(value))
    return when if when.tzinfo is not None else when.replace(tzinfo=UTC)


def age_text(seconds: float) -> str:
    """An age a person reads at a glance: ``3 d 4 h``, ``5 h 12 min``, ``12 min``, ``now``."""
    minutes = int(seconds // 60)
    days, hours, mins = minutes // 1440, minutes // 60 % 24, minutes % 60
    if days:
        return f"{days} d {hours} h" if hours else f"{days} d"
    if hours:
        return f"{hours} h {mins} min" if mins else f"{hours} h"
    return f"{mins} min" if mins else "now"


def step_label(state: dict[str, Any] | None) -> str:
    """``closed/done``, ``in-progress``...: a step's status with its outcome when closed."""
    state = state or {}
    status = state.get("status", "open")
    return f"{status}/{state['outcome']}" if state.get("outcome") else status
