// client.messages: argv[2] is {op: "cancel", request} (an id, ids, or {filter | all, count}).
import { client, run } from "./sdk.mjs";

await run(async ({ op, request }) => {
  const messages = client().messages;
  switch (op) {
    case "cancel":
      return await messages.cancel(request);
    default:
      throw new Error(`unknown op ${op}`);
  }
});
