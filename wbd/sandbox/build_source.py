"""A build's source and buildspec: the zip (or prefix) in S3 extracted into CODEBUILD_SRC_DIR, the buildspec parsed."""

from __future__ import annotations

import io
import zipfile
from pathlib import Path
from typing import Any

import yaml
from botocore.exceptions import ClientError

from wbd.sandbox.emulator import emulator_client
from wbd.sandbox.errors import BuildSourceError


def fetch_source(source: dict[str, Any], src_dir: Path) -> dict[str, Any]:
    """Put the build's source into `src_dir` and return its parsed buildspec.

    `source` is the build's effective source (CodeBuild shape): type S3 (`location` = `bucket/key` of a zip, or
    `bucket/prefix/`; `version`, from StartBuild's sourceVersion, the zip's object version) or NO_SOURCE;
    `buildspec` is inline YAML or a path inside the source (default buildspec.yml).
    """
    kind = str(source.get("type", "NO_SOURCE")).upper()
    if kind == "S3":
        _fetch_s3(str(source.get("location", "")), src_dir, version=source.get("version"))
    elif kind != "NO_SOURCE":
        raise BuildSourceError(f"source type {kind} is not emulated (use S3 or NO_SOURCE)")
    buildspec = str(source.get("buildspec") or "buildspec.yml")
    if "\n" in buildspec or buildspec.lstrip().startswith("version"):
        text = buildspec
    else:
        path = (src_dir / buildspec).resolve()
        if not path.is_relative_to(src_dir.resolve()) or not path.is_file():
            raise BuildSourceError(f"YAML_FILE_ERROR: buildspec {buildspec} not found in the source")
        text = path.read_text(encoding="utf-8")
    try:
        spec = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise BuildSourceError(f"YAML_FILE_ERROR: {exc}") from exc
    if not isinstance(spec, dict) or "phases" not in spec:
        raise BuildSourceError("YAML_FILE_ERROR: buildspec has no phases")
    return spec


def _fetch_s3(location: str, src_dir: Path, version: str | None = None) -> None:
    bucket, _, key = location.partition("/")
    if not bucket or not key:
        raise BuildSourceError(f"S3 source location must be bucket/key, got {location!r}")
    s3 = emulator_client("s3")
    try:
        if key.endswith("/"):
            for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=key):
                for item in page.get("Contents", []):
                    target = (src_dir / item["Key"][len(key) :]).resolve()
                    if not target.is_relative_to(src_dir.resolve()):
                        raise BuildSourceError(f"source object escapes the source dir: {item['Key']}")
                    target.parent.mkdir(parents=True, exist_ok=True)
                    target.write_bytes(s3.get_object(Bucket=bucket, Key=item["Key"])["Body"].read())
        else:
            extra = {"VersionId": version} if version else {}
            body = s3.get_object(Bucket=bucket, Key=key, **extra)["Body"].read()
            with zipfile.ZipFile(io.BytesIO(body)) as archive:
                _safe_extract(archive, src_dir)
    except (ClientError, zipfile.BadZipFile) as exc:
        raise BuildSourceError(f"cannot fetch source s3://{bucket}/{key}: {exc}") from exc


def _safe_extract(archive: zipfile.ZipFile, target: Path) -> None:
    root = target.resolve()
    for member in archive.infolist():
        destination = (root / member.filename).resolve()
        if not destination.is_relative_to(root):
            raise BuildSourceError(f"source zip entry escapes the source dir: {member.filename}")
        archive.extract(member, root)
        mode = member.external_attr >> 16
        if mode:
            destination.chmod(mode & 0o777)
