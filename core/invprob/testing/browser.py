"""Pages in a real headless Chromium, for tests of what the project renders as HTML (the
study report, the documentation site).

Playwright drives the system's Chromium (``apt-get install chromium``, or ``INVPROB_CHROMIUM``
naming a Chromium/Chrome binary); it never downloads a browser. Without either the test is
skipped with the reason, unless ``INVPROB_REQUIRE_BROWSER=1`` (``.ci/run`` sets it where
Chromium is installed), which makes the absence a failure.

    with headless_chromium() as browser:
        loaded = load_page(browser, "http://127.0.0.1:8000/")
    assert loaded.problems == [] and all(width > 0 for _, width in loaded.images)
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlparse

import pytest

CANDIDATES = ("chromium", "chromium-browser", "google-chrome")


def find_chromium() -> str | None:
    """The Chromium binary to drive: ``INVPROB_CHROMIUM`` first, then the usual names on PATH."""
    for candidate in (os.environ.get("INVPROB_CHROMIUM"), *CANDIDATES):
        if candidate and (path := shutil.which(candidate)):
            return path
    return None


@contextmanager
def headless_chromium() -> Iterator[Any]:
    """A Playwright ``Browser`` on the system's Chromium; skips the test when Playwright or
    Chromium is missing (fails instead under ``INVPROB_REQUIRE_BROWSER=1``)."""
    missing = pytest.fail if os.environ.get("INVPROB_REQUIRE_BROWSER") == "1" else pytest.skip
    try:
        from playwright import sync_api
    except ImportError:
        missing("the browser test needs playwright (requirements/test.txt)")
    chromium = find_chromium()
    if chromium is None:
        missing("no Chromium found (apt-get install chromium, or set INVPROB_CHROMIUM); .ci/run installs it")
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium, args=["--no-sandbox"])
        try:
            yield browser
        finally:
            browser.close()


@dataclass
class LoadedPage:
    """What a page did while loading: its console errors, uncaught exceptions, failed or
    refused requests (``problems``), and each ``<img>``'s source and natural width once decoded
    (0: it could not be decoded)."""

    page: Any
    problems: list[str] = field(default_factory=list)
    images: list[tuple[str, int]] = field(default_factory=list)


def load_page(browser: Any, url: str, *, offline: bool = True) -> LoadedPage:
    """Open ``url`` in a new page and wait for it and every image on it (lazy ones too).

    With ``offline`` every request to another host than ``url``'s is refused and reported in
    ``problems``: a page that needs the internet fails here even on a machine that has it.
    """
    page = browser.new_page()
    loaded = LoadedPage(page)
    page.on("console", lambda m: loaded.problems.append(f"console: {m.text}") if m.type == "error" else None)
    page.on("pageerror", lambda e: loaded.problems.append(f"page error: {e}"))
    page.on("requestfailed", lambda r: loaded.problems.append(f"request failed: {r.url[:120]}"))
    host = urlparse(url).netloc
    if offline:
        def refuse_other_hosts(route: Any) -> None:
            target = urlparse(route.request.url)
            if target.scheme in ("http", "https") and target.netloc != host:
                loaded.problems.append(f"needs the internet: {route.request.url[:120]}")
                route.abort()
            else:
                route.continue_()

        page.route("**/*", refuse_other_hosts)
    page.goto(url, wait_until="networkidle")  # what scripts fetch after the load event too (a search index)
    # an image the browser had not loaded yet (loading="lazy", below the fold) is loaded and decoded
    images = page.eval_on_selector_all("img", """images => Promise.all(images.map(async image => {
        image.loading = "eager";
        try { await image.decode(); } catch (error) {}
        return [image.currentSrc || image.src, image.naturalWidth];
    }))""")
    loaded.images = [(src, width) for src, width in images]
    return loaded
