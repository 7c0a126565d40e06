"""Reading a SAM/CloudFormation template: short-form tags, parameters, the SAM transform, conditions, intrinsics,
order.

`load_template(path)` gives a `Template`; `Intrinsics` resolves Ref / Fn::GetAtt / Fn::Sub / Fn::Join / Fn::If / ...
against the resources the sandbox has created (through a `lookup(logical_id, attribute | None)` callable).
"""

from __future__ import annotations

import base64
import json
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from graphlib import CycleError, TopologicalSorter
from pathlib import Path
from typing import Any

import yaml

from wbd.sandbox.errors import TemplateError

NO_VALUE = object()
_SUB_VARIABLE = re.compile(r"\$\{(?!!)([^}]+)\}")
_SHORT_TAGS = (
    "Base64",
    "Cidr",
    "FindInMap",
    "GetAZs",
    "If",
    "ImportValue",
    "Join",
    "Select",
    "Split",
    "Sub",
    "Equals",
    "Not",
    "And",
    "Or",
    "Transform",
)
LookUp = Callable[[str, str | None], Any]


class _CfnLoader(yaml.SafeLoader):
    """PyYAML's safe loader plus CloudFormation's short-form intrinsic tags."""


def _construct(tag: str) -> Callable[[yaml.SafeLoader, yaml.Node], dict[str, Any]]:
    def construct(loader: yaml.SafeLoader, node: yaml.Node) -> dict[str, Any]:
        if isinstance(node, yaml.ScalarNode):
            value: Any = loader.construct_scalar(node)
        elif isinstance(node, yaml.SequenceNode):
            value = loader.construct_sequence(node, deep=True)
        else:
            value = loader.construct_mapping(node, deep=True)  # type: ignore[arg-type]
        if tag == "Ref":
            return {"Ref": value}
        if tag == "Condition":
            return {"Condition": value}
        if tag == "GetAtt" and isinstance(value, str):
            return {"Fn::GetAtt": value.split(".", 1)}
        return {f"Fn::{tag}": value}

    return construct


for _tag in (*_SHORT_TAGS, "Ref", "Condition", "GetAtt"):
    _CfnLoader.add_constructor(f"!{_tag}", _construct(_tag))


def parse_template_text(text: str) -> dict[str, Any]:
    """Parse YAML or JSON template text with short-form tags into plain dicts."""
    try:
        loaded = yaml.load(text, Loader=_CfnLoader)  # noqa: S506 - _CfnLoader is a SafeLoader subclass
    except yaml.YAMLError as exc:
        raise TemplateError(f"template is not valid YAML: {exc}") from exc
    if not isinstance(loaded, dict) or not isinstance(loaded.get("Resources"), dict):
        raise TemplateError("template has no Resources mapping")
    return loaded


@dataclass
class Template:
    """A parsed template with Globals applied to its serverless resources."""

    path: Path
    body: dict[str, Any]
    parameters: dict[str, str] = field(default_factory=dict)

    @property
    def base_dir(self) -> Path:
        return self.path.parent

    @property
    def resources(self) -> dict[str, dict[str, Any]]:
        resources: dict[str, dict[str, Any]] = self.body["Resources"]
        return resources

    @property
    def conditions(self) -> dict[str, Any]:
        conditions: dict[str, Any] = self.body.get("Conditions") or {}
        return conditions

    @property
    def mappings(self) -> dict[str, Any]:
        mappings: dict[str, Any] = self.body.get("Mappings") or {}
        return mappings

    def resources_of_type(self, *types: str) -> Iterator[tuple[str, dict[str, Any]]]:
        for logical_id, resource in self.resources.items():
            if resource.get("Type") in types:
                yield logical_id, resource

    def creation_order(self) -> list[str]:
        """Logical ids ordered so that every resource comes after those it references (Ref, GetAtt, Sub, DependsOn)."""
        graph: dict[str, set[str]] = {}
        for logical_id, resource in self.resources.items():
            depends = resource.get("DependsOn") or []
            needed = set([depends] if isinstance(depends, str) else depends)
            needed |= {name for name in references(resource) if name in self.resources}
            needed.discard(logical_id)
            graph[logical_id] = needed
        try:
            return list(TopologicalSorter(graph).static_order())
        except CycleError as exc:
            raise TemplateError(f"dependency cycle between resources: {' -> '.join(exc.args[1])}") from exc


def load_template(
    path: Path,
    overrides: dict[str, str] | None = None,
    *,
    region: str = "us-east-1",
    account_id: str = "123456789012",
    stack_name: str = "wandb-deployer-sandbox",
) -> Template:
    """Read the template, apply parameter Defaults and overrides, and expand it with the SAM transform (Globals,
    functions, state machines, their roles, policies, rules and schedules: see sam_expansion.py)."""
    from wbd.sandbox.sam_expansion import expand

    try:
        body = parse_template_text(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise TemplateError(f"cannot read template {path}: {exc}") from exc
    parameters: dict[str, str] = {}
    for name, declaration in (body.get("Parameters") or {}).items():
        if "Default" in declaration:
            default = declaration["Default"]
            parameters[name] = ",".join(default) if isinstance(default, list) else str(default)
    unknown = set(overrides or {}) - set(body.get("Parameters") or {})
    if unknown:
        raise TemplateError(f"unknown template parameter(s): {', '.join(sorted(unknown))}")
    parameters.update(overrides or {})
    missing = set(body.get("Parameters") or {}) - set(parameters)
    if missing:
        raise TemplateError(f"template parameter(s) without Default need a value: {', '.join(sorted(missing))}")
    expanded = expand(body, parameters, region=region, account_id=account_id, stack_name=stack_name)
    return Template(path=path, body=expanded, parameters=parameters)


def references(node: Any) -> set[str]:
    """Every logical id / parameter name a node refers to (Ref, Fn::GetAtt, ${X} and ${X.Y} in Fn::Sub)."""
    found: set[str] = set()
    if isinstance(node, dict):
        if "Ref" in node and isinstance(node["Ref"], str):
            found.add(node["Ref"])
        getatt = node.get("Fn::GetAtt")
        if isinstance(getatt, list) and getatt:
            found.add(str(getatt[0]))
        sub = node.get("Fn::Sub")
        if sub is not None:
            text, variables = (sub, {}) if isinstance(sub, str) else (sub[0], sub[1])
            for name in _SUB_VARIABLE.findall(text):
                if name.split(".")[0] not in variables:
                    found.add(name.split(".")[0])
        for value in node.values():
            found |= references(value)
    elif isinstance(node, list):
        for value in node:
            found |= references(value)
    return found


class Intrinsics:
    """Resolves intrinsic functions; resource values come from `lookup(logical_id, attribute_or_None)`."""

    def __init__(self, template: Template, pseudo: dict[str, str], lookup: LookUp) -> None:
        self.template = template
        self.pseudo = pseudo
        self.lookup = lookup
        self._conditions: dict[str, bool] = {}

    def condition(self, name: str) -> bool:
        if name not in self._conditions:
            if name not in self.template.conditions:
                raise TemplateError(f"unknown condition {name!r}")
            self._conditions[name] = bool(self.resolve(self.template.conditions[name]))
        return self._conditions[name]

    def resolve(self, node: Any) -> Any:
        """The node with every intrinsic evaluated; AWS::NoValue removes keys and list items."""
        if isinstance(node, list):
            return [item for item in (self.resolve(value) for value in node) if item is not NO_VALUE]
        if not isinstance(node, dict):
            return node
        if len(node) == 1:
            key, value = next(iter(node.items()))
            if key == "Ref":
                return self._ref(value)
            if key == "Condition" and isinstance(value, str):
                return self.condition(value)
            if key.startswith("Fn::"):
                return self._function(key[4:], value)
        resolved = {key: self.resolve(value) for key, value in node.items()}
        return {key: value for key, value in resolved.items() if value is not NO_VALUE}

    def _ref(self, name: str) -> Any:
        if name == "AWS::NoValue":
            return NO_VALUE
        if name in self.pseudo:
            return self.pseudo[name]
        if name in self.template.parameters:
            declared = (self.template.body.get("Parameters") or {}).get(name, {})
            value = self.template.parameters[name]
            return (
                value.split(",")
                if str(declared.get("Type", "")).startswith("List<") or declared.get("Type") == "CommaDelimitedList"
                else value
            )
        if name in self.template.resources:
            return self.lookup(name, None)
        raise TemplateError(f"Ref to unknown name {name!r}")

    def _sub(self, value: Any) -> str:
        text, variables = (value, {}) if isinstance(value, str) else (value[0], self.resolve(value[1]))

        def replace(match: re.Match[str]) -> str:
            name = match.group(1).strip()
            if name in variables:
                return str(variables[name])
            if "." in name and name.split(".", 1)[0] in self.template.resources:
                logical_id, attribute = name.split(".", 1)
                return str(self.lookup(logical_id, attribute))
            return str(self._ref(name))

        return _SUB_VARIABLE.sub(replace, text).replace("${!", "${")

    def _function(self, name: str, value: Any) -> Any:
        if name == "Sub":
            return self._sub(value)
        if name == "GetAtt":
            logical_id, attribute = value.split(".", 1) if isinstance(value, str) else value
            return self.lookup(str(logical_id), str(self.resolve(attribute)))
        if name == "If":
            condition, when_true, when_false = value
            return self.resolve(when_true if self.condition(condition) else when_false)
        if name == "Join":
            separator, items = value
            return str(separator).join(str(item) for item in self.resolve(items))
        if name == "Select":
            index, items = self.resolve(value)
            return items[int(index)]
        if name == "Split":
            separator, text = self.resolve(value)
            return str(text).split(separator)
        if name == "Equals":
            left, right = self.resolve(value)
            return str(left) == str(right)
        if name == "Not":
            return not self.resolve(value)[0]
        if name == "And":
            return all(self.resolve(value))
        if name == "Or":
            return any(self.resolve(value))
        if name == "FindInMap":
            map_name, top, second = self.resolve(value)
            return self.template.mappings[map_name][top][second]
        if name == "Base64":
            return base64.b64encode(str(self.resolve(value)).encode()).decode()
        if name == "GetAZs":
            region = self.resolve(value) or self.pseudo["AWS::Region"]
            return [f"{region}{zone}" for zone in "abc"]
        if name == "ImportValue":
            return f"sandbox-import-{self.resolve(value)}"
        if name == "Cidr":
            block, count, bits = self.resolve(value)
            return _cidr(str(block), int(count), int(bits))
        if name == "ToJsonString":
            return json.dumps(self.resolve(value), separators=(",", ":"))
        raise TemplateError(f"unsupported intrinsic Fn::{name}")


def _cidr(block: str, count: int, bits: int) -> list[str]:
    import ipaddress

    network = ipaddress.ip_network(block, strict=False)
    return [str(subnet) for subnet in list(network.subnets(new_prefix=network.max_prefixlen - bits))[:count]]
