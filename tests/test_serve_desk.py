"""``docket serve --desk``: the review desk and dashboard, for signed-in staff only, each as themselves.

A real ``docket serve --desk`` runs on a free loopback port, with no key in its environment. The
tests ask it over real HTTP as an anonymous visitor, with a wrong key and with a provider's key
(refused, the key not echoed, no kernel started: kernels are counted from /proc as in
``test_serve_security``), then sign two reviewers in through the form in two headless Chromium
contexts (Debian's ``chromium``, never downloaded): each approves a request by clicking, and the
store records each approval as the reviewer who clicked. The server's log, the pages and the
server's own environment are searched for the keys.
"""

from __future__ import annotations

import html
import http.cookiejar
import os
import re
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

import docket
from docket.forms.desk_auth import MAX_SESSION_SECONDS, STAFF_ONLY, DeskSessions, StaffMember
from docket.people.accounts import REFUSED_KEY
from docket.store import tables

from .browser import CHROMIUM, CHROMIUM_ARGS, LOAD_TIMEOUT
from .conftest import EXAMPLES
from .people import key_for
from .processes import descendants, environment, is_kernel, live_kernels
from .test_desk import desk_requests
from .test_serve import free_port, serving
from .test_serve_security import request, wait_kernels

CLICK_TIMEOUT = 20_000
ANA = ("Ana Reviewer", "ana.reviewer@desk.example.org")
BEN = ("Ben Reviewer", "ben.reviewer@desk.example.org")
XSRF = re.compile(r'name="_xsrf" value="([^"]+)"')


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None  # the 303 itself is what the tests look at


class Client:
    """One browser's cookies over plain HTTP, redirects not followed."""

    def __init__(self, base: str) -> None:
        self.base = base
        self.jar = http.cookiejar.CookieJar()
        self.opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(self.jar), _NoRedirect)

    def call(self, path: str, form: dict[str, str] | None = None) -> tuple[int, dict[str, str], str]:
        data = urllib.parse.urlencode(form).encode() if form is not None else None
        try:
            with self.opener.open(self.base + path, data=data, timeout=120) as response:
                return response.status, dict(response.headers), response.read().decode("utf-8", "replace")
        except urllib.error.HTTPError as exc:
            return exc.code, dict(exc.headers), exc.read().decode("utf-8", "replace")

    def sign_in(self, key: str) -> tuple[int, dict[str, str], str]:
        """The sign-in form fetched (for its ``_xsrf``), then posted with ``key``."""
        status, _, body = self.call("/sign-in")
        assert status == 200 and "docket-sign-in" in body
        return self.call("/sign-in", {"_xsrf": XSRF.search(body).group(1), "key": key})


@pytest.fixture(scope="module")
def desk(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    """An instance with three submitted requests, two reviewers and a provider with keys, and
    ``docket serve --desk`` running on it."""
    root = tmp_path_factory.mktemp("desk") / "inst"
    with docket.init(root, project="ocean", base_uri="https://data.example.org/ocean/",
                     local_roots=["inbox", str(EXAMPLES)]) as d:
        ids = desk_requests(d)
        keys = {"ana": key_for(d, "reviewer", *ANA), "ben": key_for(d, "reviewer", *BEN),
                "provider": key_for(d, "provider", "Pia Provider", "pia@provider.example.org")}
    with open(root / "docket.toml", "a", encoding="utf-8") as toml:  # closed pages go quickly
        toml.write("\n[serve]\ncull_closed_seconds = 2\ncull_unconnected_seconds = 20\n")
    with serving(root, "--desk") as (base, proc):
        yield {"root": root, "ids": ids, "keys": keys, "base": base, "pid": proc.pid, "log": proc.log_path}


def logged(desk: dict[str, Any]) -> str:
    return desk["log"].read_text(errors="replace")


def test_anonymous_visitors_get_the_sign_in_page_and_no_kernel(desk: dict[str, Any]) -> None:
    base, pid = desk["base"], desk["pid"]
    visitor = Client(base)
    for path in ("/", "/dashboard", "/?id=ocean-0001"):
        status, headers, body = visitor.call(path)
        assert status == 303 and headers["Location"] == "/sign-in", (path, status)
        assert "kernelId" not in body and "docket-open" not in body
    # A made-up or tampered session cookie is no session.
    for cookie in ("docket_desk=abc", 'docket_desk="2|1:0|10:1796077565|11:docket_desk|4:YWJj|00"'):
        assert request(base, "GET", "/", headers={"Cookie": cookie})[0] == 303
    with urllib.request.urlopen(base + "/dashboard", timeout=60) as followed:  # as a browser follows it
        page = followed.read().decode()
    assert followed.url.endswith("/sign-in") and "<form class='docket-sign-in' method='post'" in page
    # The Jupyter API stays closed on the desk too; signing out without a session is harmless.
    for method, path in (("GET", "/api/kernels"), ("POST", "/api/kernels"), ("GET", "/api/contents"),
                         ("GET", "/voila/render/dashboard.ipynb"), ("GET", "/dashboard.ipynb")):
        assert request(base, method, path, b"" if method == "POST" else None)[0] in (403, 404, 405), path
    assert live_kernels(pid) == 0, "a page started a kernel for an anonymous visitor"


def test_wrong_and_provider_keys_are_refused_and_not_echoed(desk: dict[str, Any]) -> None:
    base, pid, root = desk["base"], desk["pid"], desk["root"]
    wrong = "dk_" + "x" * 40
    client = Client(base)
    status, headers, body = client.sign_in(wrong)
    assert status == 403 and html.escape(REFUSED_KEY) in body and wrong not in body
    assert "docket_desk" not in headers.get("Set-Cookie", "")
    provider = desk["keys"]["provider"]
    status, headers, body = client.sign_in(provider)
    assert status == 403 and html.escape(STAFF_ONLY) in body and "staff-only" in body and provider not in body
    assert "docket_desk" not in headers.get("Set-Cookie", "")
    assert client.call("/")[0] == 303, "a refused key still opened the desk"
    # A key posted without the form's _xsrf (a cross-site post) is not even looked at.
    assert request(base, "POST", "/sign-in", urllib.parse.urlencode({"key": desk["keys"]["ana"]}).encode(),
                   {"Content-Type": "application/x-www-form-urlencoded"})[0] == 403
    assert live_kernels(pid) == 0
    # Failures are counted for this browser's address, not for the server as a whole.
    with docket.open(root) as d, d.store.connect() as conn:
        sources = {r.source: r.failures for r in conn.execute(select(tables.auth_failures))}
    assert sources.get("desk 127.0.0.1", 0) >= 1, sources
    assert wrong not in logged(desk) and provider not in logged(desk)
    assert "403 POST /sign-in" in logged(desk) and "sign-in refused from 127.0.0.1 (rule staff-only)" in logged(desk)


def kernel_keys(pid: int) -> list[str | None]:
    """``DOCKET_API_KEY`` of each kernel process under the server, from /proc."""
    keys = [environment(p).get(b"DOCKET_API_KEY") for p in descendants(pid) if is_kernel(p)]
    return [key.decode() if key is not None else None for key in keys]


def server_env_keys(pid: int) -> list[bytes]:
    """``DOCKET_API_KEY`` entries in the environment of docket serve and Voila (not the kernels)."""
    held = [environment(p).get(b"DOCKET_API_KEY") for p in descendants(pid) if not is_kernel(p)]
    return [b"DOCKET_API_KEY=" + key for key in held if key is not None]


def approve_in_browser(page: Any, base: str, key: str, request_id: str, who: tuple[str, str]) -> None:
    """Sign in through the form with ``key``, open ``request_id`` from the queue and approve it."""
    page.goto(base + "/dashboard")  # any desk page: the sign-in form first
    page.wait_for_url(re.compile(r".*/sign-in$"))
    page.fill("#docket-key", key)
    page.click(".docket-sign-in-button")
    page.wait_for_selector(f".docket-open-{request_id}", state="visible", timeout=LOAD_TIMEOUT)
    assert page.url == base + "/"
    assert who[1] in page.locator(".docket-desk-who").inner_text()
    assert who[0] in page.locator(".docket-signed-in").inner_text(), "the kernel is not signed in as them"
    page.click(f".docket-open-{request_id}")
    page.locator(f".docket-request-view[data-ref^='{request_id}.']").wait_for(timeout=CLICK_TIMEOUT)
    page.click(".docket-action-approved")
    page.locator(".docket-desk-ok", has_text="approved").wait_for(timeout=CLICK_TIMEOUT)


def decision(root: Path, request_id: str) -> tuple[str, str]:
    with docket.open(root) as d:
        review = [h for h in d.history(request_id) if h["kind"] == "review"][-1]
        return review["to"], review["actor"]


@pytest.mark.browser
def test_two_reviewers_sign_in_and_each_approves_as_themselves(desk: dict[str, Any]) -> None:
    if CHROMIUM is None:
        pytest.skip("Debian's chromium is not installed (apt-get install chromium); browser tests need it")
    sync_api = pytest.importorskip("playwright.sync_api", reason="the playwright Python package is not installed")
    base, pid, root, ids, keys = desk["base"], desk["pid"], desk["root"], desk["ids"], desk["keys"]
    assert server_env_keys(pid) == [], "the server holds a key every kernel would inherit"
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            ana = browser.new_context(viewport={"width": 1200, "height": 1000}).new_page()
            ben = browser.new_context(viewport={"width": 1200, "height": 1000}).new_page()
            approve_in_browser(ana, base, keys["ana"], ids["ctd"], ANA)
            assert decision(root, ids["ctd"]) == ("approved", ANA[1])
            approve_in_browser(ben, base, keys["ben"], ids["soil"], BEN)
            assert decision(root, ids["soil"]) == ("approved", BEN[1])
            assert decision(root, ids["ctd"]) == ("approved", ANA[1])
            # Each kernel holds its own person's key, and no other.
            assert sorted(kernel_keys(pid)) == sorted([keys["ana"], keys["ben"]])
            cookie = next(c for c in ana.context.cookies() if c["name"] == "docket_desk")
            assert cookie["httpOnly"] and cookie["sameSite"] == "Strict" and cookie["expires"] == -1
            for page in (ana, ben):
                html = page.content()
                assert keys["ana"] not in html and keys["ben"] not in html

            # Ana signs out: her session and her kernel end; Ben's go on.
            ana.click(".docket-desk-bar .docket-sign-out")
            ana.locator(".docket-sign-in-note", has_text="signed out").wait_for(timeout=CLICK_TIMEOUT)
            deadline = time.monotonic() + 10
            while kernel_keys(pid) != [keys["ben"]] and time.monotonic() < deadline:
                time.sleep(0.2)
            assert kernel_keys(pid) == [keys["ben"]], "the signed-out session's kernel (and key) lives on"
            ana.goto(base + "/")
            ana.wait_for_url(re.compile(r".*/sign-in$"))
            assert ana.locator(".docket-sign-in").count() == 1
            status = ana.request.get(base + "/", max_redirects=0).status
            assert status == 303
            assert ben.request.get(base + "/sign-in", max_redirects=0).status == 303, "Ben was signed out too"
            ben.goto(base + "/dashboard")
            ben.get_by_text("The ingest desk at a glance").wait_for(timeout=LOAD_TIMEOUT)
            assert BEN[1] in ben.locator(".docket-desk-who").inner_text()
        finally:
            browser.close()
    left, _ = wait_kernels(pid, 0, 30)  # closed pages lose their kernels as on the form
    assert left == 0
    log = logged(desk)
    assert log.strip() and all(k not in log for k in keys.values()), "a key reached the server's log"


def test_sessions_end_when_idle_at_their_longest_and_on_sign_out() -> None:
    """The session table alone, on a clock the test turns: idle time, the absolute cap, sign-out."""
    now = [1000.0]
    sessions = DeskSessions(60, clock=lambda: now[0])
    member = StaffMember("Ana Reviewer", "reviewer", ANA[1])
    first, second = sessions.start(member, "k1"), sessions.start(member, "k2")
    assert first != second and sessions.get(first).key == "k1" and sessions.get("made-up") is None
    assert "k1" not in repr(sessions.get(first)), "a session's repr shows its key"
    now[0] += 50
    assert sessions.get(first) is not None  # activity: idle time starts again
    now[0] += 50
    assert sessions.get(second) is None, "an idle session is still live"
    assert sessions.expired() == [second] and len(sessions) == 1
    for _ in range(MAX_SESSION_SECONDS // 50 + 1):  # busy all the time, yet capped
        now[0] += 50
        sessions.get(first)
    assert sessions.get(first) is None and sessions.expired() == [first]
    third = sessions.start(member, "k3")
    assert sessions.end(third) and sessions.get(third) is None and not sessions.end(third)


def test_the_desk_server_refuses_to_start_with_a_key_in_its_environment(tmp_path: Path) -> None:
    """A key in the server's environment would be every kernel's: the guard will not run with one
    (``docket serve --desk`` removes the caller's before starting it)."""
    page = tmp_path / "review.ipynb"
    page.write_text((Path(__file__).resolve().parent.parent / "notebooks" / "review.ipynb").read_text())
    env = {k: v for k, v in os.environ.items() if not k.startswith("DOCKET_")}
    env.update(DOCKET_INSTANCE=str(tmp_path), DOCKET_API_KEY="dk_shared_by_everybody")
    done = subprocess.run([sys.executable, "-m", "docket.forms.server_guard", str(page), "--no-browser",
                           f"--port={free_port()}", "--Voila.ip=127.0.0.1", "--DocketVoila.desk=True",
                           "--VoilaConfiguration.preheat_kernel=False"],
                          env=env, cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert done.returncode != 0 and "must not have DOCKET_API_KEY" in done.stderr, done.stderr[-2000:]
    assert "dk_shared_by_everybody" not in done.stderr + done.stdout
