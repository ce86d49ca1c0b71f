"""API conventions shared by every app's api.py: every answer under /api/ is JSON, and every
refusal has one shape.

    {"detail": "A sentence for people.", "code": "stable_code", "errors": {"field": ["…"]}}

`detail` is always there, `code` when a rule names the refusal, and `errors` on every 400: the
fields that were refused, each with its messages (`non_field_errors` for a refusal of the
input as a whole, as DRF names it). `error_body` is the one function that gives a refusal that
shape; the exception handler (raised errors), `ApiJSONRenderer` (responses views build
themselves) and `config.middleware.ApiErrorsAsJsonMiddleware` (errors Django answers before or
around DRF: an unmatched path, a body too large) all use it.
"""

from http import HTTPStatus

from django.core.exceptions import RequestDataTooBig
from django.core.exceptions import ValidationError as DjangoValidationError
from rest_framework import serializers, status
from rest_framework.renderers import JSONRenderer
from rest_framework.response import Response
from rest_framework.settings import api_settings
from rest_framework.views import exception_handler as drf_exception_handler

from config import inputs
from config.refusals import Refusal

DEFAULT_DETAIL = "Please correct the errors below."


def _text(value) -> str:
    if isinstance(value, list | tuple):
        return " ".join(_text(item) for item in value)
    if isinstance(value, dict):
        return " ".join(_text(item) for item in value.values())
    return str(value)


def _messages(value) -> list[str]:
    if isinstance(value, list | tuple):
        return [message for item in value for message in _messages(item)]
    if isinstance(value, dict):  # a nested serializer's errors: keep the sentences
        return [message for item in value.values() for message in _messages(item)]
    return [str(value)]


def error_body(data, status_code: int) -> dict:
    """Any error payload (DRF's detail, a field dict, a list, a sentence) in the one shape."""
    if isinstance(data, dict) and "detail" in data:
        body = {"detail": _text(data["detail"])}
        if isinstance(data.get("code"), str) and data["code"]:
            body["code"] = data["code"]
        errors = data.get("errors")
        if isinstance(errors, dict):
            body["errors"] = {str(field): _messages(value) for field, value in errors.items()}
    elif isinstance(data, dict):  # field -> messages, as a serializer refuses
        body = {"detail": DEFAULT_DETAIL, "errors": {str(field): _messages(value) for field, value in data.items()}}
    elif data is None or data == "" or data == []:
        body = {"detail": _phrase(status_code)}
    else:
        body = {"detail": _text(data)}
    if status_code == status.HTTP_400_BAD_REQUEST and "errors" not in body:
        body["errors"] = {api_settings.NON_FIELD_ERRORS_KEY: [body["detail"]]}
    return body


def _phrase(status_code: int) -> str:
    try:
        return HTTPStatus(status_code).phrase + "."
    except ValueError:
        return "Error."


def exception_handler(exc, context):
    if isinstance(exc, Refusal):
        response = Response(error_body(exc.body(), exc.status), status=exc.status)
        if exc.retry_after:
            response["Retry-After"] = str(exc.retry_after)
        return response
    if isinstance(exc, RequestDataTooBig):
        exc = inputs.refused_body(str(exc), code=inputs.TOO_LARGE)
    if isinstance(exc, DjangoValidationError):
        exc = serializers.ValidationError(exc.message_dict if hasattr(exc, "error_dict") else exc.messages)
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


def error(detail: str, code: int = status.HTTP_400_BAD_REQUEST) -> Response:
    return Response({"detail": detail}, status=code)
