"""The parameters of an AI action: a small JSON-Schema subset, and the check of one call against it.

A schema looks like::

    {"type": "object",
     "properties": {"amount": {"type": "number", "minimum": 0.01, "maximum": 500},
                    "currency": {"type": "string", "enum": ["USD", "EUR"]},
                    "reason": {"type": "string", "maxLength": 500, "description": "Why"}},
     "required": ["amount", "currency"]}

Properties are of type string, integer, number or boolean, with optional description, maxLength
(strings), minimum and maximum (numbers) and enum. A call carries only declared parameters
(additionalProperties is always false), so a model cannot slip extra fields to the backend.
"""

from __future__ import annotations

import math
import re
from typing import Any

from django.core.exceptions import ValidationError

MAX_PROPERTIES = 20
MAX_ENUM_VALUES = 50
MAX_DESCRIPTION_LENGTH = 300
MAX_STRING_LENGTH = 10_000
# A string parameter without maxLength still gets a bound: the value travels to the company's
# backend in a webhook, and a model can produce very long text.
DEFAULT_STRING_MAX_LENGTH = 2000

PROPERTY_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,63}$")
PROPERTY_TYPES = ("string", "integer", "number", "boolean")
SCHEMA_KEYS = ("type", "properties", "required", "additionalProperties")
PROPERTY_KEYS = ("type", "description", "maxLength", "minimum", "maximum", "enum")


def empty_parameter_schema() -> dict[str, Any]:
    return {"type": "object", "properties": {}, "required": [], "additionalProperties": False}


def parameter_schema_validate(schema: Any) -> dict[str, Any]:
    """The schema in its normal form, or a ValidationError on `parameters` that names every
    problem by its place in the schema (e.g. "properties.amount.minimum: ...")."""
    if schema is None or schema == {}:
        return empty_parameter_schema()
    if not isinstance(schema, dict):
        raise ValidationError({"parameters": "Describe the parameters as a JSON object."})
    problems = _schema_problems(schema)
    if problems:
        raise ValidationError({"parameters": problems})
    properties = {
        name: _normal_property(spec) for name, spec in schema.get("properties", {}).items()
    }
    return {
        "type": "object",
        "properties": properties,
        "required": list(schema.get("required", [])),
        "additionalProperties": False,
    }


def _schema_problems(schema: dict[str, Any]) -> list[str]:
    problems = [
        f"unknown key {key!r}; supported: {', '.join(SCHEMA_KEYS)}."
        for key in schema
        if key not in SCHEMA_KEYS
    ]
    if schema.get("type", "object") != "object":
        problems.append('type: the parameters are always an object ("type": "object").')
    if schema.get("additionalProperties", False) is not False:
        problems.append(
            "additionalProperties: only false is supported: a call carries only the declared "
            "parameters."
        )
    properties = schema.get("properties", {})
    if not isinstance(properties, dict):
        return [*problems, "properties: give an object of parameter names to their types."]
    if len(properties) > MAX_PROPERTIES:
        problems.append(f"properties: at most {MAX_PROPERTIES} parameters.")
    for name, spec in properties.items():
        if not PROPERTY_NAME.match(name):
            problems.append(
                f"properties.{name}: a parameter name is letters, digits and underscores "
                "(at most 64), not starting with a digit."
            )
        problems.extend(f"properties.{name}.{problem}" for problem in _property_problems(spec))
    problems.extend(_required_problems(schema.get("required", []), properties))
    return problems


def _required_problems(required: Any, properties: dict[str, Any]) -> list[str]:
    if not isinstance(required, list) or not all(isinstance(name, str) for name in required):
        return ["required: give a list of parameter names."]
    problems = [
        f"required: {name!r} is not one of the properties."
        for name in required
        if name not in properties
    ]
    if len(set(required)) != len(required):
        problems.append("required: a parameter is listed twice.")
    return problems


def _property_problems(spec: Any) -> list[str]:
    if not isinstance(spec, dict):
        return ['type: describe the parameter as an object, e.g. {"type": "string"}.']
    problems = [
        f"{key}: unknown keyword; supported: {', '.join(PROPERTY_KEYS)}."
        for key in spec
        if key not in PROPERTY_KEYS
    ]
    kind = spec.get("type")
    if kind not in PROPERTY_TYPES:
        return [*problems, f"type: one of {', '.join(PROPERTY_TYPES)}."]
    description = spec.get("description", "")
    if not isinstance(description, str) or len(description) > MAX_DESCRIPTION_LENGTH:
        problems.append(f"description: a text of at most {MAX_DESCRIPTION_LENGTH} characters.")
    if "maxLength" in spec:
        problems.extend(_max_length_problems(kind, spec["maxLength"]))
    problems.extend(_bounds_problems(kind, spec))
    if "enum" in spec:
        problems.extend(_enum_problems(kind, spec["enum"]))
    return problems


def _max_length_problems(kind: str, max_length: Any) -> list[str]:
    if kind != "string":
        return ["maxLength: only strings have a maximum length."]
    if not _is_integer(max_length) or not 1 <= max_length <= MAX_STRING_LENGTH:
        return [f"maxLength: a whole number from 1 to {MAX_STRING_LENGTH}."]
    return []


def _bounds_problems(kind: str, spec: dict[str, Any]) -> list[str]:
    bounds = [key for key in ("minimum", "maximum") if key in spec]
    if not bounds:
        return []
    if kind not in ("integer", "number"):
        return [f"{key}: only integers and numbers have bounds." for key in bounds]
    problems = [f"{key}: must be a number." for key in bounds if not _is_number(spec[key])]
    if not problems and len(bounds) == 2 and spec["minimum"] > spec["maximum"]:
        problems.append("minimum: must not be greater than maximum.")
    return problems


def _enum_problems(kind: str, values: Any) -> list[str]:
    if not isinstance(values, list) or not 1 <= len(values) <= MAX_ENUM_VALUES:
        return [f"enum: a list of 1 to {MAX_ENUM_VALUES} allowed values."]
    if not all(_has_type(kind, value) for value in values):
        return [f"enum: every allowed value must be of type {kind}."]
    if len({repr(value) for value in values}) != len(values):
        return ["enum: a value is listed twice."]
    return []


def _normal_property(spec: dict[str, Any]) -> dict[str, Any]:
    return {key: spec[key] for key in PROPERTY_KEYS if key in spec}


# --- one call's parameters ------------------------------------------------------------------


def parameters_validate(schema: dict[str, Any], params: Any) -> dict[str, Any]:
    """The call's parameters, checked against a (valid, normal) schema; a ValidationError keyed
    by parameter name lists what is wrong with each."""
    if params is None:
        params = {}
    if not isinstance(params, dict):
        raise ValidationError({"parameters": "Send the parameters as an object."})
    properties: dict[str, dict[str, Any]] = schema.get("properties", {})
    errors: dict[str, str] = {}
    for name in params:
        if name not in properties:
            known = ", ".join(properties) or "no parameters"
            errors[str(name)] = f"Unknown parameter; this action takes {known}."
    for name in schema.get("required", []):
        if name not in params or params[name] is None:
            errors[name] = "This parameter is required."
    cleaned: dict[str, Any] = {}
    for name, spec in properties.items():
        if name in errors or params.get(name) is None:
            continue
        try:
            cleaned[name] = _value_checked(spec, params[name])
        except ValueError as problem:
            errors[name] = str(problem)
    if errors:
        raise ValidationError(errors)
    return cleaned


def _value_checked(spec: dict[str, Any], value: Any) -> Any:
    kind = spec["type"]
    if kind == "integer" and isinstance(value, float) and value.is_integer():
        value = int(value)  # JSON producers write 3.0 for 3
    if not _has_type(kind, value):
        raise ValueError(f"Must be {'an' if kind == 'integer' else 'a'} {kind}.")
    if "enum" in spec and value not in spec["enum"]:
        raise ValueError(f"Must be one of {', '.join(map(str, spec['enum']))}.")
    if kind == "string":
        max_length = spec.get("maxLength", DEFAULT_STRING_MAX_LENGTH)
        if len(value) > max_length:
            raise ValueError(f"At most {max_length} characters.")
    if "minimum" in spec and value < spec["minimum"]:
        raise ValueError(f"Must be at least {spec['minimum']}.")
    if "maximum" in spec and value > spec["maximum"]:
        raise ValueError(f"Must be at most {spec['maximum']}.")
    return value


def _has_type(kind: str, value: Any) -> bool:
    if kind == "string":
        return isinstance(value, str)
    if kind == "integer":
        return _is_integer(value)
    if kind == "number":
        return _is_number(value)
    return isinstance(value, bool)


def _is_integer(value: Any) -> bool:
    # bool is an int in Python, but true is not a number to a backend.
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value: Any) -> bool:
    if isinstance(value, float):
        return math.isfinite(value)
    return _is_integer(value)
