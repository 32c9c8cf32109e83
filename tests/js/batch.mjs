// client.batchJSON(requests): argv[2] is the array of requests.
import { client, run } from "./sdk.mjs";

await run((requests) => client().batchJSON(requests));
