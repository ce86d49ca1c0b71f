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
