// The Workflow SDK's client (`Client` of `@upstash/workflow`) against Herald, configured the
// way users configure it (QSTASH_URL / QSTASH_TOKEN): one JSON argument
// {"action": ..., ...arguments}, one JSON line out (sdk.mjs's `run`).
import { Client } from "@upstash/workflow";
import { run } from "./sdk.mjs";

const actions = {
  /** Start a run: {url, body?, headers?, workflowRunId?, retries?, delay?} → {workflowRunId}. */
  trigger: (client, { action, ...options }) => client.trigger(options),
  /** Start several runs in one batch: {runs: [trigger options...]} → [{workflowRunId}...]. */
  triggerMany: (client, { runs }) => client.trigger(runs),
  /** Cancel runs: {ids} or {urlStartingWith} or {all: true}. */
  cancel: (client, { action, ...options }) => client.cancel(options),
};

await run(async (input) => {
  const act = actions[input.action];
  if (!act) throw new Error(`unknown action ${input.action}`);
  const client = new Client({ baseUrl: process.env.QSTASH_URL, token: process.env.QSTASH_TOKEN });
  return (await act(client, input)) ?? null;
});
