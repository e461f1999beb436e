"""The inspector over HTTP against a real server (uvicorn) and a real store: sign-in, tenant scoping
by URL, CSRF on every action, escaping of caller text, masking and the audit log. The browser test
(tests/test_inspector_browser.py) drives the same app in headless Chromium."""

from __future__ import annotations

import json
import re
import threading
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import aiohttp
import pytest
import uvicorn
import yarl

import memory
from memory.errors import ConfigError
from memory.inspector import InspectorSettings, create_app, hash_password, load_staff
from memory.inspector.auth import StaffAccount, password_matches

T0 = datetime(2026, 3, 2, 15, 0, tzinfo=UTC)
SECRET = "test-secret-" + "x" * 32
PASSWORDS = {"ann": "ann-pass-1", "bob": "bob-pass-2", "root": "root-pass-3"}
SCRIPT = "<script>document.title='pwned'</script><b>bold</b>"


@dataclass
class Seeded:
    tenant: str
    other_tenant: str
    caller: str  # Dana, with two calls, a link, facts and an open matter
    provisional: str  # the record of Dana's second phone, linked into ``caller``
    stranger: str  # a caller of the other tenant
    link_id: str


async def seed(store: memory.CallerStore, tenant: str = "", other: str = "") -> Seeded:
    """Made-up callers of two tenants (of this test alone unless named), recorded as the worker records calls."""
    tenant, other = tenant or f"acme-{uuid.uuid4().hex[:8]}", other or f"globex-{uuid.uuid4().hex[:8]}"
    first = await store.open_call(tenant, {"phone": "+1 (415) 555-0142"}, started_at=T0)
    for i, (role, text) in enumerate(
        [
            ("assistant", "Thanks for calling Acme Telecom, how can I help?"),
            ("user", "Hi, my name is Dana Reyes. I was charged twice on my November bill, forty two dollars ten."),
            ("user", "My account number is eight eight one two three. My address is 12 Oak Street."),
            ("user", f"Also my router shows this on its screen: {SCRIPT}"),
            ("assistant", "I've submitted a refund of $42.10 under ticket 8842, you should see it by Friday."),
            ("user", "Okay, great, thanks."),
        ]
    ):
        first.record_turn(role, text, at=T0 + timedelta(seconds=10 * i))
    await first.aclose()
    later = T0 + timedelta(days=3)
    second = await store.open_call(tenant, {"phone": "+1 415 555 0199"}, started_at=later)
    provisional = second.caller_id
    for i, (role, text) in enumerate(
        [
            ("user", "Hi, this is Dana Reyes, my account number is 88123. It's about my refund."),
            ("assistant", "Thanks Dana, the refund of $42.10 under ticket 8842 went out yesterday."),
            ("user", "Good. Also I moved, my new address is 40 Pine Road."),
            ("assistant", "I've updated your address to 40 Pine Road."),
        ]
    ):
        second.record_turn(role, text, at=later + timedelta(seconds=10 * i))
    await second.aclose()
    stranger = await store.open_call(other, {"phone": "+44 20 7946 0958"}, started_at=T0)
    stranger.record_turn("user", "Hello, this is Sam Patel, my parcel never arrived.", at=T0)
    await stranger.aclose()
    caller = first.caller_id
    [link] = [x for x in await store.links(tenant, caller) if x.undone_at is None]
    assert second.caller_id == caller and link.from_caller_id == provisional
    return Seeded(tenant, other, caller, provisional, stranger.caller_id, link.link_id)


def staff_env(seeded: Seeded) -> dict[str, str]:
    users = [
        f"ann:{seeded.tenant}:{hash_password(PASSWORDS['ann'])}",
        f"bob:{seeded.other_tenant}:{hash_password(PASSWORDS['bob'])}",
        f"root:*:{hash_password(PASSWORDS['root'])}",
    ]
    return {"MEMORY_INSPECTOR_USERS": ",\n".join(users)}


class Served:
    """The inspector on a real uvicorn server in a thread of its own (its own event loop and store)."""

    def __init__(self, url: str, redis_url: str | None, embedder, staff: dict[str, StaffAccount]) -> None:
        async def open_store() -> memory.CallerStore:
            return await memory.open_store(url, redis_url=redis_url, embedder=embedder, spool_path=None)

        app = create_app(open_store, InspectorSettings(staff=staff, secret=SECRET, secure_cookies=False))
        self.server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=0, log_level="warning"))
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    def __enter__(self) -> Served:
        self.thread.start()
        for _ in range(300):
            if self.server.started:
                break
            if not self.thread.is_alive():
                raise AssertionError("the inspector did not start")
            threading.Event().wait(0.05)
        else:
            raise AssertionError("the inspector did not start within 15 s")
        port = self.server.servers[0].sockets[0].getsockname()[1]
        self.base = f"http://127.0.0.1:{port}"
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.should_exit = True
        self.thread.join(10)


@pytest.fixture
async def inspector(database_url, embedder):
    url = database_url
    store = await memory.open_store(url, embedder=embedder, spool_path=None)
    try:
        seeded = await seed(store)
    finally:
        await store.aclose()
    with Served(url, None, embedder, load_staff(staff_env(seeded))) as served:
        served.seeded = seeded  # type: ignore[attr-defined]
        served.url = url  # type: ignore[attr-defined]
        yield served


def _csrf(html: str) -> str:
    match = re.search(r'name="csrf" value="([^"]+)"', html)
    assert match, "no CSRF token on the page"
    return match.group(1)


class Client:
    """A member of staff's browser, as far as HTTP goes: cookies, and the CSRF token of the last page."""

    def __init__(self, base: str) -> None:
        self.base = base
        self.http = aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True))
        self.csrf = ""

    async def get(self, path: str, **kw) -> tuple[int, str]:
        async with self.http.get(self.base + path, allow_redirects=kw.pop("follow", True), **kw) as r:
            text = await r.text()
            if 'name="csrf"' in text:
                self.csrf = _csrf(text)
            return r.status, text

    async def post(self, path: str, data: dict[str, str] | None = None, *, csrf: bool = True, follow: bool = True):
        form = dict(data or {})
        if csrf:
            form["csrf"] = self.csrf
        async with self.http.post(self.base + path, data=form, allow_redirects=follow) as r:
            text = await r.text()
            if 'name="csrf"' in text:
                self.csrf = _csrf(text)
            return r.status, text, r

    async def sign_in(self, name: str) -> None:
        await self.get("/login")
        status, text, _ = await self.post("/login", {"name": name, "password": PASSWORDS[name]})
        assert status == 200 and "Find a caller" in text and name in text, text[:500]

    async def close(self) -> None:
        await self.http.close()


@pytest.fixture
async def client(inspector):
    c = Client(inspector.base)
    yield c
    await c.close()


def caller_path(seeded: Seeded, caller: str | None = None, tenant: str | None = None) -> str:
    return f"/t/{tenant or seeded.tenant}/callers/{caller or seeded.caller}"


async def audit(url: str, embedder, tenant: str) -> list:
    store = await memory.open_store(url, embedder=embedder, spool_path=None)
    try:
        return await store.audit_log(tenant)
    finally:
        await store.aclose()


# -- tests ---------------------------------------------------------------------------------------


def test_staff_accounts_come_from_the_environment_with_scrypt_digests():
    digest = hash_password("s3cret!")
    assert digest.startswith("scrypt$16384$8$1$") and "s3cret" not in digest
    assert password_matches("s3cret!", digest) and not password_matches("s3cret", digest)
    assert not password_matches("s3cret!", "plain-text-password")
    staff = load_staff({"MEMORY_INSPECTOR_USERS": f"ann:acme-telecom:{digest} root:*:{digest}"})
    assert staff["ann"].may_see("acme-telecom") and not staff["ann"].may_see("globex")
    assert staff["root"].may_see("globex") and staff["root"].all_tenants
    for bad in ("", "ann:acme-telecom:plaintext", "ann:Bad Tenant!:" + digest, f"ann:a:{digest},ann:b:{digest}"):
        with pytest.raises(ConfigError) as err:
            load_staff({"MEMORY_INSPECTOR_USERS": bad})
        assert "plaintext" not in str(err.value) and digest not in str(err.value)
    with pytest.raises(ConfigError):
        InspectorSettings(staff=staff, secret="short")


async def test_pages_need_a_signed_in_member_of_staff(inspector, client):
    seeded = inspector.seeded
    status, text = await client.get(caller_path(seeded))
    assert status == 200 and "Sign in" in text and "Dana" not in text  # redirected to the sign-in page
    await client.get("/login")
    status, text, _ = await client.post("/login", {"name": "ann", "password": "wrong"})
    assert status == 401 and "Wrong name or password" in text
    status, text, _ = await client.post("/login", {"name": "nobody", "password": "x"})
    assert status == 401
    status, _, _ = await client.post(caller_path(seeded) + "/export", {})
    assert status == 401


async def test_find_by_a_phone_in_another_format_and_see_the_timeline(inspector, client, embedder):
    seeded = inspector.seeded
    await client.sign_in("ann")
    status, text, response = await client.post("/find", {"kind": "phone", "value": "415.555.0142"})
    assert status == 200 and str(response.url).endswith(caller_path(seeded))
    assert "Dana Reyes" in text
    assert "12 Oak Street" in text and "40 Pine Road" in text  # the former and the current address
    assert text.index("40 Pine Road") < text.index("12 Oak Street")  # current first
    assert "ticket 8842" in text and "by Friday" in text  # evidence turns and the open matter
    assert text.index(T0.strftime("%Y-%m-%d") + " 15:00 UTC") > text.index("2026-03-05 15:00 UTC")  # newest first
    assert "+14155550142" not in text and "•••0142" in text  # masked until revealed
    assert "verified by name" in text and "said aloud" in text and "on the line" in text
    entries = await audit(inspector.url, embedder, seeded.tenant)
    assert [(e.staff, e.action, e.caller_ref, e.detail) for e in reversed(entries)] == [
        ("ann", "find", seeded.caller, "phone"),
        ("ann", "view", seeded.caller, ""),
    ]


async def test_caller_text_is_escaped_and_scripts_are_refused(inspector, client):
    await client.sign_in("ann")
    async with client.http.get(client.base + caller_path(inspector.seeded)) as r:
        text = await r.text()
        csp = r.headers["Content-Security-Policy"]
    assert "<script>document.title" not in text and "<b>bold</b>" not in text
    assert "&lt;script&gt;document.title=&#39;pwned&#39;&lt;/script&gt;&lt;b&gt;bold&lt;/b&gt;" in text
    assert "default-src 'none'" in csp and "script-src" not in csp  # no script may run at all
    assert r.headers["X-Frame-Options"] == "DENY"


async def test_every_action_needs_the_sessions_csrf_token(inspector, client, embedder):
    seeded = inspector.seeded
    await client.sign_in("ann")
    await client.get(caller_path(seeded))
    path = caller_path(seeded)
    for action, data in (
        ("/export", {}),
        ("/forget", {"confirm": "yes"}),
        (f"/links/{seeded.link_id}/undo", {}),
        ("/reveal", {"identifier": "x"}),
    ):
        status, text, _ = await client.post(path + action, data, csrf=False)
        assert status == 403, action
        status, text, _ = await client.post(path + action, {**data, "csrf": "forged"}, csrf=False)
        assert status == 403, action
    status, _, _ = await client.post("/find", {"kind": "phone", "value": "+14155550142"}, csrf=False)
    assert status == 403
    status, text = await client.get(path)
    assert status == 200 and "Dana Reyes" in text and "Undo link" in text  # nothing was done
    assert {e.action for e in await audit(inspector.url, embedder, seeded.tenant)} == {"view"}


async def test_reveal_shows_one_value_and_is_audited(inspector, client, embedder):
    seeded = inspector.seeded
    await client.sign_in("ann")
    status, text = await client.get(caller_path(seeded))
    tokens = re.findall(r'name="identifier" value="([0-9a-f]+)"', text)
    assert len(tokens) >= 3  # two phones and the account
    status, text, _ = await client.post(caller_path(seeded) + "/reveal", {"identifier": tokens[0]})
    assert status == 200 and "revealed (audited)" in text
    assert text.count("revealed (audited)") == 1
    entries = await audit(inspector.url, embedder, seeded.tenant)
    assert entries[0].action == "reveal" and entries[0].detail in ("phone", "account")
    full = {"+14155550142", "+14155550199", "88123"}
    assert len([v for v in full if f">{v}</td>" in text]) == 1  # one value shown, the others masked
    assert "+1415" not in entries[0].detail and "88123" not in entries[0].detail
    status, _, _ = await client.post(caller_path(seeded) + "/reveal", {"identifier": "not-a-token"})
    assert status == 404


async def test_another_tenants_staff_cannot_reach_the_caller_by_any_url(inspector, client, embedder):
    seeded = inspector.seeded
    await client.sign_in("bob")
    path = caller_path(seeded)
    for method, suffix in (
        ("GET", ""),
        ("GET", "/forget"),
        ("POST", "/export"),
        ("POST", "/forget"),
        ("POST", "/reveal"),
        ("POST", f"/links/{seeded.link_id}/undo"),
    ):
        if method == "GET":
            status, text = await client.get(path + suffix)
        else:
            await client.get("/")
            status, text, _ = await client.post(path + suffix, {"confirm": "yes", "identifier": "x"})
        assert status == 404, (method, suffix)
        assert "Dana" not in text and "8842" not in text
    # the caller id under bob's own tenant: not there either (the store scopes by tenant)
    status, text = await client.get(caller_path(seeded, tenant=seeded.other_tenant))
    assert status == 404 and "Dana" not in text
    await client.get("/")
    status, text, _ = await client.post("/find", {"kind": "phone", "value": "+1 415 555 0142", "tenant": seeded.tenant})
    assert status == 404 and "Dana" not in text  # the search runs in bob's tenant, whatever the form says
    status, text = await client.get(f"/audit?tenant={seeded.tenant}")
    assert seeded.caller not in text
    status, text = await client.get(caller_path(seeded, seeded.stranger, seeded.other_tenant))
    assert status == 200 and "Sam Patel" in text  # bob's own caller
    entries = await audit(inspector.url, embedder, seeded.tenant)
    assert all(e.staff != "bob" for e in entries)


async def test_staff_of_every_tenant_names_the_tenant(inspector, client):
    seeded = inspector.seeded
    await client.sign_in("root")
    status, text, _response = await client.post(
        "/find", {"kind": "email", "value": "nobody@example.net", "tenant": seeded.tenant}
    )
    assert status == 404 and "No caller" in text
    status, text, _ = await client.post("/find", {"kind": "account", "value": "88-123", "tenant": seeded.tenant})
    assert status == 200 and "Dana Reyes" in text
    status, text = await client.get(caller_path(seeded, seeded.stranger, seeded.other_tenant))
    assert status == 200 and "Sam Patel" in text
    status, text = await client.get(f"/audit?tenant={seeded.tenant}")
    assert "find" in text and "account" in text and "nobody@example.net" not in text


async def test_undo_export_and_forget(inspector, client, embedder):
    seeded = inspector.seeded
    await client.sign_in("ann")
    path = caller_path(seeded)
    await client.get(path)
    status, text, _ = await client.post(path + f"/links/{seeded.link_id}/undo")
    assert status == 200 and "The link was undone" in text and "undone 20" in text
    assert "40 Pine Road" not in text  # the second call went back to its own record
    status, text = await client.get(caller_path(seeded, seeded.provisional))
    assert status == 200 and "40 Pine Road" in text
    status, body, response = await client.post(path + "/export")
    assert status == 200 and response.headers["Content-Type"].startswith("application/json")
    assert "attachment" in response.headers["Content-Disposition"]
    exported = json.loads(body)
    assert exported["caller_id"] == seeded.caller and exported["tenant"] == seeded.tenant
    assert any(SCRIPT in row["text"] for row in exported["tables"]["memories"])
    status, text = await client.get(path + "/forget")
    assert "Forget this caller?" in text
    status, text, _ = await client.post(path + "/forget", {})
    assert status == 400 and "Tick the box" in text
    status, text, _ = await client.post(path + "/forget", {"confirm": "yes"})
    assert status == 200 and "The caller was forgotten" in text
    status, text = await client.get(path)
    assert status == 404
    await client.get("/")
    status, text, _ = await client.post("/find", {"kind": "phone", "value": "+1 415 555 0142"})
    assert status == 404
    entries = await audit(inspector.url, embedder, seeded.tenant)
    actions = [e.action for e in reversed(entries)]
    assert actions[:5] == ["view", "undo_link", "view", "view", "export"] and "forget" in actions
    assert seeded.caller not in {e.caller_ref for e in entries}  # only the digest of a forgotten id is kept


async def test_failed_sign_ins_are_throttled(inspector, client):
    await client.get("/login")
    for _ in range(5):
        status, _, _ = await client.post("/login", {"name": "ann", "password": "nope"})
        assert status == 401
    status, text, _ = await client.post("/login", {"name": "ann", "password": PASSWORDS["ann"]})
    assert status == 429 and "Too many attempts" in text


async def test_signing_out_ends_the_session(inspector, client):
    await client.sign_in("ann")
    _status, text, _ = await client.post("/logout")
    assert "Sign in" in text
    _, text = await client.get(caller_path(inspector.seeded))
    assert "Sign in" in text and "Dana" not in text


def test_the_templates_escape_whatever_their_name():
    from memory.inspector.app import _templates

    env = _templates().env
    assert env.from_string("{{ x }}").render(x="<i>") == "&lt;i&gt;"
    assert env.autoescape is True


def test_the_command_line_hashes_a_password_and_refuses_a_bad_configuration(tmp_path):
    import os
    import subprocess
    import sys

    env = {k: v for k, v in os.environ.items() if not k.startswith("MEMORY_")}

    def inspect(*args: str, said: str | None = None) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "memory", "inspect", *args],
            input=said,
            capture_output=True,
            text=True,
            env=env,
            timeout=60,
        )

    run = inspect("--hash-password", said="correct horse\n")
    digest = run.stdout.strip()
    assert run.returncode == 0 and password_matches("correct horse", digest)
    env["MEMORY_INSPECTOR_USERS"] = f"ann:acme-telecom:{digest}"
    env["MEMORY_INSPECTOR_SECRET"] = "too short"
    run = inspect("--db", f"sqlite:///{tmp_path / 'm.db'}")
    assert run.returncode == 1 and run.stderr.startswith("error: MEMORY_INSPECTOR_SECRET must be at least 32")
    env["MEMORY_INSPECTOR_SECRET"] = "s" * 40
    env["MEMORY_INSPECTOR_USERS"] = "ann:acme-telecom:hunter2"
    run = inspect("--db", f"sqlite:///{tmp_path / 'm.db'}")
    assert run.returncode == 1 and "entry 1" in run.stderr and "hunter2" not in run.stderr
    assert not (tmp_path / "m.db").exists()  # nothing is created before the configuration is right


async def test_a_new_password_or_a_removed_account_ends_the_session(inspector, client, embedder):
    seeded = inspector.seeded
    await client.sign_in("ann")
    status, text = await client.get(caller_path(seeded))
    assert status == 200 and "Dana Reyes" in text
    cookie = client.http.cookie_jar.filter_cookies(yarl.URL(inspector.base))["memory_inspector"].value
    assert PASSWORDS["ann"] not in cookie
    inspector.__exit__(None, None, None)  # the same store and secret; ann gets a new password
    staff = load_staff(staff_env(seeded))
    staff["ann"] = StaffAccount("ann", seeded.tenant, hash_password("a new password"))
    for accounts in (staff, {k: v for k, v in staff.items() if k != "ann"}):
        with Served(inspector.url, None, embedder, accounts) as again:
            client.base = again.base  # cookies are per host, whatever the port: the old session cookie is sent
            status, text = await client.get(caller_path(seeded))
            assert "Sign in" in text and "Dana" not in text


def test_ci_installs_the_browser_the_browser_test_drives():
    run = (Path(__file__).resolve().parents[1] / ".ci" / "run").read_text()
    assert "missing+=(chromium)" in run and "missing+=(chromium-driver)" in run
    assert 'apt-get install -y -qq "${missing[@]}"' in run
