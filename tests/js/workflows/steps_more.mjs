// Workflows of tests/integration/test_workflow_steps_js.py: parallel steps, context.call
// with retries, large steps (lazily fetched), and a long run cancelled or interrupted.
import { record } from "./record.mjs";

export const workflows = {
  /** Three branches of a `Promise.all`, then one step that sees all three results. */
  parallel: {
    route: async (context) => {
      const input = context.requestPayload;
      const results = await Promise.all(
        ["a", "b", "c"].map((branch) =>
          context.run(`branch-${branch}`, () => {
            record("parallel", `branch-${branch}`, input);
            return `${input.name}-${branch}`;
          }),
        ),
      );
      await context.run("final", () => record("parallel", "final", results));
    },
  },

  /** `context.call` to {url} (which fails first) with retries, then a step with the answer. */
  call: {
    route: async (context) => {
      const { url } = context.requestPayload;
      const created = await context.run("created", () => context.workflowRunCreatedAt);
      const response = await context.call("fetch", {
        url,
        method: "POST",
        body: JSON.stringify({ hello: "there" }),
        headers: { "x-test": "call" },
        retries: 2,
        retryDelay: "10",
      });
      await context.run("after", () => {
        record("call", "after", { response, created, now: context.workflowRunCreatedAt });
      });
    },
  },

  /** A step whose result is large ({size} characters), then steps that read it. */
  large: {
    route: async (context) => {
      const { size } = context.requestPayload;
      const big = await context.run("big", () => {
        record("large", "big");
        return "x".repeat(size);
      });
      const parallel = await Promise.all([
        context.run("left", () => big.length),
        context.run("right", () => big.slice(0, 3)),
      ]);
      await context.run("after", () => record("large", "after", [big.length, ...parallel]));
    },
  },

  /** A step, a long sleep, a step: cancelled while it sleeps (two URLs for the filters). */
  "sleepy-a": { route: sleepy },
  durable: { route: durable },
  "sleepy-b": { route: sleepy },
  /** `context.call` to {url} with {retries}, then a step: cancelled during the call. */
  slowcall: {
    route: async (context) => {
      const { url, retries } = context.requestPayload;
      await context.run("start", () => record("slowcall", "start", context.workflowRunId));
      const response = await context.call("slow", {
        url, method: "GET", retries, retryDelay: "60000",
      });
      await context.run("after", () => record("slowcall", "after", response.status));
    },
  },
};

/** Steps, a sleep and a context.call to {url}: a run that outlives gateways killed under it. */
async function durable(context) {
  const { url } = context.requestPayload;
  await context.run("one", () => record("durable", "one", context.workflowRunId));
  await context.sleep("nap", 1);
  const answer = await context.call("call", { url, method: "GET" });
  await context.run("two", () => record("durable", "two", answer.status));
  await context.run("three", () => record("durable", "three"));
}

async function sleepy(context) {
  await context.run("start", () => record("sleepy", "start", context.workflowRunId));
  await context.sleep("long", 600);
  await context.run("woke", () => record("sleepy", "woke", context.workflowRunId));
}
