"""Which Chromium the browser tests drive (CHROMIUM_PATH, or Debian's /usr/bin/chromium), and how
they close its contexts.

Playwright's own browser download is not used (these machines cannot fetch it); any Chrome or
Chromium binary works, e.g. CHROMIUM_PATH=/usr/bin/google-chrome on GitHub's runners or
"/Applications/Google Chrome.app/Contents/MacOS/Google Chrome" on a Mac.
"""

import os
import signal
import time
import warnings

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


CLOSE_WITHIN = 20  # seconds


class CloseHung(Exception):
    pass


def close_contexts(*contexts, within=CLOSE_WITHIN):
    """Close browser contexts, each within `within` seconds.

    With Chromium 156, Playwright 1.65's `BrowserContext.close()` sometimes never returns when one
    of the context's pages is reloading at that moment (a help-desk page reloads itself on a live
    event; the protocol log shows the browser answering the disposal): one CI run sat ten minutes
    there after every assertion had passed. A test waits for its pages to settle before it closes
    them; if a close still hangs, this warns and goes on (the context is left to the browser's own
    close at the end of the session) instead of failing a test whose behaviour was checked. The
    bound is SIGALRM, as pytest-timeout's own: its handler and remaining time are put back after.
    """

    def hung(signum, frame):
        raise CloseHung

    for context in contexts:
        previous_handler = signal.signal(signal.SIGALRM, hung)
        started = time.monotonic()
        previous_timer, _interval = signal.setitimer(signal.ITIMER_REAL, within)
        try:
            context.close()
        except CloseHung:
            warnings.warn(f"Chromium did not close a browser context within {within} s; left open", stacklevel=2)
        finally:
            signal.setitimer(signal.ITIMER_REAL, 0)
            signal.signal(signal.SIGALRM, previous_handler)
            if previous_timer:
                signal.setitimer(signal.ITIMER_REAL, max(previous_timer - (time.monotonic() - started), 0.001))
