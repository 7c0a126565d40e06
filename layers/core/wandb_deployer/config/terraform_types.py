"""Values against Terraform type expressions: parse a module variable's type, coerce SSM strings, check typed values.

SSM holds every value as a string: `true`/`false` for bool, decimal numbers, StringList (comma-separated) or a JSON list
for lists, JSON for maps and objects. A YAML file gives typed values, which are checked without coercion (a YAML number
where Terraform wants a string is refused: `eks_cluster_version: 1.30` would silently become `1.3`).

Problems are raised as `TypeProblem` whose message never contains the value.
"""

from __future__ import annotations

import json
import math
import re
from functools import cache
from typing import NamedTuple

_PRIMITIVES = frozenset({"string", "number", "bool", "any"})
_COLLECTION = re.compile(r"^(list|set|map)\((.*)\)$", re.DOTALL)
_OBJECT = re.compile(r"^object\(\{(.*)$", re.DOTALL)
_ATTRIBUTE = re.compile(r"^\s*([A-Za-z_][A-Za-z0-9_-]*)\s*=\s*(.+?)\s*$", re.DOTALL)
_INTEGER = re.compile(r"^-?\d+$")
_DECIMAL = re.compile(r"^-?\d+(\.\d+)?([eE][+-]?\d+)?$")


class TypeProblem(ValueError):
    """A value does not fit its Terraform type; the message says how, without the value."""


class TfType(NamedTuple):
    """A parsed Terraform type: `kind` is string/number/bool/any/list/set/map/object.

    `element` is the element type of a collection; `attributes` the attribute types of an object (None when the type
    does not spell them out, then any object is accepted).
    """

    kind: str
    element: TfType | None = None
    attributes: tuple[tuple[str, TfType], ...] | None = None

    def describe(self) -> str:
        if self.kind in ("list", "set", "map") and self.element is not None:
            return f"{self.kind}({self.element.describe()})"
        if self.kind == "object":
            names = ", ".join(name for name, _ in self.attributes or ())
            return f"object({{{names}}})" if names else "object"
        return self.kind


def _balanced(expr: str) -> str:
    """Catalog type strings can lose or gain closing brackets in extraction; repair them."""
    expr = expr.strip()
    while expr.count(")") > expr.count("(") and expr.endswith(")"):
        expr = expr[:-1].rstrip()
    while expr.count("}") > expr.count("{") and expr.endswith("}"):
        expr = expr[:-1].rstrip()
    return expr + "}" * (expr.count("{") - expr.count("}")) + ")" * (expr.count("(") - expr.count(")"))


def _split_top_level(text: str) -> list[str]:
    parts: list[str] = []
    depth = 0
    current: list[str] = []
    for char in text:
        if char in "({[":
            depth += 1
        elif char in ")}]":
            depth -= 1
        if char == "," and depth == 0:
            parts.append("".join(current))
            current = []
        else:
            current.append(char)
    parts.append("".join(current))
    return [part for part in parts if part.strip()]


@cache
def parse_type(expr: str) -> TfType:
    """Parse a Terraform type expression leniently; anything unrecognised is `any`."""
    expr = expr.strip()
    if expr in _PRIMITIVES:
        return TfType(expr)
    collection = _COLLECTION.match(expr)
    if collection:
        return TfType(collection.group(1), element=parse_type(_balanced(collection.group(2))))
    obj = _OBJECT.match(expr)
    if obj:
        body = obj.group(1).rstrip().rstrip(")}").rstrip()  # closers are re-balanced per attribute below
        attributes: list[tuple[str, TfType]] = []
        for part in _split_top_level(body):
            attribute = _ATTRIBUTE.match(part)
            if attribute is None:
                return TfType("object")
            attributes.append((attribute.group(1), parse_type(_balanced(attribute.group(2)))))
        return TfType("object", attributes=tuple(attributes) or None)
    return TfType("any")


def _kind_of(value: object) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a bool"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list | tuple):
        return "a list"
    if isinstance(value, dict):
        return "a map"
    return type(value).__name__


def _at(path: str) -> str:
    return f" at {path}" if path else ""


def check_typed(tf_type: TfType, value: object, path: str = "") -> object:
    """Check a typed value (YAML or parsed JSON) against `tf_type`; returns it (tuples become lists)."""
    kind = tf_type.kind
    if value is None:
        raise TypeProblem(f"null{_at(path)} where {tf_type.describe()} is expected")
    if kind == "any":
        if isinstance(value, tuple):
            return [check_typed(TfType("any"), item, f"{path}[{i}]") for i, item in enumerate(value)]
        return value
    if kind == "string":
        if not isinstance(value, str):
            hint = " (quote it in YAML)" if isinstance(value, int | float) else ""
            raise TypeProblem(f"expected a string{_at(path)}, got {_kind_of(value)}{hint}")
        return value
    if kind == "bool":
        if not isinstance(value, bool):
            raise TypeProblem(f"expected a bool (true or false){_at(path)}, got {_kind_of(value)}")
        return value
    if kind == "number":
        if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
            raise TypeProblem(f"expected a number{_at(path)}, got {_kind_of(value)}")
        return value
    if kind in ("list", "set"):
        if not isinstance(value, list | tuple):
            raise TypeProblem(f"expected {tf_type.describe()}{_at(path)}, got {_kind_of(value)}")
        element = tf_type.element or TfType("any")
        return [check_typed(element, item, f"{path}[{index}]") for index, item in enumerate(value)]
    if kind == "map":
        if not isinstance(value, dict) or not all(isinstance(key, str) for key in value):
            raise TypeProblem(f"expected {tf_type.describe()}{_at(path)}, got {_kind_of(value)}")
        element = tf_type.element or TfType("any")
        return {key: check_typed(element, item, f"{path}.{key}" if path else key) for key, item in value.items()}
    if kind == "object":
        return _check_object(tf_type, value, path)
    return value


def _check_object(tf_type: TfType, value: object, path: str) -> object:
    if not isinstance(value, dict) or not all(isinstance(key, str) for key in value):
        raise TypeProblem(f"expected {tf_type.describe()}{_at(path)}, got {_kind_of(value)}")
    if tf_type.attributes is None:
        return value
    expected = dict(tf_type.attributes)
    missing = sorted(set(expected) - set(value))
    unknown = sorted(set(value) - set(expected))
    if missing or unknown:
        details = []
        if missing:
            details.append("missing attribute(s) " + ", ".join(missing))
        if unknown:
            details.append("unknown attribute(s) " + ", ".join(unknown))
        raise TypeProblem(f"expected {tf_type.describe()}{_at(path)}: " + "; ".join(details))
    return {key: check_typed(expected[key], item, f"{path}.{key}" if path else key) for key, item in value.items()}


def _parse_json(text: str, tf_type: TfType) -> object:
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise TypeProblem(f"expected {tf_type.describe()} as JSON, but it is not valid JSON ({exc.msg})") from exc


def coerce_string(tf_type: TfType, text: str) -> object:
    """Coerce an SSM parameter value (always a string) to `tf_type`, then check it."""
    kind = tf_type.kind
    if kind in ("string", "any"):
        return text
    if kind == "bool":
        lowered = text.strip().lower()
        if lowered not in ("true", "false"):
            raise TypeProblem("expected a bool: true or false")
        return lowered == "true"
    if kind == "number":
        stripped = text.strip()
        if _INTEGER.fullmatch(stripped):
            return int(stripped)
        if _DECIMAL.fullmatch(stripped):
            return float(stripped)
        raise TypeProblem("expected a number")
    if kind in ("list", "set"):
        stripped = text.strip()
        if stripped.startswith("["):
            return check_typed(tf_type, _parse_json(stripped, tf_type))
        element = tf_type.element or TfType("string")
        items = [item.strip() for item in text.split(",")]
        return [coerce_string(element, item) for item in items]
    return check_typed(tf_type, _parse_json(text, tf_type))


def coerce_value(type_expr: str, value: object, *, from_string: bool) -> object:
    """The value of an input whose declared type is `type_expr`; raises TypeProblem when it does not fit."""
    tf_type = parse_type(type_expr)
    if from_string:
        if not isinstance(value, str):
            raise TypeProblem(f"expected an SSM string value, got {_kind_of(value)}")
        return coerce_string(tf_type, value)
    return check_typed(tf_type, value)
