"""A real headless Chromium for the panel's browser tests: Debian's `chromium` (installed by
`make install`) driven by Playwright for Python, never a browser Playwright downloads.

Each test gets a fresh profile and a phone-sized window (390×844, a common phone's CSS
size). Screenshots go to $CHATCENTRAL_SCREENSHOTS when set, else to the test's tmp dir.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from playwright.sync_api import BrowserContext, Dialog, Page, sync_playwright

CHROMIUM = Path("/usr/bin/chromium")
PHONE = {"width": 390, "height": 844}
ARGS = [
    "--headless=new",
    "--no-sandbox",  # CI runs as root, where Chromium's sandbox refuses to start
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def screenshot_dir(tmp_path: Path) -> Path:
    folder = Path(os.environ.get("CHATCENTRAL_SCREENSHOTS") or tmp_path / "screenshots")
    folder.mkdir(parents=True, exist_ok=True)
    return folder


@contextmanager
def phone_browser(tmp_path: Path) -> Iterator[BrowserContext]:
    """A browser context (Playwright's sync API) with a phone viewport and touch."""
    if not CHROMIUM.exists():
        pytest.skip("no /usr/bin/chromium (make install installs it)")
    with sync_playwright() as playwright:
        context = playwright.chromium.launch_persistent_context(
            str(tmp_path / "chromium-profile"),
            executable_path=str(CHROMIUM),
            headless=True,
            args=ARGS,
            viewport=PHONE,
            device_scale_factor=2,
            is_mobile=True,
            has_touch=True,
            locale="es-MX",
            timezone_id="America/Mexico_City",
        )
        context.set_default_timeout(10_000)
        try:
            yield context
        finally:
            context.close()


def panel_link(db_url: str, base: str, cwd: Path) -> str:
    """A login link for the grocery store's admin, as `chatcentral panel link` prints it."""
    made = subprocess.run(
        [sys.executable, "-m", "chatcentral.cli", "panel", "link", "tienda", "55 8765 4321"],
        env={**os.environ, "DATABASE_URL": db_url, "CHATCENTRAL_PUBLIC_URL": base},
        cwd=cwd,
        capture_output=True,
        text=True,
        check=True,
    )
    return made.stdout.strip().splitlines()[-1]


def sign_in_with_link(page: Page, db_url: str, base: str, cwd: Path) -> None:
    """Open a link from `chatcentral panel link` and tap its button, landing on the board."""
    page.goto(panel_link(db_url, base, cwd))
    page.get_by_role("button", name="Entrar").click()
    page.wait_for_url(f"{base}/panel/")


def dismissed_dialogs(page: Page) -> list[str]:
    """The messages of the alerts the page opens from now on (each dismissed): a page that
    runs a name such as `<script>alert(1)</script>` shows up here."""
    dialogs: list[str] = []

    def dismiss(dialog: Dialog) -> None:
        dialogs.append(dialog.message)
        dialog.dismiss()

    page.on("dialog", dismiss)
    return dialogs
