"""A real headless Chromium for the panel's browser tests: Debian's `chromium` (installed by
`make install`) driven by Playwright for Python, never a browser Playwright downloads.

Each test gets a fresh profile and a phone-sized window (390×844, a common phone's CSS
size). Screenshots go to $CHATCENTRAL_SCREENSHOTS when set, else to the test's tmp dir.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from playwright.sync_api import BrowserContext, sync_playwright

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
