"""The one gate for JSON from clients: live socket frames and API request bodies.

`json.loads` alone takes what the code behind it cannot: nesting thousands deep (a
RecursionError, far from any handler that could answer it), lone UTF-16 surrogates ("\\ud800",
which no UTF-8 encoder and so no database column takes), NaN and Infinity (not JSON), and
documents of any size. And an id checked with `str.isdigit()` lets the digits of every script
through ("²".isdigit() is True; int("²") raises). So every JSON text a client sends is read by
`parse_json`, and every id a client names is read by `parse_id`:

- `InputError` is a config.refusals.Refusal (400); the live consumer (live.consumer) answers
  it with an error frame carrying its `code`, counted as a bad frame;
- the API's JSON parser (`GatedJSONParser`, DEFAULT_PARSER_CLASSES) answers it with a 400 whose
  body has `detail` and `errors`, like every other refused input of the API.
"""

import json
import re

from django import forms
from django.conf import settings
from django.core.exceptions import ValidationError
from rest_framework.exceptions import ParseError
from rest_framework.parsers import JSONParser
from rest_framework.settings import api_settings

from config.refusals import Refusal

# Deeper than anything Lyceum sends or accepts (a resync frame is 3 levels, an API body 2 or 3).
MAX_DEPTH = 32
# The largest id any table can hold (a signed 64-bit key): larger ones are no id at all, and
# SQLite raises OverflowError on them instead of finding nothing.
MAX_ID = 2**63 - 1

# Decimal ASCII digits only: never \d (which matches "٣" and, through isdigit, "²").
_ID_TEXT = re.compile(r"[1-9][0-9]{0,18}")
_SURROGATE = re.compile("[\ud800-\udfff]")

# The error codes, stable for clients (error frames) and tests.
TOO_LARGE = "too_large"
MALFORMED = "malformed_json"
TOO_DEEP = "too_deep"
INVALID_TEXT = "invalid_text"
NOT_AN_OBJECT = "not_an_object"


class InputError(Refusal, ValueError):
    """Client input the gate refuses (config.refusals.Refusal, 400): `code` is stable, `detail`
    (its `message`) is for people."""

    def __init__(self, code: str, detail: str):
        super().__init__(detail, code=code)
        self.detail = detail


def _refuse_constant(name: str):
    raise InputError(MALFORMED, f"{name} is not a JSON value.")


def parse_json(text: str | bytes, *, max_chars: int, max_depth: int = MAX_DEPTH) -> object:
    """The value of a JSON text, or InputError: longer than `max_chars` (characters, or bytes
    when given bytes), not UTF-8, not strict JSON, containers nested deeper than `max_depth`,
    or a string (key or value) holding a lone surrogate."""
    if len(text) > max_chars:
        raise InputError(TOO_LARGE, f"The JSON text is limited to {max_chars} characters.")
    if isinstance(text, bytes):
        try:
            text = text.decode("utf-8")
        except UnicodeDecodeError:
            raise InputError(MALFORMED, "The JSON text is not valid UTF-8.") from None
    try:
        value = json.loads(text, parse_constant=_refuse_constant)
    except RecursionError:
        raise InputError(TOO_DEEP, f"JSON may be nested at most {max_depth} levels deep.") from None
    except InputError:
        raise
    except ValueError:
        raise InputError(MALFORMED, "The text is not valid JSON.") from None
    _check_value(value, max_depth)
    return value


def _check_value(value: object, max_depth: int) -> None:
    """Depth and strings, walked without recursion (the value may be as deep as json allows)."""
    stack: list[tuple[object, int]] = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, str):
            if not item.isascii() and _SURROGATE.search(item):
                raise InputError(INVALID_TEXT, "Text must not contain lone UTF-16 surrogates.")
        elif isinstance(item, dict | list):
            if depth > max_depth:
                raise InputError(TOO_DEEP, f"JSON may be nested at most {max_depth} levels deep.")
            if isinstance(item, dict):
                stack.extend((key, depth) for key in item)
                stack.extend((child, depth + 1) for child in item.values())
            else:
                stack.extend((child, depth + 1) for child in item)


def parse_id(value: object) -> int | None:
    """A database id from a client: a JSON integer (not a boolean) or a string of ASCII decimal
    digits without a leading zero, from 1 to MAX_ID. None for anything else."""
    if isinstance(value, str):
        if not _ID_TEXT.fullmatch(value):
            return None
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int) or not 0 < value <= MAX_ID:
        return None
    return value


class GatedJSONParser(JSONParser):
    """DRF's JSON parser behind the gate: what the gate refuses is a 400 with `detail` and
    `errors`, for anonymous routes too (token, refresh, logout), never a RecursionError's 500.
    A body is an object of fields: `null`, a list or a bare number is refused here, once, so
    no view meets a `request.data` that is not a mapping.
    The size limit is Django's DATA_UPLOAD_MAX_MEMORY_SIZE (DRF reads a JSON body through
    request.body, which enforces it); config.api answers it as the same kind of 400."""

    def parse(self, stream, media_type=None, parser_context=None):
        data = stream.read()
        limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
        try:
            value = parse_json(data, max_chars=limit if limit is not None else len(data))
        except InputError as error:
            raise refused_body(error.detail, code=error.code) from None
        if not isinstance(value, dict):  # every body the API reads is an object of fields
            raise refused_body("The body must be a JSON object of fields.", code=NOT_AN_OBJECT)
        return value


def refused_body(detail: str, *, code: str) -> ParseError:
    """The API's answer to a body it cannot read: 400, `detail` and `errors`."""
    message = f"JSON parse error - {detail}"
    return ParseError({"detail": message, "errors": {api_settings.NON_FIELD_ERRORS_KEY: [message]}}, code=code)


class ModelIdsChoiceField(forms.ModelMultipleChoiceField):
    """Django's multiple choice of rows by id, for a form a client posts: an id that is not a
    database id at all (past MAX_ID, another script's digits) is the same "not one of the
    choices" error as an unknown one, where Django would hand it to SQLite and get an
    OverflowError (a 500)."""

    def clean(self, value):
        for item in value if isinstance(value, list | tuple) else ():
            if parse_id(item) is None:
                raise ValidationError(
                    self.error_messages["invalid_choice"], code="invalid_choice", params={"value": item}
                )
        return super().clean(value)
