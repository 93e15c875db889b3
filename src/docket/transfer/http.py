"""``http://`` and ``https://`` sources.

The HTTP source uses :mod:`http.client` directly rather than urllib because urllib (like
http.client's own ``read``) silently stops at Content-Length and accepts a connection closed
before it: docket reads the body itself, counts the bytes and refuses both short and long bodies.
"""

from __future__ import annotations

import base64
import contextlib
import http.client
import socket
import ssl
from collections.abc import Iterator
from urllib.parse import unquote, urljoin, urlsplit, urlunsplit
from urllib.request import getproxies_environment, proxy_bypass_environment

from docket.errors import BadInput
from docket.transfer.errors import TransferFailed, redact
from docket.transfer.sources import Opened, Source, SourceContext, register

#: How long to wait, after the declared Content-Length arrived, for bytes the server should not
#: send. A conforming server closes at once (docket asks for ``Connection: close``).
EXCESS_PROBE_SECONDS = 1.0



class _HTTPBodyReader:
    """Reads an HTTP body, refusing one shorter or longer than its Content-Length.

    With a Content-Length the bytes are read straight from the socket (http.client would clip
    them at the length and hide a surplus); with chunked encoding http.client decodes and raises
    IncompleteRead on truncation; without either the body ends when the server closes.
    """

    def __init__(
        self, response: http.client.HTTPResponse, sock: socket.socket, location: str, ctx
    ) -> None:
        self.response = response
        self.sock = sock
        self.location = location
        self.ctx = ctx
        self.length = response.length if not response.chunked else None
        self.count = 0
        self.done = False

    def _fail(self, reason: str) -> TransferFailed:
        return TransferFailed(self.location, reason)

    def readinto(self, buffer) -> int:
        if self.done:
            return 0
        try:
            if self.length is None:
                n = self.response.readinto(buffer) or 0
            else:
                remaining = self.length - self.count
                if remaining == 0:
                    self._probe_excess()
                    self.done = True
                    return 0
                with memoryview(buffer) as view, view[: min(len(view), remaining)] as part:
                    n = self.response.fp.readinto(part) or 0
                if n == 0:
                    raise self._fail(
                        f"the connection closed after {self.count} of the {self.length} bytes "
                        "the server announced (short read)"
                    )
        except TransferFailed:
            raise
        except http.client.IncompleteRead as exc:
            raise self._fail(
                f"the connection closed mid-chunk after {self.count + len(exc.partial)} bytes"
            ) from None
        except TimeoutError:
            raise self._fail(
                f"no data for {self.ctx.timeout:g} s after {self.count} bytes (timed out)"
            ) from None
        except (OSError, http.client.HTTPException, ValueError) as exc:
            raise self._fail(
                f"the connection broke after {self.count} bytes: {_describe(exc)}"
            ) from None
        self.count += n
        if n == 0:
            self.done = True
        return n

    def _probe_excess(self) -> None:
        fp = self.response.fp
        sock = self.sock
        if fp is None or sock is None:
            return
        try:
            sock.settimeout(min(EXCESS_PROBE_SECONDS, self.ctx.timeout))
            extra = fp.read1(65536)
        except TimeoutError:
            return  # the server keeps the connection open and sends nothing more: fine
        except OSError:
            return  # reset after a complete body: every byte promised arrived
        if extra:
            raise self._fail(
                f"the server sent more than the {self.length} bytes of its Content-Length "
                f"(at least {len(extra)} more)"
            )


def _describe(exc: BaseException) -> str:
    text = getattr(exc, "strerror", None) or str(exc) or type(exc).__name__
    return text if type(exc).__name__ in text else f"{type(exc).__name__}: {text}"


def _proxy_for(scheme: str, host: str, ctx: SourceContext):
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


def _proxy_auth(proxy) -> dict[str, str]:
    if proxy.username is None:
        return {}
    token = base64.b64encode(f"{unquote(proxy.username)}:{unquote(proxy.password or '')}".encode()).decode("ascii")
    return {"Proxy-Authorization": f"Basic {token}"}


class HTTPSource(Source):
    """``http://`` and ``https://``: GET with redirects, Basic auth from the URL's user info."""

    def _connect(self, url: str, location: str, ctx: SourceContext):
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
        target = parts.path or "/"
        if parts.query:
            target += "?" + parts.query
        headers = {
            "User-Agent": ctx.user_agent,
            "Accept-Encoding": "identity",  # the bytes as stored, so checksums mean something
            "Connection": "close",
        }
        proxy = _proxy_for(scheme, parts.hostname, ctx)
        host, host_port = (proxy.hostname, proxy.port or 80) if proxy else (parts.hostname, port)
        if scheme == "https":
            context = ctx.ssl_context or ssl.create_default_context()
            conn = http.client.HTTPSConnection(host, host_port, timeout=ctx.timeout, context=context)
            if proxy:  # CONNECT through the proxy; TLS runs end to end with the origin
                conn.set_tunnel(parts.hostname, port, headers=_proxy_auth(proxy))
        else:
            conn = http.client.HTTPConnection(host, host_port, timeout=ctx.timeout)
            if proxy:  # a plain-HTTP proxy takes the absolute URL
                target = urlunsplit((scheme, parts.netloc.rpartition("@")[2], target, "", ""))
                headers.update(_proxy_auth(proxy))
        if parts.username is not None:
            user = unquote(parts.username)
            password = unquote(parts.password or "")
            token = base64.b64encode(f"{user}:{password}".encode()).decode("ascii")
            headers["Authorization"] = f"Basic {token}"
        return conn, target, headers

    @contextlib.contextmanager
    def open(self, location: str, ctx: SourceContext) -> Iterator[Opened]:
        url = location
        for _hop in range(ctx.max_redirects + 1):
            conn, target, headers = self._connect(url, location, ctx)
            try:
                conn.request("GET", target, headers=headers)
                # getresponse() drops conn.sock when the server will close; the body's reader
                # still needs the socket to bound its wait for a surplus after Content-Length
                sock = conn.sock
                response = conn.getresponse()
            except TimeoutError:
                conn.close()
                raise TransferFailed(location, f"no answer within {ctx.timeout:g} s") from None
            except ssl.SSLError as exc:
                conn.close()
                raise TransferFailed(location, f"TLS failed: {exc.reason or exc}") from None
            except (OSError, http.client.HTTPException) as exc:
                conn.close()
                raise TransferFailed(location, f"cannot connect: {_describe(exc)}") from None
            if response.status in (301, 302, 303, 307, 308):
                target_url = response.getheader("Location")
                conn.close()
                if not target_url:
                    raise TransferFailed(location, f"HTTP {response.status} without a Location")
                url = urljoin(url, target_url)
                continue
            try:
                if not (200 <= response.status < 300) or response.status in (204, 206):
                    raise TransferFailed(
                        location,
                        f"HTTP {response.status} {response.reason}".rstrip()
                        + (f" (from {redact(url)})" if url != location else ""),
                    )
                encoding = (response.getheader("Content-Encoding") or "identity").lower()
                if encoding not in ("identity", ""):
                    raise TransferFailed(
                        location, f"the server sent a {encoding!r}-encoded body despite identity"
                    )
                content_type = response.getheader("Content-Type")
                if content_type:
                    content_type = content_type.split(";", 1)[0].strip().lower() or None
                reader = _HTTPBodyReader(response, sock, location, ctx)
                yield Opened(
                    reader=reader, length=reader.length, content_type=content_type, resolved=url
                )
            finally:
                response.close()
                conn.close()
            return
        raise TransferFailed(location, f"more than {ctx.max_redirects} redirects")


register("http", HTTPSource)
register("https", HTTPSource)
