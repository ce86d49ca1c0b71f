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
