"""Network transfers that a provider must not be able to abuse, against real loopback servers.

The address policy (only public addresses unless ``[transfer] allow`` says otherwise, checked on
the resolved address and on every redirect, connection pinned to the checked address), errors
that do not tell an open port from a closed one, the timeout and the deadline, and credentials
that never reach the store, ``show``, PROV or a message.
"""

from __future__ import annotations

import base64
import contextlib
import ipaddress
import json
import socket
import sqlite3
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

import docket
from docket.errors import BadInput, Refused
from docket.transfer import SourceContext, TransferFailed, fetch
from docket.transfer.addresses import AddressPolicy, is_public
from docket.transfer.credentials import strip_passwords
from tests.clirun import docket_cli
from tests.conftest import EXAMPLES
from tests.people import as_role, key_file

BODY = b"station,temp\nA,1.5\nB,2.5\n" * 500
PASSWORD = "pa55-Wörd_zq"  # a string that appears nowhere else


class Recorder(BaseHTTPRequestHandler):
    """Serves BODY; remembers every request's path and Authorization; a few misbehaviours."""

    protocol_version = "HTTP/1.0"
    seen: list[tuple[str, str | None]]
    redirect_to: str = ""

    def do_GET(self) -> None:  # noqa: N802 - http.server's name
        self.server.seen.append((self.path, self.headers.get("Authorization")))  # type: ignore[attr-defined]
        if self.path.startswith("/redirect"):
            self.send_response(302)
            self.send_header("Location", self.server.redirect_to)  # type: ignore[attr-defined]
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        if self.path.startswith("/auth"):
            expected = "Basic " + base64.b64encode(f"alice:{PASSWORD}".encode()).decode()
            if self.headers.get("Authorization") != expected:
                self.send_response(401)
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
        if self.path.startswith("/trickle"):  # a byte every 0.5 s: each read is quick
            self.send_response(200)
            self.send_header("Content-Length", "100")
            self.end_headers()
            with contextlib.suppress(OSError):
                for _ in range(100):
                    self.wfile.write(b"x")
                    self.wfile.flush()
                    time.sleep(0.5)
            return
        self.send_response(200)
        self.send_header("Content-Length", str(len(BODY)))
        self.end_headers()
        self.wfile.write(BODY)

    def log_message(self, *args: object) -> None:
        pass


class Quiet(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request: object, client_address: object) -> None:
        pass


@contextlib.contextmanager
def http_server(host: str = "127.0.0.1", port: int = 0) -> Iterator[Quiet]:
    server = Quiet((host, port), Recorder)
    server.seen = []  # type: ignore[attr-defined]
    server.redirect_to = ""  # type: ignore[attr-defined]
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture
def server() -> Iterator[Quiet]:
    with http_server() as s:
        yield s


def port_of(server: Quiet) -> int:
    return server.server_address[1]


@contextlib.contextmanager
def raw_server(behaviour: str) -> Iterator[int]:
    """A TCP server that accepts and then misbehaves at the socket level; yields its port.

    ``silent``: reads the request and says nothing; ``reset``: closes with a TCP RST;
    ``banner``: answers like an SSH server; ``headers-trickle``: a valid status line, then one
    header line every 0.5 s, for ever.
    """
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(8)
    stop = threading.Event()
    clients: list[socket.socket] = []

    def handle(conn: socket.socket) -> None:
        with contextlib.suppress(OSError):
            conn.recv(65536)
            if behaviour == "reset":
                conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
                conn.close()
            elif behaviour == "banner":
                conn.sendall(b"SSH-2.0-OpenSSH_9.6\r\n")
                conn.close()
            elif behaviour == "headers-trickle":
                conn.sendall(b"HTTP/1.0 200 OK\r\n")
                for i in range(200):
                    if stop.wait(0.5):
                        break
                    conn.sendall(b"X-Slow-%d: yes\r\n" % i)
            else:
                stop.wait(30)

    def accept() -> None:
        while not stop.is_set():
            try:
                conn, _ = listener.accept()
            except OSError:
                return
            clients.append(conn)
            threading.Thread(target=handle, args=(conn,), daemon=True).start()

    threading.Thread(target=accept, daemon=True).start()
    try:
        yield listener.getsockname()[1]
    finally:
        stop.set()
        listener.close()
        for conn in clients:
            with contextlib.suppress(OSError):
                conn.close()


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


LOOPBACK = SourceContext(allow=["127.0.0.1"])


# --------------------------------------------------------------------------- the policy


@pytest.mark.parametrize(
    ("address", "public"),
    [
        ("8.8.8.8", True), ("2606:4700:4700::1111", True), ("::ffff:8.8.8.8", True),
        ("127.0.0.1", False), ("127.5.6.7", False), ("10.1.2.3", False), ("172.16.0.1", False),
        ("192.168.1.1", False), ("169.254.169.254", False), ("100.64.0.1", False),
        ("100.127.255.254", False), ("0.0.0.0", False), ("224.0.0.1", False),
        ("255.255.255.255", False), ("240.0.0.1", False), ("198.18.0.1", False),
        ("::1", False), ("::", False), ("fe80::1", False), ("fc00::1", False), ("fd12::1", False),
        ("ff02::1", False), ("::ffff:127.0.0.1", False), ("::ffff:10.0.0.1", False),
        ("::127.0.0.1", False), ("2002:7f00:1::", False), ("2002:a00:1::", False),
        ("64:ff9b::7f00:1", False), ("64:ff9b::a9fe:a9fe", False), ("2001:db8::1", False),
        ("fec0::1", False),
    ],
)
def test_public_addresses(address: str, public: bool) -> None:
    assert is_public(ipaddress.ip_address(address)) is public


def test_allow_list_parses_hosts_addresses_and_networks() -> None:
    policy = AddressPolicy.from_allow(["10.1.0.0/16", "files.internal.", "FD00::/8", "192.168.5.5"])
    assert policy.permits(ipaddress.ip_address("10.1.200.3"))
    assert not policy.permits(ipaddress.ip_address("10.2.0.1"))
    assert policy.permits(ipaddress.ip_address("fd00::5"))
    assert policy.permits(ipaddress.ip_address("::ffff:192.168.5.5"))  # the mapped form too
    assert policy.host_allowed("Files.Internal") and not policy.host_allowed("internal")
    for bad in ["10.0.0.0/33", "a host", "", "user@host"]:
        with pytest.raises(BadInput, match="allow"):
            AddressPolicy.from_allow([bad])


@pytest.mark.parametrize(
    "host", ["127.0.0.1", "localhost", "2130706433", "0x7f.1", "017700000001", "127.1", "0177.0.0.1",
             "[::ffff:127.0.0.1]", "LocalHost"],
)
def test_loopback_in_any_spelling_is_refused_before_a_byte_is_sent(
    server: Quiet, tmp_path: Path, host: str
) -> None:
    """All of these were fetched before: the check is on the resolved address, not the text."""
    with pytest.raises(Refused) as err:
        fetch(f"http://{host}:{port_of(server)}/data.csv", tmp_path, "data.csv")
    assert err.value.exit_code == 3
    assert "not a public address" in err.value.message and "[transfer] allow" in err.value.message
    if not host.replace(".", "").isdigit() and "127" not in host:
        assert "127.0.0.1" not in err.value.message  # the resolution is not echoed
    assert server.seen == []  # type: ignore[attr-defined]
    assert not tmp_path.exists() or list(tmp_path.iterdir()) == []


def test_ipv6_loopback_is_refused(tmp_path: Path) -> None:
    with pytest.raises(Refused):
        fetch(f"http://[::1]:{closed_port()}/x", tmp_path, "x")


@pytest.mark.parametrize("allow", [["127.0.0.1"], ["127.0.0.0/8"], ["localhost"]])
def test_the_data_centre_can_allow_its_own_servers(server: Quiet, tmp_path: Path, allow: list[str]) -> None:
    host = "localhost" if allow == ["localhost"] else "127.0.0.1"
    got = fetch(f"http://{host}:{port_of(server)}/data.csv", tmp_path, "data.csv",
                context=SourceContext(allow=allow))
    assert got.size == len(BODY)


def test_every_redirect_hop_is_checked(server: Quiet, tmp_path: Path) -> None:
    """127.0.0.1 is allowed, 127.0.0.2 is not: a redirect there is refused, never requested."""
    with http_server("127.0.0.2") as inner:
        server.redirect_to = f"http://127.0.0.2:{port_of(inner)}/data.csv"  # type: ignore[attr-defined]
        with pytest.raises(Refused, match="127.0.0.2 is not a public address"):
            fetch(f"http://127.0.0.1:{port_of(server)}/redirect", tmp_path, "x.csv", context=LOOPBACK)
        assert inner.seen == []  # type: ignore[attr-defined]
        # allowed, the same redirect is followed
        got = fetch(f"http://127.0.0.1:{port_of(server)}/redirect", tmp_path, "y.csv",
                    context=SourceContext(allow=["127.0.0.1", "127.0.0.2"]))
        assert got.size == len(BODY) and got.resolved.startswith("http://127.0.0.2:")


def test_the_connection_goes_to_the_address_that_was_checked(monkeypatch, tmp_path: Path) -> None:
    """DNS rebinding: the name answers an allowed address once, then a forbidden one. docket
    resolves once and connects to what it checked; a second lookup would reach 127.0.0.1."""
    with http_server("127.0.0.2") as good:
        port = port_of(good)
        try:
            evil = http_server("127.0.0.1", port)
            evil_server = evil.__enter__()
        except OSError:
            pytest.skip("the same port is taken on 127.0.0.1")
        try:
            real = socket.getaddrinfo
            lookups: list[str] = []

            def rebinding(host, *args, **kwargs):
                if host != "rebind.test":
                    return real(host, *args, **kwargs)
                lookups.append(host)
                address = "127.0.0.2" if len(lookups) == 1 else "127.0.0.1"
                return real(address, *args, **kwargs)

            monkeypatch.setattr(socket, "getaddrinfo", rebinding)
            got = fetch(f"http://rebind.test:{port}/data.csv", tmp_path, "data.csv",
                        context=SourceContext(allow=["127.0.0.2"]))
            assert got.size == len(BODY)
            assert lookups == ["rebind.test"]
            assert [p for p, _ in good.seen] == ["/data.csv"]  # type: ignore[attr-defined]
            assert evil_server.seen == []  # type: ignore[attr-defined]
        finally:
            evil.__exit__(None, None, None)


def test_a_name_with_any_private_address_is_refused(monkeypatch, tmp_path: Path) -> None:
    real = socket.getaddrinfo

    def mixed(host, *args, **kwargs):
        if host == "mixed.test":
            return real("8.8.8.8", *args, **kwargs) + real("127.0.0.1", *args, **kwargs)
        return real(host, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", mixed)
    with pytest.raises(Refused, match="mixed.test is not a public address"):
        fetch("http://mixed.test/x.csv", tmp_path, "x.csv")


def test_through_a_proxy_a_target_resolving_to_loopback_is_refused(server: Quiet, tmp_path: Path) -> None:
    """The proxy is the data centre's choice; the target still may not be a private address."""
    ctx = SourceContext(proxies={"http": f"http://127.0.0.1:{port_of(server)}"})
    with pytest.raises(Refused):
        fetch("http://2130706433/data.csv", tmp_path, "x.csv", context=ctx)
    assert server.seen == []  # type: ignore[attr-defined]


# --------------------------------------------------------------------------- errors and ports


def _reason(location: str, tmp_path: Path, **kwargs) -> str:
    with pytest.raises(TransferFailed) as err:
        fetch(location, tmp_path, "x", context=SourceContext(allow=["127.0.0.1"], **kwargs))
    assert err.value.exit_code == 1
    return err.value.reason


def test_closed_reset_silent_and_non_http_ports_read_the_same(tmp_path: Path) -> None:
    """A request must not work as a port scanner: what answered is not told apart."""
    reasons = {}
    port = closed_port()
    reasons["closed"] = _reason(f"http://127.0.0.1:{port}/x", tmp_path, timeout=0.5).replace(str(port), "P")
    for behaviour in ("silent", "reset", "banner"):
        with raw_server(behaviour) as port:
            reason = _reason(f"http://127.0.0.1:{port}/x", tmp_path, timeout=0.5)
            reasons[behaviour] = reason.replace(str(port), "P")
    assert len(set(reasons.values())) == 1, reasons
    text = reasons["closed"]
    assert text.startswith("could not connect to 127.0.0.1:P")
    for leak in ("refused", "reset", "Errno", "SSH", "BadStatusLine", "timed out"):
        assert leak not in text


# --------------------------------------------------------------------------- timeout and deadline


def test_the_timeout_bounds_a_silent_server(tmp_path: Path) -> None:
    with raw_server("silent") as port:
        started = time.monotonic()
        reason = _reason(f"http://127.0.0.1:{port}/x", tmp_path, timeout=1.0)
        elapsed = time.monotonic() - started
    assert 0.8 < elapsed < 2.5, elapsed
    assert "1 s" in reason


def test_the_deadline_cuts_a_trickling_body(server: Quiet, tmp_path: Path) -> None:
    """A byte every 0.5 s never trips a 2 s timeout; the 3 s deadline stops it."""
    started = time.monotonic()
    reason = _reason(f"http://127.0.0.1:{port_of(server)}/trickle", tmp_path, timeout=2.0, deadline=3.0)
    elapsed = time.monotonic() - started
    assert "deadline of 3 s passed" in reason
    assert 2.7 < elapsed < 4.5, elapsed
    assert list(tmp_path.iterdir()) == []


def test_the_deadline_cuts_trickling_headers(tmp_path: Path) -> None:
    with raw_server("headers-trickle") as port:
        started = time.monotonic()
        reason = _reason(f"http://127.0.0.1:{port}/x", tmp_path, timeout=2.0, deadline=2.0)
        elapsed = time.monotonic() - started
    assert "deadline of 2 s passed" in reason
    assert 1.7 < elapsed < 3.5, elapsed


def test_the_instance_timeout_and_deadline_reach_the_transfer(instance_dir: Path, server: Quiet) -> None:
    """[transfer] timeout/deadline in docket.toml are what `docket transfer` applies."""
    config = instance_dir / "docket.toml"
    text = config.read_text().replace("timeout = 60.0", "timeout = 2.0").replace(
        "deadline = 21600.0", "deadline = 2.0").replace("allow = []", 'allow = ["127.0.0.1"]')
    config.write_text(text)
    doc = json.loads((EXAMPLES / "requests" / "weather-table-schema.json").read_text())
    doc["files"] = [{"name": "slow.csv", "location": f"http://127.0.0.1:{port_of(server)}/trickle"}]
    with docket.open(instance_dir) as d:
        request_id = d.submit(doc)["id"]
        as_role(d, "reviewer", "Eva").review(request_id, "approved")
        started = time.monotonic()
        result = d.transfer(request_id)
    assert time.monotonic() - started < 5
    assert result["outcome"] == "failed"
    assert "deadline of 2 s passed" in result["failures"][0]["reason"]


# --------------------------------------------------------------------------- credentials


def test_configured_credentials_log_in_to_that_host_only(server: Quiet, tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("DOCKET_TEST_CREDENTIALS", f"alice:{PASSWORD}")
    ctx = SourceContext(allow=["127.0.0.1", "127.0.0.2"], credentials={"127.0.0.1": "DOCKET_TEST_CREDENTIALS"})
    got = fetch(f"http://alice@127.0.0.1:{port_of(server)}/auth/x.csv", tmp_path, "x.csv", context=ctx)
    assert got.size == len(BODY) and PASSWORD not in got.source
    # a redirect to another host does not carry them along
    with http_server("127.0.0.2") as other:
        server.redirect_to = f"http://127.0.0.2:{port_of(other)}/data.csv"  # type: ignore[attr-defined]
        fetch(f"http://127.0.0.1:{port_of(server)}/redirect", tmp_path, "y.csv", context=ctx)
        assert server.seen[-1][1] is not None  # type: ignore[attr-defined]
        assert other.seen == [("/data.csv", None)]  # type: ignore[attr-defined]


def test_unset_credentials_variable_is_named_not_guessed(server: Quiet, tmp_path: Path, monkeypatch) -> None:
    monkeypatch.delenv("DOCKET_TEST_CREDENTIALS", raising=False)
    ctx = SourceContext(allow=["127.0.0.1"], credentials={"127.0.0.1": "DOCKET_TEST_CREDENTIALS"})
    with pytest.raises(TransferFailed, match="DOCKET_TEST_CREDENTIALS.*not set"):
        fetch(f"http://127.0.0.1:{port_of(server)}/auth/x.csv", tmp_path, "x.csv", context=ctx)
    assert server.seen == []  # type: ignore[attr-defined]


def test_strip_passwords_keeps_the_user_and_names_the_field() -> None:
    doc = {"files": [{"name": "a", "location": f"https://bob:{PASSWORD}@h.example/x?y=1#z"},
                     {"name": "b", "location": "https://bob@h.example/x"}],
           "metadata": {"links": [f"ftp://:{PASSWORD}@ftp.example/"]},
           "comment": f"a mirror: https://bob:{PASSWORD}@m.example/x (same files)"}
    cleaned, warnings = strip_passwords(doc)
    assert cleaned["files"][0]["location"] == "https://bob@h.example/x?y=1#z"
    assert cleaned["files"][1] == doc["files"][1]
    assert cleaned["metadata"]["links"] == ["ftp://ftp.example/"]
    assert cleaned["comment"] == "a mirror: https://bob@m.example/x (same files)"
    assert [w["field"] for w in warnings] == ["files[0].location", "metadata.links[0]", "comment"]
    assert "[transfer] credentials for h.example" in warnings[0]["message"]
    assert PASSWORD not in json.dumps([cleaned, warnings])
    assert PASSWORD in doc["files"][0]["location"]  # the caller's document is not changed


def _every_stored_text(instance_dir: Path) -> str:
    """Every value of every table of the instance's SQLite store, as one text."""
    out = []
    with contextlib.closing(sqlite3.connect(instance_dir / "docket.sqlite")) as db:
        tables = [r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type='table'")]
        for table in tables:
            for row in db.execute(f'SELECT * FROM "{table}"'):  # noqa: S608 - names from the store
                out.append(" ".join(str(v) for v in row))
    return "\n".join(out)


@pytest.mark.parametrize("backend", ["sqlite"])
def test_a_password_in_a_request_is_never_stored(instance_dir: Path, server: Quiet, tmp_path: Path) -> None:
    """submit + revise keep the user name, drop the password, warn; the transfer logs in with
    the data centre's [transfer] credentials; show, the store, PROV and messages never see it."""
    port = port_of(server)
    config = instance_dir / "docket.toml"
    config.write_text(config.read_text().replace("allow = []", 'allow = ["127.0.0.1"]')
                      + '\n[transfer.credentials]\n"127.0.0.1" = "DOCKET_TEST_CREDENTIALS"\n')
    doc = json.loads((EXAMPLES / "requests" / "weather-table-schema.json").read_text())
    doc["files"] = [{"name": "obs.csv", "location": f"http://alice:{PASSWORD}@127.0.0.1:{port}/auth/obs.csv"}]
    request = tmp_path / "request.json"
    request.write_text(json.dumps(doc))

    result = docket_cli("submit", request, "--json", instance=instance_dir)
    assert result.code == 0, result.err
    body = result.json()
    request_id = body["id"]
    assert [w["field"] for w in body["warnings"]] == ["files[0].location"]
    assert "127.0.0.1" in body["warnings"][0]["message"] and PASSWORD not in result.out
    text = docket_cli("submit", request, instance=instance_dir)  # the human form warns on stderr
    assert "files[0].location" in text.err and "[transfer] credentials" in text.err
    assert PASSWORD not in text.out + text.err

    revised = docket_cli("revise", request_id, request, "--json", instance=instance_dir)
    assert revised.code == 0 and revised.json()["warnings"][0]["field"] == "files[0].location"
    provider = key_file(instance_dir, "provider", "Chiara Rossi", email="chiara.rossi@meteo.example.it")
    resubmitted = docket_cli("--key-file", provider, "review", request_id, "submitted", instance=instance_dir)
    assert resubmitted.code == 0, resubmitted.err
    reviewer = key_file(instance_dir, "reviewer")
    approved = docket_cli("--key-file", reviewer, "review", request_id, "approved", instance=instance_dir)
    assert approved.code == 0, approved.err

    shown = docket_cli("show", request_id, "--json", instance=instance_dir)
    assert shown.json()["files"][0]["location"] == f"http://alice@127.0.0.1:{port}/auth/obs.csv"

    # without the variable the transfer fails, naming the variable; with it, it logs in
    failed = docket_cli("transfer", request_id, "--json", instance=instance_dir)
    assert failed.code == 1 and "DOCKET_TEST_CREDENTIALS" in failed.out
    done = docket_cli("transfer", request_id, "--json", instance=instance_dir,
                      env={"DOCKET_TEST_CREDENTIALS": f"alice:{PASSWORD}"})
    assert done.code == 0, done.out + done.err
    assert done.json()["outcome"] == "done"

    outputs = [result.out, revised.out, shown.out, failed.out, done.out, done.err]
    for fmt in ("json", "provn", "ttl"):
        prov = docket_cli("prov", request_id, "--format", fmt, instance=instance_dir)
        assert prov.code == 0, prov.err
        outputs.append(prov.out)
    outputs.append(docket_cli("history", request_id, "--json", instance=instance_dir).out)
    outputs.append(_every_stored_text(instance_dir))
    for text in outputs:
        assert PASSWORD not in text
    assert "alice@127.0.0.1" in outputs[-1]


def test_a_refused_password_url_is_not_echoed_by_validation(instance_dir: Path, tmp_path: Path) -> None:
    """The password is gone before validation runs, so a refusal (and any check added later that
    quotes a location) cannot echo it; nothing of the refused request is stored."""
    doc = json.loads((EXAMPLES / "requests" / "weather-table-schema.json").read_text())
    doc["files"] = [{"name": 7, "location": f"https://alice:{PASSWORD}@data.example.org/x.csv"}]
    request = tmp_path / "bad.json"
    request.write_text(json.dumps(doc))
    result = docket_cli("submit", request, "--json", instance=instance_dir)
    assert result.code == 2
    assert PASSWORD not in result.out + result.err
    assert PASSWORD not in _every_stored_text(instance_dir)


@pytest.mark.parametrize("backend", ["sqlite"])
def test_the_transfer_step_refuses_a_private_location_by_default(instance_dir: Path, server: Quiet) -> None:
    doc = json.loads((EXAMPLES / "requests" / "weather-table-schema.json").read_text())
    doc["files"] = [{"name": "x.csv", "location": f"http://localhost:{port_of(server)}/data.csv"}]
    with docket.open(instance_dir) as d:
        request_id = d.submit(doc)["id"]
        as_role(d, "reviewer", "Eva").review(request_id, "approved")
        result = d.transfer(request_id)
    assert result["outcome"] == "failed"
    assert "localhost is not a public address" in result["failures"][0]["reason"]
    assert server.seen == []  # type: ignore[attr-defined]


@pytest.mark.parametrize("target", ["http://[::1", "http://127.0.0.1:99999/", "http://x/\x01"])
def test_a_bad_redirect_is_a_failed_transfer_not_an_internal_error(server: Quiet, tmp_path: Path, target: str) -> None:
    server.redirect_to = target  # type: ignore[attr-defined]
    with pytest.raises(TransferFailed, match="redirected to an invalid URL"):
        fetch(f"http://127.0.0.1:{port_of(server)}/redirect", tmp_path, "x", context=LOOPBACK)


@pytest.mark.parametrize("location", ["http://127.0.0.1/a b.csv", "http://[::1/x", "http://127.0.0.1:99999/x"])
def test_a_malformed_location_is_bad_input(tmp_path: Path, location: str) -> None:
    with pytest.raises(BadInput):
        fetch(location, tmp_path, "x", context=LOOPBACK)


class RefusingProxy(BaseHTTPRequestHandler):
    """A proxy that answers every CONNECT with the status in the server's ``status``."""

    def do_CONNECT(self) -> None:  # noqa: N802 - http.server's name
        self.send_response(self.server.status)  # type: ignore[attr-defined]
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args: object) -> None:
        pass


@pytest.mark.parametrize(("status", "words"), [(502, "could not connect to 127.0.0.1:443 through the proxy"),
                                               (407, "the proxy asks for credentials")])
def test_a_tunnel_the_proxy_refuses(tmp_path: Path, status: int, words: str) -> None:
    proxy = Quiet(("127.0.0.1", 0), RefusingProxy)
    proxy.status = status  # type: ignore[attr-defined]
    threading.Thread(target=proxy.serve_forever, daemon=True).start()
    try:
        ctx = SourceContext(allow=["127.0.0.1"], proxies={"https": f"http://127.0.0.1:{port_of(proxy)}"})
        with pytest.raises(TransferFailed) as err:
            fetch("https://127.0.0.1:443/x.csv", tmp_path, "x.csv", context=ctx)
    finally:
        proxy.shutdown()
        proxy.server_close()
    assert words in err.value.reason


def test_a_proxy_that_is_down(tmp_path: Path) -> None:
    ctx = SourceContext(allow=["127.0.0.1"], proxies={"https": f"http://127.0.0.1:{closed_port()}"})
    with pytest.raises(TransferFailed, match="could not connect to the proxy"):
        fetch("https://127.0.0.1:443/x.csv", tmp_path, "x.csv", context=ctx)


def test_credentials_match_the_host_and_the_port_when_one_is_named() -> None:
    from docket.transfer.credentials import authorization_for, basic

    env = {"A": "u:p", "B": "v:q"}
    config = {"[::1]:8443": "A", "Data.Example.org": "B"}
    assert authorization_for("x", "::1", 8443, config, env) == basic("u", "p")
    assert authorization_for("x", "::1", 443, config, env) is None  # another port, another service
    assert authorization_for("x", "data.example.org.", None, config, env) == basic("v", "q")
    assert authorization_for("x", "other.example.org", None, config, env) is None
    with pytest.raises(TransferFailed, match="user:password"):
        authorization_for("x", "data.example.org", None, config, {"B": "no-colon"})
