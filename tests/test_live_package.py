"""One door, one rule for the live socket (issue 15): the socket stack lives in `live/`, and every
push goes through `live.push` (push_on_commit after a write, apush_to_users from the consumer's
frames, send_on_commit for live.access's revocation).

Outside live/, no first-party module opens the channel layer (get_channel_layer, a consumer's
channel_layer, channels.layers), calls group_send / group_add and their kin, defines a push
function of its own, or hands a push to transaction.on_commit; and live/ imports no app, so
every app can use the door (import-linter's layers say the same in pyproject.toml)."""

import ast
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
APPS = ("accounts", "notifications", "social", "experts", "chat", "helpdesk")
# First-party code that runs in the site; tests and benchmarks may drive a layer directly
# (bench/bare_chat is the Channels tutorial, measured as it is).
SOURCES = ("config", "live", *APPS, "tools", "scripts")
HOME = "live"
THE_DOOR = "live/push.py"
# What talks to the channel layer.
LAYER_NAMES = {
    "get_channel_layer",
    "channel_layer",
    "channel_layers",
    "group_send",
    "group_send_many",
    "group_send_many_sync",
    "group_add",
    "group_discard",
}
# A push function of one's own: push_to_user(s), send_to_group(s), publish_to_…, a second
# push_on_commit or publish.
PUSH_FUNCTION = re.compile(r"^a?(push|send|publish)_to_(user|users|group|groups)$|^push_on_commit$|^a?publish$")


def sources():
    for top in SOURCES:
        base = ROOT / top
        if not base.is_dir():
            continue
        for path in sorted(base.rglob("*.py")):
            relative = path.relative_to(ROOT).as_posix()
            if "/tests/" in relative or "/migrations/" in relative:
                continue
            yield relative, ast.parse(path.read_text(encoding="utf-8"), filename=relative)


def layer_uses(tree: ast.AST) -> list[tuple[int, str]]:
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Name) and node.id in LAYER_NAMES:
            found.append((node.lineno, node.id))
        elif isinstance(node, ast.Attribute) and node.attr in LAYER_NAMES:
            found.append((node.lineno, node.attr))
        elif isinstance(node, ast.ImportFrom):
            if (node.module or "").startswith("channels.layers"):
                found.append((node.lineno, node.module))
            found += [(node.lineno, alias.name) for alias in node.names if alias.name in LAYER_NAMES]
        elif isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names if alias.name.startswith("channels.layers")]
    return found


def push_functions(tree: ast.AST) -> list[tuple[int, str]]:
    return [
        (node.lineno, node.name)
        for node in ast.walk(tree)
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and PUSH_FUNCTION.match(node.name)
    ]


def pushes_on_commit(tree: ast.AST) -> list[tuple[int, str]]:
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and getattr(node.func, "attr", getattr(node.func, "id", None)) == "on_commit":
            text = ast.unparse(node)
            if re.search(r"push|publish|send_to_", text, re.IGNORECASE):
                found.append((node.lineno, text))
    return found


def app_imports(tree: ast.AST) -> list[tuple[int, str]]:
    found = []
    for node in ast.walk(tree):
        names = []
        if isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names = [node.module]
        elif isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        found += [(node.lineno, name) for name in names if name.split(".")[0] in APPS]
    return found


def offenders(check, *, outside: str | None = None, inside: str | None = None) -> list[str]:
    problems = []
    for name, tree in sources():
        in_scope = name.startswith(inside + "/") if inside else not name.startswith(outside + "/")
        if in_scope:
            problems += [f"{name}:{line}: {what}" for line, what in check(tree)]
    return problems


def test_no_module_outside_live_opens_the_channel_layer():
    assert offenders(layer_uses, outside=HOME) == [], "push through live.push (push_on_commit / apush_to_users)"


def test_no_module_outside_live_defines_a_push_function():
    assert offenders(push_functions, outside=HOME) == [], "push through live.push, do not write another door"


def test_only_the_door_hands_a_push_to_on_commit():
    problems = [problem for problem in offenders(pushes_on_commit, outside="") if not problem.startswith(THE_DOOR)]
    assert problems == [], "call live.push.push_on_commit (or send_on_commit) instead of transaction.on_commit"


def test_live_imports_no_app():
    assert offenders(app_imports, inside=HOME) == [], "apps register with live (frames, hello parts, presence)"


def test_the_socket_stack_lives_in_live_and_nowhere_else():
    for module in ("auth", "access", "consumer", "routing", "layer", "push", "presence", "db"):
        assert (ROOT / HOME / f"{module}.py").is_file(), module
    for gone in (
        "config/websocket.py",
        "config/live_layer.py",
        "config/live_push.py",
        "chat/consumers.py",
        "chat/routing.py",
        "chat/presence.py",
        "chat/live_db.py",
        "accounts/live_access.py",
    ):
        assert not (ROOT / gone).exists(), f"{gone} came back: the socket stack has one place, live/"


def test_the_checks_find_what_they_are_for():
    tree = ast.parse(
        "from channels.layers import get_channel_layer\n"
        "from chat import models\n"
        "def push_to_users(ids, event):\n"
        "    transaction.on_commit(lambda: publish(ids, event))\n"
        "async def go(self):\n"
        "    await self.channel_layer.group_send('user.1', {})\n"
    )
    assert {what for _, what in layer_uses(tree)} >= {"channels.layers", "get_channel_layer", "group_send"}
    assert [what for _, what in push_functions(tree)] == ["push_to_users"]
    assert len(pushes_on_commit(tree)) == 1
    assert [what for _, what in app_imports(tree)] == ["chat"]
    clean = ast.parse(
        "from live.push import push_on_commit\ndef push_queue_on_commit(r):\n    push_on_commit([1], {})\n"
    )
    assert layer_uses(clean) == push_functions(clean) == pushes_on_commit(clean) == []
