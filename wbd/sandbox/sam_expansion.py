"""The SAM transform of a template, by the library behind `sam validate` and CloudFormation's transform
(aws-sam-translator, pinned): functions, layers, state machines, their roles and policies, event rules and schedules
become the plain CloudFormation resources AWS would create, and the sandbox provisions those.

Local artifact paths (a function's `CodeUri`, a layer's `ContentUri`, a state machine's `DefinitionUri`) are what
`sam package` would upload; the translator wants S3 locations, so each is given as `s3://<LOCAL_BUCKET>/<path>` and the
sandbox reads `<path>` back from the translated `Code` / `Content` / `DefinitionS3Location`.
"""

from __future__ import annotations

import copy
import json
from functools import lru_cache
from typing import Any

import boto3
from samtranslator.parser.parser import Parser
from samtranslator.translator.translator import Translator

from wbd.sandbox.errors import TemplateError

LOCAL_BUCKET = "wbd-sandbox-local-artifacts"
_LOCAL_PROPERTIES = {
    "AWS::Serverless::Function": "CodeUri",
    "AWS::Serverless::LayerVersion": "ContentUri",
    "AWS::Serverless::StateMachine": "DefinitionUri",
}


def _with_local_uris(body: dict[str, Any]) -> dict[str, Any]:
    template = copy.deepcopy(body)
    for resource in (template.get("Resources") or {}).values():
        key = _LOCAL_PROPERTIES.get(resource.get("Type", ""))
        properties = resource.get("Properties") or {}
        if key and isinstance(properties.get(key), str) and not properties[key].startswith("s3://"):
            properties[key] = f"s3://{LOCAL_BUCKET}/{properties[key]}"
    return template


@lru_cache(maxsize=8)
def _translate(document: str, parameters: str, region: str) -> str:
    translator = Translator(
        managed_policy_map={}, sam_parser=Parser(), boto_session=boto3.session.Session(region_name=region)
    )
    translated = translator.translate(
        json.loads(document), parameter_values=json.loads(parameters), get_managed_policy_map=lambda: {}
    )
    return json.dumps(translated)


def expand(
    body: dict[str, Any], parameters: dict[str, Any], *, region: str, account_id: str, stack_name: str
) -> dict[str, Any]:
    """The CloudFormation template the SAM transform makes of `body` (cached per template, parameters and stack)."""
    if "Transform" not in body:
        return copy.deepcopy(body)
    values = {
        **parameters,
        "AWS::Region": region,
        "AWS::AccountId": account_id,
        "AWS::Partition": "aws",
        "AWS::StackName": stack_name,
    }
    try:
        translated = _translate(
            json.dumps(_with_local_uris(body), sort_keys=True), json.dumps(values, sort_keys=True), region
        )
    except Exception as exc:  # the translator raises its own exception classes (InvalidDocumentException, ...)
        raise TemplateError(f"the SAM transform failed: {exc}") from exc
    document: dict[str, Any] = json.loads(translated)
    return document


def local_path(location: Any) -> str | None:
    """The local path behind a translated S3 location (`{"S3Bucket", "S3Key"}` or `{"Bucket", "Key"}`), else None."""
    if not isinstance(location, dict):
        return None
    bucket = location.get("S3Bucket", location.get("Bucket"))
    key = location.get("S3Key", location.get("Key"))
    return str(key) if bucket == LOCAL_BUCKET and isinstance(key, str) else None
