"""docket.transfer against a real HTTP server on 127.0.0.1 and real files.

The server misbehaves on purpose (drops the connection, lies about Content-Length, stalls,
answers 404/500); after every failure the destination folder must hold nothing at all.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import http.server
import os
import shutil
import socket
import ssl
import struct
import subprocess
import threading
import time
from pathlib import Path

import pytest

from docket.errors import BadInput, Conflict, DocketError, NotFound, ProblemsFound, Refused
from docket.transfer import (
    PARTIAL_PREFIX,
    ChecksumMismatch,
    FetchedFile,
    SizeLimitExceeded,
    Source,
    SourceContext,
    TransferFailed,
    check_name,
    digest_file,
    digest_stream,
    fetch,
    get,
    media_type_of,
    register,
    remove_partials,
)
from docket.transfer import sources as sources_mod
from docket.transfer.sources import Opened

#: The test servers listen on 127.0.0.1, which docket refuses unless [transfer] allow lists it.
LOOPBACK = SourceContext(allow=["127.0.0.1"])
SMALL_CHUNK = 64 * 1024  # many chunks per file, so the threaded pipeline really runs
PAYLOAD = os.urandom(1_500_000 + 17)
TEXT = b"id,name,value\n" + b"".join(b"%d,row%d,%d.5\n" % (i, i, i) for i in range(2000))
FILES = {"data.bin": PAYLOAD, "table.csv": TEXT, "empty.dat": b""}


# --------------------------------------------------------------------------- the server


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.0"

    def log_message(self, *args) -> None:  # keep pytest output clean
        pass

    def _head(self, status: int, length: int | None, headers: dict | None = None) -> None:
        self.send_response(status)
        if length is not None:
            self.send_header("Content-Length", str(length))
        for key, value in (headers or {}).items():
            self.send_header(key, value)
        self.end_headers()

    def _reset(self) -> None:
        """Drop the connection abruptly (TCP RST), as a crashed server or proxy would."""
        self.wfile.flush()
        self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        self.connection.close()
        self.close_connection = True

    def do_GET(self) -> None:  # noqa: C901 - one route per misbehaviour, on purpose
        parts = self.path.strip("/").split("/")
        route, name = parts[0], parts[-1]
        data = FILES.get(name, b"")
        if route == "files":
            if name not in FILES:
                self._head(404, 0)
                return
            self._head(200, len(data), {"Content-Type": "application/octet-stream"})
            self.wfile.write(data)
        elif route == "typed":
            self._head(200, len(data), {"Content-Type": "application/x-docket-test; charset=x"})
            self.wfile.write(data)
        elif route == "drop":  # full length announced, half sent, then RST
            self._head(200, len(data))
            self.wfile.write(data[: len(data) // 2])
            self._reset()
        elif route == "short":  # Content-Length says more than is sent; clean close
            self._head(200, len(data) + 1000)
            self.wfile.write(data)
        elif route == "long":  # Content-Length says less than is sent
            self._head(200, len(data) - 1000)
            self.wfile.write(data)
        elif route == "long-keepalive":  # same, on a connection the server keeps open
            self.protocol_version = "HTTP/1.1"
            self._head(200, len(data) - 10, {"Connection": "keep-alive"})
            self.wfile.write(data)
            time.sleep(1.5)
        elif route == "keepalive":  # exact length, but ignores Connection: close
            self.protocol_version = "HTTP/1.1"
            self._head(200, len(data), {"Connection": "keep-alive"})
            self.wfile.write(data)
            time.sleep(1.5)
        elif route == "nolength":  # HTTP/1.0 body delimited by the close
            self._head(200, None)
            self.wfile.write(data)
        elif route == "endless":  # never ends: only a size limit stops it
            self._head(200, None)
            block = os.urandom(65536)
            with contextlib.suppress(OSError):
                for _ in range(100_000):
                    self.wfile.write(block)
        elif route in ("chunked", "chunked-drop"):
            self.protocol_version = "HTTP/1.1"
            self._head(200, None, {"Transfer-Encoding": "chunked", "Connection": "close"})
            step = 100_000
            stop = len(data) // 2 if route == "chunked-drop" else len(data)
            for i in range(0, stop, step):
                piece = data[i : i + step]
                self.wfile.write(b"%x\r\n%s\r\n" % (len(piece), piece))
            if route == "chunked-drop":
                self.wfile.write(b"%x\r\n%s" % (step, data[stop : stop + 10]))
                self._reset()
            else:
                self.wfile.write(b"0\r\n\r\n")
        elif route == "status":
            code = int(name)
            body = b"error page that must not be stored"
            self._head(code, len(body))
            self.wfile.write(body)
        elif route == "redirect":
            self._head(302, 0, {"Location": f"/files/{name}"})
        elif route == "redirect-file":
            self._head(302, 0, {"Location": "file:///etc/passwd"})
        elif route == "loop":
            self._head(302, 0, {"Location": "/loop/x"})
        elif route == "gzip":
            self._head(200, len(data), {"Content-Encoding": "gzip"})
            self.wfile.write(data)
        elif route == "slow-headers":
            time.sleep(1.5)
            self._head(200, len(data))
            self.wfile.write(data)
        elif route == "stall":  # a quarter of the body, then silence
            self._head(200, len(data))
            self.wfile.write(data[: len(data) // 4])
            time.sleep(1.5)
        elif route == "auth":
            expected = "Basic " + base64.b64encode(b"alice:s3cret").decode()
            if self.headers.get("Authorization") != expected:
                self._head(401, 0)
                return
            self._head(200, len(data))
            self.wfile.write(data)
        else:
            self._head(404, 0)


class QuietServer(http.server.ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request, client_address) -> None:  # broken pipes are the point
        pass


@contextlib.contextmanager
def serving(ssl_context: ssl.SSLContext | None = None):
    server = QuietServer(("127.0.0.1", 0), Handler)
    if ssl_context is not None:
        server.socket = ssl_context.wrap_socket(server.socket, server_side=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        scheme = "https" if ssl_context else "http"
        yield f"{scheme}://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture(scope="module")
def url():
    with serving() as base:
        yield base


@pytest.fixture
def dest(tmp_path: Path) -> Path:
    return tmp_path / "files"


def assert_empty(folder: Path) -> None:
    """No file, partial or temporary, was left behind."""
    left = sorted(p.name for p in folder.iterdir()) if folder.exists() else []
    assert left == [], f"left behind in {folder}: {left}"


def assert_matches(result: FetchedFile, data: bytes) -> None:
    assert result.path.read_bytes() == data
    assert result.size == len(data)
    assert result.md5 == hashlib.md5(data).hexdigest()
    assert result.sha256 == hashlib.sha256(data).hexdigest()


# --------------------------------------------------------------------------- HTTP, good


@pytest.mark.parametrize("threaded", [True, False])
def test_http_fetch_streams_and_hashes(url, dest, threaded):
    result = fetch(
        f"{url}/files/data.bin", dest, "data.bin", threaded=threaded, chunk_size=SMALL_CHUNK,
        context=LOOPBACK,
    )
    assert_matches(result, PAYLOAD)
    assert result.path == dest / "data.bin"
    assert result.source == f"{url}/files/data.bin"
    assert result.media_type == "application/octet-stream"
    assert sorted(p.name for p in dest.iterdir()) == ["data.bin"]


def test_http_csv_with_default_chunks(url, dest):
    result = fetch(f"{url}/files/table.csv", dest, "table.csv", context=LOOPBACK)
    assert_matches(result, TEXT)
    assert result.media_type == "text/csv"  # the extension beats the server's octet-stream


def test_http_empty_file(url, dest):
    result = fetch(f"{url}/files/empty.dat", dest, "empty.dat", context=LOOPBACK)
    assert_matches(result, b"")
    assert result.md5 == "d41d8cd98f00b204e9800998ecf8427e"


def test_media_type_from_header_when_extension_unknown(url, dest):
    result = fetch(f"{url}/typed/data.bin", dest, "blob", context=LOOPBACK)
    assert result.media_type == "application/x-docket-test"


@pytest.mark.parametrize("route", ["chunked", "nolength", "redirect"])
def test_http_other_framings(url, dest, route):
    result = fetch(f"{url}/{route}/data.bin", dest, "x.bin", chunk_size=SMALL_CHUNK, context=LOOPBACK)
    assert_matches(result, PAYLOAD)
    if route == "redirect":
        assert result.resolved == f"{url}/files/data.bin"


def test_server_ignoring_connection_close_is_fine(url, dest):
    started = time.monotonic()
    result = fetch(f"{url}/keepalive/table.csv", dest, "t.csv", timeout=0.4, context=LOOPBACK)
    assert_matches(result, TEXT)
    assert time.monotonic() - started < 1.4  # waited the short probe, not the server


def test_basic_auth_from_url_and_password_never_shown(url, dest):
    port_url = url.replace("http://", "http://alice:s3cret@")
    result = fetch(f"{port_url}/auth/table.csv", dest, "t.csv", context=LOOPBACK)
    assert_matches(result, TEXT)
    assert "s3cret" not in result.source and "alice:***@" in result.source
    with pytest.raises(TransferFailed) as err:
        fetch(port_url.replace("s3cret", "wrong") + "/auth/table.csv", dest, "u.csv", context=LOOPBACK)
    assert "401" in err.value.reason and "wrong" not in err.value.message


# --------------------------------------------------------------------------- HTTP, faults


@pytest.mark.parametrize(
    ("route", "words"),
    [
        ("drop", []),  # EOF or reset, depending on when the RST lands
        ("short", ["short read"]),
        ("long", ["more than"]),
        ("long-keepalive", ["more than"]),
        ("chunked-drop", []),
        ("gzip", ["gzip"]),
    ],
)
def test_broken_bodies_leave_nothing(url, dest, route, words):
    with pytest.raises(TransferFailed) as err:
        fetch(f"{url}/{route}/data.bin", dest, "data.bin", chunk_size=SMALL_CHUNK, context=LOOPBACK)
    for word in words:
        assert word in err.value.reason
    assert isinstance(err.value, ProblemsFound) and err.value.exit_code == 1
    assert err.value.location == f"{url}/{route}/data.bin"
    assert_empty(dest)


@pytest.mark.parametrize("code", [404, 500, 503])
def test_http_errors_leave_nothing(url, dest, code):
    with pytest.raises(TransferFailed) as err:
        fetch(f"{url}/status/{code}", dest, "page.html", context=LOOPBACK)
    assert f"HTTP {code}" in err.value.reason
    assert_empty(dest)


def test_redirect_to_a_local_file_is_not_followed(url, dest):
    with pytest.raises(TransferFailed) as err:
        fetch(f"{url}/redirect-file/x", dest, "passwd", context=LOOPBACK)
    assert "file" in err.value.reason
    assert_empty(dest)


def test_redirect_loop(url, dest):
    with pytest.raises(TransferFailed, match="redirects"):
        fetch(f"{url}/loop/x", dest, "x", context=LOOPBACK)
    assert_empty(dest)


def test_timeouts(url, dest):
    with pytest.raises(TransferFailed, match="no HTTP answer"):
        fetch(f"{url}/slow-headers/table.csv", dest, "a.csv", timeout=0.3, context=LOOPBACK)
    with pytest.raises(TransferFailed, match="timed out"):
        fetch(f"{url}/stall/data.bin", dest, "b.bin", timeout=0.3, context=LOOPBACK)
    assert_empty(dest)


def test_unreachable_server(dest):
    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with pytest.raises(TransferFailed, match="could not connect"):
        fetch(f"http://127.0.0.1:{port}/x", dest, "x", context=LOOPBACK)
    assert_empty(dest)


# --------------------------------------------------------------------------- size limit


def test_size_limit_refused_before_reading_when_announced(url, dest):
    with pytest.raises(SizeLimitExceeded) as err:
        fetch(f"{url}/files/data.bin", dest, "data.bin", max_bytes=1000, context=LOOPBACK)
    assert err.value.limit == 1000 and err.value.seen == 0
    assert_empty(dest)


@pytest.mark.parametrize("route", ["nolength", "chunked", "endless"])
def test_size_limit_enforced_while_streaming(url, dest, route):
    started = time.monotonic()
    with pytest.raises(SizeLimitExceeded) as err:
        fetch(f"{url}/{route}/data.bin", dest, "x.bin", max_bytes=300_000, chunk_size=SMALL_CHUNK, context=LOOPBACK)
    assert err.value.seen == 300_001  # stopped at the first byte past the limit
    assert time.monotonic() - started < 5
    assert_empty(dest)


def test_size_limit_exactly_met_is_fine(url, dest):
    result = fetch(f"{url}/nolength/data.bin", dest, "x.bin", max_bytes=len(PAYLOAD), context=LOOPBACK)
    assert_matches(result, PAYLOAD)


# --------------------------------------------------------------------------- local sources


@pytest.fixture
def local_file(tmp_path: Path) -> Path:
    src = tmp_path / "inbox" / "sub dir" / "data.bin"
    src.parent.mkdir(parents=True)
    src.write_bytes(PAYLOAD)
    return src


def test_local_path(local_file, dest):
    result = fetch(str(local_file), dest, "copy.bin", chunk_size=SMALL_CHUNK)
    assert_matches(result, PAYLOAD)
    assert result.resolved == str(local_file.resolve())
    assert local_file.read_bytes() == PAYLOAD  # the source is untouched


def test_file_url(local_file, dest):
    result = fetch(local_file.as_uri(), dest, "copy.bin")  # spaces are %20 in the URL
    assert_matches(result, PAYLOAD)
    result = fetch("file://localhost" + local_file.as_uri()[7:], dest, "again.bin")
    assert_matches(result, PAYLOAD)


def test_file_url_on_another_host_is_refused(dest):
    with pytest.raises(BadInput, match="host"):
        fetch("file://elsewhere/etc/passwd", dest, "x")
    assert_empty(dest)


def test_relative_path_against_base_dir(local_file, dest):
    result = fetch("sub dir/data.bin", dest, "rel.bin", base_dir=local_file.parent.parent)
    assert_matches(result, PAYLOAD)


def test_local_roots_confine_paths(local_file, tmp_path, dest):
    inbox = tmp_path / "inbox"
    assert fetch(str(local_file), dest, "ok.bin", local_roots=[inbox]).size == len(PAYLOAD)
    secret = tmp_path / "secret.txt"
    secret.write_text("private")
    with pytest.raises(Refused, match="outside"):
        fetch(str(secret), dest, "s.txt", local_roots=[inbox])
    (inbox / "link.txt").symlink_to(secret)  # a symlink out of the inbox does not help
    with pytest.raises(Refused):
        fetch(str(inbox / "link.txt"), dest, "l.txt", local_roots=[inbox])
    with pytest.raises(Refused):
        fetch(str(inbox / ".." / "secret.txt"), dest, "d.txt", local_roots=[inbox])
    assert sorted(p.name for p in dest.iterdir()) == ["ok.bin"]


def test_missing_folder_and_special_local_sources(tmp_path, dest):
    with pytest.raises(TransferFailed, match="no such file"):
        fetch(str(tmp_path / "nope.csv"), dest, "nope.csv")
    with pytest.raises(TransferFailed, match="folder"):
        fetch(str(tmp_path), dest, "dir")
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    with pytest.raises(TransferFailed, match="not a regular file"):
        fetch(str(fifo), dest, "pipe")  # must not hang waiting for a writer
    with pytest.raises(TransferFailed, match="not a regular file"):
        fetch("/dev/zero", dest, "zero")
    assert_empty(dest)


def test_local_size_limit(local_file, dest):
    with pytest.raises(SizeLimitExceeded):
        fetch(str(local_file), dest, "x.bin", max_bytes=len(PAYLOAD) - 1)
    assert_empty(dest)


# --------------------------------------------------------------------------- verification


def test_expected_size_and_checksums(local_file, url, dest):
    md5 = hashlib.md5(PAYLOAD).hexdigest()
    sha = hashlib.sha256(PAYLOAD).hexdigest()
    result = fetch(
        str(local_file),
        dest,
        "ok.bin",
        expected_size=len(PAYLOAD),
        expected_md5=md5.upper(),
        expected_sha256=sha,
    )
    assert_matches(result, PAYLOAD)
    result.path.unlink()
    cases = [
        ({"expected_size": len(PAYLOAD) + 1}, "declared"),
        ({"expected_md5": "0" * 32}, "md5"),
        ({"expected_sha256": "f" * 64}, "sha256"),
    ]
    for kwargs, word in cases:
        for location in (str(local_file), f"{url}/nolength/data.bin"):
            with pytest.raises(ChecksumMismatch, match=word):
                fetch(location, dest, "bad.bin", context=LOOPBACK, **kwargs)
            assert_empty(dest)
    with pytest.raises(BadInput, match="expected_md5"):
        fetch(str(local_file), dest, "x.bin", expected_md5="xyz")
    with pytest.raises(BadInput, match="max_bytes"):
        fetch(str(local_file), dest, "x.bin", max_bytes=-1)


def test_existing_file_is_a_conflict_unless_replace(local_file, dest):
    dest.mkdir()
    (dest / "data.bin").write_bytes(b"old")
    with pytest.raises(Conflict, match="already exists"):
        fetch(str(local_file), dest, "data.bin")
    assert (dest / "data.bin").read_bytes() == b"old"
    result = fetch(str(local_file), dest, "data.bin", replace=True)
    assert_matches(result, PAYLOAD)
    assert sorted(p.name for p in dest.iterdir()) == ["data.bin"]


def test_failed_replace_keeps_the_old_file(url, dest):
    dest.mkdir()
    (dest / "data.bin").write_bytes(b"old")
    with pytest.raises(TransferFailed):
        fetch(f"{url}/drop/data.bin", dest, "data.bin", replace=True, context=LOOPBACK)
    assert [p.name for p in dest.iterdir()] == ["data.bin"]
    assert (dest / "data.bin").read_bytes() == b"old"


def test_file_permissions_follow_umask(local_file, dest):
    result = fetch(str(local_file), dest, "p.bin")
    old = os.umask(0)
    os.umask(old)
    assert result.path.stat().st_mode & 0o777 == 0o666 & ~old


def test_remove_partials(dest):
    dest.mkdir()
    (dest / f"{PARTIAL_PREFIX}abc.tmp").write_bytes(b"half")
    (dest / "kept.csv").write_bytes(b"a")
    removed = remove_partials(dest)
    assert [p.name for p in removed] == [f"{PARTIAL_PREFIX}abc.tmp"]
    assert [p.name for p in dest.iterdir()] == ["kept.csv"]


# --------------------------------------------------------------------------- names


UNSAFE = [
    "../x",
    "..",
    ".",
    "...",
    "",
    "   ",
    "/etc/passwd",
    "a/b.csv",
    "a\\b.csv",
    "..\\..\\boot.ini",
    "C:\\x.csv",
    "x\x00y",
    "CON",
    "nul",
    "Nul.txt",
    "COM1",
    "lpt9.csv",
    "aux.tar.gz",
    "data.",
    "data ",
    "a:b",
    "why?.csv",
    "new\nline",
    "evil\u202egpj.exe",
    "x" * 256,
]


@pytest.mark.parametrize("name", UNSAFE)
def test_unsafe_names_refused_before_anything_is_written(local_file, tmp_path, name):
    dest = tmp_path / "not-created"
    with pytest.raises(BadInput) as err:
        fetch(str(local_file), dest, name)
    assert repr(name) in err.value.message
    assert not dest.exists()


@pytest.mark.parametrize(
    "name", ["data.csv", "CONFIG.txt", "con-data.csv", "événements ß.csv", ".hidden", "a..b"]
)
def test_safe_names_accepted(name):
    assert check_name(name) == name


# --------------------------------------------------------------------------- registry


def test_unknown_scheme(dest):
    with pytest.raises(NotFound, match="ftp"):
        get("ftp")
    with pytest.raises(NotFound, match="'ftp'"):
        fetch("ftp://example.org/x.csv", dest, "x.csv")
    assert_empty(dest)


def test_a_registered_source_is_used(dest):
    class Memory(Source):
        @contextlib.contextmanager
        def open(self, location, ctx: SourceContext):
            import io

            data = location.split(":", 1)[1].encode()
            yield Opened(io.BytesIO(data), len(data), "text/plain", location)

    register("mem", Memory)
    try:
        result = fetch("mem:hello world", dest, "hello")
        assert_matches(result, b"hello world")
        assert result.media_type == "text/plain"
    finally:
        sources_mod.unregister("mem")
    with pytest.raises(DocketError):
        get("mem")


def test_media_types():
    assert media_type_of("x.csv") == "text/csv"
    assert media_type_of("x.csv.gz") == "application/gzip"
    assert media_type_of("x.parquet") == "application/vnd.apache.parquet"
    assert media_type_of("x", "text/plain") == "text/plain"
    assert media_type_of("x") == "application/octet-stream"


# --------------------------------------------------------------------------- hashing


def test_digest_stream_threaded_equals_sequential(tmp_path):
    path = tmp_path / "d.bin"
    path.write_bytes(PAYLOAD)
    seq = digest_file(path, threaded=False, chunk_size=SMALL_CHUNK)
    par = digest_file(path, threaded=True, chunk_size=SMALL_CHUNK, depth=3)
    assert seq == par
    assert par.md5 == hashlib.md5(PAYLOAD).hexdigest()
    assert par.sha256 == hashlib.sha256(PAYLOAD).hexdigest()
    assert par.size == len(PAYLOAD)


@pytest.mark.parametrize("threaded", [True, False])
def test_a_failing_sink_stops_the_read(tmp_path, threaded):
    path = tmp_path / "d.bin"
    path.write_bytes(PAYLOAD)
    seen = []

    def sink(chunk):
        seen.append(bytes(chunk))
        if len(seen) == 3:
            raise OSError("disk on fire")

    with open(path, "rb", buffering=0) as f, pytest.raises(OSError, match="disk on fire"):
        digest_stream(f, sink=sink, threaded=threaded, chunk_size=SMALL_CHUNK, depth=2)
    assert len(seen) == 3
    assert b"".join(seen) == PAYLOAD[: 3 * SMALL_CHUNK]  # chunks arrive whole and in order


# --------------------------------------------------------------------------- HTTPS


@pytest.fixture(scope="module")
def tls(tmp_path_factory):
    if shutil.which("openssl") is None:
        pytest.skip("openssl is needed to make a test certificate")
    folder = tmp_path_factory.mktemp("tls")
    key, cert = folder / "key.pem", folder / "cert.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
         "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1",
         "-keyout", str(key), "-out", str(cert)],
        check=True, capture_output=True,
    )  # fmt: skip
    server_ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server_ctx.load_cert_chain(cert, key)
    client_ctx = ssl.create_default_context(cafile=str(cert))
    with serving(server_ctx) as base:
        yield base, client_ctx


def test_https(tls, dest):
    base, client_ctx = tls
    result = fetch(
        f"{base}/files/data.bin", dest, "data.bin", context=SourceContext(ssl_context=client_ctx, allow=LOOPBACK.allow)
    )
    assert_matches(result, PAYLOAD)
    with pytest.raises(TransferFailed, match="TLS|certificate"):  # untrusted by default
        fetch(f"{base}/files/data.bin", dest, "other.bin", context=LOOPBACK)
    with pytest.raises(TransferFailed, match="short read"):
        fetch(
            f"{base}/short/data.bin", dest, "s.bin", context=SourceContext(ssl_context=client_ctx, allow=LOOPBACK.allow)
        )
    assert sorted(p.name for p in dest.iterdir()) == ["data.bin"]


class TunnelProxy(http.server.BaseHTTPRequestHandler):
    """A CONNECT proxy: opens the tunnel and copies bytes both ways (TLS stays end to end)."""

    tunnels: list[str] = []

    def do_CONNECT(self) -> None:  # noqa: N802 - http.server's name
        host, _, port = self.path.rpartition(":")
        TunnelProxy.tunnels.append(self.path)
        upstream = socket.create_connection((host, int(port)), timeout=10)
        self.send_response(200, "Connection established")
        self.end_headers()
        client = self.connection

        def pump(src, dst) -> None:
            with contextlib.suppress(OSError):
                while data := src.recv(65536):
                    dst.sendall(data)
            with contextlib.suppress(OSError):
                dst.shutdown(socket.SHUT_WR)

        back = threading.Thread(target=pump, args=(upstream, client), daemon=True)
        back.start()
        pump(client, upstream)
        back.join(timeout=10)
        upstream.close()

    def log_message(self, *args: object) -> None:
        pass


def test_https_through_a_connect_proxy(tls, dest):
    base, client_ctx = tls
    proxy = QuietServer(("127.0.0.1", 0), TunnelProxy)
    threading.Thread(target=proxy.serve_forever, daemon=True).start()
    TunnelProxy.tunnels = []
    try:
        ctx = SourceContext(ssl_context=client_ctx, allow=LOOPBACK.allow, proxies={"https": f"http://127.0.0.1:{proxy.server_address[1]}"})
        result = fetch(f"{base}/files/data.bin", dest, "data.bin", context=ctx)
    finally:
        proxy.shutdown()
        proxy.server_close()
    assert_matches(result, PAYLOAD)
    assert TunnelProxy.tunnels == [base.removeprefix("https://")]
