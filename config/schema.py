"""What the OpenAPI schema says about answers that every API view can give, whatever its own
@extend_schema lists (a drf-spectacular postprocessing hook, SPECTACULAR_SETTINGS).

The framework answers these on its own, so each operation documents them:
- 400 where the operation reads a body or query parameters (malformed JSON, a refused field),
- 401 where it needs credentials,
- 404 where its path names a resource (an unknown id is the same 404 as one that is not yours)
  and where it is paginated (a `page` past the last one),
- 415 where it reads a body (a media type it does not parse),
- 429 everywhere (DEFAULT_THROTTLE_CLASSES, and the views' own throttles).
Every 400 is the one validation shape of config.api (detail, code, errors, error_codes: `ApiValidationError`),
every other refusal the refusal shape, `Refusal` (config.refusals.RefusalSerializer). A view
lists its own refusals (403, 409, 413, …) with `refusal_response(description)`.
"""

from drf_spectacular.utils import OpenApiResponse

from config.refusals import RefusalSerializer

# The component drf-spectacular makes of RefusalSerializer; the hook adds it when no view used it.
ERROR = "Refusal"
VALIDATION_ERROR = "ApiValidationError"

ERROR_CODES = {
    "type": "object",
    "additionalProperties": {"type": "array", "items": {"type": "string"}},
    "description": "Beside `errors`, the same keys: one stable code per message, in the same order "
    "(`required`, `max_length`, `email_taken`, …).",
}

SCHEMAS = {
    ERROR: {
        "type": "object",
        "description": "The schema of every refusal the API answers (4xx).",
        "properties": {
            "detail": {"type": "string", "description": "A sentence for people."},
            "code": {"type": "string", "description": "Stable, for programs."},
            "errors": {
                "type": "object",
                "additionalProperties": {"type": "array", "items": {"type": "string"}},
                "description": "The inputs refused (`non_field_errors` for the input as a whole), each with its "
                "messages.",
            },
            "error_codes": ERROR_CODES,
        },
        "required": ["detail", "code"],
    },
    VALIDATION_ERROR: {
        "type": "object",
        "properties": {
            "detail": {"type": "string", "description": "A sentence for people."},
            "code": {
                "type": "string",
                "description": "Stable, for programs: the rule that refused, else the code its field errors share, "
                "else `invalid`.",
            },
            "errors": {
                "type": "object",
                "additionalProperties": {"type": "array", "items": {"type": "string"}},
                "description": "Messages per refused field; `non_field_errors` for the input as a whole.",
            },
            "error_codes": ERROR_CODES,
        },
        "required": ["detail", "code", "errors", "error_codes"],
    },
}

DESCRIPTIONS = {
    "400": "Invalid input; `errors` lists it by field.",
    "401": "Missing, invalid, expired or revoked credentials.",
    "404": "No such resource, or not yours.",
    "415": "The body is not in a media type this operation reads.",
    "429": "Too many requests; see Retry-After.",
}
METHODS = {"get", "put", "post", "patch", "delete", "head", "options", "trace"}


def _body(component: str) -> dict:
    return {"application/json": {"schema": {"$ref": f"#/components/schemas/{component}"}}}


def _framework_codes(operation: dict) -> set[str]:
    parameters = operation.get("parameters", [])
    codes = {"429"}
    if "requestBody" in operation:
        codes |= {"400", "415"}
    if any(parameter.get("in") == "query" for parameter in parameters):
        codes.add("400")
    if any(parameter.get("in") == "path" or parameter.get("name") == "page" for parameter in parameters):
        codes.add("404")
    security = operation.get("security")
    if security and {} not in security:
        codes.add("401")
    return codes


def document_framework_errors(result, generator, request, public):
    schemas = result.setdefault("components", {}).setdefault("schemas", {})
    for name, schema in SCHEMAS.items():
        schemas.setdefault(name, schema)
    for path_item in result.get("paths", {}).values():
        for method, operation in path_item.items():
            if method not in METHODS:
                continue
            responses = operation.setdefault("responses", {})
            for code in _framework_codes(operation):
                responses.setdefault(code, {"description": DESCRIPTIONS[code]})
            if "400" in responses:
                responses["400"]["content"] = _body(VALIDATION_ERROR)
            for code, response in responses.items():
                if code.startswith(("4", "5")) and "content" not in response:
                    response["content"] = _body(ERROR)
    return result


def refusal_response(description: str) -> OpenApiResponse:
    """An @extend_schema response for a refusal (403, 404, 409, 413, …) in the one refusal shape,
    config.refusals.RefusalSerializer; a 400's body becomes the validation shape (see above)."""
    return OpenApiResponse(RefusalSerializer, description=description)
