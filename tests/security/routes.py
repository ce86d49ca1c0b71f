"""Every route of the URLconf, read from Django's resolver: what the security tests walk."""

import re
from dataclasses import dataclass, field

from django.urls import URLPattern, URLResolver, get_resolver
from django.urls.resolvers import RoutePattern

_ROUTE_PARAMETER = re.compile(r"<(?:(?P<converter>[^>:]+):)?(?P<name>[^>]+)>")


@dataclass(frozen=True)
class Route:
    """One endpoint: its full path template (`chat/<id:pk>/`), name, view and path parameters."""

    template: str
    name: str | None  # "namespace:name", or None for an unnamed route
    callback: object = field(compare=False)
    parameters: tuple[tuple[str, str], ...]  # (kwarg, converter name) in path order
    regex: bool  # a re_path (its template is a regular expression)

    @property
    def module(self) -> str:
        view = getattr(self.callback, "view_class", None) or getattr(self.callback, "cls", None) or self.callback
        return getattr(view, "__module__", "")

    @property
    def is_api(self) -> bool:
        return self.template.startswith("api/")

    @property
    def is_admin(self) -> bool:
        return self.template.startswith("admin/") and not self.template.startswith("admin/status/")

    def path(self, values: dict[str, object]) -> str:
        """The URL path with these parameter values put in."""
        if self.regex:
            text = self.template.strip("^$")
            for kwarg, _ in self.parameters:
                text = re.sub(rf"\(\?P<{kwarg}>[^)]*\)", str(values[kwarg]), text)
            text = re.sub(r"\(\?:[^)]*\)\??|[\^$]", "", text)
            return "/" + text
        return "/" + _ROUTE_PARAMETER.sub(lambda m: str(values[m.group("name")]), self.template)

    def __str__(self) -> str:
        return self.name or self.template


def _parameters(pattern) -> tuple[list[tuple[str, str]], bool]:
    if isinstance(pattern, RoutePattern):
        return [
            (m.group("name"), m.group("converter") or "str") for m in _ROUTE_PARAMETER.finditer(str(pattern))
        ], False
    return [(name, "regex") for name in pattern.regex.groupindex], True


def all_routes() -> list[Route]:
    routes: list[Route] = []

    def walk(patterns, prefix: str, namespace: str | None, parameters: list, regex: bool) -> None:
        for entry in patterns:
            own, own_regex = _parameters(entry.pattern)
            text = str(entry.pattern)
            if own_regex:
                text = text.lstrip("^").removesuffix("$") if isinstance(entry, URLResolver) else text
            if isinstance(entry, URLResolver):
                inner = (
                    entry.namespace
                    if namespace is None
                    else (f"{namespace}:{entry.namespace}" if entry.namespace else namespace)
                )
                walk(entry.url_patterns, prefix + text, inner, parameters + own, regex or own_regex)
            elif isinstance(entry, URLPattern):
                name = None
                if entry.name:
                    name = f"{namespace}:{entry.name}" if namespace else entry.name
                template = prefix + (text.lstrip("^") if own_regex else text)
                routes.append(Route(template, name, entry.callback, tuple(parameters + own), regex or own_regex))

    walk(get_resolver().url_patterns, "", None, [], False)
    return routes
