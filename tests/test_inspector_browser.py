"""The inspector driven in headless Chromium (Debian's chromium and chromium-driver, no browser
download) against a real Postgres + Redis store: sign in, find a caller by a phone written another
way, read the timeline, reveal one value, undo a link, export, forget; a member of staff of another
tenant reaches the caller by no URL.

With ``INSPECTOR_SCREENSHOTS=docs/images`` the run also writes the screenshots of docs/inspector.md
(the data is made up by ``seed``). Slow; with CI=true a missing Chromium fails the test.
"""

from __future__ import annotations

import asyncio
import json
import os
import time
from pathlib import Path

import pytest

import memory
from memory.inspector import load_staff

from .conftest import IN_CI
from .test_inspector import PASSWORDS, SCRIPT, Served, seed, staff_env

pytestmark = [pytest.mark.slow, pytest.mark.postgres, pytest.mark.redis]

CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"


def _browser(downloads: Path):
    missing = [p for p in (CHROMIUM, CHROMEDRIVER) if not (os.path.exists(p) and os.access(p, os.X_OK))]
    if missing:
        message = f"Chromium is missing ({', '.join(missing)}): apt-get install chromium chromium-driver"
        if IN_CI:
            pytest.fail(message, pytrace=False)
        pytest.skip(message)
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for arg in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu", "--window-size=1280,900"):
        options.add_argument(arg)
    options.add_experimental_option("prefs", {"download.default_directory": str(downloads)})
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    driver.execute_cdp_cmd("Page.setDownloadBehavior", {"behavior": "allow", "downloadPath": str(downloads)})
    return driver


class Staff:
    """One member of staff at the browser."""

    def __init__(self, driver, base: str, shots: Path | None) -> None:
        self.driver, self.base, self.shots = driver, base, shots

    def by(self, css: str):
        from selenium.webdriver.common.by import By

        return self.driver.find_element(By.CSS_SELECTOR, css)

    def all(self, css: str):
        from selenium.webdriver.common.by import By

        return self.driver.find_elements(By.CSS_SELECTOR, css)

    def open(self, path: str) -> str:
        self.driver.get(self.base + path)
        return self.text()

    def text(self) -> str:
        return self.by("body").text

    def click(self, css: str, index: int = 0) -> None:
        """Click something that stays on the page (a checkbox, a disclosure, a download)."""
        self.all(css)[index].click()

    def submit(self, css: str, index: int = 0) -> None:
        """Click a button that loads another page, and wait until it has."""
        from selenium.common.exceptions import WebDriverException
        from selenium.webdriver.support.wait import WebDriverWait

        old = self.by("html")
        self.all(css)[index].click()

        def loaded(driver) -> bool:
            try:
                old.is_enabled()  # the page before: still there
                return False
            except WebDriverException:
                return driver.execute_script("return document.readyState") == "complete"

        WebDriverWait(self.driver, 15).until(loaded)

    def sign_in(self, name: str) -> None:
        self.open("/login")
        self.by("#name").send_keys(name)
        self.by("#password").send_keys(PASSWORDS[name])
        self.submit("#sign-in")
        assert self.all("#signed-in"), self.text()
        assert name in self.by("#signed-in").text

    def sign_out(self) -> None:
        self.submit("#logout")
        assert "Sign in" in self.text()

    def shot(self, name: str) -> None:
        if self.shots is None:
            return
        self.driver.execute_script("window.scrollTo(0, 0)")
        height = self.driver.execute_script("return document.documentElement.scrollHeight")
        self.driver.set_window_size(1280, min(max(int(height) + 140, 500), 4000))
        self.driver.save_screenshot(str(self.shots / name))
        self.driver.set_window_size(1280, 900)


@pytest.fixture
def shots() -> Path | None:
    folder = os.environ.get("INSPECTOR_SCREENSHOTS")
    if not folder:
        return None
    path = Path(folder)
    path.mkdir(parents=True, exist_ok=True)
    return path


async def test_staff_use_the_inspector_in_a_browser(postgres_database, redis_url, embedder, tmp_path, shots):
    store = await memory.open_store(postgres_database, redis_url=redis_url, embedder=embedder, spool_path=None)
    try:  # the screenshots name made-up tenants the docs can show; the database is this run's own
        seeded = await seed(store, *(("acme-telecom", "globex-retail") if shots else ()))
    finally:
        await store.aclose()
    downloads = tmp_path / "downloads"
    downloads.mkdir()
    driver = _browser(downloads)
    try:
        with Served(postgres_database, redis_url, embedder, load_staff(staff_env(seeded))) as served:
            staff = Staff(driver, served.base, shots)
            staff.sign_in("ann")

            # find Dana by her phone written another way than on the line
            staff.by("#kind").send_keys("Phone")
            staff.by("#value").send_keys("(415) 555-0142")
            staff.shot("inspector-find.png")
            staff.submit("#find")
            caller_url = f"/t/{seeded.tenant}/callers/{seeded.caller}"
            assert driver.current_url == served.base + caller_url
            page = staff.text()
            assert staff.by("#caller-name").text == "Dana Reyes"
            # the timeline, newest first: the second call (new address) above the first (refund promised)
            calls = [c.text for c in staff.all("#timeline article.call")]
            assert len(calls) == 2 and "2026-03-05" in calls[0] and "2026-03-02" in calls[1]
            assert "ticket 8842" in calls[1] and "40 Pine Road" in calls[0]
            facts = staff.by("#facts").text
            assert "40 Pine Road" in facts and "12 Oak Street" in facts  # current and former
            assert "by Friday" in staff.by("#matters").text
            # the caller's script is text on the page and never ran
            staff.click("#timeline details summary", 1)
            assert SCRIPT in staff.by("#timeline").text
            assert driver.title == "Caller · Memory inspector"
            assert driver.execute_script("return document.querySelectorAll('main script, main b').length") == 0
            # identity: masked values, how each was learned, the link's evidence
            identity = staff.by("#identity").text
            assert "+14155550142" not in page and "•••0142" in identity
            assert "on the line" in identity and "said aloud" in identity and "verified by name" in identity
            staff.shot("inspector-caller.png")

            # reveal one value
            staff.submit("button.reveal")
            identity = staff.by("#identity").text
            assert "+14155550142" in identity and "revealed (audited)" in identity
            assert "88123" not in identity.replace("•••23", "")

            # export everything as JSON
            staff.click("#export")
            exported = downloads / f"{seeded.caller}.json"
            deadline = time.monotonic() + 15
            while not exported.exists() and time.monotonic() < deadline:
                await asyncio.sleep(0.1)
            body = json.loads(exported.read_text())
            assert body["caller_id"] == seeded.caller and body["tenant"] == seeded.tenant
            assert any(SCRIPT in r["text"] for r in body["tables"]["memories"])
            assert {r["caller_id"] for r in body["tables"]["callers"]} == {seeded.caller, seeded.provisional}

            # undo the link made on the spoken account number
            staff.open(caller_url)
            staff.submit("button.undo-link")
            assert "The link was undone" in staff.by("#flash").text
            assert "undone 20" in staff.by("#links").text
            assert "40 Pine Road" not in staff.by("#timeline").text  # the second call is its own record again
            staff.sign_out()

            # a member of staff of another tenant: the caller is nowhere, by any URL
            staff.sign_in("bob")
            for path in (
                caller_url,
                caller_url + "/forget",
                f"/t/{seeded.tenant}/callers/{seeded.provisional}",
                f"/t/{seeded.other_tenant}/callers/{seeded.caller}",
            ):
                text = staff.open(path)
                assert "Not found." in text and "Dana" not in text, path
            staff.open("/")
            staff.by("#kind").send_keys("Phone")
            staff.by("#value").send_keys("+1 415 555 0142")
            staff.submit("#find")
            assert "No caller with that phone" in staff.text()
            text = staff.open(f"/audit?tenant={seeded.tenant}")
            assert seeded.caller not in text and "ann" not in text
            text = staff.open(f"/t/{seeded.other_tenant}/callers/{seeded.stranger}")
            assert "Sam Patel" in text  # bob's own caller
            staff.sign_out()

            # forget, behind a confirmation
            staff.sign_in("ann")
            staff.open(caller_url)
            staff.submit("#forget")
            assert "Forget this caller?" in staff.text()
            staff.shot("inspector-forget.png")
            staff.submit("#forget-confirm")
            assert "Tick the box to confirm." in staff.text()
            staff.click("#confirm")
            staff.submit("#forget-confirm")
            assert "The caller was forgotten" in staff.by("#flash").text
            assert "Not found." in staff.open(caller_url)
            staff.open("/audit")
            audit_text = staff.by("#audit").text
            for action in ("find", "view", "reveal", "export", "undo_link", "forget"):
                assert action in audit_text
            assert seeded.caller not in audit_text and "+1415" not in audit_text
            staff.shot("inspector-audit.png")
    finally:
        driver.quit()
    store = await memory.open_store(postgres_database, embedder=embedder, spool_path=None)
    try:
        assert await store.find_caller(seeded.tenant, "phone", "+14155550142") is None
        assert await store.find_caller(seeded.tenant, "phone", "+14155550199") == seeded.provisional
        assert await store.find_caller(seeded.other_tenant, "phone", "+442079460958") == seeded.stranger
    finally:
        await store.aclose()
