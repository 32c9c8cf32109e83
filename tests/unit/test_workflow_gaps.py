"""Pure parts of the workflow gaps: which dead-lettered message fails its run; a
context.call's answer into its run takes the run's settings; one restarted is delivered as
a step."""

from __future__ import annotations

from herald_core.models import Callback, Message
from herald_core.workflow_config import RunConfig
from herald_core.workflow_failures import as_step, is_call_answer
from herald_core.workflows import run_failed_by


def test_a_step_or_a_call_answer_fails_its_run_and_nothing_else_does() -> None:
    assert run_failed_by({"Upstash-Workflow-Runid": "wfr_1"}) == "wfr_1"
    answer = {"upstash-workflow-runid": "wfr_2", "Upstash-Workflow-Calltype": "fromCallback"}
    assert run_failed_by(answer) == "wfr_2"
    for other in ("toCallback", "failureCall", "step"):
        headers = {"Upstash-Workflow-Runid": "wfr_3", "Upstash-Workflow-Calltype": other}
        assert run_failed_by(headers) is None
    assert run_failed_by({"Content-Type": "text/plain"}) is None


def test_a_call_answer_takes_the_run_settings_it_did_not_set() -> None:
    run_failure = Callback(
        "http://wf/failure", headers={"Upstash-Workflow-Calltype": "failureCall"}
    )
    config = RunConfig(retries=0, retry_delay="10", timeout=30.0, failure_callback=run_failure)
    bare = config.apply_callback(Callback("http://wf/run"))
    assert (bare.retries, bare.retry_delay, bare.failure_callback) == (0, "10", run_failure)
    own_failure = Callback("http://elsewhere")
    own = config.apply_callback(Callback("http://wf/run", retries=5, retry_delay="1",
                                         failure_callback=own_failure))  # fmt: skip
    assert (own.retries, own.retry_delay, own.failure_callback) == (5, "1", own_failure)


def test_a_call_answer_restarted_is_delivered_as_a_step() -> None:
    answer = Message(
        id="m1", url="http://wf", method="POST", max_retries=0, timeout=30, created_at=0,
        not_before=0, headers={
            "Upstash-Workflow-Runid": "wfr_1", "Upstash-Workflow-Calltype": "fromCallback",
            "Upstash-Workflow-Callback": "true", "Upstash-Workflow-Stepid": "2",
            "Upstash-Workflow-Stepname": "call", "Upstash-Workflow-Steptype": "Call",
            "Upstash-Workflow-Concurrent": "1", "Upstash-Workflow-Contenttype": "text/plain",
            "Upstash-Workflow-Url": "http://wf", "X-Mine": "kept",
        },
    )  # fmt: skip
    assert is_call_answer(answer)
    step = as_step(answer)
    assert not is_call_answer(step)
    assert step.headers == {"Upstash-Workflow-Runid": "wfr_1", "Upstash-Workflow-Url": "http://wf",
                            "X-Mine": "kept", "Upstash-Workflow-Sdk-Version": "1"}  # fmt: skip
    assert as_step(step).headers == step.headers
