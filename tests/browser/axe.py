"""axe-core in the browser tests: WCAG 2.1 A and AA checks of a page as it is on screen.

axe-core comes from package-lock.json (`make test-browser` runs `npm ci` first) and is
injected from its file, so the check runs offline. Its script is added as an inline <script>,
which the site's CSP forbids: pages to check come from a context made with `bypass_csp=True`.
"""

from pathlib import Path

import pytest
from django.conf import settings

AXE_FILE = Path(settings.BASE_DIR) / "node_modules" / "axe-core" / "axe.min.js"
WCAG_21_AA = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]


def axe_violations(page) -> list[str]:
    """WCAG 2.1 A/AA violations on the page now, one line per element: "rule: target: why"."""
    if not AXE_FILE.exists():
        pytest.fail(f"{AXE_FILE} is missing: run `npm ci` (make test-browser does)")
    if not page.evaluate("() => typeof window.axe !== 'undefined'"):
        page.add_script_tag(path=str(AXE_FILE))
    violations = page.evaluate(
        """async (tags) => {
          const result = await window.axe.run(document, { runOnly: { type: "tag", values: tags } });
          return result.violations.flatMap((v) =>
            v.nodes.map((n) => `${v.id}: ${n.target.join(" ")}: ${n.failureSummary.replace(/\\s+/g, " ")}`));
        }""",
        WCAG_21_AA,
    )
    return violations
