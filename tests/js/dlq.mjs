// client.dlq: argv[2] is {op: "list", ...listMessages options}, {op: "delete", request} or
// {op: "retry", request}.
import { client, run } from "./sdk.mjs";

await run(async ({ op, request, ...options }) => {
  const dlq = client().dlq;
  switch (op) {
    case "list":
      return await dlq.listMessages(options);
    case "delete":
      return await dlq.delete(request);
    case "retry":
      return await dlq.retry(request);
    default:
      throw new Error(`unknown op ${op}`);
  }
});
