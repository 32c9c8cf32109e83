"""Pure parts of the workflow gaps: which dead-lettered message fails its run."""

from __future__ import annotations

from herald_core.workflows import run_failed_by


def test_a_step_or_a_call_answer_fails_its_run_and_nothing_else_does() -> None:
    assert run_failed_by({"Upstash-Workflow-Runid": "wfr_1"}) == "wfr_1"
    answer = {"upstash-workflow-runid": "wfr_2", "Upstash-Workflow-Calltype": "fromCallback"}
    assert run_failed_by(answer) == "wfr_2"
    for other in ("toCallback", "failureCall", "step"):
        headers = {"Upstash-Workflow-Runid": "wfr_3", "Upstash-Workflow-Calltype": other}
        assert run_failed_by(headers) is None
    assert run_failed_by({"Content-Type": "text/plain"}) is None
