"""Workflow runs as the Workflow API shows them (QStash's workflow OpenAPI document, the
`@upstash/workflow` client's types): failed runs in the workflow DLQ (`WorkflowDLQMessage`).
"""

from __future__ import annotations

from typing import Any

from herald_core.records import DeadLetter
from herald_core.workflow_failures import RunFacts
from herald_gateway.api.views import dlq_view


def workflow_dlq_view(dead: DeadLetter, facts: RunFacts | None) -> dict[str, Any]:
    """A dead letter of a run's step: the DLQ's view of it, and its run."""
    view = dlq_view(dead)
    view["workflowRunId"] = dead.run_id
    view["workflowUrl"] = facts.url if facts else dead.message.url
    if facts is not None:
        view["workflowCreatedAt"] = facts.created_at
    view.pop("failureCallbackHeader", None)
    return view
