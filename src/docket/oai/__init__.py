"""OAI-PMH 2.0 harvesting of docket's publications (issue 13, part 5).

Catalogues (GeoNetwork, CKAN's harvester, DataONE) pick up published datasets without custom code
by harvesting ``docket oai serve``. What is served, and why:

* **one OAI item per published version**: ``oai:<host of base_uri>:<id>.<rev>`` (e.g.
  ``oai:data.example.org:ocean-0007.2``). Every version keeps its own DOI and files, and a
  catalogue that mirrors DataCite should see ``IsNewVersionOf`` chains, so the newest revision
  does not hide the earlier ones. Publishing never destroys a version, hence ``deletedRecord``
  ``no``.
* the item's **datestamp is its publication time** (second granularity, UTC): the exports of a
  version are written once and never change, so ``from``/``until`` harvest exactly what was
  published in between.
* ``datacite``, ``iso19139`` and ``eml`` are the files publish wrote (validated then), inserted
  as they are; ``oai_dc`` is built from the published revision by :mod:`docket.oai.dc`. A file
  whose digest no longer matches its publication row is not served (a changed file is not what
  was published).
* **no sets** (``noSetHierarchy``).

The protocol is small, and pyoai 2.5's server does not fit: its resumption tokens are the
arguments in plain text with an offset cursor (unsigned, no expiry, and an offset shifts when
something is published mid-harvest), decoded with ``cgi.parse_qs``, which Python 3.8 removed. So
:mod:`docket.oai.server` speaks the protocol itself (lxml for the XML, wsgiref for HTTP), paging
in SQL by the key (publication time, row) with signed tokens; pyoai's client harvests it in the tests, as a
catalogue would (with a shim: it calls an lxml method lxml 5 removed).
"""

from docket.oai.repository import OaiSettings, Repository, oai_settings
from docket.oai.server import OaiApp

__all__ = ["OaiApp", "OaiSettings", "Repository", "oai_settings"]
