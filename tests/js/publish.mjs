// client.publishJSON(request): argv[2] is the request ({url | urlGroup, body, headers, ...}).
import { client, run } from "./sdk.mjs";

await run((request) => client().publishJSON(request));
