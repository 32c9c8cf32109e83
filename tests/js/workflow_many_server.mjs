// Workflows served together by the SDK's `serveMany` (the Cloudflare adapter's: plain
// fetch handlers, no framework), as `context.invoke` needs them: an invoked workflow is
// found beside its invoker, at the invoker's URL with the last segment its workflow id.
//
//   node workflow_many_server.mjs <port>
//
// Every module in ./workflows/ may export `many`: {id: createWorkflow(...)}; all are served
// by one `serveMany` at POST /wf/<id>, configured from the environment (QSTASH_URL,
// QSTASH_TOKEN, the signing keys) like workflow_server.mjs; GET /records returns what they
// recorded. Prints `ready <port>` once it listens.
import { serveMany } from "@upstash/workflow/cloudflare";
import { listen, workflowModules } from "./node_server.mjs";

const many = {};
for (const module of await workflowModules()) {
  for (const [id, workflow] of Object.entries(module.many ?? {})) {
    if (id in many) throw new Error(`workflow ${id} is defined twice`);
    many[id] = workflow;
  }
}
const { fetch: handler } = serveMany(many);

listen(Number(process.argv[2] ?? "0"), (request) => handler(request, { ...process.env }));
