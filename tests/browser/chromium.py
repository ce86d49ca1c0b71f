"""Which Chromium the browser tests drive: CHROMIUM_PATH, or Debian's /usr/bin/chromium.

Playwright's own browser download is not used (these machines cannot fetch it); any Chrome or
Chromium binary works, e.g. CHROMIUM_PATH=/usr/bin/google-chrome on GitHub's runners or
"/Applications/Google Chrome.app/Contents/MacOS/Google Chrome" on a Mac.
"""

import os

CHROMIUM = os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
SKIP_NO_CHROMIUM = (
    f"no Chromium at {CHROMIUM}: apt-get install chromium (Debian; Ubuntu's is a snap), "
    "or set CHROMIUM_PATH to a Chrome or Chromium binary"
)


def chromium_missing() -> bool:
    return not os.path.exists(CHROMIUM)
