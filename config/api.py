"""API conventions shared by every app's api.py: every answer under /api/ is JSON, and every
refusal has one shape.

    {"detail": "A sentence for people.", "code": "stable_code",
     "errors": {"field": ["…"]}, "error_codes": {"field": ["stable_code"]}}

- `detail` is always there: a sentence for people.
- `code` is always there: stable, for programs (clients switch on it, never on a sentence). A
  rule's refusal names its own (`duplicate`, `slot_in_past`); a 400 of field errors answers the
  code its field errors share (`email_taken` when that is the one error), else `invalid`; what
  the framework refuses answers DRF's code (`not_authenticated`, `not_found`, `throttled`, …),
  else the status's (`STATUS_CODES`).
- `errors`, on every 400 and whenever a refusal names an input: the fields that were refused,
  each with its messages (`non_field_errors` for a refusal of the input as a whole, as DRF
  names it); nested errors (a list's items, a nested object) are flattened into their field's
  list.
- `error_codes`, wherever `errors` is: the same keys and, index for index, one code per message
  (`required`, `max_length`, `email_taken`), as DRF's `ValidationError.get_codes()` gives them
  and Django's `ValidationError.code`; `invalid` where the raiser named none.

`errors` stays a list of sentences (as it was before the codes came), so the codes are a
parallel map rather than objects in its place: DRF's own `get_codes()` shape, what Zulip's
`code` next to `msg` and GitHub's per-field `code` carry, without breaking a client that reads
the sentences.

`error_body` is the one function that gives a refusal that shape; the exception handler (raised
errors), `ApiJSONRenderer` (responses views build themselves) and
`config.middleware.ApiErrorsAsJsonMiddleware` (errors Django answers before or around DRF: an
unmatched path, a body too large) all use it.
"""

from collections.abc import Iterator
from http import HTTPStatus

from django.core.exceptions import RequestDataTooBig
from django.core.exceptions import ValidationError as DjangoValidationError
from rest_framework import serializers, status
from rest_framework.exceptions import ErrorDetail
from rest_framework.renderers import JSONRenderer
from rest_framework.response import Response
from rest_framework.settings import api_settings
from rest_framework.views import exception_handler as drf_exception_handler

from config import inputs
from config.refusals import Refusal, with_retry_after

DEFAULT_DETAIL = "Please correct the errors below."
# The code of a field error whose raiser named none, and of a 400 whose field errors differ.
INVALID = "invalid"
# The code of an answer nobody named, by status (DRF's default codes where DRF has one).
STATUS_CODES = {
    400: INVALID,
    401: "not_authenticated",
    403: "permission_denied",
    404: "not_found",
    405: "method_not_allowed",
    406: "not_acceptable",
    409: "conflict",
    413: inputs.TOO_LARGE,
    415: "unsupported_media_type",
    429: "throttled",
    500: "server_error",
}


def status_code_name(status_code: int) -> str:
    """The code of an answer with this status that nobody named."""
    if status_code in STATUS_CODES:
        return STATUS_CODES[status_code]
    return "server_error" if status_code >= 500 else "error"


def _code_of(value) -> str | None:
    code = getattr(value, "code", None)
    return code if isinstance(code, str) and code else None


def _text(value) -> str:
    if isinstance(value, list | tuple):
        return " ".join(_text(item) for item in value)
    if isinstance(value, dict):
        return " ".join(_text(item) for item in value.values())
    return str(value)


def _details(value) -> Iterator[tuple[str, str | None]]:
    """(message, code) of every error in `value`, nested ones (a nested serializer's, a list's
    items) flattened in order; the code is None where the raiser named none."""
    if isinstance(value, list | tuple):
        for item in value:
            yield from _details(item)
    elif isinstance(value, dict):
        for item in value.values():
            yield from _details(item)
    else:
        yield str(value), _code_of(value)


def _field_errors(errors: dict, given_codes=None, refusal_code: str | None = None) -> tuple[dict, dict]:
    """`errors` and `error_codes` of a field -> messages mapping. `given_codes` (a body that
    names them itself) are kept where they match the messages one for one; a message without a
    code has the code of the refusal it belongs to (`refusal_code`), else `invalid`."""
    messages: dict[str, list[str]] = {}
    codes: dict[str, list[str]] = {}
    for field, value in errors.items():
        pairs = list(_details(value))
        messages[str(field)] = [message for message, _ in pairs]
        codes[str(field)] = [code or refusal_code or INVALID for _, code in pairs]
        given = given_codes.get(field) if isinstance(given_codes, dict) else None
        if isinstance(given, list) and len(given) == len(pairs) and all(isinstance(c, str) and c for c in given):
            codes[str(field)] = list(given)
    return messages, codes


def _shared_code(error_codes: dict) -> str:
    every = {code for codes in error_codes.values() for code in codes}
    return every.pop() if len(every) == 1 else INVALID


def error_body(data, status_code: int) -> dict:
    """Any error payload (DRF's detail, a field dict, a list, a sentence) in the one shape."""
    body: dict
    if isinstance(data, dict) and "detail" in data:
        body = {"detail": _text(data["detail"])}
        code = data.get("code")
        if not (isinstance(code, str) and code):
            code = _code_of(data["detail"])
        if code:
            body["code"] = code
        errors = data.get("errors")
        if isinstance(errors, dict):
            body["errors"], body["error_codes"] = _field_errors(errors, data.get("error_codes"), body.get("code"))
    elif isinstance(data, dict) and data:  # field -> messages, as a serializer refuses
        body = {"detail": DEFAULT_DETAIL}
        body["errors"], body["error_codes"] = _field_errors(data)
        body["code"] = _shared_code(body["error_codes"])
    elif data is None or data == "" or data == [] or data == {}:
        body = {"detail": _phrase(status_code)}
    else:
        body = {"detail": _text(data)}
        codes = {code for _, code in _details(data) if code and code != INVALID}
        if len(codes) == 1:
            body["code"] = codes.pop()
    body.setdefault("code", status_code_name(status_code))
    if status_code == status.HTTP_400_BAD_REQUEST and "errors" not in body:
        body["errors"] = {api_settings.NON_FIELD_ERRORS_KEY: [body["detail"]]}
        body["error_codes"] = {api_settings.NON_FIELD_ERRORS_KEY: [body["code"]]}
    return {key: body[key] for key in ("detail", "code", "errors", "error_codes") if key in body}


def _phrase(status_code: int) -> str:
    try:
        return HTTPStatus(status_code).phrase + "."
    except ValueError:
        return "Error."


def _with_codes(error: DjangoValidationError):
    """Django's ValidationError as DRF's detail, keeping each message's code (DRF's
    ErrorDetail) that `message_dict` and `messages` would drop."""

    def details(errors) -> list[ErrorDetail]:
        return [ErrorDetail(message, code=item.code or INVALID) for item in errors for message in item.messages]

    if hasattr(error, "error_dict"):
        return {field: details(errors) for field, errors in error.error_dict.items()}
    return details(error.error_list)


def exception_handler(exc, context):
    if isinstance(exc, Refusal):
        return with_retry_after(Response(error_body(exc.body(), exc.status), status=exc.status), exc)
    if isinstance(exc, RequestDataTooBig):
        exc = inputs.refused_body(str(exc), code=inputs.TOO_LARGE)
    if isinstance(exc, DjangoValidationError):
        exc = serializers.ValidationError(_with_codes(exc))
    response = drf_exception_handler(exc, context)
    if response is None:
        return None
    response.data = error_body(response.data, response.status_code)
    return response


class ApiJSONRenderer(JSONRenderer):
    """DRF's JSON renderer; an error response (4xx/5xx) a view built itself gets the one shape."""

    def render(self, data, accepted_media_type=None, renderer_context=None):
        response = (renderer_context or {}).get("response")
        if response is not None and response.status_code >= 400:
            data = error_body(data, response.status_code)
        return super().render(data, accepted_media_type, renderer_context)


def error(detail: str, *, code: str, status_code: int = status.HTTP_400_BAD_REQUEST) -> Response:
    """A refusal a view answers itself, in the one shape, with its code."""
    return Response({"detail": detail, "code": code}, status=status_code)
