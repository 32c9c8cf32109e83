// Workflow runs (Upstash Workflow): the runs newest first with their state, filtered by
// state, URL or run id; one run's steps (name, type, when stored, output) drawn again every second
// while it runs; a failed run resumed or restarted from the workflow DLQ, its failure
// function run again or cancelled.
import { api } from "./api.js";
import { h, clear, badge, time, table, errorBox, confirmed } from "./util.js";

const STATES = ["RUN_STARTED", "RUN_SUCCESS", "RUN_FAILED", "RUN_CANCELED"];
const runLink = (id) => h("a", { href: `#/workflows/${encodeURIComponent(id)}`, class: "mono" }, id);

// the step in progress or failed: its retries so far, and the failed one's last response
const retries = (step) => (step.retries ? h("div", { class: "muted" }, `${step.retries} retr${step.retries === 1 ? "y" : "ies"}`) : "");
const failure = (step) => (step.errors?.length ? `${step.errors[0].error}\n${step.errors[0].body}` : "");

function stepRows(run) {
  const rows = [];
  run.steps.forEach((group) => group.steps.forEach((step) => rows.push(
    h("tr", { class: "step-row", "data-step": step.stepName || "", "data-state": step.state },
      [group.type === "next" ? "next" : step.stepId ?? "", step.stepName || "—", step.stepType || "—",
        group.type, h("span", {}, badge(step.state), retries(step)), time(step.createdAt),
        h("pre", { class: "body" }, step.out ?? failure(step)),
        h("span", { class: "mono" }, step.messageId || "")].map((c) => h("td", {}, c))))));
  return rows;
}

async function revive(run, how) {
  if (!confirmed(`${how === "resume" ? "Resume" : "Restart"} the failed run ${run.workflowRunId} as a new run?`)) return;
  const r = await api(`/v2/workflows/dlq/${how}/${encodeURIComponent(run.dlqId)}`, { method: "POST" });
  location.hash = `#/workflows/${encodeURIComponent(r.workflowRunId)}`;
}

// a failed run's failure function: sent again once it failed, cancelled while in progress
function failureActions(run, redraw, failed) {
  const state = run.failureFunction?.state;
  const call = (method) => async () => {
    try {
      await api(`/v2/workflows/dlq/callback/${encodeURIComponent(run.dlqId)}`, { method });
      await redraw();
    } catch (e) { failed(e); }
  };
  if (state === "CALLBACK_FAIL") return h("button", { id: "failure-again", type: "button", onclick: call("POST") }, "Run the failure function again");
  if (state === "CALLBACK_INPROGRESS") return h("button", { id: "failure-cancel", type: "button", onclick: call("DELETE") }, "Cancel the failure function");
  return null;
}

async function inspect(main, id) {
  const body = h("div", { id: "run" });
  let timer = null;
  async function draw() {
    let run;
    try {
      [run] = (await api("/v2/workflows/logs", { query: { workflowRunId: id } })).runs;
    } catch (e) { clear(body, errorBox(e)); return; }
    if (!run) { clear(body, h("p", { class: "muted" }, "No such run (or it has expired).")); return; }
    const actions = run.workflowState === "RUN_FAILED" && run.dlqId ? h("div", { class: "row action" },
      h("button", { class: "primary", id: "resume-run", type: "button", onclick: () => revive(run, "resume") }, "Resume from the failed step"),
      h("button", { id: "restart-run", type: "button", onclick: () => revive(run, "restart") }, "Restart"),
      failureActions(run, draw, (e) => body.prepend(errorBox(e)))) : null;
    clear(body, actions,
      table(["Field", "Value"], [["State", h("span", { id: "run-state" }, badge(run.workflowState))],
        ["URL", h("span", { class: "mono" }, run.workflowUrl)], ["Created", time(run.workflowRunCreatedAt)],
        ["Ended", time(run.workflowRunCompletedAt)], ["Dead letter", run.dlqId || "—"],
        ["Failure function", run.failureFunction ? h("span", { id: "failure-state" }, badge(run.failureFunction.state)) : "—"],
        ["Resumed from", run.revivedFrom ? runLink(run.revivedFrom) : "—"]]),
      h("h2", {}, "Steps"),
      table(["#", "Step", "Type", "Group", "State", "Stored", "Output", "Message"], stepRows(run), "No steps yet."));
    if (run.workflowState !== "RUN_STARTED") { clearInterval(timer); timer = null; }
  }
  clear(main, h("p", {}, h("a", { href: "#/workflows" }, "← Workflow runs")), h("h1", {}, `Workflow run ${id}`), body);
  await draw();
  if (body.querySelector("#run-state")?.textContent === "RUN_STARTED") timer = setInterval(draw, 1000);
  return () => timer && clearInterval(timer);
}

export async function render(main, ctx, id) {
  if (id) return inspect(main, id);
  const state = h("select", { name: "state" }, h("option", { value: "" }, "Any state"),
    STATES.map((s) => h("option", { value: s }, s)));
  const url = h("input", { name: "workflowUrl", placeholder: "Workflow URL" });
  const runId = h("input", { name: "workflowRunId", placeholder: "Run id" });
  const list = h("div", { id: "run-list" });
  let cursor = null;
  const more = h("button", { type: "button", hidden: true, onclick: () => load(true) }, "Older");

  async function load(next) {
    const query = { count: 50, state: state.value, workflowUrl: url.value.trim(),
      workflowRunId: runId.value.trim(), cursor: next ? cursor : undefined };
    try {
      const page = await api("/v2/workflows/logs", { query });
      const rows = page.runs.map((run) => h("tr", { class: "run-row", "data-run": run.workflowRunId, "data-state": run.workflowState },
        [runLink(run.workflowRunId), badge(run.workflowState), h("span", { class: "mono" }, run.workflowUrl),
          run.steps.filter((g) => g.type !== "next").reduce((n, g) => n + g.steps.length, 0) - 1,
          time(run.workflowRunCreatedAt), time(run.workflowRunCompletedAt)].map((c) => h("td", {}, c))));
      if (next && list.querySelector("tbody")) list.querySelector("tbody").append(...rows);
      else clear(list, table(["Run", "State", "Workflow URL", "Steps", "Created", "Ended"], rows, "No workflow runs match."));
      cursor = page.cursor || null;
      more.hidden = !cursor;
    } catch (e) { clear(list, errorBox(e)); }
  }

  clear(main, h("h1", {}, "Workflow runs"),
    h("form", { class: "filters", onsubmit: (e) => { e.preventDefault(); load(false); } }, state, url, runId,
      h("button", { type: "submit" }, "Filter")),
    list, more);
  await load(false);
}
