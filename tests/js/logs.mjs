// client.logs(request) and its deprecated twin client.events(request): argv[2] is the request
// ({messageIds} or {filter, cursor, count}); prints both answers.
import { client, run } from "./sdk.mjs";

await run(async (request) => {
  const qstash = client();
  return { logs: await qstash.logs(request), events: await qstash.events(request) };
});
