"""JSON Schemas generated from the model, shaped for the OpenAPI document.

Request bodies state what validation enforces: types, bounds, patterns,
enums, defaults (a field's title, help and examples are documented once, on
the ``Agent`` component). Responses state types and enums only: a stored row
may predate a rule, and the answer must still match its schema.

A default of null is not stated. A nullable field is written ``"type": ["string", "null"]`` beside its bounds
(not an ``anyOf``), as readers and generators of OpenAPI 3.1 expect.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel
from pydantic.json_schema import GenerateJsonSchema, JsonSchemaValue, models_json_schema
from pydantic_core import core_schema

REF_TEMPLATE = "#/components/schemas/{model}"
Schema = dict[str, Any]

_DOCUMENTATION = ("title", "description", "examples", "readOnly")
_BOUNDS = frozenset(
    {
        "minLength",
        "maxLength",
        "pattern",
        "minimum",
        "maximum",
        "exclusiveMinimum",
        "exclusiveMaximum",
        "minItems",
        "maxItems",
    }
)


class ApiJsonSchema(GenerateJsonSchema):
    """pydantic's generator, with flat nullable types and no titles made up from field names."""

    def field_title_should_be_set(self, schema: Any) -> bool:
        return False

    def nullable_schema(self, schema: core_schema.NullableSchema) -> JsonSchemaValue:
        inner = self.generate_inner(schema["schema"])
        if isinstance(inner.get("type"), str):
            flat = {**inner, "type": [inner["type"], "null"]}
            if "enum" in flat:
                flat["enum"] = [*flat["enum"], None]
            return flat
        return super().nullable_schema(schema)

    def dict_schema(self, schema: core_schema.DictSchema) -> JsonSchemaValue:
        """A mapping whose keys have a pattern: ``propertyNames`` and ``additionalProperties``
        (pydantic writes ``patternProperties``, which lets any key not matching pass)."""
        json_schema = super().dict_schema(schema)
        patterns = json_schema.get("patternProperties")
        if isinstance(patterns, dict) and len(patterns) == 1:
            del json_schema["patternProperties"]
            ((pattern, values),) = patterns.items()
            json_schema["propertyNames"] = {**json_schema.get("propertyNames", {}), "pattern": pattern}
            json_schema["additionalProperties"] = values
        return json_schema

    def default_schema(self, schema: core_schema.WithDefaultSchema) -> JsonSchemaValue:
        json_schema = super().default_schema(schema)
        # Not stated: "absent" means null on a nullable field, and is decided by the server on another.
        if "default" in json_schema and json_schema["default"] is None:
            del json_schema["default"]
        return json_schema


def request_schema(model: type[BaseModel], *, defaults: bool = True) -> Schema:
    """The JSON Schema of a request body: every rule validation enforces that JSON Schema can state."""
    schema = model.model_json_schema(
        mode="validation", schema_generator=ApiJsonSchema, ref_template=REF_TEMPLATE
    )
    schema.pop("title", None)
    schema = dict(_inline(schema, schema.pop("$defs", {})))
    for prop in schema["properties"].values():
        for keyword in _DOCUMENTATION:
            prop.pop(keyword, None)
        if not defaults:
            prop.pop("default", None)
    return schema


def _inline(schema: Any, defs: Schema) -> Any:
    """``schema`` with each reference to one of ``defs`` replaced by the definition itself.

    A request body's groups of settings (``notify``) are written in place: the
    components of the same names describe the responses, which state no bounds.
    """
    if isinstance(schema, list):
        return [_inline(s, defs) for s in schema]
    if not isinstance(schema, dict):
        return schema
    ref = schema.get("$ref")
    if isinstance(ref, str) and ref.rsplit("/", 1)[-1] in defs:
        target = _inline(defs[ref.rsplit("/", 1)[-1]], defs)
        target.pop("title", None)
        return {**target, **{k: _inline(v, defs) for k, v in schema.items() if k != "$ref"}}
    return {key: _inline(value, defs) for key, value in schema.items()}


def response_schemas(*models: type[BaseModel]) -> dict[str, Schema]:
    """Components for the models as the API returns them (and the models they hold), by name."""
    _, top = models_json_schema(
        [(m, "serialization") for m in models], ref_template=REF_TEMPLATE, schema_generator=ApiJsonSchema
    )
    return {name: _types_only(schema) for name, schema in top.get("$defs", {}).items()}


def _types_only(schema: Any) -> Any:
    if isinstance(schema, list):
        return [_types_only(s) for s in schema]
    if not isinstance(schema, dict):
        return schema
    out: Schema = {}
    for key, value in schema.items():
        if key in _BOUNDS:
            continue
        if key == "properties":
            out[key] = {name: _types_only(s) for name, s in value.items()}
        elif key in ("items", "anyOf", "oneOf", "allOf", "additionalProperties"):
            out[key] = _types_only(value)
        else:
            out[key] = value
    return out
