"""PROV identifiers of docket: per request and per instance of a step, in the instance namespace.

``docket:ocean-0007/qa/2`` is the second qa run of request ocean-0007; ``docket:ocean-0007.2`` is
revision 2 of its document. People are keyed by ORCID (``orcid:...``) or else by e-mail
(``docket:person/<quoted email>``), software by name and version, so the same real agent is the
same node in every request's graph, and nothing else is shared between requests.
"""

from __future__ import annotations

import re
from urllib.parse import quote

from docket import __version__

VOCAB_PREFIX = "dkt"
VOCAB_URI = "https://docket.invalid/ns#"
ORCID_URI = "https://orcid.org/"
_ORCID = re.compile(r"(\d{4}-\d{4}-\d{4}-\d{3}[\dX])$")


def context(base_uri: str) -> dict[str, str]:
    """The prefixes every expansion uses (the bindings' ``context``)."""
    return {"docket": base_uri, VOCAB_PREFIX: VOCAB_URI, "orcid": ORCID_URI}


def revision_id(request_id: str, revision: int) -> str:
    return f"docket:{request_id}.{revision}"


def step_id(request_id: str, step: str, n: int) -> str:
    return f"docket:{request_id}/{step}/{n}"


def bundle_id(request_id: str, step: str, n: int) -> str:
    return f"{step_id(request_id, step, n)}/bundle"


def person_id(email: str | None = None, orcid: str | None = None, name: str | None = None) -> str:
    if orcid:
        match = _ORCID.search(orcid)
        if match:
            return f"orcid:{match.group(1)}"
    if email:
        return f"docket:person/{quote(email.strip().lower(), safe='')}"
    return f"docket:person/{quote((name or 'unknown').strip().lower(), safe='')}"


def software_id(name: str = "docket", version: str = __version__) -> str:
    return f"docket:software/{quote(name, safe='')}/{quote(version, safe='')}"
