// Workflows of the issue-17 gaps (tests/integration/test_workflow_gaps.py): an invoked run
// that fails, a context.call whose answer cannot be delivered into its run, a call that
// keeps failing, and a run whose failure callback goes to a failureUrl of its own.
import { existsSync } from "node:fs";
import { Receiver } from "@upstash/qstash";
import { createWorkflow } from "@upstash/workflow/cloudflare";
import { record } from "./record.mjs";

// -- context.invoke of a run that fails (served by workflow_many_server.mjs) -------------

const failingInvoked = createWorkflow(async (context) => {
  await context.run("boom", () => {
    record("failingInvoked", "ran", { payload: context.requestPayload, runId: context.workflowRunId });
    throw new Error("the invoked run fails");
  });
  await context.run("never", () => record("failingInvoked", "never"));
});

const failedInvoker = createWorkflow(async (context) => {
  const result = await context.invoke("call the failing one", {
    workflow: failingInvoked,
    body: { n: 1 },
    retries: 0,
  });
  await context.run("after", () => record("failedInvoker", "got", result));
});

export const many = { failingInvoked, failedInvoker };

// -- context.call (served by workflow_server.mjs) ----------------------------------------

/** The signing keys' receiver, refusing every `context.call` answer coming back into the
 * run (a callback: `sourceMessageId`, no `dlqId`), so it cannot be delivered; when the
 * call's URL has a `?flag=<file>`, only until that file exists. */
function refusingCallAnswers() {
  const real = new Receiver({
    currentSigningKey: process.env.QSTASH_CURRENT_SIGNING_KEY,
    nextSigningKey: process.env.QSTASH_NEXT_SIGNING_KEY,
  });
  return {
    verify: async (request) => {
      let body;
      try {
        body = JSON.parse(request.body);
      } catch {
        body = undefined;
      }
      const answer = body && typeof body === "object" && !Array.isArray(body)
        && "sourceMessageId" in body && !("dlqId" in body);
      const flag = answer && new URL(body.url).searchParams.get("flag");
      if (answer && !(flag && existsSync(flag))) {
        record("callLost", "refused", body.status);
        return false;
      }
      return real.verify(request);
    },
  };
}

/** `context.call` to {url} with {retries}, then a step with what it answered. */
async function callThenRecord(name, context) {
  const { url, retries } = context.requestPayload;
  await context.run("before", () => record(name, "before"));
  const answer = await context.call("call", { url, method: "GET", retries, retryDelay: "10" });
  await context.run("after", () => record(name, "after", { status: answer.status, body: answer.body }));
}

export const workflows = {
  callLost: {
    route: (context) => callThenRecord("callLost", context),
    options: {
      receiver: refusingCallAnswers(),
      failureFunction: async ({ context, failStatus }) => {
        record("callLost", "failure", { status: failStatus, runId: context.workflowRunId,
                                        payload: context.requestPayload });
      },
    },
  },
  callFails: {
    route: (context) => callThenRecord("callFails", context),
    options: {
      failureFunction: async () => record("callFails", "failure"),
    },
  },
  failsToUrl: {
    // a step that always fails; the run's failure callback is the trigger's failureUrl
    route: async (context) => {
      await context.run("boom", () => {
        record("failsToUrl", "ran");
        throw new Error("failing for the failureUrl");
      });
    },
  },
};
