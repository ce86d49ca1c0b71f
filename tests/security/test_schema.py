"""The OpenAPI schema documents the answers the framework gives on every operation."""

import pytest
from drf_spectacular.generators import SchemaGenerator

pytestmark = pytest.mark.django_db


@pytest.fixture(scope="module")
def operations():
    schema = SchemaGenerator().get_schema(request=None, public=True)
    return [
        (f"{method.upper()} {path}", operation)
        for path, item in schema["paths"].items()
        for method, operation in item.items()
    ]


def test_every_operation_documents_429(operations):
    assert [name for name, op in operations if "429" not in op["responses"]] == []


def test_every_operation_with_a_path_value_documents_404(operations):
    missing = [
        name
        for name, op in operations
        if any(p["in"] == "path" for p in op.get("parameters", [])) and "404" not in op["responses"]
    ]
    assert missing == []


def test_every_operation_that_reads_a_body_documents_400_and_415(operations):
    missing = [name for name, op in operations if "requestBody" in op and not {"400", "415"} <= set(op["responses"])]
    assert missing == []


def test_every_400_is_the_validation_shape_with_errors(operations):
    shapes = {
        op["responses"]["400"]["content"]["application/json"]["schema"]["$ref"]
        for _, op in operations
        if "400" in op["responses"]
    }
    assert shapes == {"#/components/schemas/ApiValidationError"}


def test_operations_that_need_credentials_document_401(operations):
    missing = [
        name
        for name, op in operations
        if op.get("security") and {} not in op["security"] and "401" not in op["responses"]
    ]
    assert missing == []


def _integers(schema, components, path):
    """(path, schema) of every integer a client may send in `schema`, through $refs and nesting."""
    if "$ref" in schema:
        schema = components[schema["$ref"].rsplit("/", 1)[-1]]
    if schema.get("readOnly"):
        return
    if schema.get("type") == "integer":
        yield path, schema
    for name, child in schema.get("properties", {}).items():
        yield from _integers(child, components, f"{path}.{name}")
    if "items" in schema:
        yield from _integers(schema["items"], components, f"{path}[]")
    for key in ("allOf", "oneOf", "anyOf"):
        for child in schema.get(key, []):
            yield from _integers(child, components, path)


def test_every_integer_a_client_sends_is_bounded_by_the_largest_database_id():
    """A number past a BIGINT reaches SQLite as an OverflowError (a 500): every integer in a
    request body or a query carries a `maximum`, so DRF refuses it as a field error. A new
    integer field without max_value fails here."""
    from config.inputs import MAX_ID

    schema = SchemaGenerator().get_schema(request=None, public=True)
    components = schema["components"]["schemas"]
    sent = []
    for path, item in schema["paths"].items():
        for method, operation in item.items():
            name = f"{method.upper()} {path}"
            for parameter in operation.get("parameters", []):
                if parameter["in"] == "query":
                    sent.extend(_integers(parameter["schema"], components, f"{name} ?{parameter['name']}"))
            for media in operation.get("requestBody", {}).get("content", {}).values():
                sent.extend(_integers(media["schema"], components, f"{name} body"))
    # DRF's ?page never reaches a query: Django's Paginator answers a page past the last a 404.
    unbounded = sorted(
        where for where, integer in sent if integer.get("maximum", MAX_ID + 1) > MAX_ID and not where.endswith(" ?page")
    )
    assert unbounded == []
    assert any("experts/me/ body.categories[]" in where for where, _ in sent)


def test_every_paginated_list_documents_404_for_a_page_past_the_last(operations):
    """Django's Paginator answers ?page=N past the last page "Invalid page." with a 404."""
    missing = [
        name
        for name, op in operations
        if any(p["in"] == "query" and p["name"] == "page" for p in op.get("parameters", []))
        and "404" not in op["responses"]
    ]
    assert missing == []


def test_every_refusal_other_than_400_has_the_one_refusal_body(operations):
    shapes = {
        op["responses"][code]["content"]["application/json"]["schema"]["$ref"]
        for _, op in operations
        for code in op["responses"]
        if code.startswith("4") and code != "400"
    }
    assert shapes == {"#/components/schemas/Refusal"}


def test_the_refusal_component_is_refusal_serializer():
    from config.refusals import RefusalSerializer

    schema = SchemaGenerator().get_schema(request=None, public=True)
    refusal = schema["components"]["schemas"]["Refusal"]
    assert set(refusal["properties"]) == set(RefusalSerializer().fields) == {"detail", "code", "errors", "error_codes"}
    assert sorted(refusal["required"]) == ["code", "detail"]


def test_every_400_names_its_codes():
    schema = SchemaGenerator().get_schema(request=None, public=True)
    validation = schema["components"]["schemas"]["ApiValidationError"]
    assert validation["required"] == ["detail", "code", "errors", "error_codes"]
    assert validation["properties"]["error_codes"]["additionalProperties"]["items"] == {"type": "string"}


def _request_strings(schema):
    """(where, property schema, required) of every string field of every request body."""
    components = schema["components"]["schemas"]
    for path, item in schema["paths"].items():
        for method, operation in item.items():
            for media in operation.get("requestBody", {}).get("content", {}).values():
                body = media["schema"]
                if "$ref" in body:
                    body = components[body["$ref"].rsplit("/", 1)[-1]]
                for name, field in body.get("properties", {}).items():
                    if len(field.get("allOf", [])) == 1:  # an enum component, described in place
                        field = {**field, **field["allOf"][0]}
                    if "$ref" in field:
                        field = {**field, **components[field["$ref"].rsplit("/", 1)[-1]]}
                    if field.get("type") == "string":
                        yield f"{method.upper()} {path} {name}", field, name in body.get("required", [])


def test_every_required_request_string_says_it_may_not_be_blank():
    """DRF's CharField refuses "" unless allow_blank: the schema says so with minLength 1
    (COMPONENT_SPLIT_REQUEST); a UUID, a time, a file or a choice says it by its format or enum."""
    schema = SchemaGenerator().get_schema(request=None, public=True)
    blank_allowed = [
        where
        for where, field, required in _request_strings(schema)
        if required and field.get("minLength", 0) < 1 and "format" not in field and "enum" not in field
    ]
    assert blank_allowed == []


def test_request_files_are_binary_and_time_zones_are_a_choice():
    schema = SchemaGenerator().get_schema(request=None, public=True)
    fields = {where: field for where, field, _ in _request_strings(schema)}
    assert fields["POST /api/v1/me/avatar/ avatar"]["format"] == "binary"
    assert "Europe/Rome" in fields["PATCH /api/v1/me/ time_zone"]["enum"]
    assert "Europe/Rome" in fields["POST /api/v1/auth/register/ time_zone"]["enum"]


def test_the_chat_patterns_are_the_rules_the_chat_service_checks():
    import re

    from chat.services.common import CLIENT_ID_RE

    schema = SchemaGenerator().get_schema(request=None, public=True)
    fields = {where: field for where, field, _ in _request_strings(schema)}
    assert fields["POST /api/v1/chat/conversations/{id}/messages/ client_id"]["pattern"] == CLIENT_ID_RE.pattern
    body = re.compile(fields["PATCH /api/v1/chat/messages/{id}/ body"]["pattern"])
    assert body.search("hi there") and not body.search(" \n ") and not body.search("hi\x00")


def test_a_query_choice_is_an_enum():
    from chat.emoji import EMOJI

    schema = SchemaGenerator().get_schema(request=None, public=True)
    (emoji,) = [
        p
        for p in schema["paths"]["/api/v1/chat/messages/{id}/reactions/"]["delete"]["parameters"]
        if p["name"] == "emoji"
    ]
    assert set(emoji["schema"]["enum"]) == {value for value, _ in EMOJI}
