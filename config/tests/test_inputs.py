"""The input gate (config.inputs): what it lets through and what it refuses, with which code."""

import json

import pytest
from django.core.exceptions import ValidationError

from config import inputs


@pytest.mark.parametrize(
    "text",
    ['{"type": "ping"}', "[1, 2, 3]", '"plain"', '{"emoji": "\\ud83d\\ude00", "accent": "é"}', "7"],
)
def test_ordinary_json_passes_unchanged(text):
    assert inputs.parse_json(text, max_chars=1000) == json.loads(text)


@pytest.mark.parametrize(
    ("text", "code"),
    [
        ("[" * 30_000 + "]" * 30_000, inputs.TOO_DEEP),  # past json's own recursion limit
        ("[" * 40 + "]" * 40, inputs.TOO_DEEP),  # within it, past the gate's
        ('{"a": ' * 33 + "1" + "}" * 33, inputs.TOO_DEEP),
        ('{"body": "\\ud800"}', inputs.INVALID_TEXT),  # a lone high surrogate
        ('{"\\udfff": 1}', inputs.INVALID_TEXT),  # in a key
        ('["ok", ["\\ud83d"]]', inputs.INVALID_TEXT),  # half of a pair
        ("NaN", inputs.MALFORMED),
        ('{"seq": Infinity}', inputs.MALFORMED),
        ("{not json", inputs.MALFORMED),
        ("1" * 5000, inputs.MALFORMED),  # past Python's int digit limit
        ("x" * 1001, inputs.TOO_LARGE),
    ],
)
def test_what_the_gate_refuses_gets_a_stable_code(text, code):
    with pytest.raises(inputs.InputError) as refused:
        inputs.parse_json(text, max_chars=max(1000, len(text)) if code != inputs.TOO_LARGE else 1000)

    assert refused.value.code == code
    assert refused.value.detail


def test_nesting_up_to_the_limit_passes():
    text = "[" * inputs.MAX_DEPTH + "]" * inputs.MAX_DEPTH

    assert inputs.parse_json(text, max_chars=1000)


def test_bytes_that_are_not_utf8_are_malformed():
    with pytest.raises(inputs.InputError) as refused:
        inputs.parse_json(b'{"a": "\xff"}', max_chars=100)

    assert refused.value.code == inputs.MALFORMED


@pytest.mark.parametrize(("value", "expected"), [(7, 7), ("7", 7), ("123456789", 123456789), (2**63 - 1, 2**63 - 1)])
def test_an_id_is_a_positive_integer_or_its_ascii_digits(value, expected):
    assert inputs.parse_id(value) == expected


@pytest.mark.parametrize(
    "value",
    [
        "²",
        "٣",
        "१२",
        "1²",
        "07",
        "0",
        0,
        -1,
        "-1",
        "1.0",
        1.0,
        True,
        False,
        None,
        "",
        " 1",
        "1\n",
        "1_000",
        2**63,
        str(2**63),
        "9" * 30,
        [1],
        {"id": 1},
    ],
)
def test_anything_else_is_no_id(value):
    assert inputs.parse_id(value) is None


@pytest.mark.django_db
@pytest.mark.parametrize("value", [str(2**64), "²", "0", "x"])
def test_a_posted_id_that_is_no_database_id_is_an_invalid_choice_not_a_500(value):
    from config.inputs import ModelIdsChoiceField
    from experts.models import Category

    field = ModelIdsChoiceField(queryset=Category.objects.all())

    with pytest.raises(ValidationError) as refused:
        field.clean([value])
    assert refused.value.code in {"invalid_choice", "invalid_pk_value"}
