// A run of several steps and a sleep (tests/integration/test_workflow_js.py).
import { record } from "./record.mjs";

export const workflows = {
  steps: {
    route: async (context) => {
      const input = context.requestPayload;
      const first = await context.run("first", () => {
        record("steps", "first", input);
        return `${input.name}-1`;
      });
      await context.sleep("nap", 1);
      const second = await context.run("second", () => {
        record("steps", "second", first);
        return `${first}-2`;
      });
      await context.run("done", () => record("steps", "done", second));
      return second;
    },
  },
};
