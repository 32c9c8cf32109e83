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
};
