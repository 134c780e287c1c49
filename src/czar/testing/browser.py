"""The real browser czar's web page is tested and measured in: Debian's Chromium
(``scripts/system-deps --browser`` installs it), driven by Playwright. Playwright's own browser
download is not used: it needs the network at test time, and it is not what people run."""

from __future__ import annotations

import os
import shutil

from czar.errors import CzarError

# Without these, Chromium reaches for Google's services at start, which a closed machine refuses.
FLAGS = (
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
)


def chromium_path() -> str:
    """``$CZAR_CHROMIUM``, or the Chromium on the PATH."""
    found = os.environ.get("CZAR_CHROMIUM") or shutil.which("chromium") or shutil.which("chromium-browser")
    if not found:
        raise CzarError("Chromium is not installed: `scripts/system-deps --browser` installs it (make test does)")
    return found
