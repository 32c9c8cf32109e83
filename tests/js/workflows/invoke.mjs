// `context.invoke` of one workflow by another (tests/integration/test_workflow_events.py),
// served by workflow_many_server.mjs (`serveMany`, which gives each its workflow id).
import { createWorkflow } from "@upstash/workflow/cloudflare";
import { record } from "./record.mjs";

const invoked = createWorkflow(async (context) => {
  const { name } = context.requestPayload;
  const greeting = await context.run("greet", () => {
    record("invoked", "ran", { name, invoker: context.headers.get("x-invoker") });
    return `hello ${name}`;
  });
  return { greeting };
});

const invoker = createWorkflow(async (context) => {
  const { name } = context.requestPayload;
  const result = await context.invoke("call", {
    workflow: invoked,
    body: { name },
    headers: { "x-invoker": "yes" },
  });
  await context.run("after", () => record("invoker", "got", result));
});

// invoked by `patientInvoker`, cancelled by the test while it sleeps
const sleeper = createWorkflow(async (context) => {
  await context.run("start", () => record("sleeper", "started", context.workflowRunId));
  await context.sleep("long", 3600);
  await context.run("never", () => record("sleeper", "woke"));
});

const patientInvoker = createWorkflow(async (context) => {
  const result = await context.invoke("wait-for-sleeper", { workflow: sleeper, body: {} });
  await context.run("after", () => record("patientInvoker", "got", result));
});

export const many = { invoked, invoker, sleeper, patientInvoker };
