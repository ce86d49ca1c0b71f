"""One refusal type: a rule of ours said no to what a person asked.

Every service raises `Refusal` (or a subclass that only adds its app's table of statuses) with

- `message`: a sentence for people, shown as it is;
- `code`: stable, for programs (the API's `code`, the socket's error frame `code`);
- `field`: the input it is about, when there is one (e.g. "files");
- `status`: the HTTP status the API answers with: given at the raise site, else the class's
  `status_by_code` entry for the code, else 400.

It is mapped once per way out, here:

- the API: `config.api.exception_handler` answers `refusal.body()` with `refusal.status`;
- a page: `tell(request, refusal)` puts the message in Django's messages framework;
- the socket: `refusal.frame(**extra)` is the error frame.

A refused input changes nothing: raise before writing, or inside the transaction that is
rolled back.
"""

from collections.abc import Mapping
from typing import ClassVar

from django.contrib import messages
from django.http import HttpRequest
from rest_framework import serializers
from rest_framework.settings import api_settings

BAD_REQUEST = 400


class Refusal(Exception):
    """A rule refused the action; see the module docstring for the fields and where it goes."""

    status_by_code: ClassVar[Mapping[str, int]] = {}

    def __init__(self, message: str, *, code: str, field: str | None = None, status: int | None = None):
        super().__init__(message)
        self.message = message
        self.code = code
        self.field = field
        self.status = status or self.status_by_code.get(code, BAD_REQUEST)

    def body(self) -> dict:
        """The API's one refusal shape (config.api): detail, code and, on a 400 or when the
        refusal names an input, errors."""
        body: dict = {"detail": self.message, "code": self.code}
        if self.field:
            body["errors"] = {self.field: [self.message]}
        elif self.status == BAD_REQUEST:
            body["errors"] = {api_settings.NON_FIELD_ERRORS_KEY: [self.message]}
        return body

    def frame(self, **extra) -> dict:
        """The socket's error frame; `extra` (e.g. client_id, conversation) tells the client
        which of its frames was refused. None values are left out."""
        frame = {"type": "error", "code": self.code, "detail": self.message}
        frame.update({key: value for key, value in extra.items() if value is not None})
        return frame


def tell(request: HttpRequest, refusal: Refusal) -> None:
    """Show a refusal on the next page the person sees."""
    messages.error(request, refusal.message)


class RefusalSerializer(serializers.Serializer):
    """The schema of every refusal the API answers (4xx)."""

    detail = serializers.CharField(help_text="A sentence for people.")
    code = serializers.CharField(required=False, help_text="Stable, for programs.")
    errors = serializers.DictField(
        child=serializers.ListField(child=serializers.CharField()),
        required=False,
        help_text="The inputs refused (`non_field_errors` for the input as a whole), each with its messages.",
    )
