"""README.md and docs/*.md name only what exists: repository paths, make targets, settings
(environment variables) and link targets. A renamed file, a dropped target or a setting that
config/settings.py no longer reads fails here instead of misleading a reader."""

import re
from pathlib import Path

import pytest

from tests.servers import BASE_DIR

PAGES = [BASE_DIR / "README.md", *sorted((BASE_DIR / "docs").glob("*.md"))]
FENCE = re.compile(r"^```[^\n]*\n(.*?)^```", re.M | re.S)
SPAN = re.compile(r"`([^`\n]+)`")
LINK = re.compile(r"!?\[[^\]]*\]\(([^)\s]+)\)")
NAME = re.compile(r"[A-Z][A-Z0-9]*(?:_[A-Z0-9]+)+")
# Top-level entries a path in the docs may start with (the venv and local state are not docs).
TOP = {entry.name for entry in BASE_DIR.iterdir()} - {".venv", ".git", "db.sqlite3", "media", "staticfiles"}
TOOLING = ["Makefile", "Dockerfile", "docker-compose.yml", ".ci/run", "scripts", "tests", "tools", "bench", "deploy"]


def code_of(text: str) -> tuple[list[str], list[str]]:
    """(inline code spans, fenced code blocks) of a page."""
    blocks = FENCE.findall(text)
    prose = FENCE.sub("", text)
    return SPAN.findall(prose), blocks


def page_id(page: Path) -> str:
    return str(page.relative_to(BASE_DIR))


def tokens(snippet: str) -> list[str]:
    return [token for token in re.split(r"[\s()\[\],;\"']+", snippet) if token]


def repo_paths(page: Path) -> set[str]:
    spans, blocks = code_of(page.read_text())
    # A span that starts with an HTTP method is an API endpoint (docs/api.md), not a file.
    spans = [span for span in spans if not re.match(r"(GET|POST|PUT|PATCH|DELETE)\b", span)]
    found = set()
    for token in [t for snippet in spans + blocks for t in tokens(snippet)]:
        token = token.split("::")[0].rstrip(".:")
        if any(mark in token for mark in "<>…*{}$=") or token.startswith("/"):
            continue
        first = token.split("/")[0]
        if first in TOP and ("/" in token or (BASE_DIR / token).is_file()):
            found.add(token)
    return found


def make_targets(page: Path) -> set[str]:
    spans, blocks = code_of(page.read_text())
    return {target for snippet in spans + blocks for target in re.findall(r"\bmake ([a-z][\w-]*)", snippet)}


def setting_names(page: Path) -> set[str]:
    """`NAME` spans (a whole span, optionally NAME=value) and NAME=value in code blocks."""
    spans, blocks = code_of(page.read_text())
    names = {span.split("=")[0] for span in spans if NAME.fullmatch(span.split("=")[0])}
    for block in blocks:
        names |= set(re.findall(r"(?:^|\s|export )([A-Z][A-Z0-9]*(?:_[A-Z0-9]+)+)=", block, re.M))
    return names


def settings_source() -> str:
    return (BASE_DIR / "config" / "settings.py").read_text()


def environment_read_by_settings() -> set[str]:
    return set(re.findall(r"(?:env(?:\.\w+)?|_required)\(\s*\"([A-Z][A-Z0-9_]+)\"", settings_source()))


def tooling_text() -> str:
    parts = []
    for name in TOOLING:
        path = BASE_DIR / name
        files = [path] if path.is_file() else [p for p in path.rglob("*") if p.is_file() and p.suffix != ".pyc"]
        parts += [f.read_text(errors="ignore") for f in files]
    return "\n".join(parts)


@pytest.mark.parametrize("page", PAGES, ids=page_id)
def test_every_repository_path_a_page_names_exists(page):
    missing = sorted(path for path in repo_paths(page) if not (BASE_DIR / path).exists())

    assert not missing, f"{page_id(page)} names paths that do not exist: {missing}"


@pytest.mark.parametrize("page", PAGES, ids=page_id)
def test_every_link_of_a_page_points_at_a_file_that_exists(page):
    links = [link.split("#")[0] for link in LINK.findall(page.read_text())]
    local = [link for link in links if link and not re.match(r"[a-z]+://|mailto:", link)]

    missing = sorted(link for link in local if not (page.parent / link).exists())

    assert not missing, f"{page_id(page)} links to missing files: {missing}"


@pytest.mark.parametrize("page", PAGES, ids=page_id)
def test_every_make_target_a_page_names_is_in_the_makefile(page):
    targets = set(re.findall(r"^([a-z][\w-]*):", (BASE_DIR / "Makefile").read_text(), re.M))

    unknown = sorted(make_targets(page) - targets)

    assert not unknown, f"{page_id(page)} names make targets the Makefile lacks: {unknown}"


@pytest.mark.parametrize("page", PAGES, ids=page_id)
def test_every_setting_a_page_names_is_read_by_the_settings_or_the_tooling(page):
    read = environment_read_by_settings()
    compose_only = set(re.findall(r"^#?([A-Z][A-Z0-9_]+)=", (BASE_DIR / "deploy" / "env.example").read_text(), re.M))
    source, tooling = settings_source(), tooling_text()

    unknown = sorted(
        name
        for name in setting_names(page)
        if name not in read
        and name not in compose_only
        and not re.search(rf"\b{name}\b", source)  # a Django setting (SECURE_CSP, ...)
        and not re.search(rf"\b{name}\b", tooling)  # a tool's variable (CHROMIUM_PATH, PYTHON, ...)
    )

    assert not unknown, f"{page_id(page)} names settings nothing reads: {unknown}"


def test_settings_md_documents_every_variable_the_settings_read():
    page = BASE_DIR / "docs" / "settings.md"
    # A table row's first cell names its variables, one-word ones (PORT) too.
    rows = re.findall(r"^\| (`[^|]+`) \|", page.read_text(), re.M)
    documented = setting_names(page) | {name for cell in rows for name in SPAN.findall(cell)}

    assert environment_read_by_settings() - documented == set()


def test_the_readme_stays_a_front_door():
    lines = (BASE_DIR / "README.md").read_text().splitlines()

    assert len(lines) <= 200
    for page in ["architecture", "live-protocol", "api", "operations", "settings", "security", "benchmarks"]:
        assert f"(docs/{page}.md)" in "\n".join(lines)
