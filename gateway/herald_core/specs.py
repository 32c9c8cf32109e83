"""pydantic models of the `Topic` and `Subscription` specs (crds/, DESIGN §3).

The API server has validated the shape already (schema + CEL); these models are the
boundary where a spec dict becomes typed data for `herald_core.routing`. Unknown fields are
ignored, as the API server prunes them anyway.
"""

from __future__ import annotations

from typing import Any, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field, ValidationError
from pydantic.alias_generators import to_camel

from herald_core.errors import InvalidField

Method = Literal["GET", "POST", "PUT", "PATCH", "DELETE"]
S = TypeVar("S", bound="_Spec")


class _Spec(BaseModel):
    model_config = ConfigDict(
        alias_generator=to_camel, populate_by_name=True, frozen=True, extra="ignore"
    )


class DeliverySpec(_Spec):
    """Delivery settings of a Topic (defaults) or a Subscription (overrides)."""

    retries: int | None = Field(default=None, ge=0, le=100)
    retry_delay: str | None = None
    timeout: str | None = None
    method: Method | None = None


class ServiceRef(_Spec):
    name: str
    port: int = Field(ge=1, le=65535)
    path: str = "/"


class EndpointSpec(_Spec):
    url: str | None = None
    service: ServiceRef | None = None


class FlowControlSpec(_Spec):
    parallelism: int | None = Field(default=None, ge=1)
    rate: int | None = Field(default=None, ge=1)
    period: str | None = None


class LocalObjectRef(_Spec):
    """A Secret of the Subscription's own namespace (Flux `secretRef`)."""

    name: str


class SecretKeyRef(_Spec):
    """One key of a Secret of the Subscription's namespace (as `env[].valueFrom`)."""

    name: str
    key: str


class HeaderFromSecret(_Spec):
    """A delivery header whose value is a Secret key's."""

    name: str
    secret_key_ref: SecretKeyRef


class TopicSpec(_Spec):
    delivery: DeliverySpec = DeliverySpec()
    paused: bool = False


class SubscriptionSpec(_Spec):
    topic: str
    endpoint: EndpointSpec
    headers: dict[str, str] = {}
    #: Credentials from a Secret: its `token` (bearer), `username` + `password` (basic
    #: auth) and `headers` (a YAML map) keys, as Flux's notification Provider reads them.
    secret_ref: LocalObjectRef | None = None
    headers_from: list[HeaderFromSecret] = []
    delivery: DeliverySpec = DeliverySpec()
    flow_control: FlowControlSpec | None = None
    paused: bool = False


def parse_topic_spec(spec: Any) -> TopicSpec:
    return _parse(TopicSpec, spec)


def parse_subscription_spec(spec: Any) -> SubscriptionSpec:
    return _parse(SubscriptionSpec, spec)


def _parse(model: type[S], spec: Any) -> S:
    try:
        return model.model_validate(dict(spec or {}))
    except ValidationError as exc:
        first = exc.errors()[0]
        where = "spec." + ".".join(str(p) for p in first["loc"])
        raise InvalidField(where, first["msg"]) from None
