"""An unfinished upload outlives a restart of ``docket serve``: the page cookie's secret is kept in
the instance (``keys/serve-page.secret``, mode 0600), so the browser's cookie still names it.

A real server is started, half a file is sent over tus, the server is stopped (SIGTERM, kernels and
all) and started again on the same instance; the same cookie then finds the upload at its offset,
sends the rest, and the checksums are hashlib's. A secret file others can read stops the server
with a message instead of serving forgeable cookies.
"""

from __future__ import annotations

import hashlib
import json
import os
import stat
from pathlib import Path

import pytest

import docket

from .test_serve import serving
from .test_uploads import OCTETS, call, create, page_cookie, staged


def test_an_upload_resumes_after_the_server_restarts(tmp_path: Path) -> None:
    folder = tmp_path / "inst"
    docket.init(folder, project="ocean", base_uri="https://data.example.org/ocean/").close()
    data = os.urandom(200_000)
    with serving(folder) as (base, _proc):
        world = {"port": int(base.rsplit(":", 1)[1]), "folder": folder}
        cookie = page_cookie(world)
        url = create(world, cookie, "profile.csv", len(data))
        first = call(world, "PATCH", url, cookie, data[:80_000], Upload_Offset="0", **OCTETS)
        assert first.status == 204
    secret = folder / "keys" / "serve-page.secret"
    assert stat.S_IMODE(secret.stat().st_mode) == 0o600
    with serving(folder) as (base, _proc):  # a new process: Voila's own default would draw a new secret
        world = {"port": int(base.rsplit(":", 1)[1]), "folder": folder}
        head = call(world, "HEAD", url, cookie)
        assert head.status == 200 and head.getheader("Upload-Offset") == "80000"
        rest = call(world, "PATCH", url, cookie, data[80_000:], Upload_Offset="80000", **OCTETS)
        assert rest.status == 204 and rest.getheader("Upload-Offset") == str(len(data))
        assert call(world, "HEAD", url, page_cookie(world)).status == 404  # another browser: nothing
    state = json.loads((staged(world, url) / ".upload.json").read_text())
    assert state["complete"] and state["sha256"] == hashlib.sha256(data).hexdigest()
    assert state["md5"] == hashlib.md5(data).hexdigest()


def test_a_secret_others_can_read_is_refused(tmp_path: Path) -> None:
    from docket.forms.server_guard import cookie_secret

    secret = tmp_path / "serve-page.secret"
    made = cookie_secret(str(secret))  # made when missing, 0600, and the same when read again
    assert len(made) == 32 and stat.S_IMODE(secret.stat().st_mode) == 0o600 and cookie_secret(str(secret)) == made
    secret.chmod(0o644)
    with pytest.raises(ValueError, match="nobody else can read"):
        cookie_secret(str(secret))
    secret.chmod(0o600)
    secret.write_text("not hex")
    with pytest.raises(ValueError, match="64 hex digits"):
        cookie_secret(str(secret))
