"""A real `terraform` binary, where one is installed, judging our rendered workspaces offline.

No provider or registry module can be downloaded here, so each W&B module call is replaced by a *stub module* generated
from the contract of the exact release: the same variables (type, default, nullable, sensitive), the same outputs, and
the same `required_version` / `required_providers` (the root's, and each local submodule's as a nested stub). Real
Terraform then judges the parts of our workspace that depend on the module's interface:
- `init`: provider constraints resolved against an offline filesystem mirror of *fake* provider packages (empty
  executables; every MAJOR.MINOR.0 version, since the real release lists cannot be read offline), so a conflict fails
  exactly as it would against the registry; the stub's `required_version`s are checked by real Terraform too;
- `validate`: module arguments (unknown / missing required), references to outputs, variables. Provider blocks need
  provider schemas, which fake packages cannot serve: their expressions are checked as outputs of a harness file.
The root's `required_version` pins the Terraform version CodeBuild installs; here it is replaced by the local binary's.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from wandb_deployer.contract import ROOT, ReleaseInterface, contract_for

TERRAFORM = shutil.which("terraform")
SKIP_REASON = "no terraform binary on PATH (the real-Terraform cross-checks need one; no network is needed)"
FAKE_MAJORS = range(7)
FAKE_MINORS = range(121)
CONTRACT_SOURCES = ("wandb/wandb/aws", "wandb/wandb/kubernetes")


@dataclass
class Outcome:
    code: int
    out: str
    err: str

    @property
    def text(self) -> str:
        return self.out + self.err

    def summaries(self) -> list[str]:
        """The `Error: <summary>` lines, as Terraform prints them."""
        return [line.split("Error: ", 1)[1].strip() for line in self.text.splitlines() if "Error: " in line]


def local_version() -> str:
    assert TERRAFORM is not None
    done = subprocess.run([TERRAFORM, "version", "-json"], capture_output=True, text=True, check=True, env=_env(None))
    return str(json.loads(done.stdout)["terraform_version"])


def _env(config_file: Path | None) -> dict[str, str]:
    env = {
        "PATH": os.environ.get("PATH", ""),
        "HOME": str(config_file.parent if config_file else Path("/nonexistent")),
        "CHECKPOINT_DISABLE": "1",
        "TF_IN_AUTOMATION": "1",
        "TF_INPUT": "0",
    }
    if config_file is not None:
        env["TF_CLI_CONFIG_FILE"] = str(config_file)
    return env


def fake_provider_mirror(directory: Path, sources: set[str]) -> Path:
    """An unpacked filesystem mirror with every MAJOR.MINOR.0 (0-6 x 0-120) of each provider source, and a CLI config
    that installs only from it. Returns the CLI config file."""
    for source in sorted(sources):
        hostname_source = source if source.count("/") == 2 else f"registry.terraform.io/{source}"
        name = source.rsplit("/", 1)[1]
        for major in FAKE_MAJORS:
            for minor in FAKE_MINORS:
                version = f"{major}.{minor}.0"
                package = directory / hostname_source / version / "linux_amd64"
                package.mkdir(parents=True, exist_ok=True)
                executable = package / f"terraform-provider-{name}_v{version}"
                executable.write_text("#!/bin/sh\nexit 1\n")
                executable.chmod(0o755)
    config = directory.parent / "cli.tfrc"
    config.write_text(f'provider_installation {{\n  filesystem_mirror {{\n    path = "{directory}"\n  }}\n}}\n')
    return config


def stub_module(
    release: ReleaseInterface, *, with_constraints: bool, output_values: dict[str, Any] | None = None
) -> dict[str, dict[str, Any]]:
    """Files (relative path -> JSON document) of a module with exactly `release`'s interface."""
    variables: dict[str, Any] = {}
    for name, variable in release.variables.items():
        declared: dict[str, Any] = {"type": variable.type}
        if not variable.required:
            declared["default"] = variable.default
        if not variable.nullable:
            declared["nullable"] = False
        if variable.sensitive:
            declared["sensitive"] = True
        variables[name] = declared
    values = output_values or {}
    outputs = {
        name: {"value": values.get(name), "sensitive": output.sensitive} for name, output in release.outputs.items()
    }
    main: dict[str, Any] = {"variable": variables, "output": outputs}
    files = {"main.tf.json": main}
    if with_constraints:
        by_directory: dict[str, dict[str, Any]] = {}
        for requirement in release.required_providers:
            entry = {"source": requirement.source}
            if requirement.version:
                entry["version"] = requirement.version
            by_directory.setdefault(requirement.directory, {})[requirement.name] = entry
        directories = sorted(set(by_directory) | set(release.required_version))
        calls = {}
        for directory in directories:
            block: dict[str, Any] = {}
            if directory in release.required_version:
                block["required_version"] = release.required_version[directory]
            if directory in by_directory:
                block["required_providers"] = by_directory[directory]
            if directory == ROOT:
                main["terraform"] = block
            else:
                files[f"{directory}/versions.tf.json"] = {"terraform": block}
                calls[directory.replace("/", "_")] = {"source": f"./{directory}"}
        if calls:
            main["module"] = calls
    return files


def _release_of(call: dict[str, Any]) -> ReleaseInterface | None:
    source = str(call.get("source", ""))
    if source not in CONTRACT_SOURCES:
        return None
    return contract_for(source).release(str(call["version"]))


def _write(directory: Path, files: dict[str, dict[str, Any]]) -> None:
    for relative, document in files.items():
        path = directory / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(document, indent=1), encoding="utf-8")


def prepare(
    rendered: dict[str, bytes], directory: Path, *, mode: str, output_values: dict[str, Any] | None = None
) -> None:
    """Write the rendered workspace into `directory` with each W&B module call replaced by its stub.

    mode `init`: everything but the backend (providers resolved against the fake mirror);
    mode `validate`: no provider blocks or requirements; provider expressions become harness outputs.
    """
    documents = {name: json.loads(content) for name, content in rendered.items() if name.endswith(".tf.json")}
    for name in ("terraform.tfvars.json",):
        if name in rendered:
            (directory / name).write_bytes(rendered[name])
    terraform = documents["terraform.tf.json"]["terraform"]
    terraform.pop("backend", None)
    terraform["required_version"] = "= " + local_version()
    main = documents["main.tf.json"]
    for call_name, call in main["module"].items():
        release = _release_of(call)
        if release is None:
            continue
        stub_dir = f"stub_{call_name}"
        values = output_values if call_name == "wandb_infra" else None
        stub = stub_module(release, with_constraints=mode == "init", output_values=values)
        _write(directory, {f"{stub_dir}/{path}": document for path, document in stub.items()})
        call["source"] = f"./{stub_dir}"
        call.pop("version", None)
    if mode == "validate":
        terraform.pop("required_providers", None)
        providers = documents.pop("providers.tf.json", {})
        expressions = [text for text in _templates(providers) if "data." not in text]  # data sources need the provider
        harness = {f"provider_expression_{i}": {"value": text} for i, text in enumerate(expressions)}
        if harness:
            documents["harness.tf.json"] = {"output": harness}
    _write(directory, documents)


def _templates(value: Any) -> list[str]:
    if isinstance(value, str):
        return [value] if "${" in value else []
    if isinstance(value, dict):
        return [text for item in value.values() for text in _templates(item)]
    if isinstance(value, list):
        return [text for item in value for text in _templates(item)]
    return []


def run(directory: Path, *args: str, config_file: Path | None = None, env: dict[str, str] | None = None) -> Outcome:
    assert TERRAFORM is not None
    full_env = {**_env(config_file), **(env or {})}
    done = subprocess.run(
        [TERRAFORM, *args], cwd=directory, env=full_env, capture_output=True, text=True, timeout=300, check=False
    )
    return Outcome(done.returncode, done.stdout, done.stderr)


def init(directory: Path, config_file: Path) -> Outcome:
    return run(directory, "init", "-backend=false", "-input=false", "-no-color", config_file=config_file)


def validate(directory: Path) -> Outcome:
    empty = directory.parent / f"{directory.name}.tfrc"
    empty.write_text("")
    first = run(directory, "init", "-backend=false", "-input=false", "-no-color", config_file=empty)
    if first.code != 0:
        return first
    return run(directory, "validate", "-no-color", config_file=empty)
