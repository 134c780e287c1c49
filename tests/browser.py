"""A real browser for the web page's tests (see ``czar.testing.browser``)."""

from __future__ import annotations

import os
import struct
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from playwright.sync_api import Browser, sync_playwright

from czar.testing.browser import FLAGS, chromium_path


@contextmanager
def chromium() -> Iterator[Browser]:
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium_path(), args=list(FLAGS), chromium_sandbox=False)
        try:
            yield browser
        finally:
            browser.close()


def png_size(path: Path) -> tuple[int, int]:
    """A PNG's width and height, from its header."""
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n", f"{path} is not a PNG"
    width, height = struct.unpack(">II", data[16:24])
    return width, height


def screenshots_folder(fallback: Path) -> Path:
    """Where screenshots are kept: ``$CZAR_SCREENSHOTS`` (for a person or CI to look at), else
    the test's own temporary folder."""
    folder = Path(os.environ.get("CZAR_SCREENSHOTS") or fallback)
    folder.mkdir(parents=True, exist_ok=True)
    return folder
