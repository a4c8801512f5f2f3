"""Validate a response body against the schema Twilio's OpenAPI file gives for that operation and status.

OpenAPI 3.0 says `nullable: true` where JSON Schema says `type: [T, "null"]`; the spec is rewritten that way once,
then bodies are checked with jsonschema, `$ref`s resolved inside the spec. The checks are strict about what the
spec declares (types, enums, formats it names are not checked) and lenient about extra fields, as Twilio's own
clients are.
"""

from __future__ import annotations

from functools import cache
from typing import Any

import jsonschema


def _nullable_to_json_schema(node: Any) -> Any:
    if isinstance(node, dict):
        out = {k: _nullable_to_json_schema(v) for k, v in node.items()}
        if out.pop("nullable", False):
            if "type" in out:
                out["type"] = [out["type"], "null"]
            elif "$ref" in out:
                return {"anyOf": [{"$ref": out["$ref"]}, {"type": "null"}]}
        return out
    if isinstance(node, list):
        return [_nullable_to_json_schema(v) for v in node]
    return node


class _Spec:
    def __init__(self, spec: dict[str, Any]) -> None:
        self.doc = _nullable_to_json_schema(spec)
        self.operations: dict[str, dict[str, Any]] = {
            op["operationId"]: op
            for item in self.doc["paths"].values()
            for op in item.values()
            if isinstance(op, dict) and "operationId" in op
        }


@cache
def _prepared(spec_id: int, spec: Any) -> _Spec:
    return _Spec(spec.value)


class _Hashable:
    def __init__(self, value: dict[str, Any]) -> None:
        self.value = value

    def __hash__(self) -> int:
        return id(self.value)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, _Hashable) and other.value is self.value


def operation_ids(spec: dict[str, Any]) -> set[str]:
    return set(_prepared(id(spec), _Hashable(spec)).operations)


def validate_response(spec: dict[str, Any], operation_id: str, status: int, body: Any) -> None:
    """Raise AssertionError naming the operation, status and first error when `body` breaks the spec."""
    prepared = _prepared(id(spec), _Hashable(spec))
    operation = prepared.operations.get(operation_id)
    assert operation is not None, f"{operation_id} is not an operation of the spec"
    response = operation["responses"].get(str(status))
    assert response is not None, f"{operation_id} answers {sorted(operation['responses'])}, not {status}"
    content = response.get("content")
    if content is None:
        assert body in (None, b"", ""), f"{operation_id} {status} must have no body, got {body!r}"
        return
    # The spec's `$ref`s point at `#/components/...`: carry the components in the root of the checked schema.
    schema = {**content["application/json"]["schema"], "components": prepared.doc["components"]}
    validator = jsonschema.Draft4Validator(schema)
    errors = sorted(validator.iter_errors(body), key=lambda e: list(e.absolute_path))
    assert not errors, f"{operation_id} {status}: {errors[0].message} at {list(errors[0].absolute_path)}"
