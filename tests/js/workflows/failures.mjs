// Workflows that fail (tests/integration/test_workflow_failures.py): a step throws until the
// file its payload names exists, so the test decides when the endpoint is fixed.
import { existsSync } from "node:fs";
import { record } from "./record.mjs";

const alwaysFails = async (context) => {
  await context.run("boom", () => {
    throw new Error("always");
  });
};

export const workflows = {
  flaky: {
    route: async (context) => {
      const input = context.requestPayload;
      const first = await context.run("first", () => {
        record("flaky", "first", input.name);
        return `${input.name}-1`;
      });
      const second = await context.run("second", () => {
        record("flaky", "second", first);
        if (!existsSync(input.flag)) throw new Error(`not fixed yet: ${input.name}`);
        return `${first}-2`;
      });
      await context.run("done", () => record("flaky", "done", second));
      return second;
    },
    options: {
      failureFunction: async ({ context, failStatus, failResponse }) => {
        record("flaky", "failure", {
          status: failStatus,
          response: failResponse,
          payload: context.requestPayload,
          runId: context.workflowRunId,
        });
      },
    },
  },
  grumpy: {
    // a step that always fails, and a failure function that fails until the flag exists
    route: alwaysFails,
    options: {
      failureFunction: async ({ context }) => {
        const ok = existsSync(context.requestPayload.flag);
        record("grumpy", "failure", ok);
        if (!ok) throw new Error("the failure function fails too");
      },
    },
  },
  stuck: {
    // a step that always fails, and a failure function that takes until the flag exists
    route: alwaysFails,
    options: {
      failureFunction: async ({ context }) => {
        record("stuck", "failure", true);
        while (!existsSync(context.requestPayload.flag)) {
          await new Promise((resolve) => setTimeout(resolve, 50));
        }
      },
    },
  },
};
