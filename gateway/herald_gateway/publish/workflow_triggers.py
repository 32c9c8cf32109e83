"""REST triggers of workflow runs (`POST /v2/trigger/{workflowUrl}`, `/v2/batch/trigger`): a
run started by a plain HTTP request instead of a Workflow SDK's `Client.trigger`.

Herald does what QStash does for a caller that is not an SDK: it sends the workflow one
message marked `Upstash-Workflow-Unknown-Sdk: true` with the run's id and the steps array
`[initial payload]`; the SDK serving the workflow answers it by starting the run itself, as
its `Client.trigger` would (`Upstash-Workflow-Init: true`, the same run id: the ordinary
start of herald_gateway.publish.workflows). The trigger's `Upstash-*` headers configure that
first message (forwarded headers reach the run, a delay delays its start).
"""

from __future__ import annotations

import secrets
from dataclasses import replace

from herald_core.errors import InvalidField
from herald_core.ids import ALPHABET
from herald_core.settings import Settings
from herald_core.store import Store
from herald_core.workflows import element, steps_body
from herald_gateway.publish.destinations import Endpoint
from herald_gateway.publish.publishing import parse_publish
from herald_gateway.publish.staging import stage
from herald_gateway.publish.workflows import check_run_id


def new_run_id() -> str:
    """`wfr_` and 21 random characters, as the SDKs make them."""
    return "wfr_" + "".join(secrets.choice(ALPHABET) for _ in range(21))


def run_id_of(headers: list[tuple[str, str]]) -> str:
    """The run id a trigger asks for (`Upstash-Workflow-RunId`), or a new one."""
    for name, value in headers:
        if name.lower() == "upstash-workflow-runid":
            return check_run_id(value)
    return new_run_id()


async def trigger(
    store: Store,
    settings: Settings,
    destination: str,
    raw_query: str,
    headers: list[tuple[str, str]],
    body: bytes,
    now_ms: int,
    caller_ip: str | None,
) -> dict[str, object]:
    """Start a run of the workflow at `destination` (a URL); `{workflowRunId,
    workflowCreatedAt}`, and `deduplicated: true` when an `Upstash-Deduplication-Id` was
    seen within the window (nothing sent again)."""
    run_id = run_id_of(headers)
    own = [(n, v) for n, v in headers if not n.lower().startswith("upstash-workflow-")]
    marked = [*own, ("Upstash-Workflow-RunId", run_id), ("Upstash-Workflow-Unknown-Sdk", "true")]
    request = parse_publish(destination, raw_query, marked, body, settings, now_ms)
    endpoint = request.destination
    if not isinstance(endpoint, Endpoint):
        raise InvalidField("workflowUrl", "must be an http:// or https:// URL")
    initial = replace(request, body=steps_body([element(run_id, body, now_ms)]))
    [enqueued] = await store.enqueue_all(stage([(initial, endpoint)], now_ms, caller_ip))
    answer: dict[str, object] = {"workflowRunId": run_id, "workflowCreatedAt": now_ms}
    if enqueued.deduplicated:
        answer["deduplicated"] = True
    return answer
