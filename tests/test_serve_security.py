"""``docket serve`` exposes no Jupyter REST API, and culls the kernels of closed and idle pages.

A real ``docket serve`` (Voila, through :mod:`docket.forms.server_guard`) runs on a free port;
the tests ask it over real HTTP and websockets for what a visitor could try, and drive the page in
headless Chromium (Debian's ``chromium``, never downloaded). Live kernels are counted from /proc
(the kernel processes under the server), since the kernels API a count could come from is closed.
"""

from __future__ import annotations

import asyncio
import http.client
import http.cookiejar
import re
import time
import urllib.request
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import docket

from .browser import CHROMIUM, CHROMIUM_ARGS, LOAD_TIMEOUT
from .clirun import docket_cli
from .processes import live_kernels, tree_rss_mib
from .test_serve import free_port, serving

#: Tiny culling times, so that the test sees culling happen (the defaults are 600 s and 60 s).
IDLE, CLOSED = 8, 2
SERVE_TABLE = (f"\n[serve]\ncull_idle_seconds = {IDLE}\ncull_closed_seconds = {CLOSED}\n"
               "cull_unconnected_seconds = 30\nmax_pages = 2\n")
#: Stands for a provider's secret link in a page address: it must never reach the server's log.
SECRET = "s3cr3t-l1nk-t0ken-9f8e7d"
KERNEL_ID = re.compile(r'"kernelId": "([0-9a-f-]{36})"')


# --- the server's processes, from /proc --------------------------------------------------------

def wait_kernels(pid: int, at_most: int, timeout: float) -> tuple[int, float]:
    """Until at most ``at_most`` kernels live under ``pid``: (their number, seconds waited)."""
    start = time.monotonic()
    while True:
        count = live_kernels(pid)
        waited = time.monotonic() - start
        if count <= at_most or waited > timeout:
            return count, waited
        time.sleep(0.25)


# --- HTTP and websockets ---------------------------------------------------------------------

class Visitor:
    """A client with its own cookies (as one browser), fetching the page over real HTTP."""

    def __init__(self, base: str) -> None:
        self.base = base
        self.page = b""  # the last page fetched
        self.jar = http.cookiejar.CookieJar()
        self.opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(self.jar))

    def open_page(self) -> str:
        """Fetch the form page (starting a kernel): that kernel's id."""
        with self.opener.open(self.base + "/", timeout=120) as response:
            self.page = response.read()
            found = KERNEL_ID.search(self.page.decode("utf-8", "replace"))
        assert found, "the page carries its kernel's id"
        return found.group(1)

    def close_page(self, kernel_id: str) -> int:
        """Voila's ``beforeunload`` beacon for ``kernel_id``, with this client's cookies: the status."""
        headers = {"Cookie": self.cookies, "Content-Type": "application/x-www-form-urlencoded"}
        return request(self.base, "POST", f"/voila/api/shutdown/{kernel_id}",
                       f"_xsrf={self.cookie('_xsrf')}".encode(), headers)[0]

    def cookie(self, name: str) -> str:
        return next(c.value for c in self.jar if c.name == name)

    @property
    def cookies(self) -> str:
        return "; ".join(f"{c.name}={c.value}" for c in self.jar)


def request(base: str, method: str, path: str, body: bytes | None = None,
            headers: dict[str, str] | None = None) -> tuple[int, bytes]:
    """One raw HTTP request (the path sent as given: ``..`` and ``%2e`` are not normalised)."""
    host, port = base.removeprefix("http://").split(":")
    connection = http.client.HTTPConnection(host, int(port), timeout=60)
    try:
        connection.request(method, path, body=body, headers=headers or {})
        response = connection.getresponse()
        return response.status, response.read()
    finally:
        connection.close()


async def websocket(base: str, kernel_id: str, cookies: str = "") -> Any:
    """Open the kernel's channels websocket: the open connection, or the HTTP status it was
    refused with."""
    from tornado.httpclient import HTTPClientError, HTTPRequest
    from tornado.websocket import websocket_connect

    url = base.replace("http://", "ws://") + f"/api/kernels/{kernel_id}/channels?session_id={uuid.uuid4()}"
    headers = {"Cookie": cookies} if cookies else {}
    try:
        return await websocket_connect(HTTPRequest(url, headers=headers, connect_timeout=30, request_timeout=90))
    except HTTPClientError as exc:
        return exc.code


async def refused(base: str, kernel_id: str, cookies: str = "") -> int | None:
    """The status a websocket to ``kernel_id`` is refused with, or None if it opened (then closed)."""
    answer = await websocket(base, kernel_id, cookies)
    if isinstance(answer, int):
        return answer
    answer.close()
    return None


# --- fixtures ----------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, int, Path]]:
    """One ``docket serve`` with tiny culling times: (base URL, its process id, its log file)."""
    folder = tmp_path_factory.mktemp("guard") / "inst"
    docket.init(folder, project="ocean").close()
    with open(folder / "docket.toml", "a", encoding="utf-8") as toml:
        toml.write(SERVE_TABLE)
    with serving(folder) as (base, proc):
        yield base, proc.pid, proc.log_path


# Everything a client could try beyond the page: Jupyter's REST API, its pages, files, login,
# other templates' files, and climbing out of the static folders. {kernel} is a live kernel's id.
PROBES = [
    ("GET", "/api"), ("GET", "/api/"), ("GET", "/api/status"), ("GET", "/api/me"),
    ("GET", "/api/kernels"), ("POST", "/api/kernels"), ("GET", "/api/kernels/{kernel}"),
    ("DELETE", "/api/kernels/{kernel}"), ("POST", "/api/kernels/{kernel}/interrupt"),
    ("POST", "/api/kernels/{kernel}/restart"), ("GET", "/api/contents"), ("GET", "/api/contents/request.ipynb"),
    ("GET", "/api/sessions"), ("POST", "/api/sessions"), ("GET", "/api/terminals"), ("POST", "/api/terminals"),
    ("GET", "/api/kernelspecs"), ("GET", "/api/config/notebook"), ("GET", "/tree"), ("GET", "/lab"),
    ("GET", "/notebooks/request.ipynb"), ("GET", "/files/request.ipynb"), ("GET", "/request.ipynb"),
    ("GET", "/voila/files/request.ipynb"), ("GET", "/voila/files/voila.json"), ("GET", "/voila/render/request.ipynb"),
    ("GET", "/voila/tree"), ("GET", "/voila/api/contents"), ("GET", "/voila/query/{kernel}"),
    ("POST", "/voila/api/shutdown/{kernel}"), ("GET", "/nbextensions/"), ("GET", "/login"), ("GET", "/logout"),
    ("GET", "/metrics"), ("GET", "/voila/templates/reveal/static/index.css"),
    ("GET", "/voila/static/../../../../../../../../etc/passwd"),
    ("GET", "/voila/static/%2e%2e/%2e%2e/%2e%2e/%2e%2e/%2e%2e/%2e%2e/%2e%2e/%2e%2e/etc/passwd"),
    ("GET", "/voila/static/..%2f..%2f..%2f..%2f..%2f..%2f..%2f..%2fetc%2fpasswd"),
    ("GET", "/voila/templates/lab/static/../../../../../../../../etc/passwd"),
    ("GET", "/voila/templates/lab/static/%2e%2e/%2e%2e/%2e%2e/%2e%2e/%2e%2e/%2e%2e/etc/passwd"),
    ("GET", "/voila/templates/..%2f..%2f..%2f/static/x"),
    ("GET", "/voila/labextensions/%2e%2e/%2e%2e/%2e%2e/%2e%2e/%2e%2e/%2e%2e/etc/passwd"),
    ("GET", "/voila/api/themes/%2e%2e/%2e%2e/%2e%2e/%2e%2e/%2e%2e/%2e%2e/etc/passwd"),
    ("GET", "/docket/static/../server_guard.py"), ("GET", "/docket/static/%2e%2e/server_guard.py"),
    ("GET", "/docket/static/..%2fserver_guard.py"), ("GET", "/docket/static/%2e%2e/%2e%2e/%2e%2e/%2e%2e/etc/passwd"),
    ("GET", "/docket/static/"), ("GET", "/docket/static/nothing-here.js"),
]


def test_no_jupyter_api_for_anyone(server: tuple[str, int, Path]) -> None:
    """Every probe ends in 403/404 with no kernel, file or notebook in the answer; the page's
    own assets are still served."""
    base, _, log = server
    visitor = Visitor(base)
    kernel = visitor.open_page()  # a live kernel whose id a visitor might have learnt
    answers = {(method, path): request(base, method, path.format(kernel=kernel) + f"?token={SECRET}",
                                       b"" if method != "GET" else None)
               for method, path in PROBES}
    served = {f"{m} {p}": status for (m, p), (status, _) in answers.items() if status not in (403, 404, 405)}
    assert served == {}, f"answered beyond the page: {served}"
    for (method, path), (_, body) in answers.items():
        assert kernel.encode() not in body and b"root:" not in body and b'"cells"' not in body, (method, path)
        assert b"Traceback" not in body, (method, path)
    status, body = request(base, "GET", "/voila/templates/lab/static/voila.js")
    assert status == 200 and len(body) > 1000, "the page's own script must still be served"
    scripts = re.findall(rb'<script defer src="/docket/static/([a-z0-9_.-]+\.js)">', visitor.page)
    assert b"page.js" in scripts, "docket's page scripts go into the page"
    for name in scripts:
        status, body = request(base, "GET", "/docket/static/" + name.decode())
        assert status == 200 and body, f"{name!r} is announced in the page but not served"
    assert visitor.close_page(kernel) == 204, "the probes must not have touched the kernel"
    logged = log.read_text(errors="replace")
    assert "404 GET /api/kernels " in logged, "refusals are logged"
    assert SECRET not in logged, "a query string (where a secret link lives) reached the log"


def test_a_kernel_answers_only_the_page_that_started_it(server: tuple[str, int, Path]) -> None:
    """The websocket, the kernel's state and Voila's shutdown beacon need the page's own cookie;
    at ``max_pages`` live kernels the page is a 503 rather than one kernel more."""
    base, pid, log = server
    assert wait_kernels(pid, 0, 30)[0] == 0, "kernels of the other tests are still alive"
    alice, mallory = Visitor(base), Visitor(base)

    async def scenario() -> None:
        loop = asyncio.get_running_loop()
        # Each page connects at once and stays connected, as the page's JavaScript does (a page
        # that never connects loses its kernel after the closed-page grace).
        kernel = await loop.run_in_executor(None, alice.open_page)
        held = await websocket(base, kernel, alice.cookies)
        assert not isinstance(held, int), f"the page's own websocket was refused ({held})"
        other = await loop.run_in_executor(None, mallory.open_page)
        held_other = await websocket(base, other, mallory.cookies)
        assert not isinstance(held_other, int)
        # max_pages = 2 kernels live: a third visitor is told to come back, no kernel is started.
        status, body = request(base, "GET", f"/?id=ocean-0001&token={SECRET}")
        assert status == 503 and b"try again" in body, "a full server started one kernel more"
        assert SECRET not in log.read_text(errors="replace"), "a page address reached the log"
        assert live_kernels(pid) == 2
        assert await refused(base, kernel) == 404, "a client without the page's cookie reached its kernel"
        assert await refused(base, kernel, mallory.cookies) == 404, "another page's cookie reached the kernel"
        assert await refused(base, other, alice.cookies) == 404
        status, body = request(base, "GET", f"/api/kernels/{kernel}", headers={"Cookie": alice.cookies})
        assert status == 200 and kernel.encode() in body
        assert request(base, "GET", f"/api/kernels/{kernel}", headers={"Cookie": mallory.cookies})[0] == 404
        assert request(base, "DELETE", f"/api/kernels/{kernel}", headers={"Cookie": alice.cookies})[0] in (403, 404, 405)
        assert mallory.close_page(kernel) == 404, "another page shut down a kernel that is not its own"
        assert await refused(base, kernel, alice.cookies) is None, "the kernel must have survived"
        assert alice.close_page(kernel) == 204
        assert await refused(base, kernel, alice.cookies) == 404, "the page's own beacon shuts its kernel down"
        held.close()
        held_other.close()

    asyncio.run(scenario())


@pytest.mark.browser
def test_kernels_of_closed_and_idle_pages_are_culled(server: tuple[str, int, Path]) -> None:
    """Page views in a row in Chromium, each closed: their kernels go within the closed-page grace;
    a page left open and untouched loses its kernel after the idle time. Numbers are printed."""
    if CHROMIUM is None:
        pytest.skip("Debian's chromium is not installed (apt-get install chromium); browser tests need it")
    from playwright.sync_api import sync_playwright

    base, pid, _ = server
    views = 4  # benchmarks/serve_kernels.py shows 50
    assert wait_kernels(pid, 0, 30)[0] == 0, "kernels of the other tests are still alive"
    rss_before = tree_rss_mib(pid)
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        context = browser.new_context()
        try:
            start = time.monotonic()
            peak = 0
            for view in range(views):
                # This server holds max_pages = 2 kernels: a view that comes quicker than the
                # closed-page grace would be told to come back (the 503 tested above).
                wait_kernels(pid, 1, CLOSED + 8)
                page = context.new_page()
                page.goto(f"{base}/?lang=en")
                page.locator(".docket-submit").wait_for(state="visible", timeout=LOAD_TIMEOUT)
                peak = max(peak, live_kernels(pid))
                # Half close as a browser tab does (Voila's beforeunload beacon), half vanish
                # without a word (a crash, a lost connection): both must lose their kernels.
                page.close(run_before_unload=view % 2 == 0)
            elapsed = time.monotonic() - start
            after_views = live_kernels(pid)
            left, waited = wait_kernels(pid, 0, CLOSED + 8)
            assert left == 0, f"{left} kernels of closed pages still alive {waited:.1f} s after the last close"
            assert waited < IDLE, "closed pages must go by the closed-page grace, not the idle culler"
            rss_after = tree_rss_mib(pid)

            page = context.new_page()  # left open, untouched: idle
            page.goto(f"{base}/?lang=en")
            page.locator(".docket-submit").wait_for(state="visible", timeout=LOAD_TIMEOUT)
            kernel = KERNEL_ID.search(page.content()).group(1)
            model = page.request.get(f"{base}/api/kernels/{kernel}").json()  # with the page's own cookie
            assert model["connections"] >= 1, "the open page is connected to its kernel"
            idle_left, idle_waited = wait_kernels(pid, 0, IDLE + IDLE // 2 + 10)
            assert idle_left == 0, f"an idle page kept its kernel for {idle_waited:.0f} s (idle time {IDLE} s)"
            page.close()
        finally:
            context.close()
            browser.close()
    print(f"\n{views} page views in {elapsed:.1f} s; kernels: peak {peak}, right after {after_views}, "
          f"{left} after {waited:.1f} s; server + children RSS {rss_before:.0f} MiB before, "
          f"{rss_after:.0f} MiB after; idle open page culled after {idle_waited:.1f} s")
    assert rss_after < rss_before + 150, "the server's memory grows with pages that are closed"


def test_a_page_no_browser_connects_to_loses_its_kernel(tmp_path: Path) -> None:
    """A page fetched without running its scripts (a link preview, curl) keeps no kernel beyond
    ``cull_unconnected_seconds``, long before the idle culler (600 s by default) would act."""
    folder = tmp_path / "inst"
    docket.init(folder, project="ocean").close()
    with open(folder / "docket.toml", "a", encoding="utf-8") as toml:
        toml.write("\n[serve]\ncull_unconnected_seconds = 2\n")
    with serving(folder) as (base, proc):
        Visitor(base).open_page()
        assert live_kernels(proc.pid) == 1
        left, waited = wait_kernels(proc.pid, 0, 20)
        assert left == 0, f"the kernel of a page nobody connected to lived {waited:.0f} s"


@pytest.mark.parametrize(("table", "named"), [
    ("cull_idle_seconds = 0", "cull_idle_seconds = 0"),
    ("cull_idle_seconds = \"10\"", "cull_idle_seconds = '10'"),
    ("cull_closed_seconds = true", "cull_closed_seconds = True"),
    ("max_pages = -3", "max_pages = -3"),
    ("cull_idle_second = 60", "cull_idle_second: not a setting"),
])
def test_bad_serve_settings_are_named(tmp_path: Path, table: str, named: str) -> None:
    folder = tmp_path / "inst"
    docket.init(folder, project="ocean").close()
    with open(folder / "docket.toml", "a", encoding="utf-8") as toml:
        toml.write(f"\n[serve]\n{table}\n")
    result = docket_cli("serve", "--no-browser", "--port", str(free_port()), instance=folder)
    assert result.code == 2 and named in result.err, result.err
