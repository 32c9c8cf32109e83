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
  /** The workflow DLQ: {cursor?, count?, filter?} → {messages, cursor?}. */
  dlqList: (client, { action, ...options }) => client.dlq.list(options),
  /** Resume failed runs from their failed step: {request: id(s) or filters, options?}. */
  dlqResume: (client, { request, options }) => client.dlq.resume(request, options),
  /** Restart failed runs from their initial payload: {request, options?}. */
  dlqRestart: (client, { request, options }) => client.dlq.restart(request, options),
  /** Run a failed run's failure function again: {dlqId}. */
  dlqCallback: (client, { dlqId }) => client.dlq.retryFailureFunction({ dlqId }),
  /** Delete failed runs: {request: id(s) or filters}. */
  dlqDelete: (client, { request }) => client.dlq.delete(request),
  /** Workflow logs: {workflowRunId?, cursor?, count?, filter?, ...} → {runs, cursor}. */
  logs: (client, { action, ...options }) => client.logs(options),
  /** Notify an event: {eventId, eventData, workflowRunId?} → [{waiter, messageId, ...}]. */
  notify: (client, { action, ...options }) => client.notify(options),
  /** The waiters of an event: {eventId} → [{url, deadline, headers, ...}]. */
  getWaiters: (client, { action, ...options }) => client.getWaiters(options),
};

await run(async (input) => {
  const act = actions[input.action];
  if (!act) throw new Error(`unknown action ${input.action}`);
  const client = new Client({ baseUrl: process.env.QSTASH_URL, token: process.env.QSTASH_TOKEN });
  return (await act(client, input)) ?? null;
});
