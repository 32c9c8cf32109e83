// Workflows that wait for events and notify them (tests/integration/test_workflow_events.py).
import { record } from "./record.mjs";

export const workflows = {
  /** Waits for `eventId` (up to `timeout`), then records what it got. */
  waiter: {
    route: async (context) => {
      const { eventId, timeout, tag } = context.requestPayload;
      const before = await context.run("before", () => {
        record("waiter", "waiting", { tag, eventId });
        return tag;
      });
      const { eventData, timeout: timedOut } = await context.waitForEvent("wait", eventId, {
        timeout: timeout ?? "30s",
      });
      await context.run("after", () => {
        record("waiter", "resumed", { tag: before, eventData: eventData ?? null, timedOut });
      });
    },
  },
  /** Notifies `eventId` with `data` from a step of its own (context.notify). */
  notifier: {
    route: async (context) => {
      const { eventId, data } = context.requestPayload;
      const { notifyResponse } = await context.notify("notify", eventId, data);
      await context.run("done", () => {
        record("notifier", "notified", notifyResponse.map((n) => n.workflowRunId ?? null));
      });
    },
  },
};
