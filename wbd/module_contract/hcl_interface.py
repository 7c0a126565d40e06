"""One release's interface, read from its HCL with python-hcl2 (a real parser; no regular expressions over HCL).

The interface is what a caller of the module depends on and what `terraform init`/`plan` check:
- the root module's variables (name, type expression, default, required, sensitive, nullable) and outputs
  (name, sensitive);
- `required_version` and `required_providers` (source and constraint) of the root and of every local submodule
  (`modules/...`): `terraform init` must satisfy all of them at once;
- the registry modules the tree calls (source and version constraint);
- for the aws module, how its own example `examples/public-dns-external` wires the legacy app module (`module
  "wandb_app"`): input name -> the expression, as written.
Documentation trees (`docs/`), examples and tests are not part of the module and are not read, except that example.
"""

from __future__ import annotations

import re
from typing import Any

import hcl2
from hcl2 import SerializationOptions

EXAMPLE_WIRING_FILE = "examples/public-dns-external/main.tf"
EXAMPLE_APP_MODULE = "wandb_app"

# Literal values: strings without their quotes, heredocs as plain strings, no comments, blocks as plain objects.
_OPTIONS = SerializationOptions(
    with_comments=False,
    explicit_blocks=False,
    strip_string_quotes=True,
    preserve_heredocs=False,
)
_EXPRESSION = re.compile(r"^\$\{(.*)\}$", re.DOTALL)
_LOCAL_SUBMODULE = re.compile(r"^modules/[^/].*$")


class HclReadError(ValueError):
    """A file of a release could not be parsed as HCL, or declares something in an unexpected shape."""


def _parse(path: str, text: str) -> dict[str, Any]:
    try:
        parsed: dict[str, Any] = hcl2.loads(text, serialization_options=_OPTIONS)
    except Exception as exc:
        raise HclReadError(f"{path}: not parseable as HCL: {type(exc).__name__}: {str(exc)[:200]}") from exc
    return parsed


def _unwrap(expression: object) -> str:
    """`${list(string)}` -> `list(string)`; a bare keyword (`string`) stays as it is."""
    text = str(expression).strip()
    match = _EXPRESSION.fullmatch(text)
    return match.group(1).strip() if match else text


def _named_blocks(document: dict[str, Any], kind: str) -> list[tuple[str, dict[str, Any]]]:
    """`variable "x" {...}` blocks as (name, body) pairs, in file order."""
    found: list[tuple[str, dict[str, Any]]] = []
    for entry in document.get(kind, []):
        for name, body in entry.items():
            found.append((str(name).strip('"'), body if isinstance(body, dict) else {}))
    return found


def _flag(body: dict[str, Any], key: str, default: bool) -> bool:
    value = body.get(key, default)
    if isinstance(value, bool):
        return value
    text = _unwrap(value).lower()
    if text in {"true", "false"}:
        return text == "true"
    raise HclReadError(f"{key} = {value!r} is not a literal bool")


def _variable(body: dict[str, Any]) -> dict[str, Any]:
    """A variable as Terraform sees it: required exactly when it has no `default` attribute (`default = null` is
    optional, with null as its value); `type` absent means `any`; `nullable` defaults to true, `sensitive` to false."""
    variable: dict[str, Any] = {
        "type": _unwrap(body["type"]) if "type" in body else "any",
        "required": "default" not in body,
        "sensitive": _flag(body, "sensitive", False),
        "nullable": _flag(body, "nullable", True),
    }
    if "default" in body:
        variable["default"] = body["default"]
    return variable


def _directory(path: str) -> str:
    return path.rsplit("/", 1)[0] if "/" in path else "."


def _in_module_tree(path: str) -> bool:
    return "/" not in path or bool(_LOCAL_SUBMODULE.fullmatch(path))


def read_release(files: dict[str, str]) -> dict[str, Any]:
    """The interface of one release from its `.tf` files (path -> text, paths relative to the repository root)."""
    variables: dict[str, dict[str, Any]] = {}
    descriptions: dict[str, str] = {}
    outputs: dict[str, dict[str, Any]] = {}
    required_version: dict[str, str] = {}
    required_providers: dict[str, dict[str, Any]] = {}
    module_calls: dict[str, dict[str, Any]] = {}
    for path in sorted(files):
        if not _in_module_tree(path):
            continue
        document = _parse(path, files[path])
        directory = _directory(path)
        if directory == ".":
            for name, body in _named_blocks(document, "variable"):
                if name in variables:
                    raise HclReadError(f"{path}: variable {name!r} declared twice")
                variables[name] = _variable(body)
                if isinstance(body.get("description"), str):
                    descriptions[name] = body["description"]
            for name, body in _named_blocks(document, "output"):
                outputs[name] = {"sensitive": _flag(body, "sensitive", False)}
        for block in document.get("terraform", []):
            if "required_version" in block:
                required_version[directory] = _unwrap(block["required_version"])
            for requirements in block.get("required_providers", []):
                for provider, declared in requirements.items():
                    # the pre-0.13 shorthand `aws = "~> 3.0"` is a bare constraint
                    spec = declared if isinstance(declared, dict) else {"version": declared}
                    entry = {"source": _unwrap(spec.get("source", f"hashicorp/{provider}"))}
                    if "version" in spec:
                        entry["version"] = _unwrap(spec["version"])
                    required_providers[f"{directory}/{provider}"] = entry
        for name, body in _named_blocks(document, "module"):
            source = _unwrap(body.get("source", ""))
            if source.startswith(("./", "../")):
                continue
            call = {"source": source}
            if "version" in body:
                call["version"] = _unwrap(body["version"])
            module_calls[f"{directory}/{name}"] = call
    interface: dict[str, Any] = {
        "variables": variables,
        "descriptions": descriptions,
        "outputs": outputs,
        "required_version": required_version,
        "required_providers": required_providers,
        "module_calls": module_calls,
    }
    if EXAMPLE_WIRING_FILE in files:
        wiring = _example_wiring(_parse(EXAMPLE_WIRING_FILE, files[EXAMPLE_WIRING_FILE]))
        if wiring is not None:
            interface["example_app_wiring"] = wiring
    return interface


def _example_wiring(document: dict[str, Any]) -> dict[str, Any] | None:
    """The example's `module "wandb_app"` call, or None: each argument in Terraform's JSON syntax (a string is a
    template: `${module.wandb_infra.url}`, `s3://${module.wandb_infra.bucket_name}`, `internal://`)."""
    for name, body in _named_blocks(document, "module"):
        if name != EXAMPLE_APP_MODULE:
            continue
        wiring: dict[str, Any] = {}
        for key, value in sorted(body.items()):
            if key == "depends_on":
                continue
            wiring[key] = value
        return wiring
    return None
