"""The inspector's web app (Starlette, server-rendered Jinja2 pages).

Pages and actions (every one needs a signed-in member of staff; every POST carries the session's
CSRF token; a tenant the member may not see answers 404, exactly like a caller that does not exist):

    GET  /login, POST /login, POST /logout
    GET  /                                     find a caller by phone, e-mail, account or OAuth subject
    POST /find                                 -> the caller's page (audited: find)
    GET  /t/{tenant}/callers/{caller}          timeline, facts, open matters, identity (audited: view)
    POST /t/{tenant}/callers/{caller}/reveal   the page with one identifier unmasked (audited: reveal)
    POST /t/{tenant}/callers/{caller}/links/{link}/undo                       (audited: undo_link)
    POST /t/{tenant}/callers/{caller}/export   everything about the caller as JSON (audited: export)
    GET  /t/{tenant}/callers/{caller}/forget   the confirmation page
    POST /t/{tenant}/callers/{caller}/forget   delete everything about the caller (audited: forget)
    GET  /audit                                the tenant's audit log

Identifier values never travel in a URL (the search is a POST; a reveal names a token), so the
access log holds tenant and caller ids only. Every read and write goes through the store with the
tenant of the URL, checked against the member's tenant first; on Postgres the database enforces
the tenant again (row-level security).
"""

from __future__ import annotations

import contextlib
import hmac
import json
import logging
import secrets
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import UTC
from importlib import resources
from typing import TYPE_CHECKING, Any

import jinja2
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.middleware.sessions import SessionMiddleware
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route
from starlette.templating import Jinja2Templates

from ..errors import ConfigError, InvalidInputError
from ..values import is_tenant_id
from .auth import StaffAccount, password_matches
from .views import load_caller

if TYPE_CHECKING:
    from .. import CallerStore

__all__ = ["SEARCH_KINDS", "InspectorSettings", "create_app"]

logger = logging.getLogger(__name__)

SEARCH_KINDS: tuple[tuple[str, str], ...] = (
    ("phone", "Phone"),
    ("email", "E-mail"),
    ("account", "Account"),
    ("oauth_sub", "OAuth subject"),
)
SESSION_MAX_AGE_S = 8 * 3600
MAX_FAILED_LOGINS = 5
LOGIN_LOCK_S = 300.0
_DUMMY_DIGEST = "scrypt$16384$8$1$00000000000000000000000000000000$" + "00" * 32


@dataclass(frozen=True)
class InspectorSettings:
    """``secret``: signs the session cookie (at least 32 characters); ``secure_cookies``: send the
    cookie over HTTPS only (on unless the inspector listens on a loopback address)."""

    staff: Mapping[str, StaffAccount]
    secret: str
    secure_cookies: bool = True

    def __post_init__(self) -> None:
        if len(self.secret) < 32:
            raise ConfigError("MEMORY_INSPECTOR_SECRET must be at least 32 characters (e.g. `openssl rand -hex 32`)")
        if not self.staff:
            raise ConfigError("no staff accounts: set MEMORY_INSPECTOR_USERS")


def _templates() -> Jinja2Templates:
    folder = resources.files("memory.inspector") / "templates"
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(folder)),
        autoescape=True,  # every template, whatever its name: caller text is shown as text
        undefined=jinja2.StrictUndefined,
    )
    env.filters["when"] = lambda dt: "" if dt is None else dt.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")
    env.filters["day"] = lambda dt: "" if dt is None else dt.astimezone(UTC).strftime("%a %Y-%m-%d")
    return Jinja2Templates(env=env)


class _Inspector:
    """The routes' shared state: the store, the accounts, the templates, failed logins."""

    def __init__(self, store_factory: Callable[[], Awaitable[CallerStore]], settings: InspectorSettings) -> None:
        self._store_factory = store_factory
        self._store: CallerStore | None = None
        self.settings = settings
        self.templates = _templates()
        self._failures: dict[str, tuple[int, float]] = {}

    @property
    def store(self) -> CallerStore:
        if self._store is None:
            raise HTTPException(503, "the memory store is not open")
        return self._store

    @contextlib.asynccontextmanager
    async def lifespan(self, app: Starlette) -> AsyncIterator[None]:
        self._store = await self._store_factory()
        try:
            yield
        finally:
            store, self._store = self._store, None
            await store.aclose()

    # -- sessions ------------------------------------------------------------------------------

    def staff(self, request: Request) -> StaffAccount | None:
        name = request.session.get("staff")
        account = self.settings.staff.get(name) if isinstance(name, str) else None
        if account is None or not hmac.compare_digest(str(request.session.get("account", "")), self.stamp(account)):
            return None  # an account removed or given a new password since: signed out
        return account

    def stamp(self, account: StaffAccount) -> str:
        """What the session keeps of the account's password digest: a keyed hash of it, so a new password
        signs the account out, and the cookie tells nothing about the password."""
        key = self.settings.secret.encode()
        return hmac.new(key, f"{account.name}\0{account.digest}".encode(), "sha256").hexdigest()[:32]

    @staticmethod
    def csrf_token(request: Request) -> str:
        token = request.session.get("csrf")
        if not isinstance(token, str):
            token = secrets.token_urlsafe(32)
            request.session["csrf"] = token
        return token

    async def form(self, request: Request) -> Mapping[str, Any]:
        """The POSTed form, once its CSRF token matched the session's (403 otherwise)."""
        form = await request.form()
        sent = form.get("csrf")
        expected = request.session.get("csrf")
        if not (isinstance(sent, str) and isinstance(expected, str) and hmac.compare_digest(sent, expected)):
            raise HTTPException(403, "the form expired or did not come from this site; reload the page")
        return form

    def render(self, request: Request, template: str, status: int = 200, **context: Any) -> Response:
        context.setdefault("staff", self.staff(request))
        context.setdefault("flash", request.session.pop("flash", None))
        context["csrf"] = self.csrf_token(request)
        response = self.templates.TemplateResponse(request, template, context, status_code=status)
        response.headers["Cache-Control"] = "no-store"
        return response

    def require(self, request: Request) -> StaffAccount:
        account = self.staff(request)
        if account is None:
            raise _SignIn
        return account

    def tenant(self, request: Request, account: StaffAccount) -> str:
        """The URL's tenant, if the member may see it; 404 otherwise (as for a caller that does not exist)."""
        tenant = request.path_params["tenant"]
        if not is_tenant_id(tenant) or not account.may_see(tenant):
            raise HTTPException(404)
        return tenant

    async def caller(self, request: Request, tenant: str) -> str:
        """The URL's caller as it exists now in the tenant (404 if none)."""
        caller_id = request.path_params["caller"]
        canonical = await self.store.backend.canonical_caller(tenant, caller_id)
        if canonical is None:
            raise HTTPException(404)
        if canonical != caller_id:
            raise _Moved(_caller_url(tenant, canonical))
        return caller_id

    async def audit(
        self, tenant: str, account: StaffAccount, action: str, caller_ref: str = "", detail: str = ""
    ) -> None:
        await self.store.record_audit(tenant, staff=account.name, action=action, caller_ref=caller_ref, detail=detail)
        logger.info("inspector: %s did %s in tenant %s", account.name, action, tenant)

    # -- login throttling ----------------------------------------------------------------------

    def locked(self, name: str) -> bool:
        count, since = self._failures.get(name, (0, 0.0))
        if count >= MAX_FAILED_LOGINS and time.monotonic() - since < LOGIN_LOCK_S:
            return True
        if count >= MAX_FAILED_LOGINS:
            self._failures.pop(name, None)
        return False

    def failed(self, name: str) -> None:
        count, _ = self._failures.get(name, (0, 0.0))
        self._failures[name] = (count + 1, time.monotonic())
        if len(self._failures) > 10_000:  # names tried that are no account: keep the table bounded
            self._failures.clear()


class _SignIn(Exception):
    """The request needs a signed-in member of staff."""


class _Moved(Exception):
    """The caller was linked into another record: go there."""

    def __init__(self, url: str) -> None:
        self.url = url


def _caller_url(tenant: str, caller_id: str) -> str:
    return f"/t/{tenant}/callers/{caller_id}"


def _see_other(url: str) -> RedirectResponse:
    return RedirectResponse(url, status_code=303)


def create_app(store_factory: Callable[[], Awaitable[CallerStore]], settings: InspectorSettings) -> Starlette:
    """The inspector as an ASGI app; ``store_factory`` opens the store when the app starts (and the
    app closes it when it stops)."""
    app_state = _Inspector(store_factory, settings)

    async def login_page(request: Request) -> Response:
        if app_state.staff(request) is not None:
            return _see_other("/")
        return app_state.render(request, "login.html", error=None, name="")

    async def login(request: Request) -> Response:
        form = await app_state.form(request)
        name = str(form.get("name", ""))[:64]
        password = str(form.get("password", ""))[:1024]
        account = settings.staff.get(name)
        if app_state.locked(name):
            return app_state.render(
                request, "login.html", 429, error="Too many attempts; wait a few minutes.", name=name
            )
        # the same scrypt work for an unknown name, so the answer's timing does not tell names apart
        ok = password_matches(password, account.digest if account else _DUMMY_DIGEST) and account is not None
        if not ok or account is None:
            app_state.failed(name)
            logger.info("inspector: a sign-in failed")
            return app_state.render(request, "login.html", 401, error="Wrong name or password.", name=name)
        request.session.clear()
        request.session.update(
            {"staff": account.name, "account": app_state.stamp(account), "csrf": secrets.token_urlsafe(32)}
        )
        logger.info("inspector: %s signed in", account.name)
        return _see_other("/")

    async def logout(request: Request) -> Response:
        await app_state.form(request)
        request.session.clear()
        return _see_other("/login")

    async def home(request: Request) -> Response:
        app_state.require(request)
        return app_state.render(request, "search.html", kinds=SEARCH_KINDS, error=None, kind="phone", tenant="")

    async def find(request: Request) -> Response:
        account = app_state.require(request)
        form = await app_state.form(request)
        kind = str(form.get("kind", ""))
        value = str(form.get("value", ""))
        tenant = account.tenant if not account.all_tenants else str(form.get("tenant", "")).strip()

        def again(error: str, status: int) -> Response:
            return app_state.render(
                request, "search.html", status, kinds=SEARCH_KINDS, error=error, kind=kind, tenant=tenant
            )

        if kind not in dict(SEARCH_KINDS):
            return again("Choose what to search by.", 400)
        if not is_tenant_id(tenant):
            return again("Name the tenant (its id in tenants.yaml).", 400)
        try:
            caller_id = await app_state.store.find_caller(tenant, kind, value)
        except InvalidInputError:
            return again(f"That is not a usable {dict(SEARCH_KINDS)[kind].lower()}.", 400)
        if caller_id is not None:
            caller_id = await app_state.store.backend.canonical_caller(tenant, caller_id) or caller_id
        await app_state.audit(tenant, account, "find", caller_id or "", kind if caller_id else f"{kind}: no match")
        if caller_id is None:
            return again(f"No caller with that {dict(SEARCH_KINDS)[kind].lower()} in tenant {tenant}.", 404)
        return _see_other(_caller_url(tenant, caller_id))

    async def show(request: Request, *, reveal: str | None = None) -> Response:
        account = app_state.require(request)
        tenant = app_state.tenant(request, account)
        caller_id = await app_state.caller(request, tenant)
        view = await load_caller(app_state.store, tenant, caller_id, reveal=reveal)
        revealed = next((i for i in view.identifiers if i.revealed), None)
        if reveal is not None and revealed is None:
            raise HTTPException(404)
        if revealed is not None:
            await app_state.audit(tenant, account, "reveal", caller_id, revealed.kind)
        else:
            await app_state.audit(tenant, account, "view", caller_id)
        return app_state.render(request, "caller.html", caller=view)

    async def caller_page(request: Request) -> Response:
        return await show(request)

    async def reveal(request: Request) -> Response:
        app_state.require(request)
        form = await app_state.form(request)
        return await show(request, reveal=str(form.get("identifier", "")))

    async def undo_link(request: Request) -> Response:
        account = app_state.require(request)
        tenant = app_state.tenant(request, account)
        await app_state.form(request)
        caller_id = await app_state.caller(request, tenant)
        link_id = request.path_params["link"]
        links = {link.link_id: link for link in await app_state.store.links(tenant, caller_id)}
        if link_id not in links:
            raise HTTPException(404)
        await app_state.audit(tenant, account, "undo_link", caller_id, link_id)
        undone = await app_state.store.undo_link(tenant, link_id)
        request.session["flash"] = (
            "The link was undone: the two records are separate again." if undone else ("That link was already undone.")
        )
        return _see_other(_caller_url(tenant, caller_id))

    async def export(request: Request) -> Response:
        account = app_state.require(request)
        tenant = app_state.tenant(request, account)
        await app_state.form(request)
        caller_id = await app_state.caller(request, tenant)
        await app_state.audit(tenant, account, "export", caller_id)
        body = await app_state.store.export_caller(tenant, caller_id)
        return Response(
            json.dumps(body, ensure_ascii=False, indent=2),
            media_type="application/json",
            headers={
                "Content-Disposition": f'attachment; filename="{caller_id}.json"',
                "Cache-Control": "no-store",
            },
        )

    async def forget_page(request: Request) -> Response:
        account = app_state.require(request)
        tenant = app_state.tenant(request, account)
        caller_id = await app_state.caller(request, tenant)
        return app_state.render(request, "forget.html", tenant=tenant, caller_id=caller_id, error=None)

    async def forget(request: Request) -> Response:
        account = app_state.require(request)
        tenant = app_state.tenant(request, account)
        form = await app_state.form(request)
        caller_id = await app_state.caller(request, tenant)
        if form.get("confirm") != "yes":
            return app_state.render(
                request, "forget.html", 400, tenant=tenant, caller_id=caller_id, error="Tick the box to confirm."
            )
        await app_state.audit(tenant, account, "forget", caller_id)
        deleted = await app_state.store.forget_caller(tenant, caller_id)
        request.session["flash"] = f"The caller was forgotten: {deleted} stored rows deleted."
        return _see_other("/")

    async def audit_page(request: Request) -> Response:
        account = app_state.require(request)
        tenant = account.tenant if not account.all_tenants else request.query_params.get("tenant", "").strip()
        entries = await app_state.store.audit_log(tenant, limit=500) if is_tenant_id(tenant) else []
        return app_state.render(request, "audit.html", tenant=tenant, entries=entries)

    async def sign_in_first(request: Request, exc: Exception) -> Response:
        if request.method == "GET":
            return _see_other("/login")
        return Response("sign in first", status_code=401)

    async def moved(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, _Moved)
        return _see_other(exc.url)

    async def http_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, HTTPException)
        message = {404: "Not found.", 403: exc.detail, 503: exc.detail}.get(exc.status_code, "Something went wrong.")
        return app_state.render(request, "error.html", exc.status_code, message=message)

    routes = [
        Route("/login", login_page, methods=["GET"]),
        Route("/login", login, methods=["POST"]),
        Route("/logout", logout, methods=["POST"]),
        Route("/", home, methods=["GET"]),
        Route("/find", find, methods=["POST"]),
        Route("/audit", audit_page, methods=["GET"]),
        Route("/t/{tenant}/callers/{caller}", caller_page, methods=["GET"]),
        Route("/t/{tenant}/callers/{caller}/reveal", reveal, methods=["POST"]),
        Route("/t/{tenant}/callers/{caller}/links/{link}/undo", undo_link, methods=["POST"]),
        Route("/t/{tenant}/callers/{caller}/export", export, methods=["POST"]),
        Route("/t/{tenant}/callers/{caller}/forget", forget_page, methods=["GET"]),
        Route("/t/{tenant}/callers/{caller}/forget", forget, methods=["POST"]),
    ]
    middleware = [
        Middleware(
            SessionMiddleware,
            secret_key=settings.secret,
            session_cookie="memory_inspector",
            max_age=SESSION_MAX_AGE_S,
            same_site="strict",
            https_only=settings.secure_cookies,
        ),
        Middleware(_SecurityHeaders),
    ]
    return Starlette(
        routes=routes,
        middleware=middleware,
        exception_handlers={_SignIn: sign_in_first, _Moved: moved, HTTPException: http_error},
        lifespan=app_state.lifespan,
    )


class _SecurityHeaders:
    """No scripts, no framing, no sniffing: the pages are plain HTML forms."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Any) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                headers += [
                    (b"content-security-policy", b"default-src 'none'; style-src 'unsafe-inline'; img-src 'self'; "
                     b"form-action 'self'; frame-ancestors 'none'; base-uri 'none'"),
                    (b"x-content-type-options", b"nosniff"),
                    (b"x-frame-options", b"DENY"),
                    (b"referrer-policy", b"no-referrer"),
                ]  # fmt: skip
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, send_with_headers)
