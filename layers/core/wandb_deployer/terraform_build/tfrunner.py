"""Runs Terraform inside CodeBuild for one wandb-deployer run: install, plan, drift, apply.

Standalone on purpose: the standard library, its sibling `planfiles.py`, and boto3 (imported lazily; the project's
buildspec installs the pinned, hash-checked wheels of build-requirements.txt into .wbd/python). It never imports
wandb_deployer, never runs a shell, and never prints an environment value: Terraform's own output is streamed to the
build log with every known secret value masked.

Phases (`python3 tfrunner.py <phase>`):
  install   use a `terraform` on PATH that reports exactly WBD_TERRAFORM_VERSION, else download that release from
            TERRAFORM_RELEASES_URL (default https://releases.hashicorp.com), verify its sha256 against
            terraform-checksums.json and unzip it into .wbd/bin under the build directory.
  plan      reads the workspace's secret inputs from Parameter Store (workspace.json names them) into a tfvars file
            that lives only for the plan; init + plan -detailed-exitcode; uploads plan.tfplan, plan.json (no values:
            see planfiles.py), plan.sha256, plan-dependencies.zip (the lock file and downloaded modules) and
            plan-result.json (with both sha256s).
  drift     the same with -refresh-only, plus outputs.json for the wiring and health checks.
  apply     downloads plan.tfplan, refuses unless its sha256 equals WBD_APPROVED_PLAN_SHA256, unpacks the plan's
            dependencies (refused unless their sha256 is the one plan-result.json recorded), initialises with
            -lockfile=readonly -get=false, applies exactly that plan, uploads outputs.json (values of sensitive
            outputs dropped) and apply-result.json.
  run       the action named by WBD_ACTION (plan | drift | apply).

Environment: WBD_ARTIFACTS_BUCKET, WBD_RUN_PREFIX (runs/<deployment>/<execution>/), WBD_DEPLOYMENT,
WBD_TERRAFORM_VERSION, WBD_LOCK_TIMEOUT (default 300s), WBD_KMS_KEY_ARN (optional), WBD_APPROVED_PLAN_SHA256 (apply),
WBD_SECRET_ENV (optional, comma-separated names of further variables whose values must be masked; TF_VAR_license
always is), CODEBUILD_BUILD_ID, TF_PLUGIN_CACHE_DIR.

While Terraform runs, s3://<bucket>/locks/<deployment>/holder.json names this build, so a later run can tell a state
lock left by a killed build from a live one; it is removed when Terraform ends on its own.

Exit status: 0 when the phase succeeded (a plan with changes included), 1 on any failure (the build then FAILS; the
result file says why with a code: StateLocked, StalePlan, PlanMismatch, DependenciesMismatch, ChecksumMismatch,
...), 2 on bad usage.
"""

from __future__ import annotations

import codecs
import datetime
import hashlib
import json
import os
import platform
import re
import shutil
import subprocess
import sys
import tempfile
import urllib.parse
import urllib.request
import zipfile
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

# planfiles.py sits beside this file in the bundle (`python3 tfrunner.py` puts this directory first on sys.path).
from planfiles import DependenciesError, pack_dependencies, redact_plan, unpack_dependencies

CHECKSUMS_FILE = Path(__file__).with_name("terraform-checksums.json")
INSTALL_DIR = Path(".wbd") / "bin"
DEFAULT_RELEASES_URL = "https://releases.hashicorp.com"
DEFAULT_PLUGIN_CACHE = ".terraform-plugin-cache"
PLAN_FILE = "plan.tfplan"
DEPENDENCIES_FILE = "plan-dependencies.zip"
MANIFEST_FILE = "workspace.json"
SECRET_TFVARS = "zz-secret-inputs.auto.tfvars.json"  # noqa: S105 - a file name; written for the plan, then removed
MASK = "(redacted)"
ACTIONS = ("plan", "drift", "apply")
ALWAYS_SECRET = ("TF_VAR_license",)
_SHA256 = re.compile(r"^[0-9a-f]{64}$")
_LOCK_MARKER = "Error acquiring the state lock"
_STALE_MARKER = "Saved plan is stale"
_MARKERS = (_LOCK_MARKER, _STALE_MARKER)
_CHUNK = 1 << 16


class RunnerError(Exception):
    """A failure the runner reports by code in its result file; messages never carry secret values."""

    code = "RunnerError"


class MissingSetting(RunnerError):
    code = "MissingSetting"


class UnknownTerraformVersion(RunnerError):
    code = "UnknownTerraformVersion"


class ChecksumMismatch(RunnerError):
    code = "ChecksumMismatch"


class ReleaseDownloadFailed(RunnerError):
    code = "ReleaseDownloadFailed"


class TerraformNotInstalled(RunnerError):
    code = "TerraformNotInstalled"


class TerraformFailed(RunnerError):
    code = "TerraformFailed"


class StateLocked(RunnerError):
    code = "StateLocked"


class StalePlan(RunnerError):
    code = "StalePlan"


class PlanMismatch(RunnerError):
    code = "PlanMismatch"


class PlanNotFound(RunnerError):
    code = "PlanNotFound"


class DependenciesMismatch(RunnerError):
    code = "DependenciesMismatch"


class SecretInputUnavailable(RunnerError):
    code = "SecretInputUnavailable"


def log(message: str, **fields: Any) -> None:
    """One JSON line on stderr (the build log): a constant message, data in fields, never an environment value."""
    sys.stderr.write(json.dumps({"runner": "wbd", "message": message, **fields}, default=str) + "\n")
    sys.stderr.flush()


# --- settings --------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class RunSettings:
    bucket: str
    run_prefix: str
    deployment: str
    lock_timeout: str = "300s"
    kms_key_arn: str = ""
    build_id: str = "local"

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> RunSettings:
        missing = [name for name in ("WBD_ARTIFACTS_BUCKET", "WBD_RUN_PREFIX", "WBD_DEPLOYMENT") if not env.get(name)]
        if missing:
            raise MissingSetting("missing environment variable(s): " + ", ".join(missing))
        prefix = env["WBD_RUN_PREFIX"]
        return cls(
            bucket=env["WBD_ARTIFACTS_BUCKET"],
            run_prefix=prefix if prefix.endswith("/") else prefix + "/",
            deployment=env["WBD_DEPLOYMENT"],
            lock_timeout=env.get("WBD_LOCK_TIMEOUT") or "300s",
            kms_key_arn=env.get("WBD_KMS_KEY_ARN", ""),
            build_id=env.get("CODEBUILD_BUILD_ID") or "local",
        )

    @property
    def holder_key(self) -> str:
        return f"locks/{self.deployment}/holder.json"


def secret_values(env: Mapping[str, str]) -> list[str]:
    """The values to mask everywhere: TF_VAR_license and any variable named in WBD_SECRET_ENV (longest first)."""
    names = set(ALWAYS_SECRET) | {n.strip() for n in env.get("WBD_SECRET_ENV", "").split(",") if n.strip()}
    values = {env[name] for name in names if env.get(name)}
    return sorted(values, key=len, reverse=True)


def mask(text: str, secrets: Iterable[str]) -> str:
    for value in secrets:
        text = text.replace(value, MASK)
    return text


def mask_json(value: Any, secrets: list[str]) -> Any:
    """A copy of a JSON document with every secret value masked inside every string (keys included)."""
    if isinstance(value, str):
        return mask(value, secrets)
    if isinstance(value, list):
        return [mask_json(item, secrets) for item in value]
    if isinstance(value, dict):
        return {mask(key, secrets): mask_json(item, secrets) for key, item in value.items()}
    return value


# --- terraform binary ------------------------------------------------------------------------------------------


def os_arch() -> str:
    machine = platform.machine().lower()
    arch = {"x86_64": "amd64", "amd64": "amd64", "aarch64": "arm64", "arm64": "arm64"}.get(machine)
    if arch is None:
        raise UnknownTerraformVersion(f"unsupported machine architecture {machine!r}")
    return f"linux_{arch}"


def terraform_version_of(binary: str) -> str | None:
    """What `<binary> version -json` reports, or None when it cannot tell."""
    try:
        done = subprocess.run([binary, "version", "-json"], capture_output=True, check=False, timeout=60)  # noqa: S603
    except OSError:
        return None
    if done.returncode != 0:
        return None
    try:
        reported = json.loads(done.stdout).get("terraform_version")
    except (ValueError, AttributeError):
        return None
    return reported if isinstance(reported, str) else None


def expected_sha256(version: str, arch: str, checksums: Mapping[str, str]) -> str:
    value = checksums.get(f"{version}/{arch}", "")
    if not _SHA256.fullmatch(value):
        raise UnknownTerraformVersion(
            f"no pinned sha256 for terraform {version} {arch} in terraform-checksums.json; add it from the official "
            "SHA256SUMS before using this version"
        )
    return value


def download_release(url: str, destination: Path) -> str:
    """Stream `url` to `destination`; return the sha256 of what was written."""
    if urllib.parse.urlsplit(url).scheme not in ("https", "http"):
        raise UnknownTerraformVersion("TERRAFORM_RELEASES_URL must be an http(s) URL")
    for attempt in range(1, 4):
        digest = hashlib.sha256()
        try:
            with urllib.request.urlopen(url, timeout=120) as response, destination.open("wb") as out:  # noqa: S310
                while chunk := response.read(_CHUNK):
                    digest.update(chunk)
                    out.write(chunk)
            return digest.hexdigest()
        except OSError as exc:  # urllib's URLError and socket timeouts are OSErrors
            log("terraform download failed", url=url, attempt=attempt, error=type(exc).__name__)
            failure = exc
    raise ReleaseDownloadFailed(f"could not download {url}") from failure


def install_terraform(
    version: str,
    *,
    bin_dir: Path,
    checksums: Mapping[str, str],
    releases_url: str = DEFAULT_RELEASES_URL,
    arch: str | None = None,
) -> Path:
    """Download, verify and unzip terraform `version` into `bin_dir`; return the binary's path."""
    arch = arch or os_arch()
    expected = expected_sha256(version, arch, checksums)
    url = f"{releases_url.rstrip('/')}/terraform/{version}/terraform_{version}_{arch}.zip"
    bin_dir.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=bin_dir.parent) as scratch:
        archive = Path(scratch) / "terraform.zip"
        actual = download_release(url, archive)
        if actual != expected:
            raise ChecksumMismatch(f"terraform {version} {arch}: sha256 {actual} != pinned {expected}; refusing it")
        target = bin_dir / "terraform"
        with zipfile.ZipFile(archive) as bundle, bundle.open("terraform") as member, target.open("wb") as out:
            shutil.copyfileobj(member, out)
    target.chmod(0o755)
    log("terraform installed", version=version, arch=arch, sha256=actual)
    return target


def resolve_terraform(workdir: Path) -> str:
    """The binary every phase uses: the one `install` put under the build directory, else `terraform` on PATH."""
    installed = workdir / INSTALL_DIR / "terraform"
    if installed.is_file():
        return str(installed)
    found = shutil.which("terraform")
    if found is None:
        raise TerraformNotInstalled("no terraform binary: run `python3 tfrunner.py install` first")
    return found


def phase_install(env: Mapping[str, str], workdir: Path) -> int:
    version = env.get("WBD_TERRAFORM_VERSION", "")
    if not version:
        raise MissingSetting("missing environment variable(s): WBD_TERRAFORM_VERSION")
    on_path = shutil.which("terraform")
    if on_path is not None and terraform_version_of(on_path) == version:
        log("terraform found on PATH", version=version, path=on_path)
        return 0
    checksums = json.loads(CHECKSUMS_FILE.read_text(encoding="utf-8"))
    install_terraform(
        version,
        bin_dir=workdir / INSTALL_DIR,
        checksums=checksums,
        releases_url=env.get("TERRAFORM_RELEASES_URL") or DEFAULT_RELEASES_URL,
    )
    return 0


# --- running terraform -----------------------------------------------------------------------------------------


@dataclass
class Terraform:
    """Runs one terraform binary with argument lists and an explicit environment; masks secrets in its output."""

    binary: str
    workdir: Path
    env: dict[str, str]
    secrets: list[str] = field(default_factory=list)

    @classmethod
    def for_build(cls, env: Mapping[str, str], workdir: Path) -> Terraform:
        cache = Path(env.get("TF_PLUGIN_CACHE_DIR") or DEFAULT_PLUGIN_CACHE)
        cache = cache if cache.is_absolute() else workdir / cache
        cache.mkdir(parents=True, exist_ok=True)
        child_env = dict(env)
        child_env.update({"TF_IN_AUTOMATION": "1", "TF_INPUT": "0", "TF_PLUGIN_CACHE_DIR": str(cache)})
        return cls(binary=resolve_terraform(workdir), workdir=workdir, env=child_env, secrets=secret_values(env))

    def stream(self, *args: str) -> tuple[int, set[str]]:
        """Run terraform, copying its merged output (masked) to the build log; return (exit code, markers seen)."""
        log("terraform started", command=args[0])
        proc = subprocess.Popen(  # noqa: S603
            [self.binary, *args],
            cwd=self.workdir,
            env=self.env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
        )
        assert proc.stdout is not None
        decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
        markers: set[str] = set()
        for raw in proc.stdout:
            line = mask(decoder.decode(raw), self.secrets)
            sys.stdout.write(line)
            markers.update(marker for marker in _MARKERS if marker in line)
        sys.stdout.flush()
        code = proc.wait()
        log("terraform finished", command=args[0], exit_code=code)
        return code, markers

    def capture(self, *args: str) -> bytes:
        """Run terraform for its stdout (JSON documents: never printed); its stderr goes, masked, to the build log."""
        done = subprocess.run(  # noqa: S603
            [self.binary, *args], cwd=self.workdir, env=self.env, capture_output=True, check=False
        )
        if done.stderr:
            sys.stderr.write(mask(done.stderr.decode("utf-8", "replace"), self.secrets))
        if done.returncode != 0:
            raise TerraformFailed(f"terraform {args[0]} exited with {done.returncode}")
        return done.stdout

    def version(self) -> str:
        return terraform_version_of(self.binary) or "unknown"

    def init(self, lock_timeout: str, *, carried: bool = False) -> None:
        """`carried`: the plan build's lock file and modules are in place; install exactly those, download nothing."""
        pinned = ["-lockfile=readonly", "-get=false"] if carried else []
        code, markers = self.stream("init", "-input=false", "-no-color", *pinned, f"-lock-timeout={lock_timeout}")
        if code != 0:
            if _LOCK_MARKER in markers:
                raise StateLocked("terraform init could not acquire the state lock")
            raise TerraformFailed(f"terraform init exited with {code}")


# --- artifacts -------------------------------------------------------------------------------------------------


class Artifacts:
    """The run's objects in the artifacts bucket, always written with SSE-KMS."""

    def __init__(self, s3: Any, settings: RunSettings) -> None:
        self.s3 = s3
        self.settings = settings

    def _encryption(self) -> dict[str, str]:
        extra = {"ServerSideEncryption": "aws:kms"}
        if self.settings.kms_key_arn:
            extra["SSEKMSKeyId"] = self.settings.kms_key_arn
        return extra

    def put(self, name: str, body: bytes, content_type: str = "application/json", *, key: str | None = None) -> None:
        target = key or self.settings.run_prefix + name
        self.s3.put_object(
            Bucket=self.settings.bucket, Key=target, Body=body, ContentType=content_type, **self._encryption()
        )
        log("artifact uploaded", key=target, bytes=len(body))

    def put_json(self, name: str, document: Any, *, key: str | None = None) -> None:
        self.put(name, json.dumps(document, indent=1, sort_keys=True).encode(), key=key)

    def get(self, name: str, destination: Path) -> None:
        from botocore.exceptions import ClientError

        key = self.settings.run_prefix + name
        try:
            self.s3.download_file(self.settings.bucket, key, str(destination))
        except ClientError as exc:
            raise PlanNotFound(f"s3://{self.settings.bucket}/{key} could not be read") from exc

    def get_bytes(self, name: str, missing: type[RunnerError] = PlanNotFound) -> bytes:
        from botocore.exceptions import ClientError

        key = self.settings.run_prefix + name
        try:
            body: bytes = self.s3.get_object(Bucket=self.settings.bucket, Key=key)["Body"].read()
        except ClientError as exc:
            raise missing(f"s3://{self.settings.bucket}/{key} could not be read") from exc
        return body

    def read_holder(self) -> Any:
        from botocore.exceptions import ClientError

        try:
            body = self.s3.get_object(Bucket=self.settings.bucket, Key=self.settings.holder_key)["Body"].read()
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") in ("NoSuchKey", "404"):
                return None
            raise
        return json.loads(body)

    def delete_holder(self) -> None:
        self.s3.delete_object(Bucket=self.settings.bucket, Key=self.settings.holder_key)


class StateLockHolder:
    """Names this build in locks/<deployment>/holder.json while Terraform may hold the state lock.

    Removed when Terraform ended on its own (whatever its outcome). A killed build leaves it behind, which is how a
    later run knows whose state lock it is looking at. When this build could not get the lock, the marker of the build
    that holds it is put back rather than deleted.
    """

    def __init__(self, artifacts: Artifacts, action: str) -> None:
        self.artifacts = artifacts
        self.action = action
        self.previous: Any = None

    def __enter__(self) -> StateLockHolder:
        self.previous = self.artifacts.read_holder()
        marker = {
            "build_id": self.artifacts.settings.build_id,
            "action": self.action,
            # timezone.utc rather than datetime.UTC: build images may run a python3 older than 3.11
            "started_at": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),  # noqa: UP017
        }
        self.artifacts.put_json("holder.json", marker, key=self.artifacts.settings.holder_key)
        return self

    def __exit__(self, exc_type: Any, exc: BaseException | None, tb: Any) -> None:
        if exc is not None and not isinstance(exc, Exception):
            return  # interrupted: Terraform may still hold the lock, so the marker stays
        if isinstance(exc, StateLocked) and isinstance(self.previous, dict):
            self.artifacts.put_json("holder.json", self.previous, key=self.artifacts.settings.holder_key)
        else:
            self.artifacts.delete_holder()


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def error_document(error: RunnerError | None) -> dict[str, str] | None:
    return None if error is None else {"code": error.code, "message": str(error)}


def drop_sensitive_outputs(outputs: Mapping[str, Any]) -> dict[str, Any]:
    """`terraform output -json` with the value of every sensitive output dropped (name and type kept)."""
    kept: dict[str, Any] = {}
    for name, output in outputs.items():
        entry = dict(output) if isinstance(output, Mapping) else {"value": output}
        if entry.get("sensitive"):
            entry["value"] = None
            entry["sensitive"] = True
        kept[name] = entry
    return kept


def secret_inputs(workdir: Path) -> dict[str, dict[str, Any]]:
    """Variable -> {"parameter": SSM name, "json": stored as JSON} of every secret input workspace.json lists."""
    manifest = workdir / MANIFEST_FILE
    if not manifest.is_file():
        return {}
    listed = json.loads(manifest.read_text(encoding="utf-8")).get("secret_variables") or {}
    return {str(variable): dict(spec) for variable, spec in sorted(listed.items()) if isinstance(spec, dict)}


def read_secret_inputs(wanted: Mapping[str, Mapping[str, Any]], ssm: Any) -> dict[str, Any]:
    """The secret inputs' values from Parameter Store (decrypted), by variable name."""
    from botocore.exceptions import ClientError

    names = sorted({str(spec["parameter"]) for spec in wanted.values()})
    stored: dict[str, str] = {}
    for start in range(0, len(names), 10):
        try:
            found = ssm.get_parameters(Names=names[start : start + 10], WithDecryption=True)
        except ClientError as exc:
            code = exc.response.get("Error", {}).get("Code", "ClientError")
            raise SecretInputUnavailable(f"reading the secret inputs from Parameter Store failed ({code})") from exc
        if found.get("InvalidParameters"):
            raise SecretInputUnavailable("secret input parameter(s) missing: " + ", ".join(found["InvalidParameters"]))
        stored.update({item["Name"]: str(item["Value"]) for item in found.get("Parameters", [])})
    values: dict[str, Any] = {}
    for variable, spec in wanted.items():
        raw = stored[str(spec["parameter"])]
        try:
            values[variable] = json.loads(raw) if spec.get("json") else raw
        except ValueError as exc:
            raise SecretInputUnavailable(f"the secret input {variable} is not the JSON its type needs") from exc
    return values


def text_leaves(value: Any) -> list[str]:
    """Every string inside a value (and the value as JSON), to mask in the build log."""
    if isinstance(value, str):
        return [value]
    leaves = [json.dumps(value)]
    if isinstance(value, dict):
        leaves += [leaf for item in value.values() for leaf in text_leaves(item)]
    elif isinstance(value, list):
        leaves += [leaf for item in value for leaf in text_leaves(item)]
    return leaves


# --- phases ----------------------------------------------------------------------------------------------------


def use_secret_inputs(tf: Terraform, ssm: Any) -> Path | None:
    """Write the workspace's secret inputs, read from Parameter Store, into SECRET_TFVARS (masked from then on): a
    tfvars JSON file keeps every value inert, as terraform.tfvars.json does. Returns the file to remove after plan."""
    wanted = secret_inputs(tf.workdir)
    if not wanted:
        return None
    values = read_secret_inputs(wanted, ssm)
    path = tf.workdir / SECRET_TFVARS
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
        json.dump(values, handle)
    masked = {leaf for value in values.values() for leaf in text_leaves(value) if len(leaf) >= 4}
    tf.secrets = sorted(set(tf.secrets) | masked, key=len, reverse=True)
    log("secret inputs read from Parameter Store", variables=sorted(wanted))
    return path


def phase_plan(action: str, tf: Terraform, artifacts: Artifacts, settings: RunSettings, *, ssm: Any = None) -> int:
    result: dict[str, Any] = {
        "action": action,
        "exit_code": None,
        "has_changes": False,
        "plan_sha256": None,
        "terraform_version": tf.version(),
        "error": None,
    }
    secret_file: Path | None = None
    try:
        secret_file = use_secret_inputs(tf, ssm)
        with StateLockHolder(artifacts, action):
            tf.init(settings.lock_timeout)
            args = ["plan", "-input=false", "-no-color", f"-out={PLAN_FILE}", "-detailed-exitcode"]
            args.append(f"-lock-timeout={settings.lock_timeout}")
            if action == "drift":
                args.append("-refresh-only")
            code, markers = tf.stream(*args)
            result["exit_code"] = code
            if code not in (0, 2):
                if _LOCK_MARKER in markers:
                    raise StateLocked("terraform plan could not acquire the state lock")
                raise TerraformFailed(f"terraform plan exited with {code}")
        plan_json = mask_json(redact_plan(json.loads(tf.capture("show", "-json", PLAN_FILE))), tf.secrets)
        plan_sha = sha256_file(tf.workdir / PLAN_FILE)
        dependencies = pack_dependencies(tf.workdir)
        artifacts.put(PLAN_FILE, (tf.workdir / PLAN_FILE).read_bytes(), "application/octet-stream")
        artifacts.put("plan.json", json.dumps(plan_json).encode())
        artifacts.put("plan.sha256", f"{plan_sha}  {PLAN_FILE}\n".encode(), "text/plain")
        artifacts.put(DEPENDENCIES_FILE, dependencies, "application/zip")
        result["dependencies_sha256"] = hashlib.sha256(dependencies).hexdigest()
        if action == "drift":
            # The drift check verifies wiring and health against what the state says was built.
            outputs = drop_sensitive_outputs(json.loads(tf.capture("output", "-json") or b"{}"))
            artifacts.put_json("outputs.json", mask_json(outputs, tf.secrets))
        result.update(has_changes=code == 2, plan_sha256=plan_sha)
    except RunnerError as error:
        result["error"] = error_document(error)
        artifacts.put_json("plan-result.json", result)
        raise
    finally:
        if secret_file is not None:
            secret_file.unlink(missing_ok=True)
    artifacts.put_json("plan-result.json", result)
    log("plan recorded", action=action, has_changes=result["has_changes"], plan_sha256=result["plan_sha256"])
    return 0


def carry_dependencies(workdir: Path, artifacts: Artifacts) -> None:
    """Put the plan build's lock file and modules into the apply's workspace, exactly as the plan build recorded them.

    The bundle carries no lock file; one left by anything else is replaced. Raises DependenciesMismatch when the
    archive is not the one whose sha256 the plan build recorded in plan-result.json, or holds anything else."""
    try:
        recorded = json.loads(artifacts.get_bytes("plan-result.json")).get("dependencies_sha256")
    except ValueError as exc:
        raise DependenciesMismatch("plan-result.json of the run is not readable") from exc
    blob = artifacts.get_bytes(DEPENDENCIES_FILE, DependenciesMismatch)
    if not isinstance(recorded, str) or hashlib.sha256(blob).hexdigest() != recorded:
        raise DependenciesMismatch("the plan's dependencies are not the ones the plan build recorded; nothing applied")
    (workdir / ".terraform.lock.hcl").unlink(missing_ok=True)
    shutil.rmtree(workdir / ".terraform" / "modules", ignore_errors=True)
    try:
        entries = unpack_dependencies(blob, workdir)
    except (DependenciesError, zipfile.BadZipFile) as exc:
        raise DependenciesMismatch(str(exc)) from exc
    log("plan dependencies carried", files=len(entries), sha256=recorded)


def phase_apply(tf: Terraform, artifacts: Artifacts, settings: RunSettings, approved_sha256: str) -> int:
    result: dict[str, Any] = {
        "action": "apply",
        "exit_code": None,
        "plan_sha256": None,
        "terraform_version": tf.version(),
        "error": None,
    }
    try:
        plan_path = tf.workdir / PLAN_FILE
        artifacts.get(PLAN_FILE, plan_path)
        result["plan_sha256"] = plan_sha = sha256_file(plan_path)
        if not approved_sha256 or plan_sha != approved_sha256.strip().lower():
            raise PlanMismatch("the run's saved plan is not the approved plan; nothing was applied")
        carry_dependencies(tf.workdir, artifacts)
        with StateLockHolder(artifacts, "apply"):
            tf.init(settings.lock_timeout, carried=True)
            code, markers = tf.stream(
                "apply", "-input=false", "-no-color", f"-lock-timeout={settings.lock_timeout}", PLAN_FILE
            )
            result["exit_code"] = code
            if code != 0:
                if _STALE_MARKER in markers:
                    raise StalePlan("the saved plan is stale: the state changed since it was made; plan again")
                if _LOCK_MARKER in markers:
                    raise StateLocked("terraform apply could not acquire the state lock")
                raise TerraformFailed(f"terraform apply exited with {code}")
        outputs = drop_sensitive_outputs(json.loads(tf.capture("output", "-json") or b"{}"))
        artifacts.put_json("outputs.json", mask_json(outputs, tf.secrets))
    except RunnerError as error:
        result["error"] = error_document(error)
        artifacts.put_json("apply-result.json", result)
        raise
    artifacts.put_json("apply-result.json", result)
    log("apply recorded", plan_sha256=result["plan_sha256"])
    return 0


def aws_client(service: str) -> Any:
    import boto3
    from botocore.config import Config

    return boto3.client(service, config=Config(retries={"mode": "standard", "max_attempts": 5}))


def s3_client() -> Any:
    return aws_client("s3")


def run_action(action: str, env: Mapping[str, str], workdir: Path) -> int:
    settings = RunSettings.from_env(env)
    artifacts = Artifacts(s3_client(), settings)
    tf = Terraform.for_build(env, workdir)
    if action == "apply":
        # A saved plan holds every input value: the apply reads no secret (nor the license).
        return phase_apply(tf, artifacts, settings, env.get("WBD_APPROVED_PLAN_SHA256", ""))
    return phase_plan(action, tf, artifacts, settings, ssm=aws_client("ssm") if secret_inputs(workdir) else None)


def main(argv: list[str], *, env: Mapping[str, str] | None = None, workdir: Path | None = None) -> int:
    """The build's entry point; `env` and `workdir` default to the process's (a sandbox may pass its own)."""
    env = dict(os.environ if env is None else env)
    workdir = Path.cwd() if workdir is None else workdir
    if len(argv) != 1 or argv[0] not in ("install", "run", *ACTIONS):
        sys.stderr.write("usage: tfrunner.py install|run|plan|drift|apply\n")
        return 2
    phase = argv[0]
    if phase == "run":
        phase = env.get("WBD_ACTION", "")
        if phase not in ACTIONS:
            log("unknown action", allowed=list(ACTIONS))
            return 2
    try:
        if phase == "install":
            return phase_install(env, workdir)
        return run_action(phase, env, workdir)
    except RunnerError as error:
        log("phase failed", phase=phase, code=error.code, detail=mask(str(error), secret_values(env)))
        return 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
