"""Large uploads through a real ``docket serve``: the hashing pipeline across batches and PATCHes.

The handler answers a PATCH as soon as its bytes are on disk and hashes its last batch while
the next PATCH arrives (see docs/uploads.md, "Speed"). These uploads are larger than one hash
batch (4 MiB) and one body piece (1 MiB), in PATCHes of odd sizes, so a batch straddles PATCHes
and a connection cut leaves unhashed bytes behind: the checksums must still be hashlib's and the
resume offset exactly what arrived.
"""

from __future__ import annotations

import hashlib
import json
import os
import socket
import time
from collections.abc import Iterator

import pytest

import docket

from .test_serve import serving
from .test_uploads import OCTETS, call, create, page_cookie, staged

MiB = 1 << 20


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict]:
    folder = tmp_path_factory.mktemp("pipeline") / "inst"
    docket.init(folder, project="ocean", base_uri="https://data.example.org/ocean/").close()
    toml = folder / "docket.toml"
    toml.write_text(toml.read_text().replace("max_upload_bytes = 1073741824", f"max_upload_bytes = {64 * MiB}"))
    with serving(folder) as (base, _proc):
        world = {"port": int(base.rsplit(":", 1)[1]), "folder": folder}
        world["alice"] = page_cookie(world)
        yield world


def recorded(world: dict, url: str) -> dict:
    return json.loads((staged(world, url) / ".upload.json").read_text())


def test_patches_of_odd_sizes_give_hashlibs_checksums(server: dict) -> None:
    data = os.urandom(21 * MiB + 12345)
    url = create(server, server["alice"], "big.bin", len(data))
    offset = 0
    for size in (3 * MiB + 1, 7 * MiB, 1, 5 * MiB - 7, len(data)):  # the last one: whatever is left
        body = data[offset:offset + size]
        answer = call(server, "PATCH", url, server["alice"], body, Upload_Offset=str(offset), **OCTETS)
        assert answer.status == 204, answer.body
        offset += len(body)
        assert answer.getheader("Upload-Offset") == str(offset)
        if offset < len(data):
            assert not recorded(server, url)["complete"]
    state = recorded(server, url)
    assert state["complete"] and state["length"] == len(data)
    assert state["md5"] == hashlib.md5(data).hexdigest() and state["sha256"] == hashlib.sha256(data).hexdigest()
    assert (staged(server, url) / "big.bin").read_bytes() == data


def test_a_cut_in_the_middle_of_a_batch_resumes_exactly(server: dict) -> None:
    data = os.urandom(20 * MiB)
    cut = 13 * MiB + 777  # three full batches and part of a fourth reach the server
    url = create(server, server["alice"], "cut.bin", len(data))
    with socket.create_connection(("127.0.0.1", server["port"])) as sock:
        head = (f"PATCH {url} HTTP/1.1\r\nHost: 127.0.0.1\r\nTus-Resumable: 1.0.0\r\nCookie: {server['alice']}\r\n"
                f"Upload-Offset: 0\r\nContent-Type: application/offset+octet-stream\r\n"
                f"Content-Length: {len(data)}\r\n\r\n").encode()
        sock.sendall(head + data[:cut])
        time.sleep(1.0)
    offset = -1
    for _ in range(100):  # the server notices the close and releases the upload
        offset = int(call(server, "HEAD", url, server["alice"]).getheader("Upload-Offset"))
        if offset == cut and call(server, "PATCH", url, server["alice"], b"", Upload_Offset=str(offset),
                                  **OCTETS).status == 204:
            break
        time.sleep(0.1)
    assert offset == cut, "every byte that arrived before the cut is kept, and no other"
    done = call(server, "PATCH", url, server["alice"], data[cut:], Upload_Offset=str(cut), **OCTETS)
    assert done.status == 204 and done.getheader("Upload-Offset") == str(len(data))
    state = recorded(server, url)
    assert state["complete"]
    assert state["md5"] == hashlib.md5(data).hexdigest() and state["sha256"] == hashlib.sha256(data).hexdigest()


def test_a_second_writer_is_refused_while_the_first_streams(server: dict) -> None:
    data = os.urandom(9 * MiB)
    url = create(server, server["alice"], "two.bin", len(data))
    with socket.create_connection(("127.0.0.1", server["port"])) as sock:
        head = (f"PATCH {url} HTTP/1.1\r\nHost: 127.0.0.1\r\nTus-Resumable: 1.0.0\r\nCookie: {server['alice']}\r\n"
                f"Upload-Offset: 0\r\nContent-Type: application/offset+octet-stream\r\n"
                f"Content-Length: {len(data)}\r\n\r\n").encode()
        sock.sendall(head + data[:2 * MiB])
        time.sleep(0.5)
        second = call(server, "PATCH", url, server["alice"], data[:10], Upload_Offset="0", **OCTETS)
        assert second.status == 409
        sock.sendall(data[2 * MiB:])
        answer = sock.recv(4096)
        assert answer.startswith(b"HTTP/1.1 204") and f"Upload-Offset: {len(data)}".encode() in answer
    state = recorded(server, url)
    assert state["sha256"] == hashlib.sha256(data).hexdigest() and state["md5"] == hashlib.md5(data).hexdigest()
