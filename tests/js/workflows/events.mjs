// Workflows that wait for events and notify them (tests/integration/test_workflow_events.py).
import { record } from "./record.mjs";

export const workflows = {
  /** Waits for `eventId` (up to `timeout`), then records what it got. */
  waiter: {
    route: async (context) => {
      const { eventId, timeout, tag, nap } = context.requestPayload;
      const before = await context.run("before", () => {
        record("waiter", "waiting", { tag, eventId });
        return tag;
      });
      if (nap) await context.sleep("nap", nap); // an event sent meanwhile is kept for the wait
      const { eventData, timeout: timedOut } = await context.waitForEvent("wait", eventId, {
        timeout: timeout ?? "30s",
      });
      await context.run("after", () => {
        record("waiter", "resumed", { tag: before, eventData: eventData ?? null, timedOut });
      });
    },
  },
  /** Creates a webhook, then waits for a call to it (after a nap of `nap` seconds, if given). */
  hook: {
    route: async (context) => {
      const { tag, nap } = context.requestPayload;
      const webhook = await context.createWebhook("create");
      await context.run("created", () => record("hook", "created", { tag, ...webhook }));
      if (nap) await context.sleep("nap", nap);
      const { request, timeout } = await context.waitForWebhook("wait", webhook, "30s");
      await context.run("after", async () => {
        record("hook", "called", {
          tag,
          timeout,
          method: request.method,
          url: request.url,
          header: request.headers.get("x-test"),
          body: await request.text(),
        });
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
