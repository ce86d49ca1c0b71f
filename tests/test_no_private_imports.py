"""Our code uses only the public interfaces of its dependencies (issue 15): an AST check over
every first-party .py file (not .venv, not node_modules).

What counts as a dependency: any top-level module that does not resolve to a file of this
repository (Django, Channels, channels-redis, daphne, Twisted, autobahn, redis-py, asgiref, …
and the standard library). What it refuses:

1. `from <dep>[.x] import _name`, `import <dep>._x`, `from <dep>._x import y`: a private name
   or module of a dependency.
2. `<expr>._name` (read, write or call) where <expr> is not known to be ours: ours are `self`
   / `cls` (see 3), names this module defines at module level, names imported from our own
   modules, and local variables assigned from a call of one of those (e.g. `x = OurClass()`).
   A parameter, a dependency's object, or a local of unknown origin is not ours:
   `backend._cache._client(...)`, `transport._tempDataBuffer`, `autobahn.util._HAS_CLICK = …`.
3. In a class with a dependency base: a method or attribute `_name` that the base class has
   (overriding or reading its private, e.g. `def _ensure_redis(self)`), and `self._name` that
   our class never assigns or defines (a private the dependency sets up, e.g. `self._layers`).
4. `getattr` / `setattr` / `hasattr` / `delattr` / `monkeypatch.setattr` with a constant
   `"_name"` on something not ours, and introspection strings (`"__func__"`, `"__self__"`,
   `"__wrapped__"`, …) on anything: reaching behind a dependency's callable (daphne's
   `Server.handle_reply` identity check).
5. Internals without an underscore, found in this project's history and named here
   (UNDOCUMENTED): asgiref's `thread_handler`, Django's `health_check_done`, daphne's
   `handle_reply`, autobahn's `sendMessage`, and `.func` on a dependency's decorated callable
   (`get_user.func`).

ALLOWED lists the underscore names that are documented public API (and why).
"""

import ast
import importlib
import importlib.util
import inspect
import os
import re
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SKIP_DIRS = {".venv", "node_modules", ".git", "staticfiles", "media", "__pycache__", "htmlcov"}

# Underscore names that are documented public API of their library.
ALLOWED = {
    "_meta": "Django's Model._meta API (docs: ref/models/meta)",
    "_default_manager": "Django's Model._default_manager (docs: topics/db/managers)",
    "_base_manager": "Django's Model._base_manager (docs: topics/db/managers)",
    "_state": "Django's Model._state.adding / .db (docs: ref/models/instances)",
    "_exit": "os._exit (docs: library/os)",
    "_getframe": "sys._getframe (docs: library/sys)",
    "_asdict": "namedtuple._asdict (docs: library/collections)",
    "_replace": "namedtuple._replace (docs: library/collections)",
    "_fields": "namedtuple._fields (docs: library/collections)",
    "_make": "namedtuple._make (docs: library/collections)",
    "_name_": "enum member _name_ (docs: library/enum)",
    "_value_": "enum member _value_ (docs: library/enum)",
    "_db": "Django's Manager._db, as the custom user manager of the auth docs uses it (topics/auth/customizing)",
    "_open": "Django's Storage._open, the documented method of a custom storage (howto/custom-file-storage)",
    "_save": "Django's Storage._save, the documented method of a custom storage (howto/custom-file-storage)",
}

# Dependency internals without an underscore (rule 5).
UNDOCUMENTED = {
    "thread_handler": "asgiref SyncToAsync internals (use sync_to_async's options)",
    "health_check_done": "Django's connection health-check bookkeeping (use close_old_connections / is_usable)",
    "handle_reply": "daphne's Server internals (use the ASGI send)",
    "sendMessage": "autobahn's protocol (use the ASGI send)",
}
INTROSPECTION = {"__func__", "__self__", "__wrapped__", "__closure__", "__code__", "__globals__", "__defaults__"}
ATTR_FUNCTIONS = {"getattr", "setattr", "hasattr", "delattr"}


def _private(name: str) -> bool:
    return name.startswith("_") and not (name.startswith("__") and name.endswith("__")) and name not in ALLOWED


_first_party_cache: dict[str, bool] = {}


def is_first_party(top: str) -> bool:
    """A top-level module is ours when it resolves to a file of this repository outside
    .venv, or (not importable from here, e.g. bench/bare_chat) exists only in the repository."""
    if top in _first_party_cache:
        return _first_party_cache[top]
    try:
        spec = importlib.util.find_spec(top)
    except (ImportError, ValueError):
        spec = None
    if spec is None:
        ours = any(path.stem == top or path.name == top for path in _source_dirs_and_files())
    else:
        locations = list(spec.submodule_search_locations or []) or [spec.origin or ""]
        ours = any(_in_repo(Path(location)) for location in locations if location not in ("", "built-in", "frozen"))
    _first_party_cache[top] = ours
    return ours


def _in_repo(path: Path) -> bool:
    try:
        relative = path.resolve().relative_to(ROOT)
    except ValueError:
        return False
    return not (set(relative.parts) & SKIP_DIRS)


_sources: list[Path] = []


def _source_dirs_and_files() -> list[Path]:
    """Every .py file and package directory of the repository (skipped directories pruned)."""
    if not _sources:
        for directory, dirnames, filenames in os.walk(ROOT):
            dirnames[:] = [name for name in dirnames if name not in SKIP_DIRS and not name.startswith(".")]
            here = Path(directory)
            if "__init__.py" in filenames:
                _sources.append(here)
            _sources.extend(here / name for name in filenames if name.endswith(".py"))
    return _sources


_assigned_privates: dict[type, set[str]] = {}


def dependency_privates(base) -> set[str]:
    """The private names a dependency's class and its bases have or assign to `self` in their
    own source (instance attributes such as channels-redis's `self._redis`)."""
    if base is True or not isinstance(base, type):
        return set()
    if base not in _assigned_privates:
        names = {name for name in dir(base) if _private(name)}
        for klass in base.__mro__:
            try:
                source = inspect.getsource(klass)
            except (OSError, TypeError):
                continue
            names.update(name for name in re.findall(r"self\.(_[A-Za-z]\w*)\s*[:=]", source) if _private(name))
        _assigned_privates[base] = names
    return _assigned_privates[base]


def first_party_files() -> list[Path]:
    return sorted(path for path in _source_dirs_and_files() if path.suffix == ".py")


class Checker(ast.NodeVisitor):
    def __init__(self, filename: str):
        self.filename = filename
        self.problems: list[str] = []
        self.ours: set[str] = set()  # module-level names that are ours
        self.deps: dict[str, str] = {}  # module-level names bound to a dependency: name -> dotted path
        self.our_modules: set[str] = set()  # names bound by `import <our module>`
        self.scopes: list[set[str]] = []  # locals known to be ours, per function
        self.classes: list[dict] = []

    # --- helpers ---------------------------------------------------------------------------

    def report(self, node: ast.AST, what: str) -> None:
        self.problems.append(f"{self.filename}:{getattr(node, 'lineno', 0)}: {what}")

    def root(self, node: ast.AST) -> ast.AST:
        while isinstance(node, (ast.Attribute, ast.Subscript, ast.Call)):
            node = node.func if isinstance(node, ast.Call) else node.value
        return node

    def is_ours(self, node: ast.AST) -> bool:
        """Is this expression (the immediate base of an attribute) known to be ours? Only a bare
        name: `self`/`cls` outside a dependency's subclass, a module-level name of ours, or a
        local assigned from one of our callables. `self.client._pool`, `backend._cache`,
        `f()._x` are not known to be ours."""
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "super":
            node = ast.Name("self")  # super() in our class: checked as self (rule 3)
        while isinstance(node, ast.Attribute) and isinstance(self.root(node), ast.Name):
            if self.root(node).id not in self.our_modules:  # `import chat.models`: chat.models._x
                return False
            node = node.value
        if not isinstance(node, ast.Name):
            return False
        name = node.id
        if name in ("self", "cls"):
            return not (self.classes and self.classes[-1]["dep_bases"])
        if name in self.deps:
            return False
        if any(name in scope for scope in self.scopes):
            return True
        return name in self.ours

    def makes_ours(self, value: ast.AST) -> bool:
        """Does an assigned value give a local that is ours? `OurClass(...)`, `ourmodule.f(...)`,
        or another name that is ours (`sink = self`)."""
        if isinstance(value, ast.Call):
            func = value.func
            return self.is_ours(func) or (isinstance(func, ast.Attribute) and self.is_ours(func.value))
        return self.is_ours(value)

    def dependency_object(self, node: ast.AST):
        """The dependency object an expression names (a class used as a base), if importable."""
        parts = []
        while isinstance(node, ast.Attribute):
            parts.append(node.attr)
            node = node.value
        if not isinstance(node, ast.Name) or node.id not in self.deps:
            return None
        dotted = self.deps[node.id]
        try:
            if ":" in dotted:
                module, attr = dotted.split(":")
                obj = getattr(importlib.import_module(module), attr)
            else:
                obj = importlib.import_module(dotted)
            for part in reversed(parts):
                obj = getattr(obj, part)
        except Exception:
            return True
        return obj

    # --- module-level bindings -------------------------------------------------------------

    def visit_Module(self, node: ast.Module) -> None:
        for statement in ast.walk(node):
            if isinstance(statement, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                self.ours.add(statement.name)
        for statement in node.body:
            for target in self._assigned_names(statement):
                self.ours.add(target)
        self.generic_visit(node)

    @staticmethod
    def _assigned_names(statement):
        targets = []
        if isinstance(statement, ast.Assign):
            targets = statement.targets
        elif isinstance(statement, (ast.AnnAssign, ast.AugAssign)):
            targets = [statement.target]
        for target in targets:
            for name in ast.walk(target):
                if isinstance(name, ast.Name):
                    yield name.id

    # --- rule 1: imports -------------------------------------------------------------------

    def visit_Import(self, node: ast.Import) -> None:
        for alias in node.names:
            top = alias.name.split(".")[0]
            if is_first_party(top):
                self.ours.add(alias.asname or top)
                self.our_modules.add(alias.asname or top)
                continue
            if any(_private(part) for part in alias.name.split(".")):
                self.report(node, f"imports a dependency's private module {alias.name}")
            bound = alias.asname or top
            self.deps[bound] = alias.name if alias.asname else top
            self.ours.discard(bound)

    def visit_ImportFrom(self, node: ast.ImportFrom) -> None:
        module = node.module or ""
        if node.level or is_first_party(module.split(".")[0]):
            for alias in node.names:
                self.ours.add(alias.asname or alias.name)
            return
        if any(_private(part) for part in module.split(".")):
            self.report(node, f"imports from a dependency's private module {module}")
        for alias in node.names:
            if _private(alias.name):
                self.report(node, f"imports the private name {alias.name} from {module}")
            bound = alias.asname or alias.name
            self.deps[bound] = f"{module}:{alias.name}" if alias.name != "*" else module
            self.ours.discard(bound)

    # --- functions: locals known to be ours --------------------------------------------------

    def _visit_function(self, node) -> None:
        cls = self.classes[-1] if self.classes else None
        if cls is not None and cls["dep_bases"] and len(self.scopes) == cls["depth"]:
            self._check_override(node, node.name, cls)
        scope: set[str] = set()
        self.scopes.append(scope)
        for statement in ast.walk(node):
            if isinstance(statement, ast.Assign) and self.makes_ours(statement.value):
                scope.update(target.id for target in statement.targets if isinstance(target, ast.Name))
            elif isinstance(statement, (ast.With, ast.AsyncWith)):
                for item in statement.items:
                    if isinstance(item.optional_vars, ast.Name) and self.makes_ours(item.context_expr):
                        scope.add(item.optional_vars.id)
        self.scopes.pop()
        self.scopes.append(scope)
        self.generic_visit(node)
        self.scopes.pop()

    visit_FunctionDef = _visit_function
    visit_AsyncFunctionDef = _visit_function

    # --- rule 3: classes with a dependency base ----------------------------------------------

    def visit_ClassDef(self, node: ast.ClassDef) -> None:
        dep_bases = [obj for obj in (self.dependency_object(base) for base in node.bases) if obj is not None]
        defined = set()
        for statement in ast.walk(node):
            if isinstance(statement, (ast.FunctionDef, ast.AsyncFunctionDef)):
                defined.add(statement.name)
            elif isinstance(statement, (ast.Assign, ast.AnnAssign)):
                targets = statement.targets if isinstance(statement, ast.Assign) else [statement.target]
                for target in targets:
                    if isinstance(target, ast.Name):
                        defined.add(target.id)
                    elif (
                        isinstance(target, ast.Attribute)
                        and isinstance(target.value, ast.Name)
                        and target.value.id == "self"
                    ):
                        defined.add(target.attr)
        cls = {"dep_bases": dep_bases, "defined": defined, "depth": len(self.scopes)}
        if dep_bases:
            for statement in node.body:
                for name in self._assigned_names(statement):
                    self._check_override(statement, name, cls)
        self.classes.append(cls)
        self.generic_visit(node)
        self.classes.pop()

    def _check_override(self, node, name: str, cls: dict) -> None:
        if name in UNDOCUMENTED:
            self.report(node, f"overrides the dependency internal {name} ({UNDOCUMENTED[name]})")
        elif _private(name) and any(name in dependency_privates(base) for base in cls["dep_bases"]):
            self.report(node, f"overrides the private {name} of a dependency's class")

    # --- rules 2, 3 and 5: attributes --------------------------------------------------------

    def visit_Attribute(self, node: ast.Attribute) -> None:
        name = node.attr
        base = node.value
        in_dep_class = self.classes and self.classes[-1]["dep_bases"]
        if name in UNDOCUMENTED and not (
            isinstance(base, ast.Name) and base.id in ("self", "cls") and not in_dep_class
        ):
            self.report(node, f"uses the dependency internal .{name} ({UNDOCUMENTED[name]})")
        elif name == "func" and isinstance(base, ast.Name) and base.id in self.deps:
            self.report(node, "reaches behind a dependency's callable (.func)")
        elif _private(name):
            if isinstance(base, ast.Name) and base.id in ("self", "cls") and in_dep_class:
                cls = self.classes[-1]
                if name not in cls["defined"] or any(name in dependency_privates(base) for base in cls["dep_bases"]):
                    self.report(node, f"uses the private .{name} of a dependency's base class")
            elif not self.is_ours(base):
                self.report(node, f"uses the private attribute .{name} of an object that is not ours")
        self.generic_visit(node)

    # --- rule 4: names as strings ------------------------------------------------------------

    def visit_Call(self, node: ast.Call) -> None:
        func = node.func
        called = func.id if isinstance(func, ast.Name) else func.attr if isinstance(func, ast.Attribute) else None
        if called in ATTR_FUNCTIONS and len(node.args) >= 2:
            target, name = node.args[0], node.args[1]
            if isinstance(name, ast.Constant) and isinstance(name.value, str):
                if name.value in INTROSPECTION:
                    self.report(node, f"introspects a callable ({name.value!r})")
                elif name.value in UNDOCUMENTED:
                    self.report(node, f"uses the dependency internal {name.value!r}")
                elif _private(name.value) and not self.is_ours(target):
                    self.report(node, f"uses the private attribute {name.value!r} of an object that is not ours")
        self.generic_visit(node)


def check_source(source: str, filename: str = "<snippet>") -> list[str]:
    checker = Checker(filename)
    checker.visit(ast.parse(source, filename=filename))
    return checker.problems


def test_no_first_party_file_uses_a_private_name_of_a_dependency():
    problems = []
    for path in first_party_files():
        problems += check_source(path.read_text(encoding="utf-8"), str(path.relative_to(ROOT)))
    assert problems == [], "\n".join(problems)


def test_the_check_covers_every_app_and_not_the_virtualenv():
    files = {str(path.relative_to(ROOT)) for path in first_party_files()}
    for expected in ("live/layer.py", "live/auth.py", "live/db.py", "chat/services/messages.py"):
        assert expected in files
    assert "tests/test_no_private_imports.py" in files
    assert not any(name.startswith(".venv/") for name in files)
    assert is_first_party("chat") and is_first_party("config")
    assert not is_first_party("twisted")  # the dependency, though ./twisted/plugins is ours
    assert not is_first_party("channels_redis") and not is_first_party("django")


# --- the check flags each construct issue 15 removed -------------------------------------------

REMOVED = {
    "channels_redis private helpers": (
        "from channels_redis.utils import _consistent_hash, _wrap_close, create_pool\n",
        ["_consistent_hash", "_wrap_close"],
    ),
    "copied _get_layer / _ensure_redis": (
        "from channels_redis.pubsub import RedisPubSubChannelLayer, RedisSingleShardConnection\n"
        "class Shard(RedisSingleShardConnection):\n"
        "    def _ensure_redis(self):\n"
        "        if self._redis is None:\n"
        "            self._redis = 1\n"
        "class Layer(RedisPubSubChannelLayer):\n"
        "    def _get_layer(self):\n"
        "        return self._layers[0]\n",
        ["_ensure_redis", "._redis", "_get_layer", "._layers"],
    ),
    "Django cache's private client": (
        "def client(backend):\n"
        "    pool = backend._cache._get_connection_pool(True)\n"
        "    return backend._cache._client(connection_pool=pool)\n",
        ["._cache", "._get_connection_pool", "._client"],
    ),
    "autobahn _HAS_CLICK": (
        "import autobahn.util\n"
        "def quiet():\n"
        "    if hasattr(autobahn.util, '_HAS_CLICK'):\n"
        "        autobahn.util._HAS_CLICK = False\n",
        ["'_HAS_CLICK'", "._HAS_CLICK"],
    ),
    "Twisted transport internals": (
        "from twisted.internet import tcp\n"
        "def write_immediately(transport):\n"
        "    t = transport\n"
        "    if t._tempDataBuffer or t._writeDisconnected:\n"
        "        return False\n"
        "    return all(hasattr(transport, name) for name in ('TLS',)) and getattr(t, '_tempDataBuffer')\n",
        ["._tempDataBuffer", "._writeDisconnected", "'_tempDataBuffer'"],
    ),
    "daphne Server.handle_reply identity and autobahn sendMessage": (
        "from daphne.server import Server\n"
        "def server_writer(send):\n"
        "    server = getattr(send.func, '__self__', None)\n"
        "    if getattr(send.func, '__func__', None) is not Server.handle_reply:\n"
        "        return None\n"
        "    protocol = send.args[0]\n"
        "    protocol.sendMessage(b'x', False)\n",
        ["'__self__'", "'__func__'", ".handle_reply", ".sendMessage"],
    ),
    "channels get_user.func": (
        "from channels.auth import get_user\n_session_user = get_user.func\n",
        [".func"],
    ),
    "asgiref thread_handler and Django health_check_done": (
        "from asgiref.sync import SyncToAsync\n"
        "from channels.db import DatabaseSyncToAsync\n"
        "from django.db import connections\n"
        "class Live(DatabaseSyncToAsync):\n"
        "    def thread_handler(self, loop, *args, **kwargs):\n"
        "        for connection in connections.all():\n"
        "            connection.health_check_done = True\n"
        "        return SyncToAsync.thread_handler(self, loop, *args, **kwargs)\n",
        ["thread_handler", ".health_check_done", ".thread_handler"],
    ),
    "private modules": (
        "import redis._parsers\nfrom django.db.models._private import x\n",
        ["redis._parsers", "django.db.models._private"],
    ),
}


@pytest.mark.parametrize("case", sorted(REMOVED))
def test_the_check_flags_each_removed_coupling(case):
    source, expected = REMOVED[case]
    problems = check_source(source)
    for fragment in expected:
        assert any(fragment in problem for problem in problems), f"{fragment!r} not flagged in {problems}"


def test_our_own_objects_and_documented_names_are_not_flagged():
    source = (
        "from live import db as live_db\n"
        "from chat.services.messages import _check_send_rate\n"
        "from django.db import models\n"
        "_cache = {}\n"
        "class Ours:\n"
        "    def __init__(self):\n"
        "        self._x = 1\n"
        "    def get(self):\n"
        "        return self._x\n"
        "def use(instance):\n"
        "    state = Ours()\n"
        "    _cache.clear()\n"
        "    return live_db._current, state._x, instance._meta.label, getattr(state, '_x')\n"
    )
    assert check_source(source) == []


def test_a_subclass_of_a_dependency_may_keep_private_state_of_its_own():
    source = (
        "from channels.generic.websocket import AsyncJsonWebsocketConsumer\n"
        "class Live(AsyncJsonWebsocketConsumer):\n"
        "    def connect(self):\n"
        "        self._held = []\n"
        "        return self._held\n"
    )
    assert check_source(source) == []


if __name__ == "__main__":  # pragma: no cover - `python tests/test_no_private_imports.py`
    import django

    sys.path.insert(0, str(ROOT))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    django.setup()
    for problem in (p for path in first_party_files() for p in check_source(path.read_text(), str(path))):
        print(problem)
    sys.exit(0)
