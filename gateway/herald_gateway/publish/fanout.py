"""Pure: where a publish request's messages go — its URL, or one message per subscription
of its topic, each with its own id and retries (DESIGN §4, reference §2.1 and §4.4).

A subscriber's message takes its delivery settings by precedence: what the publish set
itself (its `Upstash-*` headers, query keys or the URL group's default headers:
`PublishRequest.explicit`), then the Subscription, then the Topic, then the global
defaults. The route (herald_gateway.api.routes.publish) and the scheduler look the topic's
table up and store what `targets` returns, all in one submission.
"""

from __future__ import annotations

import dataclasses

from herald_core.errors import NotFound
from herald_core.models import Redaction
from herald_core.routing import (
    Delivery,
    FlowControl,
    RoutingTable,
    SubscriptionRoute,
    endpoint_name,
    subscription_flow_key,
)
from herald_core.settings import Settings
from herald_gateway.publish.destinations import Endpoint
from herald_gateway.publish.header_values import FlowLimits
from herald_gateway.publish.publishing import PublishRequest
from herald_gateway.publish.staging import Target


def targets(
    request: PublishRequest, table: RoutingTable | None, settings: Settings
) -> list[Target]:
    """A URL request's one target, or a topic request's per subscription of `table`."""
    if isinstance(request.destination, Endpoint):
        return [(request, request.destination)]
    if table is None:
        raise NotFound(f'topic "{request.destination.name}" not found')
    defaults = Delivery(settings.default_retries, None, settings.attempt_timeout, "POST")
    return [_for_subscriber(request, table, sub, defaults, settings) for sub in table.subscriptions]


def _for_subscriber(
    request: PublishRequest,
    table: RoutingTable,
    sub: SubscriptionRoute,
    defaults: Delivery,
    settings: Settings,
) -> Target:
    delivery = request.explicit.over(sub.delivery).over(defaults)
    limits = sub.flow_control or FlowControl()
    endpoint = Endpoint(sub.url, table.topic.name, endpoint_name(sub))
    headers = {**request.headers, **sub.delivery_headers(), "Upstash-Topic-Name": table.topic.name}
    own = dataclasses.replace(
        request,
        destination=endpoint,
        # the subscription's own key: its limits, its pause and its counters (a publisher's
        # Upstash-Flow-Control-Key does not apply to topic deliveries); none in a queue
        flow=None
        if request.queue is not None
        else FlowLimits(
            subscription_flow_key(table.topic.id, sub.name),
            limits.parallelism or 0,
            limits.rate or 0,
            limits.period,
        ),
        # credentials from Secrets are stored with the message (deliveries and retries need
        # them) but every API view shows them redacted (herald_gateway.api.views)
        redact=_with_secret_headers(request.redact, sub),
        method=delivery.method or "POST",
        headers=headers,
        max_retries=min(delivery.retries or 0, settings.max_retries),
        retry_delay=delivery.retry_delay,
        timeout=min(delivery.timeout or settings.attempt_timeout, settings.max_timeout),
    )
    return own, endpoint


def _with_secret_headers(redact: Redaction | None, sub: SubscriptionRoute) -> Redaction | None:
    if not sub.secret_headers:
        return redact
    base = redact or Redaction()
    names = {*base.headers, *(name.lower() for name in sub.secret_headers)}
    return dataclasses.replace(base, headers=tuple(sorted(names)))
