"""``http://`` and ``https://`` sources, on urllib3.

urllib3 (2.x) does the parts that are easy to get subtly wrong and that docket's own
``http.client`` code did get wrong: connect and read timeouts, TLS with hostname checking,
forwarding proxies and CONNECT tunnels, header parsing and chunked decoding. Retries and
redirects are off in urllib3: docket follows redirects itself, because every hop must pass the
address policy (:mod:`docket.transfer.addresses`) and credentials must not follow a redirect to
another host.

Three things urllib3 does not do are done here:

* **Connect to the address that was checked.** The host name is resolved once, every address is
  checked, and the connection goes to those addresses (``_VettedConnection._new_conn``) while
  the Host header, TLS SNI and certificate check still use the name. A second DNS answer
  (rebinding) is never asked for.
* **Exact Content-Length accounting.** Like ``http.client``, urllib3 stops at Content-Length and
  cannot tell a body that ends there from one that goes on; docket reads such a body from the
  socket buffer itself, counts it, and probes briefly for a surplus, so both a short and a long
  body fail. Chunked and close-delimited bodies are read through ``http.client``, which raises
  on a truncated chunk.
* **A deadline for the whole transfer.** The timeout bounds each wait (connect, each read); the
  deadline bounds the sum, so a server trickling a byte every few seconds is cut off: before
  every read the socket's timeout is set to what is left of both, and a watchdog shuts the
  connection down when the deadline passes (headers and TLS handshakes trickle too).

Through a proxy the proxy connects, so the address cannot be pinned; the target's name is still
checked where it resolves here (see :mod:`docket.transfer.addresses`).

Error messages are the same for a refused, reset or silent connection and for a server that
answers something other than HTTP ("could not connect to HOST, or it sent no HTTP answer..."), so
a request cannot be used to learn which ports of a host are open. Two things still differ, on
purpose or of necessity: a certificate failure is named (the provider can fix it), and how long
the failure took (a closed port fails at once, a silent one after the timeout).
"""

from __future__ import annotations

import contextlib
import http.client
import re
import socket
import ssl
import threading
import time
from collections.abc import Iterator
from typing import Any
from urllib.parse import urljoin, urlsplit, urlunsplit
from urllib.request import getproxies_environment, proxy_bypass_environment

import urllib3
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool
from urllib3.exceptions import ConnectTimeoutError, NewConnectionError, ProxyError, SSLError
from urllib3.util import connection as urllib3_connection

from docket.errors import BadInput, Refused
from docket.transfer import credentials as creds
from docket.transfer.addresses import (
    AddressPolicy,
    IPAddress,
    NotPublic,
    ResolutionFailed,
    resolve,
    vetted_addresses,
)
from docket.transfer.errors import TransferFailed, redact
from docket.transfer.sources import Opened, Source, SourceContext, register

#: How long to wait, after the declared Content-Length arrived, for bytes the server should not
#: send. A conforming server closes at once (docket asks for ``Connection: close``).
EXCESS_PROBE_SECONDS = 1.0

_REDIRECTS = (301, 302, 303, 307, 308)
#: What http.client refuses to put in a request line (it would raise deep inside urllib3).
_UNSAFE_IN_URL = re.compile(r"[\x00-\x20\x7f]")


class _DeadlinePassed(Exception):
    """The transfer's overall deadline passed (turned into a TransferFailed by the caller)."""


class _Clock:
    """The timeout of each wait and the deadline of the whole transfer, in one place."""

    def __init__(self, timeout: float, deadline: float | None) -> None:
        self.timeout = timeout
        self.deadline = deadline
        self.end = None if deadline is None else time.monotonic() + deadline
        self._watched: list[tuple[threading.Timer, socket.socket]] = []

    def wait(self) -> float:
        """Seconds the next wait may take: the timeout, or less when the deadline is nearer."""
        if self.end is None:
            return self.timeout
        left = self.end - time.monotonic()
        if left <= 0:
            raise _DeadlinePassed
        return min(self.timeout, left)

    def passed(self) -> bool:
        return self.end is not None and time.monotonic() >= self.end - 0.01

    def watch(self, sock: socket.socket) -> None:
        """Shut ``sock``'s connection down when the deadline passes, whatever is waiting on it.

        Per-read timeouts cannot bound a server that trickles its *headers* (http.client reads
        them line by line, each read within the timeout) or a slow TLS handshake; shutting the
        connection down unblocks any of them. A duplicate descriptor is kept because TLS
        wrapping detaches the original socket object; shutdown acts on the connection, which
        both descriptors share.
        """
        if self.end is None:
            return
        watched = sock.dup()
        timer = threading.Timer(max(0.0, self.end - time.monotonic()), _shutdown, (watched,))
        timer.daemon = True
        self._watched.append((timer, watched))
        timer.start()

    def stop(self) -> None:
        """Cancel every watch and close the duplicate descriptors."""
        for timer, watched in self._watched:
            timer.cancel()
            watched.close()
        self._watched.clear()

    def message(self) -> str:
        return f"the deadline of {self.deadline:g} s passed"


def _shutdown(sock: socket.socket) -> None:
    with contextlib.suppress(OSError):
        sock.shutdown(socket.SHUT_RDWR)


class _VettedConnection:
    """Mixin: connect to the vetted addresses (when given) and keep the socket for the reader.

    ``http.client`` drops ``conn.sock`` when the server will close, but the body reader still
    needs it to set per-read timeouts, so ``connect`` keeps a reference in ``docket_sock``.
    """

    docket_addresses: list[IPAddress] | None
    docket_sock: Any

    def __init__(self, *args: Any, docket_addresses: list[IPAddress] | None = None,
                 docket_clock: _Clock | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[call-arg]
        self.docket_addresses = docket_addresses
        self.docket_clock = docket_clock
        self.docket_sock = None

    def _new_conn(self) -> socket.socket:
        sock = self._open_socket()
        if self.docket_clock is not None:
            self.docket_clock.watch(sock)
        return sock

    def _open_socket(self) -> socket.socket:
        if not self.docket_addresses:
            return super()._new_conn()  # type: ignore[misc]  # a proxy: the data centre's choice
        last: BaseException | None = None
        for ip in self.docket_addresses:
            try:
                return urllib3_connection.create_connection(
                    (str(ip), self.port),  # type: ignore[attr-defined]
                    self.timeout,  # type: ignore[attr-defined]
                    source_address=self.source_address,  # type: ignore[attr-defined]
                    socket_options=self.socket_options,  # type: ignore[attr-defined]
                )
            except TimeoutError as exc:
                last = ConnectTimeoutError(self, "connect timed out")
                last.__cause__ = exc
            except OSError as exc:
                last = NewConnectionError(self, "cannot connect")  # type: ignore[arg-type]
                last.__cause__ = exc
        assert last is not None
        raise last

    def connect(self) -> None:
        super().connect()  # type: ignore[misc]
        self.docket_sock = self.sock  # type: ignore[attr-defined]


class _HTTPConnection(_VettedConnection, HTTPConnection):
    pass


class _HTTPSConnection(_VettedConnection, HTTPSConnection):
    pass


class _HTTPPool(HTTPConnectionPool):
    ConnectionCls = _HTTPConnection


class _HTTPSPool(HTTPSConnectionPool):
    ConnectionCls = _HTTPSConnection  # type: ignore[assignment]


class _HTTPBodyReader:
    """Reads an HTTP body, refusing one shorter or longer than its Content-Length.

    With a Content-Length the bytes are read straight from the socket buffer (``http.client``
    would clip them at the length and hide a surplus); with chunked encoding ``http.client``
    decodes and raises IncompleteRead on truncation; without either the body ends at the close.
    Before every read the socket's timeout is what is left of the timeout and the deadline.
    """

    def __init__(self, response: urllib3.BaseHTTPResponse, sock: Any, location: str,
                 clock: _Clock) -> None:
        # urllib3's response wraps http.client's; docket needs its buffered socket file, which
        # http.client drops once the declared length has been read (hiding any surplus).
        self.raw = response._fp  # type: ignore[attr-defined]
        self.fp = self.raw.fp
        self.sock = sock
        self.location = location
        self.clock = clock
        self.length: int | None = None if self.raw.chunked else self.raw.length
        self.count = 0
        self.done = False

    def _fail(self, reason: str) -> TransferFailed:
        return TransferFailed(self.location, reason)

    def _arm(self, seconds: float | None = None) -> None:
        """Bound the next read by the timeout and what is left of the deadline."""
        wait = self.clock.wait() if seconds is None else seconds
        # closed once http.client has read a close-delimited or chunked body to its end
        if self.sock is not None and self.sock.fileno() != -1:
            self.sock.settimeout(wait)

    def readinto(self, buffer: Any) -> int:
        if self.done:
            return 0
        try:
            self._arm()
            if self.length is None:
                n = self.raw.readinto(buffer) or 0
            else:
                remaining = self.length - self.count
                if remaining == 0:
                    self._probe_excess()
                    self.done = True
                    return 0
                with memoryview(buffer) as view, view[: min(len(view), remaining)] as part:
                    n = self.fp.readinto(part) or 0
                if n == 0 and not self.clock.passed():
                    raise self._fail(
                        f"the connection closed after {self.count} of the {self.length} bytes "
                        "the server announced (short read)"
                    )
        except _DeadlinePassed:
            raise self._past_deadline() from None
        except (OSError, http.client.HTTPException, ValueError) as exc:
            # the deadline's watchdog shuts the connection down: whatever broke, that is why
            if self.clock.passed():
                raise self._past_deadline() from None
            if isinstance(exc, TimeoutError):
                raise self._fail(
                    f"no data for {self.clock.timeout:g} s after {self.count} bytes (timed out)"
                ) from None
            if isinstance(exc, http.client.IncompleteRead):
                raise self._fail(
                    f"the connection closed mid-chunk after {self.count + len(exc.partial)} bytes"
                ) from None
            raise self._fail(f"the connection broke after {self.count} bytes") from None
        if n == 0 and self.clock.passed():  # a close-delimited body cut by the watchdog
            raise self._past_deadline()
        self.count += n
        if n == 0:
            self.done = True
        return n

    def _past_deadline(self) -> TransferFailed:
        return self._fail(f"{self.clock.message()} after {self.count} bytes")

    def _probe_excess(self) -> None:
        if self.fp is None or self.fp.closed:
            return
        try:
            self._arm(min(EXCESS_PROBE_SECONDS, self.clock.timeout))
            extra = self.fp.read1(65536)
        except (TimeoutError, _DeadlinePassed):
            return  # the server keeps the connection open and sends nothing more: fine
        except (OSError, ValueError):
            return  # reset after a complete body: every byte promised arrived
        if extra:
            raise self._fail(
                f"the server sent more than the {self.length} bytes of its Content-Length "
                f"(at least {len(extra)} more)"
            )


def _proxy_for(scheme: str, host: str, ctx: SourceContext) -> Any:
    """The proxy URL (split) to reach ``host`` through, or None for a direct connection."""
    if ctx.proxies is None:
        if proxy_bypass_environment(host):
            return None
        url = getproxies_environment().get(scheme)
    else:
        url = ctx.proxies.get(scheme)
    if not url:
        return None
    parts = urlsplit(url if "://" in url else f"http://{url}")
    if not parts.hostname:
        raise BadInput(f"proxy {redact(url)!r} for {scheme} has no host")
    return parts


def _shown(url: str) -> str:
    """The host (and port) of ``url`` for a message, whatever is wrong with the rest of it."""
    try:
        parts = urlsplit(url)
        return _host_label(parts.hostname or "", parts.port) if parts.hostname else redact(url)
    except ValueError:
        return redact(url)


def _pool_key(context: dict[str, Any]) -> tuple[Any, ...]:
    return (context["scheme"], context["host"], context["port"])


def _host_label(hostname: str, port: int | None) -> str:
    """The host as the location named it (no user info), for messages."""
    host = f"[{hostname}]" if ":" in hostname else hostname
    return f"{host}:{port}" if port is not None else host


def _tunnel_status(exc: BaseException) -> int | None:
    """The status a proxy answered a CONNECT with, found in urllib3's wrapped error."""
    seen: BaseException | None = exc
    for _ in range(6):
        if seen is None:
            break
        match = re.search(r"Tunnel connection failed: (\d{3})", str(seen))
        if match:
            return int(match.group(1))
        seen = seen.__cause__ or seen.__context__ or (seen.args[-1] if seen.args and isinstance(
            seen.args[-1], BaseException) else None)
    return None


def _is_cert_error(exc: BaseException) -> ssl.SSLCertVerificationError | None:
    seen: Any = exc
    for _ in range(6):
        if isinstance(seen, ssl.SSLCertVerificationError):
            return seen
        if seen is None:
            return None
        nxt = seen.__cause__ or seen.__context__
        if nxt is None and getattr(seen, "args", None) and isinstance(seen.args[0], BaseException):
            nxt = seen.args[0]
        seen = nxt
    return None


class HTTPSource(Source):
    """``http://`` and ``https://``: GET, redirects checked hop by hop, Basic auth per host."""

    def _hop(self, url: str, location: str, ctx: SourceContext, policy: AddressPolicy,
             clock: _Clock, first: tuple[str, str] | None) -> tuple[Any, Any, str]:
        """Send the GET for one hop; returns (response, pool or manager, shown host)."""
        parts = urlsplit(url)
        scheme = parts.scheme.lower()
        if scheme not in ("http", "https"):
            raise TransferFailed(
                location, f"redirected to {redact(url)}, a {scheme!r} URL docket does not follow"
            )
        if not parts.hostname:
            raise BadInput(f"URL {redact(url)!r} has no host")
        try:
            port = parts.port
        except ValueError:
            raise BadInput(f"URL {redact(url)!r} has an invalid port") from None
        if _UNSAFE_IN_URL.search(url):
            raise BadInput(f"URL {redact(url)!r} contains a space or a control character; "
                           "percent-encode it (a space is %20)")
        host = parts.hostname
        shown = _host_label(host, port)
        effective_port = port or (443 if scheme == "https" else 80)
        headers = {
            "User-Agent": ctx.user_agent,
            "Accept-Encoding": "identity",  # the bytes as stored, so checksums mean something
            "Connection": "close",
        }
        # Credentials: the URL's own user info (it survives only relative redirects, which stay
        # on the host), else the data centre's [transfer] credentials for exactly this host; and
        # never over plain HTTP after the first hop was HTTPS.
        downgraded = first is not None and first[0] == "https" and scheme == "http"
        auth = creds.from_userinfo(parts.username, parts.password)
        if parts.password is None and not downgraded:
            auth = creds.authorization_for(location, host, port, ctx.credentials) or auth
        if auth and not downgraded:
            headers["Authorization"] = auth
        timeout = urllib3.Timeout(connect=clock.wait(), read=clock.wait())
        tls: dict[str, Any] = {}
        if scheme == "https" and ctx.ssl_context is not None:
            tls = {"ssl_context": ctx.ssl_context, "cert_reqs": ctx.ssl_context.verify_mode}
        proxy = _proxy_for(scheme, host, ctx)
        target = urlunsplit((scheme, parts.netloc.rpartition("@")[2], parts.path or "/",
                             parts.query, ""))
        request: dict[str, Any] = {
            "headers": headers, "redirect": False, "retries": False, "timeout": timeout,
            "preload_content": False, "decode_content": False, "release_conn": False,
        }
        if proxy is None:
            addresses = vetted_addresses(host, effective_port, policy, clock.wait())
            pool_cls = _HTTPSPool if scheme == "https" else _HTTPPool
            pool = pool_cls(host, effective_port, maxsize=1, retries=False, timeout=timeout,
                            docket_addresses=addresses, docket_clock=clock, **tls)
            request_target = parts.path or "/"
            if parts.query:
                request_target += "?" + parts.query
            try:
                response = pool.urlopen("GET", request_target, assert_same_host=False, **request)
            except BaseException:
                pool.close()
                raise
            return response, pool, shown
        # Through a proxy the proxy connects, so docket cannot pin the address; it still refuses
        # a target that resolves (here) to a non-public address. A name only the proxy can
        # resolve is the proxy's to police: the data centre chose and configured it.
        if not policy.host_allowed(host):
            try:
                addresses = resolve(host, effective_port, clock.wait())
            except ResolutionFailed:
                addresses = []
            if not all(policy.permits(ip) for ip in addresses):
                raise NotPublic(host)
        proxy_url = urlunsplit((proxy.scheme or "http", proxy.netloc.rpartition("@")[2], "", "", ""))
        proxy_headers = {}
        if proxy.username is not None:
            proxy_headers["Proxy-Authorization"] = creds.from_userinfo(proxy.username,
                                                                       proxy.password)
        manager = urllib3.ProxyManager(proxy_url, num_pools=1, proxy_headers=proxy_headers,
                                       retries=False, timeout=timeout, docket_clock=clock, **tls)
        manager.pool_classes_by_scheme = {"http": _HTTPPool, "https": _HTTPSPool}
        # urllib3's pool keys know only its own settings; this manager serves one request
        manager.key_fn_by_scheme = {"http": _pool_key, "https": _pool_key}
        try:
            response = manager.urlopen("GET", target, **request)
        except BaseException:
            manager.clear()
            raise
        return response, manager, shown

    @contextlib.contextmanager
    def open(self, location: str, ctx: SourceContext) -> Iterator[Opened]:
        clock = _Clock(ctx.timeout, ctx.deadline)
        try:
            yield from self._follow(location, ctx, clock)
        finally:
            clock.stop()

    def _follow(self, location: str, ctx: SourceContext, clock: _Clock) -> Iterator[Opened]:
        """Follow redirects, each hop checked, and yield the final response's body once."""
        policy = AddressPolicy.from_allow(ctx.allow)
        url = location
        first: tuple[str, str] | None = None
        for _hop in range(ctx.max_redirects + 1):
            shown = _shown(url)
            try:
                response, owner, shown = self._hop(url, location, ctx, policy, clock, first)
            except NotPublic as exc:
                raise Refused(f"transfer of {redact(location)} refused: {exc}") from None
            except ResolutionFailed as exc:
                raise TransferFailed(location, str(exc)) from None
            except _DeadlinePassed:
                raise TransferFailed(location, clock.message()) from None
            except TransferFailed:
                raise
            except (BadInput, ValueError) as exc:
                if url == location and isinstance(exc, BadInput):
                    raise
                if url == location:
                    raise BadInput(f"URL {redact(url)!r} is not a valid URL: {exc}") from None
                # a server's bad redirect is not the provider's bad input: the transfer failed
                raise TransferFailed(location, f"redirected to an invalid URL ({_shown(url)})") from None
            except urllib3.exceptions.HTTPError as exc:
                raise TransferFailed(location, self._describe(exc, shown, clock)) from None
            parts = urlsplit(url)
            if first is None:
                first = (parts.scheme.lower(), parts.hostname or "")
            try:
                status = response.status
                if status in _REDIRECTS:
                    target_url = response.headers.get("Location")
                    if not target_url:
                        raise TransferFailed(location, f"HTTP {status} without a Location")
                    try:
                        url = urljoin(url, target_url)
                    except ValueError:
                        raise TransferFailed(location, "redirected to an invalid URL") from None
                    continue
                if not (200 <= status < 300) or status in (204, 206):
                    raise TransferFailed(
                        location,
                        f"HTTP {status} {response.reason or ''}".rstrip()
                        + (f" (from {redact(url)})" if url != location else ""),
                    )
                encoding = (response.headers.get("Content-Encoding") or "identity").lower()
                if encoding not in ("identity", ""):
                    raise TransferFailed(
                        location, f"the server sent a {encoding!r}-encoded body despite identity"
                    )
                content_type = response.headers.get("Content-Type")
                if content_type:
                    content_type = content_type.split(";", 1)[0].strip().lower() or None
                sock = getattr(response.connection, "docket_sock", None)
                reader = _HTTPBodyReader(response, sock, location, clock)
                yield Opened(
                    reader=reader, length=reader.length, content_type=content_type, resolved=url
                )
                return
            finally:
                response.close()
                if isinstance(owner, urllib3.PoolManager):
                    owner.clear()
                else:
                    owner.close()
        raise TransferFailed(location, f"more than {ctx.max_redirects} redirects")

    @staticmethod
    def _describe(exc: urllib3.exceptions.HTTPError, shown: str, clock: _Clock) -> str:
        """One message per kind of failure, none telling a closed port from a silent one.

        A refused connection, a reset, a connect timeout, a server that accepts and says
        nothing, and one that answers something other than HTTP all read the same: which of
        them happened is what a port scan wants to learn. A certificate failure is named (the
        provider can fix it), and so is a proxy failure (the data centre can).
        """
        if clock.passed():
            return clock.message()
        if isinstance(exc, ProxyError):
            status = _tunnel_status(exc)
            if status == 407:
                return "the proxy asks for credentials (HTTP 407); check [transfer] proxies"
            if status is None:
                return "could not connect to the proxy"
            return f"could not connect to {shown} through the proxy"
        cert = _is_cert_error(exc) if isinstance(exc, SSLError) else None
        if cert is not None:
            return f"TLS failed: {cert.verify_message or cert.reason or 'certificate rejected'}"
        return _no_answer(shown, clock)


def _no_answer(shown: str, clock: _Clock) -> str:
    return f"could not connect to {shown}, or it sent no HTTP answer within {clock.timeout:g} s"


register("http", HTTPSource)
register("https", HTTPSource)
