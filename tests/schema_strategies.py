"""Hypothesis strategies for the JSON Schema keywords the OpenAPI document uses in request
bodies (``type`` lists, ``enum``, ``const``, string and number bounds, ``pattern``,
``properties``/``required``, ``$ref``, ``not``). Small on purpose: the property tests check
that every value drawn is valid by jsonschema itself, so this cannot drift from the spec."""

from __future__ import annotations

from typing import Any

from hypothesis import strategies as st
from jsonschema import Draft202012Validator

TEXT = st.characters(blacklist_categories=["Cs", "Cc"]) | st.sampled_from("\t\n ")


def from_schema(schema: dict[str, Any], root: dict[str, Any] | None = None) -> st.SearchStrategy:
    """Values valid by ``schema`` (``root`` holds the ``components`` its ``$ref`` point to)."""
    root = root or schema
    validator = Draft202012Validator(root if schema is root else {**schema, **_defs(root)})
    return _build(schema, root).filter(validator.is_valid)


def _defs(root: dict[str, Any]) -> dict[str, Any]:
    return {"components": root["components"]} if "components" in root else {}


def _resolve(schema: dict[str, Any], root: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in schema:
        node: Any = root
        for part in schema["$ref"].removeprefix("#/").split("/"):
            node = node[part]
        schema = node
    return schema


def _build(schema: dict[str, Any], root: dict[str, Any]) -> st.SearchStrategy:
    schema = _resolve(schema, root)
    if "const" in schema:
        return st.just(schema["const"])
    if "enum" in schema:
        return st.sampled_from(schema["enum"])
    types = schema.get("type", "object")
    types = types if isinstance(types, list) else [types]
    return st.one_of([_typed(t, schema, root) for t in types])


def _typed(kind: str, schema: dict[str, Any], root: dict[str, Any]) -> st.SearchStrategy:
    if kind == "null":
        return st.none()
    if kind == "boolean":
        return st.booleans()
    if kind in ("number", "integer"):
        low, high = schema.get("minimum"), schema.get("maximum")
        if kind == "integer":
            return st.integers(low, high)
        return st.floats(low, high, allow_nan=False, allow_infinity=False) | st.integers(
            int(low) if low is not None else None, int(high) if high is not None else None
        ).filter(lambda v: (low is None or v >= low) and (high is None or v <= high))
    if kind == "string":
        low, high = schema.get("minLength", 0), schema.get("maxLength", 40)
        return st.text(TEXT, min_size=max(low, 1) if "pattern" in schema else low, max_size=high)
    if kind == "object":
        props = schema.get("properties", {})
        required = set(schema.get("required", []))
        optional = [k for k in props if k not in required]
        return st.fixed_dictionaries(
            {k: _build(props[k], root) for k in props if k in required},
            optional={k: _build(props[k], root) for k in optional},
        )
    raise ValueError(f"no strategy for type {kind!r}")
