"""Transfers through an HTTP proxy, as a data centre behind one makes them."""

from __future__ import annotations

import hashlib
import threading
import urllib.request
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from docket.transfer import SourceContext, TransferFailed, fetch

#: The origin listens on 127.0.0.1: docket refuses it (even through a proxy) unless allowed.
ALLOW = ["127.0.0.1"]
BODY = b"id,value\n" + b"".join(f"{i},{i * 0.5}\n".encode() for i in range(5000))


class Origin(BaseHTTPRequestHandler):
    def do_GET(self) -> None:  # noqa: N802 - http.server's name
        if self.path != "/data.csv":
            self.send_error(404)
            return
        self.send_response(200)
        self.send_header("Content-Length", str(len(BODY)))
        self.end_headers()
        self.wfile.write(BODY)

    def log_message(self, *args: object) -> None:
        pass


class Proxy(BaseHTTPRequestHandler):
    """A forwarding proxy: takes the absolute URL, fetches it directly, remembers what it saw."""

    seen: list[tuple[str, str | None]] = []

    def do_GET(self) -> None:  # noqa: N802
        Proxy.seen.append((self.path, self.headers.get("Proxy-Authorization")))
        opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
        try:
            with opener.open(self.path, timeout=10) as upstream:
                data = upstream.read()
                self.send_response(upstream.status)
        except urllib.error.HTTPError as exc:
            self.send_error(exc.code)
            return
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args: object) -> None:
        pass


def serve(handler: type) -> tuple[ThreadingHTTPServer, str]:
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    return httpd, f"127.0.0.1:{httpd.server_address[1]}"


@pytest.fixture
def servers() -> Iterator[tuple[str, str]]:
    origin, origin_addr = serve(Origin)
    proxy, proxy_addr = serve(Proxy)
    Proxy.seen = []
    yield origin_addr, proxy_addr
    for httpd in (origin, proxy):
        httpd.shutdown()
        httpd.server_close()


def test_fetch_goes_through_the_configured_proxy_with_its_credentials(tmp_path: Path, servers) -> None:
    origin, proxy = servers
    ctx = SourceContext(proxies={"http": f"http://centre:s3cret@{proxy}"}, allow=ALLOW)
    got = fetch(f"http://{origin}/data.csv", tmp_path, "data.csv", context=ctx)
    assert got.sha256 == hashlib.sha256(BODY).hexdigest() and got.size == len(BODY)
    assert (tmp_path / "data.csv").read_bytes() == BODY
    [(path, auth)] = Proxy.seen
    assert path == f"http://{origin}/data.csv"
    assert auth and auth.startswith("Basic ")


def test_proxy_from_the_environment_and_no_proxy(tmp_path: Path, servers, monkeypatch) -> None:
    origin, proxy = servers
    monkeypatch.setenv("http_proxy", f"http://{proxy}")
    monkeypatch.delenv("no_proxy", raising=False)
    monkeypatch.delenv("NO_PROXY", raising=False)
    fetch(f"http://{origin}/data.csv", tmp_path / "a", "data.csv", context=SourceContext(allow=ALLOW))
    assert len(Proxy.seen) == 1
    monkeypatch.setenv("no_proxy", "127.0.0.1")
    fetch(f"http://{origin}/data.csv", tmp_path / "b", "data.csv", context=SourceContext(allow=ALLOW))
    assert len(Proxy.seen) == 1  # bypassed: fetched directly


def test_a_proxy_error_fails_the_transfer_and_leaves_nothing(tmp_path: Path, servers) -> None:
    origin, proxy = servers
    ctx = SourceContext(proxies={"http": f"http://{proxy}"}, allow=ALLOW)
    with pytest.raises(TransferFailed, match="404"):
        fetch(f"http://{origin}/missing.csv", tmp_path, "missing.csv", context=ctx)
    assert list(tmp_path.iterdir()) == []
