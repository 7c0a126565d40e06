"""Creating a template's resources in the emulator, in dependency order, the way CloudFormation would.

The template is the SAM transform's output (`sam_expansion.py`): functions, state machines, their roles and policies,
event rules and schedules are the plain resources AWS would create. Each supported type has a creator that resolves
the resource's properties, creates it with boto3 (which points at the emulator) and records its Ref value and GetAtt
attributes; roles get their inline policies and managed policies, as IAM enforces them. Types the workflow does not
touch are recorded as skipped, with placeholder values so that references to them still resolve.
"""

from __future__ import annotations

import io
import json
import logging
import uuid
import zipfile
from collections.abc import Callable
from functools import partial
from typing import Any

from botocore.exceptions import ClientError, ParamValidationError

from wbd.sandbox import data_resources
from wbd.sandbox.emulator import emulator_client
from wbd.sandbox.errors import ProvisioningError, TemplateError, UnknownResourceError
from wbd.sandbox.event_sources import EventSources
from wbd.sandbox.identities import IdentityBroker
from wbd.sandbox.sam_expansion import local_path
from wbd.sandbox.stack_records import FunctionSpec, ProvisionedResource
from wbd.sandbox.template import Intrinsics, Template

LOGGER = logging.getLogger(__name__)
_STATES_TRUST = {
    "Version": "2012-10-17",
    "Statement": [{"Effect": "Allow", "Principal": {"Service": "states.amazonaws.com"}, "Action": "sts:AssumeRole"}],
}


class Stack:
    """The template's resources in the emulator: logical id -> ProvisionedResource."""

    def __init__(
        self, template: Template, stack_name: str, region: str, account_id: str, identities: IdentityBroker
    ) -> None:
        self.template = template
        self.identities = identities
        self.stack_name = stack_name
        self.region = region
        self.account_id = account_id
        self.records: dict[str, ProvisionedResource] = {}
        self.functions: dict[str, FunctionSpec] = {}
        self.pseudo = {
            "AWS::Region": region,
            "AWS::AccountId": account_id,
            "AWS::Partition": "aws",
            "AWS::StackName": stack_name,
            "AWS::StackId": f"arn:aws:cloudformation:{region}:{account_id}:stack/{stack_name}/{uuid.uuid4()}",
            "AWS::URLSuffix": "amazonaws.com",
            "AWS::NotificationARNs": "",
        }
        self.intrinsics = Intrinsics(template, self.pseudo, self.lookup)
        self.events = EventSources(self)
        self._creators: dict[str, Callable[[str, dict[str, Any]], ProvisionedResource]] = {
            "AWS::S3::Bucket": partial(data_resources.bucket, self),
            "AWS::DynamoDB::Table": partial(data_resources.table, self),
            "AWS::Serverless::SimpleTable": partial(data_resources.simple_table, self),
            "AWS::SNS::Topic": partial(data_resources.topic, self),
            "AWS::SQS::Queue": partial(data_resources.queue, self),
            "AWS::Events::EventBus": partial(data_resources.event_bus, self),
            "AWS::KMS::Key": partial(data_resources.kms_key, self),
            "AWS::KMS::Alias": partial(data_resources.kms_alias, self),
            "AWS::SSM::Parameter": partial(data_resources.parameter, self),
            "AWS::CodeBuild::Project": self._codebuild_project,
            "AWS::IAM::Role": self._role,
            "AWS::Logs::LogGroup": partial(data_resources.log_group, self),
            "AWS::Lambda::Function": self._function,
            "AWS::StepFunctions::StateMachine": self._state_machine,
            "AWS::Events::Rule": self._rule,
            "AWS::Scheduler::Schedule": self._schedule,
        }

    # -- public ---------------------------------------------------------------------------------------------------
    def provision(self) -> None:
        for logical_id in self.template.creation_order():
            resource = self.template.resources[logical_id]
            condition = resource.get("Condition")
            if condition and not self.intrinsics.condition(condition):
                continue
            creator = self._creators.get(resource.get("Type", ""))
            try:
                record = creator(logical_id, resource) if creator else self._skip(logical_id, resource)
            except (ClientError, ParamValidationError) as exc:
                raise ProvisioningError(f"{logical_id} ({resource.get('Type')}): {exc}") from exc
            self.records[logical_id] = record
            LOGGER.info("resource provisioned", extra={"logical_id": logical_id, "status": record.status})

    def lookup(self, logical_id: str, attribute: str | None) -> Any:
        record = self.records.get(logical_id)
        if record is None:
            raise TemplateError(f"{logical_id} is referenced before it exists (or its Condition is false)")
        if attribute is None:
            return record.ref
        if attribute not in record.attributes:
            if record.status == "skipped":
                return f"arn:aws:sandbox:{self.region}:{self.account_id}:{logical_id}/{attribute}"
            raise TemplateError(f"Fn::GetAtt {logical_id}.{attribute}: attribute not supported for {record.type}")
        return record.attributes[attribute]

    def record(self, logical_id: str) -> ProvisionedResource:
        if logical_id not in self.records:
            raise UnknownResourceError(f"no resource {logical_id!r} in the sandbox stack")
        return self.records[logical_id]

    def physical_name(self, logical_id: str, limit: int = 64, lower: bool = False) -> str:
        """`<stack>-<logical>-<SUFFIX>` like CloudFormation, trimmed to the service's limit."""
        suffix = uuid.uuid4().hex[:12].upper()
        name = f"{self.stack_name}-{logical_id}"[: limit - len(suffix) - 1] + f"-{suffix}"
        return name.lower() if lower else name

    def props(self, resource: dict[str, Any]) -> dict[str, Any]:
        resolved: dict[str, Any] = self.intrinsics.resolve(resource.get("Properties") or {})
        return resolved

    def arn(self, service: str, resource: str) -> str:
        return f"arn:aws:{service}:{self.region}:{self.account_id}:{resource}"

    # -- creators -------------------------------------------------------------------------------------------------
    def _skip(self, logical_id: str, resource: dict[str, Any]) -> ProvisionedResource:
        placeholder = f"{logical_id}-sandbox-skipped"
        if resource.get("Type") in ("AWS::Serverless::LayerVersion", "AWS::Lambda::LayerVersion"):
            placeholder = self.arn("lambda", f"layer:{logical_id}:1")
        return ProvisionedResource(logical_id, resource.get("Type", ""), placeholder, status="skipped")

    def _codebuild_project(self, logical_id: str, resource: dict[str, Any]) -> ProvisionedResource:
        props = self.props(resource)
        name = props.get("Name") or self.physical_name(logical_id, 150)
        source = props.get("Source") or {"Type": "NO_SOURCE"}
        environment = props.get("Environment") or {}
        request: dict[str, Any] = {
            "name": name,
            "source": {
                ("buildspec" if key == "buildSpec" else key): value for key, value in _camel_keys(source).items()
            },
            "artifacts": {"type": (props.get("Artifacts") or {}).get("Type", "NO_ARTIFACTS")},
            "environment": {
                "type": environment.get("Type", "LINUX_CONTAINER"),
                "image": environment.get("Image", "aws/codebuild/standard:7.0"),
                "computeType": environment.get("ComputeType", "BUILD_GENERAL1_SMALL"),
                "environmentVariables": [
                    {"name": item["Name"], "value": str(item["Value"]), "type": item.get("Type", "PLAINTEXT")}
                    for item in environment.get("EnvironmentVariables") or []
                ],
            },
            "serviceRole": props.get("ServiceRole") or f"arn:aws:iam::{self.account_id}:role/sandbox-codebuild",
            "timeoutInMinutes": int(props.get("TimeoutInMinutes", 60)),
        }
        if props.get("LogsConfig"):
            request["logsConfig"] = _camel_keys(props["LogsConfig"])
        project = emulator_client("codebuild").create_project(**request)["project"]
        return ProvisionedResource(
            logical_id, resource["Type"], name, {"Arn": project["arn"]}, details={"project": request}
        )

    def _role(self, logical_id: str, resource: dict[str, Any]) -> ProvisionedResource:
        """The role with its inline policies and attached managed policies (AWS managed ones made known to IAM)."""
        props = self.props(resource)
        name = props.get("RoleName") or self.physical_name(logical_id, 64)
        trust = props.get("AssumeRolePolicyDocument") or {}
        iam = emulator_client("iam")
        role = iam.create_role(
            RoleName=name,
            AssumeRolePolicyDocument=trust if isinstance(trust, str) else json.dumps(trust),
            Path=props.get("Path", "/"),
        )["Role"]
        policies: dict[str, Any] = {}
        for policy in props.get("Policies") or []:
            document = policy["PolicyDocument"]
            if isinstance(document, dict) and "Version" not in document:
                # SAM writes statement policies without a Version: IAM reads them as 2008-10-17 (the same as
                # 2012-10-17 for policies without variables); moto's validator refuses a missing Version.
                document = {"Version": "2012-10-17", **document}
            iam.put_role_policy(
                RoleName=name,
                PolicyName=policy["PolicyName"],
                PolicyDocument=document if isinstance(document, str) else json.dumps(document),
            )
            policies[policy["PolicyName"]] = document
        managed = [str(arn) for arn in props.get("ManagedPolicyArns") or []]
        self.identities.ensure_aws_managed_policies(managed)
        for arn in managed:
            iam.attach_role_policy(RoleName=name, PolicyArn=arn)
        details = {"policies": policies, "managed_policies": managed}
        return ProvisionedResource(
            logical_id, resource["Type"], name, {"Arn": role["Arn"], "RoleId": role["RoleId"]}, details=details
        )

    def _function(self, logical_id: str, resource: dict[str, Any]) -> ProvisionedResource:
        """An AWS::Lambda::Function whose code is a local folder (the sandbox runs its handler in-process)."""
        props = self.props(resource)
        name = props.get("FunctionName") or self.physical_name(logical_id, 64)
        code_path = local_path(props.get("Code"))
        if code_path is None:
            raise ProvisioningError(f"{logical_id}: its code must be a local folder in the sandbox")
        environment = {
            key: str(value) for key, value in ((props.get("Environment") or {}).get("Variables") or {}).items()
        }
        package = io.BytesIO()
        with zipfile.ZipFile(package, "w") as archive:
            archive.writestr("README.txt", "sandbox: the handler runs in-process from the repository checkout")
        role = str(props["Role"])
        function = emulator_client("lambda").create_function(
            FunctionName=name,
            Runtime=props.get("Runtime", "python3.12"),
            Role=role,
            Handler=props.get("Handler", "app.lambda_handler"),
            Code={"ZipFile": package.getvalue()},
            Environment={"Variables": environment},
            Timeout=int(props.get("Timeout", 3)),
            MemorySize=int(props.get("MemorySize", 128)),
        )
        spec = FunctionSpec(
            logical_id=logical_id,
            name=name,
            arn=function["FunctionArn"],
            code_dir=(self.template.base_dir / code_path).resolve(),
            handler=props.get("Handler", "app.lambda_handler"),
            environment=environment,
            timeout=int(props.get("Timeout", 3)),
            memory=int(props.get("MemorySize", 128)),
            role_arn=role,
        )
        self.functions[name] = spec
        return ProvisionedResource(
            logical_id, resource["Type"], name, {"Arn": function["FunctionArn"]}, details={"spec": spec}
        )

    def _state_machine(self, logical_id: str, resource: dict[str, Any]) -> ProvisionedResource:
        props = self.props(resource)
        definition_path = local_path(props.get("DefinitionS3Location"))
        if definition_path is not None:
            definition = self._read_definition(logical_id, definition_path)
        elif "DefinitionString" in props:
            definition = str(props["DefinitionString"])
        elif "Definition" in props:
            definition = json.dumps(props["Definition"])
        else:
            raise ProvisioningError(f"{logical_id}: needs a local DefinitionUri, a DefinitionString or a Definition")
        return self._create_state_machine(
            logical_id,
            resource["Type"],
            name=props.get("StateMachineName") or self.physical_name(logical_id, 80),
            definition=_substitute(definition, props.get("DefinitionSubstitutions") or {}),
            role=str(props.get("RoleArn") or self._states_role(logical_id)),
            kind=props.get("StateMachineType", "STANDARD"),
        )

    def _states_role(self, owner: str) -> str:
        """A role for a state machine that names none (a plain AWS::StepFunctions::StateMachine without RoleArn)."""
        name = self.physical_name(f"{owner}Role", 64)
        role = emulator_client("iam").create_role(RoleName=name, AssumeRolePolicyDocument=json.dumps(_STATES_TRUST))
        return str(role["Role"]["Arn"])

    def _read_definition(self, logical_id: str, uri: Any) -> str:
        if not isinstance(uri, str):
            raise ProvisioningError(f"{logical_id}: DefinitionUri must be a local file in the sandbox")
        try:
            return (self.template.base_dir / uri).read_text(encoding="utf-8")
        except OSError as exc:
            raise ProvisioningError(f"{logical_id}: cannot read DefinitionUri {uri}: {exc}") from exc

    def _create_state_machine(
        self, logical_id: str, type_: str, *, name: str, definition: str, role: str, kind: str
    ) -> ProvisionedResource:
        arn = emulator_client("stepfunctions").create_state_machine(
            name=name, definition=definition, roleArn=role, type=kind
        )["stateMachineArn"]
        return ProvisionedResource(
            logical_id, type_, arn, {"Arn": arn, "Name": name}, details={"definition": definition, "role": role}
        )

    def _rule(self, logical_id: str, resource: dict[str, Any]) -> ProvisionedResource:
        props = self.props(resource)
        name = props.get("Name") or self.physical_name(logical_id, 64)
        arn = self.events.put_rule(name, props, props.get("Targets") or [])
        details = {"schedule": "ScheduleExpression" in props, "bus": props.get("EventBusName")}
        LOGGER.info("event rule provisioned", extra={"logical_id": logical_id})
        return ProvisionedResource(logical_id, resource["Type"], name, {"Arn": arn}, details=details)

    def _schedule(self, logical_id: str, resource: dict[str, Any]) -> ProvisionedResource:
        props = self.props(resource)
        name = props.get("Name") or self.physical_name(logical_id, 64)
        arn = self.events.create_schedule(name, props)
        details = {"schedule": True, "target": props.get("Target") or {}}
        return ProvisionedResource(logical_id, resource["Type"], name, {"Arn": arn}, details=details)


def _substitute(definition: str, substitutions: dict[str, Any]) -> str:
    """SAM's DefinitionSubstitutions: `${Key}` in the definition -> the (already resolved) value, JSON-escaped."""
    for key, value in substitutions.items():
        text = value if isinstance(value, str) else json.dumps(value)
        definition = definition.replace("${" + key + "}", json.dumps(text)[1:-1])
    return definition


def _camel_keys(value: Any) -> Any:
    """CloudFormation's PascalCase property keys -> the API's camelCase (recursively)."""
    if isinstance(value, dict):
        return {key[0].lower() + key[1:]: _camel_keys(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_camel_keys(item) for item in value]
    return value
