"""Models of the EventBridge events the deployer consumes (the `detail` part; the envelope is powertools')."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict


class ParameterStoreChange(BaseModel):
    """detail of `aws.ssm` / `Parameter Store Change`."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    operation: str
    name: str
    type: str = ""
    description: str = ""
