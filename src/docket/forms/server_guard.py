"""Voila for ``docket serve``: the request page, its assets and its own kernel's socket, nothing more.

Voila is a Jupyter server underneath, and by default it answers more than one form page needs:
``/api/kernels/<id>`` (a kernel's state, and ``DELETE`` with a self-made ``_xsrf`` cookie),
``/api/kernels/<id>/channels`` (the kernel's websocket, for whoever knows the id),
``/voila/api/shutdown/<id>`` (any kernel, by id), ``/login``, ``/logout``, ``/voila/files/``, every
installed template's static files, and a catch-all that redirects any other path to
``/voila/files/``. A kernel id is unguessable, but it is not a secret: it is in the page, and in
the URLs (``.../channels``, ``.../shutdown``) that a reverse proxy writes to its access log.

:class:`DocketVoila` is Voila with its route table rebuilt from an allow-list of handler classes
(so a route a newer Voila adds is dropped until someone looks at it):

* ``/`` and nothing else renders the page. Each browser gets an ``HttpOnly``, ``SameSite=Strict``
  cookie signed with the server's random secret; the kernel a page starts belongs to that cookie.
* the kernel websocket, ``GET /api/kernels/<id>`` and Voila's shutdown beacon answer only a request carrying the cookie that
  owns the kernel; anything else is a 404, as if the kernel did not exist. Voila's own filter
  still applies on the socket: comm and kernel-info messages only, never code to execute.
* static assets (Voila's, its labextensions, the themes, the configured template's, never another
  template's) are served; a path that climbs (``..``, encoded or not) is a 404.
* every other path, ``/api/...`` included, is a plain 404: no Jupyter REST API, no files, no login.

Memory stays bounded by culling: a page's kernel is shut down when the page is closed (Voila's
``beforeunload`` beacon, which needs the ``_xsrf`` cookie this page handler sets, since a stock
single-notebook Voila never sets one and every beacon is refused), a short grace after its last
websocket closes (a crashed tab, a lost connection), a grace after a page was sent that no
browser ever connected to (a link preview, ``curl``), and by Jupyter's idle culler (configured by ``docket serve``). At most
:attr:`DocketVoila.max_kernels` kernels live at once: beyond that the page answers 503 instead of
starting one more.

``--DocketVoila.desk=True`` (``docket serve --desk``) serves the data manager's notebooks to
signed-in staff instead (see :mod:`docket.forms.desk_auth`): ``/`` is ``review.ipynb`` and
``/dashboard`` is ``dashboard.ipynb`` of the same private folder, ``/sign-in`` and ``/sign-out``
are plain forms, and every page, kernel socket, kernel state and beacon needs a live session: without
one a page is a 303 to ``/sign-in`` and a kernel answers 404, and no kernel is started. The kernel
owner is the session instead of the page cookie, and the kernel a session's page starts gets the
signed-in person's key as ``DOCKET_API_KEY`` in its environment (the server's own environment
holds none), so the notebook acts as that person. Signing out, or a session expiring, shuts that
session's kernels down, so no kernel keeps a key beyond its session.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import secrets
import stat
from typing import Any

from jupyter_core.utils import ensure_async
from jupyter_server.base.handlers import FileFindHandler
from jupyter_server.services.kernels.handlers import KernelHandler
from jupyter_server.utils import url_path_join
from jupyterlab_server.themes_handler import ThemesHandler
from tornado import web
from tornado.ioloop import IOLoop, PeriodicCallback
from tornado.log import access_log, app_log
from traitlets import Bool, Float, Integer, Unicode, default
from voila.app import Voila
from voila.shutdown_kernel_handler import VoilaShutdownKernelHandler
from voila.static_file_handler import MultiStaticFileHandler, TemplateStaticFileHandler
from voila.tornado.handler import TornadoVoilaHandler
from voila.tornado.kernel_websocket_handler import VoilaKernelWebsocketHandler

from docket.errors import Refused
from docket.forms import desk_auth

#: The browser's page cookie: which kernels are this browser's.
OWNER_COOKIE = "docket_page"
#: The desk's session cookie (signed): a random session id, never the key.
DESK_COOKIE = "docket_desk"
#: Environment variables a kernel never inherits from the server: the desk sets the key per person.
KEY_VARIABLE = "DOCKET_API_KEY"
#: How often expired desk sessions are swept (and their kernels shut down), in seconds.
SWEEP_SECONDS = 15
#: Longest key the sign-in form passes on (longer is a wrong key anyway).
MAX_KEY_CHARS = 512
DASHBOARD = "dashboard.ipynb"
KERNEL_ID = r"(?P<kernel_id>[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})"
#: What the page may load scripts, styles and fonts from: this server only (plus inline code, which
#: Voila's template and the widgets use). A stray CDN reference is then refused by the browser,
#: not fetched. Images and connections are not limited (the map's tiles are the operator's choice).
CONTENT_POLICY = "script-src 'self' 'unsafe-inline' 'unsafe-eval' blob:; style-src 'self' 'unsafe-inline'; font-src 'self' data:"
#: A ``<link>`` or ``<script>`` of Voila's template that loads from another host: the lab template
#: fetches Font Awesome's CSS from cdn.jsdelivr.net, which its own voila-style.js bundles already.
FOREIGN_ASSET = re.compile(r"""<(?:link|script)\b[^>]*\b(?:href|src)\s*=\s*["']?(?:https?:)?//[^>]*>(?:\s*</script>)?""",
                           re.IGNORECASE)
BUSY_PAGE = ("<!DOCTYPE html><html><head><meta charset='utf-8'><title>Busy</title></head><body>"
             "<p>Too many forms are open on this server right now. Please try again in a few minutes."
             "</p></body></html>")


class KernelOwners:
    """Which page cookie started which kernel, for the handlers that act on a kernel by id."""

    def __init__(self) -> None:
        self._owner: dict[str, str] = {}

    def bind(self, kernel_id: str, owner: str, live: list[str]) -> None:
        """Record ``owner`` for a new kernel; forget kernels no longer in ``live`` (culled ones)."""
        alive = set(live)
        for gone in [k for k in self._owner if k not in alive]:
            del self._owner[gone]
        self._owner[kernel_id] = owner

    def owns(self, kernel_id: str, owner: str | None) -> bool:
        """Whether ``owner`` started ``kernel_id`` (constant-time compare: the cookie is a secret)."""
        known = self._owner.get(kernel_id)
        if not owner or known is None:
            return False
        return secrets.compare_digest(known.encode(), owner.encode())

    def forget(self, kernel_id: str) -> None:
        self._owner.pop(kernel_id, None)

    def owned_by(self, owner: str) -> list[str]:
        """The kernels ``owner`` started (a desk session's, to shut down when it ends)."""
        return [k for k, o in self._owner.items() if secrets.compare_digest(o.encode(), owner.encode())]


def desk_session(handler: web.RequestHandler) -> tuple[str, desk_auth.Session] | None:
    """The desk session the request's signed cookie names, if it is live: (its id, the session)."""
    raw = handler.get_signed_cookie(DESK_COOKIE, max_age_days=1)
    if not raw:
        return None
    session_id = raw.decode("ascii", "replace")
    session = handler.settings["docket_sessions"].get(session_id)
    return (session_id, session) if session is not None else None


def page_owner(handler: web.RequestHandler) -> str | None:
    """Who owns the request's kernels: on the desk, its live session's id; on the form, its signed
    page cookie. None when the request carries neither."""
    if handler.settings.get("docket_sessions") is not None:
        found = desk_session(handler)
        return found[0] if found else None
    raw = handler.get_signed_cookie(OWNER_COOKIE, max_age_days=2)
    return raw.decode("ascii", "replace") if raw else None


async def end_session_kernels(settings: dict, session_id: str) -> None:
    """Shut down every kernel a desk session started: they hold its key in their environment."""
    manager, owners = settings["kernel_manager"], settings["docket_owners"]
    for kernel_id in owners.owned_by(session_id):
        with contextlib.suppress(KeyError, web.HTTPError):
            await ensure_async(manager.shutdown_kernel(kernel_id))
        owners.forget(kernel_id)


def ensure_sweeper(settings: dict) -> None:
    """Start (once) the timer that ends expired desk sessions and shuts down their kernels."""
    if settings.get("docket_sweeper") is not None:
        return

    async def sweep() -> None:
        for session_id in settings["docket_sessions"].expired():
            await end_session_kernels(settings, session_id)

    timer = PeriodicCallback(lambda: asyncio.ensure_future(sweep()), SWEEP_SECONDS * 1000)
    timer.start()
    settings["docket_sweeper"] = timer


async def reap_if_unconnected(handler: web.RequestHandler, kernel_id: str) -> None:
    """Shut ``kernel_id`` down if no websocket is connected to it (its page is gone)."""
    manager = handler.settings["kernel_manager"]
    with contextlib.suppress(KeyError, web.HTTPError):  # gone already (culled, beacon, shutdown)
        if manager.kernel_model(kernel_id).get("connections", 0) > 0:
            return
        handler.log.info("docket: shutting down kernel %s: no page is connected to it", kernel_id)
        await ensure_async(manager.shutdown_kernel(kernel_id))
    handler.settings["docket_owners"].forget(kernel_id)


def schedule_reap(handler: web.RequestHandler, kernel_id: str, grace: float) -> None:
    """Check ``kernel_id`` again in ``grace`` seconds (a reconnecting page comes back sooner)."""
    IOLoop.current().call_later(grace, lambda: asyncio.ensure_future(reap_if_unconnected(handler, kernel_id)))


def log_request(handler: web.RequestHandler) -> None:
    """Tornado's access log line, without the query string: a page address may carry a secret
    (a provider's link), and secrets never reach a log."""
    status = handler.get_status()
    log = access_log.info if status < 400 else access_log.warning if status < 500 else access_log.error
    log("%d %s %s (%s) %.2fms", status, handler.request.method, handler.request.path,
        handler.request.remote_ip, 1000.0 * handler.request.request_time())


class _PlainErrors:
    """Errors as a short text body: Jupyter's error page template needs a ``static_path`` setting
    that Voila does not define, so every refusal would log a second traceback and lose its body."""

    def write_error(self: Any, status_code: int, **kwargs: Any) -> None:
        self.set_header("Content-Type", "text/plain; charset=utf-8")
        self.finish(f"{status_code}: {self._reason}\n")

    def _request_summary(self: Any) -> str:
        # Used by tornado's error logging; the query string may hold a secret link.
        return f"{self.request.method} {self.request.path} ({self.request.remote_ip})"

    def log_exception(self: Any, typ: Any, value: Any, tb: Any) -> None:
        # Tornado's version also logs the whole request (URI, headers, cookies): none of it here.
        if isinstance(value, web.HTTPError):
            super().log_exception(typ, value, tb)  # one warning line, through _request_summary
        else:
            app_log.error("Uncaught exception %s", self._request_summary(), exc_info=(typ, value, tb))


class _RecordingKernels:
    """The kernel manager as the page handler sees it: ``start_kernel`` also records the owner."""

    def __init__(self, manager: Any, handler: PageHandler) -> None:
        self._manager = manager
        self._handler = handler

    def __getattr__(self, name: str) -> Any:
        return getattr(self._manager, name)

    async def start_kernel(self, **kwargs: Any) -> str:
        kwargs["env"] = self._handler.kernel_environment(dict(kwargs.get("env") or os.environ))
        kernel_id = await ensure_async(self._manager.start_kernel(**kwargs))
        self._handler.kernel_started_for_page(kernel_id)
        return kernel_id


class PageHandler(_PlainErrors, TornadoVoilaHandler):
    """The request page at ``/``: Voila's renderer, with an owner cookie and a cap on kernels."""

    owner: str = ""
    page_kernel: str | None = None

    async def prepare(self) -> None:  # type: ignore[override]
        await super().prepare()
        if self._finished:
            return
        owner = self.claim_owner()
        if owner is None:  # answered already (the desk's sign-in redirect)
            return
        self.owner = owner
        # Voila's beacon posts the _xsrf cookie's value on beforeunload; the stock page never sets
        # that cookie, so every beacon would be refused and closed pages would keep their kernels.
        self.xsrf_token  # noqa: B018  (reading it sets the cookie)
        # Links followed from the page to other sites do not carry its address (and any secret
        # in it); same-origin requests keep theirs, and the beacon keeps its Origin header.
        self.set_header("Referrer-Policy", "same-origin")
        self.set_header("Content-Security-Policy", CONTENT_POLICY)

    def claim_owner(self) -> str | None:
        """The page cookie, set now if the browser has none: whose kernel this page starts."""
        owner = page_owner(self)
        if owner is None:
            owner = secrets.token_urlsafe(32)
            # A session cookie: it lives as long as the browser's pages do.
            self.set_signed_cookie(OWNER_COOKIE, owner, expires_days=None, httponly=True, samesite="Strict",
                                   path=self.base_url)
        return owner

    def kernel_environment(self, env: dict[str, str]) -> dict[str, str]:
        """The environment the page's kernel starts with (the form's: the server's, as Voila built it),
        plus the digest of the page cookie: the kernel accepts only this browser's uploads."""
        from docket.uploads.store import OWNER_VARIABLE, owner_digest

        return {**env, OWNER_VARIABLE: owner_digest(self.owner)}

    @property
    def kernel_manager(self) -> Any:
        return _RecordingKernels(self.settings["kernel_manager"], self)

    def kernel_started_for_page(self, kernel_id: str) -> None:
        manager = self.settings["kernel_manager"]
        self.settings["docket_owners"].bind(kernel_id, self.owner, manager.list_kernel_ids())
        self.settings["docket_starting"].discard(id(self))  # counted among the live kernels now
        self.page_kernel = kernel_id

    @web.authenticated
    async def get(self, path: str | None = None) -> None:
        # Pages still starting their kernel count too, or simultaneous visitors would overshoot.
        starting: set[int] = self.settings["docket_starting"]
        live = len(self.settings["kernel_manager"].list_kernel_ids()) + len(starting)
        if live >= self.settings["docket_max_kernels"]:
            self.set_status(503)
            self.set_header("Retry-After", "60")
            self.set_header("Content-Type", "text/html; charset=utf-8")
            self.finish(BUSY_PAGE)
            return
        starting.add(id(self))
        try:
            await super().get(path)
        finally:
            starting.discard(id(self))

    _body_state = 0  # 0: before <body, 1: inside its tag, 2: prefix written

    def body_prefix(self) -> str:
        """What goes right after ``<body ...>``: a ``<script defer>`` per ``*.js`` file of docket's
        page scripts (:data:`PAGE_STATIC`), in name order, so a page script can be added as a
        file. They are docket's own files, served by this server (never from a CDN)."""
        base = url_path_join(self.base_url, "docket/static/")
        return "".join(f'<script defer src="{base}{name}"></script>' for name in page_scripts())

    def write(self, chunk: Any) -> None:
        """Voila's page with :meth:`body_prefix` right after ``<body ...>``.

        Voila streams its template in pieces, and the ``<body`` tag's attributes arrive split
        over several, so the prefix goes after the first ``>`` that follows ``<body``."""
        if self._body_state < 2 and isinstance(chunk, str):
            chunk = FOREIGN_ASSET.sub("", chunk)  # the head: nothing from another host
            start = 0
            if self._body_state == 0:
                start = chunk.find("<body")
                self._body_state = 1 if start >= 0 else 0
            end = chunk.find(">", start) if self._body_state == 1 else -1
            if end >= 0:
                chunk = chunk[:end + 1] + self.body_prefix() + chunk[end + 1:]
                self._body_state = 2
        super().write(chunk)

    def on_finish(self) -> None:
        # A page rendered but never connected (no JavaScript, a link preview, a tab closed while
        # loading) would otherwise keep its kernel until the idle culler comes round. The grace
        # is generous: a browser connects only once the page's scripts have loaded, which takes
        # seconds on a busy machine.
        if self.page_kernel:
            schedule_reap(self, self.page_kernel, self.settings["docket_unconnected_grace"])

    def on_connection_close(self) -> None:
        super().on_connection_close()
        if self.page_kernel:
            schedule_reap(self, self.page_kernel, self.settings["docket_unconnected_grace"])


class DeskPageHandler(PageHandler):
    """A desk page (review or dashboard): only for a live session, whose key its kernel gets."""

    session: desk_auth.Session | None = None

    def claim_owner(self) -> str | None:
        found = desk_session(self)
        if found is None:
            # No kernel, no notebook: the sign-in page, by a See Other any method follows.
            self.redirect(url_path_join(self.base_url, "sign-in"), status=303)
            return None
        session_id, self.session = found
        self.set_header("Cache-Control", "no-store")
        self.set_header("X-Frame-Options", "DENY")  # no other site frames the decision buttons
        return session_id

    def kernel_environment(self, env: dict[str, str]) -> dict[str, str]:
        if self.session is None:  # unreachable by prepare(); never a kernel without a person
            raise web.HTTPError(403)
        env = {k: v for k, v in env.items() if k != KEY_VARIABLE}
        env[KEY_VARIABLE] = self.session.key
        return env

    def body_prefix(self) -> str:
        """The page's scripts, then the desk bar (who, the pages, sign-out)."""
        bar = ""
        if self.session is not None:
            bar = desk_auth.desk_bar(self.session.member, self.xsrf_form_html(), self.base_url)
        return super().body_prefix() + bar


class _DeskForm(_PlainErrors, web.RequestHandler):
    """The desk's own forms (sign-in, sign-out): plain tornado, ``_xsrf`` checked on every POST."""

    def prepare(self) -> None:
        self.set_header("Cache-Control", "no-store")
        self.set_header("Referrer-Policy", "same-origin")
        self.set_header("X-Frame-Options", "DENY")  # nobody frames the sign-in form to catch a key
        if self.request.method == "POST":
            self.check_xsrf_cookie()  # Voila's settings do not turn tornado's check on

    def page(self, status: int = 200, message: str | None = None, note: str | None = None) -> None:
        self.set_status(status)
        self.set_header("Content-Type", "text/html; charset=utf-8")
        self.finish(desk_auth.sign_in_page(self.xsrf_form_html(), url_path_join(self.base_url, "sign-in"),
                                           message, note))

    @property
    def base_url(self) -> str:
        return self.settings.get("base_url", "/")


class SignInHandler(_DeskForm):
    """``/sign-in``: the form (GET) and the key check (POST); a staff key gets a session."""

    def get(self) -> None:
        if desk_session(self) is not None:
            self.redirect(self.base_url, status=303)
            return
        self.page()

    async def post(self) -> None:
        # A key is ~50 characters; a megabyte of "key" gets no more of argon2 than a real one does.
        key = self.get_body_argument("key", "").strip()[:MAX_KEY_CHARS]
        source = f"desk {self.request.remote_ip}"  # a guesser slows only their own address
        loop = asyncio.get_running_loop()
        try:
            member = await loop.run_in_executor(None, desk_auth.check_staff_key,
                                                self.settings["docket_instance"], key, source)
        except Refused as exc:
            app_log.warning("docket desk: sign-in refused from %s (rule %s)", self.request.remote_ip, exc.rule)
            self.page(403, exc.message)
            return
        previous = desk_session(self)
        if previous is not None:  # signing in again (as someone else): the old session ends here
            self.settings["docket_sessions"].end(previous[0])
            await end_session_kernels(self.settings, previous[0])
        session_id = self.settings["docket_sessions"].start(member, key)
        ensure_sweeper(self.settings)
        # A browser session cookie, signed, for this server's pages only; the table holds the rest.
        self.set_signed_cookie(DESK_COOKIE, session_id, expires_days=None, httponly=True, samesite="Strict",
                               path=self.base_url)
        self.redirect(self.base_url, status=303)


class SignOutHandler(_DeskForm):
    """``/sign-out``: POST ends the session and shuts down its kernels; GET offers the button."""

    def get(self) -> None:
        if desk_session(self) is None:
            self.redirect(url_path_join(self.base_url, "sign-in"), status=303)
            return
        self.set_header("Content-Type", "text/html; charset=utf-8")
        self.finish("<!DOCTYPE html><html><head><meta charset='utf-8'><title>Sign out</title></head><body>"
                    f"<form method='post' action='{url_path_join(self.base_url, 'sign-out')}'>"
                    f"{self.xsrf_form_html()}<button type='submit' class='docket-sign-out'>Sign out</button>"
                    "</form></body></html>")

    async def post(self) -> None:
        found = desk_session(self)
        if found is not None:
            self.settings["docket_sessions"].end(found[0])
            await end_session_kernels(self.settings, found[0])
        self.clear_cookie(DESK_COOKIE, path=self.base_url)
        self.page(note="You are signed out.")


class _OwnKernelOnly(_PlainErrors):
    """For handlers addressing a kernel by id: a 404 unless the request's page cookie owns it."""

    def refuse_unless_owner(self: Any, kernel_id: str) -> None:
        if not self.settings["docket_owners"].owns(kernel_id, page_owner(self)):
            raise web.HTTPError(404)


class OwnKernelWebsocket(_OwnKernelOnly, VoilaKernelWebsocketHandler):
    """The page's kernel websocket, for the page's own browser only."""

    async def get(self, kernel_id: str) -> None:  # type: ignore[override]
        self.refuse_unless_owner(kernel_id)
        self.docket_kernel = kernel_id
        self.docket_owner = page_owner(self)
        await super().get(kernel_id)

    def on_message(self, message: Any) -> Any:
        # On the desk, working in the page (clicks reach the kernel here) keeps the session alive.
        sessions = self.settings.get("docket_sessions")
        if sessions is not None and sessions.get(self.docket_owner) is None:
            self.close()  # signed out or expired: the kernel is being shut down anyway
            return None
        return super().on_message(message)

    def on_close(self) -> None:
        super().on_close()
        schedule_reap(self, self.docket_kernel, self.settings["docket_closed_grace"])


class OwnKernelModel(_OwnKernelOnly, KernelHandler):
    """``GET /api/kernels/<id>`` of the page's own kernel (its JavaScript asks for the kernel's
    state when it connects); no ``DELETE``, no other kernel."""

    SUPPORTED_METHODS = ("GET",)  # type: ignore[assignment]

    async def get(self, kernel_id: str) -> None:  # type: ignore[override]
        self.refuse_unless_owner(kernel_id)
        await super().get(kernel_id)


class OwnKernelShutdown(_OwnKernelOnly, VoilaShutdownKernelHandler):
    """Voila's ``beforeunload`` beacon: shuts down the page's own kernel, nobody else's."""

    async def post(self, kernel_id: str) -> None:  # type: ignore[override]
        self.refuse_unless_owner(kernel_id)
        await super().post(kernel_id)
        self.settings["docket_owners"].forget(kernel_id)


def _climbs(path: str) -> bool:
    parts = re.split(r"[/\\]", path)
    return ".." in parts or path.startswith(("/", "\\"))


class _NoClimbing(_PlainErrors):
    """Static handlers: a path with a ``..`` segment (after URL decoding) is a 404, never a file."""

    async def get(self: Any, path: str, include_body: bool = True) -> None:
        if _climbs(path):
            raise web.HTTPError(404)
        await super().get(path, include_body)  # type: ignore[misc]


class StaticFiles(_NoClimbing, MultiStaticFileHandler):
    pass


class TemplateFiles(_NoClimbing, TemplateStaticFileHandler):
    pass


class LabExtensionFiles(_NoClimbing, FileFindHandler):
    pass


class ThemeFiles(_NoClimbing, ThemesHandler):
    pass


def cookie_secret(path: str) -> bytes:
    """The secret in ``path``, made (32 random bytes, hex, mode 0600) when there is none. A file
    others can read, or not a regular file, is refused: whoever reads it can forge page cookies."""
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
    except FileExistsError:
        pass
    else:
        with os.fdopen(fd, "w", encoding="ascii") as out:
            out.write(secrets.token_hex(32))
    fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW)
    with os.fdopen(fd, "r", encoding="ascii") as handle:
        info = os.fstat(handle.fileno())
        if not stat.S_ISREG(info.st_mode) or info.st_mode & 0o077 or info.st_uid != os.getuid():
            raise ValueError(f"{path}: the page cookies' secret must be a file of this user that nobody else "
                             "can read (chmod 600), or absent (docket serve makes one)")
        value = handle.read(200).strip()
    if not re.fullmatch(r"[0-9a-f]{64}", value):
        raise ValueError(f"{path}: not a secret docket serve wrote (64 hex digits); remove it to make a new one")
    return bytes.fromhex(value)


#: docket's own page scripts and styles (``/docket/static/...``), shipped inside the package.
PAGE_STATIC = os.path.join(os.path.dirname(os.path.abspath(__file__)), "static")


def page_scripts() -> list[str]:
    """The ``*.js`` files of :data:`PAGE_STATIC`, in name order (read once per page: a handful)."""
    try:
        return sorted(n for n in os.listdir(PAGE_STATIC) if n.endswith(".js"))
    except FileNotFoundError:
        return []


class DocketStaticFiles(_NoClimbing, web.StaticFileHandler):
    """docket's page scripts; ``Cache-Control: no-cache`` so an upgrade is seen at the next page."""

    def set_extra_headers(self, path: str) -> None:
        self.set_header("Cache-Control", "no-cache")
        self.set_header("X-Content-Type-Options", "nosniff")


#: Voila's handler classes that the page needs, and what replaces each; every other route is dropped.
KEPT = {
    KernelHandler: OwnKernelModel,
    VoilaKernelWebsocketHandler: OwnKernelWebsocket,
    VoilaShutdownKernelHandler: OwnKernelShutdown,
    MultiStaticFileHandler: StaticFiles,
    FileFindHandler: LabExtensionFiles,
    ThemesHandler: ThemeFiles,
}


class DocketVoila(Voila):
    """Voila serving one notebook, with only the routes the page needs (see the module docstring)."""

    closed_grace = Float(60.0, config=True,
                         help="Seconds a kernel stays after its page's last websocket closed.")
    unconnected_grace = Float(60.0, config=True,
                              help="Seconds a kernel stays after its page was sent if no page ever connects.")
    max_kernels = Integer(40, config=True, help="Kernels (open pages) at most; the page answers 503 beyond.")
    desk = Bool(False, config=True,
                help="Serve the data manager's desk (review, and dashboard.ipynb beside it) to signed-in staff.")
    session_seconds = Integer(1800, config=True,
                              help="Desk sessions end after this many seconds without a request.")
    secret_file = Unicode("", config=True,
                          help="File of the secret that signs the page cookies (made, mode 0600, if missing); "
                               "empty: a new secret at every start.")

    @default("cookie_secret")
    def _secret_from_file(self) -> bytes:
        """The cookie secret, kept in the instance (``docket serve`` names the file) so that a
        browser's page cookie, and so its unfinished uploads, outlive a restart of the server;
        Voila's default draws a new one at every start."""
        if not self.secret_file:
            return os.urandom(32)
        return cookie_secret(self.secret_file)

    def init_settings(self) -> dict:
        if self.voila_configuration.preheat_kernel or self.voila_configuration.progressive_rendering:
            # Both need routes this app drops, and a preheated kernel runs the page before its
            # query string (?id=...) is known.
            raise ValueError("docket serve runs Voila without preheated kernels or progressive rendering")
        settings = super().init_settings()
        settings.update(docket_owners=KernelOwners(), docket_closed_grace=self.closed_grace,
                        docket_unconnected_grace=self.unconnected_grace,
                        docket_max_kernels=self.max_kernels, docket_starting=set(),
                        log_function=log_request, docket_sessions=None)
        if self.desk:
            instance = os.environ.get("DOCKET_INSTANCE")
            if not instance:
                raise ValueError("the desk needs DOCKET_INSTANCE (docket serve --desk sets it)")
            if os.environ.get(KEY_VARIABLE):
                # Every kernel would inherit it: one key for everybody is what the desk must not be.
                raise ValueError(f"the desk server must not have {KEY_VARIABLE} in its environment")
            settings.update(docket_sessions=desk_auth.DeskSessions(self.session_seconds),
                            docket_instance=instance)
        return settings

    def init_handlers(self) -> list:
        if not self.notebook_path:
            raise ValueError("docket serves one notebook; a folder would expose the notebook tree")
        server = self.server_url or self.base_url
        template = re.escape(self.voila_configuration.template)
        routes: list[tuple] = []
        for spec in super().init_handlers():
            pattern, handler, *options = spec
            if handler is TornadoVoilaHandler and self.desk:
                routes += [(url_path_join(server, "/()"), DeskPageHandler, *options),
                           (url_path_join(server, "/sign-in"), SignInHandler),
                           (url_path_join(server, "/sign-out"), SignOutHandler)]
                dashboard = os.path.join(os.path.dirname(self.notebook_path), DASHBOARD)
                if os.path.isfile(dashboard):  # the same folder; loaded by Voila's contents manager
                    page_options = {**options[0], "notebook_path": DASHBOARD}
                    routes.append((url_path_join(server, "/dashboard()"), DeskPageHandler, page_options))
            elif handler is TornadoVoilaHandler:
                routes.append((url_path_join(server, "/()"), PageHandler, *options))
            elif handler is TemplateStaticFileHandler:
                # Only the configured template: the URL must not pick among every installed one.
                routes.append((url_path_join(server, rf"/voila/templates/({template}/static/.*)"), TemplateFiles))
            elif handler is VoilaShutdownKernelHandler:
                routes.append((url_path_join(server, rf"/voila/api/shutdown/{KERNEL_ID}"), OwnKernelShutdown))
            elif handler in KEPT:
                routes.append((pattern, KEPT[handler], *options))
            # Dropped: the login and logout pages,
            # /voila/files/, the preheat and progressive-rendering sockets, the catch-all.
        routes.append((url_path_join(server, "/docket/static/(.*)"), DocketStaticFiles, {"path": PAGE_STATIC}))
        if not self.desk:  # the provider's page: resumable file uploads (tus), owned by the page cookie
            from docket.uploads.handler import upload_routes

            routes += upload_routes(server)
        return routes


def main() -> None:
    """``python -m docket.forms.server_guard NOTEBOOK [Voila options]``, as ``docket serve`` runs it."""
    DocketVoila.launch_instance()


if __name__ == "__main__":
    main()
