"""Browser uploads at the HTTP level: the tus endpoint of a real ``docket serve``.

One server for the module, over an instance whose ``[limits] max_upload_bytes`` is 1 MiB. Each
"browser" is a page cookie got the way a browser gets it: by opening the form. Also: the
location checks of the core submit path (:mod:`docket.uploads.locations`).
"""

from __future__ import annotations

import base64
import hashlib
import http.client
import json
import os
import socket
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

import docket
from docket.errors import BadInput, NotFound
from docket.uploads import resolve_location

from .conftest import EXAMPLES
from .test_serve import serving

LIMIT = 1 << 20
TUS = {"Tus-Resumable": "1.0.0"}
OCTETS = {"Content-Type": "application/offset+octet-stream"}


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict]:
    folder = tmp_path_factory.mktemp("uploads") / "inst"
    docket.init(folder, project="ocean", base_uri="https://data.example.org/ocean/").close()
    toml = folder / "docket.toml"
    toml.write_text(toml.read_text().replace("max_upload_bytes = 1073741824", f"max_upload_bytes = {LIMIT}"))
    with serving(folder) as (base, _proc):
        port = int(base.rsplit(":", 1)[1])
        world = {"port": port, "folder": folder}
        world["alice"] = page_cookie(world)
        world["bob"] = page_cookie(world)
        yield world


def connect(world: dict) -> http.client.HTTPConnection:
    return http.client.HTTPConnection("127.0.0.1", world["port"], timeout=60)


def page_cookie(world: dict) -> str:
    """The signed page cookie a browser gets with the form."""
    conn = connect(world)
    conn.request("GET", "/")
    response = conn.getresponse()
    response.read()
    assert response.status == 200
    return next(c.split(";")[0] for c in response.msg.get_all("Set-Cookie") if c.startswith("docket_page="))


def call(world: dict, method: str, path: str, cookie: str | None, body: bytes | None = None,
         **headers: str) -> http.client.HTTPResponse:
    conn = connect(world)
    sent = {**TUS, **({"Cookie": cookie} if cookie else {}), **{k.replace("_", "-"): v for k, v in headers.items()}}
    conn.request(method, path, body=body, headers=sent)
    response = conn.getresponse()
    response.body = response.read()  # type: ignore[attr-defined]
    return response


def create(world: dict, cookie: str, name: str, length: int) -> str:
    response = call(world, "POST", "/docket/uploads/", cookie, Upload_Length=str(length),
                    Upload_Metadata="filename " + base64.b64encode(name.encode()).decode())
    assert response.status == 201, response.body
    return response.getheader("Location")


def staged(world: dict, url: str) -> Path:
    return world["folder"] / "inbox" / "uploads" / url.rsplit("/", 1)[1]


def test_create_patch_head_and_checksums(server: dict) -> None:
    data = os.urandom(300_000)
    options = call(server, "OPTIONS", "/docket/uploads/", None)
    assert options.status == 204 and options.getheader("Tus-Version") == "1.0.0"
    assert "creation" in options.getheader("Tus-Extension") and options.getheader("Tus-Max-Size") == str(LIMIT)
    url = create(server, server["alice"], "ctd profile é.csv", len(data))
    assert call(server, "HEAD", url, server["alice"]).getheader("Upload-Offset") == "0"
    first = call(server, "PATCH", url, server["alice"], data[:100_000], Upload_Offset="0", **OCTETS)
    assert first.status == 204 and first.getheader("Upload-Offset") == "100000"
    wrong = call(server, "PATCH", url, server["alice"], data[:10], Upload_Offset="5", **OCTETS)
    assert wrong.status == 409 and b"100000" in wrong.body
    rest = call(server, "PATCH", url, server["alice"], data[100_000:], Upload_Offset="100000", **OCTETS)
    assert rest.status == 204 and rest.getheader("Upload-Offset") == str(len(data))
    state = json.loads((staged(server, url) / ".upload.json").read_text())
    assert state["complete"] and state["sha256"] == hashlib.sha256(data).hexdigest()
    assert state["md5"] == hashlib.md5(data).hexdigest() and state["length"] == len(data)
    assert (staged(server, url) / "ctd profile é.csv").read_bytes() == data
    # The page cookie is not in the state file, only its digest.
    assert server["alice"].split("=", 1)[1] not in (staged(server, url) / ".upload.json").read_text()


def test_a_dropped_connection_resumes_from_the_head_offset(server: dict) -> None:
    data = os.urandom(600_000)
    url = create(server, server["alice"], "cut.bin", len(data))
    # Half a PATCH body, then the connection drops (the browser went away mid-chunk).
    with socket.create_connection(("127.0.0.1", server["port"])) as sock:
        head = (f"PATCH {url} HTTP/1.1\r\nHost: 127.0.0.1\r\nTus-Resumable: 1.0.0\r\nCookie: {server['alice']}\r\n"
                f"Upload-Offset: 0\r\nContent-Type: application/offset+octet-stream\r\n"
                f"Content-Length: {len(data)}\r\n\r\n").encode()
        sock.sendall(head + data[:250_000])
        time.sleep(0.5)
    offset = 0
    for _ in range(50):  # the server notices the close and releases the upload
        response = call(server, "HEAD", url, server["alice"])
        offset = int(response.getheader("Upload-Offset"))
        if offset == 250_000 and call(server, "PATCH", url, server["alice"], b"", Upload_Offset=str(offset),
                                      **OCTETS).status == 204:
            break
        time.sleep(0.1)
    assert offset == 250_000, "what arrived before the drop is kept"
    done = call(server, "PATCH", url, server["alice"], data[offset:], Upload_Offset=str(offset), **OCTETS)
    assert done.status == 204
    state = json.loads((staged(server, url) / ".upload.json").read_text())
    assert state["complete"] and state["sha256"] == hashlib.sha256(data).hexdigest()
    assert state["md5"] == hashlib.md5(data).hexdigest()


def test_limits_declared_and_streamed(server: dict) -> None:
    too_big = call(server, "POST", "/docket/uploads/", server["alice"], Upload_Length=str(LIMIT + 1),
                   Upload_Metadata="filename " + base64.b64encode(b"big.bin").decode())
    assert too_big.status == 413 and b"max_upload_bytes" in too_big.body
    assert call(server, "POST", "/docket/uploads/", server["alice"], Upload_Length="1x",
                Upload_Metadata="filename eA==").status == 400
    # Declared small, streamed large (chunked, so no Content-Length tells in advance): 413, nothing kept.
    url = create(server, server["alice"], "liar.bin", 1000)
    conn = connect(server)
    conn.putrequest("PATCH", url)
    for k, v in {**TUS, **OCTETS, "Cookie": server["alice"], "Upload-Offset": "0",
                 "Transfer-Encoding": "chunked"}.items():
        conn.putheader(k, v)
    conn.endheaders()
    status = None
    try:
        for _ in range(64):
            piece = os.urandom(64 * 1024)
            conn.send(f"{len(piece):x}\r\n".encode() + piece + b"\r\n")
        conn.send(b"0\r\n\r\n")
        status = conn.getresponse().status
    except OSError:
        status = "closed"  # the server may stop reading at once
    assert status in (413, 400, "closed")
    assert not staged(server, url).exists()
    assert call(server, "HEAD", url, server["alice"]).status == 404
    # Declared by Content-Length beyond the upload's length: refused before a byte is written.
    url = create(server, server["alice"], "liar2.bin", 1000)
    over = call(server, "PATCH", url, server["alice"], os.urandom(2000), Upload_Offset="0", **OCTETS)
    assert over.status == 413 and not staged(server, url).exists()


def test_another_browser_cannot_see_or_touch_an_upload(server: dict) -> None:
    url = create(server, server["alice"], "mine.csv", 10)
    for cookie in (server["bob"], None, "docket_page=forged"):
        assert call(server, "HEAD", url, cookie).status == 404
        assert call(server, "PATCH", url, cookie, b"0123456789", Upload_Offset="0", **OCTETS).status == 404
        assert call(server, "DELETE", url, cookie).status == 404
    assert call(server, "POST", "/docket/uploads/", None, Upload_Length="1",
                Upload_Metadata="filename eA==").status == 403
    assert staged(server, url).exists() and call(server, "HEAD", url, server["alice"]).status == 200
    # Cross-site origins and other protocol versions are refused too.
    assert call(server, "HEAD", url, server["alice"], Origin="https://evil.example").status == 403
    conn = connect(server)
    conn.request("HEAD", url, headers={"Cookie": server["alice"], "Tus-Resumable": "0.2.2"})
    assert conn.getresponse().status == 412


@pytest.mark.parametrize("name", ["../../etc/passwd", "a/b.csv", "a\\b.csv", "..", ".htaccess", "x\x00.csv",
                                  "tab\there.csv", "C:evil.csv", " padded.csv", "n" * 300, ""])
def test_hostile_filenames_are_refused(server: dict, name: str) -> None:
    response = call(server, "POST", "/docket/uploads/", server["alice"], Upload_Length="3",
                    Upload_Metadata="filename " + base64.b64encode(name.encode()).decode())
    assert response.status == 400, name
    assert response.body.strip(), "a message says what is wrong"
    assert b"file name" in response.body or b"empty" in response.body


def test_termination_leaves_nothing(server: dict) -> None:
    url = create(server, server["alice"], "gone.csv", 100)
    assert call(server, "PATCH", url, server["alice"], b"x" * 40, Upload_Offset="0", **OCTETS).status == 204
    assert staged(server, url).is_dir()
    assert call(server, "DELETE", url, server["alice"]).status == 204
    assert not staged(server, url).exists()
    assert call(server, "HEAD", url, server["alice"]).status == 404
    assert call(server, "PATCH", url, server["alice"], b"y", Upload_Offset="40", **OCTETS).status == 404


# -- locations, in the core submit path --------------------------------------------------------


def test_unusable_locations_are_refused_at_submit(tmp_path: Path) -> None:
    folder = tmp_path / "inst"
    docket.init(folder, project="ocean", base_uri="https://data.example.org/ocean/").close()
    doc = json.loads((EXAMPLES / "requests" / "ctd-multilingual.json").read_text())
    bad = ["C:\\Users\\me\\ctd.csv", "\\\\server\\share\\ctd.csv", "~alice/ctd.csv", "file://other.host/ctd.csv",
           "gopher://old.example/ctd.csv"]
    doc["files"] = [{"name": f"f{i}.csv", "location": loc} for i, loc in enumerate(bad)]
    doc["files"].append({"name": "ok.csv", "location": "https://data.example.org/ctd.csv"})
    with docket.open(folder) as dk:
        with pytest.raises(BadInput) as refused:
            dk.submit(doc)
        wheres = [p.where for p in refused.value.problems]
        assert wheres == [f"$.files[{i}].location" for i in range(len(bad))]
        messages = " ".join(p.message for p in refused.value.problems)
        assert "Windows path" in messages and "network share" in messages and "'~'" in messages
        assert "other.host" in messages and "'gopher'" in messages
        with pytest.raises(NotFound):
            dk.get("ocean-0001")  # nothing was stored
        doc["files"] = [{"name": "ok.csv", "location": "ocean-0001/ok.csv"}]
        assert dk.submit(doc)["id"] == "ocean-0001"  # a relative location: in the inbox


def test_relative_locations_resolve_in_the_inbox(tmp_path: Path) -> None:
    folder = tmp_path / "inst"
    docket.init(folder, project="ocean", base_uri="https://data.example.org/ocean/").close()
    with docket.open(folder) as dk:
        assert resolve_location(dk.instance, "ocean-0001/ctd.csv") == folder / "inbox" / "ocean-0001" / "ctd.csv"
        assert resolve_location(dk.instance, "/data/x.csv") == Path("/data/x.csv")
        assert resolve_location(dk.instance, "https://example.org/x.csv") is None
        from docket.uploads.locations import location_problems

        confined = location_problems({"files": [{"location": "../../etc/passwd"}, {"location": "/etc/passwd"},
                                                {"location": "ocean-0001/x.csv"}]}, dk.instance, confine=True)
        assert [p.where for p in confined] == ["$.files[0].location", "$.files[1].location"]


@pytest.mark.parametrize("location", ["../../etc/passwd", "/etc/passwd", "C:\\data\\ctd.csv", "~/ctd.csv"])
def test_the_form_refuses_an_unusable_location_when_submitted(dk: object, location: str) -> None:
    """On the page, a location the transfer could never read is refused at submit, named by its
    field, and nothing is stored (the core refuses the Windows and home-folder ones too)."""
    from docket.forms.page import RequestPage

    from .test_forms import set_input

    first = dk.submit(EXAMPLES / "requests" / "ctd-multilingual.json")
    page = RequestPage(dk, "ingest-request", "en", dk.new_link(first["id"])["link"])
    set_input(page.view, "files.0.location", location)
    assert page.view.submit() is None
    assert "$.files[0].location" in page.view.status.value and "docket-problems" in page.view.status.value
    assert dk.get(first["id"])["revision"] == 1


def test_a_relative_location_is_transferred_from_the_inbox_not_the_cwd(dk: object, tmp_path: Path,
                                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    """``ocean-0001/ctd.csv`` is the inbox's file, whatever the current folder holds under that name."""
    from .test_transfer_local import approved

    data = (EXAMPLES / "files" / "ctd_bay_of_biscay_2024.csv").read_bytes()
    (dk.instance.root / "inbox" / "ocean-0001").mkdir(parents=True)
    (dk.instance.root / "inbox" / "ocean-0001" / "ctd.csv").write_bytes(data)
    decoy = tmp_path / "cwd" / "ocean-0001"
    decoy.mkdir(parents=True)
    (decoy / "ctd.csv").write_bytes(b"not the provider's file\n")
    monkeypatch.chdir(tmp_path / "cwd")
    request_id = approved(dk, [{"name": "ctd.csv", "location": "ocean-0001/ctd.csv"}])
    result = dk.transfer(request_id)
    assert result["outcome"] == "done", result
    (row,) = dk.files(request_id)
    assert row["sha256"] == hashlib.sha256(data).hexdigest()


def test_unclaimed_uploads_are_swept_after_a_week(tmp_path: Path) -> None:
    from docket.uploads.store import UploadStore

    store = UploadStore(tmp_path / "inbox")
    old, new = store.create("old.csv", 3, "page-a"), store.create("new.csv", 3, "page-a")
    state = json.loads((old.folder / ".upload.json").read_text())
    state["created"] = "2020-01-01T00:00:00+00:00"
    (old.folder / ".upload.json").write_text(json.dumps(state))
    assert store.sweep() == [old.id]
    assert not old.folder.exists() and new.folder.is_dir()
