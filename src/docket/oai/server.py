"""The OAI-PMH 2.0 endpoint: a WSGI application over :class:`~docket.oai.repository.Repository`.

Every parameter is hostile until checked: the query (GET) or the form body (POST) is bounded to
:data:`MAX_QUERY` bytes, each argument may appear once, only the verb's own arguments are allowed,
values are bounded and printable, dates must be ``YYYY-MM-DD`` or ``YYYY-MM-DDThh:mm:ssZ`` (both
of one granularity), and anything else is the protocol's own error (``badVerb``, ``badArgument``,
...), never a traceback. Resumption tokens are opaque (base64 of the listing's position) and
signed with a key the server makes when it starts: a token from another server, an altered or
expired one (``[oai] token_seconds``) is ``badResumptionToken``; a harvest interrupted by a
restart starts again, as OAI allows.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import logging
import re
import secrets
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import parse_qsl

from lxml import etree

from docket.oai.dc import export_settings, oai_dc
from docket.oai.repository import FILE_FORMATS, FORMATS, Item, Repository

log = logging.getLogger("docket.oai")

OAI_NS = "http://www.openarchives.org/OAI/2.0/"
XSI_NS = "http://www.w3.org/2001/XMLSchema-instance"
SCHEMA_LOCATION = f"{OAI_NS} http://www.openarchives.org/OAI/2.0/OAI-PMH.xsd"
MAX_QUERY = 4096  # bytes of query string or form body: a token and four arguments fit easily
MAX_VALUE = 600  # characters of one argument
PATHS = ("/oai", "/")
#: The arguments of each verb: (required, optional); a resumptionToken is exclusive.
VERBS: dict[str, tuple[set[str], set[str]]] = {
    "Identify": (set(), set()),
    "ListMetadataFormats": (set(), {"identifier"}),
    "ListSets": (set(), {"resumptionToken"}),
    "ListIdentifiers": ({"metadataPrefix"}, {"from", "until", "set", "resumptionToken"}),
    "ListRecords": ({"metadataPrefix"}, {"from", "until", "set", "resumptionToken"}),
    "GetRecord": ({"identifier", "metadataPrefix"}, set()),
}
_DAY = re.compile(r"\d{4}-\d{2}-\d{2}")
_SECOND = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z")
#: OAI-PMH.xsd's metadataPrefixType and setSpecType: an argument outside them is badArgument
#: (and would make the echoing <request> invalid)
_SYNTAX = {"metadataPrefix": re.compile(r"[A-Za-z0-9\-_.!~*'()]+"),
           "set": re.compile(r"[A-Za-z0-9\-_.!~*'()]+(:[A-Za-z0-9\-_.!~*'()]+)*")}
_TOKEN = re.compile(r"[A-Za-z0-9_-]{1,500}\.[A-Za-z0-9_-]{43}")


def _parser() -> etree.XMLParser:
    """A parser per call: lxml parsers must not be shared between the server's threads."""
    return etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False, huge_tree=False,
                           remove_blank_text=True)


_START_TAG = re.compile(rb"<[^\s/>]+")


def keep_unqualified(record: etree._Element) -> etree._Element:
    """``record`` with ``xmlns=""`` declared on its root when it holds elements in no namespace.

    EML's local elements are unqualified (``<eml:eml><dataset>``). The envelope's default namespace
    is OAI-PMH's, and lxml does not undeclare it when such a record is appended under
    ``<metadata>``: ``<dataset>`` would be served as ``{OAI-PMH}dataset`` (invalid against both
    schemas, and another element to every harvester). A declaration parsed on the record's root is
    kept when it moves, so the record is re-read with one.
    """
    if None in record.nsmap or all(etree.QName(e).namespace for e in record.iter(etree.Element)):
        return record
    data = etree.tostring(record)
    end = _START_TAG.match(data).end()  # type: ignore[union-attr] - tostring starts with the root's tag
    return etree.fromstring(data[:end] + b' xmlns=""' + data[end:], _parser())


class OaiError(Exception):
    """An OAI-PMH error condition (its code and message go into ``<error>``)."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


def stamp(value: datetime) -> str:
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_date(name: str, value: str, until: bool) -> tuple[datetime, str]:
    """(time, granularity) of a ``from``/``until`` argument; a day's ``until`` is its last second."""
    try:
        if _SECOND.fullmatch(value):
            return datetime.strptime(value, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC), "second"
        if _DAY.fullmatch(value):
            day = datetime.strptime(value, "%Y-%m-%d").replace(tzinfo=UTC)
            return (day + timedelta(days=1, seconds=-1) if until else day), "day"
    except ValueError:
        pass
    raise OaiError("badArgument", f"{name}={value[:40]!r} is not a date as YYYY-MM-DD or YYYY-MM-DDThh:mm:ssZ")


@dataclass(frozen=True)
class Listing:
    """What a list request asks for, and where the next page starts (carried in the token)."""

    verb: str
    prefix: str
    start: datetime | None
    end: datetime | None
    after: tuple[str, int] | None = None  # (ISO publication time to the microsecond, row id) of the last item
    cursor: int = 0
    total: int | None = None  # completeListSize, counted on the first page


class Tokens:
    """Signed, expiring resumption tokens: ``base64(json).base64(hmac)``."""

    def __init__(self, seconds: int, key: bytes | None = None, clock: Callable[[], float] = time.time) -> None:
        self.seconds = seconds
        self.key = key or secrets.token_bytes(32)
        self.clock = clock

    def _mac(self, body: bytes) -> str:
        return base64.urlsafe_b64encode(hmac.new(self.key, body, hashlib.sha256).digest()).decode().rstrip("=")

    def issue(self, listing: Listing, expires: float | None = None) -> tuple[str, datetime]:
        expires = self.clock() + self.seconds if expires is None else expires
        payload = {"v": listing.verb, "p": listing.prefix, "f": listing.start and stamp(listing.start),
                   "u": listing.end and stamp(listing.end), "a": listing.after, "c": listing.cursor,
                   "n": listing.total, "e": int(expires)}
        body = base64.urlsafe_b64encode(json.dumps(payload, separators=(",", ":")).encode()).decode().rstrip("=")
        return f"{body}.{self._mac(body.encode())}", datetime.fromtimestamp(int(expires), UTC)

    def read(self, token: str, verb: str) -> Listing:
        bad = OaiError("badResumptionToken", "the resumptionToken is not valid (altered, from another server, "
                                             "or for another verb); start the list again")
        if not _TOKEN.fullmatch(token):
            raise bad
        body, mac = token.split(".")
        if not hmac.compare_digest(mac, self._mac(body.encode())):
            raise bad
        try:
            data = json.loads(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))
            expires = int(data["e"])
            after = data["a"]
            listing = Listing(
                str(data["v"]), str(data["p"]),
                datetime.strptime(data["f"], "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC) if data["f"] else None,
                datetime.strptime(data["u"], "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC) if data["u"] else None,
                (str(after[0]), int(after[1])) if after else None, int(data["c"]),
                None if data.get("n") is None else int(data["n"]))
            if listing.after is not None:
                datetime.fromisoformat(listing.after[0])  # the key must be a time (ValueError: bad)
        except (binascii.Error, ValueError, KeyError, TypeError, IndexError):
            raise bad from None
        if listing.verb != verb or listing.prefix not in FORMATS:
            raise bad
        if expires < self.clock():
            raise OaiError("badResumptionToken", "the resumptionToken has expired; start the list again")
        return listing


class OaiApp:
    """The WSGI application. ``base_url``: the endpoint's address as harvesters reach it (the
    ``[oai] base_url`` setting when behind a proxy, else where the server listens)."""

    def __init__(self, repository: Repository, base_url: str, *, tokens: Tokens | None = None) -> None:
        self.repo = repository
        self.settings = repository.settings
        self.base_url = self.settings.base_url or base_url
        self.page_size = self.settings.page_size
        self.tokens = tokens or Tokens(self.settings.token_seconds)
        self.export_settings = export_settings(repository.instance.config)

    # -- WSGI -------------------------------------------------------------------------------

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        method = environ.get("REQUEST_METHOD", "GET")
        if environ.get("PATH_INFO", "/") not in PATHS:
            return self._plain(start_response, "404 Not Found", "not found: the OAI-PMH endpoint is /oai\n")
        if method not in ("GET", "POST"):
            return self._plain(start_response, "405 Method Not Allowed", "GET or POST\n", [("Allow", "GET, POST")])
        try:
            raw = self._query(environ, method)
            body = self.respond(raw)
        except Exception:  # a broken store or file: logged, answered without its details
            log.exception("OAI-PMH request failed")
            return self._plain(start_response, "500 Internal Server Error", "the repository could not answer\n")
        start_response("200 OK", [("Content-Type", "text/xml; charset=utf-8"), ("Content-Length", str(len(body)))])
        return [body]

    @staticmethod
    def _plain(start_response: Callable[..., Any], status: str, text: str,
               headers: list[tuple[str, str]] | None = None) -> list[bytes]:
        data = text.encode()
        start_response(status, [("Content-Type", "text/plain; charset=utf-8"),
                                ("Content-Length", str(len(data))), *(headers or [])])
        return [data]

    @staticmethod
    def _query(environ: dict[str, Any], method: str) -> str | None:
        """The raw argument string, or None when it is too long or not text (badArgument)."""
        if method == "GET":
            raw = environ.get("QUERY_STRING", "")
            return raw if len(raw) <= MAX_QUERY else None
        kind = (environ.get("CONTENT_TYPE") or "").split(";")[0].strip().lower()
        try:
            length = int(environ.get("CONTENT_LENGTH") or 0)
        except ValueError:
            return None
        if kind != "application/x-www-form-urlencoded" or not 0 <= length <= MAX_QUERY:
            return None
        data = environ["wsgi.input"].read(length) if length else b""
        try:
            return data.decode("ascii")
        except UnicodeDecodeError:
            return None

    # -- the protocol ------------------------------------------------------------------------

    def respond(self, raw: str | None) -> bytes:
        """The OAI-PMH response document for the argument string ``raw`` (None: unreadable)."""
        now = datetime.now(UTC)
        root = etree.Element(f"{{{OAI_NS}}}OAI-PMH", nsmap={None: OAI_NS, "xsi": XSI_NS})
        root.set(f"{{{XSI_NS}}}schemaLocation", SCHEMA_LOCATION)
        etree.SubElement(root, f"{{{OAI_NS}}}responseDate").text = stamp(now)
        request = etree.SubElement(root, f"{{{OAI_NS}}}request")
        request.text = self.base_url
        try:
            args = self._arguments(raw)
            verb = args.pop("verb")
            self._check(verb, args)
            for key, value in args.items():  # echoed only once they are known to be good
                request.set(key, value)
            request.set("verb", verb)
            getattr(self, f"_{verb}")(root, args)
        except OaiError as exc:
            if exc.code in ("badVerb", "badArgument"):  # the spec: echo no arguments then
                request.attrib.clear()
            for child in root[2:]:
                root.remove(child)
            error = etree.SubElement(root, f"{{{OAI_NS}}}error", code=exc.code)
            error.text = exc.message
        return etree.tostring(root, xml_declaration=True, encoding="UTF-8")

    @staticmethod
    def _arguments(raw: str | None) -> dict[str, str]:
        if raw is None:
            raise OaiError("badArgument", f"the arguments must be a URL-encoded query of at most {MAX_QUERY} bytes")
        try:
            pairs = parse_qsl(raw, keep_blank_values=True, strict_parsing=bool(raw), max_num_fields=20,
                              errors="strict")
        except (ValueError, UnicodeDecodeError):
            raise OaiError("badArgument", "the arguments are not a well-formed URL-encoded query") from None
        verbs = [v for k, v in pairs if k == "verb"]
        if len(verbs) != 1 or verbs[0] not in VERBS:
            what = "no verb" if not verbs else "the verb is repeated" if len(verbs) > 1 else "an unknown verb"
            raise OaiError("badVerb", f"{what}: the verbs are {', '.join(VERBS)}")
        args: dict[str, str] = {}
        for key, value in pairs:
            if key in args:
                raise OaiError("badArgument", f"the argument {key[:40]!r} is repeated")
            if len(value) > MAX_VALUE or not value.isprintable() or not value:
                raise OaiError("badArgument", f"the argument {key[:40]!r} is empty, too long or not printable")
            args[key] = value
        return args

    @staticmethod
    def _check(verb: str, args: dict[str, str]) -> None:
        required, optional = VERBS[verb]
        unknown = sorted(k for k in args if k not in required | optional)
        if unknown:
            raise OaiError("badArgument", f"{verb} takes no argument {unknown[0][:40]!r}")
        if "resumptionToken" in args:
            if len(args) > 1:
                raise OaiError("badArgument", "resumptionToken is an exclusive argument")
            return
        missing = sorted(required - set(args))
        if missing:
            raise OaiError("badArgument", f"{verb} needs the argument {missing[0]}")
        for key, pattern in _SYNTAX.items():  # echoed in <request>: must be of the schema's type
            if key in args and not pattern.fullmatch(args[key]):
                raise OaiError("badArgument", f"{key}={args[key][:40]!r} is not of the syntax OAI-PMH allows")

    def _sub(self, parent: etree._Element, name: str, text: str | None = None, **attrs: str) -> etree._Element:
        element = etree.SubElement(parent, f"{{{OAI_NS}}}{name}", **attrs)
        if text is not None:
            element.text = text
        return element

    def _Identify(self, root: etree._Element, args: dict[str, str]) -> None:  # noqa: N802 - the verb's name
        ident = self._sub(root, "Identify")
        earliest = self.repo.earliest()
        self._sub(ident, "repositoryName", self.settings.repository_name)
        self._sub(ident, "baseURL", self.base_url)
        self._sub(ident, "protocolVersion", "2.0")
        self._sub(ident, "adminEmail", self.settings.admin_email)
        # with nothing published yet, no record is older than now
        self._sub(ident, "earliestDatestamp", stamp(earliest or datetime.now(UTC)))
        self._sub(ident, "deletedRecord", "no")
        self._sub(ident, "granularity", "YYYY-MM-DDThh:mm:ssZ")
        # how the identifiers are made, so a harvester can tell this repository's items apart
        scheme = "http://www.openarchives.org/OAI/2.0/oai-identifier"
        description = etree.SubElement(self._sub(ident, "description"), f"{{{scheme}}}oai-identifier",
                                       nsmap={None: scheme})
        description.set(f"{{{XSI_NS}}}schemaLocation", f"{scheme} http://www.openarchives.org/OAI/2.0/oai-identifier.xsd")
        for name, value in (("scheme", "oai"), ("repositoryIdentifier", self.settings.host), ("delimiter", ":"),
                            ("sampleIdentifier", f"{self.repo.prefix}ocean-0007.2")):
            etree.SubElement(description, f"{{{scheme}}}{name}").text = value

    def _ListMetadataFormats(self, root: etree._Element, args: dict[str, str]) -> None:  # noqa: N802
        prefixes = list(FORMATS)
        if "identifier" in args:
            prefixes = self._item(args["identifier"]).formats
        holder = self._sub(root, "ListMetadataFormats")
        for prefix in prefixes:
            schema, namespace = FORMATS[prefix]
            fmt = self._sub(holder, "metadataFormat")
            self._sub(fmt, "metadataPrefix", prefix)
            self._sub(fmt, "schema", schema)
            self._sub(fmt, "metadataNamespace", namespace)

    def _ListSets(self, root: etree._Element, args: dict[str, str]) -> None:  # noqa: N802
        if "resumptionToken" in args:
            raise OaiError("badResumptionToken", "this repository issues no resumptionToken for sets")
        raise OaiError("noSetHierarchy", "this repository does not support sets")

    def _GetRecord(self, root: etree._Element, args: dict[str, str]) -> None:  # noqa: N802
        prefix = self._prefix(args["metadataPrefix"])
        item = self._item(args["identifier"])
        metadata = self._metadata(item, prefix)
        if metadata is None:
            raise OaiError("cannotDisseminateFormat", f"{args['identifier'][:100]} is not available as {prefix}")
        self._record(self._sub(root, "GetRecord"), item, metadata)

    def _ListIdentifiers(self, root: etree._Element, args: dict[str, str]) -> None:  # noqa: N802
        self._list(root, "ListIdentifiers", args)

    def _ListRecords(self, root: etree._Element, args: dict[str, str]) -> None:  # noqa: N802
        self._list(root, "ListRecords", args)

    # -- helpers -----------------------------------------------------------------------------

    @staticmethod
    def _prefix(value: str) -> str:
        if value not in FORMATS:
            raise OaiError("cannotDisseminateFormat", f"{value[:40]!r} is not a metadata format of this "
                                                      f"repository (known: {', '.join(FORMATS)})")
        return value

    def _item(self, identifier: str) -> Item:
        parsed = self.repo.parse_identifier(identifier)
        item = self.repo.item(*parsed) if parsed else None
        if item is None:
            raise OaiError("idDoesNotExist", f"{identifier[:100]!r} is not an identifier of this repository "
                                             f"(they look like {self.repo.prefix}ocean-0007.2)")
        return item

    def _metadata(self, item: Item, prefix: str) -> etree._Element | None:
        if prefix == "oai_dc":
            return oai_dc(self.repo.document(item), {"identifier": item.identifier,
                                                     "identifier_type": item.identifier_type,
                                                     "date": stamp(item.datestamp)}, self.export_settings)
        if prefix not in FILE_FORMATS:
            return None
        data = self.repo.export_file(item, prefix)
        if data is None:
            if any(e.get("format") == prefix for e in item.exports):
                log.warning("%s: the %s file is missing or differs from what was published; not served", item.ref, prefix)
            return None
        return keep_unqualified(etree.fromstring(data, _parser()))  # the root element: no declaration, no DTD

    def _header(self, parent: etree._Element, item: Item) -> None:
        header = self._sub(parent, "header")
        self._sub(header, "identifier", self.repo.oai_identifier(item))
        self._sub(header, "datestamp", stamp(item.datestamp))

    def _record(self, parent: etree._Element, item: Item, metadata: etree._Element) -> None:
        record = self._sub(parent, "record")
        self._header(record, item)
        self._sub(record, "metadata").append(metadata)

    def _listing(self, verb: str, args: dict[str, str]) -> Listing:
        if "resumptionToken" in args:
            return self.tokens.read(args["resumptionToken"], verb)
        prefix = self._prefix(args["metadataPrefix"])
        if "set" in args:
            raise OaiError("noSetHierarchy", "this repository does not support sets")
        start = parse_date("from", args["from"], False) if "from" in args else None
        end = parse_date("until", args["until"], True) if "until" in args else None
        if start and end and start[1] != end[1]:
            raise OaiError("badArgument", "from and until must have the same granularity")
        if start and end and start[0] > end[0]:
            raise OaiError("badArgument", "from is later than until")
        return Listing(verb, prefix, start and start[0], end and end[0])

    def _list(self, root: etree._Element, verb: str, args: dict[str, str]) -> None:
        """One page of a list, read in SQL from just after the token's key (page_size + 1 rows at
        a time: the extra one tells whether there is more)."""
        listing = self._listing(verb, args)
        after = None
        if listing.after is not None:
            when = datetime.fromisoformat(listing.after[0])
            after = (when.replace(tzinfo=UTC) if when.tzinfo is None else when.astimezone(UTC), listing.after[1])
        holder = self._sub(root, verb)
        sent, last, more = 0, None, False
        for item in self.repo.listing(listing.prefix, listing.start, listing.end, after, self.page_size + 1):
            if sent == self.page_size:
                more = True
                break
            last = item
            if verb == "ListIdentifiers":
                self._header(holder, item)
                sent += 1
                continue
            metadata = self._metadata(item, listing.prefix)
            if metadata is not None:  # else logged: a file changed after publication is not served
                self._record(holder, item, metadata)
                sent += 1
        if not sent or last is None:  # nothing servable (the schema wants at least one entry per list)
            raise OaiError("noRecordsMatch", "no published record matches these arguments")
        if listing.after is None and not more:
            return  # one complete response: no token at all
        # counted once, on the first page, and carried in the token
        total = listing.total if listing.total is not None else self.repo.count(listing.prefix, listing.start,
                                                                                listing.end)
        total = max(total, listing.cursor + sent)  # positiveInteger, and never less than what was sent
        attrs = {"completeListSize": str(total), "cursor": str(listing.cursor)}
        if more:
            token, expires = self.tokens.issue(Listing(verb, listing.prefix, listing.start, listing.end,
                                                       (last.published.isoformat(), last.key),
                                                       listing.cursor + sent, total))
            self._sub(holder, "resumptionToken", token, expirationDate=stamp(expires), **attrs)
        else:
            self._sub(holder, "resumptionToken", None, **attrs)  # the last page: an empty token


# --------------------------------------------------------------------------- the HTTP server

HOST = "127.0.0.1"


def make_server(repository: Repository, port: int) -> Any:
    """A threading WSGI server on ``127.0.0.1:port`` (0: any free port) serving the endpoint at
    ``/oai``; docket never listens beyond loopback (a proxy publishes it). Requests are logged
    through :data:`log`, not written to standard error."""
    from socketserver import ThreadingMixIn
    from wsgiref.simple_server import WSGIRequestHandler, WSGIServer
    from wsgiref.simple_server import make_server as wsgi_server

    class Server(ThreadingMixIn, WSGIServer):
        daemon_threads = True

    class Handler(WSGIRequestHandler):
        timeout = 30  # seconds a connection may sit idle: a client that never finishes holds no thread for ever

        def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - http.server's name
            log.info("%s %s", self.address_string(), format % args)

    app = OaiApp(repository, "")  # the address is known once the socket is bound
    httpd = wsgi_server(HOST, port, app, server_class=Server, handler_class=Handler)
    if not repository.settings.base_url:
        app.base_url = f"http://{HOST}:{httpd.server_address[1]}/oai"
    httpd.oai_app = app  # type: ignore[attr-defined]
    return httpd
