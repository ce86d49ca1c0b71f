"""API conventions shared by every app's api.py: errors are always JSON with a `detail`."""

from django.core.exceptions import RequestDataTooBig
from django.core.exceptions import ValidationError as DjangoValidationError
from rest_framework import serializers, status
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler

from config import inputs


def exception_handler(exc, context):
    if isinstance(exc, RequestDataTooBig):
        exc = inputs.refused_body(str(exc), code=inputs.TOO_LARGE)
    if isinstance(exc, DjangoValidationError):
        exc = serializers.ValidationError(exc.message_dict if hasattr(exc, "error_dict") else {"detail": exc.messages})
    response = drf_exception_handler(exc, context)
    if response is None:
        return None
    if isinstance(response.data, dict) and "detail" not in response.data:
        response.data = {"detail": "Please correct the errors below.", "errors": response.data}
    elif isinstance(response.data, list):
        response.data = {"detail": " ".join(str(item) for item in response.data)}
    return response


def error(detail: str, code: int = status.HTTP_400_BAD_REQUEST) -> Response:
    return Response({"detail": detail}, status=code)
