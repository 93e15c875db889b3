"""DOIs through DataCite: the ``[datacite]`` settings, the REST client, and the ``doi`` job kind.

Publishing with ``[datacite] endpoint`` and ``prefix`` set gives a revision the DOI
``<prefix>/<id>.<revision>`` (lower case, e.g. ``10.5072/ocean-0007.2``): derived, never drawn,
so registering it twice names the same DOI and a retry can never mint a second one. The
publication's transaction queues one ``doi`` job per DOI (the job key is the DOI); the worker
(:mod:`docket.jobs`) registers it later, so a registry that is down delays the DOI and never
fails the publication.

The job speaks the subset of DataCite's REST API (JSON:API) docket needs:

1. ``GET /dois/{doi}``: does the DOI exist already (a retry after a lost answer)?
2. if not, ``POST /dois`` with ``data.attributes`` ``{doi, url, xml}`` (``xml`` the base64 of the
   publication's DataCite export): a **draft**;
3. ``PUT /dois/{doi}`` with ``event: "publish"``, the URL and the XML: **findable**.

Only after step 3 is the ``publications`` row ``findable``; until then it stays ``pending``. A
timeout, a refused connection or a 5xx is :class:`~docket.jobs.Transient` (retried with the
``[jobs]`` backoff); a 422 is :class:`~docket.jobs.Permanent` with DataCite's own messages (the job
fails at once, ``docket jobs --failed`` shows why); so are other 4xx answers, except 401/403/429
(credentials or rate limits: fixable, retried). Credentials come from ``$DOCKET_DATACITE_USER``
and ``$DOCKET_DATACITE_PASSWORD`` when the job runs, never from a file, a payload or a log.

The endpoint is the data centre's own configured registry (DataCite's API, or its test API), so
no public-address policy applies here as it does to a provider's URL in a transfer.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlsplit

from sqlalchemy import update

from docket.errors import BadInput
from docket.jobs.registry import JobContext, JobKind, Permanent, Transient, register
from docket.people.actor import Actor
from docket.store import tables

KIND_NAME = "doi"
USER_VARIABLE = "DOCKET_DATACITE_USER"
PASSWORD_VARIABLE = "DOCKET_DATACITE_PASSWORD"
JSON_API = "application/vnd.api+json"
#: How much of an answer's body is read: DataCite's answers are a few kilobytes.
MAX_ANSWER = 1 << 20
_KNOWN = {"endpoint", "prefix", "timeout"}


@dataclass(frozen=True)
class DataCiteSettings:
    """``[datacite]`` of docket.toml: where DOIs are registered, under which prefix."""

    endpoint: str  # e.g. https://api.test.datacite.org (no trailing slash)
    prefix: str  # e.g. 10.5072
    timeout: float = 30.0  # seconds for each connect and read

    def doi(self, request_id: str, revision: int) -> str:
        """The DOI of a revision: ``<prefix>/<id>.<revision>``, lower case (DOIs are
        case-insensitive and DataCite stores them in upper case; docket writes them lower)."""
        return f"{self.prefix}/{request_id}.{revision}".lower()


def datacite_settings(config: Any) -> DataCiteSettings | None:
    """The ``[datacite]`` settings, or None when the instance registers no DOIs.

    A prefix without an endpoint (or the reverse) is refused naming what is missing: publishing
    would otherwise write DataCite records naming a DOI that nobody registers.
    """
    table = getattr(config, "datacite", None) or {}
    if not isinstance(table, dict):
        raise BadInput("docket.toml: [datacite] must be a table")
    if not table:
        return None
    unknown = sorted(set(table) - _KNOWN)
    if unknown:
        raise BadInput(f"docket.toml [datacite]: unknown setting {unknown[0]!r} (known: {', '.join(sorted(_KNOWN))})")
    endpoint, prefix = table.get("endpoint"), table.get("prefix")
    if not endpoint and not prefix:
        return None
    if not endpoint or not prefix:
        missing = "endpoint" if not endpoint else "prefix"
        raise BadInput(f"docket.toml [datacite]: {missing} is not set; DOIs need both endpoint and prefix "
                       "(or neither, to publish with the instance's own URLs)")
    if not isinstance(endpoint, str) or urlsplit(endpoint).scheme not in ("http", "https") \
            or not urlsplit(endpoint).netloc:
        raise BadInput(f"docket.toml [datacite]: endpoint must be an http(s) URL, not {endpoint!r}")
    if not isinstance(prefix, str) or not prefix.startswith("10.") or "/" in prefix:
        raise BadInput(f"docket.toml [datacite]: prefix must be a DOI prefix like '10.5072', not {prefix!r}")
    timeout = table.get("timeout", 30.0)
    if isinstance(timeout, bool) or not isinstance(timeout, int | float) or not 0 < timeout < 3600:
        raise BadInput(f"docket.toml [datacite]: timeout must be a number of seconds, not {timeout!r}")
    return DataCiteSettings(endpoint.rstrip("/"), prefix, float(timeout))


def credentials() -> tuple[str, str] | None:
    """(user, password) from the environment, or None when either is missing."""
    user, password = os.environ.get(USER_VARIABLE), os.environ.get(PASSWORD_VARIABLE)
    return (user, password) if user and password else None


# --------------------------------------------------------------------------- the REST client


class DataCiteClient:
    """The few calls of DataCite's REST API that registering a DOI takes (see the module notes).

    Every failure is a :class:`Transient` or :class:`Permanent` job error whose message names the
    DOI and what the registry said, never the credentials.
    """

    def __init__(self, settings: DataCiteSettings, user: str, password: str, *, timeout: float | None = None,
                 pool: Any = None) -> None:
        import urllib3

        self.settings = settings
        seconds = min(settings.timeout, timeout) if timeout else settings.timeout
        self.pool = pool or urllib3.PoolManager(
            timeout=urllib3.Timeout(connect=seconds, read=seconds), retries=False)
        self.headers = {**urllib3.make_headers(basic_auth=f"{user}:{password}"),
                        "Accept": JSON_API, "Content-Type": JSON_API}

    def _call(self, method: str, path: str, doi: str, body: dict[str, Any] | None = None) -> tuple[int, Any]:
        import urllib3

        url = self.settings.endpoint + path
        try:
            response = self.pool.request(method, url, body=json.dumps(body).encode() if body is not None else None,
                                         headers=self.headers, redirect=False, preload_content=False)
            try:
                raw = response.read(MAX_ANSWER + 1)
            finally:
                response.release_conn()
        except urllib3.exceptions.NewConnectionError:  # (a subclass of the timeout error in urllib3 2)
            raise Transient(f"{doi}: cannot connect to DataCite at {self.settings.endpoint}",
                            unavailable=True) from None
        except urllib3.exceptions.TimeoutError:
            raise Transient(f"{doi}: DataCite ({self.settings.endpoint}) did not answer in time",
                            unavailable=True) from None
        except urllib3.exceptions.HTTPError as exc:  # refused, reset, TLS, name not found ...
            reason = type(getattr(exc, "reason", None) or exc).__name__
            raise Transient(f"{doi}: cannot reach DataCite at {self.settings.endpoint} ({reason})",
                            unavailable=True) from None
        try:
            data = json.loads(raw) if raw and len(raw) <= MAX_ANSWER else None
        except ValueError:
            data = None
        return response.status, data

    def _fail(self, status: int, data: Any, doi: str, what: str) -> None:
        """Raise the job error for an answer that is not a success."""
        said = errors_of(data)
        detail = f": {said}" if said else ""
        if status == 422:
            raise Permanent(f"{doi}: DataCite refused to {what} (422){detail}")
        if status >= 500:
            raise Transient(f"{doi}: DataCite could not {what} ({status}, the registry's own failure){detail}",
                            unavailable=True)
        if status in (401, 403):
            raise Transient(f"{doi}: DataCite refused the credentials ({status}); check {USER_VARIABLE} and "
                            f"{PASSWORD_VARIABLE}{detail}", unavailable=True)
        if status == 429:
            raise Transient(f"{doi}: DataCite asks to slow down (429){detail}", unavailable=True)
        raise Permanent(f"{doi}: DataCite answered {status} when asked to {what}{detail}")

    def state(self, doi: str) -> str | None:
        """The DOI's state at DataCite (``draft``, ``registered``, ``findable``), None if unknown there."""
        status, data = self._call("GET", f"/dois/{quote(doi, safe='')}", doi)
        if status == 404:
            return None
        if status != 200:
            self._fail(status, data, doi, "look the DOI up")
        return str(((data or {}).get("data") or {}).get("attributes", {}).get("state") or "draft")

    def create_draft(self, doi: str, url: str, xml: bytes) -> None:
        body = {"data": {"type": "dois", "attributes": {
            "doi": doi, "url": url, "xml": base64.b64encode(xml).decode("ascii")}}}
        status, data = self._call("POST", "/dois", doi, body)
        if status not in (200, 201):
            self._fail(status, data, doi, "create the draft DOI")

    def publish(self, doi: str, url: str, xml: bytes) -> str:
        """Make the DOI findable; returns the state DataCite reports."""
        body = {"data": {"type": "dois", "attributes": {
            "event": "publish", "url": url, "xml": base64.b64encode(xml).decode("ascii")}}}
        status, data = self._call("PUT", f"/dois/{quote(doi, safe='')}", doi, body)
        if status != 200:
            self._fail(status, data, doi, "make the DOI findable")
        return str(((data or {}).get("data") or {}).get("attributes", {}).get("state") or "findable")


def errors_of(data: Any) -> str:
    """DataCite's JSON:API ``errors`` as one line: ``url: can't be blank; xml: ...``."""
    if not isinstance(data, dict) or not isinstance(data.get("errors"), list):
        return ""
    parts = []
    for error in data["errors"][:10]:
        if not isinstance(error, dict):
            continue
        title = str(error.get("title") or error.get("detail") or "").strip()
        source = error.get("source")
        where = source.get("pointer") if isinstance(source, dict) else source
        parts.append(f"{where}: {title}" if where else title)
    return "; ".join(p[:300] for p in parts if p)


# --------------------------------------------------------------------------- the job kind


def payload_for(request_id: str, revision: int, version: int, doi: str, url: str, xml_path: str,
                xml_sha256: str) -> dict[str, Any]:
    """What a ``doi`` job carries: the DOI, the landing page, and where the DataCite export is
    (relative to the instance, with its digest); never the credentials."""
    return {"request_id": request_id, "revision": revision, "version": version, "doi": doi, "url": url,
            "xml": xml_path, "xml_sha256": xml_sha256}


def describe(payload: dict[str, Any]) -> str:
    return (f"DOI {payload.get('doi')} for {payload.get('request_id')}.{payload.get('revision')} "
            f"(version {payload.get('version')})")


def _export(root: Path, payload: dict[str, Any]) -> bytes:
    """The DataCite XML the publication wrote, as it wrote it."""
    path = (root / str(payload["xml"])).resolve()
    if root.resolve() not in path.parents:
        raise Permanent(f"{payload['doi']}: the DataCite export {payload['xml']} is not inside the instance")
    try:
        data = path.read_bytes()
    except FileNotFoundError:  # published but not renamed into place yet, or removed by hand
        raise Transient(f"{payload['doi']}: the DataCite export {payload['xml']} is not there (yet)") from None
    if "sha256:" + hashlib.sha256(data).hexdigest() != payload.get("xml_sha256"):
        raise Permanent(f"{payload['doi']}: the DataCite export {payload['xml']} changed since it was published")
    return data


def handle(ctx: JobContext, payload: dict[str, Any]) -> dict[str, Any]:
    """Register one DOI: draft (unless DataCite has it already), then findable; then the row."""
    docket = ctx.docket
    try:
        settings = datacite_settings(docket.config)
    except BadInput as exc:
        raise Transient(exc.message, unavailable=True) from None
    if settings is None:
        raise Transient(f"{payload.get('doi')}: docket.toml has no [datacite] endpoint and prefix any more",
                        unavailable=True)
    login = credentials()
    if login is None:
        raise Transient(f"{payload.get('doi')}: set {USER_VARIABLE} and {PASSWORD_VARIABLE} to register DOIs",
                        unavailable=True)
    doi, url = str(payload["doi"]), str(payload["url"])
    xml = _export(docket.instance.root, payload)
    client = ctx.shared.get("client")
    if client is None or client.settings != settings:
        client = ctx.shared["client"] = DataCiteClient(settings, *login, timeout=ctx.timeout)
    created = False
    state = client.state(doi)
    if state is None:  # never a second POST: a draft from an earlier try is found above
        client.create_draft(doi, url, xml)
        created = True
    if state != "findable":
        state = client.publish(doi, url, xml)
    mark_findable(docket, payload, state, ctx.now)
    return {"doi": doi, "state": state, "draft_created": created}


def mark_findable(docket: Any, payload: dict[str, Any], state: str, at: datetime) -> None:
    """The publication row takes DataCite's state, with an audit row, in one transaction."""
    p = tables.publications
    status = state if state in ("registered", "findable") else "pending"
    with docket.store.transaction() as conn:
        conn.execute(update(p).where(p.c.request_id == payload["request_id"], p.c.revision == payload["revision"])
                     .values(status=status, updated_date=at))
        docket._audit(conn, Actor.system(), f"doi:{status}", payload["request_id"],
                      {"doi": payload["doi"], "revision": payload["revision"], "version": payload.get("version")},
                      None, at)


def close(shared: dict[str, Any]) -> None:
    client = shared.pop("client", None)
    if client is not None:
        client.pool.clear()


KIND = JobKind(name=KIND_NAME, handle=handle, describe=describe, close=close)
register(KIND)
