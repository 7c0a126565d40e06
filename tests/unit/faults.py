"""AWS failures and races for unit tests, on top of moto, deterministic (no timing involved).

Both hook botocore's `before-call` event of one client, the mechanism botocore's own `Stubber` uses, but for one
operation only, so every other call still reaches moto:

- `fail_call` answers matching calls with an AWS error (throttling, access denied, a condition failure...), as AWS
  would: the client raises `ClientError` with that code and HTTP status, and nothing reaches moto;
- `answer_call` answers matching calls with a response moto cannot give (a build still IN_PROGRESS);
- `before_call` runs another actor's action right before a matching call is sent (a lock or an approval changing hands
  between the code's read and its write), then lets the call reach moto.

`when` selects calls by their API parameters (for example the `ConditionExpression` of one of two `PutItem` calls).
Each returns the list of the API parameters of the calls it hit, to assert that the injection happened.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from botocore.awsrequest import AWSResponse

Params = Mapping[str, Any]
_API_PARAMS = "tests.unit.faults.api_params"


def _event(client: Any, kind: str, operation: str) -> str:
    return f"{kind}.{client.meta.service_model.service_id.hyphenize()}.{operation}"


def _remember_params(client: Any, operation: str) -> None:
    def remember(params: Params, context: dict[str, Any], **_: Any) -> None:
        context[_API_PARAMS] = dict(params)

    event = _event(client, "before-parameter-build", operation)
    client.meta.events.register(event, remember, unique_id=f"{_API_PARAMS}.{event}")


def fail_call(
    client: Any,
    operation: str,
    code: str,
    *,
    status: int = 400,
    times: int = 1,
    when: Callable[[Params], bool] | None = None,
    item: Mapping[str, Any] | None = None,
) -> list[dict[str, Any]]:
    """The next `times` calls of `operation` (for example "PutItem") for which `when` holds fail with `code`.

    `item` is what DynamoDB returns with a condition failure when the request asked for
    `ReturnValuesOnConditionCheckFailure=ALL_OLD`.
    """
    hit: list[dict[str, Any]] = []
    _remember_params(client, operation)

    def answer(context: dict[str, Any], **_: Any) -> tuple[AWSResponse, dict[str, Any]] | None:
        params = context.get(_API_PARAMS, {})
        if len(hit) >= times or (when is not None and not when(params)):
            return None
        hit.append(params)
        body: dict[str, Any] = {
            "Error": {"Code": code, "Message": f"injected {code}"},
            "ResponseMetadata": {"HTTPStatusCode": status},
        }
        if item is not None:
            body["Item"] = dict(item)
        return AWSResponse("https://injected.invalid", status, {}, None), body

    client.meta.events.register(_event(client, "before-call", operation), answer)
    return hit


def answer_call(
    client: Any,
    operation: str,
    response: Mapping[str, Any],
    *,
    times: int = 1,
    when: Callable[[Params], bool] | None = None,
) -> list[dict[str, Any]]:
    """The next `times` matching calls get `response` (what AWS would answer, where moto cannot: a build still
    IN_PROGRESS, for example) instead of reaching moto."""
    hit: list[dict[str, Any]] = []
    _remember_params(client, operation)

    def answer(context: dict[str, Any], **_: Any) -> tuple[AWSResponse, dict[str, Any]] | None:
        params = context.get(_API_PARAMS, {})
        if len(hit) >= times or (when is not None and not when(params)):
            return None
        hit.append(params)
        return AWSResponse("https://injected.invalid", 200, {}, None), {
            **response,
            "ResponseMetadata": {"HTTPStatusCode": 200},
        }

    client.meta.events.register(_event(client, "before-call", operation), answer)
    return hit


def before_call(
    client: Any,
    operation: str,
    action: Callable[[], object],
    *,
    times: int = 1,
    when: Callable[[Params], bool] | None = None,
) -> list[dict[str, Any]]:
    """Run `action` (another actor's move) right before each of the next `times` matching calls is sent."""
    hit: list[dict[str, Any]] = []
    _remember_params(client, operation)

    def interleave(context: dict[str, Any], **_: Any) -> None:
        params = context.get(_API_PARAMS, {})
        if len(hit) >= times or (when is not None and not when(params)):
            return
        hit.append(params)
        action()

    client.meta.events.register(_event(client, "before-call", operation), interleave)
    return hit


def recorded_calls(client: Any) -> list[tuple[str, dict[str, Any]]]:
    """Every call the client makes from now on, as (operation name, API parameters)."""
    calls: list[tuple[str, dict[str, Any]]] = []
    service = client.meta.service_model.service_id.hyphenize()
    client.meta.events.register(
        f"before-parameter-build.{service}", lambda params, model, **_: calls.append((model.name, dict(params)))
    )
    return calls
