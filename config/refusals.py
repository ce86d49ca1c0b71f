"""One refusal type: a rule of ours said no to what a person asked.

Every service raises `Refusal` (or a subclass that only adds its app's table of statuses) with

- `message`: a sentence for people, shown as it is;
- `code`: stable, for programs (the API's `code`, the socket's error frame `code`);
- `field`: the input it is about, when there is one (e.g. "files");
- `status`: the HTTP status the API answers with: given at the raise site, else the class's
  `status_by_code` entry for the code, else 400;
- `retry_after`: seconds, for a refusal that passes with time (a lock-out, a dependency that
  is down): the Retry-After header of every answer that carries the refusal's status
  (`with_retry_after`).

It is mapped once per way out, here:

- the API: `config.api.exception_handler` answers `refusal.body()` with `refusal.status`;
- a page: `config.middleware.RefusalMiddleware` answers a Refusal a view lets through: the
  message (`tell`) and a redirect back (`back_url`); a page's script that asks for JSON gets
  the body and status, and config.unavailable.Unavailable the 503 page. A view that
  re-renders a form puts the refusal on it instead, with `add_refusal_to_form`;
- the socket: `refusal.frame(**extra)` is the error frame.

A refused input changes nothing: raise before writing, or inside the transaction that is
rolled back.
"""

from collections.abc import Mapping
from typing import ClassVar
from urllib.parse import urlsplit

from django import forms
from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import HttpRequest
from django.utils.http import url_has_allowed_host_and_scheme
from rest_framework import serializers
from rest_framework.settings import api_settings

BAD_REQUEST = 400


class Refusal(Exception):
    """A rule refused the action; see the module docstring for the fields and where it goes."""

    status_by_code: ClassVar[Mapping[str, int]] = {}

    def __init__(
        self,
        message: str,
        *,
        code: str,
        field: str | None = None,
        status: int | None = None,
        retry_after: int | None = None,
    ):
        super().__init__(message)
        self.message = message
        self.code = code
        self.field = field
        self.status = status or self.status_by_code.get(code, BAD_REQUEST)
        self.retry_after = retry_after

    def body(self) -> dict:
        """The API's one refusal shape (config.api): detail, code and, on a 400 or when the
        refusal names an input, errors and error_codes."""
        body: dict = {"detail": self.message, "code": self.code}
        field = self.field or (api_settings.NON_FIELD_ERRORS_KEY if self.status == BAD_REQUEST else None)
        if field:
            body["errors"] = {field: [self.message]}
            body["error_codes"] = {field: [self.code]}
        return body

    def frame(self, **extra) -> dict:
        """The socket's error frame, with the refusal's `field` when it names an input; `extra`
        (e.g. client_id, conversation) tells the client which of its frames was refused. None
        values are left out."""
        frame = {"type": "error", "code": self.code, "detail": self.message}
        if self.field:
            frame["field"] = self.field
        frame.update({key: value for key, value in extra.items() if value is not None})
        return frame


def with_retry_after(response, refusal: Refusal):
    """`response` with the refusal's Retry-After header when it has a `retry_after` (each way
    out that answers a refusal with a status of its own: the API, a page's JSON, the 503 page)."""
    if refusal.retry_after:
        response["Retry-After"] = str(refusal.retry_after)
    return response


def field_error(field: str, message: str, *, code: str) -> ValidationError:
    """A refused input of a form-like service (several fields, each with its own errors): a
    Django ValidationError keyed by `field`, whose message keeps its `code` (the API's
    `error_codes`; Django drops a `code=` given next to a dict)."""
    return ValidationError({field: ValidationError(message, code=code)})


def tell(request: HttpRequest, refusal: Refusal) -> None:
    """Show a refusal on the next page the person sees."""
    messages.error(request, refusal.message)


def add_refusal_to_form(form: forms.BaseForm, refusal: Refusal, *, fields: Mapping[str, str] | None = None) -> None:
    """Put a refusal on the form being re-rendered: on its field when the form has that field
    (`fields` renames a service's field to the form's), else on the form as a whole."""
    name = (fields or {}).get(refusal.field or "", refusal.field)
    form.add_error(name if name in form.fields else None, ValidationError(refusal.message, code=refusal.code))


def on_this_site(request: HttpRequest, target: str) -> bool:
    """Whether `target` is a URL of this site to send the browser to: a path ("/…"), or an
    absolute URL of this very host (HTTPS when the request is). A bare word ("evil", which
    django.shortcuts.redirect would take for a view name) or a relative path is not."""
    if not target or not url_has_allowed_host_and_scheme(
        target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return False
    parts = urlsplit(target)
    return target.startswith("/") or bool(parts.scheme and parts.netloc)


def safe_next(request: HttpRequest, default: str) -> str:
    """The `next` a form or link carries (POST, else GET), if it stays on this site; else `default`."""
    target = request.POST.get("next") or request.GET.get("next") or ""
    return target if on_this_site(request, target) else default


def back_url(request: HttpRequest) -> str:
    """Where a refused page action goes back to: the form's own `next` (POST only: a link's
    query cannot choose it) if it stays on this site, else the page the request came from
    (the Referer, which browsers send within the site: SECURE_REFERRER_POLICY is same-origin)
    if it is on this site and, for a GET, not this very page; else home (never a redirect
    loop, nor a GET of a POST-only action)."""
    target = request.POST.get("next", "")
    if on_this_site(request, target):
        return target
    referer = request.headers.get("Referer", "")
    if on_this_site(request, referer) and (request.method == "POST" or referer != request.build_absolute_uri()):
        return referer
    return "/"


class RefusalSerializer(serializers.Serializer):
    """The schema of every refusal the API answers (4xx)."""

    detail = serializers.CharField(help_text="A sentence for people.")
    code = serializers.CharField(help_text="Stable, for programs: the refusal's code (config.api).")
    errors = serializers.DictField(
        child=serializers.ListField(child=serializers.CharField()),
        required=False,
        help_text="The inputs refused (`non_field_errors` for the input as a whole), each with its messages.",
    )
    error_codes = serializers.DictField(
        child=serializers.ListField(child=serializers.CharField()),
        required=False,
        help_text="Beside `errors`, the same keys: one stable code per message, in the same order.",
    )
